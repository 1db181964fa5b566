// In-process throughput of bid commands through the auction engine: the ceiling the replicated
// cluster will later be compared with. Commands are built before the clock starts and go through
// executeUnknown, so each one is parsed by the zod schema exactly as the cluster will parse it.
import { AuctionBook } from "../src/core/auction/engine.js";
import type { CreateAuctionCommand, PlaceBidCommand } from "../src/core/auction/schemas.js";
import type { Outcome } from "../src/core/auction/types.js";

/** One timed pass over a prepared batch of bids. */
export interface Measurement {
  bids: number;
  elapsedMs: number;
  opsPerSecond: number;
}

export interface Workload {
  name: string;
  description: string;
  /** Builds a fresh book and its bids (untimed), then times executing them. */
  measure(bidCount: number): Measurement;
}

/** Bids per hot auction before the bench rotates to a fresh one; below bidsPerAuctionMax (100,000). */
export const hotAuctionBidsMax = 50_000;
export const spreadAuctionCount = 10_000;

const bidders = ["ann", "bob"];
/** Far enough ahead that no benchmark bid reaches it. */
const closesAt = 1_000_000_000;

/** A long-running auction with a fixed increment of 1 (also the in-process apply bench's). */
export function createCommand(auctionId: string): CreateAuctionCommand {
  return {
    type: "create-auction",
    timestampMs: 0,
    auctionId,
    seller: "sam",
    title: `Benchmark lot ${auctionId}`,
    description: "",
    currency: "EUR",
    startingPrice: 1,
    reservePrice: null,
    buyNowPrice: null,
    increment: { type: "fixed", amount: 1 },
    opensAt: 0,
    closesAt,
    softClose: null,
  };
}

/** A plain bid one increment above the last one on its auction, by the bidder who is not leading. */
function bidCommand(auctionId: string, bidNumber: number, timestampMs: number): PlaceBidCommand {
  return {
    type: "place-bid",
    timestampMs,
    auctionId,
    bidder: bidders[bidNumber % 2]!,
    bidId: `bid-${bidNumber}`,
    amount: bidNumber + 1,
    max: null,
  };
}

/** A book holding `auctionIds`, created before the clock starts. */
function bookWith(auctionIds: readonly string[]): AuctionBook {
  const book = new AuctionBook();
  for (const auctionId of auctionIds) mustAccept(book.execute(createCommand(auctionId)), "create");
  return book;
}

function mustAccept(outcome: Outcome, what: string): void {
  if (!outcome.ok) throw new Error(`benchmark ${what} rejected: ${outcome.reason}: ${outcome.message}`);
  if (outcome.duplicate === true) throw new Error(`benchmark ${what} was a duplicate`);
}

/** Times `execute` over `commands`; every one must be accepted as a new bid, or the figure means nothing. */
function time<Command>(commands: readonly Command[], execute: (command: Command) => Outcome): Measurement {
  let firstFailure: Outcome | undefined;
  const startedAt = process.hrtime.bigint();
  for (const command of commands) {
    const outcome = execute(command);
    if (!outcome.ok || outcome.duplicate === true) firstFailure ??= outcome;
  }
  const elapsedMs = Number(process.hrtime.bigint() - startedAt) / 1e6;
  if (firstFailure !== undefined) mustAccept(firstFailure, "bid");
  return { bids: commands.length, elapsedMs, opsPerSecond: (commands.length / elapsedMs) * 1_000 };
}

/** Every bid on one auction, each beating the last; a fresh hot auction every hotAuctionBidsMax bids. */
function hotBids(bidCount: number): { auctionIds: string[]; commands: PlaceBidCommand[] } {
  const auctionIds = Array.from(
    { length: Math.ceil(bidCount / hotAuctionBidsMax) },
    (_, index) => `hot-${index}`,
  );
  const commands = Array.from({ length: bidCount }, (_, index) =>
    bidCommand(auctionIds[Math.floor(index / hotAuctionBidsMax)]!, index % hotAuctionBidsMax, index + 1),
  );
  return { auctionIds, commands };
}

/** A small deterministic generator (xorshift32), so every run spreads its bids the same way. */
function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

/** Bids spread at random over spreadAuctionCount auctions, each beating the last on its auction. */
function spreadBids(bidCount: number): { auctionIds: string[]; commands: PlaceBidCommand[] } {
  const auctionIds = Array.from({ length: spreadAuctionCount }, (_, index) => `lot-${index}`);
  const bidsSoFar = new Array<number>(spreadAuctionCount).fill(0);
  const next = xorshift32(0x9e3779b9);
  const commands = Array.from({ length: bidCount }, (_, index) => {
    const auction = next() % spreadAuctionCount;
    const bidNumber = bidsSoFar[auction]!;
    bidsSoFar[auction] = bidNumber + 1;
    return bidCommand(auctionIds[auction]!, bidNumber, index + 1);
  });
  return { auctionIds, commands };
}

export const workloads: Workload[] = [
  {
    name: "hot auction",
    description: `every bid on one auction, each beating the last (a fresh auction every ${hotAuctionBidsMax.toLocaleString("en-US")} bids)`,
    measure(bidCount) {
      const { auctionIds, commands } = hotBids(bidCount);
      const book = bookWith(auctionIds);
      // The bench hands the engine plain values, as the network will: executeUnknown parses each one.
      return time<unknown>(commands, (command) => book.executeUnknown(command));
    },
  },
  {
    name: `spread over ${spreadAuctionCount.toLocaleString("en-US")} auctions`,
    description: `bids on ${spreadAuctionCount.toLocaleString("en-US")} auctions in a fixed pseudo-random order, each beating the last on its auction`,
    measure(bidCount) {
      const { auctionIds, commands } = spreadBids(bidCount);
      const book = bookWith(auctionIds);
      return time<unknown>(commands, (command) => book.executeUnknown(command));
    },
  },
  {
    name: "hot auction, no schema parse",
    description: "as the hot auction, through execute with typed commands: the engine alone, for comparison",
    measure(bidCount) {
      const { auctionIds, commands } = hotBids(bidCount);
      const book = bookWith(auctionIds);
      return time(commands, (command) => book.execute(command));
    },
  },
];
