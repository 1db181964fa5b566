// A client library that follows a gavel cluster's auction updates: it joins the multicast group on
// one interface, checks each datagram (size, signature when given keys, schema: a datagram carries
// one or more updates, and one that fails drops them all), and tracks the last version of every
// auction. It drops duplicates and stale versions, and when a version is skipped
// it fetches the auction over HTTP and goes on from there. It never binds the wildcard address,
// never sends a datagram, and never throws from a socket or fetch callback: it counts and emits.
import { EventEmitter } from "node:events";
import type { Socket } from "node:dgram";
import { z } from "zod";
import { isWildcard } from "../net/address.js";
import { frameAuth } from "../net/cluster-key.js";
import type { AuthFailureReason, FrameAuth } from "../net/cluster-key.js";
import { decodeUpdates } from "../net/envelope.js";
import type { DecodeFailureReason } from "../net/envelope.js";
import { BindError, WildcardAddressError } from "../net/errors.js";
import { checkMulticastGroup, checkMulticastPort, multicastDefaults } from "../net/multicast.js";
import { bindUdpSocket, closeUdpSocket } from "../net/udp-socket.js";
import type { AuctionUpdate } from "../net/update-schema.js";

export type { AuctionUpdate } from "../net/update-schema.js";

export interface UpdateReceiverOptions {
  /** Multicast group. Default 239.255.77.1. */
  group?: string;
  /** UDP port of the group. Default 7410. */
  port?: number;
  /** IPv4 address of the interface to join the group on (not the wildcard). Default "127.0.0.1". */
  interfaceAddress?: string;
  /** The cluster's keys: when given, only updates signed with one of them are accepted. */
  keys?: readonly string[];
  /** Signed updates stamped further than this from our clock are refused, in ms. Default 30000. */
  replayWindowMs?: number;
  /** The clock that checks signatures. Default Date.now. */
  nowMs?: () => number;
  /**
   * Base URL of any node's API (or several, tried in order) to fetch an auction from after a gap,
   * as GET {url}/api/auctions/:id. None: gaps are reported, and the receiver goes on from the update.
   */
  httpUrl?: string | readonly string[];
  /** Only updates of this cluster; others are dropped as "other-cluster". Default: any. */
  clusterName?: string;
  /** A catch-up request is abandoned after this long, in ms. Default 5000. */
  catchUpTimeoutMs?: number;
  /** Auctions tracked at once; the least recently updated is forgotten first. Default 100000. */
  auctionsMax?: number;
  /** Updates of one auction held while it catches up; more are dropped. Default 256. */
  heldUpdatesMax?: number;
  /** Largest datagram accepted, in bytes. Default 8192. */
  datagramBytesMax?: number;
  /** The fetch to use (tests). Default globalThis.fetch. */
  fetch?: typeof fetch;
}

export const updateReceiverDefaults = {
  group: multicastDefaults.group,
  port: multicastDefaults.port,
  interfaceAddress: multicastDefaults.interfaceAddress,
  catchUpTimeoutMs: 5000,
  auctionsMax: 100_000,
  heldUpdatesMax: 256,
  datagramBytesMax: 8192,
} as const;

/**
 * Why an update was dropped: see envelope.ts and cluster-key.ts; "oversized"; "other-cluster";
 * "duplicate" (the version we hold); "stale-version" (older than the one we hold, or covered by a
 * catch-up); "held-full" (more updates than heldUpdatesMax arrived during one catch-up).
 */
export type ReceiverDropReason =
  | DecodeFailureReason
  | AuthFailureReason
  | "oversized"
  | "other-cluster"
  | "duplicate"
  | "stale-version"
  | "held-full";

export const receiverDropReasons: readonly ReceiverDropReason[] = [
  "malformed",
  "version",
  "invalid",
  "unknown-type",
  "unsigned",
  "unknown-key",
  "bad-signature",
  "stale",
  "replayed",
  "unexpected-signature",
  "oversized",
  "other-cluster",
  "duplicate",
  "stale-version",
  "held-full",
];

export interface UpdateReceiverStats {
  /** Datagrams that arrived (each carries one or more updates). */
  received: number;
  /** Datagrams that passed the size, signature and schema checks; the others are dropped whole. */
  passed: number;
  /** Updates in the datagrams that passed: each is delivered or dropped. */
  updates: number;
  /** Updates emitted as "update". */
  delivered: number;
  /** Skipped versions detected. */
  gaps: number;
  /** Catch-ups that fetched the auction. */
  catchUps: number;
  /** Catch-ups that failed on every URL (or had no URL to try). */
  catchUpFailures: number;
  /**
   * Drops by reason: whole datagrams for the checks' reasons (envelope, signature, "oversized"),
   * single updates for the others ("other-cluster", "duplicate", "stale-version", "held-full").
   */
  dropped: Record<ReceiverDropReason, number>;
}

/** The auction as GET /api/auctions/:id returns it: at least its id and version. */
export type AuctionState = { id: string; version: number } & Record<string, unknown>;

