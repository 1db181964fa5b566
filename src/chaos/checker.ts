// The chaos run's history checker: given every client operation (invocation, completion, outcome)
// and the final state read from every node, it finds what no correct execution could have
// produced. Pure: no I/O, no timers; the clock for its time budget is passed in. Every check is
// conservative under concurrency: an operation's effect may lie anywhere in its interval, an
// unknown outcome may or may not have happened, and only what no such choice explains is reported.
import { AuctionBook, bidKey, minimumBid } from "../core/auction/engine.js";
import type { Auction } from "../core/auction/types.js";
import type {
  BidOperation,
  CreateOperation,
  FinalAuction,
  FinalBidLine,
  History,
  Operation,
  ReadOperation,
} from "./history.js";

export type ViolationKind =
  | "acknowledged-bid-missing"
  | "unexplained-bid"
  | "bid-applied-twice"
  | "engine-mismatch"
  | "ack-mismatch"
  | "bid-after-close"
  | "wrong-rejection"
  | "price-went-backwards"
  | "stale-read"
  | "node-disagreement"
  | "final-state-unreadable"
  | "acknowledged-auction-missing"
  | "unexplained-auction"
  | "checker-timeout";

export interface Violation {
  kind: ViolationKind;
  auctionId: string | null;
  message: string;
  /** The operations that show it (the first offending ones), possibly none (a final-state fact). */
  operations: Operation[];
}

export interface CheckOptions {
  /** Slack for comparing the nodes' stamps with the runner's clock (same machine): default 25 ms. */
  clockToleranceMs?: number;
  /**
   * How far a stamp may trail the real time of its append: the leader stamps with the time of its
   * last tick, so by a tick (10 ms) plus event-loop delay, and by a whole pause on a leader that was
   * stopped and resumed before anyone replaced it (an election timeout of 1 s plus the rank steps
   * of the other voters). Default 2000 ms; 679 ms was seen under load with paused leaders.
   */
  stampLagMs?: number;
  /** Time the checker may take; past it the check stops with a `checker-timeout` violation. */
  budgetMs?: number;
  /** The clock for the budget (ms); default: no budget is enforced. */
  now?: () => number;
  /** The engine's limit of bids per auction (a `too-many-bids` rejection is right only at it). */
  bidsPerAuctionMax?: number;
}

export interface CheckResult {
  operations: number;
  acknowledged: number;
  unknown: number;
  failed: number;
  violations: Violation[];
}

/**
 * Statuses of refusals to decide (nothing happened), always allowed: rate limited, unavailable, and
 * 0 for a connection refused (the request never reached a node).
 */
const refusalStatuses = new Set([0, 429, 503]);

class BudgetExceeded extends Error {}

/** Checks `history`; the violations are ordered by auction, each auction's by kind of check. */
export function checkHistory(history: History, options: CheckOptions = {}): CheckResult {
  const violations: Violation[] = [];
  const now = options.now;
  const deadline = now === undefined ? Infinity : now() + (options.budgetMs ?? Infinity);
  const budget = () => {
    if (now !== undefined && now() > deadline) throw new BudgetExceeded();
  };
  const context: Context = {
    toleranceMs: options.clockToleranceMs ?? 25,
    stampLagMs: options.stampLagMs ?? 2_000,
    bidsPerAuctionMax: options.bidsPerAuctionMax ?? 100_000,
    report: (violation) => violations.push(violation),
  };
  try {
    checkAll(history, context, budget);
  } catch (error) {
    if (!(error instanceof BudgetExceeded)) throw error;
    violations.push({
      kind: "checker-timeout",
      auctionId: null,
      message: `the checker exceeded its budget of ${options.budgetMs} ms`,
      operations: [],
    });
  }
  const count = (kind: string) => history.operations.filter((op) => op.outcome.kind === kind).length;
  return {
    operations: history.operations.length,
    acknowledged: count("ok"),
    unknown: count("unknown"),
    failed: count("failed"),
    violations,
  };
}

interface Context {
  toleranceMs: number;
  stampLagMs: number;
  bidsPerAuctionMax: number;
  report(violation: Violation): void;
}

/** Everything the checker knows about one auction. */
interface AuctionRecord {
  id: string;
  create: CreateOperation | null;
  /** The most advanced state any node reported (highest version). */
  final: FinalAuction | null;
  bids: BidOperation[];
  reads: ReadOperation[];
}

