// The leader and worker roles on top of consensus: routing client requests to the node that can
// serve them, the owner's decisions on its auctions (in arrival order, against committed state,
// batched), the leader's assignment and reassignment of auctions, and linearizable reads. Pure:
// time, messages and the replicated state come from the consensus node through RaftView.
import { AuctionBook } from "../auction/engine.js";
import { isPlaceBidBody } from "../auction/fast-check.js";
import { createAuctionCommandSchema, auctionCommandSchema } from "../auction/schemas.js";
import type { AcceptedBid, Auction, AuctionEvent, Outcome } from "../auction/types.js";
import type { Config } from "../config.js";
import { stampedCommand } from "./state.js";
import type { ApplyResult, ClusterState } from "./state.js";
import type {
  ClientRequest,
  ClientResult,
  EntryData,
  LogEntry,
  LogIndex,
  Member,
  MessageBody,
  NodeId,
  OwnerCommandBody,
} from "./types.js";

/** What the roles need of the consensus node. */
export interface RaftView {
  readonly id: NodeId;
  readonly config: Readonly<Config>;
  /** Steps come in batches: proposals wait for flushProposals at the end of one. */
  readonly batching: boolean;
  nowMs(): number;
  isLeader(): boolean;
  leaderId(): NodeId | null;
  state(): ClusterState;
  /** The leader has committed an entry of its own term (its view of the state is complete). */
  leaderReady(): boolean;
  /** The leader is handing leadership over: it takes no new entries meanwhile. */
  handingOver(): boolean;
  /** Hands leadership over now to `to` (or the best caught-up voter); null if started, else why not. */
  transferTo(to: NodeId | null): string | null;
  /** Appends entries as leader; null when it cannot now (not leader, handing over, overloaded). */
  appendAsLeader(data: EntryData[]): LogIndex | null;
  /** Proposes removing a member; null while another configuration change is in progress. */
  proposeRemoval(id: NodeId): LogIndex | null;
  /** When `id` last answered this leader (this node: now). */
  lastHeardMs(id: NodeId): number;
  members(): Member[];
  /** Confirms leadership with a majority, then calls back with the commit index (null if lost). */
  readIndex(ready: (index: LogIndex | null) => void): void;
  send(to: NodeId, body: MessageBody): void;
  respond(requestId: string, result: ClientResult): void;
}

/** Who waits for an answer: a request id at its origin node. */
interface Waiter {
  origin: NodeId;
  requestId: string;
  request: ClientRequest;
  hops: number;
  /** Route only once this node has applied this far. */
  minIndex: LogIndex;
}

interface LaneItem {
  ref: string;
  data: Extract<EntryData, { kind: "auction" }>;
  waiters: Waiter[];
  /** The idempotency key of a bid, so that a repeat arriving meanwhile waits for the same outcome. */
  key: string | null;
}

/** One auction's queue at its owner: decided in arrival order, one batch in flight at a time. */
interface Lane {
  queue: Waiter[];
  inflight: LaneItem[];
  /** Rejected only given the batch in flight: decided again against the state it leaves. */
  held: Waiter[];
  sentMs: number;
  sentTo: NodeId | null;
}

/** A request accepted from a local client and not answered yet. */
interface Pending {
  request: ClientRequest;
  deadlineMs: number;
  /**
   * The request id its current route carries: the client's, or, once routed again after its
   * auction moved (rerouteForwarded), a new one, so that answers to an earlier route are ignored.
   */
  routeId: string;
  /**
   * A local client's auction command forwarded and not answered: to whom (the owner, or the leader
   * while this node did not know the auction), under which assignment epoch (0: none known).
   */
  forwarded: { to: NodeId; epoch: number } | null;
}

const hopsMax = 4;

function failure(
  reason: "unavailable" | "outcome-unknown" | "invalid",
  detail: string,
  leaderId: NodeId | null,
): ClientResult {
  return { ok: false, reason, detail, leaderId };
}

/** A queue at its bound: a definite refusal, so the client may retry (503 with Retry-After). */
function overloaded(detail: string): ClientResult {
  return failure("unavailable", detail, null);
}

/** A Map over a base map that records writes in itself: speculation without copying the base. */
class OverlayMap<K, V> extends Map<K, V> {
  constructor(private readonly base: Map<K, V>) {
    super();
  }
  override get(key: K): V | undefined {
    return super.get(key) ?? this.base.get(key);
  }
  override has(key: K): boolean {
    return super.has(key) || this.base.has(key);
  }
  override get size(): number {
    return super.size + this.base.size;
  }
  ownHas(key: K): boolean {
    return super.has(key);
  }
}

