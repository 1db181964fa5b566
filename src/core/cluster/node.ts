// One node's protocol state machine: discovery and bootstrap, highest-ID-first election made safe
// with terms, pre-vote and majorities, log replication with batching, pipelining and snapshots,
// and single-step membership changes. Sans I/O: `step` takes an input (tick, message, beacon,
// proposal) and returns effects (persist, send, broadcast, applied, reply) that the driver must
// carry out in order; persisting comes first. No sockets, timers, clock or randomness inside.
import { assert, unreachable } from "../assert.js";
import type { EngineLimits } from "../auction/types.js";
import type { Config } from "../config.js";
import type { Random } from "../random.js";
import { randomUuid } from "../random.js";
import { RaftLog } from "./log.js";
import type { EntryReader } from "./log.js";
import { acknowledge, newProgress } from "./progress.js";
import type { Progress } from "./progress.js";
import { hasMajority, majority, majorityMatch, median, votersOf } from "./quorum.js";
import { ClusterState } from "./state.js";
import { takenSnapshot } from "./taken-snapshot.js";
import type { StateOptions } from "./state.js";
import { Roles } from "./roles.js";
import type { RaftView } from "./roles.js";
import type {
  Beacon,
  ClusterConfig,
  DropReason,
  Effect,
  EntryData,
  HardState,
  Identity,
  Input,
  JoinOutcome,
  LogEntry,
  LogIndex,
  Member,
  Message,
  MessageBody,
  Mutant,
  NodeEvent,
  NodeId,
  PersistEffect,
  PersistedState,
  ClientRequest,
  ClientResult,
  Snapshot,
  Term,
} from "./types.js";

export type Role = "discovering" | "joining" | "follower" | "pre-candidate" | "candidate" | "leader";

export interface NodeOptions {
  config: Readonly<Config>;
  identity: Identity;
  address: string;
  httpUrl: string;
  random: Random;
  nowMs: number;
  /** What the node found on disk; null for a fresh node. */
  persisted: PersistedState | null;
  engineLimits?: EngineLimits;
  /** A deliberate bug, for the simulator only. */
  mutant?: Mutant | null;
  /**
   * Steps come in batches, each ended by endBatch(): the appends, commit notices and owner proposals
   * of a batch then leave together, one message where each step would have sent its own. The driver
   * sets it; without it every step sends at once.
   */
  batching?: boolean;
  /**
   * The node's storage, read back: with it the log keeps only its newest entries in memory
   * (config.logCacheEntries behind the applied index) and reads older ones from the storage.
   */
  entryReader?: EntryReader;
}

export interface NodeStatus {
  id: NodeId;
  incarnation: string;
  role: Role;
  /** "voter", "learner", or "none" when this node is not in the configuration it knows. */
  membership: "voter" | "learner" | "none";
  term: Term;
  leaderId: NodeId | null;
  clusterId: string | null;
  clusterName: string;
  commitIndex: LogIndex;
  appliedIndex: LogIndex;
  lastIndex: LogIndex;
  snapshotIndex: LogIndex;
  /** Log entries held in memory; the others since the snapshot are read back from the storage. */
  logEntriesHeld: number;
  /** This node's clock minus the majority's, as last measured; null if unknown. */
  clockDeviationMs: number | null;
  /** False when this node may not stand for election, with the reason. */
  eligible: boolean;
  ineligibleReason: string | null;
  /** Other clusters of the same name that this node has heard (never merged). */
  conflictingClusters: { clusterId: string; nodeId: NodeId }[];
  /** Why this node's last request to join was refused; null if it was not. */
  joinRefusal: string | null;
  members: Member[];
  /** When this node last heard from each node (beacons, answers to its appends, its leader's appends). */
  lastHeardMs: Record<NodeId, number>;
  /** This node's clock when the status was taken. */
  nowMs: number;
  /** A node heard within this long counts as alive. */
  aliveWithinMs: number;
}

interface HeardCluster {
  clusterId: string;
  nodeId: NodeId;
  leaderId: NodeId | null;
  term: Term;
  heardMs: number;
}

interface SnapshotReceipt {
  index: LogIndex;
  term: Term;
  timestampMs: number;
  config: ClusterConfig;
  total: number;
  chunks: string[];
  received: number;
}

type Body<T extends MessageBody["type"]> = Extract<Message, { type: T }>;

const emptyConfig: ClusterConfig = { members: [] };

export class ClusterNode {
  readonly id: NodeId;
  readonly incarnation: string;
  private readonly config: Readonly<Config>;
  private readonly random: Random;
  private readonly mutant: Mutant | null;
  private readonly address: string;
  private readonly httpUrl: string;

  private clusterId: string | null;
  private hard: HardState;
  private log: RaftLog;
  private state: ClusterState;
  private readonly stateOptions: StateOptions;
  private readonly roles: Roles;
  private snapshot: Snapshot | null;
  // Invariant: commitIndex <= log.lastIndex() and appliedIndex <= commitIndex.
  private commitIndex: LogIndex;
  /** Configurations by the index of the entry that set them, ascending; the last one is in force. */
  private configs: { index: LogIndex; config: ClusterConfig }[];

  private role: Role;
  private leaderId: NodeId | null = null;
  private nowMs: number;
  private electionDeadlineMs = Infinity;
  private lastLeaderContactMs = -Infinity;
  private lastBeaconMs = -Infinity;
  private votes = new Map<NodeId, boolean>();

  // Leader only.
  private progress = new Map<NodeId, Progress>();
  /** Read-index rounds: confirmed once a majority echoes a round at least this high. */
  private readSeq = 0;
  /** This follower's last successful answer to an append (see mayLeaveUnanswered); null after a refusal. */
  private lastAppendAnswer: { term: Term; matchIndex: LogIndex; readSeq: number; atMs: number } | null = null;
  private pendingReads: { seq: number; index: LogIndex; ready: (index: LogIndex | null) => void }[] = [];
  private readRoundDue = false;
  private readonly batching: boolean;
  /** Batching: entries were appended in this batch; endBatch sends them. */
  private appendsDue = false;
  /** Entries to apply after the last snapshot before taking the next (see spacingAfterSnapshot). */
  private snapshotSpacing: number;
  /** Entries appended for the roles this step: commit them (a leader alone is a majority) at step end. */
  private commitDue = false;
  private leaderSinceMs = 0;
  private termStartIndex: LogIndex = 0;
  private lastHeartbeatMs = -Infinity;
  private lastQuorumCheckMs = 0;
  private transfer: { target: NodeId; startedMs: number } | null = null;
  /** Set once the node is about to stop: it hands over and takes no leadership back. */
  private leaving = false;
  private memberLastHeardMs = new Map<NodeId, number>();

  // Clock: this node's deviation from the majority, as the leader measured it.
  private clockDeviationMs: number | null = null;
  /** When the deviation was measured: an old measurement says nothing about the clock now. */
  private clockDeviationAtMs = -Infinity;
  /** Leader only: each voter's deviation from the voters' median clock, refreshed every heartbeat. */
  private deviations = new Map<NodeId, number>();

  // Discovery and joining.
  private freshSinceMs: number;
  private freshHeard = new Map<NodeId, number>();
  private clustersHeard = new Map<string, HeardCluster>();
  private conflicts = new Map<string, NodeId>();
  private joinTarget: { clusterId: string; nodeId: NodeId } | null = null;
  private lastJoinSentMs = -Infinity;
  private joinRefusal: string | null = null;
  /** Set once the leader confirmed our join (our incarnation matched): only then do we take its appends. */
  private joinAccepted = false;
  private beaconLeader: { id: NodeId; term: Term; heardMs: number } | null = null;
  private peers = new Map<
    NodeId,
    { address: string; httpUrl: string; incarnation: string; heardMs: number }
  >();
  private snapshotReceipt: SnapshotReceipt | null = null;

  // Output of the current step.
  private out: Effect[] = [];
  private persistNext: Omit<PersistEffect, "type"> & { entries: LogEntry[] } = { entries: [] };
  private persistDirty = false;
  /**
   * The log's last index when the last batch ended (each step, without batching): the driver has
   * written all of it before the next batch starts, so that batch may release the applied entries.
   */
  private writtenThrough: LogIndex = 0;
  /** The lowest index truncated since the last batch ended: the storage holds older text from there. */
  private truncatedFrom: LogIndex = Infinity;

