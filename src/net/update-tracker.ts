// Turns applied log entries into auction updates: which events this node publishes (those of
// entries it proposed as the auction's owner), each event's version, and the public facts after
// its entry. Pure and synchronous, no sockets or clock: the publisher feeds it and sends the result.
import type { Auction, AuctionEvent } from "../core/auction/types.js";
import { auctionEventsOf } from "../core/cluster/state.js";
import type { ApplyResult } from "../core/cluster/state.js";
import type { LogEntry, NodeId } from "../core/cluster/types.js";
import type { AuctionFacts, AuctionUpdate } from "./update-schema.js";

/** What the tracker reads of the replicated state: auctions by id, as applied. */
export interface AuctionSource {
  book: { get(auctionId: string): Auction | undefined };
}

interface PendingEvent {
  /** Position in apply order since the last drain. */
  sequence: number;
  entryIndex: number;
  timestampMs: number;
  auctionId: string;
  event: AuctionEvent;
  /** True when this node proposed the entry as the auction's owner: it publishes the event. */
  own: boolean;
}

/** What `drain` found: the updates to publish, and own events it could not state exactly. */
export interface Drained {
  updates: AuctionUpdate[];
  /** Own events left unpublished because the facts before them were unknown (receivers see a gap). */
  unknownFacts: number;
}

/** The public facts of an auction as applied. */
export function factsOf(auction: Auction): AuctionFacts {
  return {
    phase: auction.phase,
    price: auction.price,
    highBidder: auction.leader,
    closesAt: auction.closesAt,
    bidCount: auction.bids.length,
    outcome: auction.outcome,
  };
}

/** The facts after `event`, from the facts before it (null before the auction exists; undefined if unknown). */
export function nextFacts(facts: AuctionFacts | null, event: AuctionEvent): AuctionFacts | undefined {
  if (event.type === "auction-created") {
    const closesAt = event.auction.closesAt;
    return { phase: "active", price: null, highBidder: null, closesAt, bidCount: 0, outcome: null };
  }
  if (facts === null) return undefined;
  switch (event.type) {
    case "bid-accepted":
      return {
        ...facts,
        price: event.price,
        highBidder: event.leader,
        bidCount: facts.bidCount + event.lines.length,
      };
    case "auction-extended":
      return { ...facts, closesAt: event.closesAt };
    case "auction-closed":
      return { ...facts, phase: "closed", outcome: event.outcome };
    case "auction-cancelled":
      return { ...facts, phase: "cancelled" };
  }
}

/**
 * Collects the auction events of applied entries (`record`), then, once the state holds all of
 * them (`drain`), numbers them and states their facts.
 *
 * Versions are exact: an auction's version grows by one per event, so the events of a batch end at
 * the version the state holds, and count back from it. Facts need the facts before the batch: the
 * tracker keeps them, after every batch, for every active auction it saw an event of (at most
 * `factsMax`, the least recently updated forgotten first), so an auction that moves to this node
 * is known already. When it has none that match the version before the batch (the node restarted,
 * or forgot the auction), only the events of the batch's last entry for that auction can be stated,
 * with the state's facts; earlier ones are left out, and receivers see a gap and fetch the auction
 * over HTTP.
 */
export class UpdateTracker {
  private pending: PendingEvent[] = [];
  private readonly known = new Map<string, { version: number; facts: AuctionFacts }>();

  constructor(
    private readonly selfId: NodeId,
    private readonly clusterName: string,
    private readonly factsMax: number = 100_000,
  ) {}

  /** Notes the events of one applied entry, in apply order. */
  record(entry: LogEntry, result: ApplyResult): void {
    if (result.kind !== "auction") return;
    const data = entry.data;
    const own = (data.kind === "create" || data.kind === "auction") && data.owner === this.selfId;
    for (const event of auctionEventsOf(result)) {
      this.pending.push({
        sequence: this.pending.length,
        entryIndex: entry.index,
        timestampMs: entry.timestampMs,
        auctionId: result.auctionId,
        event,
        own,
      });
    }
  }

