// The auction room's state: a snapshot plus live events, keyed by the auction's version, so that a
// bid is never shown twice nor silently missed, whatever order snapshots and events arrive in.
import assert from "node:assert/strict";
import { test } from "node:test";
import { emptyRoom, withEvent, withSnapshot } from "../../src/web/room-model.js";
import type { RoomState } from "../../src/web/room-model.js";
import type { Auction, BidLine, StreamEvent } from "../../src/web/types.js";

function auction(version: number, price: number | null, highBidder: string | null): Auction {
  return {
    id: "a1",
    title: "Lamp",
    description: "",
    seller: "sam",
    currency: "EUR",
    status: "open",
    startingPrice: 1000,
    price,
    highBidder,
    minimumBid: price === null ? 1000 : price + 100,
    hasReserve: false,
    reserveMet: true,
    buyNowPrice: null,
    opensAt: 0,
    closesAt: 60_000,
    originalClosesAt: 60_000,
    bidCount: 0,
    outcome: null,
    version,
    owner: 1,
  };
}

function bid(version: number, bidder: string, amount: number): Extract<StreamEvent, { type: "bid" }> {
  return {
    type: "bid",
    auctionId: "a1",
    bidId: `${bidder}-${version}`,
    bidder,
    amount,
    price: amount,
    highBidder: bidder,
    lines: [{ bidId: `${bidder}-${version}`, bidder, amount, automatic: false }],
    at: version * 1000,
    closesAt: 60_000,
    version,
  };
}

function line(version: number, bidder: string, amount: number): BidLine {
  return { bidId: `${bidder}-${version}`, bidder, amount, at: version * 1000, automatic: false };
}

const amounts = (room: RoomState) => room.bids.map((item) => item.amount);

test("events after the snapshot are added once; repeats and older ones are ignored", () => {
  let room = withSnapshot(emptyRoom, auction(2, 1000, "ann"), [line(2, "ann", 1000)]);
  room = withEvent(room, bid(2, "ann", 1000));
  room = withEvent(room, bid(3, "bob", 1100));
  room = withEvent(room, bid(3, "bob", 1100));
  assert.deepEqual(amounts(room), [1000, 1100]);
  assert.equal(room.auction?.price, 1100);
  assert.equal(room.auction?.highBidder, "bob");
  assert.equal(room.auction?.minimumBid, 1200, "the same step until the next snapshot says otherwise");
  assert.equal(room.minimumKnown, false);
  assert.equal(room.stale, true, "so the room fetches the real minimum");
  room = withSnapshot(room, { ...auction(3, 1100, "bob"), minimumBid: 1250 }, [
    line(2, "ann", 1000),
    line(3, "bob", 1100),
  ]);
  assert.equal(room.auction?.minimumBid, 1250);
  assert.equal(room.minimumKnown, true);
  assert.equal(room.stale, false);
});

test("events that arrive before the first snapshot wait for it and are applied once", () => {
  let room = withEvent(emptyRoom, bid(2, "ann", 1000));
  room = withEvent(room, bid(3, "bob", 1100));
  room = withSnapshot(room, auction(2, 1000, "ann"), [line(2, "ann", 1000)]);
  assert.deepEqual(amounts(room), [1000, 1100]);
  assert.equal(room.auction?.version, 3);
});

test("a skipped version marks the room stale until a snapshot covers what was seen", () => {
  let room = withSnapshot(emptyRoom, auction(1, null, null), []);
  room = withEvent(room, bid(3, "bob", 1100));
  assert.equal(room.stale, true);
  assert.deepEqual(amounts(room), []);
  // A snapshot taken before the skipped event: still stale.
  room = withSnapshot(room, auction(2, 1000, "ann"), [line(2, "ann", 1000)]);
  assert.equal(room.stale, true);
  room = withSnapshot(room, auction(3, 1100, "bob"), [line(2, "ann", 1000), line(3, "bob", 1100)]);
  assert.equal(room.stale, false);
  assert.deepEqual(amounts(room), [1000, 1100]);
});

test("a snapshot older than what the room shows is not taken", () => {
  let room = withSnapshot(emptyRoom, auction(2, 1000, "ann"), [line(2, "ann", 1000)]);
  room = withEvent(room, bid(3, "bob", 1100));
  room = withSnapshot(room, auction(2, 1000, "ann"), [line(2, "ann", 1000)]);
  assert.deepEqual(amounts(room), [1000, 1100]);
  assert.equal(room.auction?.highBidder, "bob");
});

test("a proxy bid adds every line it made; the close names the winner", () => {
  let room = withSnapshot(emptyRoom, auction(2, 1000, "ann"), [line(2, "ann", 1000)]);
  room = withEvent(room, {
    ...bid(3, "bob", 1100),
    highBidder: "ann",
    price: 1200,
    lines: [
      { bidId: "bob-3", bidder: "bob", amount: 1100, automatic: false },
      { bidId: "ann-auto", bidder: "ann", amount: 1200, automatic: true },
    ],
  });
  assert.deepEqual(amounts(room), [1000, 1100, 1200]);
  assert.equal(room.bids.at(-1)?.automatic, true);
  room = withEvent(room, {
    type: "closed",
    auctionId: "a1",
    outcome: { result: "sold", winner: "ann", price: 1200, reason: "deadline" },
    version: 4,
  });
  assert.equal(room.auction?.status, "closed");
  assert.equal(room.auction?.winner, "ann");
});

test("events of other auctions leave the room alone", () => {
  const room = withSnapshot(emptyRoom, auction(2, 1000, "ann"), [line(2, "ann", 1000)]);
  assert.equal(withEvent(room, { ...bid(3, "bob", 1100), auctionId: "other" }), room);
});
