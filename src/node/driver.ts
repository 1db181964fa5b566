// Feeds inputs to a node's protocol state machine and carries out its effects, in order: what
// must be persisted is saved before any message that depends on it leaves, and before a client
// hears of a result. Holds no protocol logic of its own.
import { ClusterNode } from "../core/cluster/node.js";
import type { NodeOptions } from "../core/cluster/node.js";
import type {
  Beacon,
  ClientRequest,
  ClientResult,
  Effect,
  Input,
  LogEntry,
  Message,
  NodeEvent,
} from "../core/cluster/types.js";
import type { ApplyResult } from "../core/cluster/state.js";
import type { Clock, Discovery, PeerTransport, Storage } from "./ports.js";

/** Where the driver reports what happened; every hook is optional. */
export interface DriverListener {
  /** A batch's effects have all been carried out (after its write is on disk). */
  batchDone?(): void;
  /** An entry was committed and applied on this node. */
  applied?(entry: LogEntry, result: ApplyResult): void;
  /** The answer to a client request made on this node. */
  responded?(requestId: string, result: ClientResult): void;
  event?(event: NodeEvent): void;
}

export interface DriverPorts {
  storage: Storage;
  transport: PeerTransport;
  discovery: Discovery;
  clock: Clock;
}

/** What a driver has stepped and sent since it started: cumulative counts, for the node's metrics. */
export interface DriverCounts {
  /** Batches stepped: each a run of the core over the inputs that arrived together, with at most one write. */
  batches: number;
  /** Inputs in those batches (messages, requests, ticks, beacons). */
  inputs: number;
  /** Peer messages received (stepped), by type. */
  received: Record<string, number>;
  /** Peer messages handed to the transport, by type. */
  sent: Record<string, number>;
}

export class NodeDriver {
  readonly node: ClusterNode;
  private readonly counted: DriverCounts = { batches: 0, inputs: 0, received: {}, sent: {} };
  /** A batch waits for its write to reach the disk (storage with flushToDisk): deliver nothing meanwhile. */
  private waitingForDisk = false;

  constructor(
    options: Omit<NodeOptions, "persisted" | "nowMs">,
    private readonly ports: DriverPorts,
    private readonly listener: DriverListener = {},
  ) {
    const storage = ports.storage;
    this.node = new ClusterNode({
      ...options,
      persisted: storage.load(),
      nowMs: ports.clock.nowMs(),
      batching: true,
      ...(storage.readEntries === undefined
        ? {}
        : { entryReader: { readEntries: (from, max) => storage.readEntries!(from, max) } }),
    });
  }

  tick(): void {
    this.run({ type: "tick", nowMs: this.ports.clock.nowMs() });
  }

  receive(message: Message): void {
    this.run({ type: "message", message });
  }

  receiveBeacon(beacon: Beacon): void {
    this.run({ type: "beacon", beacon });
  }

  /** A client request; its answer arrives through the listener's `responded`. */
  request(requestId: string, request: ClientRequest): void {
    this.run({ type: "request", requestId, request });
  }

  private run(input: Input): void {
    this.deliver([input]);
  }

  /**
   * Steps the core through every input, then carries out all their effects: first every persist,
   * saved together atomically (one fsync for the whole batch), then the rest in order. Saving
   * earlier than needed is always safe; nothing leaves before what it depends on is on disk. The one
   * exception is a leader's appends of new entries, sent while it writes them (see earlySends).
   */
  deliver(inputs: readonly Input[]): void {
    if (this.waitingForDisk) throw new Error("deliver while the last batch waits for the disk; see busy");
    const counted = this.counted;
    counted.batches++;
    counted.inputs += inputs.length;
    for (const input of inputs) {
      if (input.type === "message")
        counted.received[input.message.type] = (counted.received[input.message.type] ?? 0) + 1;
    }
    const effects: Effect[] = [];
    for (const input of inputs) for (const effect of this.node.step(input)) effects.push(effect);
    // What the steps held back leaves together: one append per follower, one proposal per leader.
    for (const effect of this.node.endBatch()) effects.push(effect);
    this.execute(effects);
  }

