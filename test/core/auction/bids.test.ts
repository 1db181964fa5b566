// Placing bids: what an accepted bid records, and every reason a bid is rejected, through both the
// schema (executeUnknown, as the cluster and the API call it) and the engine (execute, typed).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AMOUNT_MAX, limits } from "../../../src/core/auction/schemas.js";
import type { PlaceBidCommand } from "../../../src/core/auction/schemas.js";
import {
  Harness,
  acceptedBid,
  bid,
  cancel,
  close,
  closesAt,
  during,
  history,
  opensAt,
  rejected,
  seller,
} from "./fixtures.js";

describe("an accepted bid", () => {
  test("sets the price, the leader and one history line, and returns what it achieved", () => {
    const harness = Harness.withAuction();
    const outcome = harness.run(bid("ann", 100, { bidId: "ann-1" }));
    assert.deepEqual(acceptedBid(outcome), {
      auctionId: "a1",
      bidId: "ann-1",
      bidder: "ann",
      amount: 100,
      max: null,
      timestampMs: during,
      priceAfter: 100,
      leaderAfter: "ann",
      boughtNow: false,
    });
    assert.ok(outcome.ok);
    assert.deepEqual(
      outcome.events.map((event) => event.type),
      ["bid-accepted"],
    );
    const auction = harness.auction();
    assert.equal(auction.price, 100);
    assert.equal(auction.leader, "ann");
    assert.deepEqual(auction.bids, [
      { seq: 0, bidId: "ann-1", bidder: "ann", amount: 100, timestampMs: during, automatic: false },
    ]);
    assert.equal(auction.version, 2);
  });
});