  constructor(options: NodeOptions) {
    this.config = options.config;
    this.random = options.random;
    this.mutant = options.mutant ?? null;
    this.address = options.address;
    this.httpUrl = options.httpUrl;
    this.nowMs = options.nowMs;
    this.freshSinceMs = options.nowMs;
    this.batching = options.batching ?? false;
    const persisted = options.persisted;
    const identity = persisted?.identity ?? options.identity;
    this.id = identity.nodeId;
    this.incarnation = identity.incarnation;
    assert(Number.isSafeInteger(this.id) && this.id > 0, "node ids are positive integers");
    this.clusterId = persisted?.clusterId ?? null;
    this.hard = persisted?.hardState ?? { term: 0, votedFor: null };
    const snapshot = persisted?.snapshot ?? null;
    this.snapshot = snapshot;
    this.stateOptions = { limits: options.engineLimits, fencing: this.mutant !== "no-fencing" };
    this.state = snapshot
      ? ClusterState.restore(snapshot.data, this.stateOptions)
      : new ClusterState(this.stateOptions);
    this.snapshotSpacing = this.spacingAfterSnapshot();
    const base = snapshot?.index ?? 0;
    const entries = (persisted?.entries ?? []).filter((entry) => entry.index > base);
    const reader = options.entryReader ?? null;
    this.log = RaftLog.restore(base, snapshot?.term ?? 0, snapshot?.timestampMs ?? 0, entries, reader);
    this.writtenThrough = this.log.lastIndex();
    this.commitIndex = base;
    this.configs = [{ index: base, config: snapshot?.config ?? emptyConfig }];
    for (const entry of entries) this.noteConfigEntry(entry);
    this.role = this.clusterId === null ? "discovering" : "follower";
    if (this.clusterId !== null) this.resetElectionTimer();
    this.roles = new Roles(this.raftView(), Math.floor(this.random.next() * 2 ** 32).toString(36));
  }

  /** What the roles may see and do of this node. */
  private raftView(): RaftView {
    return {
      id: this.id,
      config: this.config,
      batching: this.batching,
      nowMs: () => this.nowMs,
      isLeader: () => this.role === "leader",
      leaderId: () => this.leaderId,
      state: () => this.state,
      leaderReady: () => this.role === "leader" && this.commitIndex >= this.termStartIndex,
      handingOver: () => this.transfer !== null,
      transferTo: (to) => this.transferTo(to),
      appendAsLeader: (data) => this.appendForRoles(data),
      proposeRemoval: (id) => this.proposeRemoval(id),
      lastHeardMs: (id) => (id === this.id ? this.nowMs : (this.progress.get(id)?.lastAckMs ?? -Infinity)),
      members: () => this.latestConfig().members,
      readIndex: (ready) => this.readIndex(ready),
      send: (to, body) => this.send(to, body),
      respond: (requestId, result) => this.out.push({ type: "response", requestId, result }),
    };
  }

  // ---------------------------------------------------------------- public surface

  /** Handles one input and returns what must happen next, persistence first. */
  step(input: Input): Effect[] {
    this.out = [];
    this.releaseLog();
    switch (input.type) {
      case "tick":
        this.onTick(input.nowMs);
        break;
      case "message":
        this.onMessage(input.message);
        break;
      case "beacon":
        this.onBeacon(input.beacon);
        break;
      case "request":
        this.onRequest(input.requestId, input.request);
        break;
      case "leave":
        this.onLeave();
        break;
      default:
        unreachable(input, "unknown input");
    }
    const out = this.flush();
    if (!this.batching) this.batchWritten();
    return out;
  }

  /** Whether this node leads now (cheaper than status() for the driver's per-batch decisions). */
  get leading(): boolean {
    return this.role === "leader";
  }

  /** Ends a batch of steps (with batching on): sends what its steps held back, then as from a step. */
  endBatch(): Effect[] {
    this.out = [];
    this.roles.flushProposals();
    if (this.appendsDue && this.role === "leader") this.broadcastAppends(false);
    this.appendsDue = false;
    this.notifyCommit();
    const out = this.flush();
    this.batchWritten();
    return out;
  }

  /** The batch's effects are out: the driver writes them before it delivers anything more. */
  private batchWritten(): void {
    this.writtenThrough = this.log.lastIndex();
    this.truncatedFrom = Infinity;
  }

  /**
   * Lets the log drop from memory the entries applied more than logCacheEntries ago (it reads them
   * back from the storage if a lagging follower needs them), in steps of an eighth of the cache. Only
   * entries the storage holds as they are: written by an earlier batch, and not truncated since (an
   * applied entry is committed and stays, but this batch may have replaced it before it committed).
   */
  private releaseLog(): void {
    const cache = this.config.logCacheEntries;
    const through = Math.min(this.state.appliedIndex - cache, this.writtenThrough, this.truncatedFrom - 1);
    if (through - this.log.firstHeldIndex() >= Math.ceil(cache / 8)) this.log.releaseThrough(through);
  }

  status(): NodeStatus {
    const eligibility = this.eligibility();
    const me = this.member(this.id);
    return {
      id: this.id,
      incarnation: this.incarnation,
      role: this.role,
      membership: me === undefined ? "none" : me.voter ? "voter" : "learner",
      term: this.hard.term,
      leaderId: this.leaderId,
      clusterId: this.clusterId,
      clusterName: this.config.clusterName,
      commitIndex: this.commitIndex,
      appliedIndex: this.state.appliedIndex,
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.snapshot?.index ?? 0,
      logEntriesHeld: this.log.lastIndex() + 1 - this.log.firstHeldIndex(),
      clockDeviationMs: this.currentDeviation(),
      eligible: eligibility === null,
      ineligibleReason: eligibility,
      conflictingClusters: [...this.conflicts].map(([clusterId, nodeId]) => ({ clusterId, nodeId })),
      joinRefusal: this.joinRefusal,
      members: this.latestConfig().members,
      lastHeardMs: this.lastHeard(),
      nowMs: this.nowMs,
      aliveWithinMs: 2 * this.config.beaconIntervalMs + this.config.heartbeatIntervalMs,
    };
  }

  private lastHeard(): Record<NodeId, number> {
    const heard: Record<NodeId, number> = {};
    const note = (id: NodeId, atMs: number) => (heard[id] = Math.max(heard[id] ?? -Infinity, atMs));
    for (const [id, peer] of this.peers) note(id, peer.heardMs);
    for (const progress of this.progress.values()) note(progress.id, progress.lastAckMs);
    if (this.leaderId !== null && this.leaderId !== this.id) note(this.leaderId, this.lastLeaderContactMs);
    return heard;
  }

  /** The current term (cheap, unlike status()). */
  get term(): Term {
    return this.hard.term;
  }

  /** The members of the configuration in force here (cheap, unlike status()). */
  get members(): readonly Member[] {
    return this.latestConfig().members;
  }

  /** The replicated state as applied on this node (read-only for callers). */
  get applied(): ClusterState {
    return this.state;
  }

  /** Where to reach `id`: the address in its last beacon, else the one in the configuration. */
  peerAddress(id: NodeId): string | undefined {
    // A beacon is fresher than the configuration: a node may come back on another port.
    return this.peers.get(id)?.address ?? this.member(id)?.address;
  }

  /** A copy of entry `index` if this node still holds it (for checkers and tests). */
  entryAt(index: LogIndex): LogEntry | undefined {
    return this.log.entry(index);
  }

  get firstLogIndex(): LogIndex {
    return this.log.firstIndex();
  }

  // ---------------------------------------------------------------- configuration

  private latestConfig(): ClusterConfig {
    return this.configs.at(-1)!.config;
  }

  private configAt(index: LogIndex): ClusterConfig {
    for (let k = this.configs.length - 1; k >= 0; k--) {
      if (this.configs[k]!.index <= index) return this.configs[k]!.config;
    }
    return emptyConfig;
  }

  private member(id: NodeId): Member | undefined {
    return this.latestConfig().members.find((member) => member.id === id);
  }

  private voters(): NodeId[] {
    return votersOf(this.latestConfig());
  }

  private isVoter(id: NodeId): boolean {
    return this.member(id)?.voter === true;
  }

  private noteConfigEntry(entry: LogEntry): void {
    if (entry.data.kind === "config") this.configs.push({ index: entry.index, config: entry.data.config });
  }

  /** A configuration change may start once the last one committed and this leader committed in its term. */
  private canChangeConfig(): boolean {
    return this.configs.at(-1)!.index <= this.commitIndex && this.commitIndex >= this.termStartIndex;
  }

  // ---------------------------------------------------------------- output helpers

