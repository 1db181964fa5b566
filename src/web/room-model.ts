// The auction room's state: an HTTP snapshot of the auction with its bid history, and the live
// events after it. Pure (no DOM, no clock), so tests run it under Node. Every auction event carries
// the auction's version, which grows by one with each change: an event at or below the version
// the room holds is already in it (never shown twice), and one that skips a version means the room
// missed something and must fetch a fresh snapshot (never silently missing a bid).
import type { Auction, BidLine, StreamEvent } from "./types.js";

export interface RoomState {
  /** The latest known header (price, high bidder, closing time, status); null until the first snapshot. */
  auction: Auction | null;
  /** The whole bid history, oldest first. */
  bids: BidLine[];
  /** Events that arrived before the first snapshot, applied once it is there. */
  pending: StreamEvent[];
  /** True when the room knows it lacks something (a version gap, an unknown next minimum): refetch. */
  stale: boolean;
  /** The highest auction version any event showed, applied or not. */
  seenVersion: number;
  /**
   * False while `auction.minimumBid` is a guess: a bid event does not carry the next minimum (the
   * increment rule is not public), so the room guesses the same step until the next snapshot.
   */
  minimumKnown: boolean;
}

export const emptyRoom: RoomState = {
  auction: null,
  bids: [],
  pending: [],
  stale: false,
  seenVersion: 0,
  minimumKnown: false,
};

/** Events that change an auction's version (an `outbid` notice shares its bid's version; `reassigned` has none). */
type VersionedEvent = Extract<StreamEvent, { type: "bid" | "extended" | "closed" | "cancelled" | "created" }>;

function versioned(event: StreamEvent): event is VersionedEvent {
  return (
    event.type === "bid" ||
    event.type === "extended" ||
    event.type === "closed" ||
    event.type === "cancelled" ||
    event.type === "created"
  );
}

/**
 * Takes a fresh snapshot, unless the room already holds a newer state (a snapshot served by a node
 * that had not yet applied what the stream showed). Events held back are applied on top of it.
 */
export function withSnapshot(room: RoomState, auction: Auction, bids: BidLine[]): RoomState {
  if (room.auction !== null && room.auction.version > auction.version) {
    return { ...room, stale: room.seenVersion > room.auction.version || !room.minimumKnown };
  }
  const seenVersion = Math.max(room.seenVersion, auction.version);
  let next: RoomState = { auction, bids, pending: [], stale: false, seenVersion, minimumKnown: true };
  for (const event of room.pending) next = withEvent(next, event);
  // An event newer than this snapshot was seen but could not be applied: fetch again.
  return { ...next, stale: next.stale || next.seenVersion > next.auction!.version };
}

/** Folds one live event for this room's auction into the room. */
export function withEvent(room: RoomState, event: StreamEvent): RoomState {
  if (!("auctionId" in event)) return room;
  const auction = room.auction;
  if (auction === null) return { ...room, pending: [...room.pending, event].slice(-1000) };
  if (event.auctionId !== auction.id) return room;
  if (event.type === "reassigned") return { ...room, auction: { ...auction, owner: event.owner } };
  if (!versioned(event) || event.version === undefined) return room;
  if (event.version <= auction.version) return room;
  if (event.version > auction.version + 1) {
    return { ...room, stale: true, seenVersion: Math.max(room.seenVersion, event.version) };
  }
  return { ...applied(room, auction, event), seenVersion: Math.max(room.seenVersion, event.version) };
}

function applied(room: RoomState, auction: Auction, event: VersionedEvent): RoomState {
  switch (event.type) {
    case "bid":
      return withBid(room, auction, event);
    case "extended":
      return { ...room, auction: { ...auction, closesAt: event.closesAt, version: event.version } };
    case "closed":
      return {
        ...room,
        auction: {
          ...auction,
          status: "closed",
          outcome: event.outcome,
          winner: event.outcome.result === "sold" ? event.outcome.winner : undefined,
          version: event.version,
        },
      };
    case "cancelled":
      return { ...room, auction: { ...auction, status: "cancelled", version: event.version } };
    case "created":
      return { ...room, auction: { ...auction, version: event.version ?? auction.version } };
  }
}

function withBid(room: RoomState, auction: Auction, event: Extract<StreamEvent, { type: "bid" }>): RoomState {
  const lines: BidLine[] = (
    event.lines ?? [
      {
        bidId: event.bidId ?? `v${event.version}`,
        bidder: event.bidder,
        amount: event.amount,
        automatic: event.automatic ?? false,
      },
    ]
  ).map((line) => ({ ...line, at: event.at }));
  const eventMinimum = (event as { minimumBid?: number }).minimumBid;
  // The view does not carry the increment rule; until the next snapshot, assume the same step.
  const step = auction.price === null ? null : auction.minimumBid - auction.price;
  const minimumBid = eventMinimum ?? (step !== null && step > 0 ? event.price + step : event.price + 1);
  return {
    ...room,
    bids: [...room.bids, ...lines],
    stale: room.stale || eventMinimum === undefined,
    minimumKnown: eventMinimum !== undefined,
    auction: {
      ...auction,
      price: event.price,
      highBidder: event.highBidder,
      closesAt: event.closesAt,
      minimumBid,
      bidCount: auction.bidCount + lines.length,
      version: event.version,
    },
  };
}

/** What the room shows as its status at `nowMs`: an open auction past its closing time is "closing". */
export function displayStatus(auction: Auction, nowMs: number): Auction["status"] {
  if (auction.status === "open" && nowMs >= auction.closesAt) return "closing";
  if (auction.status === "scheduled" && nowMs >= auction.opensAt) return "open";
  return auction.status;
}

/** The winner, once the auction is closed and sold. */
export function winnerOf(auction: Auction): string | null {
  if (auction.outcome?.result === "sold") return auction.outcome.winner;
  return auction.winner ?? null;
}
