// The replicated state machine: what every node builds by applying the committed log in order.
// It holds the auction book and the cluster's own metadata: the committed configuration, which
// worker owns which auction under which epoch, and the users. Applying is deterministic, and a
// snapshot (serialize, then restore) reproduces the state exactly, byte for byte.
import { assert, unreachable } from "../assert.js";
import { acceptedBid, addAccepted, AuctionBook } from "../auction/engine.js";
import type {
  AcceptedBid,
  Auction,
  AuctionEvent,
  BidRecord,
  EngineLimits,
  Outcome,
} from "../auction/types.js";
import { defaultEngineLimits } from "../auction/types.js";
import type { AuctionCommand } from "../auction/schemas.js";
import { joinParts } from "./taken-snapshot.js";
import type {
  ClusterConfig,
  EntryData,
  LogEntry,
  LogIndex,
  NodeId,
  OwnerCommandBody,
  SnapshotPart,
} from "./types.js";

/** Which worker runs an auction. Invariant: epoch grows by one at each reassignment. */
export interface Assignment {
  owner: NodeId;
  epoch: number;
}

/** A session token (by its hash); tokens given at registration without a password never expire. */
export interface Session {
  tokenHash: string;
  expiresAt: number | null;
}

export interface User {
  name: string;
  // Invariant: at most sessionsPerUserMax sessions, oldest first.
  sessions: Session[];
  passwordHash: string | null;
  createdAt: number;
}

/** Sessions kept per user; a new login beyond this ends the oldest. */
export const sessionsPerUserMax = 16;

/** What applying one entry produced. */
export type ApplyResult =
  | { kind: "noop" }
  | { kind: "config"; config: ClusterConfig }
  /** An auction command: the engine's outcome (an accepted change, or a rule's rejection). */
  | { kind: "auction"; auctionId: string; outcome: Outcome }
  /** An owner's command under a stale assignment: not applied (fencing). */
  | { kind: "fenced"; auctionId: string; current: Assignment | null }
  | { kind: "assign"; auctionId: string; applied: boolean; assignment: Assignment | null }
  | { kind: "user"; name: string; created: boolean }
  | { kind: "session"; name: string; created: boolean }
  | { kind: "session-end"; ended: boolean }
  | { kind: "worker-state"; id: NodeId; drained: boolean };

export interface StateOptions {
  limits?: EngineLimits;
  /** Off only in the simulator's `no-fencing` mutant. */
  fencing?: boolean;
}

/**
 * An auction's bid history as JSON, as far as it was converted: its first `lines` records (as
 * compact records, see historyRecord), the `accepted` accepted bids among them, and the accepted
 * bids applied since, in order (`added`).
 */
interface HistoryJson {
  lines: number;
  json: string;
  accepted: number;
  added: AcceptedBid[];
}

/**
 * History records converted to JSON as they are applied, this many at a time (see serialize): a
 * snapshot then converts at most this many per auction, instead of everything since the last one.
 */
const historyChunk = 16;

/**
 * One line of an auction's history as a snapshot holds it: an array, without the names of the
 * fields, the line's position (`seq`) or the auction's id, which restore puts back. A line the
 * bidder placed (not automatic) is the first line of an accepted bid, and the accepted bids are the
 * placed lines in order, one each; such a line carries the rest of its accepted bid:
 * `[bidId, bidder, amount, timestampMs, max, priceAfter, leaderAfter, boughtNow]`; an automatic line
 * is `[bidId, bidder, amount, timestampMs]`. A quarter of the size of the two as objects.
 */
type HistoryRecord =
  [string, string, number, number] | [string, string, number, number, number | null, number, string, boolean];

interface SerializedAuction extends Omit<Auction, "bids" | "accepted"> {
  history: HistoryRecord[];
}

/** An auction as snapshots before the compact history held it (still restored). */
interface SerializedAuctionWithObjects extends Omit<Auction, "accepted"> {
  accepted: AcceptedBid[];
}

interface SerializedState {
  appliedIndex: LogIndex;
  config: ClusterConfig;
  lastTimestampMs: number;
  auctions: (SerializedAuction | SerializedAuctionWithObjects)[];
  assignments: [string, Assignment][];
  users: User[];
  drained: NodeId[];
}