function checkAll(history: History, context: Context, budget: () => void): void {
  const readable = history.finalStates.filter((state) => state.auctions !== null);
  for (const state of history.finalStates) {
    if (state.auctions !== null) continue;
    context.report({
      kind: "final-state-unreadable",
      auctionId: null,
      message: `node ${state.node}'s final state could not be read: ${state.error ?? "no answer"}`,
      operations: [],
    });
  }
  const records = collect(history);
  checkCreates(history, records, context);
  budget();
  for (const record of records.values()) {
    checkAuction(record, context);
    budget();
  }
  checkAgreement(
    readable.map((state) => ({ node: state.node, auctions: state.auctions! })),
    context,
  );
}

/** Groups operations and final states by auction. */
function collect(history: History): Map<string, AuctionRecord> {
  const records = new Map<string, AuctionRecord>();
  const record = (id: string): AuctionRecord => {
    let found = records.get(id);
    if (found === undefined) {
      found = { id, create: null, final: null, bids: [], reads: [] };
      records.set(id, found);
    }
    return found;
  };
  for (const state of history.finalStates) {
    for (const auction of state.auctions ?? []) {
      const entry = record(auction.id);
      if (entry.final === null || auction.version > entry.final.version) entry.final = auction;
    }
  }
  const createsByTitle = new Map<string, CreateOperation>();
  for (const op of history.operations) {
    if (op.type === "create") createsByTitle.set(op.title, op);
    if (op.type === "create" && op.auctionId !== null) record(op.auctionId).create = op;
    if (op.type === "bid") record(op.auctionId).bids.push(op);
    if (op.type === "read") record(op.auctionId).reads.push(op);
  }
  // An auction whose create had no answer is found by its title, which is unique per create.
  for (const entry of records.values()) {
    if (entry.create === null && entry.final !== null) {
      entry.create = createsByTitle.get(entry.final.title) ?? null;
    }
  }
  return records;
}

function checkCreates(history: History, records: Map<string, AuctionRecord>, context: Context): void {
  const auctionsByTitle = new Map<string, string[]>();
  for (const record of records.values()) {
    if (record.final === null) continue;
    const ids = auctionsByTitle.get(record.final.title) ?? [];
    ids.push(record.id);
    auctionsByTitle.set(record.final.title, ids);
  }
  for (const op of history.operations) {
    if (op.type !== "create") continue;
    const ids = auctionsByTitle.get(op.title) ?? [];
    if (
      op.outcome.kind === "ok" &&
      (op.auctionId === null || (records.get(op.auctionId)?.final ?? null) === null)
    ) {
      context.report({
        kind: "acknowledged-auction-missing",
        auctionId: op.auctionId,
        message: `auction "${op.title}" was acknowledged as ${op.auctionId} but no node has it`,
        operations: [op],
      });
    }
    if (ids.length > 1) {
      context.report({
        kind: "unexplained-auction",
        auctionId: ids[0]!,
        message: `one create of "${op.title}" produced ${ids.length} auctions: ${ids.join(", ")}`,
        operations: [op],
      });
    }
  }
  for (const record of records.values()) {
    const final = record.final;
    if (final === null) continue;
    const create = record.create;
    const explained = create !== null && create.outcome.kind !== "failed" && create.seller === final.seller;
    if (!explained) {
      context.report({
        kind: "unexplained-auction",
        auctionId: record.id,
        message:
          create === null
            ? `auction ${record.id} ("${final.title}") exists but no client created it`
            : `auction ${record.id} ("${final.title}") exists but its create ${create.outcome.kind === "failed" ? `was refused (${create.outcome.reason})` : `names another seller`}`,
        operations: create === null ? [] : [create],
      });
    }
  }
}

function checkAuction(record: AuctionRecord, context: Context): void {
  const final = record.final;
  const byKey = groupByKey(record.bids);
  if (final === null) {
    // No node has the auction: only bids refused as unknown-auction or never answered are right.
    for (const op of record.bids) {
      if (op.outcome.kind === "ok") {
        context.report({
          kind: "acknowledged-bid-missing",
          auctionId: record.id,
          message: `bid ${op.bidId} was acknowledged on auction ${record.id}, which no node has`,
          operations: [op],
        });
      }
    }
    return;
  }
  checkFinalBids(record.id, final, byKey, context);
  checkClosing(record.id, final, byKey, context);
  const replay = replayAuction(record, final, byKey, context);
  if (replay !== null) {
    checkAcks(record.id, byKey, replay, context);
    checkRejections(record, final, byKey, replay, context);
  }
  checkReads(record, final, context);
  checkMissingReads(record, context);
}

