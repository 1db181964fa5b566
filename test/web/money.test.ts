// Money as typed and shown on the page against minor units as the API speaks them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatAmount, formatMoney, inputAmount, parseMoney } from "../../src/web/money.js";

test("amounts are shown grouped with every minor digit", () => {
  assert.equal(formatMoney(1250, "EUR"), "12.50 EUR");
  assert.equal(formatMoney(125_000, "EUR"), "1,250.00 EUR");
  assert.equal(formatMoney(5, "EUR"), "0.05 EUR");
  assert.equal(formatAmount(123_456_789, "USD"), "1,234,567.89");
  assert.equal(formatMoney(1500, "JPY"), "1,500 JPY");
  assert.equal(inputAmount(125_000, "EUR"), "1250.00");
});

test("typed amounts become minor units, whatever the separators", () => {
  const cases: [string, number][] = [
    ["12.50", 1250],
    ["12.5", 1250],
    ["12", 1200],
    ["12,50", 1250],
    ["1,250.00", 125_000],
    ["1.250,00", 125_000],
    ["1 250", 125_000],
    ["1,250,000", 125_000_000],
    ["1.250.000,50", 125_000_050],
    ["12.50 EUR", 1250],
    [" 0.01 ", 1],
  ];
  for (const [text, minorUnits] of cases)
    assert.deepEqual(parseMoney(text, "EUR"), { ok: true, minorUnits }, text);
  assert.deepEqual(parseMoney("1500", "JPY"), { ok: true, minorUnits: 1500 });
});

test("amounts that cannot be read exactly are refused, never rounded or guessed", () => {
  for (const text of [
    "",
    "abc",
    "12.505",
    "-3",
    "0",
    "0.00",
    "1.2.3",
    "12,5,0",
    "1e5",
    "99999999999999999",
  ]) {
    const parsed = parseMoney(text, "EUR");
    assert.equal(parsed.ok, false, text);
  }
  assert.equal(parseMoney("12.5", "JPY").ok, false);
});

test("formatting and parsing agree", () => {
  for (const minorUnits of [1, 99, 100, 1250, 999_999, 123_456_789]) {
    assert.deepEqual(parseMoney(inputAmount(minorUnits, "EUR"), "EUR"), { ok: true, minorUnits });
    assert.deepEqual(parseMoney(formatMoney(minorUnits, "EUR"), "EUR"), { ok: true, minorUnits });
  }
});
