// The record of a chaos run: every client operation with its invocation, completion and outcome,
// and the final state read from every node. Plain data, written by the runner and read by the
// checker; nothing here does I/O.

/**
 * How an operation ended. `ok`: a 2xx answer. `failed`: a definite answer that nothing happened
 * (an engine rejection, 4xx, 503, 429), with its reason code. `unknown`: no definite answer (a
 * timeout, a 504, a lost connection): it may or may not have taken effect.
 */
export type OperationOutcome =
  { kind: "ok" } | { kind: "failed"; reason: string; status: number } | { kind: "unknown"; reason: string };

interface OperationBase {
  /** Unique within the history, in order of invocation. */
  id: number;
  /** The client (a logical thread) that ran it; a client runs one operation at a time. */
  client: number;
  /** The node the request was sent to. */
  node: number;
  /** Wall-clock ms (Date.now() of the runner, the same clock as the nodes' on one machine). */
  invokedAt: number;
  completedAt: number;
  outcome: OperationOutcome;
}

/** The terms an auction was created with (what the checker needs to replay it through the engine). */
export interface AuctionTerms {
  startingPrice: number;
  minIncrement: number;
  reservePrice: number | null;
  buyNowPrice: number | null;
  softClose: { windowMs: number; extensionMs: number; maxExtensionMs: number } | null;
}

export interface RegisterOperation extends OperationBase {
  type: "register";
  name: string;
}

export interface CreateOperation extends OperationBase {
  type: "create";
  seller: string;
  /** Unique per create operation: the key that finds an auction whose create had no answer. */
  title: string;
  terms: AuctionTerms;
  durationMs: number;
  /** The auction's id, when the create was acknowledged. */
  auctionId: string | null;
}

/** One attempt to place a bid; retries send the same bidId and are separate operations. */
export interface BidOperation extends OperationBase {
  type: "bid";
  auctionId: string;
  bidder: string;
  bidId: string;
  amount: number;
  max: number | null;
  /** 1 for the first attempt of this bidId. */
  attempt: number;
  /** The acknowledgement: the bid's stamp and the price and high bidder right after it. */
  ack: { at: number; price: number; highBidder: string } | null;
}

/** A sampled read of one auction through one node. */
export interface ReadOperation extends OperationBase {
  type: "read";
  auctionId: string;
  result: { price: number | null; version: number; status: string; bidCount: number } | null;
}

export type Operation = RegisterOperation | CreateOperation | BidOperation | ReadOperation;

/** One line of an auction's bid history as the API shows it. */
export interface FinalBidLine {
  bidId: string;
  bidder: string;
  amount: number;
  at: number;
  automatic: boolean;
}

export type FinalOutcome =
  | { result: "sold"; winner: string; price: number; reason: "deadline" | "buy-now" }
  | { result: "unsold"; reason: "deadline"; reserveMet: boolean };

/** An auction as one node reports it at the end of the run, with its whole bid history. */
export interface FinalAuction {
  id: string;
  title: string;
  seller: string;
  status: string;
  startingPrice: number;
  price: number | null;
  highBidder: string | null;
  buyNowPrice: number | null;
  opensAt: number;
  closesAt: number;
  originalClosesAt: number;
  outcome: FinalOutcome | null;
  version: number;
  bids: FinalBidLine[];
}

export interface NodeFinalState {
  node: number;
  /** Null when the node could not be read at the end (itself a violation). */
  auctions: FinalAuction[] | null;
  error?: string;
}

export interface History {
  operations: Operation[];
  finalStates: NodeFinalState[];
}