  private flush(): Effect[] {
    while (this.commitDue) {
      this.commitDue = false;
      this.maybeCommit();
    }
    if (this.readRoundDue && this.role === "leader") this.broadcastAppends(true);
    this.readRoundDue = false;
    if (!this.batching) this.notifyCommit();
    if (this.persistDirty) {
      const { entries, ...rest } = this.persistNext;
      const effect: PersistEffect = { type: "persist", ...rest };
      if (entries.length > 0) effect.entries = entries;
      this.out.unshift(effect);
      this.persistNext = { entries: [] };
      this.persistDirty = false;
    }
    const out = this.out;
    this.out = [];
    return out;
  }

  private persistHardState(): void {
    this.persistNext.hardState = { ...this.hard };
    this.persistDirty = true;
  }

  private persistAppend(entries: LogEntry[]): void {
    this.persistNext.entries.push(...entries);
    this.persistDirty = true;
  }

  private persistTruncate(from: LogIndex): void {
    this.truncatedFrom = Math.min(this.truncatedFrom, from);
    this.persistNext.entries = this.persistNext.entries.filter((entry) => entry.index < from);
    this.persistNext.truncateFrom = Math.min(this.persistNext.truncateFrom ?? Infinity, from);
    this.persistDirty = true;
  }

  private emit(event: NodeEvent): void {
    this.out.push({ type: "event", event });
  }

  private send(to: NodeId, body: MessageBody, term: Term = this.hard.term): void {
    const clusterId = this.clusterId ?? this.joinTarget?.clusterId ?? null;
    // The envelope first, then the body's fields: a spread of the body (a score of message shapes)
    // took V8's slowest path for copying objects, several times Object.assign's cost.
    const envelope = { clusterId, from: this.id, to, term };
    const message: Message = Object.assign<typeof envelope, MessageBody>(envelope, body);
    this.out.push({ type: "send", message });
  }

  private drop(reason: DropReason, message: Message): void {
    this.emit({ type: "dropped", reason, messageType: message.type });
  }

  // ---------------------------------------------------------------- time

  private onTick(nowMs: number): void {
    this.nowMs = nowMs;
    if (nowMs - this.lastBeaconMs >= this.config.beaconIntervalMs) this.broadcastBeacon();
    switch (this.role) {
      case "discovering":
      case "joining":
        return this.tickDiscovery();
      case "leader":
        this.tickLeader();
        break;
      case "follower":
      case "pre-candidate":
      case "candidate":
        this.tickFollower();
        break;
      default:
        return unreachable(this.role, "unknown role");
    }
    this.roles.onTick(nowMs);
  }

  private resetElectionTimer(): void {
    const voters = this.voters().sort((a, b) => b - a);
    const rank = Math.max(0, voters.indexOf(this.id));
    const timeout =
      this.config.electionTimeoutMs +
      rank * this.config.electionRankStepMs +
      this.random.next() * this.config.electionJitterMs;
    this.electionDeadlineMs = this.nowMs + timeout;
  }

  private noteDeviation(deviationMs: number): void {
    this.clockDeviationMs = deviationMs;
    this.clockDeviationAtMs = this.nowMs;
  }

  /** The last measured deviation of this node's clock, unless it is too old to mean anything. */
  private currentDeviation(): number | null {
    const fresh = this.nowMs - this.clockDeviationAtMs <= 3 * this.config.electionTimeoutMs;
    return fresh ? this.clockDeviationMs : null;
  }

  /** Null if this node may stand for election, else why not. */
  private eligibility(): string | null {
    if (this.leaving) return "stopping";
    if (this.clusterId === null) return "not a member of a cluster yet";
    if (!this.isVoter(this.id))
      return this.member(this.id) ? "a learner until caught up" : "not in the configuration";
    const deviation = this.currentDeviation();
    if (deviation !== null && Math.abs(deviation) > this.config.clockSkewMaxMs) {
      return `clock differs from the majority's by ${Math.round(deviation)} ms (limit ${this.config.clockSkewMaxMs} ms)`;
    }
    return null;
  }

  private tickFollower(): void {
    if (this.nowMs >= this.electionDeadlineMs) {
      if (this.eligibility() === null) {
        this.campaign("pre", false);
      } else {
        if (this.role !== "follower") this.role = "follower";
        this.resetElectionTimer();
      }
    }
    this.maybeRejoin();
  }

  /**
   * A node that knows its cluster but gets nothing from the leader that beacons advertise (it was
   * removed while away, or its configuration is stale) asks to join again; members are told so.
   */
  private maybeRejoin(): void {
    const leader = this.beaconLeader;
    if (
      leader === null ||
      leader.id === this.id ||
      this.nowMs - leader.heardMs > 3 * this.config.beaconIntervalMs
    )
      return;
    if (leader.term < this.hard.term) return;
    const silentMs = this.nowMs - this.lastLeaderContactMs;
    if (silentMs < Math.max(this.config.joinRetryMs, this.config.electionTimeoutMs)) return;
    if (this.nowMs - this.lastJoinSentMs < this.config.joinRetryMs) return;
    this.sendJoinRequest(leader.id);
  }

  // ---------------------------------------------------------------- discovery and bootstrap

  private broadcastBeacon(): void {
    this.lastBeaconMs = this.nowMs;
    const beacon: Beacon = {
      clusterName: this.config.clusterName,
      clusterId: this.clusterId,
      nodeId: this.id,
      incarnation: this.incarnation,
      address: this.address,
      httpUrl: this.httpUrl,
      term: this.hard.term,
      leaderId: this.leaderId,
    };
    this.out.push({ type: "broadcast", beacon });
  }

  private onBeacon(beacon: Beacon): void {
    if (beacon.clusterName !== this.config.clusterName || beacon.nodeId === this.id) return;
    const { address, httpUrl, incarnation } = beacon;
    this.peers.delete(beacon.nodeId);
    this.peers.set(beacon.nodeId, { address, httpUrl, incarnation, heardMs: this.nowMs });
    // Bounded: forget the node heard longest ago (a flood of spoofed beacons cannot grow this).
    if (this.peers.size > 4 * this.config.membersMax) this.peers.delete(this.peers.keys().next().value!);
    if (beacon.clusterId === null) {
      this.freshHeard.set(beacon.nodeId, this.nowMs);
    } else if (this.clusterId === null) {
      const heard = { clusterId: beacon.clusterId, nodeId: beacon.nodeId, leaderId: beacon.leaderId };
      this.clustersHeard.set(beacon.clusterId, { ...heard, term: beacon.term, heardMs: this.nowMs });
    } else if (beacon.clusterId !== this.clusterId) {
      if (!this.conflicts.has(beacon.clusterId)) {
        this.conflicts.set(beacon.clusterId, beacon.nodeId);
        this.emit({ type: "cluster-conflict", clusterId: beacon.clusterId, nodeId: beacon.nodeId });
      }
    } else if (beacon.leaderId !== null && beacon.term >= (this.beaconLeader?.term ?? 0)) {
      this.beaconLeader = { id: beacon.leaderId, term: beacon.term, heardMs: this.nowMs };
    }
  }

  private tickDiscovery(): void {
    const recentMs = 3 * this.config.beaconIntervalMs;
    const cluster = this.chooseCluster(recentMs);
    if (cluster !== null) {
      this.role = "joining";
      this.joinTarget = { clusterId: cluster.clusterId, nodeId: cluster.leaderId ?? cluster.nodeId };
      if (this.nowMs - this.lastJoinSentMs >= this.config.joinRetryMs)
        this.sendJoinRequest(this.joinTarget.nodeId);
      return;
    }
    if (this.nowMs - this.freshSinceMs < this.config.discoveryWindowMs) return;
    const fresh = [...this.freshHeard]
      .filter(([, heardMs]) => this.nowMs - heardMs <= recentMs)
      .map(([id]) => id);
    if (fresh.length + 1 < this.config.expect) return;
    // Only the highest-ID fresh node bootstraps; the others join the cluster it creates.
    if (fresh.every((id) => id < this.id)) this.bootstrap();
  }

  /**
   * The existing cluster of our name to join: among those heard recently the lowest id, else the
   * one heard last. Once a cluster was heard this node never bootstraps: one exists already.
   */
  private chooseCluster(recentMs: number): HeardCluster | null {
    let chosen: HeardCluster | null = null;
    for (const heard of this.clustersHeard.values()) {
      const recent = this.nowMs - heard.heardMs <= recentMs;
      const chosenRecent = chosen !== null && this.nowMs - chosen.heardMs <= recentMs;
      if (chosen === null || (recent && !chosenRecent)) chosen = heard;
      else if (
        recent === chosenRecent &&
        (recent ? heard.clusterId < chosen.clusterId : heard.heardMs > chosen.heardMs)
      ) {
        chosen = heard;
      }
    }
    return chosen;
  }

