// The auction engine: commands in, events out, state as a fold over the events. Every replica
// applies the same stamped commands in the same order and must reach the same state, so nothing
// here reads a clock, draws a random number or touches I/O; time is each command's `timestampMs`.
import { assert, unreachable } from "../assert.js";
import { incrementAt, incrementRuleProblem } from "./increment.js";
import { AMOUNT_MAX, auctionCommandSchema } from "./schemas.js";
import type {
  AuctionCommand,
  CancelAuctionCommand,
  CloseAuctionCommand,
  CreateAuctionCommand,
  PlaceBidCommand,
} from "./schemas.js";
import type {
  AcceptedBid,
  Auction,
  AuctionEvent,
  AuctionId,
  AuctionStatus,
  BidRecord,
  EngineLimits,
  Outcome,
  Rejection,
  RejectionReason,
} from "./types.js";
import { defaultEngineLimits } from "./types.js";

function reject<Reason extends RejectionReason>(reason: Reason, message: string): Rejection<Reason> {
  return { ok: false, reason, message };
}

/** The idempotency key of a bid within its auction. Names hold no control characters, so "\n" separates. */
export function bidKey(bidder: string, bidId: string): string {
  return `${bidder}\n${bidId}`;
}

/**
 * The accepted bid `bidder` placed with `bidId`, if any. An auction's accepted bids are keyed by
 * the bid's id alone, a string every bid carries anyway (a key of its own for each of hundreds of
 * thousands of bids was memory for the GC to copy, and a string to build and hash on every lookup);
 * only an id that another bidder took first is keyed by bidKey, which no id can equal (ids hold no
 * "\n"). Nothing is ever removed, so an id without an entry has none under bidKey either.
 */
export function acceptedBid(
  accepted: ReadonlyMap<string, AcceptedBid>,
  bidder: string,
  bidId: string,
): AcceptedBid | undefined {
  const byId = accepted.get(bidId);
  if (byId === undefined || byId.bidder === bidder) return byId;
  return accepted.get(bidKey(bidder, bidId));
}

/** Adds a bid not accepted before to an auction's accepted bids (see acceptedBid), last in order. */
export function addAccepted(accepted: Map<string, AcceptedBid>, bid: AcceptedBid): void {
  const byId = accepted.get(bid.bidId);
  if (byId === undefined) return void accepted.set(bid.bidId, bid);
  const key = bidKey(bid.bidder, bid.bidId);
  assert(byId.bidder !== bid.bidder && !accepted.has(key), "a bid is accepted once");
  accepted.set(key, bid);
}

function isValidAmount(amount: number): boolean {
  return Number.isSafeInteger(amount) && amount > 0 && amount <= AMOUNT_MAX;
}

/** The lowest amount the next bid on `auction` may offer. */
export function minimumBid(auction: Auction): number {
  if (auction.price === null) return auction.startingPrice;
  return auction.price + incrementAt(auction.increment, auction.price);
}

/** The status a client sees at `nowMs`. */
export function auctionStatus(auction: Auction, nowMs: number): AuctionStatus {
  if (auction.phase === "cancelled") return "cancelled";
  if (auction.phase === "closed") return "closed";
  if (nowMs < auction.opensAt) return "scheduled";
  if (nowMs < auction.closesAt) return "open";
  return "closing";
}

/** Whether the reserve is met at the current price (true when there is no reserve and a bid). */
export function reserveMet(auction: Auction): boolean {
  if (auction.price === null) return false;
  return auction.reservePrice === null || auction.price >= auction.reservePrice;
}

/**
 * A set of auctions and the rules that change them. `decide` never mutates; `apply` folds one
 * event into the state; `execute` does both. Commands must arrive with non-decreasing stamps.
 */
export class AuctionBook {
  readonly auctions = new Map<AuctionId, Auction>();
  // Invariant: no applied event carries a stamp below this, and no executed command either.
  lastTimestampMs = 0;

  constructor(readonly limits: EngineLimits = defaultEngineLimits) {}

  get(id: AuctionId): Auction | undefined {
    return this.auctions.get(id);
  }

  /** Checks an untrusted value's shape and runs it; shape errors become `invalid-command`/`invalid-amount`. */
  executeUnknown(input: unknown): Outcome {
    const parsed = parseCommand(input);
    if (!parsed.ok) return parsed;
    return this.execute(parsed.command);
  }

  /** Decides `command` and applies the events it produced. */
  execute(command: AuctionCommand): Outcome {
    assert(command.timestampMs >= this.lastTimestampMs, "command stamps never decrease");
    const outcome = this.decide(command);
    if (outcome.ok) for (const event of outcome.events) this.apply(event);
    this.lastTimestampMs = command.timestampMs;
    return outcome;
  }

