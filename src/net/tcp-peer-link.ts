// One outbound TCP connection to one peer address, made lazily, reused for every message to that
// address, and remade with capped exponential backoff and jitter after it fails. It never blocks
// its caller and never holds more than its bounded queue (while connecting) or its bounded socket
// buffer (while connected); anything beyond is dropped and reported.
import { connect } from "node:net";
import type { Socket } from "node:net";
import type { Logger } from "../node/logger.js";
import type { FrameAuth } from "./cluster-key.js";
import { announcedVersion, PROTOCOL_VERSION } from "./envelope.js";
import { ConnectTimeoutError, WriteTimeoutError } from "./errors.js";
import { FrameDecoder } from "./frame.js";
import type { PeerDropReason } from "./stats.js";

/** A connection that lived at least this long counts as a success and resets the backoff. */
const STABLE_CONNECTION_MS = 1000;

export interface PeerLinkOptions {
  address: string;
  host: string;
  port: number;
  queueMessagesMax: number;
  bufferedBytesMax: number;
  connectTimeoutMs: number;
  writeTimeoutMs: number;
  idleTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  frameBytesMax: number;
  /** Uniform in [0, 1): jitter for the backoff. */
  random: () => number;
  logger: Logger;
  /** `count` messages were dropped for `reason`. */
  onDrop(reason: PeerDropReason, count: number): void;
  /** A frame was handed to the socket. */
  onSent(): void;
  /** The peer told us it speaks another protocol version before it closed the connection. */
  onVersionRefused(address: string, peerVersion: number): void;
  /** Opens what the peer sends back (a version notice is sealed like every frame). */
  auth: Pick<FrameAuth, "open">;
}

/** The delay before connection attempt number `failures + 1`, in ms: 0 after no failure. */
export function backoffDelayMs(
  failures: number,
  baseMs: number,
  maxMs: number,
  random: () => number,
): number {
  if (failures <= 0) return 0;
  const ceilingMs = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  // "Equal jitter": half the delay fixed, half random, so retries spread but never bunch at zero.
  return ceilingMs / 2 + (random() * ceilingMs) / 2;
}

/** What a link is doing, for status pages and tests. */
export interface PeerLinkStatus {
  address: string;
  connected: boolean;
  /** Messages waiting for the connection. */
  queued: number;
  /** Failed attempts since the last stable connection; the backoff grows with it. */
  failures: number;
}

export class PeerLink {
  private socket: Socket | null = null;
  // Invariant: connected implies socket !== null.
  private connected = false;
  private connectedAtMs = 0;
  /** Frames waiting for the connection. Invariant: empty while connected. */
  private queue: Buffer[] = [];
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private writeTimer: NodeJS.Timeout | null = null;
  private lastError: Error | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(private readonly options: PeerLinkOptions) {}

  /** True when the link holds nothing (no socket, queue or timer), so it may be forgotten. */
  get idle(): boolean {
    return this.socket === null && this.queue.length === 0 && this.retryTimer === null;
  }

  status(): PeerLinkStatus {
    const { address } = this.options;
    return { address, connected: this.connected, queued: this.queue.length, failures: this.failures };
  }

  /** Sends one frame now, or queues it until the connection is up. */
  send(frame: Buffer): void {
    if (this.closed) return this.options.onDrop("closed", 1);
    if (this.socket !== null && this.connected) return this.write(this.socket, frame);
    if (this.queue.length >= this.options.queueMessagesMax) return this.options.onDrop("queue-full", 1);
    this.queue.push(frame);
    if (this.socket === null && this.retryTimer === null) this.connect();
  }

