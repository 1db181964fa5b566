// The chaos history checker on hand-made histories: a clean one (with unknown outcomes applied and
// not applied, proxies, a buy-now, right rejections, concurrent reads) passes, and each kind of
// violation, planted in a copy, is reported. Pure and fast (well under a second).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkHistory, describeOperation } from "../../src/chaos/checker.js";
import type { ViolationKind } from "../../src/chaos/checker.js";
import type {
  AuctionTerms,
  BidOperation,
  CreateOperation,
  FinalAuction,
  FinalBidLine,
  History,
  Operation,
  OperationOutcome,
  ReadOperation,
} from "../../src/chaos/history.js";

const ok: OperationOutcome = { kind: "ok" };
const timeout: OperationOutcome = { kind: "unknown", reason: "timeout" };
const failed = (status: number, reason: string): OperationOutcome => ({ kind: "failed", status, reason });

let nextId = 0;
function base(node: number, invokedAt: number, completedAt: number, outcome: OperationOutcome) {
  return { id: nextId++, client: nextId % 7, node, invokedAt, completedAt, outcome };
}

function create(
  title: string,
  auctionId: string | null,
  terms: AuctionTerms,
  outcome: OperationOutcome = ok,
): CreateOperation {
  return {
    ...base(1, 9_000, 9_100, outcome),
    type: "create",
    seller: "sam",
    title,
    terms,
    durationMs: 10_000,
    auctionId,
  };
}

function bid(
  auctionId: string,
  bidder: string,
  bidId: string,
  amount: number,
  interval: [number, number],
  outcome: OperationOutcome,
  extra: { max?: number; attempt?: number; ack?: BidOperation["ack"] } = {},
): BidOperation {
  return {
    ...base(2, interval[0], interval[1], outcome),
    type: "bid",
    auctionId,
    bidder,
    bidId,
    amount,
    max: extra.max ?? null,
    attempt: extra.attempt ?? 1,
    ack: extra.ack ?? null,
  };
}

function read(
  auctionId: string,
  node: number,
  interval: [number, number],
  price: number | null,
  version: number,
  status = "open",
): ReadOperation {
  return {
    ...base(node, interval[0], interval[1], ok),
    type: "read",
    auctionId,
    result: { price, version, status, bidCount: 0 },
  };
}

const line = (
  bidder: string,
  bidId: string,
  amount: number,
  at: number,
  automatic = false,
): FinalBidLine => ({
  bidId,
  bidder,
  amount,
  at,
  automatic,
});

/**
 * Auction A: plain bids, 1000 + 100 steps, closed at 20,000 and sold to cat at 1300 (cat's bid had
 * no answer but landed; eve's had none and did not). Auction B: proxies and a buy-now at 2000.
 * Auction C: created without an answer, still open, no bids.
 */