  private bootstrap(): void {
    const clusterId = randomUuid(this.random);
    this.clusterId = clusterId;
    this.hard = { term: 1, votedFor: this.id };
    const self: Member = {
      id: this.id,
      incarnation: this.incarnation,
      address: this.address,
      httpUrl: this.httpUrl,
      voter: true,
    };
    this.persistNext.clusterId = clusterId;
    this.persistHardState();
    this.emit({ type: "bootstrapped", clusterId });
    this.becomeLeader([{ kind: "config", config: { members: [self] } }]);
  }

  private sendJoinRequest(to: NodeId): void {
    this.lastJoinSentMs = this.nowMs;
    this.send(to, {
      type: "join-request",
      incarnation: this.incarnation,
      address: this.address,
      httpUrl: this.httpUrl,
    });
  }

  // ---------------------------------------------------------------- messages

  private onMessage(message: Message): void {
    if (message.to !== this.id) return this.drop("not-addressed", message);
    if (!this.accepts(message)) return;
    if (message.type === "join-request") return this.onJoinRequest(message);
    if (message.type === "join-reply") return this.onJoinReply(message);
    // Requests and owners' proposals travel outside the term logic: they are about clients, not votes.
    if (
      message.type === "forward" ||
      message.type === "forward-result" ||
      message.type === "owner-proposal" ||
      message.type === "owner-proposal-refused"
    ) {
      return this.roles.onMessage(message, message.from);
    }
    if (message.term > this.hard.term) {
      const keepsTerm =
        (message.type === "vote-request" && (message.preVote || this.inLease(message))) ||
        (message.type === "vote-reply" && message.preVote && message.granted);
      if (!keepsTerm) {
        const fromLeader = message.type === "append" || message.type === "snapshot-chunk";
        this.becomeFollower(message.term, fromLeader ? message.from : null, "saw a higher term");
      }
    } else if (message.term < this.hard.term) {
      return this.onStaleMessage(message);
    }
    this.dispatch(message);
  }

  /** Cluster identity and membership at the boundary: foreign clusters and strangers are dropped. */
  private accepts(message: Message): boolean {
    const expected = this.clusterId ?? this.joinTarget?.clusterId ?? null;
    if (message.clusterId === null || message.clusterId !== expected) {
      this.drop("foreign-cluster", message);
      return false;
    }
    const fromLeader = message.type === "append" || message.type === "snapshot-chunk";
    const open = fromLeader || message.type === "join-request" || message.type === "join-reply";
    // A fresh node takes appends only once the leader accepted its join: a node whose data was
    // wiped must never pose as the old member of the same id.
    if (this.clusterId === null && !((fromLeader && this.joinAccepted) || message.type === "join-reply")) {
      this.drop("non-member", message);
      return false;
    }
    if (!open && this.member(message.from) === undefined) {
      this.drop("non-member", message);
      return false;
    }
    return true;
  }

  /** Followers that heard from a live leader ignore candidates that were not handed leadership. */
  private inLease(message: Body<"vote-request">): boolean {
    if (message.transfer) return false;
    if (this.role === "leader") return true;
    return (
      this.leaderId !== null &&
      this.leaderId !== message.from &&
      this.nowMs - this.lastLeaderContactMs < this.config.electionTimeoutMs
    );
  }

  private onStaleMessage(message: Message): void {
    // Tell a deposed leader or a stale candidate about the newer term, so it steps down.
    if (message.type === "append") {
      this.send(message.from, this.appendReply(false, 0, message.prevIndex, this.log.lastIndex(), message));
    } else if (message.type === "vote-request") {
      this.send(message.from, { type: "vote-reply", granted: false, preVote: message.preVote });
    } else {
      this.drop("stale-term", message);
    }
  }

  private dispatch(message: Message): void {
    switch (message.type) {
      case "append":
        return this.onAppend(message);
      case "append-reply":
        return this.onAppendReply(message);
      case "snapshot-chunk":
        return this.onSnapshotChunk(message);
      case "snapshot-reply":
        return this.onSnapshotReply(message);
      case "vote-request":
        return this.onVoteRequest(message);
      case "vote-reply":
        return this.onVoteReply(message);
      case "timeout-now":
        return this.onTimeoutNow(message);
      case "join-request":
      case "join-reply":
      case "forward":
      case "forward-result":
      case "owner-proposal":
      case "owner-proposal-refused":
        return this.drop("unexpected", message);
      default:
        return unreachable(message, "unknown message type");
    }
  }

  // ---------------------------------------------------------------- roles

  private becomeFollower(term: Term, leaderId: NodeId | null, reason: string): void {
    if (term > this.hard.term) {
      this.hard = { term, votedFor: null };
      this.persistHardState();
    }
    if (this.role === "leader") {
      this.emit({ type: "stepped-down", term: this.hard.term, reason });
      this.role = "follower";
      this.setLeader(leaderId);
      this.failReads();
      this.roles.onLeadershipLost();
    }
    if (this.clusterId !== null) this.role = "follower";
    this.setLeader(leaderId);
    this.votes.clear();
    this.progress.clear();
    this.transfer = null;
    this.resetElectionTimer();
  }

  private setLeader(leaderId: NodeId | null): void {
    if (leaderId === this.leaderId) return;
    this.leaderId = leaderId;
    this.emit({ type: "leader-changed", term: this.hard.term, leaderId });
  }

  /** Pre-vote first (Raft thesis §9.6), so a node back from a partition does not depose a healthy leader. */
  private campaign(kind: "pre" | "real", transfer: boolean): void {
    this.votes.clear();
    this.votes.set(this.id, true);
    let term = this.hard.term + 1;
    if (kind === "pre") {
      this.role = "pre-candidate";
    } else {
      this.hard = { term, votedFor: this.id };
      this.persistHardState();
      this.role = "candidate";
      this.emit({ type: "election-started", term });
      term = this.hard.term;
    }
    this.setLeader(null);
    this.resetElectionTimer();
    const request = {
      type: "vote-request" as const,
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      preVote: kind === "pre",
      transfer,
    };
    for (const voter of this.voters()) if (voter !== this.id) this.send(voter, request, term);
    this.checkVotes();
  }

  private checkVotes(): void {
    const voters = this.voters();
    if (hasMajority(voters, (id) => this.votes.get(id) === true)) {
      if (this.role === "pre-candidate") this.campaign("real", false);
      else if (this.role === "candidate") this.becomeLeader([{ kind: "noop" }]);
    } else if (hasMajority(voters, (id) => this.votes.get(id) === false)) {
      this.role = "follower";
    }
  }

  private onVoteRequest(message: Body<"vote-request">): void {
    const reply = (granted: boolean, term: Term) =>
      this.send(message.from, { type: "vote-reply", granted, preVote: message.preVote }, term);
    if (!this.isVoter(message.from) || this.inLease(message)) return reply(false, this.hard.term);
    // Raft §5.4.1: vote only for a candidate whose log is at least as up to date as ours.
    const upToDate =
      this.mutant === "stale-vote" || this.log.isAtMostAsUpToDateAs(message.lastIndex, message.lastTerm);
    if (message.preVote) {
      const granted = message.term > this.hard.term && upToDate;
      return reply(granted, granted ? message.term : this.hard.term);
    }
    const free =
      this.hard.votedFor === null || this.hard.votedFor === message.from || this.mutant === "double-vote";
    if (free && upToDate && this.role !== "leader") {
      this.hard = { term: this.hard.term, votedFor: message.from };
      this.persistHardState();
      this.resetElectionTimer();
      return reply(true, this.hard.term);
    }
    reply(false, this.hard.term);
  }

  private onVoteReply(message: Body<"vote-reply">): void {
    const campaigning = message.preVote ? this.role === "pre-candidate" : this.role === "candidate";
    if (!campaigning) return;
    const expectedTerm = message.preVote ? this.hard.term + 1 : this.hard.term;
    if (message.granted && message.term !== expectedTerm) return;
    this.votes.set(message.from, message.granted);
    this.checkVotes();
  }

  private onTimeoutNow(message: Body<"timeout-now">): void {
    if (message.from !== this.leaderId || this.eligibility() !== null) return;
    this.campaign("real", true);
  }

  private becomeLeader(firstEntries: EntryData[]): void {
    this.role = "leader";
    this.setLeader(this.id);
    this.leaderSinceMs = this.nowMs;
    this.lastQuorumCheckMs = this.nowMs;
    this.lastLeaderContactMs = this.nowMs;
    this.transfer = null;
    this.progress.clear();
    this.memberLastHeardMs.clear();
    this.emit({ type: "became-leader", term: this.hard.term });
    this.termStartIndex = this.log.lastIndex() + 1;
    this.appendAsLeader(firstEntries);
    this.syncProgress();
    this.broadcastAppends(true);
  }

