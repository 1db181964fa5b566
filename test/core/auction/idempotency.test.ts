// Idempotency: (auction, bidder, bidId) identifies a bid, checked before every other rule. A repeat
// of an accepted bid returns its original outcome and changes nothing; a rejected bid is forgotten.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Harness,
  accepted,
  acceptedBid,
  bid,
  close,
  closesAt,
  during,
  opensAt,
  rejected,
} from "./fixtures.js";

describe("idempotency", () => {
  test("a repeat of an accepted bid returns the original outcome, duplicate, and changes nothing", () => {
    const harness = Harness.withAuction();
    const original = acceptedBid(harness.run(bid("ann", 100, { bidId: "k", max: 300 })));
    const before = harness.snapshot();
    const eventCount = harness.events.length;
    const repeat = harness.run(bid("ann", 100, { bidId: "k", max: 300, at: during + 5 }));
    assert.ok(repeat.ok);
    assert.equal(repeat.duplicate, true);
    assert.deepEqual(repeat.events, []);
    assert.deepEqual(repeat.bid, original);
    assert.deepEqual(harness.snapshot(), before);
    assert.equal(harness.events.length, eventCount);
  });

  test("the repeat reports the outcome as it was, even after being outbid", () => {
    const harness = Harness.withAuction();
    const original = acceptedBid(harness.run(bid("ann", 100, { bidId: "k" })));
    acceptedBid(harness.run(bid("bob", 200)));
    const repeat = harness.run(bid("ann", 100, { bidId: "k" }));
    assert.ok(repeat.ok && repeat.duplicate === true);
    assert.deepEqual(repeat.bid, original);
    assert.equal(repeat.bid.leaderAfter, "ann");
    assert.equal(harness.auction().leader, "bob");
  });

  test("idempotency comes before the time rules: a repeat after the close is still a duplicate", () => {
    const harness = Harness.withAuction();
    const original = acceptedBid(harness.run(bid("ann", 100, { bidId: "k" })));
    accepted(harness.run(close(closesAt)));
    const before = harness.snapshot();
    const repeat = harness.run(bid("ann", 100, { bidId: "k", at: closesAt + 1 }));
    assert.ok(repeat.ok && repeat.duplicate === true);
    assert.deepEqual(repeat.bid, original);
    assert.deepEqual(harness.snapshot(), before);
  });

  test("a repeat through the schema is a duplicate too", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.runUnknown(bid("ann", 100, { bidId: "k" })));
    const repeat = harness.runUnknown(bid("ann", 100, { bidId: "k" }));
    assert.ok(repeat.ok && repeat.duplicate === true);
  });

  test("a rejected bid leaves no trace: sent again, it is a fresh attempt", () => {
    const harness = Harness.withAuction();
    const early = bid("ann", 100, { bidId: "k", at: opensAt - 1 });
    const before = harness.snapshot();
    rejected(harness.run(early), "not-open");
    assert.deepEqual(harness.snapshot(), before);
    const later = acceptedBid(harness.run({ ...early, timestampMs: opensAt }));
    assert.equal(later.timestampMs, opensAt);
  });

  test("a rejected bid's key may be used with another amount", () => {
    const harness = Harness.withAuction();
    rejected(harness.run(bid("ann", 50, { bidId: "k" })), "below-minimum");
    acceptedBid(harness.run(bid("ann", 100, { bidId: "k" })));
  });
});

describe("bid ids shared by bidders", () => {
  test("bidders may use the same bid id: each bid is its own, and a repeat of each is recognized", () => {
    const harness = Harness.withAuction();
    const originals = [
      acceptedBid(harness.run(bid("ann", 100, { bidId: "k" }))),
      acceptedBid(harness.run(bid("bob", 200, { bidId: "k" }))),
      acceptedBid(harness.run(bid("cat", 300, { bidId: "k" }))),
    ];
    assert.equal(harness.auction().accepted.size, 3);
    for (const original of originals) {
      const before = harness.snapshot();
      const repeat = harness.run(bid(original.bidder, original.amount, { bidId: "k" }));
      assert.ok(repeat.ok && repeat.duplicate === true, original.bidder);
      assert.deepEqual(repeat.bid, original);
      assert.deepEqual(harness.snapshot(), before);
    }
    rejected(harness.run(bid("bob", 400, { bidId: "k" })), "bid-id-reused");
    acceptedBid(harness.run(bid("dan", 400, { bidId: "k" })));
    assert.deepEqual(
      [...harness.auction().accepted.values()].map((accepted) => accepted.bidder),
      ["ann", "bob", "cat", "dan"],
      "in the order accepted",
    );
  });
});
