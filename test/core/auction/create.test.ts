// Creating auctions: the auction-created event and state, and every reason a create is rejected,
// both the engine's own rules (invalid-auction, auction-exists, too-many-auctions) and the schema's.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { limits } from "../../../src/core/auction/schemas.js";
import type { CreateAuctionCommand } from "../../../src/core/auction/schemas.js";
import { Harness, accepted, create, rejected } from "./fixtures.js";

describe("create-auction", () => {
  test("creates an active auction with no bids, stamped with the command's time", () => {
    const harness = new Harness();
    const events = accepted(harness.run(create({ timestampMs: 5 })));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, "auction-created");
    const auction = harness.auction();
    assert.equal(auction.phase, "active");
    assert.equal(auction.createdAt, 5);
    assert.equal(auction.price, null);
    assert.equal(auction.leader, null);
    assert.equal(auction.originalClosesAt, auction.closesAt);
    assert.deepEqual(auction.bids, []);
    assert.equal(auction.accepted.size, 0);
    assert.equal(auction.outcome, null);
    assert.equal(auction.version, 1);
  });

  test("rejects a second auction with the same id: auction-exists", () => {
    const harness = Harness.withAuction();
    const before = harness.snapshot();
    rejected(harness.run(create({ timestampMs: 1, title: "Another lamp" })), "auction-exists");
    assert.deepEqual(harness.snapshot(), before);
  });

  test("rejects a create beyond auctionsMax: too-many-auctions", () => {
    const harness = new Harness({ auctionsMax: 2, bidsPerAuctionMax: 10 });
    accepted(harness.run(create({ auctionId: "a1" })));
    accepted(harness.run(create({ auctionId: "a2" })));
    rejected(harness.run(create({ auctionId: "a3" })), "too-many-auctions");
    assert.equal(harness.book.auctions.size, 2);
  });

  test("an existing id is reported as auction-exists even when the book is full", () => {
    const harness = new Harness({ auctionsMax: 1, bidsPerAuctionMax: 10 });
    accepted(harness.run(create()));
    rejected(harness.run(create()), "auction-exists");
  });

  const problems: [string, Partial<CreateAuctionCommand>][] = [
    ["closesAt equal to opensAt", { opensAt: 5_000, closesAt: 5_000 }],
    ["closesAt before opensAt", { opensAt: 5_000, closesAt: 4_000 }],
    ["closesAt not after the command's stamp", { timestampMs: 3_000, opensAt: 0, closesAt: 3_000 }],
    ["reservePrice below startingPrice", { startingPrice: 100, reservePrice: 99 }],
    ["buyNowPrice below startingPrice", { startingPrice: 100, buyNowPrice: 99 }],
    ["buyNowPrice below reservePrice", { reservePrice: 500, buyNowPrice: 499 }],
    [
      "an increment table whose first band does not start at 0",
      { increment: { type: "table", bands: [{ from: 1, increment: 5 }] } },
    ],
    [
      "an increment table out of order",
      {
        increment: {
          type: "table",
          bands: [
            { from: 0, increment: 5 },
            { from: 500, increment: 20 },
            { from: 100, increment: 10 },
          ],
        },
      },
    ],
    [
      "an increment table with two bands from the same price",
      {
        increment: {
          type: "table",
          bands: [
            { from: 0, increment: 5 },
            { from: 0, increment: 10 },
          ],
        },
      },
    ],
  ];
  for (const [problem, overrides] of problems) {
    test(`rejects ${problem}: invalid-auction`, () => {
      const harness = new Harness();
      rejected(harness.runUnknown(create(overrides)), "invalid-auction");
      assert.equal(harness.book.auctions.size, 0, "a rejected create leaves no trace");
    });
  }

  test("accepts the edge cases the rules allow", () => {
    const harness = new Harness();
    // Opens in the past, reserve and buy-now equal to the starting price, closes 1 ms after its stamp.
    accepted(
      harness.run(
        create({ timestampMs: 500, opensAt: 0, closesAt: 501, reservePrice: 100, buyNowPrice: 100 }),
      ),
    );
  });
});

describe("create-auction shapes (schema): invalid-command", () => {
  const tooLong = (length: number) => "x".repeat(length + 1);
  const cases: [string, unknown][] = [
    ["an unknown field", { ...create(), colour: "red" }],
    [
      "an unknown field inside the increment",
      { ...create(), increment: { type: "fixed", amount: 5, cap: 1 } },
    ],
    [
      "an unknown field inside softClose",
      { ...create(), softClose: { windowMs: 1, extensionMs: 1, maxExtensionMs: 1, x: 1 } },
    ],
    ["a missing field", (({ title: _title, ...rest }) => rest)(create())],
    ["a title over the limit", create({ title: tooLong(limits.titleLength) })],
    ["an empty title", create({ title: "" })],
    ["a description over the limit", create({ description: tooLong(limits.descriptionLength) })],
    ["an auction id over the limit", create({ auctionId: tooLong(limits.idLength) })],
    ["an auction id with a space", create({ auctionId: "a 1" })],
    ["a seller name over the limit", create({ seller: tooLong(limits.nameLength) })],
    ["a seller name with a trailing space", create({ seller: "sam " })],
    ["a seller name with a control character", create({ seller: "s\nam" })],
    ["a currency that is not an ISO code", create({ currency: "euro" })],
    ["a fractional starting price", create({ startingPrice: 1.5 })],
    ["a negative timestamp", create({ timestampMs: -1 })],
    [
      "too many increment bands",
      create({
        increment: {
          type: "table",
          bands: Array.from({ length: limits.incrementBands + 1 }, (_, index) => ({
            from: index * 100,
            increment: 1,
          })),
        },
      }),
    ],
    [
      "a soft close window over the cap",
      create({ softClose: { windowMs: 24 * 3_600_000 + 1, extensionMs: 1, maxExtensionMs: 1 } }),
    ],
    ["an unknown command type", { ...create(), type: "delete-auction" }],
    ["not an object", "create-auction a1"],
    ["null", null],
  ];
  for (const [what, input] of cases) {
    test(`rejects ${what}`, () => {
      const harness = new Harness();
      rejected(harness.runUnknown(input), "invalid-command");
      assert.equal(harness.book.auctions.size, 0);
    });
  }

  test("accepts strings exactly at their length limits", () => {
    const harness = new Harness();
    const atLimit = (length: number) => "x".repeat(length);
    accepted(
      harness.runUnknown(
        create({
          auctionId: atLimit(limits.idLength),
          seller: atLimit(limits.nameLength),
          title: atLimit(limits.titleLength),
          description: atLimit(limits.descriptionLength),
        }),
      ),
    );
  });
});