  /** Keeps one progress record per member other than this node, after any configuration change. */
  private syncProgress(): void {
    const members = this.latestConfig().members;
    for (const member of members) {
      if (member.id === this.id || this.progress.has(member.id)) continue;
      this.progress.set(member.id, newProgress(member.id, this.log.lastIndex(), this.nowMs));
      this.memberLastHeardMs.set(member.id, this.nowMs);
    }
    for (const id of this.progress.keys()) {
      if (!members.some((member) => member.id === id)) {
        this.progress.delete(id);
        this.memberLastHeardMs.delete(id);
      }
    }
  }

  // ---------------------------------------------------------------- leader: proposals and appends

  private onRequest(requestId: string, request: ClientRequest): void {
    if (this.clusterId === null || this.member(this.id) === undefined) {
      const detail = "this node is not a member of a cluster yet";
      const result: ClientResult = { ok: false, reason: "unavailable", detail, leaderId: null };
      this.out.push({ type: "response", requestId, result });
      return;
    }
    this.roles.onRequest(requestId, request);
  }

  /** Appends for the roles, unless this node cannot take writes now; returns the first index. */
  private appendForRoles(data: EntryData[]): LogIndex | null {
    if (this.role !== "leader" || this.transfer !== null) return null;
    if (this.log.lastIndex() - this.commitIndex + data.length > this.config.pendingProposalsMax) return null;
    // Not committed here, even when this leader alone is a majority: the roles learn the index from
    // the return value and wait for it, so the commit (and its applied effect) comes at step end.
    const first = this.appendAsLeader(data, false);
    this.commitDue = true;
    if (this.batching) this.appendsDue = true;
    else this.broadcastAppends(false);
    return first;
  }

  private proposeRemoval(id: NodeId): LogIndex | null {
    if (this.role !== "leader" || !this.canChangeConfig() || this.transfer !== null) return null;
    const index = this.log.lastIndex() + 1;
    this.proposeConfig({ members: this.latestConfig().members.filter((member) => member.id !== id) });
    return index;
  }

  /**
   * Read index (Raft thesis §6.4): note the commit index, confirm with a majority that this node
   * still leads, then the caller may serve reads that reflect everything committed before.
   */
  private readIndex(ready: (index: LogIndex | null) => void): void {
    if (this.role !== "leader") return ready(null);
    this.readSeq += 1;
    this.pendingReads.push({
      seq: this.readSeq,
      index: Math.max(this.commitIndex, this.termStartIndex),
      ready,
    });
    this.readRoundDue = true;
    this.confirmReads();
  }

  /** Serves the reads that a majority has confirmed and whose index this leader has applied. */
  private confirmReads(): void {
    if (this.pendingReads.length === 0) return;
    const seqOf = (id: NodeId) =>
      id === this.id ? this.readSeq : (this.progress.get(id)?.readSeqAcked ?? 0);
    const confirmed = majorityMatch(this.voters(), seqOf);
    while (this.pendingReads.length > 0) {
      const read = this.pendingReads[0]!;
      if (read.seq > confirmed || read.index > this.state.appliedIndex) break;
      this.pendingReads.shift();
      read.ready(read.index);
    }
  }

  private failReads(): void {
    const reads = this.pendingReads;
    this.pendingReads = [];
    for (const read of reads) read.ready(null);
  }

  /** Appends entries stamped with this leader's clock (never below the last stamp); returns the first index. */
  private appendAsLeader(data: EntryData[], commit = true): LogIndex {
    const timestampMs = Math.max(this.log.lastTimestampMs(), this.nowMs);
    const first = this.log.lastIndex() + 1;
    const entries = data.map((item, offset) => ({
      index: first + offset,
      term: this.hard.term,
      timestampMs,
      data: item,
    }));
    this.log.append(entries);
    for (const entry of entries) this.noteConfigEntry(entry);
    this.persistAppend(entries);
    if (commit) this.maybeCommit();
    return first;
  }

  private broadcastAppends(heartbeat: boolean): void {
    for (const progress of this.progress.values()) this.sendAppend(progress, heartbeat);
  }

  private sendAppend(progress: Progress, heartbeat: boolean): void {
    // A chunk goes when the last one was answered; beats only resend one that went unanswered.
    if (progress.mode === "snapshot") return this.sendSnapshotChunk(progress, false);
    if (progress.nextIndex <= this.log.compactedIndex) return this.startSnapshot(progress);
    if (progress.mode === "probe") {
      if (!heartbeat && this.nowMs - progress.probeSentMs < this.config.heartbeatIntervalMs) return;
      progress.probeSentMs = this.nowMs;
      this.sendEntries(progress.id, progress.nextIndex);
      return;
    }
    let sent = false;
    while (
      progress.nextIndex <= this.log.lastIndex() &&
      progress.inflight.length < this.config.inflightAppendsMax
    ) {
      const last = this.sendEntries(progress.id, progress.nextIndex);
      progress.inflight.push(last);
      progress.nextIndex = last + 1;
      sent = true;
    }
    if (!sent && heartbeat) this.sendHeartbeat(progress);
  }

  /** An empty append at what the follower surely has, so it never fails for entries still in flight. */
  private sendHeartbeat(progress: Progress): void {
    this.sendEntriesFrom(progress.id, Math.max(progress.matchIndex, this.log.compactedIndex), []);
  }

  /** Sends entries from `from` on (at most a batch); returns the last index sent. */
  private sendEntries(to: NodeId, from: LogIndex): LogIndex {
    const entries = this.log.slice(from, this.config.appendEntriesMax);
    this.sendEntriesFrom(to, from - 1, entries);
    return from - 1 + entries.length;
  }

  private sendEntriesFrom(to: NodeId, prevIndex: LogIndex, entries: LogEntry[]): void {
    const prevTerm = this.log.termAt(prevIndex);
    assert(prevTerm !== undefined, "appends start inside the log");
    const progress = this.progress.get(to);
    if (progress !== undefined) {
      const told = Math.min(this.commitIndex, prevIndex + entries.length);
      progress.commitSent = Math.max(progress.commitSent, told);
    }
    this.send(to, {
      type: "append",
      prevIndex,
      prevTerm,
      entries,
      commitIndex: this.commitIndex,
      leaderTimeMs: this.nowMs,
      clockDeviationMs: this.deviations.get(to) ?? null,
      readSeq: this.readSeq,
    });
  }

  private onAppendReply(message: Body<"append-reply">): void {
    const progress = this.role === "leader" ? this.progress.get(message.from) : undefined;
    if (progress === undefined) return;
    this.heardFrom(progress);
    const roundTripMs = this.nowMs - message.echoTimeMs;
    if (roundTripMs >= 0)
      progress.clockOffsetMs = message.followerTimeMs - (message.echoTimeMs + roundTripMs / 2);
    // Any answer in this term, even a refusal, shows the follower still recognizes this leader.
    if (message.readSeq > progress.readSeqAcked) {
      progress.readSeqAcked = message.readSeq;
      this.confirmReads();
    }
    if (!message.success) return this.onAppendRejected(progress, message);
    if (message.matchIndex > progress.matchIndex) {
      progress.matchIndex = message.matchIndex;
      progress.lastProgressMs = this.nowMs;
    }
    progress.nextIndex = Math.max(progress.nextIndex, progress.matchIndex + 1);
    acknowledge(progress, progress.matchIndex);
    if (progress.mode === "probe") {
      progress.mode = "replicate";
      progress.inflight = [];
      progress.nextIndex = progress.matchIndex + 1;
    }
    this.updateCaughtUp(progress);
    this.maybeCommit();
    if (this.role !== "leader") return;
    this.sendAppend(progress, false);
    this.maybeSendTimeoutNow(progress);
  }

  private onAppendRejected(progress: Progress, message: Body<"append-reply">): void {
    if (message.rejectedIndex < progress.matchIndex) return; // stale: about an older position
    progress.mode = "probe";
    progress.inflight = [];
    progress.nextIndex = Math.max(
      progress.matchIndex + 1,
      Math.min(message.rejectedIndex, message.hintIndex + 1),
    );
    progress.probeSentMs = -Infinity;
    this.sendAppend(progress, false);
  }

  private heardFrom(progress: Progress): void {
    progress.lastAckMs = this.nowMs;
    this.memberLastHeardMs.set(progress.id, this.nowMs);
  }

