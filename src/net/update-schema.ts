// The multicast auction update: one per applied auction event (a datagram carries one or more, see
// envelope.ts), with the auction's version after the event and its public facts. Never the reserve
// amount, never the leader's maximum: a receiver may be anyone on the subnet. Strict, bounded zod
// schema; no I/O.
import { z } from "zod";
import { amountSchema, timestampSchema, userNameSchema } from "../core/auction/schemas.js";
import type { AuctionEvent, AuctionPhase, ClosedOutcome } from "../core/auction/types.js";
import type { NodeId } from "../core/cluster/types.js";
import { closedOutcomeSchema } from "./outcome-schemas.js";
import { auctionIdSchema, boundedText, countSchema, nodeIdSchema, peerLimits } from "./schema-parts.js";

/** The kind of event an update reports: the engine's event types. */
export type AuctionUpdateEvent = AuctionEvent["type"];

export const auctionUpdateEvents = [
  "auction-created",
  "bid-accepted",
  "auction-extended",
  "auction-closed",
  "auction-cancelled",
] as const satisfies readonly AuctionUpdateEvent[];

/** What anyone may know of an auction at one version (the same facts as GET /api/auctions/:id). */
export interface AuctionFacts {
  phase: AuctionPhase;
  /** The visible price; null until the first bid. */
  price: number | null;
  highBidder: string | null;
  /** The closing time, soft-close extensions included (ms since the epoch). */
  closesAt: number;
  /** Lines in the bid history. */
  bidCount: number;
  outcome: ClosedOutcome | null;
}

/**
 * One update. Events of one log entry happen at once: each gets its own version (consecutive), and
 * all carry the facts as of the end of that entry.
 */
export interface AuctionUpdate extends AuctionFacts {
  /** The publishing cluster's name, so receivers can tell clusters sharing a group apart. */
  clusterName: string;
  /** The node that published it: the auction's owner when the event was applied. */
  nodeId: NodeId;
  auctionId: string;
  /** The auction's version after this event: 1 for its creation, then one more per event. */
  version: number;
  event: AuctionUpdateEvent;
  /** The leader's stamp on the log entry, ms since the epoch. */
  timestampMs: number;
}

export const auctionUpdateSchema = z.strictObject({
  clusterName: boundedText(peerLimits.clusterNameLength),
  nodeId: nodeIdSchema,
  auctionId: auctionIdSchema,
  version: z.int().positive(),
  event: z.enum(auctionUpdateEvents),
  timestampMs: timestampSchema,
  phase: z.enum(["active", "closed", "cancelled"]),
  price: amountSchema.nullable(),
  highBidder: userNameSchema.nullable(),
  closesAt: timestampSchema,
  bidCount: countSchema,
  outcome: closedOutcomeSchema.nullable(),
});

// Compile-time agreement between the schema and the type above (see schemas.ts).
type Flatten<T> = T extends object ? { [K in keyof T]: Flatten<T[K]> } : T;
type Identical<A, B> =
  (<X>() => X extends Flatten<A> ? 1 : 2) extends <X>() => X extends Flatten<B> ? 1 : 2 ? true : false;
type Assert<Condition extends true> = Condition;
export type _UpdateSchemaMatchesType = Assert<Identical<z.infer<typeof auctionUpdateSchema>, AuctionUpdate>>;
