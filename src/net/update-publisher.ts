// Publishes auction updates by UDP multicast: one update per applied auction event, sent by the
// auction's owner to group:port from the node's own address, with the outgoing interface pinned to
// that address and TTL 1, so updates never leave the local subnet (on loopback, never the machine).
// The updates of one batch go together, as many to a datagram as fit. Sealed with the cluster keys
// when set. Best effort: it never blocks the node and never throws after start; what it cannot send
// is dropped and counted, and receivers recover from the gap.
import type { Socket } from "node:dgram";
import type { ApplyResult } from "../core/cluster/state.js";
import type { LogEntry, NodeId } from "../core/cluster/types.js";
import type { Logger } from "../node/logger.js";
import { silentLogger } from "../node/logger.js";
import { formatAddress, isWildcard } from "./address.js";
import { frameAuth } from "./cluster-key.js";
import type { ChannelAuth } from "./cluster-key.js";
import { packUpdates } from "./envelope.js";
import { BindError, WildcardAddressError } from "./errors.js";
import { LogLimiter } from "./log-limit.js";
import { checkMulticastGroup, checkMulticastPort, multicastDefaults } from "./multicast.js";
import { zeroCounts } from "./stats.js";
import { bindUdpSocket, closeUdpSocket, connectUdpSocket } from "./udp-socket.js";
import { UpdateTracker } from "./update-tracker.js";
import type { AuctionSource } from "./update-tracker.js";
import type { AuctionUpdate } from "./update-schema.js";

export interface UpdatePublisherOptions {
  /** The node's own IPv4 address: the socket binds it and multicast leaves through it. Default "127.0.0.1". */
  host?: string;
  /** Multicast group. Default 239.255.77.1 (organization-local scope). */
  group?: string;
  /** UDP port of the group. Default 7410. */
  port?: number;
  /** This node: it publishes the events of entries it proposed as the auction's owner. */
  nodeId: NodeId;
  /** Carried in every update, so receivers can tell clusters apart. */
  clusterName: string;
  /** Cluster keys, the first signs (see TcpTransportOptions.keys). None: updates are not signed. */
  keys?: readonly string[];
  /** The clock that stamps signatures and judges an event's age. Default Date.now. */
  nowMs?: () => number;
  logger?: Logger;
  /** Largest datagram, in bytes, signature included. Default 1400: one unfragmented Ethernet frame. */
  datagramBytesMax?: number;
  /** Most datagrams handed to the socket and not yet sent; more are dropped. Default 1024. */
  sendsInFlightMax?: number;
  /**
   * Events of entries stamped longer ago than this are not published, in ms: a restarted node
   * re-applies its log, and receivers have long seen those events. Default 60000.
   */
  eventAgeMaxMs?: number;
  /** Auctions whose facts are kept between batches (see UpdateTracker). Default 100000. */
  factsMax?: number;
}

export const updatePublisherDefaults = {
  host: multicastDefaults.interfaceAddress,
  group: multicastDefaults.group,
  port: multicastDefaults.port,
  datagramBytesMax: 1400,
  sendsInFlightMax: 1024,
  eventAgeMaxMs: 60_000,
  factsMax: 100_000,
} as const;

/**
 * Why an update was not sent: "oversized" (over datagramBytesMax), "queue-full" (too many sends in
 * flight), "send-failed" (the socket refused it), "old" (its entry is older than eventAgeMaxMs),
 * "unknown-facts" (see UpdateTracker), "closed" (after close()).
 */
export type UpdateDropReason =
  "oversized" | "queue-full" | "send-failed" | "old" | "unknown-facts" | "closed";

export const updateDropReasons: readonly UpdateDropReason[] = [
  "oversized",
  "queue-full",
  "send-failed",
  "old",
  "unknown-facts",
  "closed",
];

export interface UpdatePublisherStats {
  /** Datagrams the socket sent. */
  sent: number;
  /** Updates in the datagrams the socket sent. */
  updates: number;
  /** Updates not sent, by reason (a datagram that failed counts each of its updates). */
  dropped: Record<UpdateDropReason, number>;
}