  private updateCaughtUp(progress: Progress): void {
    const caughtUp = this.log.lastIndex() - progress.matchIndex <= this.config.appendEntriesMax;
    if (!caughtUp) progress.caughtUpSinceMs = null;
    else progress.caughtUpSinceMs ??= this.nowMs;
  }

  /** Raft §5.3/§5.4.2: commit the highest index a majority holds, if it is from this leader's term. */
  private maybeCommit(): void {
    if (this.role !== "leader") return;
    const lastIndex = this.log.lastIndex();
    const matchOf = (id: NodeId) => (id === this.id ? lastIndex : (this.progress.get(id)?.matchIndex ?? 0));
    let index = majorityMatch(this.voters(), matchOf);
    if (this.mutant === "no-quorum-commit") index = lastIndex;
    if (index <= this.commitIndex || this.log.termAt(index) !== this.hard.term) return;
    this.commitIndex = index;
    this.applyCommitted();
  }

  /**
   * Tells each follower of a commit index it can use and has not been told yet, at once (once per
   * step, unless an append this step told it): whoever answers a client learns it quickly. A follower
   * whose acknowledgement arrives after the entry committed learns it here too, not a heartbeat later.
   */
  private notifyCommit(): void {
    if (this.role !== "leader") return;
    for (const progress of this.progress.values()) {
      if (progress.mode !== "replicate") continue;
      if (Math.min(this.commitIndex, progress.matchIndex) > progress.commitSent) this.sendHeartbeat(progress);
    }
  }

  // ---------------------------------------------------------------- follower: appends

  private onAppend(message: Body<"append">): void {
    assert(this.role !== "leader", "one leader per term");
    this.acceptLeader(message.from, message.clusterId!);
    if (message.clockDeviationMs !== null) this.noteDeviation(message.clockDeviationMs);
    const reply = (success: boolean, matchIndex: LogIndex, hintIndex: LogIndex) => {
      this.lastAppendAnswer = success
        ? { term: this.hard.term, matchIndex, readSeq: message.readSeq, atMs: this.nowMs }
        : null;
      this.send(message.from, this.appendReply(success, matchIndex, message.prevIndex, hintIndex, message));
    };
    let { prevIndex, prevTerm } = message;
    let entries = message.entries;
    if (prevIndex < this.log.compactedIndex) {
      // Entries up to the compacted index are committed here, hence identical to the leader's.
      const end = prevIndex + entries.length;
      if (end <= this.log.compactedIndex) return reply(true, end, 0);
      entries = entries.filter((entry) => entry.index > this.log.compactedIndex);
      prevIndex = this.log.compactedIndex;
      prevTerm = this.log.compactedTerm;
    }
    if (prevIndex > this.log.lastIndex()) return reply(false, 0, this.log.lastIndex());
    const termHere = this.log.termAt(prevIndex);
    if (termHere !== prevTerm) return reply(false, 0, this.conflictHint(prevIndex, termHere!));
    this.appendFromLeader(entries);
    const matchIndex = prevIndex + entries.length;
    const commit = Math.min(message.commitIndex, matchIndex);
    if (commit > this.commitIndex) {
      this.commitIndex = commit;
      this.applyCommitted();
    }
    if (message.entries.length === 0 && this.mayLeaveUnanswered(matchIndex, message.readSeq)) return;
    reply(true, matchIndex, 0);
  }

  /**
   * An empty append that succeeds at or below the match index this follower last reported to this
   * leader (in this term the leader only appends, so that report stays true), with no newer read
   * round, is a commit notice or a heartbeat whose answer would tell the leader nothing new. It is
   * left unanswered while the last answer is younger than half a heartbeat interval. The leader
   * still hears from the follower at least every one and a half intervals and a tick (its
   * caught-up check allows three intervals; check-quorum an election timeout, and the window
   * shrinks so that this stays within it whatever the configuration), and a read round is always
   * echoed at once. A leader probing with an empty append that goes unanswered probes again a
   * heartbeat interval later.
   */
  private mayLeaveUnanswered(matchIndex: LogIndex, readSeq: number): boolean {
    const last = this.lastAppendAnswer;
    const { heartbeatIntervalMs, electionTimeoutMs } = this.config;
    const windowMs = Math.min(heartbeatIntervalMs / 2, electionTimeoutMs - 2 * heartbeatIntervalMs);
    return (
      last !== null &&
      last.term === this.hard.term &&
      matchIndex <= last.matchIndex &&
      readSeq <= last.readSeq &&
      this.nowMs - last.atMs < windowMs
    );
  }

  private acceptLeader(leaderId: NodeId, clusterId: string): void {
    if (this.clusterId === null) {
      // A joining node becomes a member when the cluster's leader first replicates to it.
      this.clusterId = clusterId;
      this.persistNext.clusterId = clusterId;
      this.persistDirty = true;
      this.joinTarget = null;
      this.joinRefusal = null;
      this.emit({ type: "joined", clusterId });
    }
    if (this.role !== "follower") this.role = "follower";
    this.votes.clear();
    this.setLeader(leaderId);
    this.lastLeaderContactMs = this.nowMs;
    this.resetElectionTimer();
  }

  /** Where the leader should retry after a mismatch at `index` (term `term` here): before that term. */
  private conflictHint(index: LogIndex, term: Term): LogIndex {
    let hint = index - 1;
    while (hint > this.commitIndex && hint > this.log.compactedIndex && this.log.termAt(hint) === term)
      hint--;
    return hint;
  }

  private appendFromLeader(entries: LogEntry[]): void {
    let start = 0;
    while (start < entries.length) {
      const entry = entries[start]!;
      const termHere = this.log.termAt(entry.index);
      if (termHere === undefined) break;
      if (termHere !== entry.term) {
        // Raft §5.3: a conflicting suffix is deleted; committed entries never conflict.
        assert(entry.index > this.commitIndex, "a committed entry is never overwritten");
        this.log.truncateFrom(entry.index);
        this.persistTruncate(entry.index);
        this.configs = this.configs.filter((item) => item.index < entry.index);
        break;
      }
      start++;
    }
    const fresh = entries.slice(start);
    if (fresh.length === 0) return;
    this.log.append(fresh);
    for (const entry of fresh) this.noteConfigEntry(entry);
    this.persistAppend(fresh);
  }

  private appendReply(
    success: boolean,
    matchIndex: LogIndex,
    rejectedIndex: LogIndex,
    hintIndex: LogIndex,
    append: Body<"append">,
  ): MessageBody {
    return {
      type: "append-reply",
      success,
      matchIndex,
      rejectedIndex,
      hintIndex,
      echoTimeMs: append.leaderTimeMs,
      followerTimeMs: this.nowMs,
      readSeq: append.readSeq,
    };
  }

  // ---------------------------------------------------------------- applying and snapshots

  private applyCommitted(): void {
    while (this.state.appliedIndex < this.commitIndex) {
      const entry = this.log.entry(this.state.appliedIndex + 1);
      assert(entry !== undefined, "committed entries are in the log until applied");
      const result = this.state.apply(entry);
      this.out.push({ type: "applied", entry, result });
      this.roles.onApplied(entry, result);
      if (entry.data.kind === "config") this.onConfigCommitted(entry.index, entry.data.config);
    }
    if (this.role === "leader") this.confirmReads();
    this.maybeSnapshot();
  }

  private onConfigCommitted(index: LogIndex, config: ClusterConfig): void {
    if (this.role !== "leader") return;
    const previous = this.configAt(index - 1);
    for (const member of config.members) {
      const before = previous.members.find((item) => item.id === member.id);
      if (before === undefined || before.voter !== member.voter)
        this.emit({ type: "member-added", id: member.id, voter: member.voter });
    }
    for (const member of previous.members) {
      if (config.members.some((item) => item.id === member.id)) continue;
      this.emit({ type: "member-removed", id: member.id });
    }
  }

  private maybeSnapshot(): void {
    const applied = this.state.appliedIndex;
    if (applied - (this.snapshot?.index ?? 0) < this.snapshotSpacing) return;
    const entry = this.log.entry(applied);
    assert(entry !== undefined, "the applied entry is in the log");
    const snapshot = takenSnapshot(
      { index: applied, term: entry.term, timestampMs: entry.timestampMs, config: this.configAt(applied) },
      this.state.serializeParts(),
    );
    this.snapshot = snapshot;
    this.snapshotSpacing = this.spacingAfterSnapshot();
    const compactThrough = Math.min(applied - this.config.snapshotTrailingEntries, this.heldBackThrough());
    // Written lazily unless it replaces an installed snapshot not yet persisted, which must stay durable first.
    const replacesInstalled = this.persistNext.snapshot !== undefined && !this.persistNext.snapshotTaken;
    if (!replacesInstalled) this.persistNext.snapshotTaken = true;
    this.persistNext.snapshot = snapshot;
    if (compactThrough > this.log.compactedIndex) {
      this.log.compactThrough(compactThrough);
      this.persistNext.compactThrough = compactThrough;
      this.configs = this.trimConfigs(compactThrough);
    }
    this.persistDirty = true;
    this.emit({ type: "snapshot-taken", index: applied });
  }