  /** The events `command` would produce now, or why it is rejected. Changes nothing. */
  decide(command: AuctionCommand): Outcome {
    switch (command.type) {
      case "create-auction":
        return this.decideCreate(command);
      case "place-bid":
        return this.decideBid(command);
      case "cancel-auction":
        return this.decideCancel(command);
      case "close-auction":
        return this.decideClose(command);
      default:
        return unreachable(command, "unknown command type");
    }
  }

  private decideCreate(command: CreateAuctionCommand): Outcome {
    if (this.auctions.has(command.auctionId)) {
      return reject("auction-exists", `auction ${command.auctionId} already exists`);
    }
    if (this.auctions.size >= this.limits.auctionsMax) {
      return reject("too-many-auctions", `the book holds its maximum of ${this.limits.auctionsMax} auctions`);
    }
    const problem = createProblem(command);
    if (problem !== null) return reject("invalid-auction", problem);
    const { type: _type, timestampMs, auctionId, ...fields } = command;
    const auction = { ...fields, id: auctionId, createdAt: timestampMs };
    return { ok: true, events: [{ type: "auction-created", timestampMs, auction }] };
  }

  private decideBid(command: PlaceBidCommand): Outcome {
    const auction = this.auctions.get(command.auctionId);
    if (auction === undefined) return reject("unknown-auction", `no auction ${command.auctionId}`);
    // Idempotency comes before every other rule: a repeated accepted bid gets its original outcome.
    const previous = acceptedBid(auction.accepted, command.bidder, command.bidId);
    if (previous !== undefined) {
      if (previous.amount === command.amount && previous.max === command.max) {
        return { ok: true, events: [], bid: previous, duplicate: true };
      }
      return reject(
        "bid-id-reused",
        `bid ${command.bidId} was already accepted with amount ${previous.amount} and max ${previous.max ?? "none"}`,
      );
    }
    const invalid = bidAmountProblem(command);
    if (invalid !== null) return reject("invalid-amount", invalid);
    const timing = bidTimingRejection(auction, command.timestampMs);
    if (timing !== null) return timing;
    if (command.bidder === auction.seller) {
      return reject("own-auction", "a seller cannot bid on their own auction");
    }
    if (auction.accepted.size >= this.limits.bidsPerAuctionMax) {
      return reject(
        "too-many-bids",
        `auction ${auction.id} holds its maximum of ${this.limits.bidsPerAuctionMax} bids`,
      );
    }
    const minimum = minimumBid(auction);
    if (command.amount < minimum) {
      return reject("below-minimum", `the bid must be at least ${minimum}, it was ${command.amount}`);
    }
    return this.acceptBid(auction, command);
  }

  private acceptBid(auction: Auction, command: PlaceBidCommand): Outcome {
    const resolved = resolveBid(auction, command);
    const accepted: AuctionEvent = {
      type: "bid-accepted",
      timestampMs: command.timestampMs,
      auctionId: auction.id,
      bidId: command.bidId,
      bidder: command.bidder,
      amount: command.amount,
      max: command.max,
      ...resolved,
      previousLeader: auction.leader,
    };
    const events: AuctionEvent[] = [accepted];
    if (resolved.boughtNow) {
      events.push({
        type: "auction-closed",
        timestampMs: command.timestampMs,
        auctionId: auction.id,
        outcome: { result: "sold", winner: command.bidder, price: resolved.price, reason: "buy-now" },
      });
    } else {
      const closesAt = extendedClosingTime(auction, command.timestampMs);
      if (closesAt > auction.closesAt) {
        events.push({
          type: "auction-extended",
          timestampMs: command.timestampMs,
          auctionId: auction.id,
          closesAt,
        });
      }
    }
    return { ok: true, events, bid: acceptedBidOf(accepted) };
  }

  private decideCancel(command: CancelAuctionCommand): Outcome {
    const auction = this.auctions.get(command.auctionId);
    if (auction === undefined) return reject("unknown-auction", `no auction ${command.auctionId}`);
    if (auction.phase === "cancelled") return reject("auction-cancelled", "the auction is already cancelled");
    if (auction.phase === "closed" || command.timestampMs >= auction.closesAt) {
      return reject("auction-closed", "the auction has closed");
    }
    if (command.by !== auction.seller) return reject("not-seller", "only the seller can cancel an auction");
    if (auction.price !== null)
      return reject("has-bids", "an auction cannot be cancelled after its first bid");
    return {
      ok: true,
      events: [
        {
          type: "auction-cancelled",
          timestampMs: command.timestampMs,
          auctionId: auction.id,
          by: command.by,
        },
      ],
    };
  }

