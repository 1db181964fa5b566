// Minimum increments: a fixed step, or a table of steps by price band, and how the engine applies
// them to the next bid's minimum and to proxy answers.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { minimumBid } from "../../../src/core/auction/engine.js";
import { incrementAt, incrementRuleProblem } from "../../../src/core/auction/increment.js";
import type { IncrementRule } from "../../../src/core/auction/schemas.js";
import { Harness, acceptedBid, bid, rejected } from "./fixtures.js";

const table: IncrementRule = {
  type: "table",
  bands: [
    { from: 0, increment: 5 },
    { from: 100, increment: 10 },
    { from: 1_000, increment: 50 },
  ],
};

describe("incrementAt", () => {
  test("a fixed rule gives the same step at every price", () => {
    const rule: IncrementRule = { type: "fixed", amount: 25 };
    for (const price of [0, 1, 99, 1_000_000]) assert.equal(incrementAt(rule, price), 25);
  });

  test("a table gives the step of the highest band starting at or below the price", () => {
    const cases: [number, number][] = [
      [0, 5],
      [99, 5],
      [100, 10],
      [999, 10],
      [1_000, 50],
      [10_000_000, 50],
    ];
    for (const [price, step] of cases) assert.equal(incrementAt(table, price), step, `at ${price}`);
  });

  test("incrementRuleProblem accepts a sorted table from 0 and any fixed rule", () => {
    assert.equal(incrementRuleProblem(table), null);
    assert.equal(incrementRuleProblem({ type: "fixed", amount: 1 }), null);
    assert.match(
      incrementRuleProblem({ type: "table", bands: [{ from: 5, increment: 1 }] }) ?? "",
      /start at 0/,
    );
  });
});

describe("the engine's minimum by price band", () => {
  test("the next bid must add the step of the band the current price is in", () => {
    const harness = Harness.withAuction({ startingPrice: 50, increment: table });
    acceptedBid(harness.run(bid("ann", 95)));
    assert.equal(minimumBid(harness.auction()), 100);
    rejected(harness.run(bid("bob", 99)), "below-minimum");
    acceptedBid(harness.run(bid("bob", 100)));
    // At 100 the band changes: the step is now 10.
    assert.equal(minimumBid(harness.auction()), 110);
    rejected(harness.run(bid("ann", 109)), "below-minimum");
    acceptedBid(harness.run(bid("ann", 1_000)));
    assert.equal(minimumBid(harness.auction()), 1_050);
    rejected(harness.run(bid("bob", 1_049)), "below-minimum");
    acceptedBid(harness.run(bid("bob", 1_050)));
  });

  test("a proxy answers one step of the band of the challenger's maximum", () => {
    const harness = Harness.withAuction({ startingPrice: 50, increment: table });
    acceptedBid(harness.run(bid("ann", 50, { max: 5_000 })));
    // Bob's 990 is in the 10 band: Ann's proxy answers at 1000.
    assert.equal(acceptedBid(harness.run(bid("bob", 990))).priceAfter, 1_000);
    // Bob's 1050 is in the 50 band: Ann's proxy answers at 1100.
    assert.equal(acceptedBid(harness.run(bid("bob", 1_050))).priceAfter, 1_100);
  });

  test("a new leader pays one step of the band of the runner-up's maximum", () => {
    const harness = Harness.withAuction({ startingPrice: 50, increment: table });
    acceptedBid(harness.run(bid("ann", 50, { max: 99 })));
    assert.equal(acceptedBid(harness.run(bid("bob", 55, { max: 5_000 }))).priceAfter, 104);
    // Ann's 1000 is in the 50 band: Bob's proxy answers at 1050.
    acceptedBid(harness.run(bid("ann", 120, { max: 1_000 })));
    assert.equal(harness.auction().price, 1_050);
    assert.equal(harness.auction().leader, "bob");
    // Bob's 5000 is the runner-up now: Cat pays 5000 + 50.
    assert.equal(acceptedBid(harness.run(bid("cat", 1_100, { max: 9_000 }))).priceAfter, 5_050);
  });
});