  /**
   * Entries to apply before the next snapshot: as many as the state has records, within the
   * configured bounds. A snapshot's cost grows with the state, so spacing them by it keeps the cost
   * per entry bounded (and the stall of taking one rare) while the log stays no larger than the state.
   */
  private spacingAfterSnapshot(): number {
    const { snapshotEntriesThreshold: least, snapshotEntriesMax: most } = this.config;
    return Math.min(most, Math.max(least, this.state.recordCount()));
  }

  /**
   * A follower receiving a snapshot needs the entries after it: compaction stops short of them,
   * while that follower keeps answering.
   */
  private heldBackThrough(): LogIndex {
    let through = Infinity;
    const since = this.nowMs - this.config.electionTimeoutMs;
    for (const progress of this.progress.values()) {
      if (progress.snapshot !== null && progress.lastAckMs >= since)
        through = Math.min(through, progress.snapshot.snapshot.index);
    }
    return through;
  }

  /** Keeps the configurations still needed once entries up to `through` are gone. */
  private trimConfigs(through: LogIndex): { index: LogIndex; config: ClusterConfig }[] {
    const base = { index: through, config: this.configAt(through) };
    return [base, ...this.configs.filter((item) => item.index > through)];
  }

  private startSnapshot(progress: Progress): void {
    assert(this.snapshot !== null, "a compacted log has a snapshot");
    progress.mode = "snapshot";
    progress.inflight = [];
    progress.snapshot = { snapshot: this.snapshot, offset: 0 };
    this.sendSnapshotChunk(progress, true);
  }

  /** Sends the next chunk of the snapshot this follower is receiving (the same one to the end). */
  /**
   * Sends the chunk at the follower's offset: at once when `force` (the previous chunk was answered),
   * else only when the one in flight went unanswered for half an election timeout. One chunk is in
   * flight at a time: resending on every beat would, once a chunk took longer than a beat to
   * process, start a second stream of chunks whose answers start more, sending the snapshot many
   * times over to the follower that is slowest to take it.
   */
  private sendSnapshotChunk(progress: Progress, force: boolean): void {
    if (progress.snapshot === null) return this.startSnapshot(progress);
    const resendMs = Math.max(this.config.heartbeatIntervalMs, this.config.electionTimeoutMs / 2);
    if (!force && this.nowMs - progress.probeSentMs < resendMs) return;
    progress.probeSentMs = this.nowMs;
    const { snapshot, offset } = progress.snapshot;
    this.send(progress.id, {
      type: "snapshot-chunk",
      snapshotIndex: snapshot.index,
      snapshotTerm: snapshot.term,
      snapshotTimestampMs: snapshot.timestampMs,
      config: snapshot.config,
      offset,
      totalChars: snapshot.data.length,
      data: snapshot.data.slice(offset, offset + this.config.snapshotChunkChars),
    });
  }

  private onSnapshotReply(message: Body<"snapshot-reply">): void {
    const progress = this.role === "leader" ? this.progress.get(message.from) : undefined;
    if (
      progress === undefined ||
      progress.mode !== "snapshot" ||
      progress.snapshot?.snapshot.index !== message.snapshotIndex
    )
      return;
    this.heardFrom(progress);
    if (message.done) {
      progress.mode = "probe";
      progress.snapshot = null;
      progress.matchIndex = Math.max(progress.matchIndex, message.snapshotIndex);
      progress.nextIndex = progress.matchIndex + 1;
      progress.lastProgressMs = this.nowMs;
      progress.probeSentMs = -Infinity;
      this.maybeCommit();
      if (this.role === "leader") this.sendAppend(progress, false);
      return;
    }
    // An answer asking again for the chunk in flight is a duplicate (of a resent chunk): the chunk
    // is on its way, and its own answer moves on.
    if (message.nextOffset === progress.snapshot.offset) return;
    progress.snapshot.offset = message.nextOffset;
    this.sendSnapshotChunk(progress, true);
  }

  private onSnapshotChunk(message: Body<"snapshot-chunk">): void {
    this.acceptLeader(message.from, message.clusterId!);
    const reply = (nextOffset: number, done: boolean) =>
      this.send(message.from, {
        type: "snapshot-reply",
        snapshotIndex: message.snapshotIndex,
        nextOffset,
        done,
      });
    if (message.snapshotIndex <= this.commitIndex) return reply(message.totalChars, true);
    let receipt = this.snapshotReceipt;
    if (
      receipt === null ||
      receipt.index !== message.snapshotIndex ||
      receipt.term !== message.snapshotTerm
    ) {
      if (message.offset !== 0) return reply(0, false);
      receipt = {
        index: message.snapshotIndex,
        term: message.snapshotTerm,
        timestampMs: message.snapshotTimestampMs,
        config: message.config,
        total: message.totalChars,
        chunks: [],
        received: 0,
      };
      this.snapshotReceipt = receipt;
    }
    if (message.offset !== receipt.received) return reply(receipt.received, false);
    receipt.chunks.push(message.data);
    receipt.received += message.data.length;
    if (receipt.received < receipt.total) return reply(receipt.received, false);
    this.installSnapshot(receipt);
    reply(receipt.total, true);
  }

  private installSnapshot(receipt: SnapshotReceipt): void {
    this.snapshotReceipt = null;
    const snapshot: Snapshot = {
      index: receipt.index,
      term: receipt.term,
      timestampMs: receipt.timestampMs,
      config: receipt.config,
      data: receipt.chunks.join(""),
    };
    this.state = ClusterState.restore(snapshot.data, this.stateOptions);
    assert(this.state.appliedIndex === snapshot.index, "a snapshot holds the state after its index");
    this.snapshot = snapshot;
    this.snapshotSpacing = this.spacingAfterSnapshot();
    this.persistNext.snapshot = snapshot;
    // The follower acknowledges it: written before any effect of this batch leaves.
    delete this.persistNext.snapshotTaken;
    this.persistDirty = true;
    const keepsSuffix = this.log.termAt(snapshot.index) === snapshot.term;
    if (keepsSuffix) {
      this.log.compactThrough(snapshot.index);
      this.configs = this.trimConfigs(snapshot.index);
    } else {
      this.log.resetTo(snapshot.index, snapshot.term, snapshot.timestampMs);
      this.persistTruncate(snapshot.index + 1);
      this.configs = [{ index: snapshot.index, config: snapshot.config }];
    }
    this.persistNext.compactThrough = snapshot.index;
    this.commitIndex = Math.max(this.commitIndex, snapshot.index);
    this.emit({ type: "snapshot-installed", index: snapshot.index });
    this.applyCommitted();
  }

  // ---------------------------------------------------------------- leader: time-driven duties

  private tickLeader(): void {
    this.lastLeaderContactMs = this.nowMs;
    if (this.nowMs - this.lastHeartbeatMs >= this.config.heartbeatIntervalMs) {
      this.lastHeartbeatMs = this.nowMs;
      for (const progress of this.progress.values()) this.checkLink(progress);
      this.measureClocks();
      this.broadcastAppends(true);
    }
    if (this.nowMs - this.lastQuorumCheckMs >= this.config.electionTimeoutMs) {
      this.lastQuorumCheckMs = this.nowMs;
      if (!this.hasQuorumContact())
        return this.becomeFollower(this.hard.term, null, "lost contact with a majority");
    }
    if (this.transfer !== null && this.nowMs - this.transfer.startedMs > this.config.electionTimeoutMs) {
      this.transfer = null;
    }
    if (this.transfer === null && this.leaving) this.onLeave();
    if (this.transfer === null) this.maybeTransfer();
    if (this.transfer === null && this.canChangeConfig()) this.changeMembership();
  }

