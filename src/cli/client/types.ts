// The API documents the CLI reads (docs/API.md), as loose zod schemas: the fields the CLI uses are
// checked, anything else a newer node adds passes through untouched (and `--json` prints the
// document exactly as the node sent it). A document that fails its schema is a "bad-response".
import { z } from "zod";
import { ClientError } from "./errors.js";

const outcomeSchema = z.union([
  z.looseObject({
    result: z.literal("sold"),
    winner: z.string(),
    price: z.number(),
    reason: z.string(),
  }),
  z.looseObject({ result: z.literal("unsold"), reason: z.string(), reserveMet: z.boolean() }),
]);

export const bidLineSchema = z.looseObject({
  bidId: z.string(),
  bidder: z.string(),
  amount: z.number(),
  at: z.number(),
  automatic: z.boolean(),
});

export const auctionSummarySchema = z.looseObject({
  id: z.string(),
  title: z.string(),
  description: z.string(),
  seller: z.string(),
  currency: z.string(),
  status: z.enum(["scheduled", "open", "closing", "closed", "cancelled"]),
  startingPrice: z.number(),
  price: z.number().nullable(),
  highBidder: z.string().nullable(),
  minimumBid: z.number(),
  hasReserve: z.boolean(),
  reserveMet: z.boolean(),
  buyNowPrice: z.number().nullable(),
  opensAt: z.number(),
  closesAt: z.number(),
  originalClosesAt: z.number(),
  bidCount: z.number(),
  outcome: outcomeSchema.nullable(),
  version: z.number(),
  owner: z.number().nullable(),
});

export const auctionDocumentSchema = auctionSummarySchema.extend({
  bids: z.array(bidLineSchema),
  bidsOffset: z.number(),
  bidsTotal: z.number(),
});

export const auctionListSchema = z.looseObject({
  items: z.array(auctionSummarySchema),
  total: z.number(),
  offset: z.number(),
  limit: z.number(),
});

export const acceptedBidSchema = z.looseObject({
  auctionId: z.string(),
  bidId: z.string(),
  bidder: z.string(),
  amount: z.number(),
  max: z.number().nullable(),
  at: z.number(),
  price: z.number(),
  highBidder: z.string(),
  leading: z.boolean(),
  boughtNow: z.boolean(),
});

export const sessionSchema = z.looseObject({
  name: z.string(),
  token: z.string(),
  expiresAt: z.number().nullable(),
});

export const clusterNodeSchema = z.looseObject({
  id: z.number(),
  role: z.string(),
  status: z.string(),
  http: z.string(),
  auctions: z.number(),
  drained: z.boolean().optional(),
});

export const clusterDocumentSchema = z.looseObject({
  term: z.number(),
  leader: z.number().nullable(),
  nodes: z.array(clusterNodeSchema),
  voters: z.number().optional(),
  majority: z.number().optional(),
  canLoseOne: z.boolean().optional(),
  assignments: z.record(z.string(), z.number()).optional(),
});

export type BidLine = z.infer<typeof bidLineSchema>;
export type AuctionSummary = z.infer<typeof auctionSummarySchema>;
export type AuctionDocument = z.infer<typeof auctionDocumentSchema>;
export type AuctionList = z.infer<typeof auctionListSchema>;
export type AcceptedBid = z.infer<typeof acceptedBidSchema>;
export type ClusterDocument = z.infer<typeof clusterDocumentSchema>;

/** `body` checked against `schema`, or a "bad-response" error naming the first problem. */
export function expectDocument<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? "" : ` at ${issue.path.join(".")}`;
  throw new ClientError(
    "bad-response",
    `unexpected ${what} from the node${where}: ${issue?.message ?? "invalid"}`,
  );
}
