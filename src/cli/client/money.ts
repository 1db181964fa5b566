// Amounts, durations and times as people type and read them: "12.50" becomes 1250 cents by string
// arithmetic (never through a binary float), cents print as "12.50 EUR", and times print relative
// to now ("in 3m 12s"). Pure functions; nothing here reads a clock except through its arguments.
import { AMOUNT_MAX } from "../../core/auction/schemas.js";

/** Why a typed amount or duration was refused: one sentence for the user. */
export class InputError extends Error {
  override readonly name = "InputError";
}

const amountPattern = /^(\d+)(?:\.(\d*))?$/;

/**
 * Cents of an amount typed in major units: "12.50" → 1250, "12.5" → 1250, "12" → 1200, ".5" is
 * refused. Exact: the digits are read as text, so no value ever passes through a float.
 * Throws InputError for anything else, and for more than two decimals.
 */
export function parseAmount(text: string): number {
  const trimmed = text.trim();
  const match = amountPattern.exec(trimmed);
  if (match === null) {
    throw new InputError(
      `${JSON.stringify(text)} is not an amount: write it like 12.50 (digits, a dot, cents)`,
    );
  }
  const whole = match[1]!;
  const fraction = match[2] ?? "";
  if (fraction.length > 2) {
    throw new InputError(
      `${text} has ${fraction.length} decimals; amounts have at most two (cents), e.g. ${whole}.${fraction.slice(0, 2)}`,
    );
  }
  const digits = `${whole}${fraction.padEnd(2, "0")}`.replace(/^0+(?=\d)/, "");
  if (digits.length > String(AMOUNT_MAX).length || BigInt(digits) > BigInt(AMOUNT_MAX)) {
    throw new InputError(`${text} is too large; the largest amount is ${formatMoney(AMOUNT_MAX)}`);
  }
  const cents = Number(digits);
  if (cents <= 0) throw new InputError(`${text}: an amount must be more than zero`);
  return cents;
}

/** "12.50" for 1250, thousands separated by commas: "1,234.50". */
export function formatAmount(cents: number): string {
  const sign = cents < 0 ? "-" : "";
  const absolute = Math.abs(cents);
  const whole = Math.floor(absolute / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${whole}.${String(absolute % 100).padStart(2, "0")}`;
}

/** "1234.50": an amount as parseAmount reads it back (for commands the CLI suggests). */
export function typedAmount(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}

/** "12.50 EUR"; "—" for no amount. */
export function formatMoney(cents: number | null | undefined, currency = ""): string {
  if (cents === null || cents === undefined) return "—";
  return currency === "" ? formatAmount(cents) : `${formatAmount(cents)} ${currency}`;
}

const durationUnits: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** Milliseconds of "10m", "1h30m", "90s", "2d" (units d, h, m, s, largest first). Throws InputError. */
export function parseDuration(text: string): number {
  const trimmed = text.trim().toLowerCase();
  if (!/^(\d+[dhms])+$/.test(trimmed)) {
    throw new InputError(`${JSON.stringify(text)} is not a duration: write it like 10m, 1h30m, 90s or 2d`);
  }
  let totalMs = 0;
  for (const [, count, unit] of trimmed.matchAll(/(\d+)([dhms])/g))
    totalMs += Number(count) * durationUnits[unit!]!;
  if (totalMs <= 0) throw new InputError(`${text}: a duration must be longer than zero`);
  return totalMs;
}

/** "3m 12s", "2h 5m", "4d 3h", "12s": the two largest units of a span. */
export function formatSpan(spanMs: number): string {
  const seconds = Math.max(0, Math.floor(spanMs / 1000));
  const parts: [number, string][] = [
    [Math.floor(seconds / 86_400), "d"],
    [Math.floor((seconds % 86_400) / 3600), "h"],
    [Math.floor((seconds % 3600) / 60), "m"],
    [seconds % 60, "s"],
  ];
  const first = parts.findIndex(([count]) => count > 0);
  if (first === -1) return "0s";
  return parts
    .slice(first, first + 2)
    .filter(([count]) => count > 0)
    .map(([count, unit]) => `${count}${unit}`)
    .join(" ");
}

/** "in 3m 12s" for a future time, "5m 2s ago" for a past one, "now" within a second. */
export function formatRelative(atMs: number, nowMs: number): string {
  const deltaMs = atMs - nowMs;
  if (Math.abs(deltaMs) < 1000) return "now";
  return deltaMs > 0 ? `in ${formatSpan(deltaMs)}` : `${formatSpan(-deltaMs)} ago`;
}

/** Local wall-clock time: "14:03:27", with the date in front when it is not today. */
export function formatClock(atMs: number, nowMs: number): string {
  const at = new Date(atMs);
  const time = [at.getHours(), at.getMinutes(), at.getSeconds()]
    .map((part) => String(part).padStart(2, "0"))
    .join(":");
  if (at.toDateString() === new Date(nowMs).toDateString()) return time;
  const date = [at.getFullYear(), at.getMonth() + 1, at.getDate()]
    .map((part, index) => String(part).padStart(index === 0 ? 4 : 2, "0"))
    .join("-");
  return `${date} ${time}`;
}

/** Milliseconds since the epoch of an ISO 8601 time with a date ("2030-01-31T18:00:00Z"). Throws InputError. */
export function parseTime(text: string): number {
  const atMs = /^\d{4}-\d{2}-\d{2}/.test(text.trim()) ? Date.parse(text.trim()) : Number.NaN;
  if (Number.isNaN(atMs)) {
    throw new InputError(
      `${JSON.stringify(text)} is not a time: write it in ISO 8601, e.g. 2030-01-31T18:00:00Z`,
    );
  }
  return atMs;
}
