// The building blocks of the peer schemas: bounds, identifiers, numbers, the membership and the
// auction command bodies. Shared by schemas.ts and outcome-schemas.ts; pure zod, no I/O.
import { z } from "zod";
import {
  cancelAuctionCommandSchema,
  closeAuctionCommandSchema,
  createAuctionCommandSchema,
  identifierPattern,
  limits as auctionLimits,
  placeBidCommandSchema,
  TIMESTAMP_MAX,
} from "../core/auction/schemas.js";

/**
 * Bounds on peer input. They are generous multiples of the core's defaults (512 entries per
 * append, 256 commands per owner batch, 1 Mi-character snapshot chunks, 64 members): a node
 * configured beyond them would send messages its peers drop, so the configuration must stay
 * within them.
 */
export const peerLimits = {
  clusterIdLength: 64,
  clusterNameLength: 64,
  incarnationLength: 64,
  /** "host:port": a DNS name is at most 253 characters. */
  addressLength: 255,
  httpUrlLength: 512,
  detailLength: 2000,
  requestIdLength: 256,
  refLength: 256,
  hashLength: 512,
  forwardHopsMax: 64,
  membersMax: 1024,
  entriesPerMessageMax: 4096,
  eventsPerOutcomeMax: 64,
  linesPerBidMax: 64,
  snapshotChunkCharsMax: 4 * 1024 * 1024,
} as const;

// z.int() accepts only safe integers; z.number() rejects NaN and ±Infinity.
export const nodeIdSchema = z.int().positive();
export const termSchema = z.int().nonnegative();
export const indexSchema = z.int().nonnegative();
export const countSchema = z.int().nonnegative();
/** A reading of some node's clock, in ms; not necessarily whole. */
export const clockMsSchema = z.number().nonnegative().max(TIMESTAMP_MAX);
export const clockDeviationMsSchema = z.number().min(-TIMESTAMP_MAX).max(TIMESTAMP_MAX);

export const boundedText = (lengthMax: number) => z.string().min(1).max(lengthMax);

/** An auction or bid id, as the engine's schemas define them. */
export const auctionIdSchema = boundedText(auctionLimits.idLength);

/** What a cluster id may hold (the same characters as an auction id). */
export const clusterIdPattern = identifierPattern;

export const clusterIdSchema = z
  .string()
  .min(1)
  .max(peerLimits.clusterIdLength)
  .regex(clusterIdPattern, "letters, digits and . _ : - only");

export const incarnationSchema = boundedText(peerLimits.incarnationLength);
export const addressSchema = boundedText(peerLimits.addressLength);
export const httpUrlSchema = boundedText(peerLimits.httpUrlLength);
export const detailSchema = z.string().max(peerLimits.detailLength);
export const hashSchema = boundedText(peerLimits.hashLength);

export const memberSchema = z.strictObject({
  id: nodeIdSchema,
  incarnation: incarnationSchema,
  address: addressSchema,
  httpUrl: httpUrlSchema,
  voter: z.boolean(),
});

export const clusterConfigSchema = z.strictObject({
  members: z.array(memberSchema).max(peerLimits.membersMax),
});

/** An assignment of an auction to its owner. */
export const assignmentSchema = z.strictObject({ owner: nodeIdSchema, epoch: z.int().positive() });

/** A create-auction command as proposed, before the leader stamps it. */
export const createAuctionBodySchema = createAuctionCommandSchema.omit({ timestampMs: true });

/** The commands an auction's owner proposes, before the leader stamps them. */
export const ownerCommandBodySchema = z.discriminatedUnion("type", [
  placeBidCommandSchema.omit({ timestampMs: true }),
  cancelAuctionCommandSchema.omit({ timestampMs: true }),
  closeAuctionCommandSchema.omit({ timestampMs: true }),
]);