  private decideClose(command: CloseAuctionCommand): Outcome {
    const auction = this.auctions.get(command.auctionId);
    if (auction === undefined) return reject("unknown-auction", `no auction ${command.auctionId}`);
    if (auction.phase === "cancelled") return reject("auction-cancelled", "the auction was cancelled");
    if (auction.phase === "closed") return reject("auction-closed", "the auction is already closed");
    if (command.timestampMs < auction.closesAt) {
      return reject("close-too-early", `the auction closes at ${auction.closesAt}, not before`);
    }
    const outcome =
      auction.leader !== null && reserveMet(auction)
        ? {
            result: "sold" as const,
            winner: auction.leader,
            price: auction.price!,
            reason: "deadline" as const,
          }
        : { result: "unsold" as const, reason: "deadline" as const, reserveMet: false };
    return {
      ok: true,
      events: [{ type: "auction-closed", timestampMs: command.timestampMs, auctionId: auction.id, outcome }],
    };
  }

  /** Folds one event into the state. Events are facts: applying one re-checks no rule. */
  apply(event: AuctionEvent): void {
    assert(event.timestampMs >= this.lastTimestampMs, "event stamps never decrease");
    this.lastTimestampMs = event.timestampMs;
    if (event.type === "auction-created") {
      assert(!this.auctions.has(event.auction.id), "an auction is created once");
      this.auctions.set(event.auction.id, newAuction(event.auction));
      return;
    }
    const auction = this.auctions.get(event.auctionId);
    assert(auction !== undefined, "events name existing auctions");
    assert(auction.phase === "active", "an ended auction takes no events");
    auction.version += 1;
    switch (event.type) {
      case "bid-accepted":
        return applyBid(auction, event);
      case "auction-extended":
        assert(event.closesAt > auction.closesAt, "an extension moves the closing time later");
        auction.closesAt = event.closesAt;
        return;
      case "auction-closed":
        auction.phase = "closed";
        auction.outcome = event.outcome;
        auction.endedAt = event.timestampMs;
        return;
      case "auction-cancelled":
        auction.phase = "cancelled";
        auction.endedAt = event.timestampMs;
        return;
      default:
        return unreachable(event, "unknown event type");
    }
  }
}

/** Parses an untrusted command; amount errors get their own reason so clients learn what to fix. */
export function parseCommand(input: unknown): { ok: true; command: AuctionCommand } | Rejection {
  const parsed = auctionCommandSchema.safeParse(input);
  if (parsed.success) return { ok: true, command: parsed.data };
  const issue = parsed.error.issues[0];
  const path = issue?.path.join(".") ?? "";
  const message = `${path === "" ? "command" : path}: ${issue?.message ?? "invalid"}`;
  const amountField = path === "amount" || path === "max";
  return reject(amountField ? "invalid-amount" : "invalid-command", message);
}

function createProblem(command: CreateAuctionCommand): string | null {
  if (command.closesAt <= command.opensAt) return "closesAt must be after opensAt";
  if (command.closesAt <= command.timestampMs) return "closesAt must be in the future";
  if (command.reservePrice !== null && command.reservePrice < command.startingPrice) {
    return "reservePrice must be at least startingPrice";
  }
  if (command.buyNowPrice !== null) {
    if (command.buyNowPrice < command.startingPrice) return "buyNowPrice must be at least startingPrice";
    if (command.reservePrice !== null && command.buyNowPrice < command.reservePrice) {
      return "buyNowPrice must be at least reservePrice";
    }
  }
  return incrementRuleProblem(command.increment);
}

function bidAmountProblem(command: PlaceBidCommand): string | null {
  if (!isValidAmount(command.amount)) {
    return `amount must be a whole positive number of minor units, at most ${AMOUNT_MAX}`;
  }
  if (command.max === null) return null;
  if (!isValidAmount(command.max))
    return `max must be a whole positive number of minor units, at most ${AMOUNT_MAX}`;
  if (command.max < command.amount) return "max must be at least amount";
  return null;
}

function bidTimingRejection(auction: Auction, timestampMs: number): Rejection | null {
  if (auction.phase === "cancelled") return reject("auction-cancelled", "the auction was cancelled");
  // A bid stamped at or after the closing time is late, whether or not the close was applied.
  if (auction.phase === "closed" || timestampMs >= auction.closesAt) {
    return reject("auction-closed", "the auction has closed");
  }
  if (timestampMs < auction.opensAt) return reject("not-open", `the auction opens at ${auction.opensAt}`);
  return null;
}

type Resolution = Pick<
  Extract<AuctionEvent, { type: "bid-accepted" }>,
  "lines" | "price" | "leader" | "leaderMax" | "leaderBidId" | "boughtNow"
>;