/** Bid operations by idempotency key (bidder, bidId), attempts in order. */
function groupByKey(bids: BidOperation[]): Map<string, BidOperation[]> {
  const byKey = new Map<string, BidOperation[]>();
  for (const op of bids) {
    const key = bidKey(op.bidder, op.bidId);
    const list = byKey.get(key) ?? [];
    list.push(op);
    byKey.set(key, list);
  }
  return byKey;
}

/** The lines clients placed (the engine's automatic lines excluded), in history order. */
function placedLines(final: FinalAuction): FinalBidLine[] {
  return final.bids.filter((line) => !line.automatic);
}

/**
 * Every acknowledged bid is in the final state; every bid in it was acknowledged or had an unknown
 * attempt, with the amount a client sent; no bid key appears twice.
 */
function checkFinalBids(
  auctionId: string,
  final: FinalAuction,
  byKey: Map<string, BidOperation[]>,
  context: Context,
): void {
  const seen = new Map<string, FinalBidLine>();
  for (const line of placedLines(final)) {
    const key = bidKey(line.bidder, line.bidId);
    const attempts = byKey.get(key) ?? [];
    if (seen.has(key)) {
      context.report({
        kind: "bid-applied-twice",
        auctionId,
        message: `bid ${line.bidId} of ${line.bidder} is in the history twice (at ${seen.get(key)!.at} and ${line.at})`,
        operations: attempts,
      });
      continue;
    }
    seen.set(key, line);
    const possible = attempts.filter((op) => op.outcome.kind !== "failed");
    if (possible.length === 0) {
      const reasons = attempts.map((op) => (op.outcome.kind === "failed" ? op.outcome.reason : "?"));
      context.report({
        kind: "unexplained-bid",
        auctionId,
        message:
          attempts.length === 0
            ? `bid ${line.bidId} of ${line.bidder} (${line.amount}) is in the history but no client sent it`
            : `bid ${line.bidId} of ${line.bidder} is in the history but every attempt was refused (${reasons.join(", ")})`,
        operations: attempts,
      });
    } else if (possible.some((op) => op.amount !== line.amount)) {
      context.report({
        kind: "unexplained-bid",
        auctionId,
        message: `bid ${line.bidId} of ${line.bidder} is in the history at ${line.amount}, but was sent at ${possible[0]!.amount}`,
        operations: attempts,
      });
    }
  }
  for (const [key, attempts] of byKey) {
    const acked = attempts.find((op) => op.outcome.kind === "ok");
    if (acked !== undefined && !seen.has(key)) {
      context.report({
        kind: "acknowledged-bid-missing",
        auctionId,
        message: `bid ${acked.bidId} of ${acked.bidder} (${acked.amount}) was acknowledged but is not in the final state`,
        operations: attempts,
      });
    }
  }
}

/** What the engine computed for one placed bid during the replay. */
interface ReplayedBid {
  line: FinalBidLine;
  priceAfter: number;
  leaderAfter: string;
  minimumAfter: number;
}

interface Replay {
  bids: Map<string, ReplayedBid>;
  /** The placed bids in order, with the minimum next bid after each. */
  sequence: ReplayedBid[];
}

/**
 * Replays the final state's placed bids through the real engine with their stamps and the maxima
 * the clients sent, and checks that it reproduces the history lines, price, leader, closing time
 * and outcome. Null when the replay cannot run (a violation says why).
 */