export class Roles {
  // Insertion order is deadline order: requests are added with now + a constant timeout.
  private readonly pending = new Map<string, Pending>();
  /** The client's request id of each route id that is not one itself (see Pending.routeId). */
  private readonly routeOf = new Map<string, string>();
  /** Local clients' auction commands forwarded and not answered yet, by auction. */
  private readonly forwardedByAuction = new Map<string, Set<string>>();
  private rerouteCounter = 0;
  /**
   * Answers held back until this node has applied up to their index: reads confirmed by the leader,
   * and writes applied elsewhere (so a client reads its own writes on the node it asked).
   */
  private readonly waitingApply = new Map<string, { index: LogIndex; result: ClientResult }>();
  /** Leader: entries it appended for a waiter, by index. */
  private readonly awaitingIndex = new Map<LogIndex, Waiter>();
  private readonly removals = new Map<NodeId, Waiter>();
  /** Leader: reassignments appended and not applied yet, by auction. */
  private readonly assigning = new Set<string>();
  private readonly lanes = new Map<string, Lane>();
  /** Batching: entries proposed in this batch, by the leader they go to. */
  private readonly outbox = new Map<NodeId, EntryData[]>();
  private refCounter = 0;
  private lastCloseCheckMs = -Infinity;
  private lastReassignCheckMs = -Infinity;
  /** Requests waiting for this node to apply as far as their sender knew (bounded by their timeout). */
  private parked: { waiter: Waiter; untilMs: number }[] = [];
  /**
   * Auction commands a new leader could not place: it routes them again at a tick once it has
   * committed an entry of its term (ticks come after the applies a commit causes).
   */
  private awaitingLeaderView: { waiter: Waiter; untilMs: number }[] = [];
  /** Leader: workers about to stop, until when; they get no auctions and lose theirs. */
  private readonly draining = new Map<NodeId, number>();
  /** Requests for the leader that arrived while it was handing over: routed again once that is done. */
  private deferred: Waiter[] = [];
  /** Auctions whose deadline close this owner has queued and not seen applied. */
  private readonly closing = new Set<string>();

  constructor(
    private readonly raft: RaftView,
    /** Distinguishes this process's proposals from an earlier incarnation's in the log. */
    private readonly bootNonce: string,
  ) {}

  // ------------------------------------------------------------------ requests and routing

  /** A request from a local client. */
  onRequest(requestId: string, request: ClientRequest): void {
    if (this.pending.size >= this.raft.config.pendingRequestsMax) {
      return this.raft.respond(
        requestId,
        failure("unavailable", "this node has too many requests in progress", null),
      );
    }
    const deadlineMs = this.raft.nowMs() + this.raft.config.requestTimeoutMs;
    this.pending.set(requestId, { request, deadlineMs, routeId: requestId, forwarded: null });
    this.route({ origin: this.raft.id, requestId, request, hops: 0, minIndex: 0 });
  }

  /** Hands a request to whoever can serve it: this node, the leader, or the auction's owner. */
  private route(waiter: Waiter): void {
    if (waiter.minIndex > this.raft.state().appliedIndex) {
      // The sender knew more than this node has applied yet (a new auction, a new owner): catch up first.
      if (this.parked.length >= this.raft.config.pendingRequestsMax)
        return this.answer(waiter, overloaded("this node is catching up with too many requests waiting"));
      this.parked.push({ waiter, untilMs: this.raft.nowMs() + this.raft.config.requestTimeoutMs });
      return;
    }
    const request = waiter.request;
    if (request.kind === "auction") return this.routeAuction(waiter, request.command);
    if (this.raft.isLeader()) return this.lead(waiter);
    this.forward(waiter, this.raft.leaderId(), "no leader is known; an election is under way");
  }

