// A whole cluster in one process on virtual time: the real driver and core of every node, over an
// in-memory network that delays, drops, duplicates and reorders messages and can be partitioned in
// any shape, and in-memory disks that keep only what was saved. Deterministic for a given seed.
import { assert } from "../core/assert.js";
import type { Config } from "../core/config.js";
import type { ApplyResult } from "../core/cluster/state.js";
import type {
  Beacon,
  ClientRequest,
  Input,
  ClientResult,
  LogEntry,
  Message,
  Mutant,
  NodeEvent,
  NodeId,
} from "../core/cluster/types.js";
import { SeededRandom } from "../core/random.js";
import { NodeDriver } from "../node/driver.js";
import { EventQueue } from "./event-queue.js";
import { MemoryStorage } from "./memory-storage.js";

export interface NetworkOptions {
  delayMinMs: number;
  delayMaxMs: number;
  /** Probability that a message or beacon is lost. */
  lossRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
}

export const calmNetwork: NetworkOptions = { delayMinMs: 1, delayMaxMs: 5, lossRate: 0, duplicateRate: 0 };

/** What the simulator tells its observers (checkers, workload, tests). */
export interface SimObserver {
  applied?(nodeId: NodeId, entry: LogEntry, result: ApplyResult): void;
  responded?(nodeId: NodeId, requestId: string, result: ClientResult): void;
  event?(nodeId: NodeId, event: NodeEvent): void;
  /** A message a node sent (before the network loses, delays or duplicates it). */
  sent?(message: Message): void;
  note?(line: string): void;
}

type SimEvent =
  | { kind: "tick"; nodeId: NodeId; generation: number }
  | { kind: "deliver"; message: Message }
  | { kind: "beacon"; to: NodeId; beacon: Beacon }
  | { kind: "call"; run: () => void };

export class SimNode {
  driver: NodeDriver | null = null;
  /** Bumped at every crash, so the ticks of a dead incarnation are ignored. */
  generation = 0;
  incarnations = 0;
  skewMs = 0;
  /** Set while a crash is under way in the middle of a step: the persist (or only what follows it) is lost. */
  dying = false;
  /** Inputs that arrived while the driver waited for the disk, and whether their delivery is due. */
  inbox: Input[] = [];
  inboxScheduled = false;
  /** Once set, the node never starts again. */
  retired = false;
  /** This node's own configuration changes (e.g. `expect` for nodes meant to join, not bootstrap). */
  overrides: Partial<Config> = {};
  readonly storage: MemoryStorage;

  /** `background`: the storage's fsyncs run in the background and end when it calls them back. */
  constructor(
    readonly id: NodeId,
    background?: (fsyncEnds: () => void) => void,
  ) {
    this.storage = new MemoryStorage({ nodeId: id, incarnation: this.nextIncarnation() }, background);
  }

  nextIncarnation(): string {
    this.incarnations += 1;
    return `n${this.id}-i${this.incarnations}`;
  }

  get running(): boolean {
    return this.driver !== null;
  }
}

export interface SimClusterOptions {
  seed: number;
  config: Config;
  network?: NetworkOptions;
  mutant?: Mutant | null;
  /** Probability that a crash strikes after a step's persist but before its sends. */
  midStepCrashRate?: number;
  /**
   * When set, storage syncs in the background as the node's SQLite storage does: a write is durable
   * once an fsync that began after it ends, 0 to this many ms later, and lost by a crash before.
   * The driver then holds what depends on a write, and takes no input, until then.
   */
  fsyncMaxMs?: number;
}

export class SimCluster {
  nowMs = 0;
  steps = 0;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly random: SeededRandom;
  network: NetworkOptions;
  private readonly queue = new EventQueue<SimEvent>();
  /** Directed links that drop everything: "from>to". */
  private readonly blocked = new Set<string>();
  private readonly observers: SimObserver[] = [];
  private pendingCrash: NodeId | null = null;

  constructor(readonly options: SimClusterOptions) {
    this.random = new SeededRandom(options.seed);
    this.network = options.network ?? calmNetwork;
  }

  observe(observer: SimObserver): void {
    this.observers.push(observer);
  }

  note(line: string): void {
    for (const observer of this.observers) observer.note?.(`${this.nowMs}ms ${line}`);
  }

  // ------------------------------------------------------------- nodes

