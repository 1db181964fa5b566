// The node-to-node transport over TCP: a server that accepts peers' connections and hands every
// valid message to `onMessage`, and one lazily made, reused outbound link per peer address. Peer
// input is untrusted: anything malformed, oversized, of another version or failing its schema is
// dropped and counted, and never crashes or stalls the node. `send` never blocks and never throws.
// With cluster keys, every frame either way is sealed (cluster-key.ts), and one that does not open
// (unsigned, another key, tampered, stale, replayed) is dropped and counted before it is decoded.
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import type { Beacon, Message } from "../core/cluster/types.js";
import type { Logger } from "../node/logger.js";
import { silentLogger } from "../node/logger.js";
import { formatAddress, isWildcard, parseAddress } from "./address.js";
import { authFailureReasons, frameAuth } from "./cluster-key.js";
import type { ChannelAuth } from "./cluster-key.js";
import {
  decodeBeacon,
  decodeMessage,
  encodeBeacon,
  encodeMessage,
  encodeVersionNotice,
  PROTOCOL_VERSION,
} from "./envelope.js";
import { BindError, WildcardAddressError } from "./errors.js";
import { DEFAULT_FRAME_BYTES_MAX, encodeFrame, FrameDecoder } from "./frame.js";
import { LogLimiter } from "./log-limit.js";
import { PeerLink } from "./tcp-peer-link.js";
import type { PeerLinkStatus } from "./tcp-peer-link.js";
import { peerDropReasons, zeroCounts } from "./stats.js";
import type { PeerDropReason, PeerEndpoint, TransportStats } from "./stats.js";

export interface TcpTransportOptions {
  /** Address to listen on; also the host in `address`. Default "127.0.0.1"; the wildcard is refused. */
  host?: string;
  /** TCP port to listen on; 0 picks a free one (see `port`). Default 0. */
  port?: number;
  /** Receives every valid inbound message, in the order each connection delivered them. */
  onMessage: (message: Message) => void;
  /** Receives beacons that static peers send over TCP (where broadcast does not reach). */
  onBeacon?: (beacon: Beacon) => void;
  logger?: Logger;
  /** Largest frame body, in bytes, either way. Default 16 MiB. */
  frameBytesMax?: number;
  /** Most messages queued per peer while its connection is being made. Default 1024. */
  queueMessagesMax?: number;
  /** Most bytes written to one peer's socket and not yet sent; more are dropped. Default 64 MiB. */
  bufferedBytesMax?: number;
  /** A connection attempt is abandoned after this long, in ms. Default 2000. */
  connectTimeoutMs?: number;
  /** A connection whose writes do not drain for this long is closed, in ms. Default 5000. */
  writeTimeoutMs?: number;
  /** A connection with no traffic for this long is closed, in ms. Default 60000. */
  idleTimeoutMs?: number;
  /** First reconnection delay, doubled at each failure, in ms. Default 50. */
  backoffBaseMs?: number;
  /** Largest reconnection delay, in ms. Default 5000. */
  backoffMaxMs?: number;
  /** Most inbound connections at once; more are refused. Default 256. */
  inboundConnectionsMax?: number;
  /**
   * Most bytes of partial frames held for all inbound connections together. A chunk that takes the
   * total over it closes its connection (counted as "buffer-limit"): without this, every connection
   * could hold almost a whole maximum frame, 256 × 16 MiB. Default 64 MiB.
   */
  inboundBufferedBytesMax?: number;
  /** Most peer addresses with a link at once; idle links are forgotten first. Default 256. */
  peersMax?: number;
  /** Uniform in [0, 1), for backoff jitter. Default Math.random. */
  random?: () => number;
  /**
   * Cluster keys: the first signs every frame, each one verifies. None (the default): frames are
   * neither signed nor checked, as before keys existed. Throws InvalidClusterKeyError at start if one
   * is unusable (see ClusterKeyring.of).
   */
  keys?: readonly string[];
  /** Frames stamped further than this from our clock are refused, in ms. Default 30000. */
  replayWindowMs?: number;
  /** Most nonces remembered against replays (see ReplayGuard). Default 100000. */
  replayNoncesMax?: number;
  /** The clock that stamps and checks signed frames. Default Date.now. */
  nowMs?: () => number;
}

