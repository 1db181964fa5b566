// Property-based tests of the auction engine over random scenarios (see scenario.ts). Each test
// prints its seed; FC_SEED=<n> replays it. The invariants are those of issue 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { incrementAt } from "../../../src/core/auction/increment.js";
import type { PlaceBidCommand } from "../../../src/core/auction/schemas.js";
import type { Auction } from "../../../src/core/auction/types.js";
import { replay } from "./fixtures.js";
import { propertyParameters } from "./property-helpers.js";
import { eventsOf, isNewBid, runScenario, scenario } from "./scenario.js";
import type { Trace } from "./scenario.js";

/** Asserts `check` on the trace of every generated scenario. */
function forEveryTrace(check: (trace: Trace) => void): void {
  fc.assert(
    fc.property(scenario, (steps) => check(runScenario(steps))),
    propertyParameters(),
  );
}

test("the visible price never decreases", () => {
  forEveryTrace(({ steps }) => {
    for (const { before, after } of steps) {
      if (before === undefined || before.price === null) continue;
      const price = after?.price ?? null;
      assert.ok(price !== null && price >= before.price, `${before.price} -> ${price}`);
    }
  });
});

test("every accepted bid reaches the minimum, and the price rises to at least its amount", () => {
  forEveryTrace(({ steps }) => {
    for (const step of steps.filter(isNewBid)) {
      const before = step.before!;
      const minimum =
        before.price === null
          ? before.startingPrice
          : before.price + incrementAt(before.increment, before.price);
      assert.ok(step.command.amount >= minimum, `amount ${step.command.amount} below minimum ${minimum}`);
      assert.ok(step.after!.price! >= step.command.amount, "the price reaches the amount just bid");
    }
  });
});

interface Leading {
  leader: string | null;
  leaderMax: number;
}

/** The price and leader after `command`, as issue 2 states the rules, from the leader before it. */
function secondPrice(auction: Auction, leading: Leading, command: PlaceBidCommand) {
  const { bidder, amount } = command;
  const max = command.max ?? amount;
  if (auction.buyNowPrice !== null && max >= auction.buyNowPrice) {
    return { leader: bidder, leaderMax: max, price: Math.max(amount, auction.buyNowPrice), boughtNow: true };
  }
  let next: { leader: string; leaderMax: number; price: number; boughtNow: boolean };
  if (leading.leader === null) {
    next = { leader: bidder, leaderMax: max, price: amount, boughtNow: false };
  } else if (leading.leader === bidder) {
    next = { leader: bidder, leaderMax: Math.max(max, leading.leaderMax), price: amount, boughtNow: false };
  } else {
    // The higher maximum leads, the earlier one on a tie; it pays one increment over the other's.
    const challengerLeads = max > leading.leaderMax;
    const winnerMax = challengerLeads ? max : leading.leaderMax;
    const loserMax = challengerLeads ? leading.leaderMax : max;
    const beat = Math.min(winnerMax, loserMax + incrementAt(auction.increment, loserMax));
    next = {
      leader: challengerLeads ? bidder : leading.leader,
      leaderMax: winnerMax,
      price: Math.max(amount, beat),
      boughtNow: false,
    };
  }
  if (auction.reservePrice !== null && next.leaderMax >= auction.reservePrice) {
    next.price = Math.max(next.price, auction.reservePrice);
  }
  return next;
}

test("every accepted bid sets the price and leader exactly as the second-price rule says", () => {
  forEveryTrace(({ steps }) => {
    const leading = new Map<string, Leading>();
    for (const step of steps.filter(isNewBid)) {
      const { auctionId } = step.command;
      const expected = secondPrice(
        step.before!,
        leading.get(auctionId) ?? { leader: null, leaderMax: 0 },
        step.command,
      );
      leading.set(auctionId, expected);
      assert.ok(step.outcome.ok);
      assert.equal(step.outcome.bid!.priceAfter, expected.price);
      assert.equal(step.outcome.bid!.leaderAfter, expected.leader);
      assert.equal(step.after!.price, expected.price);
      assert.equal(step.after!.leader, expected.leader);
      assert.equal(step.outcome.bid!.boughtNow, expected.boughtNow);
      // Buy-now closes the auction at once; any other bid leaves it open.
      assert.equal(step.after!.phase, expected.boughtNow ? "closed" : "active");
    }
  });
});

test("a repeated accepted bid returns its original outcome and never changes the state", () => {
  forEveryTrace(({ steps }) => {
    for (const step of steps) {
      if (step.repeatOf === undefined) continue;
      assert.ok(step.outcome.ok, "a repeat of an accepted bid is never rejected");
      assert.equal(step.outcome.duplicate, true);
      assert.deepEqual(step.outcome.events, []);
      assert.deepEqual(step.outcome.bid, step.repeatOf);
      assert.deepEqual(step.after, step.before);
    }
  });
});

test("a rejected command changes nothing, so sending it again is a fresh attempt", () => {
  forEveryTrace(({ steps }) => {
    for (const step of steps) {
      if (!step.outcome.ok) assert.deepEqual(step.after, step.before, step.outcome.reason);
    }
  });
});

