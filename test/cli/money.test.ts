// Amounts typed as "12.50" become exact cents (never through a float), more than two decimals are
// refused with a message that says so, and spans and times print the way the CLI shows them.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatMoney,
  formatRelative,
  formatSpan,
  InputError,
  parseAmount,
  parseDuration,
  typedAmount,
} from "../../src/cli/client/money.js";
import { AMOUNT_MAX } from "../../src/core/auction/schemas.js";

test("amounts become exact cents", () => {
  const cases: [string, number][] = [
    ["12.50", 1250],
    ["12.5", 1250],
    ["12", 1200],
    ["12.", 1200],
    ["0.01", 1],
    ["007.10", 710],
    [" 3.00 ", 300],
    // Each of these is off by one cent if computed as Math.round-less float arithmetic (x * 100).
    ["1.15", 115],
    ["4.35", 435],
    ["0.29", 29],
    ["10000000000.00", AMOUNT_MAX],
  ];
  for (const [text, cents] of cases) assert.equal(parseAmount(text), cents, text);
  assert.notEqual(Number("1.15") * 100, 115, "the float route really is wrong for this value");
});

test("more than two decimals, and anything else that is not an amount, is refused clearly", () => {
  assert.throws(
    () => parseAmount("12.345"),
    (error: Error) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /12\.345 has 3 decimals; amounts have at most two \(cents\)/);
      return true;
    },
  );
  for (const text of [
    "",
    "abc",
    "-1",
    "1e3",
    ".5",
    "1,50",
    "12.50 EUR",
    "0",
    "0.00",
    "10000000000.01",
    "99999999999999999999",
  ]) {
    assert.throws(() => parseAmount(text), InputError, text);
  }
});

test("cents print with two decimals and the currency; typed amounts read back", () => {
  assert.equal(formatMoney(1250, "EUR"), "12.50 EUR");
  assert.equal(formatMoney(5, "EUR"), "0.05 EUR");
  assert.equal(formatMoney(123456789, "USD"), "1,234,567.89 USD");
  assert.equal(formatMoney(null, "EUR"), "—");
  for (const cents of [1, 99, 100, 1250, 123456789]) assert.equal(parseAmount(typedAmount(cents)), cents);
});

test("durations and relative times", () => {
  assert.equal(parseDuration("10m"), 600_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("2d"), 172_800_000);
  assert.equal(parseDuration("90s"), 90_000);
  for (const text of ["", "10", "m", "1.5h", "-1m", "0s"])
    assert.throws(() => parseDuration(text), InputError, text);
  assert.equal(formatSpan(192_000), "3m 12s");
  assert.equal(formatSpan(3_600_000 * 26), "1d 2h");
  assert.equal(formatSpan(7_200_000), "2h");
  assert.equal(formatRelative(1_000_000 + 192_400, 1_000_000), "in 3m 12s");
  assert.equal(formatRelative(1_000_000 - 65_000, 1_000_000), "1m 5s ago");
  assert.equal(formatRelative(1_000_300, 1_000_000), "now");
});
