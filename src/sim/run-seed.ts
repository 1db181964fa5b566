// One simulation run: a seed picks the cluster size, the network's behaviour and a schedule of
// faults (crashes, crashes in mid-step, wipes, partitions of every shape, flapping and one-way
// links, clock skew, nodes added and retired) while clients keep proposing. Safety is checked
// throughout; once the faults stop, liveness is checked too.
import { defaultConfig } from "../core/config.js";
import type { Config } from "../core/config.js";
import type { Mutant, NodeEvent, NodeId } from "../core/cluster/types.js";
import { SeededRandom } from "../core/random.js";
import { Checker } from "./checker.js";
import { SimCluster, calmNetwork } from "./cluster.js";
import type { NetworkOptions } from "./cluster.js";
import { Workload } from "./workload.js";

export interface SeedOptions {
  seed: number;
  /** Cluster size at the start; picked from {3, 5} by the seed when absent. */
  nodes?: number;
  /** Events to process while faults happen. */
  steps: number;
  mutant?: Mutant | null;
}

export interface SeedResult {
  seed: number;
  nodes: number;
  steps: number;
  violations: string[];
  trace: string[];
  /** Simulated time from healing to an agreed leader, or null if none came. */
  electionAfterHealMs: number | null;
}

/** Timeouts as in production, smaller batches and snapshot thresholds so that every path runs. */
export function simConfig(nodes: number): Config {
  return {
    ...defaultConfig(),
    tickIntervalMs: 20,
    discoveryWindowMs: 2000,
    expect: nodes,
    joinRetryMs: 500,
    deadMemberTimeoutMs: 10_000,
    appendEntriesMax: 16,
    inflightAppendsMax: 4,
    snapshotEntriesThreshold: 128,
    snapshotEntriesMax: 512,
    snapshotTrailingEntries: 32,
    // Far fewer than an append carries: lagging followers are served from the storage all the time.
    logCacheEntries: 8,
    snapshotChunkChars: 2048,
  };
}

const livenessWindowMs = 60_000;
/** An `expect` no set of fresh nodes reaches: such a node only ever joins an existing cluster. */
const joinOnly = 1000;
const notable = new Set<NodeEvent["type"]>([
  "bootstrapped",
  "joined",
  "became-leader",
  "stepped-down",
  "cluster-conflict",
  "join-refused",
  "transfer-started",
  "member-added",
  "member-removed",
  "snapshot-installed",
]);

class Trace {
  readonly lines: string[] = [];
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 400) this.lines.splice(0, 100);
  }
}