  /** Adds a fresh node and starts it; `overrides` change its configuration only. */
  addNode(id: NodeId, overrides: Partial<Config> = {}): SimNode {
    assert(!this.nodes.has(id), "node ids are unique in a simulation");
    const fsyncMaxMs = this.options.fsyncMaxMs;
    const node = new SimNode(
      id,
      fsyncMaxMs === undefined
        ? undefined
        : (fsyncEnds) =>
            this.queue.push(this.nowMs + this.random.int(fsyncMaxMs + 1), { kind: "call", run: fsyncEnds }),
    );
    node.overrides = overrides;
    this.nodes.set(id, node);
    this.start(node);
    return node;
  }

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    assert(node !== undefined, `no node ${id}`);
    return node;
  }

  running(): SimNode[] {
    return [...this.nodes.values()].filter((node) => node.running);
  }

  private start(node: SimNode): void {
    assert(!node.running && !node.retired, "only a stopped node starts");
    const id = node.id;
    const random = new SeededRandom(this.random.int(2 ** 31));
    node.driver = new NodeDriver(
      {
        config: { ...this.options.config, ...node.overrides },
        identity: { nodeId: id, incarnation: `n${id}-i${node.incarnations}` },
        address: `sim:${id}`,
        httpUrl: `http://sim-${id}`,
        random,
        mutant: this.options.mutant ?? null,
      },
      {
        storage: {
          load: () => node.storage.load(),
          save: (change) => {
            node.storage.save(change);
            if (this.pendingCrash === id) node.dying = true;
          },
          saveAll: (changes) => {
            // An armed crash strikes before or after the write: a leader's appends may have left already.
            if (this.pendingCrash === id) {
              node.dying = true;
              if (this.random.next() < 0.5) return;
            }
            node.storage.saveAll(changes);
          },
          readEntries: (from, max) => node.storage.readEntries(from, max),
          ...(node.storage.flushToDisk === undefined
            ? {}
            : { flushToDisk: (done: (error: Error | null) => void) => node.storage.flushToDisk!(done) }),
        },
        transport: { send: (message) => !node.dying && this.send(message) },
        discovery: { broadcast: (beacon) => !node.dying && this.broadcast(beacon) },
        clock: { nowMs: () => this.nowMs + node.skewMs },
      },
      {
        batchDone: () => this.deliverQueued(node),
        applied: (entry, result) => {
          if (node.dying) return;
          for (const observer of this.observers) observer.applied?.(id, entry, result);
        },
        responded: (requestId, result) => {
          if (node.dying) return;
          for (const observer of this.observers) observer.responded?.(id, requestId, result);
        },
        event: (event) => {
          if (node.dying) return;
          for (const observer of this.observers) observer.event?.(id, event);
        },
      },
    );
    const phase = this.random.int(this.options.config.tickIntervalMs);
    this.queue.push(this.nowMs + phase, { kind: "tick", nodeId: id, generation: node.generation });
    this.note(`start n${id} (${node.storage.load() === null ? "fresh" : "from disk"})`);
  }

  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.running) return;
    node.driver = null;
    node.inbox = [];
    node.storage.crash();
    node.dying = false;
    node.generation += 1;
    this.note(`crash n${id}`);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.running || node.retired) return;
    this.start(node);
  }

  /** Crashes the node and deletes its data; it comes back fresh, with a new incarnation. */
  wipe(id: NodeId): void {
    const node = this.node(id);
    this.crash(id);
    node.storage.wipe({ nodeId: id, incarnation: node.nextIncarnation() });
    this.note(`wipe n${id}`);
  }

  /** Stops the node for good (it was decommissioned). */
  retire(id: NodeId): void {
    this.crash(id);
    this.node(id).retired = true;
  }

  setSkew(id: NodeId, skewMs: number): void {
    this.node(id).skewMs = skewMs;
    this.note(`skew n${id} ${skewMs}ms`);
  }

  // ------------------------------------------------------------- network

  partition(groups: NodeId[][]): void {
    this.blocked.clear();
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const from of a) for (const to of b) this.blocked.add(`${from}>${to}`);
      }
    }
    this.note(`partition ${groups.map((group) => `[${group.join(",")}]`).join(" ")}`);
  }

  /** Cuts one node off from every other. */
  isolate(id: NodeId): void {
    const others = [...this.nodes.keys()].filter((other) => other !== id);
    this.partition([[id], others]);
  }

  blockLink(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
    this.note(`block n${from}->n${to}`);
  }

  unblockLink(from: NodeId, to: NodeId): void {
    this.blocked.delete(`${from}>${to}`);
    this.note(`unblock n${from}->n${to}`);
  }

  heal(): void {
    this.blocked.clear();
    this.note("heal");
  }

  canReach(from: NodeId, to: NodeId): boolean {
    return !this.blocked.has(`${from}>${to}`);
  }

  private delay(): number {
    const { delayMinMs, delayMaxMs } = this.network;
    return delayMinMs + this.random.int(delayMaxMs - delayMinMs + 1);
  }

  private send(message: Message): void {
    for (const observer of this.observers) observer.sent?.(message);
    if (!this.canReach(message.from, message.to) || this.random.next() < this.network.lossRate) return;
    // A JSON round trip, as on the wire: nothing is shared between nodes by reference.
    const copy = JSON.parse(JSON.stringify(message)) as Message;
    this.queue.push(this.nowMs + this.delay(), { kind: "deliver", message: copy });
    if (this.random.next() < this.network.duplicateRate) {
      this.queue.push(this.nowMs + this.delay(), { kind: "deliver", message: copy });
    }
  }

  private broadcast(beacon: Beacon): void {
    for (const to of this.nodes.keys()) {
      if (to === beacon.nodeId || !this.canReach(beacon.nodeId, to)) continue;
      if (this.random.next() < this.network.lossRate) continue;
      this.queue.push(this.nowMs + this.delay(), { kind: "beacon", to, beacon: { ...beacon } });
    }
  }

  // ------------------------------------------------------------- time

  /** Runs `run` at simulated time `atMs`. */
  at(atMs: number, run: () => void): void {
    this.queue.push(Math.max(atMs, this.nowMs), { kind: "call", run });
  }

  /** A client request at node `id` now; the answer reaches the observers' `responded`. */
  request(id: NodeId, requestId: string, request: ClientRequest): void {
    this.withNode(id, { type: "request", requestId, request });
  }

  /** Arms a crash of `id` to strike during its next step, right after that step's persist (null disarms). */
  crashDuringNextStep(id: NodeId | null): void {
    this.pendingCrash = id;
  }

  /** Processes the next event; false when there is none. */
  step(): boolean {
    const next = this.queue.pop();
    if (next === undefined) return false;
    this.nowMs = Math.max(this.nowMs, next.atMs);
    this.steps += 1;
    const event = next.item;
    switch (event.kind) {
      case "tick": {
        const node = this.nodes.get(event.nodeId);
        if (node === undefined || node.generation !== event.generation || !node.running) break;
        this.withNode(node.id, { type: "tick", nowMs: this.nowMs + node.skewMs });
        if (node.generation === event.generation) {
          this.queue.push(this.nowMs + this.options.config.tickIntervalMs, event);
        }
        break;
      }
      case "deliver":
        if (this.canReach(event.message.from, event.message.to)) {
          this.withNode(event.message.to, { type: "message", message: event.message });
        }
        break;
      case "beacon":
        if (this.canReach(event.beacon.nodeId, event.to)) {
          this.withNode(event.to, { type: "beacon", beacon: event.beacon });
        }
        break;
      case "call":
        event.run();
        break;
    }
    return true;
  }

  /**
   * Gives `input` to the node, as the node process does: at once, or, while its driver waits for the
   * disk (background fsyncs), queued with whatever else arrives meanwhile and delivered as one batch
   * once the driver takes batches again.
   */
  private withNode(id: NodeId, input: Input): void {
    const node = this.nodes.get(id);
    if (node?.driver === undefined || node.driver === null) return;
    if (node.driver.busy || node.inbox.length > 0) {
      node.inbox.push(input);
      return;
    }
    this.deliverTo(node, [input]);
  }

  private deliverTo(node: SimNode, inputs: Input[]): void {
    node.driver!.deliver(inputs);
    // An armed crash strikes in this step: after its persist if it had one, else right after it.
    if (this.pendingCrash === node.id) {
      this.pendingCrash = null;
      this.crash(node.id);
    }
  }

  /** A batch of the node's is done: what queued meanwhile goes next, as the node process does it. */
  private deliverQueued(node: SimNode): void {
    if (node.inbox.length === 0 || node.inboxScheduled) return;
    node.inboxScheduled = true;
    const generation = node.generation;
    this.queue.push(this.nowMs, {
      kind: "call",
      run: () => {
        node.inboxScheduled = false;
        if (node.generation !== generation || node.driver === null || node.driver.busy) return;
        const inputs = node.inbox.splice(0);
        // Ticks that waited are brought to now, as the node process does.
        for (const input of inputs) if (input.type === "tick") input.nowMs = this.nowMs + node.skewMs;
        this.deliverTo(node, inputs);
      },
    });
  }

  /** Runs events for `durationMs` of simulated time. */
  runFor(durationMs: number): void {
    const until = this.nowMs + durationMs;
    while ((this.queue.peekTime() ?? Infinity) <= until) this.step();
    this.nowMs = until;
  }

  /** Runs until `done()` holds (checked after every event) or `maxMs` pass; returns whether it held. */
  runUntil(done: () => boolean, maxMs: number): boolean {
    const until = this.nowMs + maxMs;
    while (!done()) {
      if ((this.queue.peekTime() ?? Infinity) > until) {
        this.nowMs = until;
        return done();
      }
      this.step();
    }
    return true;
  }

  // ------------------------------------------------------------- views for checks and tests

  /** The running nodes that believe they lead, with their terms. */
  leaders(): { id: NodeId; term: number }[] {
    return this.running()
      .map((node) => node.driver!.node.status())
      .filter((status) => status.role === "leader")
      .map((status) => ({ id: status.id, term: status.term }));
  }

  /** The one leader every running member agrees on, or null. */
  agreedLeader(): NodeId | null {
    const statuses = this.running()
      .map((node) => node.driver!.node.status())
      .filter((status) => status.clusterId !== null);
    if (statuses.length === 0) return null;
    const leader = statuses[0]!.leaderId;
    if (leader === null) return null;
    const agreed = statuses.every(
      (status) => status.leaderId === leader && status.term === statuses[0]!.term,
    );
    const leaderNode = this.nodes.get(leader);
    return agreed && leaderNode?.driver?.node.status().role === "leader" ? leader : null;
  }
}