/** The compact records of `lines`, the placed ones paired, in order, with `accepted`. */
function historyRecords(lines: readonly BidRecord[], accepted: readonly AcceptedBid[]): HistoryRecord[] {
  const records: HistoryRecord[] = [];
  let next = 0;
  for (const line of lines) {
    if (line.automatic) {
      records.push([line.bidId, line.bidder, line.amount, line.timestampMs]);
      continue;
    }
    const bid = accepted[next++];
    assert(
      bid !== undefined && bid.bidId === line.bidId && bid.bidder === line.bidder,
      "each placed history line is the next accepted bid",
    );
    records.push([
      line.bidId,
      line.bidder,
      line.amount,
      line.timestampMs,
      bid.max,
      bid.priceAfter,
      bid.leaderAfter,
      bid.boughtNow,
    ]);
  }
  assert(next === accepted.length, "each accepted bid has its placed history line");
  return records;
}

/** How many of `lines` are placed (not automatic) lines: accepted bids. */
function placedCount(lines: readonly BidRecord[]): number {
  let placed = 0;
  for (const line of lines) if (!line.automatic) placed += 1;
  return placed;
}

/** Restores an auction's bids and accepted bids from its compact history. */
function restoreHistory(
  auctionId: string,
  history: readonly HistoryRecord[],
): Pick<Auction, "bids" | "accepted"> {
  const bids: BidRecord[] = [];
  const accepted = new Map<string, AcceptedBid>();
  for (const record of history) {
    const [bidId, bidder, amount, timestampMs] = record;
    const automatic = record.length === 4;
    bids.push({ seq: bids.length, bidId, bidder, amount, timestampMs, automatic });
    if (record.length === 4) continue;
    const [, , , , max, priceAfter, leaderAfter, boughtNow] = record;
    addAccepted(accepted, {
      auctionId,
      bidId,
      bidder,
      amount,
      max,
      timestampMs,
      priceAfter,
      leaderAfter,
      boughtNow,
    });
  }
  return { bids, accepted };
}

/** History records not yet converted, as a part that converts them when read ("" when none). */
function tailPart(
  lines: readonly BidRecord[],
  accepted: readonly AcceptedBid[],
  afterOthers: boolean,
): SnapshotPart {
  if (lines.length === 0) return "";
  return () => (afterOthers ? "," : "") + JSON.stringify(historyRecords(lines, accepted)).slice(1, -1);
}

/**
 * An owner's command at `timestampMs`. A bid is built field by field, so that every bid the engine
 * decides has one shape: a spread would copy the shape of whatever object came in (parsed from a
 * peer or the disk, or built by the API), and the engine's reads of its fields went megamorphic.
 */
export function stampedCommand(command: OwnerCommandBody, timestampMs: number): AuctionCommand {
  if (command.type !== "place-bid") return { ...command, timestampMs };
  const { auctionId, bidder, bidId, amount, max } = command;
  return { type: "place-bid", timestampMs, auctionId, bidder, bidId, amount, max };
}

export class ClusterState {
  readonly book: AuctionBook;
  readonly limits: EngineLimits;
  readonly fencing: boolean;
  // Invariant: appliedIndex only grows, by one per applied entry.
  appliedIndex: LogIndex = 0;
  /** The committed configuration (the raft layer acts on the latest one in its log, which may be newer). */
  config: ClusterConfig = { members: [] };
  readonly assignments = new Map<string, Assignment>();
  readonly users = new Map<string, User>();
  /** The JSON of each auction's history as far as it is converted (see serialize). */
  private readonly historyJson = new WeakMap<Auction, HistoryJson>();
  /** Token hash to its user and expiry, derived from `users`. */
  readonly tokens = new Map<string, { name: string; expiresAt: number | null }>();
  /** Workers an operator drained: they get no auctions until taken back. */
  readonly drained = new Set<NodeId>();
  /** Active (not yet ended) auctions by owner, derived from the assignments and the book. */
  readonly activeByOwner = new Map<NodeId, Set<string>>();

