// Random scenarios for the engine's property tests: a few auctions, a few bidders, and a sequence of
// creates, plain and proxy bids, repeats of accepted bids, cancels and closes with non-decreasing
// stamps, run through executeUnknown as the cluster will. The trace keeps each command's outcome
// with copies of its auction before and after, so each property only reads.
import fc from "fast-check";
import { minimumBid } from "../../../src/core/auction/engine.js";
import type {
  AuctionCommand,
  IncrementRule,
  PlaceBidCommand,
  SoftClose,
} from "../../../src/core/auction/schemas.js";
import type { AcceptedBid, Auction, AuctionEvent, Outcome } from "../../../src/core/auction/types.js";
import { Harness, seller } from "./fixtures.js";

const auctionIds = ["a0", "a1", "a2"];
/** Bidders; the seller is among them, rarely, to meet own-auction. */
const bidders = ["ann", "bob", "cat", seller];
/** Picks among the auctions created so far; this value picks one that does not exist. */
const unknownTarget = 9;

export type Step =
  | {
      kind: "create";
      waitMs: number;
      auction: number;
      startingPrice: number;
      reserveAbove: number | null;
      buyNowAbove: number | null;
      increment: IncrementRule;
      openDelayMs: number;
      durationMs: number;
      softClose: SoftClose | null;
    }
  | {
      kind: "bid";
      waitMs: number;
      target: number;
      bidder: number;
      /** A small shared pool of bid ids (to meet bid-id-reused), or null for a fresh one. */
      bidIdPick: number | null;
      /** The amount relative to the auction's current minimum; negative ones fall short. */
      raise: number;
      /** The maximum relative to the amount; null for a plain bid, negative for an invalid one. */
      maxAbove: number | null;
      /** Ties the leader's hidden maximum, with a proxy or a plain bid, instead of `raise`/`maxAbove`. */
      tie: "proxy" | "plain" | null;
      /** Stamps the bid this many ms from the auction's closing time instead of waiting `waitMs`. */
      nearClose: number | null;
    }
  | { kind: "repeat"; waitMs: number; pick: number }
  | { kind: "cancel"; waitMs: number; target: number; bySeller: boolean }
  | { kind: "close"; waitMs: number; target: number; nearClose: number | null };

/** `arbitrary` in `percent` of the cases, null in the others. */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | null> {
  return fc.oneof({ arbitrary: fc.constant(null), weight: 100 - percent }, { arbitrary, weight: percent });
}

const waitMs = fc.oneof(
  { arbitrary: fc.constant(0), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 40 }), weight: 12 },
  { arbitrary: fc.integer({ min: 0, max: 1_500 }), weight: 1 },
);
const target = fc.integer({ min: 0, max: unknownTarget });
/** Stamps just around the closing time, so that a bid or close meets it exactly. */
const nearClose = sometimes(fc.integer({ min: -2, max: 1 }), 4);

const incrementRule: fc.Arbitrary<IncrementRule> = fc.oneof(
  fc.integer({ min: 1, max: 50 }).map((amount) => ({ type: "fixed" as const, amount })),
  fc.uniqueArray(fc.integer({ min: 1, max: 3_000 }), { maxLength: 4 }).chain((starts) =>
    fc
      .array(fc.integer({ min: 1, max: 100 }), {
        minLength: starts.length + 1,
        maxLength: starts.length + 1,
      })
      .map((increments) => ({
        type: "table" as const,
        bands: [0, ...starts.sort((left, right) => left - right)].map((from, index) => ({
          from,
          increment: increments[index]!,
        })),
      })),
  ),
);