  private routeAuction(waiter: Waiter, command: OwnerCommandBody): void {
    const assignment = this.raft.state().assignments.get(command.auctionId);
    if (assignment === undefined) {
      // Unknown here: this node may lag. The leader's state holds every acknowledged creation, but
      // only once it has committed an entry of its own term, and so applied all its predecessors
      // committed: until then a new leader waits rather than call an existing auction unknown.
      if (this.raft.isLeader() && this.raft.leaderReady())
        return this.answer(waiter, this.decideUnknown(command));
      if (this.raft.isLeader()) {
        const untilMs = this.raft.nowMs() + this.raft.config.requestTimeoutMs;
        this.awaitingLeaderView.push({ waiter, untilMs });
        return;
      }
      // The leader sends it on to the owner; should the auction move meanwhile, it comes here again.
      const leaderId = this.raft.leaderId();
      if (waiter.origin === this.raft.id && leaderId !== null)
        this.noteForwarded(waiter.requestId, command.auctionId, { owner: leaderId, epoch: 0 });
      return this.forward(waiter, leaderId, "no leader is known; an election is under way");
    }
    if (assignment.owner === this.raft.id) return this.enqueue(waiter);
    // An ended auction stays ended: any node can answer from its committed state.
    const book = this.raft.state().book;
    if (book.get(command.auctionId)?.phase !== "active") {
      const outcome = book.decide({
        ...command,
        timestampMs: Math.max(this.raft.nowMs(), book.lastTimestampMs),
      });
      return this.answer(waiter, { ok: true, kind: "decided", outcome });
    }
    if (waiter.origin === this.raft.id) this.noteForwarded(waiter.requestId, command.auctionId, assignment);
    this.forward(waiter, assignment.owner, `the owner of ${command.auctionId} is not reachable`);
  }

  /**
   * Remembers where a local client's auction command went (its owner, or the leader while this node
   * does not know the auction yet: epoch 0), to route it again if the auction moves.
   */
  private noteForwarded(
    routeId: string,
    auctionId: string,
    assignment: { owner: NodeId; epoch: number },
  ): void {
    const requestId = this.routeOf.get(routeId) ?? routeId;
    const pending = this.pending.get(requestId);
    if (pending === undefined || pending.routeId !== routeId) return;
    pending.forwarded = { to: assignment.owner, epoch: assignment.epoch };
    let forwarded = this.forwardedByAuction.get(auctionId);
    if (forwarded === undefined) this.forwardedByAuction.set(auctionId, (forwarded = new Set()));
    forwarded.add(requestId);
  }

  private unforward(requestId: string, pending: Pending): void {
    if (pending.forwarded === null || pending.request.kind !== "auction") return;
    pending.forwarded = null;
    const auctionId = pending.request.command.auctionId;
    const forwarded = this.forwardedByAuction.get(auctionId);
    forwarded?.delete(requestId);
    if (forwarded?.size === 0) this.forwardedByAuction.delete(auctionId);
  }

  /**
   * The auction moved to another owner (its epoch grew): the local clients' commands forwarded
   * before (to the old owner, or to the leader, which sent them on) and not answered are routed
   * again, to the new one. A dead owner would never answer them, and the client would wait for its
   * timeout. Each goes under a new route id, and an
   * answer to the old route is ignored: the old owner, were it alive, can only have had the command
   * committed before the reassignment (the new owner then finds it a repeat of an accepted bid) or
   * not at all (fenced), so the answer of the new route is the one that agrees with the log.
   */
  private rerouteForwarded(auctionId: string): void {
    const forwarded = this.forwardedByAuction.get(auctionId);
    const assignment = this.raft.state().assignments.get(auctionId);
    if (forwarded === undefined || assignment === undefined) return;
    for (const requestId of [...forwarded]) {
      const pending = this.pending.get(requestId)!;
      const before = pending.forwarded!;
      if (assignment.epoch <= before.epoch || assignment.owner === before.to) continue;
      this.unforward(requestId, pending);
      this.routeOf.delete(pending.routeId);
      pending.routeId = `${requestId}~${++this.rerouteCounter}`;
      this.routeOf.set(pending.routeId, requestId);
      const minIndex = this.raft.state().appliedIndex;
      this.route({
        origin: this.raft.id,
        requestId: pending.routeId,
        request: pending.request,
        hops: 0,
        minIndex,
      });
    }
  }

  private forward(waiter: Waiter, to: NodeId | null, unreachable: string): void {
    if (to === null || to === this.raft.id || waiter.hops >= hopsMax) {
      return this.answer(waiter, failure("unavailable", unreachable, this.raft.leaderId()));
    }
    this.raft.send(to, {
      type: "forward",
      origin: waiter.origin,
      requestId: waiter.requestId,
      request: waiter.request,
      hops: waiter.hops + 1,
      minIndex: Math.max(waiter.minIndex, this.raft.state().appliedIndex),
    });
  }

  /** Delivers an answer to the waiter's origin (here, or over the network). */
  private answer(waiter: Waiter, result: ClientResult): void {
    if (waiter.origin !== this.raft.id) {
      this.raft.send(waiter.origin, { type: "forward-result", requestId: waiter.requestId, result });
      return;
    }
    this.settle(waiter.requestId, result);
  }

