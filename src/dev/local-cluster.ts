// What the tools that run gavel nodes on this machine share (the demo, the bench and the tests):
// free loopback ports for the nodes to bind, waiting for a condition with a deadline instead of a
// fixed sleep, when a cluster's views agree on its leader, and (for the bench and the tests) the
// node processes of one cluster, killed by their PIDs only. (Chaos runs pick their ports below
// the ephemeral range instead, and stop waiting as soon as a node exits: src/chaos/cluster.ts.)
import type { ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";

/**
 * Node.js flags for `gavel node` processes that share one machine's cores with each other (the demo,
 * the bench, the tests, chaos runs): V8 collects garbage on the node's own thread rather than also on
 * helper threads, which with more nodes than cores only compete with the other nodes for the cores
 * (the bench measures both: BENCHMARKS.md, What snapshots, fsyncs and GC threads cost). A node with
 * cores to spare keeps V8's default, made for that (not measured here). Only a command-line flag sets this (not
 * NODE_OPTIONS, nor v8.setFlagsFromString once running).
 */
export const colocatedNodeFlags: readonly string[] = ["--single-threaded-gc"];

/** A TCP port free on 127.0.0.1 now (the kernel's pick, closed again so a node can bind it). */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no free TCP port on 127.0.0.1");
  return address.port;
}

/** A UDP port free on 127.0.0.1 now (the kernel's pick, closed again), e.g. for a cluster's discovery. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", resolve);
  });
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export interface WaitOptions {
  /** How often the condition is tried again, in ms. Default 50. */
  pollMs?: number;
}

/**
 * Tries `condition` until it returns a value other than undefined or false, and resolves with it;
 * a throw counts as not yet. Fails with `what` (and the last error thrown) after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
  }
}

/** What a node's GET /api/cluster says, in the parts these tools read. */
export interface ClusterView {
  term: number;
  leader: number | null;
  nodes: { id: number; role: string; status: string; http: string; auctions: number }[];
}

/**
 * The first of `views` (one per running node, of the nodes `ids`) when every one names `leader` and
 * lists every node of `ids` as a voter (not a learner); undefined until then.
 */
export function agreedView(
  views: readonly ClusterView[],
  ids: readonly number[],
  leader: number,
): ClusterView | undefined {
  const agreed = views.every((view) => view.leader === leader);
  const complete = views.every((view) =>
    ids.every((id) => view.nodes.some((item) => item.id === id && item.role !== "learner")),
  );
  return agreed && complete ? views[0] : undefined;
}

/** A `gavel node` process started by a local tool: its ports, data dir, process and output. */
export abstract class LocalNode {
  process: ChildProcess | null = null;
  output = "";

  constructor(
    readonly id: number,
    public port: number,
    public httpPort: number,
    readonly dataDir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get running(): boolean {
    return this.process !== null && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Sends `signal` to this node's process (by its PID) and waits until it has exited. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.process;
    if (child === null || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** What the node's GET /api/cluster says. */
  abstract view(): Promise<ClusterView>;
}

/** The nodes of one local cluster, by id, each with its data dir under `root` (removed by destroy). */
export abstract class LocalCluster<N extends LocalNode> {
  readonly nodes = new Map<number, N>();

  constructor(
    readonly root: string,
    private readonly waitOptions: WaitOptions = {},
  ) {}

  /** A node of this cluster with these ports and data dir (not started). */
  protected abstract createNode(id: number, port: number, httpPort: number, dataDir: string): N;

  /** Creates (does not start) a node with fresh ports and data dir. */
  async add(id: number): Promise<N> {
    const node = this.createNode(
      id,
      await freeTcpPort(),
      await freeTcpPort(),
      path.join(this.root, `node-${id}`),
    );
    this.nodes.set(id, node);
    return node;
  }

  node(id: number): N {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  running(): N[] {
    return [...this.nodes.values()].filter((node) => node.running);
  }

  /** Waits until every running node names `leader` and lists every running node as a voter. */
  async waitForLeader(leader: number, timeoutMs: number): Promise<ClusterView> {
    const condition = async () => {
      const running = this.running();
      const views = await Promise.all(running.map((node) => node.view()));
      return agreedView(
        views,
        running.map((node) => node.id),
        leader,
      );
    };
    return waitFor(`node ${leader} to lead`, timeoutMs, condition, this.waitOptions);
  }

  /** Kills every node (SIGKILL by PID) and removes the data dirs. */
  async destroy(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.kill("SIGKILL")));
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Every node's output, for a failure's message. */
  logs(): string {
    return [...this.nodes.values()].map((node) => `--- node ${node.id}\n${node.output}`).join("\n");
  }
}