const createStep = fc.record({
  kind: fc.constant("create" as const),
  waitMs,
  auction: fc.integer({ min: 0, max: auctionIds.length - 1 }),
  startingPrice: fc.integer({ min: 1, max: 500 }),
  reserveAbove: sometimes(fc.integer({ min: 0, max: 3_000 }), 40),
  buyNowAbove: sometimes(fc.integer({ min: 0, max: 3_000 }), 35),
  increment: incrementRule,
  openDelayMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 })),
  durationMs: fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 200 }), weight: 1 },
    { arbitrary: fc.integer({ min: 1_000, max: 8_000 }), weight: 4 },
  ),
  softClose: sometimes(
    fc.record({
      windowMs: fc.integer({ min: 1, max: 3_000 }),
      extensionMs: fc.integer({ min: 1, max: 800 }),
      maxExtensionMs: fc.integer({ min: 0, max: 2_000 }),
    }),
    50,
  ),
});

const bidStep = fc.record({
  kind: fc.constant("bid" as const),
  waitMs,
  target,
  bidder: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 2 }), weight: 20 }, fc.constant(3)),
  bidIdPick: sometimes(fc.integer({ min: 0, max: 2 }), 10),
  raise: fc.oneof(
    { arbitrary: fc.integer({ min: -30, max: -1 }), weight: 1 },
    { arbitrary: fc.integer({ min: 0, max: 40 }), weight: 8 },
    { arbitrary: fc.integer({ min: 0, max: 1_000 }), weight: 2 },
  ),
  maxAbove: sometimes(
    fc.oneof(
      { arbitrary: fc.integer({ min: -20, max: -1 }), weight: 1 },
      { arbitrary: fc.integer({ min: 0, max: 100 }), weight: 10 },
      { arbitrary: fc.integer({ min: 0, max: 2_000 }), weight: 10 },
    ),
    50,
  ),
  tie: sometimes(fc.constantFrom("proxy" as const, "plain" as const), 8),
  nearClose,
});

const anyStep: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: bidStep, weight: 20 },
  { arbitrary: createStep, weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("repeat" as const), waitMs, pick: fc.nat() }), weight: 3 },
  {
    arbitrary: fc.record({ kind: fc.constant("cancel" as const), waitMs, target, bySeller: fc.boolean() }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant("close" as const), waitMs, target, nearClose }), weight: 1 },
);

/** One to three auctions created at time 0, then up to 80 steps, mostly bids. */
export const scenario: fc.Arbitrary<Step[]> = fc
  .tuple(
    fc.array(createStep, { minLength: 1, maxLength: auctionIds.length }),
    fc.array(anyStep, { maxLength: 80, size: "large" }),
  )
  .map(([creates, steps]) => [
    ...creates.map((create, index) => ({ ...create, waitMs: 0, auction: index })),
    ...steps,
  ]);

export interface TraceStep {
  command: AuctionCommand;
  outcome: Outcome;
  /** Copies of the command's auction just before and just after it ran (undefined: none yet). */
  before: Auction | undefined;
  after: Auction | undefined;
  /** For a repeat: the outcome of the accepted bid it repeats. */
  repeatOf?: AcceptedBid;
}

export interface Trace {
  steps: TraceStep[];
  harness: Harness;
}

/** True when `step` is a bid the engine accepted just now (not a repeat of an earlier one). */
export function isNewBid(step: TraceStep): step is TraceStep & { command: PlaceBidCommand } {
  return step.command.type === "place-bid" && step.outcome.ok && step.outcome.duplicate !== true;
}

/**
 * Runs `steps`, then advances past every closing time and closes every auction twice (the second
 * close must be a no-op).
 */
