// What a bidder may see of an auction: everything but the reserve amount and the leader's maximum.
// Used by every reader of the state (API, CLI, tests) so that hidden fields never leak by accident.
import { auctionStatus, minimumBid, reserveMet } from "./engine.js";
import type { Auction, AuctionStatus, BidRecord, ClosedOutcome } from "./types.js";

export interface AuctionView {
  id: string;
  title: string;
  description: string;
  seller: string;
  currency: string;
  status: AuctionStatus;
  startingPrice: number;
  /** The visible price; null until the first bid. */
  price: number | null;
  highBidder: string | null;
  /** The lowest amount the next bid may offer. */
  minimumBid: number;
  hasReserve: boolean;
  reserveMet: boolean;
  buyNowPrice: number | null;
  opensAt: number;
  closesAt: number;
  originalClosesAt: number;
  bidCount: number;
  outcome: ClosedOutcome | null;
  version: number;
}

/** The public view of `auction` at `nowMs` (bids are listed separately, paginated, by `bidPage`). */
export function auctionView(auction: Auction, nowMs: number): AuctionView {
  return {
    id: auction.id,
    title: auction.title,
    description: auction.description,
    seller: auction.seller,
    currency: auction.currency,
    status: auctionStatus(auction, nowMs),
    startingPrice: auction.startingPrice,
    price: auction.price,
    highBidder: auction.leader,
    minimumBid: minimumBid(auction),
    hasReserve: auction.reservePrice !== null,
    reserveMet: reserveMet(auction),
    buyNowPrice: auction.buyNowPrice,
    opensAt: auction.opensAt,
    closesAt: auction.closesAt,
    originalClosesAt: auction.originalClosesAt,
    bidCount: auction.bids.length,
    outcome: auction.outcome,
    version: auction.version,
  };
}

/** Lines `offset .. offset+limit-1` of the bid history, oldest first. */
export function bidPage(auction: Auction, offset: number, limit: number): BidRecord[] {
  return auction.bids.slice(offset, offset + limit);
}
