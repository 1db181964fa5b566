// The watch's board merges HTTP snapshots, stream events and multicast updates by version: older
// news is ignored, the next version applies, a skipped one applies its facts and asks for a fetch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Board } from "../../src/cli/client/watch/board.js";
import type { AuctionSummary } from "../../src/cli/client/types.js";
import type { AuctionUpdate } from "../../src/net/update-schema.js";
import { multicastInterfaceFor } from "../../src/cli/client/watch/multicast-source.js";

function summary(version: number, extra: Partial<AuctionSummary> = {}): AuctionSummary {
  return {
    id: "a1",
    title: "Lamp",
    description: "",
    seller: "sam",
    currency: "EUR",
    status: "open",
    startingPrice: 1000,
    price: null,
    highBidder: null,
    minimumBid: 1000,
    hasReserve: false,
    reserveMet: true,
    buyNowPrice: null,
    opensAt: 0,
    closesAt: 600_000,
    originalClosesAt: 600_000,
    bidCount: 0,
    outcome: null,
    version,
    owner: 1,
    ...extra,
  };
}

function bidEvent(version: number, bidder: string, amount: number) {
  return {
    type: "bid" as const,
    auctionId: "a1",
    bidId: `${bidder}-${version}`,
    bidder,
    amount,
    price: amount,
    highBidder: bidder,
    lines: [{ bidId: `${bidder}-${version}`, bidder, amount, automatic: false }],
    at: 1000 * version,
    closesAt: 600_000,
    version,
  };
}

test("stream events apply in version order; old ones are ignored, a skipped one is a gap", () => {
  const board = new Board("a1", 3);
  assert.equal(board.streamEvent(bidEvent(2, "ann", 1100)), "unknown", "nothing known before the first read");
  assert.equal(board.snapshot(summary(1)), "applied");
  assert.equal(board.streamEvent(bidEvent(2, "ann", 1100)), "applied");
  assert.equal(board.streamEvent(bidEvent(2, "ann", 1100)), "ignored", "seen already");
  assert.equal(board.streamEvent(bidEvent(4, "bob", 1300)), "gap");
  const held = board.auctions.get("a1")!;
  assert.deepEqual(
    [held.facts.price, held.facts.highBidder, held.facts.version, held.facts.bidCount],
    [1300, "bob", 4, 2],
  );
  assert.equal(board.snapshot(summary(3, { price: 1200 })), "ignored", "an older read never rolls back");
  assert.equal(
    board.streamEvent({
      type: "closed",
      auctionId: "a1",
      version: 5,
      outcome: { result: "sold", winner: "bob", price: 1300, reason: "deadline" },
    }),
    "applied",
  );
  assert.equal(board.auctions.get("a1")!.facts.status, "closed");
  assert.deepEqual(
    board.auctions.get("a1")!.bids.map((line) => line.bidder),
    ["ann", "bob"],
  );
});

test("other auctions are not on a one-auction board; foreign ones are forgotten for good", () => {
  const board = new Board("a1");
  assert.equal(board.snapshot(summary(1, { id: "b2" })), "ignored");
  const overview = new Board(null);
  overview.snapshot(summary(1, { id: "b2" }));
  overview.forget("b2", true);
  assert.equal(overview.snapshot(summary(2, { id: "b2" })), "ignored");
  assert.equal(overview.wants("b2"), false);
});

test("a multicast update carries the facts whole", () => {
  const board = new Board(null);
  board.snapshot(summary(1));
  const update: AuctionUpdate = {
    clusterName: "gavel",
    nodeId: 2,
    auctionId: "a1",
    version: 3,
    event: "bid-accepted",
    timestampMs: 5000,
    phase: "active",
    price: 1500,
    highBidder: "ann",
    closesAt: 630_000,
    bidCount: 2,
    outcome: null,
  };
  assert.equal(board.update(update), "gap");
  const facts = board.auctions.get("a1")!.facts;
  assert.deepEqual(
    [facts.price, facts.highBidder, facts.bidCount, facts.closesAt, facts.owner],
    [1500, "ann", 2, 630_000, 2],
  );
  assert.equal(board.update({ ...update, version: 2 }), "ignored");
  assert.deepEqual(
    board.feed.map((line) => [line.bidder, line.amount]),
    [["ann", 1500]],
  );
});

test("multicast is heard on loopback for a loopback node, and on the interface of the node's subnet", () => {
  const interfaces = {
    eth0: [
      {
        address: "10.1.2.3",
        netmask: "255.255.255.0",
        family: "IPv4" as const,
        mac: "",
        internal: false,
        cidr: null,
      },
    ],
  };
  assert.equal(multicastInterfaceFor("http://127.0.0.1:8081", interfaces), "127.0.0.1");
  assert.equal(multicastInterfaceFor("http://localhost:8081", interfaces), "127.0.0.1");
  assert.equal(multicastInterfaceFor("http://10.1.2.77:8081", interfaces), "10.1.2.3");
  assert.equal(multicastInterfaceFor("http://10.9.9.9:8081", interfaces), null);
  assert.equal(multicastInterfaceFor("http://example.org:8081", interfaces), null);
});