  /** The answer of a local client's request's route: ignored unless that route is its current one. */
  private settle(routeId: string, result: ClientResult): void {
    const requestId = this.routeOf.get(routeId) ?? routeId;
    const pending = this.pending.get(requestId);
    // Answered already, timed out, or routed again since (rerouteForwarded).
    if (pending === undefined || pending.routeId !== routeId) return;
    this.unforward(requestId, pending);
    this.respondOnceApplied(requestId, result);
  }

  /** Answers a local client once this node has applied what the answer rests on. */
  private respondOnceApplied(requestId: string, result: ClientResult): void {
    const pending = this.pending.get(requestId);
    if (pending === undefined) return; // timed out
    const index = result.ok && (result.kind === "applied" || result.kind === "read") ? result.index : 0;
    if (index > this.raft.state().appliedIndex) {
      this.waitingApply.set(requestId, { index, result });
      return;
    }
    this.pending.delete(requestId);
    this.routeOf.delete(pending.routeId);
    this.raft.respond(requestId, result);
  }

  onMessage(
    message: Extract<
      MessageBody,
      { type: "forward" | "forward-result" | "owner-proposal" | "owner-proposal-refused" }
    >,
    from: NodeId,
  ): void {
    switch (message.type) {
      case "forward":
        return this.route({
          origin: message.origin,
          requestId: message.requestId,
          request: message.request,
          hops: message.hops,
          minIndex: message.minIndex,
        });
      case "forward-result":
        return this.settle(message.requestId, message.result);
      case "owner-proposal":
        return this.onOwnerProposal(message.entries, from);
      case "owner-proposal-refused":
        return this.onOwnerProposalRefused();
    }
  }

  // ------------------------------------------------------------------ leader

  /** Requests only the leader serves: registrations, creations, member removals, read indexes. */
  private lead(waiter: Waiter): void {
    const request = waiter.request;
    switch (request.kind) {
      case "read":
        return this.raft.readIndex((index) =>
          this.answer(
            waiter,
            index === null
              ? failure("unavailable", "leadership was lost", this.raft.leaderId())
              : { ok: true, kind: "read", index },
          ),
        );
      case "register":
        return this.appendFor(waiter, {
          kind: "user",
          name: request.name,
          tokenHash: request.tokenHash,
          passwordHash: request.passwordHash,
        });
      case "create":
        return this.create(waiter, request.command);
      case "remove-member":
        return this.remove(waiter, request.id);
      case "drain":
        // A worker is stopping: move its auctions now, as if it were dead, and give it no new ones.
        this.draining.set(request.id, this.raft.nowMs() + 60_000);
        return this.answer(waiter, {
          ok: true,
          kind: "accepted",
          detail: `node ${request.id} is being drained`,
        });
      case "login":
        return this.appendFor(waiter, {
          kind: "session",
          name: request.name,
          tokenHash: request.tokenHash,
          expiresAt: request.expiresAt,
        });
      case "logout":
        return this.appendFor(waiter, { kind: "session-end", tokenHash: request.tokenHash });
      case "set-drained":
        if (!this.raft.members().some((member) => member.id === request.id)) {
          return this.answer(waiter, failure("invalid", `node ${request.id} is not a member`, null));
        }
        return this.appendFor(waiter, { kind: "worker-state", id: request.id, drained: request.drained });
      case "transfer": {
        const refusal = this.raft.transferTo(request.to);
        if (refusal !== null) return this.answer(waiter, failure("invalid", refusal, this.raft.leaderId()));
        return this.answer(waiter, { ok: true, kind: "accepted", detail: "leadership is being handed over" });
      }
      case "auction":
        return this.routeAuction(waiter, request.command);
    }
  }

  private appendFor(waiter: Waiter, data: EntryData): void {
    if (this.raft.handingOver()) {
      if (this.deferred.length >= this.raft.config.pendingRequestsMax)
        return this.answer(waiter, overloaded("the leader is handing over with too many requests waiting"));
      return void this.deferred.push(waiter);
    }
    const index = this.raft.appendAsLeader([data]);
    if (index === null)
      return this.answer(waiter, failure("unavailable", "the leader cannot take writes right now", null));
    this.awaitingIndex.set(index, waiter);
  }

  /** Routes again what waited for a hand-over, once it is over (to the new leader, or back here). */
  private releaseDeferred(): void {
    if (this.deferred.length === 0 || (this.raft.isLeader() && this.raft.handingOver())) return;
    const deferred = this.deferred;
    this.deferred = [];
    for (const waiter of deferred) this.route(waiter);
  }

