// Zod schemas for everything a peer can send us: the messages of the cluster core, the log
// entries and client requests they carry, and beacons. They run at the network boundary, so every
// object is strict and every string, array and number bounded; the inferred types are checked
// against the core's at compile time. No I/O here.
import { z } from "zod";
import { timestampSchema, userNameSchema } from "../core/auction/schemas.js";
import type {
  Beacon,
  ClientRequest,
  ClientResult,
  EntryData,
  LogEntry,
  Message,
  MessageType,
} from "../core/cluster/types.js";
import { clientResultSchema } from "./outcome-schemas.js";
import {
  addressSchema,
  auctionIdSchema,
  boundedText,
  clockDeviationMsSchema,
  clockMsSchema,
  clusterConfigSchema,
  clusterIdSchema,
  countSchema,
  createAuctionBodySchema,
  detailSchema,
  hashSchema,
  httpUrlSchema,
  incarnationSchema,
  indexSchema,
  nodeIdSchema,
  ownerCommandBodySchema,
  peerLimits,
  termSchema,
} from "./schema-parts.js";

export { peerLimits } from "./schema-parts.js";

const epochSchema = z.int().positive();

/** What a log entry carries. */
export const entryDataSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("noop") }),
  z.strictObject({ kind: z.literal("config"), config: clusterConfigSchema }),
  z.strictObject({ kind: z.literal("create"), command: createAuctionBodySchema, owner: nodeIdSchema }),
  z.strictObject({
    kind: z.literal("auction"),
    command: ownerCommandBodySchema,
    owner: nodeIdSchema,
    epoch: epochSchema,
    ref: boundedText(peerLimits.refLength),
  }),
  z.strictObject({
    kind: z.literal("assign"),
    auctionId: auctionIdSchema,
    owner: nodeIdSchema,
    epoch: epochSchema,
  }),
  z.strictObject({
    kind: z.literal("user"),
    name: userNameSchema,
    tokenHash: hashSchema,
    passwordHash: hashSchema.nullable(),
  }),
  z.strictObject({
    kind: z.literal("session"),
    name: userNameSchema,
    tokenHash: hashSchema,
    expiresAt: timestampSchema,
  }),
  z.strictObject({ kind: z.literal("session-end"), tokenHash: hashSchema }),
  z.strictObject({ kind: z.literal("worker-state"), id: nodeIdSchema, drained: z.boolean() }),
]);

export const logEntrySchema = z.strictObject({
  index: indexSchema,
  term: termSchema,
  timestampMs: timestampSchema,
  data: entryDataSchema,
});

/** A client's request, as forwarded between nodes. */
export const clientRequestSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("register"),
    name: userNameSchema,
    tokenHash: hashSchema,
    passwordHash: hashSchema.nullable(),
  }),
  z.strictObject({ kind: z.literal("create"), command: createAuctionBodySchema }),
  z.strictObject({ kind: z.literal("auction"), command: ownerCommandBodySchema }),
  z.strictObject({ kind: z.literal("read") }),
  z.strictObject({ kind: z.literal("remove-member"), id: nodeIdSchema }),
  z.strictObject({ kind: z.literal("drain"), id: nodeIdSchema }),
  z.strictObject({
    kind: z.literal("login"),
    name: userNameSchema,
    tokenHash: hashSchema,
    expiresAt: timestampSchema,
  }),
  z.strictObject({ kind: z.literal("logout"), tokenHash: hashSchema }),
  z.strictObject({ kind: z.literal("set-drained"), id: nodeIdSchema, drained: z.boolean() }),
  z.strictObject({ kind: z.literal("transfer"), to: nodeIdSchema.nullable() }),
]);

/** The fields every message carries besides its type. */
const envelope = {
  clusterId: clusterIdSchema.nullable(),
  from: nodeIdSchema,
  to: nodeIdSchema,
  term: termSchema,
};

const requestIdSchema = boundedText(peerLimits.requestIdLength);