function replayAuction(
  record: AuctionRecord,
  final: FinalAuction,
  byKey: Map<string, BidOperation[]>,
  context: Context,
): Replay | null {
  const create = record.create;
  if (create === null) return null; // reported as unexplained-auction
  const mismatch = (message: string, operations: Operation[] = []) => {
    context.report({ kind: "engine-mismatch", auctionId: record.id, message, operations });
    return null;
  };
  const book = new AuctionBook();
  const created = book.execute({
    type: "create-auction",
    timestampMs: final.opensAt,
    auctionId: record.id,
    seller: final.seller,
    title: final.title,
    description: "",
    currency: "EUR",
    startingPrice: create.terms.startingPrice,
    reservePrice: create.terms.reservePrice,
    buyNowPrice: create.terms.buyNowPrice,
    increment: { type: "fixed", amount: create.terms.minIncrement },
    opensAt: final.opensAt,
    closesAt: final.originalClosesAt,
    softClose: create.terms.softClose,
  });
  if (!created.ok) return mismatch(`the engine refuses to create the auction: ${created.message}`, [create]);
  const auction = book.get(record.id)!;
  const replay: Replay = { bids: new Map(), sequence: [] };
  for (const line of placedLines(final)) {
    const key = bidKey(line.bidder, line.bidId);
    if (replay.bids.has(key)) continue; // reported as bid-applied-twice
    const attempts = byKey.get(key) ?? [];
    const sent = attempts.find((op) => op.outcome.kind !== "failed") ?? attempts[0];
    if (sent === undefined) return null; // reported as unexplained-bid
    if (line.at < book.lastTimestampMs) return mismatch(`bid ${line.bidId}'s stamp goes backwards`, attempts);
    const outcome = book.execute({
      type: "place-bid",
      timestampMs: line.at,
      auctionId: record.id,
      bidder: line.bidder,
      bidId: line.bidId,
      amount: line.amount,
      max: sent.max,
    });
    if (!outcome.ok) {
      return mismatch(
        `the engine refuses bid ${line.bidId} at its stamp ${line.at}: ${outcome.message}`,
        attempts,
      );
    }
    const replayed = {
      line,
      priceAfter: outcome.bid!.priceAfter,
      leaderAfter: outcome.bid!.leaderAfter,
      minimumAfter: minimumBid(auction),
    };
    replay.bids.set(key, replayed);
    replay.sequence.push(replayed);
  }
  const problem = compareWithFinal(book, auction, final);
  return problem === null ? replay : mismatch(problem);
}

/** Closes the replayed auction if the final one is closed, and says how the two differ, if they do. */
function compareWithFinal(book: AuctionBook, auction: Auction, final: FinalAuction): string | null {
  const finalEnded = final.status === "closed";
  if (finalEnded && auction.phase === "active") {
    const closed = book.execute({
      type: "close-auction",
      timestampMs: Math.max(auction.closesAt, book.lastTimestampMs),
      auctionId: auction.id,
    });
    if (!closed.ok) return `the engine refuses to close the auction: ${closed.message}`;
  }
  const lines = auction.bids.map((line) => ({
    bidId: line.bidId,
    bidder: line.bidder,
    amount: line.amount,
    at: line.timestampMs,
    automatic: line.automatic,
  }));
  const expected = {
    ended: auction.phase === "closed",
    price: auction.price,
    highBidder: auction.leader,
    closesAt: auction.closesAt,
    outcome: auction.outcome,
    lines,
  };
  const actual = {
    ended: finalEnded,
    price: final.price,
    highBidder: final.highBidder,
    closesAt: final.closesAt,
    outcome: final.outcome,
    lines: final.bids.map((line) => ({
      bidId: line.bidId,
      bidder: line.bidder,
      amount: line.amount,
      at: line.at,
      automatic: line.automatic,
    })),
  };
  for (const field of Object.keys(expected) as (keyof typeof expected)[]) {
    const want = canonical(expected[field]);
    const got = canonical(actual[field]);
    if (want !== got) return `${field}: the engine gives ${want}, the nodes report ${got}`;
  }
  return null;
}

/** JSON with object keys sorted, for comparing values whose key order may differ. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(
          Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : inner,
  );
}

/** The stamp of the bid that bought the auction at once, or null. */
function buyNowStamp(final: FinalAuction): number | null {
  if (final.outcome?.result !== "sold" || final.outcome.reason !== "buy-now") return null;
  return placedLines(final).at(-1)?.at ?? null;
}

/**
 * No bid is acknowledged after its auction closed: its stamp is before the closing time, it was
 * first sent before it (stamps are never earlier than the request), and not after a buy-now.
 */
