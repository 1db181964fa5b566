// Builders for auction commands and a recording harness around AuctionBook, shared by the engine's
// tests. Defaults describe one ordinary auction; each test overrides only what it is about.
import assert from "node:assert/strict";
import { AuctionBook } from "../../../src/core/auction/engine.js";
import type {
  AuctionCommand,
  CancelAuctionCommand,
  CloseAuctionCommand,
  CreateAuctionCommand,
  PlaceBidCommand,
} from "../../../src/core/auction/schemas.js";
import type {
  AcceptedBid,
  Auction,
  AuctionEvent,
  EngineLimits,
  Outcome,
  RejectionReason,
} from "../../../src/core/auction/types.js";

export const seller = "sam";
/** The default auction: created at 0, open from `opensAt` until `closesAt`. */
export const opensAt = 1_000;
export const closesAt = 10_000;
/** A moment while the default auction is open. */
export const during = 2_000;

/** A create command for auction "a1" by `seller`: starting price 100, increment 10, no reserve. */
export function create(overrides: Partial<CreateAuctionCommand> = {}): CreateAuctionCommand {
  return {
    type: "create-auction",
    timestampMs: 0,
    auctionId: "a1",
    seller,
    title: "Brass lamp",
    description: "A brass desk lamp, working.",
    currency: "EUR",
    startingPrice: 100,
    reservePrice: null,
    buyNowPrice: null,
    increment: { type: "fixed", amount: 10 },
    opensAt,
    closesAt,
    softClose: null,
    ...overrides,
  };
}

export interface BidOptions {
  max?: number | null;
  bidId?: string;
  at?: number;
  auctionId?: string;
}

/** A bid on "a1" at `during`; its id defaults to one derived from bidder, amount and max. */
export function bid(bidder: string, amount: number, options: BidOptions = {}): PlaceBidCommand {
  const max = options.max ?? null;
  return {
    type: "place-bid",
    timestampMs: options.at ?? during,
    auctionId: options.auctionId ?? "a1",
    bidder,
    bidId: options.bidId ?? `${bidder}-${amount}${max === null ? "" : `-${max}`}`,
    amount,
    max,
  };
}

export function cancel(by: string, at = during, auctionId = "a1"): CancelAuctionCommand {
  return { type: "cancel-auction", timestampMs: at, auctionId, by };
}

export function close(at = closesAt, auctionId = "a1"): CloseAuctionCommand {
  return { type: "close-auction", timestampMs: at, auctionId };
}

/** An AuctionBook that records every event it emits, so tests can replay them. */
export class Harness {
  readonly book: AuctionBook;
  readonly events: AuctionEvent[] = [];

  constructor(limits?: EngineLimits) {
    this.book = new AuctionBook(limits);
  }

  /** A harness holding the default auction, with `overrides` applied to its create command. */
  static withAuction(overrides: Partial<CreateAuctionCommand> = {}, limits?: EngineLimits): Harness {
    const harness = new Harness(limits);
    accepted(harness.run(create(overrides)));
    return harness;
  }

  run(command: AuctionCommand): Outcome {
    return this.record(this.book.execute(command));
  }

  runUnknown(input: unknown): Outcome {
    return this.record(this.book.executeUnknown(input));
  }

  auction(id = "a1"): Auction {
    const auction = this.book.get(id);
    assert.ok(auction, `auction ${id} exists`);
    return auction;
  }

  /** A deep copy of every auction, to compare before and after a command. */
  snapshot(): Map<string, Auction> {
    return structuredClone(this.book.auctions);
  }

  private record(outcome: Outcome): Outcome {
    if (outcome.ok) this.events.push(...outcome.events);
    return outcome;
  }
}

/** A fresh book with `events` folded into it. */
export function replay(events: readonly AuctionEvent[]): AuctionBook {
  const book = new AuctionBook();
  for (const event of events) book.apply(event);
  return book;
}

/** Asserts that `outcome` accepted a command and returns its events. */
export function accepted(outcome: Outcome): AuctionEvent[] {
  assert.ok(outcome.ok, outcome.ok ? "" : `expected acceptance, got ${outcome.reason}: ${outcome.message}`);
  return outcome.events;
}

/** Asserts that `outcome` accepted a new bid (not a duplicate) and returns it. */
export function acceptedBid(outcome: Outcome): AcceptedBid {
  accepted(outcome);
  assert.ok(outcome.ok && outcome.bid !== undefined, "the outcome carries the bid");
  assert.notEqual(outcome.duplicate, true, "a new bid, not a duplicate");
  return outcome.bid;
}

/** Asserts that `outcome` is a rejection for `reason` with a message. */
export function rejected(outcome: Outcome, reason: RejectionReason): void {
  assert.equal(outcome.ok, false, `expected ${reason}, but the command was accepted`);
  assert.ok(!outcome.ok);
  assert.equal(outcome.reason, reason, outcome.message);
  assert.ok(outcome.message.length > 0, "a rejection explains itself");
}

/** The history as compact tuples: [bidder, amount, automatic]. */
export function history(auction: Auction): [string, number, boolean][] {
  return auction.bids.map((line) => [line.bidder, line.amount, line.automatic]);
}