  constructor(options: StateOptions = {}) {
    this.limits = options.limits ?? defaultEngineLimits;
    this.fencing = options.fencing ?? true;
    this.book = new AuctionBook(this.limits);
  }

  /** Applies the next committed entry, at the leader's stamp. */
  apply(entry: LogEntry): ApplyResult {
    assert(entry.index === this.appliedIndex + 1, "entries are applied in order, each once");
    this.appliedIndex = entry.index;
    return this.applyData(entry.data, entry.timestampMs);
  }

  private applyData(data: EntryData, timestampMs: number): ApplyResult {
    switch (data.kind) {
      case "noop":
        return { kind: "noop" };
      case "config":
        this.config = data.config;
        return { kind: "config", config: data.config };
      case "create":
        return this.applyCreate(data, timestampMs);
      case "auction":
        return this.applyOwnerCommand(data, timestampMs);
      case "assign":
        return this.applyAssign(data);
      case "user":
        return this.applyUser(data, timestampMs);
      case "session":
        return this.applySession(data);
      case "session-end":
        return { kind: "session-end", ended: this.endSession(data.tokenHash) };
      case "worker-state":
        if (data.drained) this.drained.add(data.id);
        else this.drained.delete(data.id);
        return { kind: "worker-state", id: data.id, drained: data.drained };
      default:
        return unreachable(data, "unknown entry kind");
    }
  }

  private execute(command: AuctionCommand): ApplyResult {
    return { kind: "auction", auctionId: command.auctionId, outcome: this.book.execute(command) };
  }

  private applyCreate(data: Extract<EntryData, { kind: "create" }>, timestampMs: number): ApplyResult {
    const result = this.execute({ ...data.command, timestampMs });
    if (result.kind === "auction" && result.outcome.ok) {
      this.assignments.set(data.command.auctionId, { owner: data.owner, epoch: 1 });
      this.track(data.owner, data.command.auctionId, true);
    }
    return result;
  }

  /** Fencing: a command proposed under an assignment that is no longer current is not applied. */
  private applyOwnerCommand(data: Extract<EntryData, { kind: "auction" }>, timestampMs: number): ApplyResult {
    const auctionId = data.command.auctionId;
    const current = this.assignments.get(auctionId) ?? null;
    const stale = current !== null && (current.owner !== data.owner || current.epoch !== data.epoch);
    if (stale && this.fencing) return { kind: "fenced", auctionId, current };
    // The leader's stamp is the command's time: every replica decides "before close?" alike.
    const result = this.execute(stampedCommand(data.command, timestampMs));
    const auction = this.book.get(auctionId);
    if (auction !== undefined && result.kind === "auction" && result.outcome.ok) {
      this.noteAccepted(auction, result.outcome.events);
      this.convertHistory(auction, historyChunk);
    }
    const ended = auction?.phase !== "active";
    if (ended && current !== null) this.track(current.owner, auctionId, false);
    return result;
  }

  private track(owner: NodeId, auctionId: string, active: boolean): void {
    let owned = this.activeByOwner.get(owner);
    if (active) {
      if (owned === undefined) this.activeByOwner.set(owner, (owned = new Set()));
      owned.add(auctionId);
    } else if (owned !== undefined) {
      owned.delete(auctionId);
      if (owned.size === 0) this.activeByOwner.delete(owner);
    }
  }

  private applyAssign(data: Extract<EntryData, { kind: "assign" }>): ApplyResult {
    const current = this.assignments.get(data.auctionId) ?? null;
    const auction = this.book.get(data.auctionId);
    const applies = current !== null && auction?.phase === "active" && data.epoch === current.epoch + 1;
    if (applies) {
      this.track(current.owner, data.auctionId, false);
      this.track(data.owner, data.auctionId, true);
      this.assignments.set(data.auctionId, { owner: data.owner, epoch: data.epoch });
    }
    return {
      kind: "assign",
      auctionId: data.auctionId,
      applied: applies,
      assignment: this.assignments.get(data.auctionId) ?? null,
    };
  }

