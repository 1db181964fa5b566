// The vocabulary of the cluster core: log entries, messages between nodes, beacons, and the inputs
// and effects of a node's step function. Plain data only: every value here can be serialized,
// persisted and sent as JSON, and nothing here knows about sockets or disks.
import type { AuctionCommand } from "../auction/schemas.js";
import type { ApplyResult } from "./state.js";
import type { Outcome } from "../auction/types.js";

/** A node's identifier: a positive safe integer. The highest live, up-to-date one leads. */
export type NodeId = number;
export type Term = number;
export type LogIndex = number;

/** A member of the cluster's configuration, as recorded in the log. */
export interface Member {
  id: NodeId;
  /** Minted with the node's data; a node whose data was wiped comes back with another. */
  incarnation: string;
  /** Where peers reach it (host:port), opaque to the core. */
  address: string;
  /** Its client API base URL, opaque to the core. */
  httpUrl: string;
  /** Voters elect and count toward commit; learners only receive the log. */
  voter: boolean;
}

/** The membership as of some log index. Invariant: ids are unique; sorted by id. */
export interface ClusterConfig {
  members: Member[];
}

/** An auction command as proposed: the leader adds the stamp when it appends the entry. */
export type AuctionCommandBody = AuctionCommand extends infer C
  ? C extends AuctionCommand
    ? Omit<C, "timestampMs">
    : never
  : never;

export type CreateAuctionBody = Extract<AuctionCommandBody, { type: "create-auction" }>;
/** The commands that the auction's owner (its worker) decides and proposes. */
export type OwnerCommandBody = Exclude<AuctionCommandBody, { type: "create-auction" }>;

/** What a log entry carries. */
export type EntryData =
  | { kind: "noop" }
  /** The configuration from this entry on; the first one also names the cluster. */
  | { kind: "config"; config: ClusterConfig }
  /** A new auction, assigned to `owner` at epoch 1 (proposed by the leader). */
  | { kind: "create"; command: CreateAuctionBody; owner: NodeId }
  /**
   * A command on an auction, proposed by its owner under its assignment epoch; fenced (not applied)
   * if the assignment changed. `ref` identifies the proposal, so re-proposals are recognized.
   */
  | { kind: "auction"; command: OwnerCommandBody; owner: NodeId; epoch: number; ref: string }
  /** Moves an auction to another owner (proposed by the leader); takes effect at epoch + 1 only. */
  | { kind: "assign"; auctionId: string; owner: NodeId; epoch: number }
  /** A registered user; only hashes of secrets are replicated. */
  | { kind: "user"; name: string; tokenHash: string; passwordHash: string | null }
  /** A login: a session token (its hash) for `name`, valid until `expiresAt` (ms since the epoch). */
  | { kind: "session"; name: string; tokenHash: string; expiresAt: number }
  | { kind: "session-end"; tokenHash: string }
  /** An operator drains a worker (it gets no auctions and loses its own) or takes it back. */
  | { kind: "worker-state"; id: NodeId; drained: boolean };

export interface LogEntry {
  index: LogIndex;
  term: Term;
  /** The leader's clock when it appended the entry. Invariant: never decreases along the log. */
  timestampMs: number;
  data: EntryData;
}

/** Term and vote: must be on disk before the node answers anything that depends on them. */
export interface HardState {
  term: Term;
  votedFor: NodeId | null;
}

/** A compacted prefix of the log: the state machine's state after applying entry `index`. */
export interface Snapshot {
  index: LogIndex;
  term: Term;
  /** Stamp of entry `index`, so stamps keep not decreasing after compaction. */
  timestampMs: number;
  config: ClusterConfig;
  /** The serialized state machine. */
  data: string;
  /**
   * A snapshot the node took itself: `data` as the parts it joins (not enumerable; see
   * takenSnapshot). A writer that writes these one by one never builds the whole text.
   */
  readonly parts?: readonly SnapshotPart[];
}

/**
 * A piece of a snapshot's text: the text, or a function that makes it (the same text whenever it
 * is called: it reads only records that never change), so that a snapshot can be taken before
 * the last records are converted.
 */
export type SnapshotPart = string | (() => string);

