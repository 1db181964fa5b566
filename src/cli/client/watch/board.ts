// What `gavel watch` knows of the auctions it shows, merged from three sources in any order: HTTP
// snapshots, WebSocket stream events and multicast updates. Each auction's version decides: older
// news is ignored, the next version is applied, and a skipped version is applied for the facts it
// carries and reported as a gap so the caller fetches the auction. Pure: no I/O, no clock.
import type { AuctionUpdate } from "../../../net/update-schema.js";
import type { AuctionSummary, BidLine } from "../types.js";

/** An auction as shown: the facts of a summary, the latest bid lines, and what last changed. */
export interface WatchedAuction {
  facts: AuctionSummary;
  /** The latest bid lines, oldest first, at most `bidsKept`. */
  bids: BidLine[];
}

/** A bid as the "latest bids" list shows it, across auctions. */
export interface FeedLine {
  auctionId: string;
  at: number;
  bidder: string;
  amount: number;
  automatic: boolean;
}

/** The result of applying news: "gap" and "unknown" ask the caller to fetch the auction. */
export type Applied = "applied" | "ignored" | "gap" | "unknown";

/** The events of GET /api/stream that concern auctions (docs/API.md). */
export type StreamAuctionEvent =
  | { type: "created"; auctionId: string; title: string; seller: string; closesAt: number; version: number }
  | {
      type: "bid";
      auctionId: string;
      bidId: string;
      bidder: string;
      amount: number;
      price: number;
      highBidder: string;
      lines?: { bidId: string; bidder: string; amount: number; automatic: boolean }[];
      at: number;
      closesAt: number;
      version: number;
    }
  | { type: "outbid"; auctionId: string; bidder: string; price: number; highBidder: string; version: number }
  | { type: "extended"; auctionId: string; closesAt: number; version: number }
  | { type: "closed"; auctionId: string; outcome: AuctionSummary["outcome"]; version: number }
  | { type: "cancelled"; auctionId: string; version: number }
  | { type: "reassigned"; auctionId: string; owner: number; epoch: number };

export class Board {
  readonly auctions = new Map<string, WatchedAuction>();
  /** The latest bids across the shown auctions, oldest first. */
  readonly feed: FeedLine[] = [];
  /** Auctions that are not of this cluster (multicast from another one): never fetched again. */
  readonly foreign = new Set<string>();

  constructor(
    /** Only this auction, or every one (null). */
    readonly only: string | null,
    readonly bidsKept = 8,
    readonly feedKept = 8,
  ) {}

  /** Whether news of `auctionId` concerns this board. */
  wants(auctionId: string): boolean {
    return (this.only === null || this.only === auctionId) && !this.foreign.has(auctionId);
  }

  version(auctionId: string): number | undefined {
    return this.auctions.get(auctionId)?.facts.version;
  }

  /** A full document from HTTP: replaces what is held unless it is older. `bids` (if given) are its latest lines. */
  snapshot(facts: AuctionSummary, bids?: BidLine[]): Applied {
    if (!this.wants(facts.id)) return "ignored";
    const held = this.auctions.get(facts.id);
    if (held !== undefined && held.facts.version > facts.version) return "ignored";
    const {
      bids: _bids,
      bidsOffset: _offset,
      bidsTotal: _total,
      ...summary
    } = facts as AuctionSummary & {
      bids?: unknown;
      bidsOffset?: unknown;
      bidsTotal?: unknown;
    };
    const lines = bids !== undefined ? bids.slice(-this.bidsKept) : (held?.bids ?? []);
    this.auctions.set(facts.id, { facts: summary, bids: lines });
    return "applied";
  }

  /** One event of the WebSocket stream. */
  streamEvent(event: StreamAuctionEvent): Applied {
    if (!this.wants(event.auctionId)) return "ignored";
    const held = this.auctions.get(event.auctionId);
    if (event.type === "reassigned") {
      if (held !== undefined) held.facts = { ...held.facts, owner: event.owner };
      return held === undefined ? "unknown" : "applied";
    }
    if (event.type === "outbid") return "ignored";
    if (held === undefined) return "unknown";
    const version = held.facts.version;
    if (event.version <= version) return "ignored";
    const facts = { ...held.facts, version: event.version };
    switch (event.type) {
      case "created":
        break;
      case "bid": {
        const lines = event.lines ?? [
          { bidId: event.bidId, bidder: event.bidder, amount: event.amount, automatic: false },
        ];
        Object.assign(facts, {
          price: event.price,
          highBidder: event.highBidder,
          closesAt: event.closesAt,
          bidCount: facts.bidCount + lines.length,
        });
        const added = lines.map((line) => ({ ...line, at: event.at }));
        held.bids = [...held.bids, ...added].slice(-this.bidsKept);
        this.addToFeed(added.map((line) => ({ auctionId: event.auctionId, ...line })));
        break;
      }
      case "extended":
        facts.closesAt = event.closesAt;
        break;
      case "closed":
        Object.assign(facts, { outcome: event.outcome, status: "closed" });
        break;
      case "cancelled":
        facts.status = "cancelled";
        break;
    }
    held.facts = facts;
    return event.version === version + 1 ? "applied" : "gap";
  }

  /**
   * One multicast update: it carries the auction's public facts at its version, so it applies
   * whole. A bid's lines are not in it: the caller fetches them when it shows them.
   */
  update(update: AuctionUpdate): Applied {
    if (!this.wants(update.auctionId)) return "ignored";
    const held = this.auctions.get(update.auctionId);
    if (held === undefined) return "unknown";
    const version = held.facts.version;
    if (update.version <= version) return "ignored";
    const status: AuctionSummary["status"] =
      update.phase === "active" ? held.facts.status : update.phase === "closed" ? "closed" : "cancelled";
    held.facts = {
      ...held.facts,
      version: update.version,
      status: held.facts.status === "scheduled" && update.event === "bid-accepted" ? "open" : status,
      price: update.price,
      highBidder: update.highBidder,
      closesAt: update.closesAt,
      bidCount: update.bidCount,
      outcome: update.outcome,
      owner: update.nodeId,
    };
    if (update.event === "bid-accepted" && update.price !== null && update.highBidder !== null) {
      this.addToFeed([
        {
          auctionId: update.auctionId,
          at: update.timestampMs,
          bidder: update.highBidder,
          amount: update.price,
          automatic: false,
        },
      ]);
    }
    return update.version === version + 1 ? "applied" : "gap";
  }

  /** Forgets an auction (it is not of this cluster, or no longer to be shown). */
  forget(auctionId: string, foreign: boolean): void {
    this.auctions.delete(auctionId);
    if (foreign) this.foreign.add(auctionId);
  }

  private addToFeed(lines: FeedLine[]): void {
    this.feed.push(...lines);
    if (this.feed.length > this.feedKept) this.feed.splice(0, this.feed.length - this.feedKept);
  }
}