  private applyUser(data: Extract<EntryData, { kind: "user" }>, timestampMs: number): ApplyResult {
    if (this.users.has(data.name)) return { kind: "user", name: data.name, created: false };
    const sessions = [{ tokenHash: data.tokenHash, expiresAt: null }];
    this.users.set(data.name, {
      name: data.name,
      sessions,
      passwordHash: data.passwordHash,
      createdAt: timestampMs,
    });
    this.tokens.set(data.tokenHash, { name: data.name, expiresAt: null });
    return { kind: "user", name: data.name, created: true };
  }

  private applySession(data: Extract<EntryData, { kind: "session" }>): ApplyResult {
    const user = this.users.get(data.name);
    if (user === undefined || this.tokens.has(data.tokenHash))
      return { kind: "session", name: data.name, created: false };
    user.sessions.push({ tokenHash: data.tokenHash, expiresAt: data.expiresAt });
    this.tokens.set(data.tokenHash, { name: data.name, expiresAt: data.expiresAt });
    while (user.sessions.length > sessionsPerUserMax) this.tokens.delete(user.sessions.shift()!.tokenHash);
    return { kind: "session", name: data.name, created: true };
  }

  private endSession(tokenHash: string): boolean {
    const session = this.tokens.get(tokenHash);
    if (session === undefined) return false;
    this.tokens.delete(tokenHash);
    const user = this.users.get(session.name)!;
    user.sessions = user.sessions.filter((item) => item.tokenHash !== tokenHash);
    return true;
  }

  /** The user a token hash belongs to, if it is known and not expired at `nowMs`. */
  userOfToken(tokenHash: string, nowMs = 0): string | undefined {
    const session = this.tokens.get(tokenHash);
    if (session === undefined || (session.expiresAt !== null && session.expiresAt <= nowMs)) return undefined;
    return session.name;
  }

  /** How many records a snapshot holds (auctions, bids, users): what its cost grows with. */
  recordCount(): number {
    let records = this.users.size;
    for (const auction of this.book.auctions.values()) records += 1 + auction.bids.length;
    return records;
  }

  /**
   * The state as JSON text (what a snapshot holds): serializeParts joined. The bid history of an
   * auction only ever grows, and its records never change once appended, so each auction keeps the
   * JSON of its history, converted as records are applied, `historyChunk` at a time.
   */
  serialize(): string {
    return joinParts(this.serializeParts());
  }

  /**
   * The state's JSON text as parts in order (joined, they are serialize's text): what a snapshot
   * holds without building one string of the whole state, which at 100,000 bids was a 30 MB copy
   * on the node's event loop (7 MB since the compact history). The parts are immutable strings, or functions over records that
   * never change (the history records not yet converted), so they stay the state of this moment
   * while the state moves on; those records are converted only when the part is read.
   */
  serializeParts(): SnapshotPart[] {
    const parts: SnapshotPart[] = [
      `{"appliedIndex":${JSON.stringify(this.appliedIndex)},"config":${JSON.stringify(this.config)}` +
        `,"lastTimestampMs":${JSON.stringify(this.book.lastTimestampMs)},"auctions":[`,
    ];
    for (const auction of this.book.auctions.values()) {
      if (parts.length > 1) parts.push(",");
      this.auctionJson(auction, parts);
    }
    parts.push(
      `],"assignments":${JSON.stringify([...this.assignments])},"users":${JSON.stringify([...this.users.values()])}` +
        `,"drained":${JSON.stringify([...this.drained])}}`,
    );
    return parts;
  }

  /**
   * One auction's JSON, added to `parts`: its other fields in their order, then `history` (see
   * HistoryRecord). A restored auction has its fields in the same order, so a node that restored a
   * snapshot writes the same text as one that applied the whole log.
   */
  private auctionJson(auction: Auction, parts: SnapshotPart[]): void {
    const history = this.convertHistory(auction, historyChunk);
    const { bids: _bids, accepted: _accepted, ...head } = auction;
    const headJson = JSON.stringify(head);
    const lines = auction.bids.slice(history.lines);
    parts.push(
      headJson.slice(0, -1),
      ',"history":[',
      history.json,
      tailPart(lines, this.acceptedTail(auction, history), history.lines > 0),
      "]}",
    );
  }