export interface GapNotice {
  auctionId: string;
  /** The version we held. */
  lastVersion: number;
  /** The version that arrived, more than one ahead. */
  receivedVersion: number;
}

export interface CatchUp {
  auctionId: string;
  /** The version held before the catch-up. */
  fromVersion: number;
  /** The version fetched; the receiver goes on from it. */
  version: number;
  auction: AuctionState;
}

export interface CatchUpFailure {
  auctionId: string;
  error: string;
}

/** The events a receiver emits. */
export interface UpdateReceiverEvents {
  /** An update in order (or the first seen of an auction). */
  update: [update: AuctionUpdate];
  /** A version was skipped; a catch-up follows if an httpUrl is set. */
  gap: [gap: GapNotice];
  /** The auction was fetched after a gap; updates continue after its version. */
  "catch-up": [catchUp: CatchUp];
  /** The fetch failed; the receiver went on from the updates it held. */
  "catch-up-failed": [failure: CatchUpFailure];
}

interface Tracked {
  version: number;
  /** Set while fetching after a gap: newer updates wait in `held`. */
  catchingUp: boolean;
  held: AuctionUpdate[];
}

const auctionStateSchema = z.looseObject({ id: z.string(), version: z.int().nonnegative() });

type Settings = Required<
  Omit<UpdateReceiverOptions, "keys" | "replayWindowMs" | "nowMs" | "httpUrl" | "clusterName">
>;

/**
 * Follows auction updates. Each auction's first update is taken as it is (an update carries the
 * auction's public facts, not a difference); after that, exactly the next version is delivered.
 */
