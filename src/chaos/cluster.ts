// The nodes a chaos run works on: real `gavel node` processes, either on loopback (free ports below
// the ephemeral range, a temp data dir each) or, with --hosts, in the network namespaces of the host
// harness. Processes are started, signalled and killed by their PID only, and everything made is
// removed at the end (also when the runner exits early).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { colocatedNodeFlags } from "../dev/local-cluster.js";

const main = fileURLToPath(new URL("../cli/main.js", import.meta.url));

/** One node of the run, as the nemesis and the clients see it. */
export interface ChaosNode {
  readonly id: number;
  /** The API's base URL, e.g. http://127.0.0.1:8123. */
  readonly url: string;
  readonly running: boolean;
  /** Starts the node (again, on the same data) and resolves once its API answers. */
  start(): Promise<void>;
  /** SIGKILL by PID; resolves once the process has exited. */
  kill(): Promise<void>;
  /** SIGTERM by PID (a graceful stop: hand-over, drain); resolves once the process has exited. */
  stop(): Promise<void>;
  /** SIGSTOP. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
}

export interface ChaosCluster {
  readonly nodes: ChaosNode[];
  /** Whether partitions are possible (only between network namespaces). */
  readonly canPartition: boolean;
  /** Cuts the nodes into groups that hear only each other (clients still reach every node). */
  partition(groups: number[][]): Promise<void>;
  /** Every link back. */
  heal(): Promise<void>;
  /** Kills every node and removes all that was made; with `keep`, leaves the data and logs and says where. */
  destroy(keep?: boolean): Promise<string | null>;
}

/**
 * The first port of the kernel's ephemeral range. Nodes get ports below it: a node is down for
 * seconds between restarts, and a port from the ephemeral range (port 0) may meanwhile be taken by
 * any outgoing connection on the machine, so the node could not bind its own port again.
 */
function ephemeralStart(): number {
  try {
    const first = Number(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0],
    );
    return Number.isInteger(first) && first > 12_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

const portsTaken = new Set<number>();

/** A port below the ephemeral range that is free now for TCP and UDP on 127.0.0.1. */
async function freePort(): Promise<number> {
  const high = ephemeralStart();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (high - 10_000));
    if (portsTaken.has(port)) continue;
    if ((await bindsTcp(port)) && (await bindsUdp(port))) {
      portsTaken.add(port);
      return port;
    }
  }
  throw new Error("no free port below the ephemeral range");
}

function bindsTcp(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function bindsUdp(port: number): Promise<boolean> {
  const socket = createSocket("udp4");
  return new Promise((resolve) => {
    socket.once("error", () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
  });
}

/** GET `url`, resolving with the status, or 0 on any error or after `timeoutMs`. */
export function probe(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { connection: "close" } }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
      response.on("error", () => resolve(0));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(0));
    req.end();
  });
}

/** Polls `condition` every 100 ms until it holds, or fails with `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  timeoutMs: number,
  condition: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

class LocalNode implements ChaosNode {
  private child: ChildProcess | null = null;

  constructor(
    readonly id: number,
    private readonly port: number,
    private readonly httpPort: number,
    private readonly dataDir: string,
    private readonly logFile: string,
    private readonly cluster: { name: string; discoveryPort: number; expect: number; logLevel: string },
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get running(): boolean {
    const child = this.child;
    return child !== null && child.exitCode === null && child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`node ${this.id} is already running`);
    const args = [
      main,
      "node",
      ...["--id", String(this.id), "--port", String(this.port), "--http-port", String(this.httpPort)],
      ...["--discovery-port", String(this.cluster.discoveryPort), "--cluster", this.cluster.name],
      ...["--data-dir", this.dataDir, "--expect", String(this.cluster.expect)],
      ...["--log-level", this.cluster.logLevel],
    ];
    const log = openSync(this.logFile, "a");
    try {
      this.child = spawn(process.execPath, [...colocatedNodeFlags, ...args], { stdio: ["ignore", log, log] });
    } finally {
      closeSync(log);
    }
    await waitUntil(`node ${this.id} to serve HTTP`, 60_000, async () => {
      if (!this.running) throw new Error(`node ${this.id} exited: ${this.logTail()}`);
      return (await probe(`${this.url}/healthz`, 1000)) === 200;
    });
  }

  kill(): Promise<void> {
    return this.signal("SIGKILL");
  }

  stop(): Promise<void> {
    return this.signal("SIGTERM");
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === null || !this.running || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    process.kill(child.pid, signal);
    await exited;
  }

  /** Synchronous SIGKILL, for process exit. */
  killSync(): void {
    const pid = this.child?.pid;
    if (pid !== undefined && this.running) process.kill(pid, "SIGKILL");
  }

  pause(): void {
    const pid = this.child?.pid;
    if (pid === undefined || !this.running) throw new Error(`node ${this.id} is not running`);
    process.kill(pid, "SIGSTOP");
  }

  resume(): void {
    const pid = this.child?.pid;
    if (pid === undefined || !this.running) throw new Error(`node ${this.id} is not running`);
    process.kill(pid, "SIGCONT");
  }

  logTail(chars = 3000): string {
    try {
      return readFileSync(this.logFile, "utf8").slice(-chars);
    } catch {
      return "(no log)";
    }
  }
}