  private create(waiter: Waiter, command: Extract<ClientRequest, { kind: "create" }>["command"]): void {
    const parsed = createAuctionCommandSchema.safeParse({ ...command, timestampMs: 0 });
    if (!parsed.success)
      return this.answer(waiter, failure("invalid", parsed.error.issues[0]?.message ?? "invalid", null));
    this.appendFor(waiter, { kind: "create", command, owner: this.leastLoadedWorker() });
  }

  private remove(waiter: Waiter, id: NodeId): void {
    if (id === this.raft.id) {
      return this.answer(
        waiter,
        failure("invalid", "the leader cannot remove itself; stop it, and another node will remove it", null),
      );
    }
    if (!this.raft.members().some((member) => member.id === id)) {
      return this.answer(waiter, failure("invalid", `node ${id} is not a member`, null));
    }
    this.removals.set(id, waiter);
  }

  /** Workers that answered recently; the leader runs auctions itself only when it is alone. */
  private liveWorkers(): NodeId[] {
    const since = this.raft.nowMs() - this.raft.config.reassignAfterMs;
    const live = this.raft
      .members()
      .filter((member) => member.id !== this.raft.id && !this.isDraining(member.id))
      .filter((member) => !this.raft.state().drained.has(member.id))
      .filter((member) => this.raft.lastHeardMs(member.id) >= since)
      .map((member) => member.id);
    return live.length > 0 ? live : [this.raft.id];
  }

  private isDraining(id: NodeId): boolean {
    const untilMs = this.draining.get(id);
    if (untilMs === undefined) return false;
    if (this.raft.nowMs() < untilMs) return true;
    this.draining.delete(id);
    return false;
  }

  private leastLoadedWorker(): NodeId {
    const load = (id: NodeId) => this.raft.state().activeByOwner.get(id)?.size ?? 0;
    let best: NodeId | null = null;
    for (const id of this.liveWorkers()) if (best === null || load(id) < load(best)) best = id;
    return best!;
  }

  private onOwnerProposal(entries: EntryData[], from: NodeId): void {
    const accepted = entries.filter((data) => data.kind === "auction" && data.owner === from);
    if (accepted.length === 0) return;
    const index = this.raft.isLeader() ? this.raft.appendAsLeader(accepted) : null;
    if (index === null) {
      const reason = this.raft.isLeader() ? "overloaded" : "not-leader";
      this.raft.send(from, { type: "owner-proposal-refused", reason, leaderId: this.raft.leaderId() });
    }
  }

  /** Leader duties on a tick: member removals asked by operators, and moving auctions off dead workers. */
  private leaderTick(nowMs: number): void {
    for (const [id, waiter] of this.removals) {
      if (!this.raft.members().some((member) => member.id === id)) {
        this.removals.delete(id);
        this.answer(waiter, failure("invalid", `node ${id} is not a member`, null));
        continue;
      }
      const index = this.raft.proposeRemoval(id);
      if (index === null) break;
      this.removals.delete(id);
      this.awaitingIndex.set(index, waiter);
    }
    if (nowMs - this.lastReassignCheckMs < this.raft.config.closeCheckIntervalMs) return;
    this.lastReassignCheckMs = nowMs;
    this.reassignFromDeadWorkers(nowMs);
  }

  private reassignFromDeadWorkers(nowMs: number): void {
    const state = this.raft.state();
    const since = nowMs - this.raft.config.reassignAfterMs;
    const memberIds = new Set(this.raft.members().map((member) => member.id));
    const isDead = (owner: NodeId) =>
      owner !== this.raft.id &&
      (!memberIds.has(owner) ||
        this.raft.lastHeardMs(owner) < since ||
        this.isDraining(owner) ||
        state.drained.has(owner));
    const dead = [...state.activeByOwner.keys()].filter(isDead);
    if (dead.length === 0) return;
    const workers = this.liveWorkers();
    const load = new Map(workers.map((id) => [id, state.activeByOwner.get(id)?.size ?? 0]));
    const entries: EntryData[] = [];
    for (const owner of dead) {
      for (const auctionId of state.activeByOwner.get(owner)!) {
        if (this.assigning.has(auctionId)) continue;
        const target = workers.reduce((best, id) => (load.get(id)! < load.get(best)! ? id : best));
        load.set(target, load.get(target)! + 1);
        const current = state.assignments.get(auctionId)!;
        entries.push({ kind: "assign", auctionId, owner: target, epoch: current.epoch + 1 });
        this.assigning.add(auctionId);
      }
    }
    if (entries.length > 0 && this.raft.appendAsLeader(entries) === null) {
      for (const entry of entries) if (entry.kind === "assign") this.assigning.delete(entry.auctionId);
    }
  }