  /** Counts since start; a fresh copy. */
  counts(): DriverCounts {
    return { ...this.counted, received: { ...this.counted.received }, sent: { ...this.counted.sent } };
  }

  /** True while a batch waits for its write to reach the disk; the caller delivers again after batchDone. */
  get busy(): boolean {
    return this.waitingForDisk;
  }

  private execute(effects: Effect[]): void {
    const persists = effects.filter((effect) => effect.type === "persist");
    if (persists.length === 0) return this.finish(effects, null);
    // Raft §10.2.1: a leader may write its new entries to disk while it sends them to followers;
    // a follower's answers rest on committed entries only, which need nothing of this write.
    const early = earlySends(persists, effects, !this.node.leading);
    for (const effect of early) this.carryOut(effect);
    const storage = this.ports.storage;
    storage.saveAll(persists);
    if (storage.flushToDisk === undefined) return this.finish(effects, early);
    // Written, not yet on disk: the rest waits for the fsync, and so do later batches, so the core
    // never runs ahead of its disk and nothing leaves before what it depends on is durable.
    this.waitingForDisk = true;
    storage.flushToDisk((error) => {
      if (error !== null) throw error;
      this.waitingForDisk = false;
      this.finish(effects, early);
    });
  }

  private finish(effects: readonly Effect[], early: Set<Effect> | null): void {
    for (const effect of effects) if (early === null || !early.has(effect)) this.carryOut(effect);
    this.listener.batchDone?.();
  }

  private carryOut(effect: Effect): void {
    switch (effect.type) {
      case "persist":
        break;
      case "send":
        this.counted.sent[effect.message.type] = (this.counted.sent[effect.message.type] ?? 0) + 1;
        this.ports.transport.send(effect.message, this.node.peerAddress(effect.message.to));
        break;
      case "broadcast":
        this.ports.discovery.broadcast(effect.beacon);
        break;
      case "applied":
        this.listener.applied?.(effect.entry, effect.result);
        break;
      case "response":
        this.listener.responded?.(effect.requestId, effect.result);
        break;
      case "event":
        this.listener.event?.(effect.event);
        break;
    }
  }
}

/**
 * What may leave before the batch's persist is on disk, when that persist only adds entries (no
 * term, vote, truncation or snapshot):
 * - A leader's appends whose commit index lies before those entries. The followers may store and
 *   acknowledge the new entries at once; the leader counts its own copy only in a later step, when
 *   its write has finished (the driver steps nothing until then), and no commit that rests on an
 *   entry not yet on this disk leaves before the write.
 * - On a follower, what rests on committed entries or on none: answers to clients (and the
 *   entries applied, for the live stream and updates), forwarded requests and their results, and an
 *   owner's proposals to the leader. A follower applies only what the leader committed, which a
 *   majority holds on disk without counting this write (the leader counts this follower's copy only
 *   once its acknowledgement, sent after the write, arrives). Its acknowledgements themselves wait.
 */
function earlySends(persists: readonly Effect[], effects: readonly Effect[], follower: boolean): Set<Effect> {
  const early = new Set<Effect>();
  let firstNew = Infinity;
  for (const persist of persists) {
    if (persist.type !== "persist") continue;
    const { type: _type, entries, ...rest } = persist;
    if (Object.values(rest).some((value) => value !== undefined)) return early;
    if (entries !== undefined && entries.length > 0) firstNew = Math.min(firstNew, entries[0]!.index);
  }
  if (follower) {
    for (const effect of effects) if (independentOfWrite(effect)) early.add(effect);
    return early;
  }
  if (firstNew === Infinity) return early;
  for (const effect of effects) {
    if (effect.type === "send" && effect.message.type === "append" && effect.message.commitIndex < firstNew)
      early.add(effect);
  }
  return early;
}

/** On a follower: an effect that rests on committed entries or on nothing this node wrote. */
function independentOfWrite(effect: Effect): boolean {
  switch (effect.type) {
    case "response":
    case "applied":
      return true;
    case "send":
      return (
        effect.message.type === "forward" ||
        effect.message.type === "forward-result" ||
        effect.message.type === "owner-proposal"
      );
    default:
      return false;
  }
}