export function runSeed(options: SeedOptions): SeedResult {
  const random = new SeededRandom(options.seed ^ 0x5eed);
  const nodeCount = options.nodes ?? (random.next() < 0.5 ? 3 : 5);
  const network: NetworkOptions = {
    delayMinMs: 1,
    delayMaxMs: 2 + random.int(60),
    lossRate: random.next() * 0.15,
    duplicateRate: random.next() * 0.05,
  };
  // Half the seeds use the default timeouts; the others make candidacies collide more often.
  const contested = random.next() < 0.5;
  const config: Config = contested
    ? { ...simConfig(nodeCount), electionRankStepMs: random.int(60), electionJitterMs: 300 }
    : simConfig(nodeCount);
  // Half the seeds sync in the background, as a node's SQLite storage does (see SimClusterOptions).
  const fsyncMaxMs = random.next() < 0.5 ? undefined : random.int(30);
  const cluster = new SimCluster({
    seed: options.seed,
    config,
    network,
    mutant: options.mutant ?? null,
    ...(fsyncMaxMs === undefined ? {} : { fsyncMaxMs }),
  });
  const trace = new Trace();
  const checker = new Checker(cluster);
  const workload = new Workload(cluster, new SeededRandom(options.seed ^ 0xc11e));
  cluster.observe({
    note: (line) => trace.push(line),
    event: (id, event) => {
      if (notable.has(event.type)) trace.push(`${cluster.nowMs}ms n${id} ${JSON.stringify(event)}`);
    },
  });
  cluster.observe(checker);
  cluster.observe(workload);
  trace.push(
    `seed=${options.seed} nodes=${nodeCount} network=${JSON.stringify(network)} rankStep=${config.electionRankStepMs} jitter=${config.electionJitterMs} mutant=${options.mutant ?? "none"} fsyncMaxMs=${fsyncMaxMs ?? "sync"}`,
  );

  for (let id = 1; id <= nodeCount; id++) cluster.addNode(id);
  workload.start(40);
  const nemesis = new Nemesis(cluster, random, workload);
  nemesis.start();
  const safe = (): boolean => checker.violations.length === 0;
  try {
    while (cluster.steps < options.steps && safe()) {
      if (!cluster.step()) break;
      checker.afterStep(cluster.steps % 1024 === 0);
    }
    nemesis.stop();
    const healedMs = cluster.nowMs;
    const electionAfterHealMs = safe() ? checkLiveness(cluster, checker, workload, healedMs) : null;
    return finish(options, nodeCount, cluster, checker, trace, electionAfterHealMs);
  } catch (error) {
    checker.violations.push(
      `${cluster.nowMs}ms crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    return finish(options, nodeCount, cluster, checker, trace, null);
  }
}

function finish(
  options: SeedOptions,
  nodes: number,
  cluster: SimCluster,
  checker: Checker,
  trace: Trace,
  electionAfterHealMs: number | null,
): SeedResult {
  return {
    seed: options.seed,
    nodes,
    steps: cluster.steps,
    violations: checker.violations,
    trace: trace.lines,
    electionAfterHealMs,
  };
}

/**
 * After healing: a leader is agreed within bounded time, it is the highest-ID live voter, every
 * proposal made after healing commits, and all nodes converge to the same state.
 */
function checkLiveness(
  cluster: SimCluster,
  checker: Checker,
  workload: Workload,
  healedMs: number,
): number | null {
  let electedMs: number | null = null;
  const step = () => {
    cluster.step();
    checker.afterStep(cluster.steps % 1024 === 0);
    if (electedMs === null && cluster.agreedLeader() !== null) electedMs = cluster.nowMs - healedMs;
  };
  const runUntil = (done: () => boolean, untilMs: number): boolean => {
    // Checking convergence is costly: look every 64 events.
    while (checker.violations.length === 0) {
      if (cluster.steps % 64 === 0 && done()) return true;
      if (cluster.nowMs > untilMs) return false;
      step();
    }
    return false;
  };
  const deadline = healedMs + livenessWindowMs;
  runUntil(() => cluster.nowMs >= healedMs + 15_000, deadline);
  workload.stop();
  const settled = runUntil(
    () => converged(cluster) && workload.unfinishedSince(healedMs).length === 0,
    deadline,
  );
  if (checker.violations.length > 0) return electedMs;
  if (!settled) {
    const statuses = cluster.running().map((node) => {
      const status = node.driver!.node.status();
      return `n${status.id}:${status.role}/${status.membership} term=${status.term} leader=${status.leaderId} applied=${status.appliedIndex} commit=${status.commitIndex} ${status.ineligibleReason ?? ""} ${status.joinRefusal ?? ""}`;
    });
    const unfinished = workload.unfinishedSince(healedMs).length;
    checker.violations.push(
      `${cluster.nowMs}ms liveness: no convergence ${livenessWindowMs} ms after healing (unfinished operations: ${unfinished}); ${statuses.join("; ")}`,
    );
    return electedMs;
  }
  checker.afterStep(true);
  checker.checkAcknowledged(workload.acknowledgedBids());
  return electedMs;
}

/** One leader that every running node follows, the highest-ID running node, all voters, all caught up. */
function converged(cluster: SimCluster): boolean {
  const leader = cluster.agreedLeader();
  if (leader === null) return false;
  const running = cluster.running();
  const highest = Math.max(...running.map((node) => node.id));
  if (leader !== highest) return false;
  const leaderStatus = cluster.node(leader).driver!.node.status();
  const ids = running.map((node) => node.id);
  return running.every((node) => {
    const committed = node.driver!.node.applied.config.members;
    const allVoters = ids.every((id) => committed.some((member) => member.id === id && member.voter));
    return allVoters && node.driver!.node.status().appliedIndex === leaderStatus.commitIndex;
  });
}

/** Picks and injects faults at random times while it runs; `stop` heals everything. */
class Nemesis {
  private active = true;
  private permanentDamage = false;
  private added = 0;

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: SeededRandom,
    private readonly workload: Workload,
  ) {}

  start(): void {
    const next = () => {
      if (!this.active) return;
      this.strike();
      this.cluster.at(this.cluster.nowMs + 300 + this.random.int(2500), next);
    };
    this.cluster.at(this.cluster.nowMs + 1500 + this.random.int(3000), next);
  }

  stop(): void {
    this.active = false;
    this.cluster.crashDuringNextStep(null);
    this.cluster.heal();
    this.cluster.network = calmNetwork;
    for (const node of this.cluster.nodes.values()) {
      if (node.skewMs !== 0) this.cluster.setSkew(node.id, 0);
      if (!node.running && !node.retired) this.cluster.restart(node.id);
    }
  }

  private pick<T>(items: T[]): T | undefined {
    return items.length === 0 ? undefined : items[this.random.int(items.length)];
  }

  private strike(): void {
    const ids = [...this.cluster.nodes.keys()];
    const running = this.cluster.running().map((node) => node.id);
    const leader = this.cluster.leaders().at(-1)?.id;
    const roll = this.random.int(100);
    if (roll < 14) return this.crashFor(this.pick(running));
    if (roll < 20) return this.crashMidStep(this.pick(running));
    if (roll < 30) return this.splitRandomly(ids);
    if (roll < 38) return leader === undefined ? undefined : this.cluster.isolate(leader);
    if (roll < 44) return this.oneWay(ids);
    if (roll < 50) return this.flap(ids);
    if (roll < 64) return this.cluster.heal();
    if (roll < 72) return this.skew(ids);
    if (roll < 80) return this.restartAll();
    if (roll < 84) return this.addNode(ids);
    if (roll < 87) return this.wipe(running, leader);
    if (roll < 89) return this.retire(running, leader);
    this.cluster.note("nemesis rests");
  }

  private crashFor(id: NodeId | undefined): void {
    if (id === undefined) return;
    this.cluster.crash(id);
    this.cluster.at(
      this.cluster.nowMs + 200 + this.random.int(5000),
      () => this.active && this.cluster.restart(id),
    );
  }

  private crashMidStep(id: NodeId | undefined): void {
    if (id === undefined) return;
    this.cluster.note(`arm mid-step crash n${id}`);
    this.cluster.crashDuringNextStep(id);
    this.cluster.at(
      this.cluster.nowMs + 500 + this.random.int(3000),
      () => this.active && this.cluster.restart(id),
    );
  }

  private splitRandomly(ids: NodeId[]): void {
    const left: NodeId[] = [];
    const right: NodeId[] = [];
    for (const id of ids) (this.random.next() < 0.5 ? left : right).push(id);
    if (left.length > 0 && right.length > 0) this.cluster.partition([left, right]);
  }

  private oneWay(ids: NodeId[]): void {
    const from = this.pick(ids);
    const to = this.pick(ids);
    if (from !== undefined && to !== undefined && from !== to) this.cluster.blockLink(from, to);
  }

  /** A link between two nodes that goes down and up every few hundred ms, for a few seconds. */
  private flap(ids: NodeId[]): void {
    const a = this.pick(ids);
    const b = this.pick(ids);
    if (a === undefined || b === undefined || a === b) return;
    const periodMs = 200 + this.random.int(800);
    const untilMs = this.cluster.nowMs + 3000 + this.random.int(7000);
    let down = false;
    const toggle = () => {
      if (!this.active || this.cluster.nowMs > untilMs) return;
      down = !down;
      if (down) {
        this.cluster.blockLink(a, b);
        this.cluster.blockLink(b, a);
      } else {
        this.cluster.unblockLink(a, b);
        this.cluster.unblockLink(b, a);
      }
      this.cluster.at(this.cluster.nowMs + periodMs, toggle);
    };
    toggle();
  }

  private skew(ids: NodeId[]): void {
    const id = this.pick(ids);
    if (id === undefined) return;
    const skewMs = this.random.next() < 0.3 ? 0 : Math.round((this.random.next() * 2 - 1) * 1500);
    this.cluster.setSkew(id, skewMs);
  }

  private restartAll(): void {
    for (const node of this.cluster.nodes.values()) if (!node.running) this.cluster.restart(node.id);
  }

  /** A node that an operator adds to the running cluster: it joins, and never bootstraps another. */
  private addNode(ids: NodeId[]): void {
    // Operators add nodes to a cluster that exists; a join-only node among the founders would block them.
    if (this.added >= 2 || this.cluster.leaders().length === 0) return;
    this.added += 1;
    this.cluster.addNode(Math.max(...ids) + 1, { expect: joinOnly });
  }

  /** Deletes a voter's data (at most one permanent fault per run, and only with three voters or more). */
  private wipe(running: NodeId[], leader: NodeId | undefined): void {
    const victim = this.permanentVictim(running, leader, 3);
    if (victim === undefined) return;
    this.cluster.wipe(victim);
    this.cluster.node(victim).overrides = { expect: joinOnly };
    // As an operator would: remove the old member, so the wiped node can join under its id.
    this.workload.operate({ kind: "remove-member", id: victim });
    this.cluster.at(
      this.cluster.nowMs + 500 + this.random.int(3000),
      () => this.active && this.cluster.restart(victim),
    );
  }

  /** Stops a voter for good; the leader removes it once it has been dead long enough. */
  private retire(running: NodeId[], leader: NodeId | undefined): void {
    const victim = this.permanentVictim(running, leader, 4);
    if (victim === undefined) return;
    this.cluster.note(`retire n${victim}`);
    this.cluster.retire(victim);
  }

  private permanentVictim(
    running: NodeId[],
    leader: NodeId | undefined,
    votersMin: number,
  ): NodeId | undefined {
    if (this.permanentDamage || leader === undefined) return undefined;
    const status = this.cluster.node(leader).driver?.node.status();
    const voters = status?.members.filter((member) => member.voter).map((member) => member.id) ?? [];
    if (voters.length < votersMin) return undefined;
    const victim = this.pick(running.filter((id) => id !== leader && voters.includes(id)));
    if (victim !== undefined) this.permanentDamage = true;
    return victim;
  }
}
