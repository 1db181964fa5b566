// The derived status (scheduled, open, closing, closed, cancelled), the never-decreasing stamps, and
// the state as a fold of the events: replaying them onto a fresh book reproduces it exactly.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AssertionError } from "../../../src/core/assert.js";
import { AuctionBook, auctionStatus } from "../../../src/core/auction/engine.js";
import { auctionView } from "../../../src/core/auction/view.js";
import {
  Harness,
  accepted,
  acceptedBid,
  bid,
  cancel,
  close,
  closesAt,
  create,
  during,
  opensAt,
  rejected,
  replay,
  seller,
} from "./fixtures.js";

describe("auctionStatus", () => {
  test("scheduled before opensAt, open until closesAt, then closing until the close is applied", () => {
    const harness = Harness.withAuction();
    const auction = harness.auction();
    assert.equal(auctionStatus(auction, opensAt - 1), "scheduled");
    assert.equal(auctionStatus(auction, opensAt), "open");
    assert.equal(auctionStatus(auction, closesAt - 1), "open");
    assert.equal(auctionStatus(auction, closesAt), "closing");
    accepted(harness.run(close(closesAt)));
    assert.equal(auctionStatus(auction, closesAt), "closed");
    assert.equal(auctionView(auction, closesAt).status, "closed");
  });

  test("closed as soon as a buy-now bid lands, before the closing time", () => {
    const harness = Harness.withAuction({ buyNowPrice: 500 });
    acceptedBid(harness.run(bid("ann", 500)));
    assert.equal(auctionStatus(harness.auction(), during), "closed");
  });

  test("cancelled, whatever the time", () => {
    const harness = Harness.withAuction();
    accepted(harness.run(cancel(seller, 10)));
    for (const nowMs of [0, opensAt, closesAt + 1]) {
      assert.equal(auctionStatus(harness.auction(), nowMs), "cancelled");
    }
  });
});

describe("stamps never decrease", () => {
  test("execute crashes on a command stamped before the previous one", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100, { at: 5_000 })));
    assert.throws(() => harness.run(bid("bob", 200, { at: 4_999 })), AssertionError);
    assert.throws(() => harness.runUnknown(bid("bob", 200, { at: 4_999 })), AssertionError);
  });

  test("a rejected command still moves the clock on", () => {
    const harness = Harness.withAuction();
    rejected(harness.run(bid("ann", 1, { at: 5_000 })), "below-minimum");
    assert.throws(() => harness.run(close(4_999)), AssertionError);
  });

  test("equal stamps are fine", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100, { at: 5_000 })));
    acceptedBid(harness.run(bid("bob", 200, { at: 5_000 })));
  });

  test("apply crashes on an event stamped before the previous one", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100, { at: 5_000 })));
    const book = replay(harness.events);
    const created = accepted(new AuctionBook().execute(create({ auctionId: "a2" })));
    assert.throws(() => book.apply(created[0]!), AssertionError);
  });
});

describe("decide", () => {
  test("decides without changing anything", () => {
    const harness = Harness.withAuction();
    const before = harness.snapshot();
    const outcome = harness.book.decide(bid("ann", 100));
    assert.ok(outcome.ok);
    assert.equal(outcome.events.length, 1);
    assert.deepEqual(harness.snapshot(), before);
  });
});

describe("replay", () => {
  test("folding every event onto a fresh book reproduces the state exactly", () => {
    const harness = new Harness();
    const soft = { windowMs: 1_000, extensionMs: 500, maxExtensionMs: 2_000 };
    accepted(harness.run(create({ auctionId: "plain" })));
    accepted(harness.run(create({ auctionId: "reserve", reservePrice: 500, softClose: soft })));
    accepted(harness.run(create({ auctionId: "buy", buyNowPrice: 800 })));
    accepted(harness.run(create({ auctionId: "cancelled" })));
    accepted(harness.run(cancel(seller, 500, "cancelled")));
    acceptedBid(harness.run(bid("ann", 100, { auctionId: "plain", max: 400 })));
    acceptedBid(harness.run(bid("bob", 150, { auctionId: "plain" })));
    acceptedBid(harness.run(bid("cat", 200, { auctionId: "plain", max: 900 })));
    acceptedBid(harness.run(bid("ann", 100, { auctionId: "reserve", max: 600 })));
    rejected(harness.run(bid("bob", 100, { auctionId: "reserve" })), "below-minimum");
    acceptedBid(harness.run(bid("bob", 100, { auctionId: "buy", max: 900 })));
    acceptedBid(harness.run(bid("bob", 510, { auctionId: "reserve", at: 9_500 })));
    acceptedBid(harness.run(bid("cat", 700, { auctionId: "reserve", at: 10_200, max: 2_000 })));
    harness.run(bid("cat", 700, { auctionId: "reserve", at: 10_200, max: 2_000 }));
    accepted(harness.run(close(10_200, "plain")));
    rejected(harness.run(close(10_500, "reserve")), "close-too-early");
    accepted(harness.run(close(11_000, "reserve")));

    const replayed = replay(harness.events);
    assert.deepEqual(replayed.auctions, harness.book.auctions);
    // The fold is not vacuous: every kind of event took part.
    const kinds = new Set(harness.events.map((event) => event.type));
    assert.deepEqual([...kinds].sort(), [
      "auction-cancelled",
      "auction-closed",
      "auction-created",
      "auction-extended",
      "bid-accepted",
    ]);
  });

  test("a fold that misses an event does not reproduce the state", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100)));
    acceptedBid(harness.run(bid("bob", 200)));
    const replayed = replay(harness.events.slice(0, -1));
    assert.notDeepEqual(replayed.auctions, harness.book.auctions);
  });
});