function checkClosing(
  auctionId: string,
  final: FinalAuction,
  byKey: Map<string, BidOperation[]>,
  context: Context,
): void {
  const boughtAt = buyNowStamp(final);
  for (const attempts of byKey.values()) {
    const firstInvokedAt = attempts[0]!.invokedAt;
    const acked = attempts.find((op) => op.outcome.kind === "ok" && op.ack !== null);
    if (acked === undefined) continue;
    const at = acked.ack!.at;
    let problem: string | null = null;
    if (at >= final.closesAt || firstInvokedAt >= final.closesAt + context.stampLagMs) {
      problem = `the auction closed at ${final.closesAt}`;
    } else if (boughtAt !== null && at > boughtAt) {
      problem = `the auction was bought at ${boughtAt}`;
    }
    if (problem === null) continue;
    context.report({
      kind: "bid-after-close",
      auctionId,
      message: `bid ${acked.bidId} was acknowledged (stamp ${at}, first sent at ${firstInvokedAt}) but ${problem}`,
      operations: attempts,
    });
  }
}

/**
 * An acknowledgement states the bid's stamp and the price and leader right after it: they must be
 * the final state's, the stamp must lie within the operation's interval (the nodes share the
 * runner's clock).
 */
function checkAcks(
  auctionId: string,
  byKey: Map<string, BidOperation[]>,
  replay: Replay,
  context: Context,
): void {
  const tolerance = context.toleranceMs;
  for (const [key, attempts] of byKey) {
    const replayed = replay.bids.get(key);
    const firstInvokedAt = attempts[0]!.invokedAt;
    for (const op of attempts) {
      if (op.outcome.kind !== "ok" || op.ack === null || replayed === undefined) continue;
      const report = (kind: ViolationKind, message: string) =>
        context.report({ kind, auctionId, message, operations: attempts });
      if (op.ack.at !== replayed.line.at) {
        report(
          "ack-mismatch",
          `bid ${op.bidId} was acknowledged at ${op.ack.at}, the history has it at ${replayed.line.at}`,
        );
      } else if (op.ack.at < firstInvokedAt - context.stampLagMs || op.ack.at > op.completedAt + tolerance) {
        report(
          "ack-mismatch",
          `bid ${op.bidId} was stamped ${op.ack.at}, outside its attempts' interval [${firstInvokedAt}, ${op.completedAt}]`,
        );
      }
      if (op.ack.price !== replayed.priceAfter || op.ack.highBidder !== replayed.leaderAfter) {
        report(
          "ack-mismatch",
          `bid ${op.bidId} was acknowledged with price ${op.ack.price} led by ${op.ack.highBidder}; the history gives ${replayed.priceAfter} led by ${replayed.leaderAfter}`,
        );
      }
    }
  }
}

/** Every definite rejection must be explained by the history at some moment of its interval. */
function checkRejections(
  record: AuctionRecord,
  final: FinalAuction,
  byKey: Map<string, BidOperation[]>,
  replay: Replay,
  context: Context,
): void {
  for (const op of record.bids) {
    if (op.outcome.kind !== "failed" || refusalStatuses.has(op.outcome.status)) continue;
    const why = rejectionProblem(op, op.outcome.reason, final, byKey, replay, context);
    if (why === null) continue;
    context.report({
      kind: "wrong-rejection",
      auctionId: record.id,
      message: `bid ${op.bidId} of ${op.bidder} (${op.amount}) was refused as ${op.outcome.reason}, but ${why}`,
      operations: [op],
    });
  }
}

/** Null if `reason` is right for `op` at some moment of its interval, else why it is not. */
function rejectionProblem(
  op: BidOperation,
  reason: string,
  final: FinalAuction,
  byKey: Map<string, BidOperation[]>,
  replay: Replay,
  context: Context,
): string | null {
  const tolerance = context.toleranceMs;
  const completedBy = op.completedAt + tolerance;
  switch (reason) {
    case "below-minimum": {
      // Rejections rest on committed state: the minimum must have exceeded the amount by a bid
      // stamped (so appended) before the rejection was answered.
      if (final.startingPrice > op.amount) return null;
      const raising = replay.sequence.find((bid) => bid.minimumAfter > op.amount);
      if (raising !== undefined && raising.line.at <= completedBy) return null;
      return raising === undefined
        ? `the minimum never exceeded it (final minimum ${replay.sequence.at(-1)?.minimumAfter ?? final.startingPrice})`
        : `the first bid that raised the minimum above it (${raising.line.bidId}) was stamped ${raising.line.at}, after the answer at ${op.completedAt}`;
    }
    case "auction-closed":
      if (final.closesAt <= completedBy) return null;
      if ((buyNowStamp(final) ?? Infinity) <= completedBy) return null;
      return `the auction closes at ${final.closesAt}, after the answer at ${op.completedAt}`;
    case "auction-cancelled":
      return final.status === "cancelled" ? null : "the auction was never cancelled";
    case "not-open":
      return final.opensAt > op.invokedAt - context.stampLagMs
        ? null
        : `the auction opened at ${final.opensAt}`;
    case "own-auction":
      return op.bidder === final.seller ? null : `the seller is ${final.seller}`;
    case "bid-id-reused": {
      const others = byKey.get(bidKey(op.bidder, op.bidId)) ?? [];
      const differs = others.some((other) => other.amount !== op.amount || other.max !== op.max);
      return differs ? null : "no other bid with that id carried another amount or maximum";
    }
    case "too-many-bids":
      return placedLines(final).length >= context.bidsPerAuctionMax
        ? null
        : "the auction is far from its limit";
    case "unknown-auction":
      return "the auction exists";
    default:
      return "no rule of the engine explains it";
  }
}