/** The defaults of every optional setting. */
export const tcpTransportDefaults = {
  host: "127.0.0.1",
  port: 0,
  frameBytesMax: DEFAULT_FRAME_BYTES_MAX,
  queueMessagesMax: 1024,
  bufferedBytesMax: 64 * 1024 * 1024,
  connectTimeoutMs: 2000,
  writeTimeoutMs: 5000,
  idleTimeoutMs: 60_000,
  backoffBaseMs: 50,
  backoffMaxMs: 5000,
  inboundConnectionsMax: 256,
  inboundBufferedBytesMax: 64 * 1024 * 1024,
  peersMax: 256,
} as const;

type AuthOptionName = "keys" | "replayWindowMs" | "replayNoncesMax" | "nowMs";
type Settings = Required<Omit<TcpTransportOptions, "onMessage" | "onBeacon" | AuthOptionName>>;

/** How long a refused peer has to read our version notice before its connection is destroyed. */
const REFUSAL_GRACE_MS = 1000;

export class TcpTransport implements PeerEndpoint {
  private readonly settings: Settings;
  private readonly auth: ChannelAuth;
  private readonly server: Server;
  private readonly inbound = new Set<Socket>();
  /** Bytes of partial frames held by the inbound connections' decoders, together. */
  private inboundBufferedBytes = 0;
  private readonly links = new Map<string, PeerLink>();
  private readonly counts: TransportStats = { sent: 0, delivered: 0, dropped: zeroCounts(peerDropReasons) };
  private readonly dropLog = new LogLimiter(10_000);
  private readonly versionLog = new LogLimiter(Number.POSITIVE_INFINITY);
  private boundPort = 0;
  private closing: Promise<void> | null = null;

