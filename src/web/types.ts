// The client API's documents as the page sees them (docs/API.md). The page is a client of that
// contract only: it never imports server code, so these types are written from the document.

export type AuctionStatus = "scheduled" | "open" | "closing" | "closed" | "cancelled";

export type Outcome =
  | { result: "sold"; winner: string; price: number; reason: "deadline" | "buy-now" }
  | { result: "unsold"; reason: string; reserveMet?: boolean };

/** One line of an auction's bid history, oldest first. */
export interface BidLine {
  bidId: string;
  bidder: string;
  amount: number;
  at: number;
  automatic: boolean;
}

export interface Auction {
  id: string;
  title: string;
  description: string;
  seller: string;
  currency: string;
  status: AuctionStatus;
  startingPrice: number;
  price: number | null;
  highBidder: string | null;
  minimumBid: number;
  hasReserve: boolean;
  reserveMet: boolean;
  buyNowPrice: number | null;
  opensAt: number;
  closesAt: number;
  originalClosesAt: number;
  bidCount: number;
  outcome: Outcome | null;
  /** Grows by one with every change of this auction: the page's key for "have I seen this?". */
  version: number;
  owner: number | null;
  winner?: string;
  bids?: BidLine[];
  bidsOffset?: number;
  bidsTotal?: number;
}

export interface AuctionPage {
  items: Auction[];
  total: number;
  offset: number;
  limit: number;
}

export type ListFilter = "open" | "closed" | "mine" | "all";

export interface Session {
  name: string;
  token: string;
  expiresAt: number | null;
}

export interface BidAnswer {
  auctionId: string;
  bidId: string;
  bidder: string;
  amount: number;
  max: number | null;
  at: number;
  price: number;
  highBidder: string;
  leading: boolean;
  boughtNow: boolean;
}

export interface ClusterNode {
  id: number;
  role: "leader" | "worker" | "learner";
  status: "alive" | "suspect" | "dead";
  http: string;
  auctions: number;
  drained?: boolean;
}

export interface ClusterView {
  term: number;
  leader: number | null;
  nodes: ClusterNode[];
  voters?: number;
  majority?: number;
  canLoseOne?: boolean;
  assignments?: Record<string, number>;
}

/** What `/api/stream` sends inside `{ type: "event" }`. Fields beyond the document are optional. */
export type StreamEvent =
  | {
      type: "created";
      auctionId: string;
      title?: string;
      seller?: string;
      closesAt?: number;
      version?: number;
    }
  | {
      type: "bid";
      auctionId: string;
      bidId?: string;
      bidder: string;
      amount: number;
      price: number;
      highBidder: string;
      automatic?: boolean;
      /** The history lines this bid added, the engine's automatic (proxy) bids marked. */
      lines?: { bidId: string; bidder: string; amount: number; automatic: boolean }[];
      at: number;
      version: number;
      closesAt: number;
    }
  | {
      type: "outbid";
      auctionId: string;
      bidder?: string;
      price: number;
      highBidder: string;
      version?: number;
    }
  | { type: "extended"; auctionId: string; closesAt: number; version: number }
  | { type: "closed"; auctionId: string; outcome: Outcome; version: number }
  | { type: "cancelled"; auctionId: string; version: number }
  | { type: "reassigned"; auctionId: string; owner: number; epoch: number }
  | { type: "node-joined"; id: number; voter?: boolean }
  | { type: "node-left"; id: number };

export type StreamMessage =
  | { type: "hello"; node: number; index: number }
  | { type: "event"; index: number; event: StreamEvent }
  | { type: "leader"; term: number; leader: number | null }
  | { type: "resync"; index: number }
  | { type: "error"; code?: string; detail?: string };

/** An `application/problem+json` body. */
export interface Problem {
  status: number;
  code: string;
  title?: string;
  detail?: string;
}