  /** Leadership lost: what this leader was waiting for may or may not commit. */
  onLeadershipLost(): void {
    const leaderId = this.raft.leaderId();
    for (const waiter of this.awaitingIndex.values()) {
      this.answer(
        waiter,
        failure("outcome-unknown", "leadership changed before the entry committed", leaderId),
      );
    }
    this.awaitingIndex.clear();
    for (const waiter of this.removals.values()) this.route(waiter);
    this.removals.clear();
    this.assigning.clear();
  }

  // ------------------------------------------------------------------ owner (worker)

  private lane(auctionId: string): Lane {
    let lane = this.lanes.get(auctionId);
    if (lane === undefined) {
      lane = { queue: [], inflight: [], held: [], sentMs: 0, sentTo: null };
      this.lanes.set(auctionId, lane);
    }
    return lane;
  }

  private enqueue(waiter: Waiter): void {
    const request = waiter.request;
    if (request.kind !== "auction") return;
    // A bid passes the hand-written check (certain to agree with the schema); anything else, zod.
    if (!isPlaceBidBody(request.command)) {
      const parsed = auctionCommandSchema.safeParse({ ...request.command, timestampMs: 0 });
      if (!parsed.success)
        return this.answer(waiter, failure("invalid", parsed.error.issues[0]?.message ?? "invalid", null));
    }
    const queued = this.lanes.get(request.command.auctionId);
    // A bounded queue per auction; the owner's own close is never refused (it would not be retried).
    const full =
      queued !== undefined && queued.queue.length + queued.held.length >= this.raft.config.pendingRequestsMax;
    if (full && request.command.type !== "close-auction")
      return this.answer(
        waiter,
        overloaded(`the owner of ${request.command.auctionId} has too many commands queued`),
      );
    const lane = this.lane(request.command.auctionId);
    lane.queue.push(waiter);
    this.pump(request.command.auctionId, lane);
  }

  /**
   * Decides the queued commands of one auction in arrival order, against the committed state plus
   * the ones accepted earlier in the same batch, and proposes the accepted ones as one batch.
   */
  private pump(auctionId: string, lane: Lane): void {
    if (lane.inflight.length > 0 || lane.queue.length === 0) return;
    const state = this.raft.state();
    const assignment = state.assignments.get(auctionId);
    if (assignment?.owner !== this.raft.id) return this.rerouteLane(auctionId, lane);
    const auction = state.book.get(auctionId)!;
    // Decided against the committed state itself (decide changes nothing) until a command is
    // accepted and another waits: only then a throwaway copy takes the batch's events.
    let speculation: Speculation = { book: state.book, auction };
    let copied = false;
    const batch: LaneItem[] = [];
    const room = () => lane.queue.length > 0 && batch.length < this.raft.config.ownerBatchMax;
    while (room()) {
      const waiter = lane.queue.shift()!;
      const events = this.decide(waiter, speculation, batch, lane, assignment.epoch);
      if (events.length === 0 || !room()) continue;
      if (!copied) speculation = speculate(state, auction);
      copied = true;
      for (const event of events) speculation.book.apply(event);
    }
    lane.inflight = batch;
    if (batch.length > 0) this.propose(lane);
  }

  /** Decides one command; returns the events of the batch's newly accepted one (none otherwise). */
  private decide(
    waiter: Waiter,
    speculation: Speculation,
    batch: LaneItem[],
    lane: Lane,
    epoch: number,
  ): readonly AuctionEvent[] {
    const command = (waiter.request as Extract<ClientRequest, { kind: "auction" }>).command;
    const outcome = speculation.book.decide(
      stampedCommand(command, this.decisionTime(speculation.auction, command)),
    );
    if (outcome.ok && outcome.duplicate === true && outcome.bid !== undefined) {
      const key = `${outcome.bid.bidder}\n${outcome.bid.bidId}`;
      const original = batch.find((item) => item.key === key);
      if (original !== undefined) original.waiters.push(waiter);
      else this.answer(waiter, { ok: true, kind: "decided", outcome });
      return [];
    }
    if (!outcome.ok) {
      // A rejection against committed state alone is final; one that rests on this batch waits for it.
      if (batch.length === 0) this.answer(waiter, { ok: true, kind: "decided", outcome });
      else lane.held.push(waiter);
      return [];
    }
    const ref = `${this.raft.id}.${this.bootNonce}.${this.refCounter++}`;
    const data = { kind: "auction" as const, command, owner: this.raft.id, epoch, ref };
    const key = command.type === "place-bid" ? `${command.bidder}\n${command.bidId}` : null;
    batch.push({ ref, data, waiters: [waiter], key });
    return outcome.events;
  }

