// The shapes of auction commands, checked at the engine's boundary and shared with the HTTP API.
// Only shapes and bounds live here (strings have length limits, unknown fields are rejected); the
// rules that depend on an auction's state live in engine.ts. No I/O, no clock, no randomness.
import { z } from "zod";

/** Largest amount the engine accepts, in minor units (10^12 cents = 10 billion in major units). */
export const AMOUNT_MAX = 1_000_000_000_000;
/** Largest timestamp the engine accepts (the year 2286 in ms since the epoch), so sums cannot overflow. */
export const TIMESTAMP_MAX = 10_000_000_000_000;
/** Longest time the soft close may push an auction past its original closing time: 24 hours. */
export const SOFT_CLOSE_EXTENSION_CAP_MS = 24 * 60 * 60 * 1000;

export const limits = {
  idLength: 64,
  nameLength: 64,
  titleLength: 200,
  descriptionLength: 5000,
  incrementBands: 32,
} as const;

/** What an identifier (auction id, bid id) may hold. Exported for hand-written checks of the same rule. */
export const identifierPattern = /^[A-Za-z0-9._:-]+$/;

/** What a user name may hold: printable, no leading or trailing spaces. */
export const userNamePattern = /^[^\s\p{C}](?:[^\p{C}]*[^\s\p{C}])?$/u;

const identifier = z
  .string()
  .min(1)
  .max(limits.idLength)
  .regex(identifierPattern, "letters, digits and . _ : - only");

/** A user name: printable, trimmed, 1..64 characters. */
export const userNameSchema = z
  .string()
  .min(1)
  .max(limits.nameLength)
  .regex(userNamePattern, "printable characters, no leading or trailing spaces");

/** An amount in minor units (cents): a safe positive integer no larger than AMOUNT_MAX. */
export const amountSchema = z
  .number({ error: "must be a number" })
  .int({ error: "must be a whole number of minor units (e.g. cents)" })
  .positive({ error: "must be positive" })
  .max(AMOUNT_MAX, { error: `must be at most ${AMOUNT_MAX}` });

export const timestampSchema = z.int().nonnegative().max(TIMESTAMP_MAX);

export const currencySchema = z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code such as EUR");

/** A fixed increment, or a table of increments by price band. */
export const incrementRuleSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("fixed"), amount: amountSchema }),
  z.strictObject({
    type: z.literal("table"),
    // Invariant (checked by the engine): bands sorted by `from`, the first from 0, no two alike.
    bands: z
      .array(z.strictObject({ from: z.int().nonnegative().max(AMOUNT_MAX), increment: amountSchema }))
      .min(1)
      .max(limits.incrementBands),
  }),
]);

/**
 * Soft close: a bid within the last `windowMs` before the closing time extends it by `extensionMs`,
 * never beyond the original closing time plus `maxExtensionMs`.
 */
export const softCloseSchema = z.strictObject({
  windowMs: z.int().positive().max(SOFT_CLOSE_EXTENSION_CAP_MS),
  extensionMs: z.int().positive().max(SOFT_CLOSE_EXTENSION_CAP_MS),
  maxExtensionMs: z.int().nonnegative().max(SOFT_CLOSE_EXTENSION_CAP_MS),
});

export const createAuctionCommandSchema = z.strictObject({
  type: z.literal("create-auction"),
  timestampMs: timestampSchema,
  auctionId: identifier,
  seller: userNameSchema,
  title: z.string().min(1).max(limits.titleLength),
  description: z.string().max(limits.descriptionLength),
  currency: currencySchema,
  startingPrice: amountSchema,
  reservePrice: amountSchema.nullable(),
  buyNowPrice: amountSchema.nullable(),
  increment: incrementRuleSchema,
  opensAt: timestampSchema,
  closesAt: timestampSchema,
  softClose: softCloseSchema.nullable(),
});

export const placeBidCommandSchema = z.strictObject({
  type: z.literal("place-bid"),
  timestampMs: timestampSchema,
  auctionId: identifier,
  bidder: userNameSchema,
  bidId: identifier,
  amount: amountSchema,
  /** The bidder's maximum for automatic (proxy) bidding; null for a plain bid. */
  max: amountSchema.nullable(),
});

export const cancelAuctionCommandSchema = z.strictObject({
  type: z.literal("cancel-auction"),
  timestampMs: timestampSchema,
  auctionId: identifier,
  by: userNameSchema,
});

export const closeAuctionCommandSchema = z.strictObject({
  type: z.literal("close-auction"),
  timestampMs: timestampSchema,
  auctionId: identifier,
});

export const auctionCommandSchema = z.discriminatedUnion("type", [
  createAuctionCommandSchema,
  placeBidCommandSchema,
  cancelAuctionCommandSchema,
  closeAuctionCommandSchema,
]);

export type IncrementRule = z.infer<typeof incrementRuleSchema>;
export type SoftClose = z.infer<typeof softCloseSchema>;
export type CreateAuctionCommand = z.infer<typeof createAuctionCommandSchema>;
export type PlaceBidCommand = z.infer<typeof placeBidCommandSchema>;
export type CancelAuctionCommand = z.infer<typeof cancelAuctionCommandSchema>;
export type CloseAuctionCommand = z.infer<typeof closeAuctionCommandSchema>;
export type AuctionCommand = z.infer<typeof auctionCommandSchema>;
