// An in-memory PeerTransport: a hub that connects endpoints by address within one process, for
// tests of code above the transport and for the transport contract suite. Every message goes
// through the real envelope codec and schemas, so what passes here also passes the wire; it never
// touches a socket and never delivers synchronously inside `send`.
import type { Message } from "../core/cluster/types.js";
import { decodeMessage, encodeMessage } from "./envelope.js";
import { DEFAULT_FRAME_BYTES_MAX } from "./frame.js";
import { peerDropReasons, zeroCounts } from "./stats.js";
import type { PeerDropReason, PeerEndpoint, TransportStats } from "./stats.js";

export interface MemoryHubOptions {
  /** Largest encoded message, in bytes, as for TCP frames. Default 16 MiB. */
  frameBytesMax?: number;
}

/** Connects in-memory endpoints by address. Delivery is asynchronous and in order per sender. */
export class MemoryHub {
  private readonly endpoints = new Map<string, MemoryEndpoint>();
  readonly frameBytesMax: number;

  constructor(options: MemoryHubOptions = {}) {
    this.frameBytesMax = options.frameBytesMax ?? DEFAULT_FRAME_BYTES_MAX;
  }

  /** A new endpoint reachable at `address`; the address must be free. */
  endpoint(address: string, onMessage: (message: Message) => void): MemoryEndpoint {
    if (this.endpoints.has(address)) throw new Error(`memory address ${address} is taken`);
    const endpoint = new MemoryEndpoint(this, address, onMessage);
    this.endpoints.set(address, endpoint);
    return endpoint;
  }

  /** The open endpoint at `address`, if any. */
  lookup(address: string): MemoryEndpoint | undefined {
    return this.endpoints.get(address);
  }

  /** Frees the address of a closed endpoint. */
  release(endpoint: MemoryEndpoint): void {
    if (this.endpoints.get(endpoint.address) === endpoint) this.endpoints.delete(endpoint.address);
  }
}

export class MemoryEndpoint implements PeerEndpoint {
  private readonly counts: TransportStats = { sent: 0, delivered: 0, dropped: zeroCounts(peerDropReasons) };
  private closed = false;

  constructor(
    private readonly hub: MemoryHub,
    readonly address: string,
    private readonly onMessage: (message: Message) => void,
  ) {}

  /** Encodes, decodes and validates `message` as TCP would, then delivers it on a later turn. */
  send(message: Message, address: string | undefined): void {
    if (this.closed) return this.drop("closed");
    if (address === undefined) return this.drop("no-address");
    const target = this.hub.lookup(address);
    if (target === undefined) return this.drop("unreachable");
    const body = encodeMessage(message);
    if (body.byteLength > this.hub.frameBytesMax) return this.drop("oversized");
    const decoded = decodeMessage(body);
    if (!decoded.ok) return this.drop(decoded.reason);
    this.counts.sent++;
    // setImmediate runs callbacks in the order they were scheduled: delivery keeps send order.
    setImmediate(() => target.receive(decoded.value));
  }

  stats(): TransportStats {
    return { ...this.counts, dropped: { ...this.counts.dropped } };
  }

  close(): Promise<void> {
    this.closed = true;
    this.hub.release(this);
    return Promise.resolve();
  }

  private receive(message: Message): void {
    if (this.closed) return;
    this.counts.delivered++;
    this.onMessage(message);
  }

  private drop(reason: PeerDropReason): void {
    this.counts.dropped[reason]++;
  }
}