function cleanHistory(): History {
  nextId = 0;
  const plain: AuctionTerms = {
    startingPrice: 1000,
    minIncrement: 100,
    reservePrice: null,
    buyNowPrice: null,
    softClose: null,
  };
  const proxy: AuctionTerms = {
    startingPrice: 500,
    minIncrement: 50,
    reservePrice: null,
    buyNowPrice: 2000,
    softClose: { windowMs: 5_000, extensionMs: 5_000, maxExtensionMs: 10_000 },
  };
  const operations: Operation[] = [
    { ...base(1, 8_000, 8_050, ok), type: "register", name: "sam" },
    create("A", "A", plain),
    create("B", "B", proxy),
    create("C", null, plain, timeout),
    bid("A", "ann", "b1", 1000, [10_100, 10_150], ok, {
      ack: { at: 10_120, price: 1000, highBidder: "ann" },
    }),
    read("A", 1, [10_130, 10_160], 1000, 2),
    bid("A", "bob", "b2", 1200, [10_200, 15_300], timeout),
    read("A", 2, [10_300, 10_310], 1200, 3),
    bid("A", "cat", "b3", 1300, [11_000, 16_000], { kind: "unknown", reason: "504 outcome-unknown" }),
    read("A", 1, [11_100, 11_120], 1300, 4),
    read("A", 3, [10_140, 10_200], 1000, 2), // concurrent with b2's append: may see either price
    bid("A", "dan", "b4", 1350, [11_500, 11_600], failed(409, "below-minimum")),
    bid("A", "eve", "b5", 1500, [12_000, 17_000], timeout),
    bid("A", "ann", "b6", 1600, [12_500, 12_520], failed(503, "unavailable")),
    bid("A", "bob", "b2", 1200, [15_400, 15_450], ok, {
      attempt: 2,
      ack: { at: 10_250, price: 1200, highBidder: "bob" },
    }),
    bid("A", "bob", "b7", 1500, [21_000, 21_050], failed(410, "auction-closed")),
    read("A", 3, [21_100, 21_110], 1300, 5, "closed"),
    bid("B", "ann", "p1", 500, [10_100, 10_130], ok, {
      max: 1000,
      ack: { at: 10_110, price: 500, highBidder: "ann" },
    }),
    bid("B", "bob", "p2", 700, [10_200, 10_230], ok, { ack: { at: 10_210, price: 750, highBidder: "ann" } }),
    bid("B", "dan", "p0", 500, [10_205, 10_240], failed(409, "below-minimum")),
    bid("B", "cat", "p3", 2000, [26_000, 26_030], ok, {
      ack: { at: 26_010, price: 2000, highBidder: "cat" },
    }),
    bid("B", "dan", "p4", 2100, [26_100, 26_120], failed(410, "auction-closed")),
  ];
  const auctionA: FinalAuction = {
    id: "A",
    title: "A",
    seller: "sam",
    status: "closed",
    startingPrice: 1000,
    price: 1300,
    highBidder: "cat",
    buyNowPrice: null,
    opensAt: 10_000,
    closesAt: 20_000,
    originalClosesAt: 20_000,
    outcome: { result: "sold", winner: "cat", price: 1300, reason: "deadline" },
    version: 5,
    bids: [line("ann", "b1", 1000, 10_120), line("bob", "b2", 1200, 10_250), line("cat", "b3", 1300, 11_010)],
  };
  const auctionB: FinalAuction = {
    id: "B",
    title: "B",
    seller: "sam",
    status: "closed",
    startingPrice: 500,
    price: 2000,
    highBidder: "cat",
    buyNowPrice: 2000,
    opensAt: 10_000,
    closesAt: 30_000,
    originalClosesAt: 30_000,
    outcome: { result: "sold", winner: "cat", price: 2000, reason: "buy-now" },
    version: 5,
    bids: [
      line("ann", "p1", 500, 10_110),
      line("bob", "p2", 700, 10_210),
      line("ann", "p1", 750, 10_210, true),
      line("cat", "p3", 2000, 26_010),
    ],
  };
  const auctionC: FinalAuction = {
    ...auctionA,
    id: "C",
    title: "C",
    status: "open",
    price: null,
    highBidder: null,
    closesAt: 90_000,
    originalClosesAt: 90_000,
    outcome: null,
    version: 1,
    bids: [],
  };
  const finals = () => [structuredClone(auctionA), structuredClone(auctionB), structuredClone(auctionC)];
  return {
    operations,
    finalStates: [1, 2, 3].map((node) => ({ node, auctions: finals() })),
  };
}

/** Applies `change` to auction `id` on every node. */
function onEveryNode(history: History, id: string, change: (auction: FinalAuction) => void): void {
  for (const state of history.finalStates) {
    const auction = state.auctions?.find((entry) => entry.id === id);
    if (auction !== undefined) change(auction);
  }
}

function bidOp(history: History, bidId: string, attempt = 1): BidOperation {
  const found = history.operations.find(
    (op): op is BidOperation => op.type === "bid" && op.bidId === bidId && op.attempt === attempt,
  );
  assert.ok(found, `no bid ${bidId}`);
  return found;
}

function kinds(history: History): ViolationKind[] {
  return [...new Set(checkHistory(history).violations.map((violation) => violation.kind))].sort();
}

/** Asserts the only kinds reported are `expected`, and shows the messages when not. */
function assertKinds(history: History, expected: ViolationKind[]): void {
  const result = checkHistory(history);
  const found = [...new Set(result.violations.map((violation) => violation.kind))].sort();
  assert.deepEqual(
    found,
    [...expected].sort(),
    result.violations.map((v) => `${v.kind}: ${v.message}`).join("\n"),
  );
}

