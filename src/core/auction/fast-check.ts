// Hand-written checks beside the zod schemas, for the one command that makes up nearly all traffic:
// a bid. Each check answers true only when the matching schema certainly accepts the value, and may
// answer false for what it accepts (the caller then asks zod). Pure, no allocation. The peer
// messages' fast path (src/net/fast-validate.ts) builds on the same checks; its tests sweep every
// field's boundaries against zod, so a schema that gains a check shows there.
import { AMOUNT_MAX, identifierPattern, limits, userNamePattern } from "./schemas.js";
import type { PlaceBidCommand } from "./schemas.js";

export type Fields = Record<string, unknown>;

/** A place-bid command as an owner proposes it and a log entry carries it: no timestamp. */
export type PlaceBidBody = Omit<PlaceBidCommand, "timestampMs">;

const bidKeys: ReadonlySet<string> = new Set(["type", "auctionId", "bidder", "bidId", "amount", "max"]);

/**
 * Whether `value` is a place-bid command without its timestamp that `placeBidCommandSchema` (with
 * any valid timestamp) accepts as it is: exactly these keys, each within its schema's bounds.
 */
export function isPlaceBidBody(value: unknown): value is PlaceBidBody {
  if (!isObject(value) || value["type"] !== "place-bid" || !hasExactly(value, bidKeys)) return false;
  const { auctionId, bidder, bidId, amount, max } = value;
  return (
    isText(auctionId, limits.idLength, identifierPattern) &&
    isText(bidId, limits.idLength, identifierPattern) &&
    isText(bidder, limits.nameLength, userNamePattern) &&
    isAmount(amount) &&
    (max === null || isAmount(max))
  );
}

/**
 * Whether the keys `for...in` yields (as zod's strict objects enumerate them) are exactly `keys`:
 * each one of them, and as many. A JSON `__proto__` key is an own key and is not in any set.
 */
export function hasExactly(object: Fields, keys: ReadonlySet<string>): boolean {
  let count = 0;
  for (const key in object) {
    if (!keys.has(key)) return false;
    count++;
  }
  return count === keys.size;
}

/** As zod's object check: anything non-null of type "object" but an array. */
export function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A string of 1..lengthMax UTF-16 units (zod counts .length), matching `pattern` if given. */
export function isText(value: unknown, lengthMax: number, pattern?: RegExp): value is string {
  if (typeof value !== "string" || value.length < 1 || value.length > lengthMax) return false;
  return pattern === undefined || pattern.test(value);
}

/** z.int().positive() (nodeIdSchema, epochSchema): z.int() takes safe integers only. */
export function isPositiveInt(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/** amountSchema: z.number().int().positive().max(AMOUNT_MAX). */
export function isAmount(value: unknown): value is number {
  return isPositiveInt(value) && value <= AMOUNT_MAX;
}
