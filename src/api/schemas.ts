// Request bodies of the client API, built from the engine's own schemas so that the HTTP layer
// and the state machine agree on every bound. Unknown fields are rejected.
import { z } from "zod";
import { isAmount, isObject, isText } from "../core/auction/fast-check.js";
import {
  amountSchema,
  identifierPattern,
  currencySchema,
  limits,
  placeBidCommandSchema,
  softCloseSchema,
  timestampSchema,
  userNameSchema,
} from "../core/auction/schemas.js";

/** An auction id as the engine and the peer protocol accept it (letters, digits, . _ : -; at most 64). */
export const auctionIdParamSchema = placeBidCommandSchema.shape.auctionId;

export const passwordSchema = z.string().min(8, "at least 8 characters").max(200);

export const registerBodySchema = z.strictObject({
  name: userNameSchema,
  password: passwordSchema.optional(),
});

export const loginBodySchema = z.strictObject({ name: userNameSchema, password: z.string().min(1).max(200) });

const pageNumber = (max: number, fallback: number) =>
  z.coerce.number().int().min(0).max(max).default(fallback);

export const listQuerySchema = z.strictObject({
  filter: z.enum(["open", "closed", "mine", "all"]).default("open"),
  offset: pageNumber(1_000_000_000, 0),
  limit: pageNumber(200, 50),
});

export const showQuerySchema = z.strictObject({
  bidsOffset: pageNumber(1_000_000_000, 0),
  bidsLimit: pageNumber(1000, 100),
});

export const clusterQuerySchema = z.strictObject({ assignments: z.enum(["true", "false"]).optional() });

export const nodeBodySchema = z.strictObject({ node: z.int().positive() });

export const transferBodySchema = z.strictObject({ to: z.int().positive().optional() });

/** The longest auction the API accepts: 90 days. */
export const durationMsMax = 90 * 24 * 60 * 60 * 1000;

const incrementBandsSchema = z
  .array(z.strictObject({ from: z.int().nonnegative(), increment: amountSchema }))
  .min(1)
  .max(limits.incrementBands);

export const createAuctionBodySchema = z
  .strictObject({
    title: z.string().min(1).max(limits.titleLength),
    description: z.string().max(limits.descriptionLength).optional(),
    currency: currencySchema.optional(),
    startingPrice: amountSchema,
    /** A fixed increment, or bands: `[{ "from": 0, "increment": 50 }, { "from": 1000, "increment": 100 }]`. */
    minIncrement: z.union([amountSchema, incrementBandsSchema]),
    reservePrice: amountSchema.optional(),
    buyNowPrice: amountSchema.optional(),
    durationMs: z.int().positive().max(durationMsMax).optional(),
    opensAt: timestampSchema.optional(),
    closesAt: timestampSchema.optional(),
    /** null switches soft close off; absent means the defaults. */
    softClose: softCloseSchema.nullable().optional(),
  })
  .refine((body) => (body.durationMs === undefined) !== (body.closesAt === undefined), {
    message: "give exactly one of durationMs and closesAt",
    path: ["durationMs"],
  });

export type CreateAuctionBody = z.infer<typeof createAuctionBodySchema>;

export const placeBidBodySchema = z.strictObject({
  amount: amountSchema,
  bidId: z.string().min(1).max(limits.idLength).regex(identifierPattern, "letters, digits and . _ : - only"),
  max: amountSchema.optional(),
});

export type PlaceBidBody = z.infer<typeof placeBidBodySchema>;

/**
 * Whether `value` is a bid body that placeBidBodySchema accepts as it is: amount and bidId, max
 * if present, nothing else, each within bounds. False for what it cannot be sure of: the route
 * then asks zod, which also words the error. A bid is nearly every request a node answers.
 */
export function isPlaceBidBody(value: unknown): value is PlaceBidBody {
  if (!isObject(value)) return false;
  let count = 0;
  for (const key in value) {
    if (key !== "amount" && key !== "bidId" && key !== "max") return false;
    count++;
  }
  const hasMax = Object.hasOwn(value, "max");
  return (
    count === (hasMax ? 3 : 2) &&
    isAmount(value["amount"]) &&
    isText(value["bidId"], limits.idLength, identifierPattern) &&
    (!hasMax || isAmount(value["max"]))
  );
}

/** Whether `value` is an auction id the engine accepts (auctionIdParamSchema), without zod. */
export function isAuctionId(value: unknown): value is string {
  return isText(value, limits.idLength, identifierPattern);
}
