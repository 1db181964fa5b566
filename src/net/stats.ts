// What the network adapters count and the shape of a transport endpoint shared by the TCP and
// in-memory transports. Plain types and counters only: nothing here touches a socket.
import type { PeerTransport } from "../node/ports.js";
import type { DecodeFailureReason } from "./envelope.js";
import type { AuthFailureReason } from "./cluster-key.js";
import { authFailureReasons } from "./cluster-key.js";

/**
 * Why a transport dropped a message (or, for "connection-limit", refused a connection):
 * - inbound: "malformed", "version", "invalid", "unknown-type" (see envelope.ts), "oversized"
 *   (a frame over the maximum; the connection is closed), "connection-limit", "buffer-limit" (the
 *   partial frames of all inbound connections over their budget; the connection is closed), and with cluster
 *   keys "unsigned", "unknown-key", "bad-signature", "stale", "replayed" (see cluster-key.ts);
 *   without keys, "unexpected-signature" (a signed frame);
 * - outbound: "no-address" (the core knows no address for the peer), "invalid-address",
 *   "unreachable" (queued while a connection failed, or no such endpoint), "queue-full",
 *   "oversized" (our own message over the maximum frame), "peer-limit", "closed" (after close()).
 */
export type PeerDropReason =
  | DecodeFailureReason
  | AuthFailureReason
  | "oversized"
  | "connection-limit"
  | "buffer-limit"
  | "no-address"
  | "invalid-address"
  | "unreachable"
  | "queue-full"
  | "peer-limit"
  | "closed";

export const peerDropReasons: readonly PeerDropReason[] = [
  "malformed",
  "version",
  "invalid",
  "unknown-type",
  "oversized",
  "connection-limit",
  "buffer-limit",
  "no-address",
  "invalid-address",
  "unreachable",
  "queue-full",
  "peer-limit",
  "closed",
  ...authFailureReasons,
];

/** Counters of a transport since it started. */
export interface TransportStats {
  /** Messages handed to a connection (TCP: written to a socket; memory: to the hub). */
  sent: number;
  /** Valid messages handed to `onMessage`. */
  delivered: number;
  dropped: Record<PeerDropReason, number>;
}

/** A PeerTransport that can be reached at `address`, counted, and closed. */
export interface PeerEndpoint extends PeerTransport {
  /** Where peers send to reach this endpoint ("host:port" for TCP). */
  readonly address: string;
  stats(): TransportStats;
  /** Ends every connection and timer; later sends are dropped as "closed". */
  close(): Promise<void>;
}

/** A counter per reason, all zero. */
export function zeroCounts<Reason extends string>(reasons: readonly Reason[]): Record<Reason, number> {
  return Object.fromEntries(reasons.map((reason) => [reason, 0])) as Record<Reason, number>;
}
