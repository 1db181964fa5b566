// Plain and proxy (automatic) bidding: the price is the lowest amount that beats the runner-up's
// maximum by one increment, capped at the leader's maximum and never below the amount just bid;
// equal maxima go to the earlier bid; the engine's own lines in the history are marked automatic.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Harness, acceptedBid, bid, history } from "./fixtures.js";

/** The default auction: starting price 100, fixed increment 10. */
function auctionWith(...bids: Parameters<typeof bid>[]): Harness {
  const harness = Harness.withAuction();
  for (const args of bids) acceptedBid(harness.run(bid(...args)));
  return harness;
}

describe("plain bids", () => {
  test("a plain bid sets the price to exactly its amount, however far above the minimum", () => {
    const harness = auctionWith(["ann", 100], ["bob", 250]);
    assert.equal(harness.auction().price, 250);
    assert.equal(harness.auction().leader, "bob");
    assert.deepEqual(history(harness.auction()), [
      ["ann", 100, false],
      ["bob", 250, false],
    ]);
  });
});

describe("proxy bids", () => {
  test("a first proxy bid shows its amount, not its maximum", () => {
    const harness = auctionWith(["ann", 100, { max: 500 }]);
    assert.equal(harness.auction().price, 100);
    assert.equal(harness.auction().leaderMax, 500);
    assert.deepEqual(history(harness.auction()), [["ann", 100, false]]);
  });

  test("the leader's proxy answers a lower challenger one increment above it", () => {
    const harness = auctionWith(["ann", 100, { max: 500, bidId: "ann-proxy" }]);
    const challenge = acceptedBid(harness.run(bid("bob", 200)));
    assert.equal(challenge.priceAfter, 210);
    assert.equal(challenge.leaderAfter, "ann");
    assert.deepEqual(history(harness.auction()), [
      ["ann", 100, false],
      ["bob", 200, false],
      ["ann", 210, true],
    ]);
    assert.equal(harness.auction().bids[2]!.bidId, "ann-proxy", "the automatic line names the proxy's bid");
  });

  test("the proxy's answer is capped at the leader's maximum", () => {
    const harness = auctionWith(["ann", 100, { max: 500 }], ["bob", 495]);
    assert.equal(harness.auction().price, 500);
    assert.equal(harness.auction().leader, "ann");
  });

  test("a challenger's proxy bids up to its own maximum before the leader's answers", () => {
    const harness = auctionWith(["ann", 100, { max: 500 }], ["bob", 110, { max: 300 }]);
    assert.equal(harness.auction().price, 310);
    assert.deepEqual(history(harness.auction()), [
      ["ann", 100, false],
      ["bob", 110, false],
      ["bob", 300, true],
      ["ann", 310, true],
    ]);
  });

  test("equal maxima: the earlier bid keeps the lead, at that maximum", () => {
    const plain = auctionWith(["ann", 100, { max: 500 }], ["bob", 500]);
    assert.equal(plain.auction().leader, "ann");
    assert.equal(plain.auction().price, 500);

    const proxy = auctionWith(["ann", 100, { max: 500 }], ["bob", 200, { max: 500 }]);
    assert.equal(proxy.auction().leader, "ann");
    assert.equal(proxy.auction().price, 500);
    assert.deepEqual(history(proxy.auction()).slice(1), [
      ["bob", 200, false],
      ["bob", 500, true],
      ["ann", 500, true],
    ]);

    const reversed = auctionWith(["bob", 100, { max: 500 }], ["ann", 200, { max: 500 }]);
    assert.equal(reversed.auction().leader, "bob");
  });

  test("a higher maximum takes the lead at the runner-up's maximum plus one increment", () => {
    const harness = auctionWith(["ann", 100, { max: 300 }]);
    const takeover = acceptedBid(harness.run(bid("bob", 110, { max: 1_000 })));
    assert.equal(takeover.priceAfter, 310);
    assert.equal(takeover.leaderAfter, "bob");
    assert.deepEqual(history(harness.auction()), [
      ["ann", 100, false],
      ["bob", 110, false],
      ["ann", 300, true],
      ["bob", 310, true],
    ]);
  });

  test("the new leader's price is capped at its own maximum", () => {
    const harness = auctionWith(["ann", 100, { max: 300 }], ["bob", 110, { max: 305 }]);
    assert.equal(harness.auction().price, 305);
    assert.equal(harness.auction().leader, "bob");
  });

  test("the price is never below the amount just bid", () => {
    const harness = auctionWith(["ann", 100, { max: 300 }], ["bob", 800, { max: 1_000 }]);
    assert.equal(harness.auction().price, 800);
    assert.deepEqual(history(harness.auction()), [
      ["ann", 100, false],
      ["bob", 800, false],
    ]);
  });

  test("the runner-up is whoever holds the second-highest maximum", () => {
    const harness = auctionWith(["ann", 100, { max: 300 }], ["bob", 110, { max: 500 }]);
    assert.equal(harness.auction().price, 310);
    acceptedBid(harness.run(bid("cat", 320, { max: 400 })));
    assert.equal(harness.auction().price, 410);
    assert.equal(harness.auction().leader, "bob");
    acceptedBid(harness.run(bid("cat", 420, { max: 1_000, bidId: "cat-2" })));
    assert.equal(harness.auction().price, 510);
    assert.equal(harness.auction().leader, "cat");
  });
});

describe("the leader raising their own bid", () => {
  test("a higher maximum replaces the old one, and the price becomes the amount", () => {
    const harness = auctionWith(["ann", 100, { max: 500 }], ["ann", 200, { max: 800, bidId: "ann-2" }]);
    assert.equal(harness.auction().price, 200);
    assert.equal(harness.auction().leaderMax, 800);
    assert.equal(harness.auction().leaderBidId, "ann-2");
    acceptedBid(harness.run(bid("bob", 700)));
    assert.equal(harness.auction().price, 710);
    assert.equal(harness.auction().leader, "ann");
  });

  test("a plain raise below the old maximum keeps the old maximum and its bid", () => {
    const harness = auctionWith(["ann", 100, { max: 500, bidId: "ann-1" }], ["ann", 150]);
    assert.equal(harness.auction().price, 150);
    assert.equal(harness.auction().leaderMax, 500);
    assert.equal(harness.auction().leaderBidId, "ann-1");
    acceptedBid(harness.run(bid("bob", 300)));
    assert.equal(harness.auction().price, 310);
    assert.equal(harness.auction().bids.at(-1)!.bidId, "ann-1");
  });
});

describe("the bid history", () => {
  test("numbers its lines from 0 and never goes down", () => {
    const harness = auctionWith(
      ["ann", 100, { max: 300 }],
      ["bob", 110, { max: 1_000 }],
      ["cat", 400],
      ["ann", 1_100],
    );
    const bids = harness.auction().bids;
    assert.deepEqual(
      bids.map((line) => line.seq),
      bids.map((_, index) => index),
    );
    for (let index = 1; index < bids.length; index++) {
      assert.ok(bids[index]!.amount >= bids[index - 1]!.amount, `line ${index} does not go down`);
    }
    assert.equal(bids.at(-1)!.amount, harness.auction().price, "the last line is the price");
  });
});