  /** The accepted bids not yet converted, in the map's order. */
  private acceptedTail(auction: Auction, history: HistoryJson): AcceptedBid[] {
    const waiting = auction.accepted.size - history.accepted;
    if (waiting === 0) return [];
    if (history.added.length === waiting) return history.added.slice();
    const tail: AcceptedBid[] = [];
    let position = 0;
    for (const bid of auction.accepted.values()) if (position++ >= history.accepted) tail.push(bid);
    return tail;
  }

  /** The auction's history JSON, kept between calls (a fresh one if the kept one does not fit). */
  private historyOf(auction: Auction): HistoryJson {
    let history = this.historyJson.get(auction);
    if (
      history === undefined ||
      history.lines > auction.bids.length ||
      history.accepted + history.added.length > auction.accepted.size
    ) {
      history = { lines: 0, json: "", accepted: 0, added: [] };
      this.historyJson.set(auction, history);
    }
    return history;
  }

  /** Notes the accepted bids an applied command added (the map's last values, in the events' order). */
  private noteAccepted(auction: Auction, events: readonly AuctionEvent[]): void {
    const history = this.historyOf(auction);
    for (const event of events) {
      if (event.type !== "bid-accepted") continue;
      const accepted = acceptedBid(auction.accepted, event.bidder, event.bidId);
      if (accepted !== undefined) history.added.push(accepted);
    }
  }

  /** Converts the history lines not yet in JSON, once at least `atLeast` wait. */
  private convertHistory(auction: Auction, atLeast: number): HistoryJson {
    const history = this.historyOf(auction);
    const waiting = auction.bids.length - history.lines;
    if (waiting === 0 || waiting < atLeast) return history;
    const lines = auction.bids.slice(history.lines);
    // The accepted bids among them are the map's last ones: the noted ones when the counts agree;
    // else (a restored auction, whose earlier bids were never noted) the map is walked once.
    const placed = placedCount(lines);
    let accepted = history.added;
    if (accepted.length !== placed || history.accepted + placed !== auction.accepted.size) {
      accepted = [];
      let position = 0;
      for (const bid of auction.accepted.values()) if (position++ >= history.accepted) accepted.push(bid);
    }
    // One call for all the new records: the array's text without its brackets.
    const added = JSON.stringify(historyRecords(lines, accepted)).slice(1, -1);
    history.json += (history.lines > 0 ? "," : "") + added;
    history.lines = auction.bids.length;
    history.accepted = auction.accepted.size;
    history.added = [];
    return history;
  }

  static restore(data: string, options: StateOptions = {}): ClusterState {
    const parsed = JSON.parse(data) as SerializedState;
    const state = new ClusterState(options);
    state.appliedIndex = parsed.appliedIndex;
    state.config = parsed.config;
    state.book.lastTimestampMs = parsed.lastTimestampMs;
    for (const serialized of parsed.auctions) {
      let auction: Auction;
      if ("history" in serialized) {
        const { history, ...head } = serialized;
        auction = { ...head, ...restoreHistory(head.id, history) };
      } else {
        // Before the compact history: the lines and accepted bids as objects.
        const bids = serialized.accepted;
        auction = serialized as unknown as Auction;
        auction.accepted = new Map();
        for (const bid of bids) addAccepted(auction.accepted, bid);
      }
      state.book.auctions.set(auction.id, auction);
    }
    for (const [auctionId, assignment] of parsed.assignments) {
      state.assignments.set(auctionId, assignment);
      if (state.book.get(auctionId)?.phase === "active") state.track(assignment.owner, auctionId, true);
    }
    for (const user of parsed.users) {
      state.users.set(user.name, user);
      for (const session of user.sessions) {
        state.tokens.set(session.tokenHash, { name: user.name, expiresAt: session.expiresAt });
      }
    }
    for (const id of parsed.drained) state.drained.add(id);
    return state;
  }
}

/** The auction events an apply result carries, for publishing updates. */
export function auctionEventsOf(result: ApplyResult): AuctionEvent[] {
  return result.kind === "auction" && result.outcome.ok ? result.outcome.events : [];
}