  /** Closes the connection and cancels every timer; resolves once the socket is closed. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    this.clearTimers();
    this.dropQueue("closed");
    const socket = this.socket;
    this.closing =
      socket === null || socket.closed
        ? Promise.resolve()
        : new Promise((resolve) => {
            socket.once("close", () => resolve());
            socket.destroy();
          });
    return this.closing;
  }

  private connect(): void {
    const { host, port, connectTimeoutMs, address } = this.options;
    const socket = connect({ host, port, noDelay: true });
    this.socket = socket;
    this.lastError = null;
    this.connectTimer = setTimeout(
      () => socket.destroy(new ConnectTimeoutError(address, connectTimeoutMs)),
      connectTimeoutMs,
    ).unref();
    const decoder = new FrameDecoder(this.options.frameBytesMax);
    socket.once("connect", () => this.onConnect(socket));
    socket.on("data", (chunk: Buffer) => this.onData(socket, decoder, chunk));
    socket.on("drain", () => this.clearWriteTimer());
    socket.on("error", (error) => (this.lastError = error));
    socket.once("close", () => this.onClose(socket));
  }

  private onConnect(socket: Socket): void {
    this.clearConnectTimer();
    this.connected = true;
    this.connectedAtMs = Date.now();
    if (this.failures > 0) {
      this.options.logger.info(
        { peer: this.options.address, failures: this.failures },
        "peer reachable again",
      );
    }
    // An outbound link idle this long is closed; the next send reopens it.
    socket.setTimeout(this.options.idleTimeoutMs, () => socket.end());
    const queued = this.queue;
    this.queue = [];
    for (const frame of queued) this.write(socket, frame);
  }

  private write(socket: Socket, frame: Buffer): void {
    if (socket.writableLength + frame.byteLength > this.options.bufferedBytesMax) {
      return this.options.onDrop("queue-full", 1);
    }
    // Frames sent in one turn of the event loop (a driver batch) leave in one write.
    if (!socket.writableCorked) {
      socket.cork();
      process.nextTick(() => socket.uncork());
    }
    const flushed = socket.write(frame);
    this.options.onSent();
    if (!flushed && this.writeTimer === null) {
      const { address, writeTimeoutMs } = this.options;
      this.writeTimer = setTimeout(
        () => socket.destroy(new WriteTimeoutError(address, writeTimeoutMs)),
        writeTimeoutMs,
      ).unref();
    }
  }

  /** Peers send nothing on our connection, except a version notice before they refuse us. */
  private onData(socket: Socket, decoder: FrameDecoder, chunk: Buffer): void {
    const { frames, error } = decoder.push(chunk);
    for (const frame of frames) {
      const opened = this.options.auth.open(frame);
      if (!opened.ok) continue;
      const version = announcedVersion(opened.body);
      if (version !== null && version !== PROTOCOL_VERSION) {
        this.options.onVersionRefused(this.options.address, version);
        socket.destroy();
        return;
      }
    }
    if (error !== null) socket.destroy(error);
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    this.clearTimers();
    const wasConnected = this.connected;
    this.socket = null;
    this.connected = false;
    if (this.closed) return;
    const stable = wasConnected && Date.now() - this.connectedAtMs >= STABLE_CONNECTION_MS;
    this.failures = stable ? 0 : this.failures + 1;
    this.dropQueue("unreachable");
    this.logClose(wasConnected);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const { backoffBaseMs, backoffMaxMs, random } = this.options;
    const delayMs = backoffDelayMs(this.failures, backoffBaseMs, backoffMaxMs, random);
    if (delayMs === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.queue.length > 0 && !this.closed) this.connect();
    }, delayMs).unref();
  }

  private logClose(wasConnected: boolean): void {
    const context = { peer: this.options.address, failures: this.failures, error: this.lastError?.message };
    if (this.failures === 1) this.options.logger.warn(context, "peer unreachable; retrying with backoff");
    else if (wasConnected) this.options.logger.debug(context, "peer connection closed");
    else this.options.logger.debug(context, "peer still unreachable");
  }

  private dropQueue(reason: PeerDropReason): void {
    if (this.queue.length === 0) return;
    this.options.onDrop(reason, this.queue.length);
    this.queue = [];
  }

  private clearTimers(): void {
    this.clearConnectTimer();
    this.clearWriteTimer();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private clearWriteTimer(): void {
    if (this.writeTimer !== null) clearTimeout(this.writeTimer);
    this.writeTimer = null;
  }
}
