// Request bodies of the client API, built from the engine's own schemas so that the HTTP layer
// and the state machine agree on every bound. Unknown fields are rejected.
import { z } from "zod";
import {
  amountSchema,
  currencySchema,
  limits,
  softCloseSchema,
  timestampSchema,
  userNameSchema,
} from "../core/auction/schemas.js";

export const registerBodySchema = z.strictObject({ name: userNameSchema });

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
  bidId: z
    .string()
    .min(1)
    .max(limits.idLength)
    .regex(/^[A-Za-z0-9._:-]+$/, "letters, digits and . _ : - only"),
  max: amountSchema.optional(),
});