export class UpdateReceiver extends EventEmitter<UpdateReceiverEvents> {
  private readonly counts: UpdateReceiverStats = {
    received: 0,
    passed: 0,
    updates: 0,
    delivered: 0,
    gaps: 0,
    catchUps: 0,
    catchUpFailures: 0,
    dropped: Object.fromEntries(receiverDropReasons.map((reason) => [reason, 0])) as Record<
      ReceiverDropReason,
      number
    >,
  };
  // Invariant: insertion order is the order of last update, least recent first.
  private readonly auctions = new Map<string, Tracked>();
  private readonly aborts = new Set<AbortController>();
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly socket: Socket,
    private readonly auth: FrameAuth,
    private readonly settings: Settings,
    private readonly httpUrls: readonly string[],
    private readonly clusterName: string | undefined,
  ) {
    super();
    socket.on("message", (datagram) => this.receive(datagram));
    // A receive error is the socket's (e.g. ICMP noise); the receiver keeps listening.
    socket.on("error", () => undefined);
  }

  /**
   * Binds the group address and port (shared: several receivers on one host may listen) and joins
   * the group on `interfaceAddress`. Rejects with WildcardAddressError, InvalidMulticastGroupError,
   * InvalidClusterKeyError, RangeError (port) or BindError (also when the join fails).
   */
  static async start(options: UpdateReceiverOptions = {}): Promise<UpdateReceiver> {
    const group = options.group ?? updateReceiverDefaults.group;
    const port = options.port ?? updateReceiverDefaults.port;
    const interfaceAddress = options.interfaceAddress ?? updateReceiverDefaults.interfaceAddress;
    if (isWildcard(interfaceAddress)) throw new WildcardAddressError(interfaceAddress);
    checkMulticastGroup(group);
    checkMulticastPort(port);
    const auth = frameAuth("update", {
      keys: options.keys,
      replayWindowMs: options.replayWindowMs,
      nowMs: options.nowMs,
    });
    const socket = await bindUdpSocket("update receiver", group, port, true);
    try {
      socket.addMembership(group, interfaceAddress);
    } catch (error) {
      await closeUdpSocket(socket);
      throw new BindError(
        `update receiver (joining ${group} on ${interfaceAddress})`,
        `${group}:${port}`,
        error,
      );
    }
    const httpUrl = options.httpUrl ?? [];
    const httpUrls = (typeof httpUrl === "string" ? [httpUrl] : [...httpUrl]).map((url) =>
      url.replace(/\/+$/, ""),
    );
    const settings: Settings = {
      group,
      port,
      interfaceAddress,
      catchUpTimeoutMs: options.catchUpTimeoutMs ?? updateReceiverDefaults.catchUpTimeoutMs,
      auctionsMax: options.auctionsMax ?? updateReceiverDefaults.auctionsMax,
      heldUpdatesMax: options.heldUpdatesMax ?? updateReceiverDefaults.heldUpdatesMax,
      datagramBytesMax: options.datagramBytesMax ?? updateReceiverDefaults.datagramBytesMax,
      fetch: options.fetch ?? globalThis.fetch,
    };
    return new UpdateReceiver(socket, auth, settings, httpUrls, options.clusterName);
  }

  /** The last version delivered or caught up for `auctionId`, if it is tracked. */
  version(auctionId: string): number | undefined {
    return this.auctions.get(auctionId)?.version;
  }

  /** Counters since start; a fresh copy. */
  stats(): UpdateReceiverStats {
    return { ...this.counts, dropped: { ...this.counts.dropped } };
  }

  /** Leaves the group, closes the socket and abandons catch-ups in flight; emits nothing after. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    for (const abort of this.aborts) abort.abort();
    this.closing = closeUdpSocket(this.socket);
    return this.closing;
  }

  private receive(datagram: Buffer): void {
    if (this.closing !== null) return;
    this.counts.received++;
    if (datagram.byteLength > this.settings.datagramBytesMax) return this.drop("oversized");
    const opened = this.auth.open(datagram);
    if (!opened.ok) return this.drop(opened.reason);
    const decoded = decodeUpdates(opened.body);
    if (!decoded.ok) return this.drop(decoded.reason);
    this.counts.passed++;
    this.counts.updates += decoded.value.length;
    for (const update of decoded.value) {
      if (this.clusterName !== undefined && update.clusterName !== this.clusterName)
        this.drop("other-cluster");
      else this.accept(update);
    }
  }

  private accept(update: AuctionUpdate): void {
    const tracked = this.auctions.get(update.auctionId);
    if (tracked === undefined) return this.deliver(update, this.track(update.auctionId, update.version));
    if (update.version === tracked.version) return this.drop("duplicate");
    if (update.version < tracked.version) return this.drop("stale-version");
    if (tracked.catchingUp) return this.hold(tracked, update);
    if (update.version === tracked.version + 1) return this.deliver(update, tracked);
    this.counts.gaps++;
    this.emit("gap", {
      auctionId: update.auctionId,
      lastVersion: tracked.version,
      receivedVersion: update.version,
    });
    if (this.httpUrls.length === 0) return this.deliver(update, tracked);
    tracked.catchingUp = true;
    tracked.held = [update];
    void this.catchUp(update.auctionId, tracked);
  }

  private deliver(update: AuctionUpdate, tracked: Tracked): void {
    tracked.version = update.version;
    this.touch(update.auctionId, tracked);
    this.counts.delivered++;
    this.emit("update", update);
  }

  private hold(tracked: Tracked, update: AuctionUpdate): void {
    if (tracked.held.some((held) => held.version === update.version)) return this.drop("duplicate");
    if (tracked.held.length >= this.settings.heldUpdatesMax) return this.drop("held-full");
    tracked.held.push(update);
  }

  /** Fetches the auction, then delivers what arrived meanwhile and is newer than what it fetched. */
  private async catchUp(auctionId: string, tracked: Tracked): Promise<void> {
    const fromVersion = tracked.version;
    const fetched = await this.fetchAuction(auctionId);
    if (this.closing !== null) return;
    if (fetched.ok) {
      this.counts.catchUps++;
      if (fetched.auction.version > tracked.version) tracked.version = fetched.auction.version;
      this.emit("catch-up", { auctionId, fromVersion, version: tracked.version, auction: fetched.auction });
    } else {
      this.counts.catchUpFailures++;
      this.emit("catch-up-failed", { auctionId, error: fetched.error });
    }
    tracked.catchingUp = false;
    const held = tracked.held.sort((a, b) => a.version - b.version);
    tracked.held = [];
    // What the catch-up covered is old; the rest is delivered in order, even across a gap the
    // fetched state did not close (a lagging node answered): no second fetch, no loop.
    for (const update of held) {
      if (update.version <= tracked.version) this.drop("stale-version");
      else this.deliver(update, tracked);
    }
  }

  private async fetchAuction(
    auctionId: string,
  ): Promise<{ ok: true; auction: AuctionState } | { ok: false; error: string }> {
    const errors: string[] = [];
    for (const base of this.httpUrls) {
      const abort = new AbortController();
      this.aborts.add(abort);
      const timer = setTimeout(() => abort.abort(), this.settings.catchUpTimeoutMs);
      try {
        const response = await this.settings.fetch(`${base}/api/auctions/${encodeURIComponent(auctionId)}`, {
          signal: abort.signal,
          headers: { accept: "application/json" },
        });
        const body: unknown = await response.json();
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const parsed = auctionStateSchema.safeParse(body);
        if (!parsed.success || parsed.data.id !== auctionId) throw new Error("not the auction asked for");
        return { ok: true, auction: parsed.data };
      } catch (error) {
        errors.push(`${base}: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        clearTimeout(timer);
        this.aborts.delete(abort);
      }
    }
    return { ok: false, error: errors.length === 0 ? "no httpUrl" : errors.join("; ") };
  }

  private track(auctionId: string, version: number): Tracked {
    const tracked: Tracked = { version, catchingUp: false, held: [] };
    this.auctions.set(auctionId, tracked);
    if (this.auctions.size > this.settings.auctionsMax)
      this.auctions.delete(this.auctions.keys().next().value!);
    return tracked;
  }

  /** Marks `auctionId` as the most recently updated. */
  private touch(auctionId: string, tracked: Tracked): void {
    this.auctions.delete(auctionId);
    this.auctions.set(auctionId, tracked);
  }

  private drop(reason: ReceiverDropReason): void {
    this.counts.dropped[reason]++;
  }
}
