// Cancelling (only the seller, only before the first bid) and closing (at or after the closing time,
// exactly one closed event: sold to the leader if the reserve is met, unsold otherwise).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Harness,
  accepted,
  acceptedBid,
  bid,
  cancel,
  close,
  closesAt,
  during,
  rejected,
  seller,
} from "./fixtures.js";

describe("cancel-auction", () => {
  test("the seller cancels an auction without bids", () => {
    const harness = Harness.withAuction();
    const events = accepted(harness.run(cancel(seller, during)));
    assert.deepEqual(events, [
      { type: "auction-cancelled", timestampMs: during, auctionId: "a1", by: seller },
    ]);
    assert.equal(harness.auction().phase, "cancelled");
    assert.equal(harness.auction().endedAt, during);
  });

  test("the seller may cancel while the auction is still scheduled", () => {
    const harness = Harness.withAuction();
    accepted(harness.run(cancel(seller, 10)));
  });

  test("not-seller", () => {
    const harness = Harness.withAuction();
    rejected(harness.run(cancel("ann")), "not-seller");
    assert.equal(harness.auction().phase, "active");
  });

  test("has-bids: not after the first bid", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100)));
    rejected(harness.run(cancel(seller, during + 1)), "has-bids");
  });

  test("a rejected bid does not prevent a cancel", () => {
    const harness = Harness.withAuction();
    rejected(harness.run(bid("ann", 1)), "below-minimum");
    accepted(harness.run(cancel(seller, during + 1)));
  });

  test("auction-closed once closed, and from the closing time on even before the close", () => {
    const late = Harness.withAuction();
    rejected(late.run(cancel(seller, closesAt)), "auction-closed");
    const closed = Harness.withAuction();
    accepted(closed.run(close(closesAt)));
    rejected(closed.run(cancel(seller, closesAt + 1)), "auction-closed");
  });

  test("auction-cancelled when already cancelled", () => {
    const harness = Harness.withAuction();
    accepted(harness.run(cancel(seller, during)));
    rejected(harness.run(cancel(seller, during + 1)), "auction-cancelled");
  });

  test("unknown-auction", () => {
    const harness = Harness.withAuction();
    rejected(harness.run(cancel(seller, during, "nope")), "unknown-auction");
  });
});

describe("close-auction", () => {
  test("close-too-early is a no-op", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100)));
    const before = harness.snapshot();
    rejected(harness.run(close(closesAt - 1)), "close-too-early");
    assert.deepEqual(harness.snapshot(), before);
  });

  test("a close at the closing time sells to the leader at the price", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100, { max: 400 })));
    acceptedBid(harness.run(bid("bob", 200)));
    const events = accepted(harness.run(close(closesAt)));
    assert.deepEqual(events, [
      {
        type: "auction-closed",
        timestampMs: closesAt,
        auctionId: "a1",
        outcome: { result: "sold", winner: "ann", price: 210, reason: "deadline" },
      },
    ]);
    assert.equal(harness.auction().phase, "closed");
    assert.equal(harness.auction().endedAt, closesAt);
  });

  test("a close after the closing time works the same", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100)));
    accepted(harness.run(close(closesAt + 5_000)));
    assert.equal(harness.auction().outcome?.result, "sold");
    assert.equal(harness.auction().endedAt, closesAt + 5_000);
  });

  test("an auction without bids closes unsold", () => {
    const harness = Harness.withAuction();
    accepted(harness.run(close(closesAt)));
    assert.deepEqual(harness.auction().outcome, { result: "unsold", reason: "deadline", reserveMet: false });
  });

  test("an auction whose reserve is not met closes unsold", () => {
    const harness = Harness.withAuction({ reservePrice: 1_000 });
    acceptedBid(harness.run(bid("ann", 999)));
    accepted(harness.run(close(closesAt)));
    assert.deepEqual(harness.auction().outcome, { result: "unsold", reason: "deadline", reserveMet: false });
  });

  test("a second close is a no-op: auction-closed, and exactly one closed event", () => {
    const harness = Harness.withAuction();
    acceptedBid(harness.run(bid("ann", 100)));
    accepted(harness.run(close(closesAt)));
    const before = harness.snapshot();
    rejected(harness.run(close(closesAt + 1)), "auction-closed");
    assert.deepEqual(harness.snapshot(), before);
    assert.equal(harness.events.filter((event) => event.type === "auction-closed").length, 1);
  });

  test("auction-cancelled", () => {
    const harness = Harness.withAuction();
    accepted(harness.run(cancel(seller)));
    rejected(harness.run(close(closesAt)), "auction-cancelled");
  });

  test("unknown-auction", () => {
    const harness = Harness.withAuction();
    rejected(harness.run(close(closesAt, "nope")), "unknown-auction");
  });
});
