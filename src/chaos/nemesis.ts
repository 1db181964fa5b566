// The nemesis: a seeded schedule of faults against the nodes. It kills (SIGKILL) or stops
// (SIGTERM, graceful) and later restarts, pauses (SIGSTOP) and later resumes (SIGCONT), restarts at once, and, between network
// namespaces, cuts a minority off. Never more than a minority is impaired at once, every fault
// ends by itself within seconds, and all end when the run stops.
import type { SeededRandom } from "../core/random.js";
import type { ChaosCluster, ChaosNode } from "./cluster.js";

export type FaultKind = "kill" | "stop" | "pause" | "restart" | "partition";

export interface NemesisReport {
  faults: number;
  byKind: Record<FaultKind, number>;
  /** Failures of the harness itself (a node that would not start again): the run is void. */
  errors: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Nemesis {
  private readonly impaired = new Set<number>();
  private readonly recoveries = new Set<Promise<void>>();
  private partitioned = false;
  readonly report: NemesisReport = {
    faults: 0,
    byKind: { kill: 0, stop: 0, pause: 0, restart: 0, partition: 0 },
    errors: [],
  };

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly random: SeededRandom,
    private readonly log: (line: string) => void,
  ) {}

  /** How many nodes may be impaired at once: a minority. */
  get impairedMax(): number {
    return Math.floor((this.cluster.nodes.length - 1) / 2);
  }

  /** Node ids currently killed, paused or cut off. */
  get down(): number[] {
    return [...this.impaired].sort((a, b) => a - b);
  }

  private between(low: number, high: number): number {
    return low + this.random.int(high - low + 1);
  }

  /** Injects faults until `stopAtMs`, then waits until every fault has ended. */
  async run(stopAtMs: number): Promise<void> {
    while (Date.now() < stopAtMs) {
      await sleep(Math.max(0, Math.min(this.between(500, 2_500), stopAtMs - Date.now())));
      if (Date.now() >= stopAtMs) break;
      if (this.impaired.size >= this.impairedMax) continue;
      await this.inject(stopAtMs);
    }
    while (this.recoveries.size > 0) await Promise.all([...this.recoveries]);
  }

  private pickKind(): FaultKind {
    const kinds: FaultKind[] = ["kill", "stop", "pause", "restart"];
    if (this.cluster.canPartition && !this.partitioned) kinds.push("partition", "partition");
    return kinds[this.random.int(kinds.length)]!;
  }

  /** A node not impaired: the highest such id (usually the leader) three times in ten, else any. */
  private pickNode(): ChaosNode {
    const candidates = this.cluster.nodes.filter((node) => !this.impaired.has(node.id));
    if (this.random.next() < 0.3) return candidates.at(-1)!;
    return candidates[this.random.int(candidates.length)]!;
  }

  private async inject(stopAtMs: number): Promise<void> {
    const kind = this.pickKind();
    const until = (low: number, high: number) => Math.min(Date.now() + this.between(low, high), stopAtMs);
    this.report.faults += 1;
    this.report.byKind[kind] += 1;
    if (kind === "partition") return this.partition(until(1_000, 8_000));
    const node = this.pickNode();
    this.impaired.add(node.id);
    this.log(`nemesis: ${kind} node ${node.id}`);
    if (kind === "kill") {
      await node.kill();
      this.recover(until(1_000, 6_000), node, () => this.start(node));
    } else if (kind === "stop") {
      await this.stopGracefully(node);
      this.recover(until(1_000, 6_000), node, () => this.start(node));
    } else if (kind === "pause") {
      node.pause();
      this.recover(until(300, 4_000), node, () => {
        node.resume();
        return Promise.resolve();
      });
    } else {
      await node.kill();
      this.recover(Date.now(), node, () => this.start(node));
    }
  }

  private async partition(healAtMs: number): Promise<void> {
    const free = this.cluster.nodes.filter((node) => !this.impaired.has(node.id)).map((node) => node.id);
    const size = this.between(1, this.impairedMax - this.impaired.size);
    const minority: number[] = [];
    while (minority.length < size) {
      const id = free.splice(this.random.int(free.length), 1)[0]!;
      minority.push(id);
    }
    const majority = this.cluster.nodes.map((node) => node.id).filter((id) => !minority.includes(id));
    for (const id of minority) this.impaired.add(id);
    this.partitioned = true;
    this.log(`nemesis: partition [${majority.join(",")}] | [${minority.join(",")}]`);
    await this.cluster.partition([majority, minority]);
    const task = (async () => {
      await sleep(Math.max(0, healAtMs - Date.now()));
      await this.cluster.heal();
      this.log(`nemesis: heal`);
      for (const id of minority) this.impaired.delete(id);
      this.partitioned = false;
    })();
    this.track(task);
  }

  /** SIGTERM; a node that has not exited within 20 s is killed, and that is an error of the run. */
  private async stopGracefully(node: ChaosNode): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), 20_000)));
    const result = await Promise.race([node.stop(), late]);
    clearTimeout(timer);
    if (result === "late") {
      this.report.errors.push(`node ${node.id} did not stop within 20 s of SIGTERM`);
      await node.kill();
    }
  }

  private async start(node: ChaosNode): Promise<void> {
    try {
      await node.start();
    } catch (error) {
      this.report.errors.push(`node ${node.id} did not start again: ${(error as Error).message}`);
    }
  }

  private recover(atMs: number, node: ChaosNode, action: () => Promise<void>): void {
    const task = (async () => {
      await sleep(Math.max(0, atMs - Date.now()));
      await action();
      this.log(`nemesis: node ${node.id} back`);
      this.impaired.delete(node.id);
    })();
    this.track(task);
  }

  private track(task: Promise<void>): void {
    const tracked = task.catch((error: unknown) => {
      this.report.errors.push(`nemesis: ${(error as Error).message}`);
    });
    this.recoveries.add(tracked);
    void tracked.finally(() => this.recoveries.delete(tracked));
  }
}
