// The auction engine's state, events and outcomes. State is only ever changed by applying events,
// so a fold of the events over an empty book reproduces it exactly.
import type { IncrementRule, SoftClose } from "./schemas.js";

export type AuctionId = string;
export type UserName = string;

/** One line of an auction's bid history. Amounts never decrease along the history. */
export interface BidRecord {
  /** Position in the history, from 0. */
  seq: number;
  /** The client's id of the bid that placed this line, or that set the maximum an automatic line bid up to. */
  bidId: string;
  bidder: UserName;
  amount: number;
  timestampMs: number;
  /** True when the engine bid on the bidder's behalf (proxy bidding, reserve lift, buy-now). */
  automatic: boolean;
}

/** What an accepted bid command achieved; returned again, unchanged, when it is sent again. */
export interface AcceptedBid {
  auctionId: AuctionId;
  bidId: string;
  bidder: UserName;
  amount: number;
  max: number | null;
  timestampMs: number;
  /** The visible price right after this bid. */
  priceAfter: number;
  /** Who led right after this bid (the bidder, or a proxy that outbid them). */
  leaderAfter: UserName;
  /** True if this bid bought the item at once (buy-now). */
  boughtNow: boolean;
}

export type ClosedOutcome =
  | { result: "sold"; winner: UserName; price: number; reason: "deadline" | "buy-now" }
  | { result: "unsold"; reason: "deadline"; reserveMet: boolean };

/** Phase as stored; `auctionStatus` derives the time-dependent status from it. */
export type AuctionPhase = "active" | "closed" | "cancelled";

/**
 * The status a client sees at a given time. `closing`: the (possibly extended) closing time has
 * passed and the auction takes no more bids, but its close has not been applied yet.
 */
export type AuctionStatus = "scheduled" | "open" | "closing" | "closed" | "cancelled";

export interface Auction {
  id: AuctionId;
  seller: UserName;
  title: string;
  description: string;
  currency: string;
  startingPrice: number;
  reservePrice: number | null;
  buyNowPrice: number | null;
  increment: IncrementRule;
  softClose: SoftClose | null;
  createdAt: number;
  opensAt: number;
  originalClosesAt: number;
  // Invariant: originalClosesAt <= closesAt <= originalClosesAt + softClose.maxExtensionMs.
  closesAt: number;
  phase: AuctionPhase;
  // Invariant: price is null exactly when there has been no accepted bid; it never decreases.
  price: number | null;
  leader: UserName | null;
  // Invariant: leaderMax >= price whenever leader is set; hidden from bidders.
  leaderMax: number;
  leaderBidId: string | null;
  bids: BidRecord[];
  /** Accepted bids by idempotency key (bidder, bidId). Rejected bids leave no trace. */
  accepted: Map<string, AcceptedBid>;
  outcome: ClosedOutcome | null;
  endedAt: number | null;
  /** Number of events applied to this auction; grows by one with each. */
  version: number;
}

export type AuctionEvent =
  | {
      type: "auction-created";
      timestampMs: number;
      auction: Omit<
        Auction,
        | "phase"
        | "price"
        | "leader"
        | "leaderMax"
        | "leaderBidId"
        | "bids"
        | "accepted"
        | "outcome"
        | "endedAt"
        | "version"
        | "originalClosesAt"
      >;
    }
  | {
      type: "bid-accepted";
      timestampMs: number;
      auctionId: AuctionId;
      bidId: string;
      bidder: UserName;
      amount: number;
      max: number | null;
      /** History lines this bid added: the bid itself, then any automatic ones. */
      lines: Omit<BidRecord, "seq">[];
      price: number;
      leader: UserName;
      leaderMax: number;
      leaderBidId: string;
      boughtNow: boolean;
      /** Who led before this bid (null for the first bid): told they were outbid when the lead changes. */
      previousLeader: UserName | null;
    }
  | { type: "auction-extended"; timestampMs: number; auctionId: AuctionId; closesAt: number }
  | { type: "auction-closed"; timestampMs: number; auctionId: AuctionId; outcome: ClosedOutcome }
  | { type: "auction-cancelled"; timestampMs: number; auctionId: AuctionId; by: UserName };

export type BidRejection =
  | "invalid-command"
  | "unknown-auction"
  | "bid-id-reused"
  | "invalid-amount"
  | "auction-cancelled"
  | "auction-closed"
  | "not-open"
  | "own-auction"
  | "too-many-bids"
  | "below-minimum";

export type CreateRejection = "invalid-command" | "auction-exists" | "invalid-auction" | "too-many-auctions";
export type CancelRejection =
  "invalid-command" | "unknown-auction" | "not-seller" | "has-bids" | "auction-closed" | "auction-cancelled";
export type CloseRejection =
  "invalid-command" | "unknown-auction" | "close-too-early" | "auction-closed" | "auction-cancelled";

export type RejectionReason = BidRejection | CreateRejection | CancelRejection | CloseRejection;

export interface Rejection<Reason extends RejectionReason = RejectionReason> {
  ok: false;
  reason: Reason;
  message: string;
}

/** The outcome of one command: the events it produced, or why it was rejected (no events). */
export type Outcome =
  | {
      ok: true;
      events: AuctionEvent[];
      /** For place-bid: the accepted bid (the original one, when `duplicate`). */
      bid?: AcceptedBid;
      /** True when the bid had been accepted before and nothing changed. */
      duplicate?: boolean;
    }
  | Rejection;

/** Engine bounds: everything that grows has a maximum. */
export interface EngineLimits {
  /** Accepted bid commands per auction; further bids get `too-many-bids`. */
  bidsPerAuctionMax: number;
  /** Auctions in one book; further creates get `too-many-auctions`. */
  auctionsMax: number;
}

export const defaultEngineLimits: EngineLimits = Object.freeze({
  bidsPerAuctionMax: 100_000,
  auctionsMax: 1_000_000,
});