describe("chaos checker: a clean history", () => {
  it("passes, with counts of every outcome", () => {
    const history = cleanHistory();
    const result = checkHistory(history);
    assert.deepEqual(result.violations, []);
    assert.equal(result.operations, history.operations.length);
    assert.equal(result.acknowledged + result.unknown + result.failed, result.operations);
    assert.equal(result.unknown, 4);
    assert.equal(result.failed, 5);
  });

  it("accepts a final state where an unknown bid did not land", () => {
    const history = cleanHistory();
    // Without cat's bid, dan's 1350 would have been above the minimum: drop dan's rejection too.
    history.operations = history.operations.filter((op) => !(op.type === "bid" && op.bidId === "b4"));
    onEveryNode(history, "A", (auction) => {
      auction.bids.pop();
      auction.price = 1200;
      auction.highBidder = "bob";
      auction.outcome = { result: "sold", winner: "bob", price: 1200, reason: "deadline" };
      auction.version = 4;
    });
    for (const op of history.operations)
      if (op.type === "read" && op.result!.price === 1300) op.result!.price = 1200;
    for (const op of history.operations)
      if (op.type === "read" && op.result!.version > 3) op.result!.version = 3;
    assertKinds(history, []);
  });

  it("accepts an unknown bid that landed in the final state", () => {
    const history = cleanHistory();
    onEveryNode(history, "A", (auction) => {
      auction.bids.push(line("eve", "b5", 1500, 12_010));
      auction.price = 1500;
      auction.highBidder = "eve";
      auction.outcome = { result: "sold", winner: "eve", price: 1500, reason: "deadline" };
      auction.version = 6;
    });
    assertKinds(history, []);
  });

  it("describes operations on one line", () => {
    const history = cleanHistory();
    for (const op of history.operations) assert.doesNotMatch(describeOperation(op), /\n/);
    assert.match(
      describeOperation(bidOp(history, "b2", 2)),
      /bid b2 attempt 2 by bob on A: 1200: ok \(at 10250/,
    );
  });
});

describe("chaos checker: each violation is found", () => {
  it("an acknowledged bid missing from the final state", () => {
    const history = cleanHistory();
    onEveryNode(history, "A", (auction) => {
      auction.bids.splice(1, 1); // bob's acknowledged 1200
      auction.version = 4;
    });
    assert.ok(kinds(history).includes("acknowledged-bid-missing"));
  });

  it("a bid that every attempt saw refused, or that no client sent, or with another amount", () => {
    const refused = cleanHistory();
    onEveryNode(refused, "A", (auction) => {
      auction.bids.push(line("ann", "b6", 1600, 12_510)); // its only attempt got a 503
      auction.price = 1600;
      auction.highBidder = "ann";
      auction.outcome = { result: "sold", winner: "ann", price: 1600, reason: "deadline" };
      auction.version = 6;
    });
    assertKinds(refused, ["unexplained-bid"]);

    const invented = cleanHistory();
    onEveryNode(invented, "A", (auction) => {
      auction.bids.push(line("zed", "z1", 1600, 12_510));
      auction.price = 1600;
      auction.highBidder = "zed";
      auction.outcome = { result: "sold", winner: "zed", price: 1600, reason: "deadline" };
      auction.version = 6;
    });
    assert.ok(kinds(invented).includes("unexplained-bid"));

    const altered = cleanHistory();
    onEveryNode(altered, "A", (auction) => {
      auction.bids.push(line("eve", "b5", 1600, 12_010)); // eve sent 1500
      auction.price = 1600;
      auction.highBidder = "eve";
      auction.outcome = { result: "sold", winner: "eve", price: 1600, reason: "deadline" };
      auction.version = 6;
    });
    assertKinds(altered, ["unexplained-bid"]);
  });

  it("a bid applied twice", () => {
    const history = cleanHistory();
    onEveryNode(history, "A", (auction) => {
      auction.bids.push(line("cat", "b3", 1400, 12_000));
      auction.price = 1400;
      auction.outcome = { result: "sold", winner: "cat", price: 1400, reason: "deadline" };
    });
    assert.ok(kinds(history).includes("bid-applied-twice"));
  });

  it("a final state the engine does not produce: price, winner, a line below the minimum, the outcome, the proxy", () => {
    const price = cleanHistory();
    onEveryNode(price, "A", (auction) => (auction.price = 1400));
    assertKinds(price, ["engine-mismatch"]);

    const winner = cleanHistory();
    onEveryNode(winner, "A", (auction) => {
      auction.highBidder = "bob";
      auction.outcome = { result: "sold", winner: "bob", price: 1300, reason: "deadline" };
    });
    assertKinds(winner, ["engine-mismatch"]);

    const belowMinimum = cleanHistory();
    const eve = bidOp(belowMinimum, "b5");
    eve.amount = 1350;
    onEveryNode(belowMinimum, "A", (auction) => {
      auction.bids.push(line("eve", "b5", 1350, 12_010)); // the minimum after 1300 is 1400
      auction.price = 1350;
      auction.highBidder = "eve";
      auction.outcome = { result: "sold", winner: "eve", price: 1350, reason: "deadline" };
      auction.version = 6;
    });
    assertKinds(belowMinimum, ["engine-mismatch"]);

    const unsold = cleanHistory();
    onEveryNode(
      unsold,
      "A",
      (auction) => (auction.outcome = { result: "unsold", reason: "deadline", reserveMet: true }),
    );
    assertKinds(unsold, ["engine-mismatch"]);

    const noProxyLine = cleanHistory();
    onEveryNode(noProxyLine, "B", (auction) => auction.bids.splice(2, 1)); // ann's automatic 750
    assertKinds(noProxyLine, ["engine-mismatch"]);

    const extended = cleanHistory();
    onEveryNode(extended, "A", (auction) => (auction.closesAt = 25_000)); // A has no soft close
    assertKinds(extended, ["engine-mismatch"]);
  });

  it("an acknowledgement that disagrees with the history or lies outside its interval", () => {
    const price = cleanHistory();
    bidOp(price, "p2").ack!.price = 700;
    assertKinds(price, ["ack-mismatch"]);

    const stamp = cleanHistory();
    bidOp(stamp, "b1").ack!.at = 10_121;
    assertKinds(stamp, ["ack-mismatch"]);

    const early = cleanHistory();
    // Stamped long before the client sent it: a stamp trails the real time by a tick or so, not more.
    const b1 = bidOp(early, "b1");
    b1.invokedAt = 10_120 + 2_001; // more than the stamp lag allowed (2 s)
    b1.completedAt = 12_200;
    assertKinds(early, ["ack-mismatch"]);
  });

  it("a bid acknowledged after the auction closed or was bought", () => {
    const late = cleanHistory();
    const b7 = bidOp(late, "b7");
    b7.outcome = ok;
    b7.ack = { at: 21_010, price: 1500, highBidder: "bob" };
    assert.ok(kinds(late).includes("bid-after-close"));

    const sentAfterClose = cleanHistory(); // a stamp before the close cannot belong to a bid sent 2 s after it
    const late7 = bidOp(sentAfterClose, "b7");
    late7.invokedAt = 22_001;
    late7.completedAt = 22_050;
    late7.outcome = ok;
    late7.ack = { at: 19_990, price: 1500, highBidder: "bob" };
    assert.ok(kinds(sentAfterClose).includes("bid-after-close"));

    const afterBuyNow = cleanHistory();
    const p4 = bidOp(afterBuyNow, "p4");
    p4.outcome = ok;
    p4.ack = { at: 26_110, price: 2100, highBidder: "dan" };
    assert.ok(kinds(afterBuyNow).includes("bid-after-close"));
  });

  it("a rejection no moment of its interval explains", () => {
    const notBelow = cleanHistory();
    bidOp(notBelow, "b4").amount = 1400; // the minimum after 1300 is exactly 1400
    assertKinds(notBelow, ["wrong-rejection"]);

    const tooEarly = cleanHistory();
    const b4 = bidOp(tooEarly, "b4"); // answered before cat's bid was stamped
    b4.invokedAt = 10_500;
    b4.completedAt = 10_600;
    assertKinds(tooEarly, ["wrong-rejection"]);

    const notClosed = cleanHistory();
    const b7 = bidOp(notClosed, "b7");
    b7.invokedAt = 15_000;
    b7.completedAt = 15_050;
    assertKinds(notClosed, ["wrong-rejection"]);

    const notBought = cleanHistory();
    const p4 = bidOp(notBought, "p4");
    p4.invokedAt = 25_000;
    p4.completedAt = 25_050;
    assertKinds(notBought, ["wrong-rejection"]);

    for (const [status, reason] of [
      [404, "unknown-auction"],
      [400, "invalid-amount"],
      [401, "unauthenticated"],
      [403, "own-auction"],
      [422, "bid-id-reused"],
      [410, "auction-cancelled"],
      [409, "not-open"],
    ] as const) {
      const history = cleanHistory();
      const b4 = bidOp(history, "b4");
      b4.outcome = failed(status, reason);
      b4.invokedAt = 12_100; // over 2 s after the opening, beyond any stamp lag
      b4.completedAt = 12_150;
      assertKinds(history, ["wrong-rejection"]);
    }

    const refusals = cleanHistory();
    bidOp(refusals, "b4").outcome = failed(429, "rate-limited");
    bidOp(refusals, "b7").outcome = failed(503, "unavailable");
    bidOp(refusals, "b5").outcome = failed(0, "connection-refused");
    assertKinds(refusals, []);
  });

  it("reads that go backwards on one node, across nodes, or behind an acknowledged bid", () => {
    const sameNode = cleanHistory();
    sameNode.operations.push(read("A", 1, [11_200, 11_220], 1200, 3));
    assertKinds(sameNode, ["price-went-backwards"]);

    const otherNode = cleanHistory();
    otherNode.operations.push(read("A", 2, [11_200, 11_220], 1200, 3));
    assertKinds(otherNode, ["stale-read"]);

    const behindAck = cleanHistory();
    behindAck.operations.push(read("A", 3, [10_160, 10_170], null, 1));
    assertKinds(behindAck, ["stale-read"]);

    const notFound = cleanHistory();
    const missing = read("A", 2, [10_500, 10_510], null, 0);
    missing.outcome = failed(404, "unknown-auction");
    missing.result = null;
    notFound.operations.push(missing);
    assertKinds(notFound, ["stale-read"]);

    const beyondFinal = cleanHistory();
    beyondFinal.operations.push(read("A", 2, [22_000, 22_010], 1400, 6, "closed"));
    assertKinds(beyondFinal, ["price-went-backwards"]);

    const concurrent = cleanHistory();
    concurrent.operations.push(read("A", 1, [11_050, 11_150], 1200, 3)); // overlaps the 1300 read
    assertKinds(concurrent, []);
  });

  it("nodes that disagree on a closed auction, or lack it", () => {
    const winner = cleanHistory();
    const node3 = winner.finalStates[2]!.auctions!.find((auction) => auction.id === "A")!;
    node3.outcome = { result: "sold", winner: "bob", price: 1300, reason: "deadline" };
    assert.ok(kinds(winner).includes("node-disagreement"));

    const missing = cleanHistory();
    missing.finalStates[1]!.auctions = missing.finalStates[1]!.auctions!.filter(
      (auction) => auction.id !== "B",
    );
    assertKinds(missing, ["node-disagreement"]);

    const openDiffers = cleanHistory();
    openDiffers.finalStates[2]!.auctions!.find((auction) => auction.id === "C")!.closesAt = 95_000;
    assertKinds(openDiffers, []); // an open auction may still be moving
  });

  it("a node whose final state could not be read", () => {
    const history = cleanHistory();
    history.finalStates[2] = { node: 3, auctions: null, error: "connection refused" };
    assertKinds(history, ["final-state-unreadable"]);
  });

  it("an acknowledged auction that no node has, and an auction nobody created", () => {
    const lost = cleanHistory();
    for (const state of lost.finalStates)
      state.auctions = state.auctions!.filter((auction) => auction.id !== "B");
    assert.ok(kinds(lost).includes("acknowledged-auction-missing"));

    const refused = cleanHistory();
    const createC = refused.operations.find((op) => op.type === "create" && op.title === "C")!;
    createC.outcome = failed(503, "unavailable");
    assertKinds(refused, ["unexplained-auction"]);

    const twice = cleanHistory();
    for (const state of twice.finalStates)
      state.auctions!.push({ ...structuredClone(state.auctions![2]!), id: "C2" });
    assertKinds(twice, ["unexplained-auction"]);
  });

  it("a checker that exceeds its time budget", () => {
    let clock = 0;
    const result = checkHistory(cleanHistory(), { budgetMs: 10, now: () => (clock += 5) });
    assert.deepEqual(
      result.violations.map((violation) => violation.kind),
      ["checker-timeout"],
    );
    const relaxed = checkHistory(cleanHistory(), { budgetMs: 1_000_000, now: () => (clock += 5) });
    assert.deepEqual(relaxed.violations, []);
  });
});