/** Who a node is, minted once with its data. */
export interface Identity {
  nodeId: NodeId;
  incarnation: string;
}

/** Everything a node keeps on disk. */
export interface PersistedState {
  identity: Identity;
  clusterId: string | null;
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Entries after the compacted prefix, in order, without gaps. */
  entries: LogEntry[];
}

/** A beacon, broadcast over UDP so that nodes find each other. */
export interface Beacon {
  clusterName: string;
  clusterId: string | null;
  nodeId: NodeId;
  incarnation: string;
  address: string;
  httpUrl: string;
  term: Term;
  leaderId: NodeId | null;
}

export type JoinOutcome = "accepted" | "member" | "not-leader" | "id-taken" | "busy" | "full";

/** Messages between nodes, addressed by id. Every one carries its sender's cluster id and term. */
export type MessageBody =
  | {
      type: "append";
      prevIndex: LogIndex;
      prevTerm: Term;
      entries: LogEntry[];
      commitIndex: LogIndex;
      /** The leader's clock at sending, echoed back to measure clock offsets. */
      leaderTimeMs: number;
      /** How far the receiver's clock is from the majority's, as the leader measured it; null if unknown. */
      clockDeviationMs: number | null;
      /** Read-index round: echoed back, so the leader learns that a majority still follows it. */
      readSeq: number;
    }
  | {
      type: "append-reply";
      success: boolean;
      /** On success: the receiver's log matches the leader's up to here. */
      matchIndex: LogIndex;
      /** On failure: the prevIndex that did not match. */
      rejectedIndex: LogIndex;
      /** On failure: the leader may retry from hintIndex + 1. */
      hintIndex: LogIndex;
      echoTimeMs: number;
      followerTimeMs: number;
      readSeq: number;
    }
  | {
      type: "snapshot-chunk";
      snapshotIndex: LogIndex;
      snapshotTerm: Term;
      snapshotTimestampMs: number;
      config: ClusterConfig;
      offset: number;
      totalChars: number;
      data: string;
    }
  | { type: "snapshot-reply"; snapshotIndex: LogIndex; nextOffset: number; done: boolean }
  | {
      type: "vote-request";
      lastIndex: LogIndex;
      lastTerm: Term;
      /** A pre-vote asks "would you vote for me at `term`?" and changes nobody's state. */
      preVote: boolean;
      /** Set when the leader handed over leadership: voters ignore their leader lease. */
      transfer: boolean;
    }
  | { type: "vote-reply"; granted: boolean; preVote: boolean }
  | { type: "timeout-now" }
  | { type: "join-request"; incarnation: string; address: string; httpUrl: string }
  | { type: "join-reply"; outcome: JoinOutcome; leaderId: NodeId | null; detail: string }
  /** A client request handed to the node that can serve it; the answer goes straight to `origin`. */
  | {
      type: "forward";
      origin: NodeId;
      requestId: string;
      request: ClientRequest;
      hops: number;
      /** The receiver serves it only once it has applied this far (what the sender knew when it routed). */
      minIndex: LogIndex;
    }
  | { type: "forward-result"; requestId: string; result: ClientResult }
  /** Entries an owner asks the leader to append. */
  | { type: "owner-proposal"; entries: EntryData[] }
  | { type: "owner-proposal-refused"; reason: "not-leader" | "overloaded"; leaderId: NodeId | null };

export type Message = MessageBody & {
  clusterId: string | null;
  from: NodeId;
  to: NodeId;
  term: Term;
};

export type MessageType = Message["type"];

/** A request from a client, accepted by any node and routed to the leader or the auction's owner. */
export type ClientRequest =
  | { kind: "register"; name: string; tokenHash: string; passwordHash: string | null }
  | { kind: "login"; name: string; tokenHash: string; expiresAt: number }
  | { kind: "logout"; tokenHash: string }
  | { kind: "set-drained"; id: NodeId; drained: boolean }
  /** Hand leadership to `to` (or to the best caught-up voter when null), at once. */
  | { kind: "transfer"; to: NodeId | null }
  | { kind: "create"; command: CreateAuctionBody }
  | { kind: "auction"; command: OwnerCommandBody }
  /** A linearizable read: answered once this node has applied everything committed before it. */
  | { kind: "read" }
  | { kind: "remove-member"; id: NodeId }
  /** A worker about to stop asks the leader to move its auctions to other workers. */
  | { kind: "drain"; id: NodeId };