  /**
   * The time at which the owner judges a command: its clock, but inside the auction's open window
   * unless clearly outside it, so that only the leader's stamp decides near the edges.
   */
  private decisionTime(auction: Auction, command: OwnerCommandBody): number {
    const now = Math.max(this.raft.nowMs(), this.raft.state().book.lastTimestampMs);
    if (command.type === "close-auction") return Math.max(now, auction.closesAt);
    const margin = this.raft.config.clockSkewMaxMs;
    if (now >= auction.closesAt + margin || now < auction.opensAt - margin) return now;
    return Math.min(Math.max(now, auction.opensAt), auction.closesAt - 1);
  }

  private propose(lane: Lane): void {
    const entries = lane.inflight.map((item) => item.data);
    lane.sentMs = this.raft.nowMs();
    lane.sentTo = this.raft.leaderId();
    if (this.raft.isLeader()) {
      if (this.raft.appendAsLeader(entries) === null)
        lane.sentMs = this.raft.nowMs() - this.raft.config.ownerRetryMs + 50;
      return;
    }
    if (lane.sentTo === null) return;
    if (!this.raft.batching) return this.raft.send(lane.sentTo, { type: "owner-proposal", entries });
    const pending = this.outbox.get(lane.sentTo);
    if (pending === undefined) this.outbox.set(lane.sentTo, entries);
    else pending.push(...entries);
  }

  /** Sends the proposals of a batch: one message per leader, of at most appendEntriesMax entries. */
  flushProposals(): void {
    const size = this.raft.config.appendEntriesMax;
    for (const [to, entries] of this.outbox) {
      for (let start = 0; start < entries.length; start += size)
        this.raft.send(to, { type: "owner-proposal", entries: entries.slice(start, start + size) });
    }
    this.outbox.clear();
  }

  private onOwnerProposalRefused(): void {
    // Retry soon rather than after the full retry interval.
    const soon = this.raft.nowMs() - this.raft.config.ownerRetryMs + 50;
    for (const lane of this.lanes.values())
      if (lane.inflight.length > 0) lane.sentMs = Math.min(lane.sentMs, soon);
  }

  private rerouteLane(auctionId: string, lane: Lane): void {
    const waiters = [...lane.held, ...lane.queue];
    lane.held = [];
    lane.queue = [];
    if (lane.inflight.length === 0) this.lanes.delete(auctionId);
    for (const waiter of waiters) this.route({ ...waiter, hops: waiter.hops + 1 });
  }

  /** Owner duties on a tick: re-propose stalled batches, and close auctions past their deadline. */
  private ownerTick(nowMs: number): void {
    for (const lane of this.lanes.values()) {
      if (lane.inflight.length === 0) continue;
      const stalled = nowMs - lane.sentMs >= this.raft.config.ownerRetryMs;
      if (stalled || lane.sentTo !== this.raft.leaderId()) this.propose(lane);
    }
    if (nowMs - this.lastCloseCheckMs < this.raft.config.closeCheckIntervalMs) return;
    this.lastCloseCheckMs = nowMs;
    const state = this.raft.state();
    for (const auctionId of state.activeByOwner.get(this.raft.id) ?? []) {
      const auction = state.book.get(auctionId)!;
      if (nowMs < auction.closesAt || this.closing.has(auctionId)) continue;
      this.closing.add(auctionId);
      const request: ClientRequest = { kind: "auction", command: { type: "close-auction", auctionId } };
      this.enqueue({ origin: this.raft.id, requestId: `close:${auctionId}`, request, hops: 0, minIndex: 0 });
    }
  }

  // ------------------------------------------------------------------ applied entries and time

  onApplied(entry: LogEntry, result: ApplyResult): void {
    const waiter = this.awaitingIndex.get(entry.index);
    if (waiter !== undefined) {
      this.awaitingIndex.delete(entry.index);
      this.answer(waiter, { ok: true, kind: "applied", index: entry.index, result });
    }
    const data = entry.data;
    if (data.kind === "assign") this.assigning.delete(data.auctionId);
    if (data.kind === "assign") this.rerouteForwarded(data.auctionId);
    if (data.kind === "assign" && data.owner !== this.raft.id) {
      const lane = this.lanes.get(data.auctionId);
      if (lane !== undefined && lane.inflight.length === 0) this.rerouteLane(data.auctionId, lane);
    }
    if (data.kind === "auction" && data.owner === this.raft.id) this.onOwnApplied(entry.index, data, result);
    this.answerReads();
    this.unpark();
  }

