// Schemas of what a node sends back for a forwarded client request: the auction engine's outcomes
// and events, the replicated state machine's apply results, and the client result around them.
// They hold shapes and bounds only; whether an outcome is right is the engine's business. No I/O.
import { z } from "zod";
import {
  amountSchema,
  currencySchema,
  incrementRuleSchema,
  limits as auctionLimits,
  softCloseSchema,
  timestampSchema,
  userNameSchema,
} from "../core/auction/schemas.js";
import {
  assignmentSchema,
  auctionIdSchema,
  clusterConfigSchema,
  detailSchema,
  indexSchema,
  nodeIdSchema,
  peerLimits,
} from "./schema-parts.js";

const acceptedBidSchema = z.strictObject({
  auctionId: auctionIdSchema,
  bidId: auctionIdSchema,
  bidder: userNameSchema,
  amount: amountSchema,
  max: amountSchema.nullable(),
  timestampMs: timestampSchema,
  priceAfter: amountSchema,
  leaderAfter: userNameSchema,
  boughtNow: z.boolean(),
});

export const closedOutcomeSchema = z.discriminatedUnion("result", [
  z.strictObject({
    result: z.literal("sold"),
    winner: userNameSchema,
    price: amountSchema,
    reason: z.enum(["deadline", "buy-now"]),
  }),
  z.strictObject({ result: z.literal("unsold"), reason: z.literal("deadline"), reserveMet: z.boolean() }),
]);

const createdAuctionSchema = z.strictObject({
  id: auctionIdSchema,
  seller: userNameSchema,
  title: z.string().min(1).max(auctionLimits.titleLength),
  description: z.string().max(auctionLimits.descriptionLength),
  currency: currencySchema,
  startingPrice: amountSchema,
  reservePrice: amountSchema.nullable(),
  buyNowPrice: amountSchema.nullable(),
  increment: incrementRuleSchema,
  softClose: softCloseSchema.nullable(),
  createdAt: timestampSchema,
  opensAt: timestampSchema,
  closesAt: timestampSchema,
});

const bidLineSchema = z.strictObject({
  bidId: auctionIdSchema,
  bidder: userNameSchema,
  amount: amountSchema,
  timestampMs: timestampSchema,
  automatic: z.boolean(),
});

const auctionEventSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("auction-created"),
    timestampMs: timestampSchema,
    auction: createdAuctionSchema,
  }),
  z.strictObject({
    type: z.literal("bid-accepted"),
    timestampMs: timestampSchema,
    auctionId: auctionIdSchema,
    bidId: auctionIdSchema,
    bidder: userNameSchema,
    amount: amountSchema,
    max: amountSchema.nullable(),
    lines: z.array(bidLineSchema).max(peerLimits.linesPerBidMax),
    price: amountSchema,
    leader: userNameSchema,
    leaderMax: amountSchema,
    leaderBidId: auctionIdSchema,
    boughtNow: z.boolean(),
    previousLeader: userNameSchema.nullable(),
  }),
  z.strictObject({
    type: z.literal("auction-extended"),
    timestampMs: timestampSchema,
    auctionId: auctionIdSchema,
    closesAt: timestampSchema,
  }),
  z.strictObject({
    type: z.literal("auction-closed"),
    timestampMs: timestampSchema,
    auctionId: auctionIdSchema,
    outcome: closedOutcomeSchema,
  }),
  z.strictObject({
    type: z.literal("auction-cancelled"),
    timestampMs: timestampSchema,
    auctionId: auctionIdSchema,
    by: userNameSchema,
  }),
]);

export const rejectionReasonSchema = z.enum([
  "invalid-command",
  "unknown-auction",
  "bid-id-reused",
  "invalid-amount",
  "auction-cancelled",
  "auction-closed",
  "not-open",
  "own-auction",
  "too-many-bids",
  "below-minimum",
  "auction-exists",
  "invalid-auction",
  "too-many-auctions",
  "not-seller",
  "has-bids",
  "close-too-early",
]);

/** The engine's outcome of one command: events, or a rejection. */
export const outcomeSchema = z.union([
  z.strictObject({
    ok: z.literal(true),
    events: z.array(auctionEventSchema).max(peerLimits.eventsPerOutcomeMax),
    bid: acceptedBidSchema.optional(),
    duplicate: z.boolean().optional(),
  }),
  z.strictObject({ ok: z.literal(false), reason: rejectionReasonSchema, message: detailSchema }),
]);

/** What applying one committed entry produced. */
export const applyResultSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("noop") }),
  z.strictObject({ kind: z.literal("config"), config: clusterConfigSchema }),
  z.strictObject({ kind: z.literal("auction"), auctionId: auctionIdSchema, outcome: outcomeSchema }),
  z.strictObject({
    kind: z.literal("fenced"),
    auctionId: auctionIdSchema,
    current: assignmentSchema.nullable(),
  }),
  z.strictObject({
    kind: z.literal("assign"),
    auctionId: auctionIdSchema,
    applied: z.boolean(),
    assignment: assignmentSchema.nullable(),
  }),
  z.strictObject({ kind: z.literal("user"), name: userNameSchema, created: z.boolean() }),
  z.strictObject({ kind: z.literal("session"), name: userNameSchema, created: z.boolean() }),
  z.strictObject({ kind: z.literal("session-end"), ended: z.boolean() }),
  z.strictObject({ kind: z.literal("worker-state"), id: nodeIdSchema, drained: z.boolean() }),
]);

/** The answer to a client request, as forwarded back to the node the client asked. */
export const clientResultSchema = z.union([
  z.strictObject({
    ok: z.literal(true),
    kind: z.literal("applied"),
    index: indexSchema,
    result: applyResultSchema,
  }),
  z.strictObject({ ok: z.literal(true), kind: z.literal("decided"), outcome: outcomeSchema }),
  z.strictObject({ ok: z.literal(true), kind: z.literal("read"), index: indexSchema }),
  z.strictObject({ ok: z.literal(true), kind: z.literal("accepted"), detail: detailSchema }),
  z.strictObject({
    ok: z.literal(false),
    reason: z.enum(["unavailable", "outcome-unknown", "invalid"]),
    detail: detailSchema,
    leaderId: nodeIdSchema.nullable(),
  }),
]);
