// The reserve (hidden from bidders, who see only whether it is met; a leader whose maximum meets it
// pays at least the reserve) and buy-now (a bid willing to pay it wins at once and closes the auction).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { auctionView } from "../../../src/core/auction/view.js";
import { Harness, acceptedBid, bid, close, closesAt, during, history, rejected } from "./fixtures.js";

describe("reserve", () => {
  test("the view shows only whether there is a reserve and whether it is met", () => {
    const harness = Harness.withAuction({ reservePrice: 777 });
    acceptedBid(harness.run(bid("ann", 100, { max: 555 })));
    const view = auctionView(harness.auction(), during);
    assert.equal(view.hasReserve, true);
    assert.equal(view.reserveMet, false);
    assert.equal(view.price, 100);
    assert.equal(view.highBidder, "ann");
    const keys = Object.keys(view);
    assert.ok(!keys.includes("reservePrice"), "no reserve amount");
    assert.ok(!keys.includes("leaderMax"), "no leader's maximum");
    const text = JSON.stringify(view);
    assert.ok(!text.includes("777"), "the reserve amount appears nowhere in the view");
    assert.ok(!text.includes("555"), "the leader's maximum appears nowhere in the view");
  });

  test("without a reserve: hasReserve is false, and reserveMet turns true with the first bid", () => {
    const harness = Harness.withAuction();
    assert.equal(auctionView(harness.auction(), during).hasReserve, false);
    assert.equal(auctionView(harness.auction(), during).reserveMet, false);
    acceptedBid(harness.run(bid("ann", 100)));
    assert.equal(auctionView(harness.auction(), during).reserveMet, true);
  });

  test("reserve lift: a first proxy bid whose maximum meets the reserve pays the reserve", () => {
    const harness = Harness.withAuction({ reservePrice: 500 });
    const first = acceptedBid(harness.run(bid("ann", 100, { max: 800 })));
    assert.equal(first.priceAfter, 500);
    assert.deepEqual(history(harness.auction()), [
      ["ann", 100, false],
      ["ann", 500, true],
    ]);
    assert.equal(auctionView(harness.auction(), during).reserveMet, true);
  });

  test("reserve lift: a challenger taking the lead with a maximum over the reserve pays the reserve", () => {
    const harness = Harness.withAuction({ reservePrice: 500 });
    acceptedBid(harness.run(bid("ann", 100, { max: 200 })));
    assert.equal(harness.auction().price, 100);
    acceptedBid(harness.run(bid("bob", 110, { max: 900 })));
    assert.equal(harness.auction().price, 500);
    assert.deepEqual(history(harness.auction()), [
      ["ann", 100, false],
      ["bob", 110, false],
      ["ann", 200, true],
      ["bob", 210, true],
      ["bob", 500, true],
    ]);
  });

  test("reserve lift: the leader raising their maximum over the reserve", () => {
    const harness = Harness.withAuction({ reservePrice: 500 });
    acceptedBid(harness.run(bid("ann", 100, { max: 300 })));
    acceptedBid(harness.run(bid("ann", 110, { max: 600, bidId: "ann-2" })));
    assert.equal(harness.auction().price, 500);
  });

  test("no lift for a maximum below the reserve; the close is then unsold, reserve not met", () => {
    const harness = Harness.withAuction({ reservePrice: 500 });
    acceptedBid(harness.run(bid("ann", 100, { max: 499 })));
    assert.equal(harness.auction().price, 100);
    assert.equal(auctionView(harness.auction(), during).reserveMet, false);
    const events = harness.run(close(closesAt));
    assert.ok(events.ok);
    assert.deepEqual(harness.auction().outcome, { result: "unsold", reason: "deadline", reserveMet: false });
  });

  test("a plain bid at the reserve meets it and sells at the close", () => {
    const harness = Harness.withAuction({ reservePrice: 500 });
    acceptedBid(harness.run(bid("ann", 500)));
    harness.run(close(closesAt));
    assert.deepEqual(harness.auction().outcome, {
      result: "sold",
      winner: "ann",
      price: 500,
      reason: "deadline",
    });
  });
});

describe("buy-now", () => {
  test("a bid at the buy-now price wins at once and closes the auction, sold", () => {
    const harness = Harness.withAuction({ buyNowPrice: 1_000 });
    acceptedBid(harness.run(bid("ann", 200)));
    const outcome = harness.run(bid("bob", 1_000));
    const bought = acceptedBid(outcome);
    assert.equal(bought.boughtNow, true);
    assert.equal(bought.priceAfter, 1_000);
    assert.ok(outcome.ok);
    assert.deepEqual(
      outcome.events.map((event) => event.type),
      ["bid-accepted", "auction-closed"],
    );
    const auction = harness.auction();
    assert.equal(auction.phase, "closed");
    assert.equal(auction.endedAt, during);
    assert.deepEqual(auction.outcome, { result: "sold", winner: "bob", price: 1_000, reason: "buy-now" });
    rejected(harness.run(bid("cat", 2_000, { at: during + 1 })), "auction-closed");
    rejected(harness.run(close(closesAt)), "auction-closed");
  });

  test("a proxy bid whose maximum reaches buy-now pays the buy-now price", () => {
    const harness = Harness.withAuction({ buyNowPrice: 1_000 });
    const bought = acceptedBid(harness.run(bid("ann", 100, { max: 5_000 })));
    assert.equal(bought.boughtNow, true);
    assert.equal(bought.priceAfter, 1_000);
    assert.deepEqual(history(harness.auction()), [
      ["ann", 100, false],
      ["ann", 1_000, true],
    ]);
  });

  test("a bid above buy-now pays its own amount", () => {
    const harness = Harness.withAuction({ buyNowPrice: 1_000 });
    assert.equal(acceptedBid(harness.run(bid("ann", 1_200))).priceAfter, 1_200);
    assert.equal(harness.auction().phase, "closed");
  });

  test("a bid below buy-now is an ordinary bid", () => {
    const harness = Harness.withAuction({ buyNowPrice: 1_000 });
    const ordinary = acceptedBid(harness.run(bid("ann", 999, { max: 999 })));
    assert.equal(ordinary.boughtNow, false);
    assert.equal(harness.auction().phase, "active");
  });

  test("buy-now beats a leader's proxy", () => {
    const harness = Harness.withAuction({ buyNowPrice: 1_000 });
    acceptedBid(harness.run(bid("ann", 100, { max: 999 })));
    const bought = acceptedBid(harness.run(bid("bob", 110, { max: 1_000 })));
    assert.equal(bought.boughtNow, true);
    assert.deepEqual(harness.auction().outcome, {
      result: "sold",
      winner: "bob",
      price: 1_000,
      reason: "buy-now",
    });
  });
});