test("no bid stamped at or after the closing time (or before the opening) is accepted", () => {
  forEveryTrace(({ steps }) => {
    for (const step of steps.filter(isNewBid)) {
      assert.ok(step.command.timestampMs < step.before!.closesAt, "stamped before the closing time");
      assert.ok(step.command.timestampMs >= step.before!.opensAt, "stamped from the opening on");
    }
  });
});

test("nothing is accepted after the close or the cancel", () => {
  forEveryTrace(({ steps }) => {
    for (const step of steps) {
      if (step.before === undefined || step.before.phase === "active") continue;
      assert.ok(!step.outcome.ok || step.outcome.duplicate === true, `${step.command.type} after the end`);
      assert.deepEqual(step.after, step.before);
    }
  });
});

test("an auction closes exactly once, at or after its closing time, sold exactly when the reserve is met", () => {
  forEveryTrace((trace) => {
    const closes = new Map<string, number>();
    for (const event of eventsOf(trace)) {
      if (event.type === "auction-closed")
        closes.set(event.auctionId, (closes.get(event.auctionId) ?? 0) + 1);
    }
    for (const auction of trace.harness.book.auctions.values()) {
      const expected = auction.phase === "cancelled" ? 0 : 1;
      assert.equal(closes.get(auction.id) ?? 0, expected, `${auction.id} (${auction.phase})`);
      if (auction.phase !== "cancelled") assert.equal(auction.phase, "closed");
    }
    for (const { command, outcome, before } of trace.steps) {
      if (command.type !== "close-auction" || !outcome.ok) continue;
      assert.ok(
        before !== undefined && command.timestampMs >= before.closesAt,
        "not before the closing time",
      );
      const reserveMet =
        before.price !== null && (before.reservePrice === null || before.price >= before.reservePrice);
      const expected =
        before.leader !== null && reserveMet
          ? { result: "sold", winner: before.leader, price: before.price, reason: "deadline" }
          : { result: "unsold", reason: "deadline", reserveMet: false };
      assert.deepEqual(outcome.events, [
        { type: "auction-closed", timestampMs: command.timestampMs, auctionId: before.id, outcome: expected },
      ]);
    }
  });
});

test("the leader's (and so the winner's) maximum is at least every other bidder's; ties go to the earlier", () => {
  forEveryTrace(({ steps, harness }) => {
    // Per auction: each bidder's maximum over their accepted bids, and when they first reached it.
    const maxima = new Map<string, Map<string, { max: number; since: number }>>();
    const check = (auctionId: string, leader: string | null) => {
      const byBidder = maxima.get(auctionId);
      if (leader === null || byBidder === undefined) return;
      const leading = byBidder.get(leader)!;
      for (const [bidder, other] of byBidder) {
        if (bidder === leader) continue;
        assert.ok(leading.max >= other.max, `${leader}'s ${leading.max} under ${bidder}'s ${other.max}`);
        if (leading.max === other.max) assert.ok(leading.since < other.since, `a tie goes to the earlier`);
      }
    };
    for (const [index, step] of steps.entries()) {
      if (!isNewBid(step)) continue;
      const { auctionId, bidder, amount, max } = step.command;
      const byBidder = maxima.get(auctionId) ?? new Map<string, { max: number; since: number }>();
      maxima.set(auctionId, byBidder);
      const reached = max ?? amount;
      const previous = byBidder.get(bidder);
      if (previous === undefined || reached > previous.max)
        byBidder.set(bidder, { max: reached, since: index });
      check(auctionId, step.after!.leader);
    }
    for (const auction of harness.book.auctions.values()) {
      if (auction.outcome?.result === "sold") check(auction.id, auction.outcome.winner);
    }
  });
});

test("replaying the events onto a fresh book reproduces the state", () => {
  forEveryTrace((trace) => {
    assert.deepEqual(replay(eventsOf(trace)).auctions, trace.harness.book.auctions);
  });
});

test("soft close extends exactly as specified and never beyond its cap", () => {
  forEveryTrace(({ steps }) => {
    for (const step of steps) {
      const { before, after } = step;
      if (after === undefined) continue;
      const cap = after.originalClosesAt + (after.softClose?.maxExtensionMs ?? 0);
      assert.ok(
        after.closesAt >= after.originalClosesAt && after.closesAt <= cap,
        `${after.closesAt} past ${cap}`,
      );
      if (before === undefined || !isNewBid(step)) {
        assert.equal(after.closesAt, before?.closesAt ?? after.closesAt, "only a new bid extends");
        continue;
      }
      // A buy-now bid closes the auction instead of extending it.
      const softClose = before.softClose;
      const extending =
        softClose !== null &&
        after.phase === "active" &&
        step.command.timestampMs >= before.closesAt - softClose.windowMs;
      const expected = extending ? Math.min(before.closesAt + softClose.extensionMs, cap) : before.closesAt;
      assert.equal(after.closesAt, expected);
    }
  });
});