  /** Routes again what waited for this leader's complete view, once it has it or no longer leads. */
  private releaseAwaitingLeaderView(): void {
    if (this.awaitingLeaderView.length === 0) return;
    const waiting = this.awaitingLeaderView;
    this.awaitingLeaderView = [];
    const now = this.raft.nowMs();
    for (const item of waiting) {
      if (!this.raft.isLeader() || this.raft.leaderReady()) this.route(item.waiter);
      else if (now < item.untilMs) this.awaitingLeaderView.push(item);
      else
        this.answer(
          item.waiter,
          failure("unavailable", "the new leader is not ready yet", this.raft.leaderId()),
        );
    }
  }

  private unpark(): void {
    if (this.parked.length === 0) return;
    const applied = this.raft.state().appliedIndex;
    const now = this.raft.nowMs();
    const parked = this.parked;
    this.parked = [];
    for (const item of parked) {
      if (item.waiter.minIndex <= applied) this.route(item.waiter);
      else if (now < item.untilMs) this.parked.push(item);
      else
        this.answer(
          item.waiter,
          failure("outcome-unknown", "this node could not catch up in time", this.raft.leaderId()),
        );
    }
  }

  private onOwnApplied(
    index: LogIndex,
    data: Extract<EntryData, { kind: "auction" }>,
    result: ApplyResult,
  ): void {
    const auctionId = data.command.auctionId;
    const lane = this.lanes.get(auctionId);
    const position = lane?.inflight.findIndex((item) => item.ref === data.ref) ?? -1;
    if (lane === undefined || position < 0) return;
    const [item] = lane.inflight.splice(position, 1);
    if (data.command.type === "close-auction") this.onCloseApplied(auctionId, result);
    for (const waiter of item!.waiters) {
      if (result.kind === "fenced") this.route({ ...waiter, hops: waiter.hops + 1 });
      else this.answer(waiter, { ok: true, kind: "applied", index, result });
    }
    if (lane.inflight.length > 0) return;
    lane.queue.unshift(...lane.held);
    lane.held = [];
    if (lane.queue.length === 0) this.lanes.delete(auctionId);
    else this.pump(auctionId, lane);
  }

  private onCloseApplied(auctionId: string, result: ApplyResult): void {
    const early =
      result.kind === "auction" && !result.outcome.ok && result.outcome.reason === "close-too-early";
    // The leader's clock was behind: try again at the next check.
    if (early || result.kind === "fenced") this.closing.delete(auctionId);
  }

  private answerReads(): void {
    if (this.waitingApply.size === 0) return;
    const applied = this.raft.state().appliedIndex;
    for (const [requestId, waiting] of this.waitingApply) {
      if (waiting.index > applied) continue;
      this.waitingApply.delete(requestId);
      this.respondOnceApplied(requestId, waiting.result);
    }
  }

  onTick(nowMs: number): void {
    for (const [requestId, pending] of this.pending) {
      if (nowMs < pending.deadlineMs) break;
      this.pending.delete(requestId);
      this.routeOf.delete(pending.routeId);
      this.unforward(requestId, pending);
      this.waitingApply.delete(requestId);
      const write = pending.request.kind !== "read";
      const result = write
        ? failure(
            "outcome-unknown",
            "no answer in time: it may or may not have taken effect",
            this.raft.leaderId(),
          )
        : failure("unavailable", "could not confirm a read in time", this.raft.leaderId());
      this.raft.respond(requestId, result);
    }
    if (this.raft.isLeader() && this.raft.leaderReady()) this.leaderTick(nowMs);
    this.ownerTick(nowMs);
    this.releaseAwaitingLeaderView();
    this.unpark();
    this.releaseDeferred();
  }

  /** For status: how many requests and owner commands are in progress here. */
  load(): { pending: number; lanes: number } {
    return { pending: this.pending.size, lanes: this.lanes.size };
  }

  private decideUnknown(command: OwnerCommandBody): ClientResult {
    const outcome: Outcome = {
      ok: false,
      reason: "unknown-auction",
      message: `no auction ${command.auctionId}`,
    };
    return { ok: true, kind: "decided", outcome };
  }
}

interface Speculation {
  book: AuctionBook;
  auction: Auction;
}

/** A throwaway book holding one auction on top of the committed one, without copying its history. */
function speculate(state: ClusterState, auction: Auction): Speculation {
  const book = new AuctionBook(state.limits);
  const copy: Auction = {
    ...auction,
    bids: [],
    accepted: new OverlayMap<string, AcceptedBid>(auction.accepted),
  };
  book.auctions.set(auction.id, copy);
  return { book, auction: copy };
}