/**
 * Reads in real-time order never go backwards: a read that began after another read ended (on the
 * same node: `price-went-backwards`; on another: `stale-read`), or after a bid was acknowledged,
 * reports at least that price and version. The final state is at least every read.
 */
function checkReads(record: AuctionRecord, final: FinalAuction, context: Context): void {
  const reads = record.reads.filter((op) => op.outcome.kind === "ok" && op.result !== null);
  const priceOf = (op: ReadOperation) => op.result!.price ?? 0;
  const observations = (ops: ReadOperation[]) =>
    ops.map((op) => ({ op, price: priceOf(op), version: op.result!.version }));
  const acks = record.bids
    .filter((op) => op.outcome.kind === "ok" && op.ack !== null)
    .map((op) => ({ op, price: op.ack!.price, version: 0 }));
  const everywhere = new PrefixMaxima(observations(reads));
  const byNode = new Map<number, PrefixMaxima>();
  for (const node of new Set(reads.map((op) => op.node))) {
    byNode.set(node, new PrefixMaxima(observations(reads.filter((op) => op.node === node))));
  }
  const acknowledged = new PrefixMaxima(acks);
  const report = (kind: ViolationKind, message: string, operations: Operation[]) =>
    context.report({ kind, auctionId: record.id, message, operations });
  const describe = (op: Operation) =>
    op.type === "read"
      ? `price ${op.result!.price} version ${op.result!.version} on node ${op.node}`
      : `the acknowledgement of ${describeOperation(op)}`;
  for (const read of reads) {
    const price = priceOf(read);
    const version = read.result!.version;
    const now = `price ${read.result!.price} version ${version}`;
    const onNode = byNode.get(read.node)!.exceeding(read.invokedAt, price, version);
    const anywhere = everywhere.exceeding(read.invokedAt, price, version);
    const ack = acknowledged.exceeding(read.invokedAt, price, Infinity);
    if (onNode !== null) {
      report("price-went-backwards", `node ${read.node} reported ${now} after ${describe(onNode)}`, [
        onNode,
        read,
      ]);
    } else if (anywhere !== null) {
      report("stale-read", `node ${read.node} reported ${now} after ${describe(anywhere)}`, [anywhere, read]);
    } else if (ack !== null) {
      report("stale-read", `node ${read.node} reported ${now} after ${describe(ack)}`, [ack, read]);
    }
    if (price > (final.price ?? 0) || version > final.version) {
      report("price-went-backwards", `node ${read.node} reported ${now}, beyond the final state's`, [read]);
    }
  }
}

/** A read that began after the auction's creation was acknowledged must find it (404 is stale). */
function checkMissingReads(record: AuctionRecord, context: Context): void {
  const create = record.create;
  if (create === null || create.outcome.kind !== "ok") return;
  for (const op of record.reads) {
    if (op.outcome.kind !== "failed" || op.outcome.status !== 404) continue;
    if (op.invokedAt <= create.completedAt) continue;
    context.report({
      kind: "stale-read",
      auctionId: record.id,
      message: `node ${op.node} answered that auction ${record.id} does not exist, after its creation was acknowledged`,
      operations: [create, op],
    });
  }
}

/**
 * Observations sorted by completion, with running maxima of price and version, so that "the
 * highest seen by anything completed before t" is a binary search.
 */
class PrefixMaxima {
  private readonly completions: number[];
  private readonly maxPrice: { value: number; op: Operation }[] = [];
  private readonly maxVersion: { value: number; op: Operation }[] = [];