export function runScenario(steps: readonly Step[]): Trace {
  const harness = new Harness({ bidsPerAuctionMax: 25, auctionsMax: auctionIds.length });
  const trace: TraceStep[] = [];
  const acceptedBids: { command: PlaceBidCommand; bid: AcceptedBid }[] = [];
  const run = (command: TraceStep["command"], repeatOf?: AcceptedBid) => {
    const before = copyOf(harness.book.get(command.auctionId));
    const outcome = harness.runUnknown(command);
    const after = copyOf(harness.book.get(command.auctionId));
    trace.push({ command, outcome, before, after, ...(repeatOf === undefined ? {} : { repeatOf }) });
    return outcome;
  };
  let nowMs = 0;
  for (const [index, step] of steps.entries()) {
    nowMs = stampOf(harness, step, nowMs);
    if (step.kind === "repeat") {
      const original = acceptedBids[step.pick % Math.max(1, acceptedBids.length)];
      if (original !== undefined) run({ ...original.command, timestampMs: nowMs }, original.bid);
      continue;
    }
    if (step.kind === "create") {
      run(createCommandOf(step, nowMs));
      continue;
    }
    const auctionId = targetOf(harness, step.target);
    if (step.kind === "cancel") {
      run({ type: "cancel-auction", timestampMs: nowMs, auctionId, by: step.bySeller ? seller : "ann" });
      continue;
    }
    if (step.kind === "close") {
      run({ type: "close-auction", timestampMs: nowMs, auctionId });
      continue;
    }
    const command = bidCommandOf(step, nowMs, index, auctionId, harness.book.get(auctionId));
    const outcome = run(command);
    if (outcome.ok && outcome.duplicate !== true) acceptedBids.push({ command, bid: outcome.bid! });
  }
  const lastClosesAt = Math.max(nowMs, ...[...harness.book.auctions.values()].map((each) => each.closesAt));
  for (const timestampMs of [lastClosesAt, lastClosesAt + 1]) {
    for (const auctionId of harness.book.auctions.keys())
      run({ type: "close-auction", timestampMs, auctionId });
  }
  return { steps: trace, harness };
}

function copyOf(auction: Auction | undefined): Auction | undefined {
  return auction === undefined ? undefined : structuredClone(auction);
}

/** The stamp of `step`: after its wait, or just around its auction's closing time (never earlier). */
function stampOf(harness: Harness, step: Step, nowMs: number): number {
  if ((step.kind === "bid" || step.kind === "close") && step.nearClose !== null) {
    const closesAt = harness.book.get(targetOf(harness, step.target))?.closesAt ?? nowMs;
    return Math.max(nowMs, closesAt + step.nearClose);
  }
  return nowMs + step.waitMs;
}

/** One of the auctions created so far, or an id that names none. */
function targetOf(harness: Harness, target: number): string {
  const ids = [...harness.book.auctions.keys()];
  return target === unknownTarget || ids.length === 0 ? "unknown" : ids[target % ids.length]!;
}

function createCommandOf(step: Extract<Step, { kind: "create" }>, nowMs: number): AuctionCommand {
  const auctionId = auctionIds[step.auction]!;
  const reservePrice = step.reserveAbove === null ? null : step.startingPrice + step.reserveAbove;
  const opensAt = nowMs + step.openDelayMs;
  return {
    type: "create-auction",
    timestampMs: nowMs,
    auctionId,
    seller,
    title: `Lot ${auctionId}`,
    description: "",
    currency: "EUR",
    startingPrice: step.startingPrice,
    reservePrice,
    buyNowPrice: step.buyNowAbove === null ? null : (reservePrice ?? step.startingPrice) + step.buyNowAbove,
    increment: step.increment,
    opensAt,
    closesAt: opensAt + step.durationMs,
    softClose: step.softClose,
  };
}

function bidCommandOf(
  step: Extract<Step, { kind: "bid" }>,
  nowMs: number,
  index: number,
  auctionId: string,
  target: Auction | undefined,
): PlaceBidCommand {
  let amount = Math.max(1, (target === undefined ? 100 : minimumBid(target)) + step.raise);
  let max = step.maxAbove === null ? null : Math.max(1, amount + step.maxAbove);
  if (step.tie !== null && target !== undefined && target.leader !== null) {
    amount = step.tie === "plain" ? target.leaderMax : Math.min(amount, target.leaderMax);
    max = step.tie === "plain" ? null : target.leaderMax;
  }
  return {
    type: "place-bid",
    timestampMs: nowMs,
    auctionId,
    bidder: bidders[step.bidder]!,
    bidId: step.bidIdPick === null ? `step-${index}` : `shared-${step.bidIdPick}`,
    amount,
    max,
  };
}

/** Every event the scenario produced, in order. */
export function eventsOf(trace: Trace): readonly AuctionEvent[] {
  return trace.harness.events;
}
