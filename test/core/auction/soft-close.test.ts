// Soft close: a bid within the last windowMs before the (possibly extended) closing time extends it
// by extensionMs, never beyond the original closing time plus maxExtensionMs.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { auctionView } from "../../../src/core/auction/view.js";
import { Harness, acceptedBid, bid, close, closesAt, rejected } from "./fixtures.js";
import type { Outcome } from "../../../src/core/auction/types.js";

// closesAt is 10_000: the window opens at 9_000; the cap is 11_200.
const softClose = { windowMs: 1_000, extensionMs: 500, maxExtensionMs: 1_200 };

function extensions(outcome: Outcome): number[] {
  assert.ok(outcome.ok);
  return outcome.events.flatMap((event) => (event.type === "auction-extended" ? [event.closesAt] : []));
}

describe("soft close", () => {
  test("a bid before the window does not extend", () => {
    const harness = Harness.withAuction({ softClose });
    assert.deepEqual(extensions(harness.run(bid("ann", 100, { at: closesAt - 1_001 }))), []);
    assert.equal(harness.auction().closesAt, closesAt);
  });

  test("a bid at the start of the window extends the closing time by extensionMs", () => {
    const harness = Harness.withAuction({ softClose });
    assert.deepEqual(extensions(harness.run(bid("ann", 100, { at: closesAt - 1_000 }))), [10_500]);
    const auction = harness.auction();
    assert.equal(auction.closesAt, 10_500);
    assert.equal(auction.originalClosesAt, closesAt);
    const view = auctionView(auction, 9_500);
    assert.equal(view.closesAt, 10_500);
    assert.equal(view.originalClosesAt, closesAt);
  });

  test("each bid in the window extends the current closing time, up to the cap", () => {
    const harness = Harness.withAuction({ softClose });
    assert.deepEqual(extensions(harness.run(bid("ann", 100, { at: 9_900 }))), [10_500]);
    assert.deepEqual(extensions(harness.run(bid("bob", 110, { at: 10_000 }))), [11_000]);
    assert.deepEqual(extensions(harness.run(bid("ann", 120, { at: 10_400 }))), [11_200]);
    // At the cap: accepted, but no further extension.
    assert.deepEqual(extensions(harness.run(bid("bob", 130, { at: 11_000 }))), []);
    assert.equal(harness.auction().closesAt, 11_200);
    rejected(harness.run(bid("ann", 140, { at: 11_200 })), "auction-closed");
  });

  test("the extended closing time governs bids and the close alike", () => {
    const harness = Harness.withAuction({ softClose });
    acceptedBid(harness.run(bid("ann", 100, { at: 9_500 })));
    // Past the original closing time but before the extended one: still open.
    acceptedBid(harness.run(bid("bob", 110, { at: 10_200 })));
    assert.equal(harness.auction().closesAt, 11_000);
    rejected(harness.run(close(10_999)), "close-too-early");
    rejected(harness.run(bid("ann", 120, { at: 11_000 })), "auction-closed");
    const outcome = harness.run(close(11_000));
    assert.ok(outcome.ok);
    assert.equal(harness.auction().phase, "closed");
  });

  test("a maxExtensionMs of 0 never extends", () => {
    const harness = Harness.withAuction({ softClose: { ...softClose, maxExtensionMs: 0 } });
    assert.deepEqual(extensions(harness.run(bid("ann", 100, { at: 9_999 }))), []);
    assert.equal(harness.auction().closesAt, closesAt);
  });

  test("without soft close, a last-moment bid does not extend", () => {
    const harness = Harness.withAuction();
    assert.deepEqual(extensions(harness.run(bid("ann", 100, { at: 9_999 }))), []);
  });

  test("a buy-now bid in the window closes instead of extending", () => {
    const harness = Harness.withAuction({ softClose, buyNowPrice: 500 });
    const outcome = harness.run(bid("ann", 500, { at: 9_999 }));
    assert.deepEqual(extensions(outcome), []);
    assert.equal(harness.auction().phase, "closed");
    assert.equal(harness.auction().closesAt, closesAt);
  });

  test("a rejected bid in the window does not extend", () => {
    const harness = Harness.withAuction({ softClose });
    rejected(harness.run(bid("ann", 50, { at: 9_999 })), "below-minimum");
    assert.equal(harness.auction().closesAt, closesAt);
  });
});