  constructor(observations: { op: Operation; price: number; version: number }[]) {
    const sorted = [...observations].sort((a, b) => a.op.completedAt - b.op.completedAt);
    this.completions = sorted.map((entry) => entry.op.completedAt);
    for (const [index, entry] of sorted.entries()) {
      const price = this.maxPrice[index - 1];
      const version = this.maxVersion[index - 1];
      this.maxPrice.push(
        price !== undefined && price.value >= entry.price ? price : { value: entry.price, op: entry.op },
      );
      this.maxVersion.push(
        version !== undefined && version.value >= entry.version
          ? version
          : { value: entry.version, op: entry.op },
      );
    }
  }

  /** An operation completed before `time` that saw a higher price or version, or null. */
  exceeding(time: number, price: number, version: number): Operation | null {
    let low = 0;
    let high = this.completions.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.completions[middle]! < time) low = middle + 1;
      else high = middle;
    }
    if (low === 0) return null;
    if (this.maxPrice[low - 1]!.value > price) return this.maxPrice[low - 1]!.op;
    if (this.maxVersion[low - 1]!.value > version) return this.maxVersion[low - 1]!.op;
    return null;
  }
}

/** Every node that reports an ended auction reports the same one, and every readable node has it. */
function checkAgreement(states: { node: number; auctions: FinalAuction[] }[], context: Context): void {
  const byId = new Map<string, Map<number, FinalAuction>>();
  for (const state of states) {
    for (const auction of state.auctions) {
      const nodes = byId.get(auction.id) ?? new Map<number, FinalAuction>();
      nodes.set(state.node, auction);
      byId.set(auction.id, nodes);
    }
  }
  const essence = (auction: FinalAuction) =>
    canonical({
      status: auction.status,
      price: auction.price,
      highBidder: auction.highBidder,
      closesAt: auction.closesAt,
      outcome: auction.outcome,
      version: auction.version,
      bids: auction.bids,
    });
  for (const [auctionId, nodes] of byId) {
    const ended = [...nodes.values()].filter(
      (auction) => auction.status === "closed" || auction.status === "cancelled",
    );
    if (ended.length === 0) continue;
    const reference = essence(ended[0]!);
    const differing = states.filter((state) => {
      const auction = nodes.get(state.node);
      return auction === undefined || essence(auction) !== reference;
    });
    if (differing.length === 0) continue;
    const referenceNode = [...nodes].find(([, auction]) => auction === ended[0])![0];
    const detail = differing
      .map((state) => {
        const auction = nodes.get(state.node);
        if (auction === undefined) return `node ${state.node} does not have it`;
        return `node ${state.node} reports ${auction.status} at ${auction.price} to ${auction.highBidder} (version ${auction.version}, ${auction.bids.length} lines)`;
      })
      .join("; ");
    const mine = ended[0]!;
    context.report({
      kind: "node-disagreement",
      auctionId,
      message: `node ${referenceNode} reports it ${mine.status} at ${mine.price} to ${mine.highBidder} (version ${mine.version}, ${mine.bids.length} lines); ${detail}`,
      operations: [],
    });
  }
}

/** One line describing an operation, for reports. */
export function describeOperation(op: Operation): string {
  const outcome =
    op.outcome.kind === "ok"
      ? "ok"
      : op.outcome.kind === "failed"
        ? `failed ${op.outcome.status} ${op.outcome.reason}`
        : `unknown (${op.outcome.reason})`;
  const where = `#${op.id} client ${op.client} node ${op.node} [${op.invokedAt}..${op.completedAt}]`;
  switch (op.type) {
    case "register":
      return `${where} register ${op.name}: ${outcome}`;
    case "create":
      return `${where} create "${op.title}" by ${op.seller} -> ${op.auctionId ?? "?"}: ${outcome}`;
    case "bid": {
      const ack =
        op.ack === null ? "" : ` (at ${op.ack.at}, price ${op.ack.price}, high ${op.ack.highBidder})`;
      const max = op.max === null ? "" : ` max ${op.max}`;
      return `${where} bid ${op.bidId} attempt ${op.attempt} by ${op.bidder} on ${op.auctionId}: ${op.amount}${max}: ${outcome}${ack}`;
    }
    case "read": {
      const result =
        op.result === null
          ? ""
          : ` -> price ${op.result.price} version ${op.result.version} ${op.result.status}`;
      return `${where} read ${op.auctionId}: ${outcome}${result}`;
    }
  }
}