  /** The updates of everything recorded since the last drain; `state` must hold all of it applied. */
  drain(state: AuctionSource): Drained {
    const pending = this.pending;
    this.pending = [];
    const numbered: { sequence: number; update: AuctionUpdate }[] = [];
    let unknownFacts = 0;
    for (const [auctionId, events] of groupByAuction(pending)) {
      const auction = state.book.get(auctionId);
      if (auction === undefined) continue;
      unknownFacts += this.drainAuction(auction, events, numbered);
    }
    numbered.sort((a, b) => a.sequence - b.sequence);
    return { updates: numbered.map((item) => item.update), unknownFacts };
  }

  /** Adds the updates of one auction's events to `out`; returns how many own events it left out. */
  private drainAuction(
    auction: Auction,
    events: PendingEvent[],
    out: { sequence: number; update: AuctionUpdate }[],
  ): number {
    const final = factsOf(auction);
    // Most auctions of a batch are other owners': only their facts at its end are kept.
    if (!events.some((pending) => pending.own)) {
      this.remember(auction, final);
      return 0;
    }
    const firstVersion = auction.version - events.length + 1;
    const folded = this.fold(auction.id, firstVersion - 1, events);
    // The fold must arrive at the state's facts; if it does not (it never should), trust the state.
    const exact = folded !== undefined && sameFacts(folded[folded.length - 1], final);
    const lastEntry = events[events.length - 1]!.entryIndex;
    let unknown = 0;
    events.forEach((pending, position) => {
      if (!pending.own) return;
      const facts = exact ? folded[position]! : pending.entryIndex === lastEntry ? final : undefined;
      if (facts === undefined) return void unknown++;
      out.push({ sequence: pending.sequence, update: this.update(pending, firstVersion + position, facts) });
    });
    this.remember(auction, final);
    return unknown;
  }

  /** Facts after each event, each as of the end of its entry; undefined if the start is unknown. */
  private fold(auctionId: string, versionBefore: number, events: PendingEvent[]): AuctionFacts[] | undefined {
    const known = this.known.get(auctionId);
    let facts: AuctionFacts | null | undefined =
      versionBefore === 0 ? null : known?.version === versionBefore ? known.facts : undefined;
    const after: AuctionFacts[] = [];
    for (const pending of events) {
      facts = facts === undefined ? undefined : nextFacts(facts, pending.event);
      if (facts === undefined) return undefined;
      after.push(facts);
    }
    // Events of one entry happen at once: each carries the facts after the whole entry.
    for (let position = after.length - 2; position >= 0; position--) {
      if (events[position]!.entryIndex === events[position + 1]!.entryIndex)
        after[position] = after[position + 1]!;
    }
    return after;
  }

  private remember(auction: Auction, facts: AuctionFacts): void {
    this.known.delete(auction.id);
    if (auction.phase !== "active") return;
    this.known.set(auction.id, { version: auction.version, facts });
    if (this.known.size > this.factsMax) this.known.delete(this.known.keys().next().value!);
  }

  private update(pending: PendingEvent, version: number, facts: AuctionFacts): AuctionUpdate {
    return {
      clusterName: this.clusterName,
      nodeId: this.selfId,
      auctionId: pending.auctionId,
      version,
      event: pending.event.type,
      timestampMs: pending.timestampMs,
      ...facts,
    };
  }
}

/** Events by auction, in the order each auction first appears; each list in apply order. */
function groupByAuction(pending: readonly PendingEvent[]): Map<string, PendingEvent[]> {
  const groups = new Map<string, PendingEvent[]>();
  for (const event of pending) {
    const group = groups.get(event.auctionId);
    if (group === undefined) groups.set(event.auctionId, [event]);
    else group.push(event);
  }
  return groups;
}

function sameFacts(a: AuctionFacts | undefined, b: AuctionFacts): boolean {
  if (a === undefined) return false;
  return (
    a.phase === b.phase &&
    a.price === b.price &&
    a.highBidder === b.highBidder &&
    a.closesAt === b.closesAt &&
    a.bidCount === b.bidCount &&
    JSON.stringify(a.outcome) === JSON.stringify(b.outcome)
  );
}