  /** Resets a follower whose pipeline stalled (messages lost), and notices a broken link. */
  private checkLink(progress: Progress): void {
    const quietMs = this.nowMs - progress.lastAckMs;
    if (quietMs > 3 * this.config.heartbeatIntervalMs) progress.caughtUpSinceMs = null;
    const stalled = this.nowMs - progress.lastProgressMs > 2 * this.config.heartbeatIntervalMs;
    if (progress.mode === "replicate" && progress.inflight.length > 0 && stalled) {
      progress.mode = "probe";
      progress.inflight = [];
      progress.nextIndex = progress.matchIndex + 1;
      progress.lastProgressMs = this.nowMs;
    }
  }

  /** Check-quorum: a leader that heard from no majority within an election timeout steps down. */
  private hasQuorumContact(): boolean {
    const since = this.nowMs - this.config.electionTimeoutMs;
    return hasMajority(
      this.voters(),
      (id) => id === this.id || (this.progress.get(id)?.lastAckMs ?? -Infinity) >= since,
    );
  }

  /**
   * Works out how far each voter's clock (this one's included) is from the median of the voters'
   * clocks, from the offsets measured on append round trips. Needs samples from a majority.
   */
  private measureClocks(): void {
    this.deviations.clear();
    const offsets = new Map<NodeId, number>([[this.id, 0]]);
    for (const voter of this.voters()) {
      const offset = this.progress.get(voter)?.clockOffsetMs;
      if (offset !== null && offset !== undefined) offsets.set(voter, offset);
    }
    if (offsets.size < majority(this.voters().length)) return;
    const middle = median([...offsets.values()])!;
    for (const [id, offset] of offsets) this.deviations.set(id, offset - middle);
    this.noteDeviation(this.deviations.get(this.id)!);
  }

  private withinSkew(id: NodeId): boolean {
    const deviation = this.deviations.get(id);
    return deviation === undefined || Math.abs(deviation) <= this.config.clockSkewMaxMs;
  }

  /**
   * The bully algorithm's promise, made safe: hand leadership to the highest-ID voter once it has
   * been connected and caught up for a stable period (or to any such voter if this one's clock is off).
   */
  private maybeTransfer(): void {
    if (this.commitIndex < this.termStartIndex) return;
    const selfEligible = this.withinSkew(this.id);
    // The target is the highest-ID eligible voter that is connected; hand over once it has been
    // caught up for the stable period (waiting for it rather than handing over twice).
    let target: Progress | null = null;
    for (const progress of this.progress.values()) {
      if (!this.isVoter(progress.id) || !this.withinSkew(progress.id) || progress.caughtUpSinceMs === null)
        continue;
      if (target === null || progress.id > target.id) target = progress;
    }
    if (target === null || (selfEligible && target.id < this.id)) return;
    if (this.nowMs - target.caughtUpSinceMs! < this.config.transferStableMs) return;
    this.transfer = { target: target.id, startedMs: this.nowMs };
    this.emit({ type: "transfer-started", to: target.id });
    this.maybeSendTimeoutNow(target);
    if (this.transfer !== null) this.sendAppend(target, true);
  }

  /** Stopping: a leader hands over at once to the best voter that is caught up, without the stable period. */
  private onLeave(): void {
    this.leaving = true;
    if (this.role === "leader" && this.transfer === null) this.transferTo(null);
  }

  /**
   * Hands leadership over now (an operator's request, or stopping): to `to`, or to the voter whose
   * log is furthest along (the highest ID among equals). Null once started, else why it cannot.
   */
  private transferTo(to: NodeId | null): string | null {
    if (this.role !== "leader") return "this node is not the leader";
    if (to === this.id) return "this node leads already";
    if (this.transfer !== null) return "a hand-over is already under way";
    let target: Progress | null = null;
    for (const progress of this.progress.values()) {
      if (to !== null && progress.id !== to) continue;
      if (!this.isVoter(progress.id) || !this.withinSkew(progress.id)) continue;
      if (this.nowMs - progress.lastAckMs > this.config.electionTimeoutMs) continue;
      const better =
        target === null ||
        progress.matchIndex > target.matchIndex ||
        (progress.matchIndex === target.matchIndex && progress.id > target.id);
      if (better) target = progress;
    }
    if (target === null) {
      return to === null ? "no other voter is live and eligible" : `node ${to} is not a live, eligible voter`;
    }
    this.transfer = { target: target.id, startedMs: this.nowMs };
    this.emit({ type: "transfer-started", to: target.id });
    this.maybeSendTimeoutNow(target);
    if (this.transfer !== null) this.sendAppend(target, true);
    return null;
  }

  private maybeSendTimeoutNow(progress: Progress): void {
    if (this.transfer?.target !== progress.id || progress.matchIndex !== this.log.lastIndex()) return;
    this.send(progress.id, { type: "timeout-now" });
  }

  /** At most one configuration change at a time: promote a caught-up learner, or remove a member. */
  private changeMembership(): void {
    const config = this.latestConfig();
    const withMembers = (members: Member[]) => this.proposeConfig({ members });
    for (const member of config.members) {
      if (member.id === this.id) continue;
      const heardMs = this.memberLastHeardMs.get(member.id) ?? this.nowMs;
      if (this.nowMs - heardMs <= this.config.deadMemberTimeoutMs) continue;
      const rest = config.members.filter((item) => item.id !== member.id);
      if (this.safeToRemove(member, rest)) return withMembers(rest);
    }
    for (const member of config.members) {
      const progress = this.progress.get(member.id);
      if (member.voter || progress === undefined) continue;
      const caughtUp =
        progress.matchIndex >= this.commitIndex &&
        this.nowMs - progress.lastAckMs < this.config.electionTimeoutMs;
      if (caughtUp)
        return withMembers(
          config.members.map((item) => (item.id === member.id ? { ...item, voter: true } : item)),
        );
    }
  }

  /**
   * Removing a dead member on our own must not cost availability: a learner may always go; a voter
   * only if at least three voters remain and a majority of them answered within an election
   * timeout. (Shrinking to two voters would leave the cluster stuck on the next failure, where
   * keeping the dead voter lets it recover when that voter returns; an operator can still remove it.)
   */
  private safeToRemove(member: Member, rest: Member[]): boolean {
    if (!member.voter) return true;
    const voters = rest.filter((item) => item.voter).map((item) => item.id);
    if (voters.length < 3) return false;
    const since = this.nowMs - this.config.electionTimeoutMs;
    return hasMajority(
      voters,
      (id) => id === this.id || (this.progress.get(id)?.lastAckMs ?? -Infinity) >= since,
    );
  }

  private proposeConfig(config: ClusterConfig): void {
    const sorted = { members: [...config.members].sort((a, b) => a.id - b.id) };
    this.appendAsLeader([{ kind: "config", config: sorted }]);
    this.syncProgress();
    this.broadcastAppends(false);
  }

  // ---------------------------------------------------------------- joining

  private onJoinRequest(message: Body<"join-request">): void {
    const reply = (outcome: JoinOutcome, detail: string) =>
      this.send(message.from, { type: "join-reply", outcome, leaderId: this.leaderId, detail });
    if (this.role !== "leader") return reply("not-leader", "ask the leader");
    const existing = this.member(message.from);
    if (existing !== undefined) {
      if (existing.incarnation === message.incarnation) return reply("member", "already a member");
      return reply(
        "id-taken",
        `node id ${message.from} belongs to another incarnation (${existing.incarnation}) of a member; ` +
          `an operator must remove that member before this node can join with the same id`,
      );
    }
    if (this.latestConfig().members.length >= this.config.membersMax) {
      return reply("full", `the cluster has its maximum of ${this.config.membersMax} members`);
    }
    if (!this.canChangeConfig()) return reply("busy", "a configuration change is in progress; retrying");
    const learner: Member = {
      id: message.from,
      incarnation: message.incarnation,
      address: message.address,
      httpUrl: message.httpUrl,
      voter: false,
    };
    this.proposeConfig({ members: [...this.latestConfig().members, learner] });
    reply("accepted", "added as a learner; it becomes a voter once caught up");
  }

  private onJoinReply(message: Body<"join-reply">): void {
    if (message.outcome === "accepted" || message.outcome === "member") {
      this.joinAccepted = true;
      this.joinRefusal = null;
      return;
    }
    if (message.outcome === "not-leader" && message.leaderId !== null && message.leaderId !== message.from) {
      if (this.joinTarget !== null) this.joinTarget = { ...this.joinTarget, nodeId: message.leaderId };
      this.lastJoinSentMs = -Infinity;
      return;
    }
    if (message.outcome === "id-taken" || message.outcome === "full") {
      if (this.joinRefusal !== message.detail)
        this.emit({ type: "join-refused", outcome: message.outcome, detail: message.detail });
      this.joinRefusal = message.detail;
    }
  }
}