const replicationSchemas = [
  z.strictObject({
    ...envelope,
    type: z.literal("append"),
    prevIndex: indexSchema,
    prevTerm: termSchema,
    entries: z.array(logEntrySchema).max(peerLimits.entriesPerMessageMax),
    commitIndex: indexSchema,
    leaderTimeMs: clockMsSchema,
    clockDeviationMs: clockDeviationMsSchema.nullable(),
    readSeq: countSchema,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal("append-reply"),
    success: z.boolean(),
    matchIndex: indexSchema,
    rejectedIndex: indexSchema,
    hintIndex: indexSchema,
    echoTimeMs: clockMsSchema,
    followerTimeMs: clockMsSchema,
    readSeq: countSchema,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal("snapshot-chunk"),
    snapshotIndex: indexSchema,
    snapshotTerm: termSchema,
    snapshotTimestampMs: timestampSchema,
    config: clusterConfigSchema,
    offset: countSchema,
    totalChars: countSchema,
    data: z.string().max(peerLimits.snapshotChunkCharsMax),
  }),
  z.strictObject({
    ...envelope,
    type: z.literal("snapshot-reply"),
    snapshotIndex: indexSchema,
    nextOffset: countSchema,
    done: z.boolean(),
  }),
] as const;

const electionSchemas = [
  z.strictObject({
    ...envelope,
    type: z.literal("vote-request"),
    lastIndex: indexSchema,
    lastTerm: termSchema,
    preVote: z.boolean(),
    transfer: z.boolean(),
  }),
  z.strictObject({ ...envelope, type: z.literal("vote-reply"), granted: z.boolean(), preVote: z.boolean() }),
  z.strictObject({ ...envelope, type: z.literal("timeout-now") }),
] as const;

const membershipSchemas = [
  z.strictObject({
    ...envelope,
    type: z.literal("join-request"),
    incarnation: incarnationSchema,
    address: addressSchema,
    httpUrl: httpUrlSchema,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal("join-reply"),
    outcome: z.enum(["accepted", "member", "not-leader", "id-taken", "busy", "full"]),
    leaderId: nodeIdSchema.nullable(),
    detail: detailSchema,
  }),
] as const;

const roleSchemas = [
  z.strictObject({
    ...envelope,
    type: z.literal("forward"),
    origin: nodeIdSchema,
    requestId: requestIdSchema,
    request: clientRequestSchema,
    hops: z.int().nonnegative().max(peerLimits.forwardHopsMax),
    minIndex: indexSchema,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal("forward-result"),
    requestId: requestIdSchema,
    result: clientResultSchema,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal("owner-proposal"),
    entries: z.array(entryDataSchema).max(peerLimits.entriesPerMessageMax),
  }),
  z.strictObject({
    ...envelope,
    type: z.literal("owner-proposal-refused"),
    reason: z.enum(["not-leader", "overloaded"]),
    leaderId: nodeIdSchema.nullable(),
  }),
] as const;

/** Any message between nodes, envelope included. */
export const messageSchema = z.discriminatedUnion("type", [
  ...replicationSchemas,
  ...electionSchemas,
  ...membershipSchemas,
  ...roleSchemas,
]);

/** Every message type this version understands; anything else is counted as "unknown-type". */
export const messageTypes: ReadonlySet<string> = new Set<MessageType>(
  messageSchema.options.map((option) => option.shape.type.value),
);

/** A node's UDP beacon. */
export const beaconSchema = z.strictObject({
  clusterName: boundedText(peerLimits.clusterNameLength),
  clusterId: clusterIdSchema.nullable(),
  nodeId: nodeIdSchema,
  incarnation: incarnationSchema,
  address: addressSchema,
  httpUrl: httpUrlSchema,
  term: termSchema,
  leaderId: nodeIdSchema.nullable(),
});

// Compile-time agreement with the core. Both sides are flattened (intersections, Omit, interfaces)
// and then compared for identity, so a message type, field or optionality added to the core
// without its schema here (or the reverse) fails the build.
type Flatten<T> = T extends object ? { [K in keyof T]: Flatten<T[K]> } : T;
type Identical<A, B> =
  (<X>() => X extends Flatten<A> ? 1 : 2) extends <X>() => X extends Flatten<B> ? 1 : 2 ? true : false;
type Assert<Condition extends true> = Condition;

export type _MessageSchemaMatchesCore = Assert<Identical<z.infer<typeof messageSchema>, Message>>;
export type _BeaconSchemaMatchesCore = Assert<Identical<z.infer<typeof beaconSchema>, Beacon>>;
export type _EntrySchemaMatchesCore = Assert<Identical<z.infer<typeof logEntrySchema>, LogEntry>>;
export type _EntryDataSchemaMatchesCore = Assert<Identical<z.infer<typeof entryDataSchema>, EntryData>>;
export type _RequestSchemaMatchesCore = Assert<Identical<z.infer<typeof clientRequestSchema>, ClientRequest>>;
export type _ResultSchemaMatchesCore = Assert<Identical<z.infer<typeof clientResultSchema>, ClientResult>>;