  private constructor(
    options: Omit<TcpTransportOptions, "onMessage" | "onBeacon">,
    private readonly onMessage: (message: Message) => void,
    private readonly onBeacon: ((beacon: Beacon) => void) | undefined,
  ) {
    const { keys, replayWindowMs, replayNoncesMax, nowMs, ...settings } = options;
    this.settings = {
      ...tcpTransportDefaults,
      logger: silentLogger(),
      random: Math.random,
      ...definedOnly(settings),
    };
    this.auth = frameAuth("peer", definedOnly({ keys, replayWindowMs, replayNoncesMax, nowMs }));
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Starts listening; resolves once bound. Rejects with BindError, WildcardAddressError or InvalidClusterKeyError. */
  static async start(options: TcpTransportOptions): Promise<TcpTransport> {
    const { onMessage, onBeacon, ...settings } = options;
    const transport = new TcpTransport(settings, onMessage, onBeacon);
    await transport.listen();
    return transport;
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    return this.boundPort;
  }

  /** "host:port" where peers reach this node. */
  get address(): string {
    return formatAddress(this.settings.host, this.boundPort);
  }

  /** Sends `message` to the node at `address`, best effort: drops (and counts) rather than block. */
  send(message: Message, address: string | undefined): void {
    if (this.closing !== null) return this.drop("closed", 1, "self");
    if (address === undefined)
      return this.drop("no-address", 1, `node ${message.to}`, { to: message.to, type: message.type });
    const body = this.auth.seal(encodeMessage(message));
    if (body.byteLength > this.settings.frameBytesMax) {
      const context = { to: message.to, type: message.type, bytes: body.byteLength };
      return this.drop("oversized", 1, "self", { ...context, frameBytesMax: this.settings.frameBytesMax });
    }
    this.linkFor(address)?.send(encodeFrame(body));
  }

  /** Sends `beacon` to the node at `address` over its peer link (static peers), best effort. */
  sendBeacon(beacon: Beacon, address: string): void {
    if (this.closing !== null) return this.drop("closed", 1, "self");
    this.linkFor(address)?.send(encodeFrame(this.auth.seal(encodeBeacon(beacon))));
  }

  /**
   * Signs and verifies with `keys` from now on (none: unsigned), for a key rotation without
   * restarts. Throws InvalidClusterKeyError, keeping the current keys, if one is unusable.
   */
  setKeys(keys: readonly string[]): void {
    this.auth.setKeys(keys);
  }

  /** Counters since start; a fresh copy. */
  stats(): TransportStats {
    return { ...this.counts, dropped: { ...this.counts.dropped } };
  }

  /** The state of every outbound link, by peer address. */
  peers(): PeerLinkStatus[] {
    return [...this.links.values()].map((link) => link.status());
  }

  /** Stops listening and ends every connection and timer. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.inbound) socket.destroy();
    await Promise.all([...this.links.values()].map((link) => link.close()));
    this.links.clear();
    await serverClosed;
  }

  private listen(): Promise<void> {
    const { host, port } = this.settings;
    if (isWildcard(host)) return Promise.reject(new WildcardAddressError(host));
    return new Promise((resolve, reject) => {
      const onError = (error: Error) =>
        reject(new BindError("TCP transport", formatAddress(host, port), error));
      this.server.once("error", onError);
      this.server.listen({ host, port }, () => {
        this.server.off("error", onError);
        this.server.on("error", (error) =>
          this.settings.logger.error({ error: error.message }, "TCP server error"),
        );
        const bound = this.server.address();
        this.boundPort = typeof bound === "object" && bound !== null ? bound.port : port;
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    if (this.closing !== null) return void socket.destroy();
    if (this.inbound.size >= this.settings.inboundConnectionsMax) {
      this.drop("connection-limit", 1, socket.remoteAddress ?? "?", {
        from: remote(socket),
        inboundConnectionsMax: this.settings.inboundConnectionsMax,
      });
      return void socket.destroy();
    }
    this.inbound.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.settings.idleTimeoutMs, () => socket.destroy());
    const decoder = new FrameDecoder(this.settings.frameBytesMax);
    socket.on("data", (chunk: Buffer) => this.onInboundData(socket, decoder, chunk));
    socket.on("error", (error) =>
      this.settings.logger.debug({ from: remote(socket), error: error.message }, "peer connection error"),
    );
    socket.once("close", () => {
      this.inbound.delete(socket);
      this.inboundBufferedBytes -= decoder.bufferedBytes;
      decoder.release();
    });
  }

  private onInboundData(socket: Socket, decoder: FrameDecoder, chunk: Buffer): void {
    const before = decoder.bufferedBytes;
    const { frames, error } = decoder.push(chunk);
    this.inboundBufferedBytes += decoder.bufferedBytes - before;
    if (this.inboundBufferedBytes > this.settings.inboundBufferedBytesMax) {
      // Too much held in partial frames: this connection goes (its peer reconnects if it is real).
      this.drop("buffer-limit", 1, socket.remoteAddress ?? "?", {
        from: remote(socket),
        bufferedBytes: decoder.bufferedBytes,
        inboundBufferedBytesMax: this.settings.inboundBufferedBytesMax,
      });
      socket.removeAllListeners("data");
      socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (!this.onInboundFrame(socket, frame)) return;
    }
    if (error === null) return;
    // The length header is unusable, so nothing after it can be framed: close this connection only.
    this.drop("oversized", 1, socket.remoteAddress ?? "?", { from: remote(socket), detail: error.message });
    socket.destroy();
  }

  /** Handles one inbound frame; false once the connection is being refused. */
  private onInboundFrame(socket: Socket, sealed: Buffer): boolean {
    const opened = this.auth.open(sealed);
    if (!opened.ok) {
      this.drop(opened.reason, 1, socket.remoteAddress ?? "?", {
        from: remote(socket),
        detail: opened.detail,
      });
      return true;
    }
    const frame = opened.body;
    const decoded = decodeMessage(frame);
    if (decoded.ok) {
      this.counts.delivered++;
      this.onMessage(decoded.value);
      return true;
    }
    if (decoded.reason === "malformed" && this.onBeacon !== undefined) {
      const beacon = decodeBeacon(frame);
      if (beacon.ok) {
        this.onBeacon(beacon.value);
        return true;
      }
    }
    this.drop(decoded.reason, 1, socket.remoteAddress ?? "?", {
      from: remote(socket),
      detail: decoded.detail,
    });
    if (decoded.reason !== "version") return true;
    this.refuse(socket, decoded.peerVersion ?? -1);
    return false;
  }

  /** Tells a peer of another version which one we speak, then closes its connection. */
  private refuse(socket: Socket, peerVersion: number): void {
    const from = remote(socket);
    if (this.versionLog.allow(`${socket.remoteAddress ?? "?"}/${peerVersion}`)) {
      this.settings.logger.warn(
        { from, peerVersion, protocolVersion: PROTOCOL_VERSION },
        `refusing peer ${from}: it speaks protocol version ${peerVersion}, this node speaks ${PROTOCOL_VERSION}`,
      );
    }
    socket.removeAllListeners("data");
    socket.resume();
    socket.end(encodeFrame(this.auth.seal(encodeVersionNotice())));
    const timer = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS).unref();
    socket.once("close", () => clearTimeout(timer));
  }

