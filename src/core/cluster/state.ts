// The replicated state machine: what every node builds by applying the committed log in order.
// It holds the auction book and the cluster's own metadata. Applying is deterministic, and a
// snapshot (serialize, then restore) reproduces the state exactly, byte for byte.
import { assert, unreachable } from "../assert.js";
import { AuctionBook, bidKey } from "../auction/engine.js";
import type { Auction, AuctionEvent, EngineLimits, Outcome } from "../auction/types.js";
import { defaultEngineLimits } from "../auction/types.js";
import type { ClusterConfig, LogEntry, LogIndex } from "./types.js";

/** What applying one entry produced; an auction entry yields the engine's outcome. */
export type ApplyResult =
  { kind: "noop" } | { kind: "config"; config: ClusterConfig } | { kind: "auction"; outcome: Outcome };

interface SerializedState {
  appliedIndex: LogIndex;
  config: ClusterConfig;
  lastTimestampMs: number;
  auctions: (Omit<Auction, "accepted"> & { accepted: ReturnType<Auction["accepted"]["get"]>[] })[];
}

export class ClusterState {
  readonly book: AuctionBook;
  // Invariant: appliedIndex only grows, by one per applied entry.
  appliedIndex: LogIndex = 0;
  /** The committed configuration (the raft layer acts on the latest one in its log, which may be newer). */
  config: ClusterConfig = { members: [] };

  constructor(readonly limits: EngineLimits = defaultEngineLimits) {
    this.book = new AuctionBook(limits);
  }

  /** Applies the next committed entry. */
  apply(entry: LogEntry): ApplyResult {
    assert(entry.index === this.appliedIndex + 1, "entries are applied in order, each once");
    this.appliedIndex = entry.index;
    const data = entry.data;
    switch (data.kind) {
      case "noop":
        return { kind: "noop" };
      case "config":
        this.config = data.config;
        return { kind: "config", config: data.config };
      case "auction": {
        // The leader's stamp is the command's time: every replica decides "before close?" alike.
        const command = { ...data.command, timestampMs: entry.timestampMs };
        return { kind: "auction", outcome: this.book.execute(command) };
      }
      default:
        return unreachable(data, "unknown entry kind");
    }
  }

  serialize(): string {
    const auctions = [...this.book.auctions.values()].map((auction) => ({
      ...auction,
      accepted: [...auction.accepted.values()],
    }));
    const state: SerializedState = {
      appliedIndex: this.appliedIndex,
      config: this.config,
      lastTimestampMs: this.book.lastTimestampMs,
      auctions,
    };
    return JSON.stringify(state);
  }

  static restore(data: string, limits: EngineLimits = defaultEngineLimits): ClusterState {
    const parsed = JSON.parse(data) as SerializedState;
    const state = new ClusterState(limits);
    state.appliedIndex = parsed.appliedIndex;
    state.config = parsed.config;
    state.book.lastTimestampMs = parsed.lastTimestampMs;
    for (const serialized of parsed.auctions) {
      const auction = serialized as unknown as Auction;
      auction.accepted = new Map(serialized.accepted.map((bid) => [bidKey(bid!.bidder, bid!.bidId), bid!]));
      state.book.auctions.set(auction.id, auction);
    }
    return state;
  }
}

/** The auction events an apply result carries, for publishing updates. */
export function auctionEventsOf(result: ApplyResult): AuctionEvent[] {
  return result.kind === "auction" && result.outcome.ok ? result.outcome.events : [];
}
