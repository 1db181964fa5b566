// The errors of the network adapters, each with a `name` and a stable `code` that logs and tests
// can rely on. They describe environment failures and bad configuration; they never carry a
// peer's raw input beyond a short, bounded excerpt.

/** Stable codes of the network adapters' errors. */
export type NetErrorCode =
  | "invalid-address"
  | "wildcard-address"
  | "no-interface"
  | "bind-failed"
  | "connect-timeout"
  | "write-timeout"
  | "frame-too-large"
  | "transport-closed"
  | "invalid-cluster-key"
  | "invalid-multicast-group";

/** Base class: every network adapter error has a stable `code`. */
export class NetError extends Error {
  override readonly name: string = "NetError";

  constructor(
    readonly code: NetErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An address that is not `host:port` with a usable host and a port in 1..65535. */
export class InvalidAddressError extends NetError {
  override readonly name = "InvalidAddressError";

  constructor(address: string, reason: string) {
    super("invalid-address", `invalid address ${JSON.stringify(address.slice(0, 300))}: ${reason}`);
  }
}

/**
 * The wildcard address (0.0.0.0, ::) where one specific address is needed: a node advertises the
 * address it binds, and broadcasts go to that address's subnet only.
 */
export class WildcardAddressError extends NetError {
  override readonly name = "WildcardAddressError";

  constructor(host: string) {
    super("wildcard-address", `${host} is the wildcard address; bind a specific address such as 127.0.0.1`);
  }
}

/** No network interface holds the host we were asked to bind, so it has no broadcast address. */
export class NoInterfaceError extends NetError {
  override readonly name = "NoInterfaceError";

  constructor(host: string, reason: string) {
    super("no-interface", `cannot broadcast from ${host}: ${reason}`);
  }
}

/** A socket could not bind its address; `cause` holds the system error (e.g. EADDRINUSE). */
export class BindError extends NetError {
  override readonly name = "BindError";

  constructor(what: string, address: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super("bind-failed", `${what} could not bind ${address}: ${detail}`, { cause });
  }

  /** The system error code of the cause, such as "EADDRINUSE", if there is one. */
  get systemCode(): string | undefined {
    const cause = this.cause as { code?: unknown } | undefined;
    return typeof cause?.code === "string" ? cause.code : undefined;
  }
}

/** A connection to a peer was not established in time. */
export class ConnectTimeoutError extends NetError {
  override readonly name = "ConnectTimeoutError";

  constructor(address: string, timeoutMs: number) {
    super("connect-timeout", `connecting to ${address} took longer than ${timeoutMs} ms`);
  }
}

/** A peer stopped reading: what we wrote did not drain in time. */
export class WriteTimeoutError extends NetError {
  override readonly name = "WriteTimeoutError";

  constructor(address: string, timeoutMs: number) {
    super("write-timeout", `writes to ${address} did not drain within ${timeoutMs} ms`);
  }
}

/** A frame header announced more bytes than we accept; the stream can no longer be trusted. */
export class FrameTooLargeError extends NetError {
  override readonly name = "FrameTooLargeError";

  constructor(
    readonly frameBytes: number,
    readonly frameBytesMax: number,
  ) {
    super("frame-too-large", `frame of ${frameBytes} bytes exceeds the maximum of ${frameBytesMax}`);
  }
}

/** The transport or discovery was used after `close()`. */
export class TransportClosedError extends NetError {
  override readonly name = "TransportClosedError";

  constructor(what: string) {
    super("transport-closed", `${what} is closed`);
  }
}

/**
 * A cluster key that cannot be used: empty, too short, or given twice. The message names the key
 * by its position and id only, never by its text: keys must never reach a log.
 */
export class InvalidClusterKeyError extends NetError {
  override readonly name = "InvalidClusterKeyError";

  constructor(reason: string) {
    super("invalid-cluster-key", `invalid cluster key: ${reason}`);
  }
}

/** A multicast group that is not an IPv4 multicast address (224.0.0.0 to 239.255.255.255). */
export class InvalidMulticastGroupError extends NetError {
  override readonly name = "InvalidMulticastGroupError";

  constructor(group: string, reason: string) {
    super(
      "invalid-multicast-group",
      `invalid multicast group ${JSON.stringify(group.slice(0, 100))}: ${reason}`,
    );
  }
}