  private linkFor(address: string): PeerLink | null {
    const existing = this.links.get(address);
    if (existing !== undefined) return existing;
    const parsed = parseAddress(address);
    if (!parsed.ok) {
      this.drop("invalid-address", 1, address, { detail: parsed.error.message });
      return null;
    }
    if (this.links.size >= this.settings.peersMax && !this.forgetIdleLink()) {
      this.drop("peer-limit", 1, "self", { to: address, peersMax: this.settings.peersMax });
      return null;
    }
    const link = new PeerLink({
      ...this.settings,
      address,
      host: parsed.value.host,
      port: parsed.value.port,
      logger: this.settings.logger,
      onDrop: (reason, count) => this.drop(reason, count, address, { to: address }),
      onSent: () => this.counts.sent++,
      onVersionRefused: (peer, peerVersion) => this.onVersionRefused(peer, peerVersion),
      auth: this.auth,
    });
    this.links.set(address, link);
    return link;
  }

  private forgetIdleLink(): boolean {
    for (const [address, link] of this.links) {
      if (!link.idle) continue;
      this.links.delete(address);
      return true;
    }
    return false;
  }

  private onVersionRefused(peer: string, peerVersion: number): void {
    this.counts.dropped.version++;
    if (!this.versionLog.allow(`${peer}/${peerVersion}`)) return;
    this.settings.logger.warn(
      { to: peer, peerVersion, protocolVersion: PROTOCOL_VERSION },
      `peer ${peer} refused us: it speaks protocol version ${peerVersion}, this node speaks ${PROTOCOL_VERSION}`,
    );
  }

  /** Counts `count` drops; logs at most one line per reason and `peer` (its host or address) every 10 s. */
  private drop(
    reason: PeerDropReason,
    count: number,
    peer: string,
    context: Record<string, unknown> = {},
  ): void {
    this.counts.dropped[reason] += count;
    if (!this.dropLog.allow(`${reason}/${peer}`)) return;
    const loud =
      reason === "oversized" ||
      reason === "connection-limit" ||
      reason === "buffer-limit" ||
      authReasons.has(reason);
    const level = loud ? "warn" : "debug";
    this.settings.logger[level]({ reason, count, ...context }, "dropped peer message");
  }
}

/** Refused by the cluster keys: a misconfigured or hostile peer, worth a warning. */
const authReasons: ReadonlySet<PeerDropReason> = new Set(authFailureReasons);

function remote(socket: Socket): string {
  return formatAddress(socket.remoteAddress ?? "?", socket.remotePort ?? 0);
}

/** `options` without its undefined fields, so they do not override defaults. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