export type ClientFailure =
  /** No leader is known (an election is under way) or the cluster is overloaded: retry later. */
  | "unavailable"
  /** The request may or may not have taken effect (a bid is retried with the same bidId, its idempotency key). */
  | "outcome-unknown"
  | "invalid";

/** The answer to a client request. */
export type ClientResult =
  /** Committed and applied: the state machine's result (which may itself be a rule's rejection). */
  | { ok: true; kind: "applied"; index: LogIndex; result: ApplyResult }
  /** Refused by the owner against the committed state, without entering the log. */
  | { ok: true; kind: "decided"; outcome: Outcome }
  /** A read may be served: this node has applied everything up to `index`. */
  | { ok: true; kind: "read"; index: LogIndex }
  /** An operator's request the leader acted on without a log entry (a hand-over started). */
  | { ok: true; kind: "accepted"; detail: string }
  | { ok: false; reason: ClientFailure; detail: string; leaderId: NodeId | null };

export type Input =
  | { type: "tick"; nowMs: number }
  | { type: "message"; message: Message }
  | { type: "beacon"; beacon: Beacon }
  | { type: "request"; requestId: string; request: ClientRequest }
  /** The node is about to stop: a leader hands leadership over at once. */
  | { type: "leave" };

/** Notable happenings, for logs and status; they change nothing. */
export type NodeEvent =
  | { type: "bootstrapped"; clusterId: string }
  | { type: "joined"; clusterId: string }
  | { type: "election-started"; term: Term }
  | { type: "became-leader"; term: Term }
  | { type: "stepped-down"; term: Term; reason: string }
  | { type: "leader-changed"; term: Term; leaderId: NodeId | null }
  | { type: "cluster-conflict"; clusterId: string; nodeId: NodeId }
  | { type: "join-refused"; outcome: JoinOutcome; detail: string }
  | { type: "transfer-started"; to: NodeId }
  | { type: "member-added"; id: NodeId; voter: boolean }
  | { type: "member-removed"; id: NodeId }
  | { type: "snapshot-taken"; index: LogIndex }
  | { type: "snapshot-installed"; index: LogIndex }
  | { type: "dropped"; reason: DropReason; messageType: MessageType };

export type DropReason = "foreign-cluster" | "non-member" | "stale-term" | "not-addressed" | "unexpected";

/**
 * What to write to disk, atomically. Apply in this order: `truncateFrom` (drop entries from this
 * index on), `entries` (append), `snapshot` (replace the stored one), `compactThrough` (drop
 * entries up to this index), `clusterId`, `hardState`.
 */
export interface PersistEffect {
  type: "persist";
  hardState?: HardState;
  clusterId?: string;
  snapshot?: Snapshot;
  /**
   * True when `snapshot` was taken here from the applied state, not installed from the leader:
   * nothing that leaves the node depends on it being on disk (the node keeps it in memory), so
   * storage may write it and its `compactThrough` later, off the critical path, provided the disk
   * always holds either the old snapshot with the uncompacted log or the new one with the compacted
   * log. Absent for an installed snapshot, which a follower acknowledges and must be durable first.
   */
  snapshotTaken?: boolean;
  compactThrough?: LogIndex;
  truncateFrom?: LogIndex;
  entries?: LogEntry[];
}

export type Effect =
  | PersistEffect
  | { type: "send"; message: Message }
  | { type: "broadcast"; beacon: Beacon }
  /** Entry `entry` was committed and applied here. */
  | { type: "applied"; entry: LogEntry; result: ApplyResult }
  /** The answer to a request this node accepted from a client. */
  | { type: "response"; requestId: string; result: ClientResult }
  | { type: "event"; event: NodeEvent };

/** Deliberate bugs, switched on by the simulator to prove its checkers can fail. */
export type Mutant = "stale-vote" | "no-quorum-commit" | "double-vote" | "no-fencing";
export const mutants: readonly Mutant[] = ["stale-vote", "no-quorum-commit", "double-vote", "no-fencing"];