/**
 * Works out who leads and at what price after a valid bid. The bid's maximum (its amount when it
 * has none) competes with the leader's: the higher maximum leads, an equal one loses to the earlier
 * bid, and the price is the lowest that beats the runner-up's maximum by one increment, never above
 * the leader's maximum and never below the amount just bid (second-price, as the large sites do).
 */
function resolveBid(auction: Auction, command: PlaceBidCommand): Resolution {
  const { bidder, bidId, amount, timestampMs } = command;
  const max = command.max ?? amount;
  const lines: Resolution["lines"] = [{ bidId, bidder, amount, timestampMs, automatic: false }];
  const line = (who: string, whoBidId: string, at: number) =>
    lines.push({ bidId: whoBidId, bidder: who, amount: at, timestampMs, automatic: true });

  // Buy-now: a bid willing to pay the buy-now price wins at once, at that price or its amount if higher.
  if (auction.buyNowPrice !== null && max >= auction.buyNowPrice) {
    const price = Math.max(amount, auction.buyNowPrice);
    if (price > amount) line(bidder, bidId, price);
    return {
      lines,
      price,
      leader: bidder,
      leaderMax: Math.max(max, price),
      leaderBidId: bidId,
      boughtNow: true,
    };
  }

  let leader = bidder;
  let leaderMax = max;
  let leaderBidId = bidId;
  let price = amount;
  const previous = auction.leader;
  if (previous === bidder) {
    // The leader raises their own bid: the price becomes the amount, the maximum the larger one.
    if (auction.leaderMax > max) {
      leaderMax = auction.leaderMax;
      leaderBidId = auction.leaderBidId!;
    }
  } else if (previous !== null && max > auction.leaderMax) {
    // The bidder takes the lead; the previous leader's proxy bid up to its maximum first.
    const runnerUp = auction.leaderMax;
    if (runnerUp > amount) line(previous, auction.leaderBidId!, runnerUp);
    price = Math.max(amount, Math.min(max, runnerUp + incrementAt(auction.increment, runnerUp)));
    if (price > amount) line(bidder, bidId, price);
  } else if (previous !== null) {
    // The leader's proxy answers: one increment above the bidder's maximum, capped at its own; ties go to the earlier bid.
    if (max > amount) line(bidder, bidId, max);
    leader = previous;
    leaderMax = auction.leaderMax;
    leaderBidId = auction.leaderBidId!;
    price = max === leaderMax ? max : Math.min(leaderMax, max + incrementAt(auction.increment, max));
    line(leader, leaderBidId, price);
  }
  // Reserve lift: a leader whose maximum meets the reserve pays at least the reserve.
  if (auction.reservePrice !== null && price < auction.reservePrice && leaderMax >= auction.reservePrice) {
    price = auction.reservePrice;
    line(leader, leaderBidId, price);
  }
  return { lines, price, leader, leaderMax, leaderBidId, boughtNow: false };
}

/** The closing time after a bid at `timestampMs`: soft close extends it, up to its cap. */
function extendedClosingTime(auction: Auction, timestampMs: number): number {
  const softClose = auction.softClose;
  if (softClose === null || timestampMs < auction.closesAt - softClose.windowMs) return auction.closesAt;
  const cap = auction.originalClosesAt + softClose.maxExtensionMs;
  return Math.min(auction.closesAt + softClose.extensionMs, cap);
}

function acceptedBidOf(event: Extract<AuctionEvent, { type: "bid-accepted" }>): AcceptedBid {
  return {
    auctionId: event.auctionId,
    bidId: event.bidId,
    bidder: event.bidder,
    amount: event.amount,
    max: event.max,
    timestampMs: event.timestampMs,
    priceAfter: event.price,
    leaderAfter: event.leader,
    boughtNow: event.boughtNow,
  };
}

function newAuction(fields: Extract<AuctionEvent, { type: "auction-created" }>["auction"]): Auction {
  return {
    ...fields,
    originalClosesAt: fields.closesAt,
    phase: "active",
    price: null,
    leader: null,
    leaderMax: 0,
    leaderBidId: null,
    bids: [],
    accepted: new Map(),
    outcome: null,
    endedAt: null,
    version: 1,
  };
}

function applyBid(auction: Auction, event: Extract<AuctionEvent, { type: "bid-accepted" }>): void {
  assert(auction.price === null || event.price > auction.price, "an accepted bid raises the price");
  assert(event.leaderMax >= event.price, "the leader's maximum covers the price");
  for (const line of event.lines) {
    const record: BidRecord = { seq: auction.bids.length, ...line };
    auction.bids.push(record);
  }
  auction.price = event.price;
  auction.leader = event.leader;
  auction.leaderMax = event.leaderMax;
  auction.leaderBidId = event.leaderBidId;
  addAccepted(auction.accepted, acceptedBidOf(event));
}