describe("bid rejections", () => {
  test("unknown-auction", () => {
    const harness = Harness.withAuction();
    rejected(harness.run(bid("ann", 100, { auctionId: "nope" })), "unknown-auction");
  });

  test("bid-id-reused: the same key with a different amount", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100, { bidId: "k" })));
    const before = harness.snapshot();
    rejected(harness.run(bid("ann", 200, { bidId: "k" })), "bid-id-reused");
    assert.deepEqual(harness.snapshot(), before);
  });

  test("bid-id-reused: the same key with a different maximum", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100, { bidId: "k", max: 300 })));
    rejected(harness.run(bid("ann", 100, { bidId: "k", max: 400 })), "bid-id-reused");
    rejected(harness.run(bid("ann", 100, { bidId: "k", max: null })), "bid-id-reused");
  });

  test("the same bidId from another bidder is a different bid", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100, { bidId: "k" })));
    acceptedBid(harness.run(bid("bob", 110, { bidId: "k" })));
    assert.equal(harness.auction().leader, "bob");
  });

  describe("invalid-amount through the schema (executeUnknown)", () => {
    const amounts: [string, unknown][] = [
      ["a fractional amount", 100.5],
      ["a negative amount", -100],
      ["a zero amount", 0],
      ["an amount above AMOUNT_MAX", AMOUNT_MAX + 1],
      ["an amount that is NaN", Number.NaN],
      ["an infinite amount", Number.POSITIVE_INFINITY],
      ["an amount that is a string", "100"],
      ["an amount beyond the safe integers", 2 ** 53 + 2],
    ];
    for (const [what, amount] of amounts) {
      test(`rejects ${what}`, () => {
        const harness = Harness.withAuction();
        rejected(harness.runUnknown({ ...bid("ann", 100), amount }), "invalid-amount");
        assert.equal(harness.auction().price, null);
      });
    }
    const maxima: [string, unknown][] = [
      ["a fractional max", 300.5],
      ["a zero max", 0],
      ["a max above AMOUNT_MAX", AMOUNT_MAX + 1],
      ["a max that is NaN", Number.NaN],
      ["a max below the amount", 99],
      // A plain bid sends `max: null`; a missing max is reported against the field.
      ["a missing max", undefined],
    ];
    for (const [what, max] of maxima) {
      test(`rejects ${what}`, () => {
        const harness = Harness.withAuction();
        rejected(harness.runUnknown({ ...bid("ann", 100), max }), "invalid-amount");
        assert.equal(harness.auction().price, null);
      });
    }
  });

  describe("invalid-amount in the engine (execute with a typed command)", () => {
    const cases: [string, Partial<PlaceBidCommand>][] = [
      ["a fractional amount", { amount: 100.5 }],
      ["a negative amount", { amount: -100 }],
      ["a zero amount", { amount: 0 }],
      ["an amount above AMOUNT_MAX", { amount: AMOUNT_MAX + 1 }],
      ["an amount that is NaN", { amount: Number.NaN }],
      ["a fractional max", { max: 300.5 }],
      ["a max above AMOUNT_MAX", { max: AMOUNT_MAX + 1 }],
      ["a max that is NaN", { max: Number.NaN }],
      ["a max below the amount", { max: 99 }],
    ];
    for (const [what, overrides] of cases) {
      test(`rejects ${what}`, () => {
        const harness = Harness.withAuction();
        rejected(harness.run({ ...bid("ann", 100), ...overrides }), "invalid-amount");
        assert.equal(harness.auction().price, null);
      });
    }
  });

  test("accepts an amount of exactly AMOUNT_MAX, and a max equal to the amount", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.runUnknown(bid("ann", 100, { max: 100 })));
    acceptedBid(harness.runUnknown(bid("bob", AMOUNT_MAX)));
    assert.equal(harness.auction().price, AMOUNT_MAX);
  });

  test("auction-cancelled", () => {
    const harness = Harness.withAuction();
    harness.run(cancel(seller, during));
    rejected(harness.run(bid("ann", 100, { at: during + 1 })), "auction-cancelled");
  });

  test("auction-closed once the close has been applied", () => {
    const harness = Harness.withAuction();
    harness.run(close(closesAt));
    rejected(harness.run(bid("ann", 100, { at: closesAt })), "auction-closed");
  });

  test("auction-closed for a bid stamped at the closing time, though no close has run", () => {
    const harness = Harness.withAuction();
    rejected(harness.run(bid("ann", 100, { at: closesAt })), "auction-closed");
    assert.equal(harness.auction().phase, "active");
    rejected(harness.run(bid("ann", 100, { at: closesAt + 1 })), "auction-closed");
  });

  test("a bid stamped 1 ms before the closing time is accepted", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100, { at: closesAt - 1 })));
  });

  test("not-open before opensAt; accepted from opensAt on", () => {
    const harness = Harness.withAuction();
    rejected(harness.run(bid("ann", 100, { at: opensAt - 1 })), "not-open");
    acceptedBid(harness.run(bid("ann", 100, { at: opensAt })));
  });

  test("own-auction: the seller cannot bid", () => {
    const harness = Harness.withAuction();
    rejected(harness.run(bid(seller, 100)), "own-auction");
  });

  test("too-many-bids beyond bidsPerAuctionMax", () => {
    const harness = Harness.withAuction({}, { bidsPerAuctionMax: 2, auctionsMax: 10 });
    acceptedBid(harness.run(bid("ann", 100)));
    acceptedBid(harness.run(bid("bob", 110)));
    const before = harness.snapshot();
    rejected(harness.run(bid("ann", 120)), "too-many-bids");
    assert.deepEqual(harness.snapshot(), before);
  });

  test("below-minimum: the first bid must reach the starting price", () => {
    const harness = Harness.withAuction({ startingPrice: 100 });
    const outcome = harness.run(bid("ann", 99));
    rejected(outcome, "below-minimum");
    assert.ok(!outcome.ok && outcome.message.includes("100"), "the message names the minimum");
    acceptedBid(harness.run(bid("ann", 100)));
  });

  test("below-minimum: a later bid must reach the price plus the increment", () => {
    const harness = Harness.withAuction({ startingPrice: 100, increment: { type: "fixed", amount: 10 } });
    acceptedBid(harness.run(bid("ann", 150)));
    rejected(harness.run(bid("bob", 159)), "below-minimum");
    rejected(harness.run(bid("bob", 150)), "below-minimum");
    acceptedBid(harness.run(bid("bob", 160)));
  });

  test("below-minimum applies to the leader raising their own bid too", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100)));
    rejected(harness.run(bid("ann", 109)), "below-minimum");
    acceptedBid(harness.run(bid("ann", 110)));
    assert.deepEqual(history(harness.auction()), [
      ["ann", 100, false],
      ["ann", 110, false],
    ]);
  });

  describe("shapes (schema): invalid-command", () => {
    const cases: [string, unknown][] = [
      ["an unknown field", { ...bid("ann", 100), note: "hi" }],
      ["a bidId over the length limit", bid("ann", 100, { bidId: "x".repeat(limits.idLength + 1) })],
      ["an empty bidId", bid("ann", 100, { bidId: "" })],
      ["a bidder name over the length limit", bid("a".repeat(limits.nameLength + 1), 100)],
      ["an empty bidder name", bid("", 100)],
      ["a bidder name with a control character", bid("an\u0000n", 100)],
      ["a missing bidId", (({ bidId: _bidId, ...rest }) => rest)(bid("ann", 100))],
      ["a fractional timestamp", { ...bid("ann", 100), timestampMs: 2_000.5 }],
    ];
    for (const [what, input] of cases) {
      test(`rejects ${what}`, () => {
        const harness = Harness.withAuction();
        rejected(harness.runUnknown(input), "invalid-command");
        assert.equal(harness.auction().price, null);
      });
    }
  });
});