/** Nodes 1..count on 127.0.0.1, discovering each other by broadcast on a free UDP port. */
export async function startLocalCluster(count: number, logLevel = "warn"): Promise<ChaosCluster> {
  const root = mkdtempSync(path.join(tmpdir(), `gavel-chaos-${process.pid}-`));
  const cluster = {
    name: `chaos-${process.pid}`,
    discoveryPort: await freePort(),
    expect: count,
    logLevel,
  };
  const nodes: LocalNode[] = [];
  for (let id = 1; id <= count; id++) {
    const dataDir = path.join(root, `node-${id}`);
    const logFile = path.join(root, `node-${id}.log`);
    nodes.push(new LocalNode(id, await freePort(), await freePort(), dataDir, logFile, cluster));
  }
  let destroyed = false;
  const killAllSync = () => {
    if (destroyed) return;
    for (const node of nodes) node.killSync();
    rmSync(root, { recursive: true, force: true });
  };
  process.once("exit", killAllSync);
  const result: ChaosCluster = {
    nodes,
    canPartition: false,
    partition: () => Promise.reject(new Error("partitions need --hosts (network namespaces)")),
    heal: () => Promise.resolve(),
    destroy: async (keep = false) => {
      for (const node of nodes) {
        if (node.running) node.resume(); // a stopped process takes SIGKILL too, but say it plainly
        await node.kill();
      }
      destroyed = true;
      process.removeListener("exit", killAllSync);
      if (keep) return root;
      rmSync(root, { recursive: true, force: true });
      return null;
    },
  };
  try {
    await Promise.all(nodes.map((node) => node.start()));
  } catch (error) {
    await result.destroy();
    throw error;
  }
  return result;
}

/** Nodes in network namespaces (root only), through the host harness of the host tests. */
export async function startHostCluster(count: number, logLevel = "warn"): Promise<ChaosCluster> {
  const harness = await import("../../test/hosts/net-harness.js");
  const unavailable = harness.hostTestsUnavailable();
  if (unavailable !== null) throw new Error(`--hosts: ${unavailable}`);
  const ids = Array.from({ length: count }, (_, index) => index + 1);
  const net = await harness.HostNet.create({ ids, logLevel: logLevel as "warn" });
  try {
    await net.startAll();
  } catch (error) {
    await net.destroy();
    throw error;
  }
  const nodes: ChaosNode[] = net.all().map((host) => ({
    id: host.id,
    url: host.url,
    get running() {
      return host.running;
    },
    start: () => host.start(),
    kill: () => host.kill("SIGKILL"),
    stop: () => host.kill("SIGTERM"),
    pause: () => host.pause(),
    resume: () => host.resume(),
  }));
  return {
    nodes,
    canPartition: true,
    partition: (groups) => net.split(groups),
    heal: () => net.heal(),
    destroy: async () => {
      await net.destroy();
      return null;
    },
  };
}
