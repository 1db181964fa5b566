// The bid route's hand-written checks of its body and its auction id against the zod schemas they
// stand in for: at every boundary of every field, with a field removed or one added, the fast check
// may only accept what zod accepts (and, for these plain inputs, it accepts all of it).
import assert from "node:assert/strict";
import { test } from "node:test";
import { AMOUNT_MAX, limits } from "../../src/core/auction/schemas.js";
import {
  auctionIdParamSchema,
  isAuctionId,
  isPlaceBidBody,
  placeBidBodySchema,
} from "../../src/api/schemas.js";

const values: unknown[] = [
  0,
  1,
  -1,
  0.5,
  AMOUNT_MAX,
  AMOUNT_MAX + 1,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  Number.NaN,
  "",
  " ",
  "5",
  "b-1",
  "b 1",
  "b\u00e9",
  "x".repeat(limits.idLength),
  "x".repeat(limits.idLength + 1),
  "a.b_c:d-e",
  null,
  true,
  [],
  {},
];

test("the bid body's fast check decides as placeBidBodySchema at every boundary", () => {
  const bases: Record<string, unknown>[] = [
    { amount: 100, bidId: "b-1" },
    { amount: 100, bidId: "b-1", max: 500 },
    { bidId: "x".repeat(limits.idLength), amount: AMOUNT_MAX },
  ];
  let checked = 0;
  let refused = 0;
  for (const base of bases) {
    const variants: unknown[] = [
      base,
      { ...base, extra: 1 },
      { ...base, type: "place-bid" },
      JSON.parse(`{"__proto__":null,${JSON.stringify(base).slice(1)}`),
      null,
      [],
      "body",
    ];
    for (const key of ["amount", "bidId", "max"]) {
      const { [key]: _removed, ...without } = base;
      variants.push(without);
      for (const value of values) variants.push({ ...base, [key]: value });
    }
    for (const variant of variants) {
      const zodOk = placeBidBodySchema.safeParse(variant).success;
      assert.equal(isPlaceBidBody(variant), zodOk, JSON.stringify(variant)?.slice(0, 200));
      checked++;
      if (!zodOk) refused++;
    }
  }
  assert.ok(refused >= checked / 2, `zod refused ${refused} of ${checked}`);
});

test("the auction id's fast check decides as auctionIdParamSchema", () => {
  for (const value of [...values, "a1b2c3d4e5f6", "auction-1", "a/b", "a%20b", "ä"]) {
    assert.equal(isAuctionId(value), auctionIdParamSchema.safeParse(value).success, String(value));
  }
});