export class UpdatePublisher {
  private readonly counts: UpdatePublisherStats = {
    sent: 0,
    updates: 0,
    dropped: zeroCounts(updateDropReasons),
  };
  private readonly tracker: UpdateTracker;
  private readonly dropLog = new LogLimiter(10_000);
  private inFlight = 0;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly socket: Socket,
    private readonly auth: ChannelAuth,
    readonly group: string,
    readonly port: number,
    private readonly settings: Required<Omit<UpdatePublisherOptions, "host" | "group" | "port" | "keys">>,
  ) {
    this.tracker = new UpdateTracker(settings.nodeId, settings.clusterName, settings.factsMax);
    socket.on("error", (error) => settings.logger.error({ error: error.message }, "update publisher error"));
  }

  /**
   * Binds host:0 and pins multicast to host's interface (TTL 1, loopback on, so receivers on this
   * machine hear it). Rejects with WildcardAddressError, InvalidMulticastGroupError,
   * InvalidClusterKeyError, RangeError (port) or BindError (also when host cannot send multicast).
   */
  static async start(options: UpdatePublisherOptions): Promise<UpdatePublisher> {
    const { host = updatePublisherDefaults.host, group = updatePublisherDefaults.group } = options;
    const port = options.port ?? updatePublisherDefaults.port;
    if (isWildcard(host)) throw new WildcardAddressError(host);
    checkMulticastGroup(group);
    checkMulticastPort(port);
    const auth = frameAuth("update", { keys: options.keys, nowMs: options.nowMs });
    const socket = await bindUdpSocket("update publisher", host, 0, false);
    try {
      socket.setMulticastInterface(host);
      socket.setMulticastTTL(multicastDefaults.ttl);
      socket.setMulticastLoopback(true);
    } catch (error) {
      await closeUdpSocket(socket);
      throw new BindError("update publisher (multicast interface)", formatAddress(host, 0), error);
    }
    try {
      // Connected to the group: each send goes straight out, without a lookup of the address.
      await connectUdpSocket(socket, port, group);
    } catch (error) {
      await closeUdpSocket(socket);
      throw new BindError("update publisher (multicast group)", formatAddress(group, port), error);
    }
    return new UpdatePublisher(socket, auth, group, port, {
      nodeId: options.nodeId,
      clusterName: options.clusterName,
      nowMs: options.nowMs ?? Date.now,
      logger: options.logger ?? silentLogger(),
      datagramBytesMax: options.datagramBytesMax ?? updatePublisherDefaults.datagramBytesMax,
      sendsInFlightMax: options.sendsInFlightMax ?? updatePublisherDefaults.sendsInFlightMax,
      eventAgeMaxMs: options.eventAgeMaxMs ?? updatePublisherDefaults.eventAgeMaxMs,
      factsMax: options.factsMax ?? updatePublisherDefaults.factsMax,
    });
  }

  /** Notes one applied entry (call for every entry, in apply order: versions count every event). */
  applied(entry: LogEntry, result: ApplyResult): void {
    this.tracker.record(entry, result);
  }

  /**
   * Publishes the updates of the entries noted since the last flush. `state` must be the state
   * after all of them (call it once the batch that applied them is done).
   */
  flush(state: AuctionSource): void {
    const { updates, unknownFacts } = this.tracker.drain(state);
    if (unknownFacts > 0) this.drop("unknown-facts", { count: unknownFacts }, unknownFacts);
    const oldestMs = this.settings.nowMs() - this.settings.eventAgeMaxMs;
    const fresh: AuctionUpdate[] = [];
    for (const update of updates) {
      if (update.timestampMs < oldestMs) this.drop("old", { auctionId: update.auctionId });
      else fresh.push(update);
    }
    this.publishAll(fresh);
  }

  /** Sends one update alone in a datagram. The node goes through `applied` and `flush`; tests call this directly. */
  publish(update: AuctionUpdate): void {
    this.publishAll([update]);
  }

  /** Sends `updates`, in order, as many to a datagram as fit in datagramBytesMax. */
  publishAll(updates: readonly AuctionUpdate[]): void {
    if (updates.length === 0) return;
    if (this.closing !== null) return this.drop("closed", {}, updates.length);
    const { datagramBytesMax, sendsInFlightMax } = this.settings;
    const packed = packUpdates(updates, datagramBytesMax - this.auth.overheadBytes);
    for (const { update, bytes } of packed.oversized) {
      this.drop("oversized", {
        auctionId: update.auctionId,
        bytes: bytes + this.auth.overheadBytes,
        datagramBytesMax,
      });
    }
    packed.datagrams.forEach((body, position) => {
      const count = packed.counts[position]!;
      if (this.inFlight >= sendsInFlightMax) return this.drop("queue-full", { sendsInFlightMax }, count);
      this.inFlight++;
      this.socket.send(this.auth.seal(body), (error) => {
        this.inFlight--;
        if (error !== null) return this.drop("send-failed", { error: error.message }, count);
        this.counts.sent++;
        this.counts.updates += count;
      });
    });
  }

  /** Signs updates with `keys` from now on (see TcpTransport.setKeys). */
  setKeys(keys: readonly string[]): void {
    this.auth.setKeys(keys);
  }

  /** Counters since start; a fresh copy. */
  stats(): UpdatePublisherStats {
    return { ...this.counts, dropped: { ...this.counts.dropped } };
  }

  /** Closes the socket; later updates are dropped as "closed". */
  close(): Promise<void> {
    this.closing ??= closeUdpSocket(this.socket);
    return this.closing;
  }

  /** Counts drops; logs at most one line per reason every 10 s. */
  private drop(reason: UpdateDropReason, context: Record<string, unknown> = {}, count = 1): void {
    this.counts.dropped[reason] += count;
    if (!this.dropLog.allow(reason)) return;
    const level = reason === "send-failed" || reason === "oversized" ? "warn" : "debug";
    this.settings.logger[level]({ reason, ...context }, "update not published");
  }
}
