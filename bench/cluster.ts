// A loopback cluster of real `gavel node` processes for the bench: free ports, SQLite data dirs in
// one temp dir (removed by destroy), processes started and killed by their PID only, and every wait
// for a condition with a deadline. Node flags for profiling come from GAVEL_BENCH_NODE_ARGS
// (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  colocatedNodeFlags,
  freeUdpPort,
  LocalCluster,
  LocalNode,
  waitFor as waitForCondition,
} from "../src/dev/local-cluster.js";
import type { ClusterView } from "../src/dev/local-cluster.js";

const main = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

/** Node processes running and data dirs in use: what the bench leaves behind if it exits early. */
const liveChildren = new Set<ChildProcess>();
const liveRoots = new Set<string>();

// However the bench ends (an error, SIGINT, SIGTERM, SIGHUP, a closed stdout), its nodes end with it:
// killed by their PIDs, their data dirs removed. Only synchronous work can run in an exit handler.
process.once("exit", () => {
  for (const child of liveChildren)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const root of liveRoots) rmSync(root, { recursive: true, force: true });
});
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}: stopping its nodes\n`);
    process.exit(code);
  });
}

/** Polls `condition` every 20 ms until it holds; fails with `what` after `timeoutMs`. */
export function waitFor<T>(
  what: string,
  timeoutMs: number,
  condition: () => Promise<T | undefined | false> | T | undefined | false,
): Promise<T> {
  return waitForCondition(what, timeoutMs, condition, { pollMs: 20 });
}

export interface Response {
  status: number;
  body: Record<string, unknown>;
}

/** Keep-alive connections for the bench's own requests (setup, probes, failover bidders). */
export const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** One JSON request over `via` (keep-alive); rejects on network errors and after `timeoutMs`. */
export function request(
  url: string,
  init: { method?: string; body?: unknown; token?: string; timeoutMs?: number } = {},
  via: http.Agent = agent,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
    const headers: Record<string, string> = {};
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    if (init.token !== undefined) headers["authorization"] = `Bearer ${init.token}`;
    const req = http.request(
      url,
      { method: init.method ?? (payload === undefined ? "GET" : "POST"), headers, agent: via },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: Record<string, unknown>;
          try {
            body = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
          } catch {
            body = { text };
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(init.timeoutMs ?? 10_000, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(payload);
  });
}

export class BenchNode extends LocalNode {
  constructor(
    id: number,
    port: number,
    httpPort: number,
    dataDir: string,
    private readonly cluster: BenchCluster,
  ) {
    super(id, port, httpPort, dataDir);
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Starts `gavel node` (without waiting for it to answer). */
  spawn(): void {
    const fromEnv = (process.env["GAVEL_BENCH_NODE_ARGS"] ?? "").split(" ").filter((arg) => arg !== "");
    const nodeArgs = [...this.cluster.runtimeFlags, ...fromEnv, ...this.cluster.nodeArgs];
    const args = [
      ...nodeArgs,
      main,
      "node",
      ...["--id", String(this.id), "--port", String(this.port), "--http-port", String(this.httpPort)],
      ...["--discovery-port", String(this.cluster.discoveryPort), "--cluster", this.cluster.name],
      ...["--data-dir", this.dataDir, "--expect", String(this.cluster.expect)],
      ...["--multicast-port", String(this.cluster.multicastPort), "--log-level", "warn"],
      // The bench measures the cluster, not the per-token rate limiter.
      ...["--rate-limit", "1000000"],
    ];
    const env = { ...process.env, ...this.cluster.env };
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], env });
    this.process = child;
    liveChildren.add(child);
    child.once("exit", () => liveChildren.delete(child));
    this.output = "";
    child.stderr.on("data", (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    });
  }

  /** Starts the node and resolves once its API answers. */
  async start(): Promise<void> {
    this.spawn();
    await this.serving();
  }

  async serving(): Promise<void> {
    await waitFor(`node ${this.id} to serve HTTP`, 15_000, async () => {
      if (!this.running) throw new Error(`node ${this.id} exited: ${this.output}`);
      return (await request(`${this.url}/api/cluster`, { timeoutMs: 1000 })).status === 200;
    });
  }

  override async view(): Promise<ClusterView> {
    return (await request(`${this.url}/api/cluster`, { timeoutMs: 2000 })).body as unknown as ClusterView;
  }

  /** Resident memory of the node's process, in bytes (from /proc, by PID). */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    if (kib === undefined) throw new Error(`no VmRSS for node ${this.id}`);
    return Number(kib) * 1024;
  }

  /** A gauge from the node's /metrics (e.g. gavel_applied_index). */
  /** The node's /metrics text. */
  async metricsText(): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      http
        .get(`${this.url}/metrics`, { agent }, (res) => {
          let text = "";
          res.on("data", (chunk: Buffer) => (text += chunk.toString()));
          res.on("end", () => resolve(text));
          res.on("error", reject);
        })
        .on("error", reject);
    });
  }

  async metric(name: string): Promise<number> {
    return metricValue(await this.metricsText(), name);
  }
}

/**
 * The value of metric `name` in a /metrics text: the sum of its series whose labels include
 * `label` (such as `direction="sent"`), or of all its series. Throws when it has none.
 */
export function metricValue(text: string, name: string, label?: string): number {
  let found = false;
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || !line.startsWith(name)) continue;
    const space = line.lastIndexOf(" ");
    const series = line.slice(0, space);
    const brace = series.indexOf("{");
    if ((brace === -1 ? series : series.slice(0, brace)) !== name) continue;
    if (label !== undefined && (brace === -1 || !series.slice(brace).includes(label))) continue;
    found = true;
    sum += Number(line.slice(space + 1));
  }
  if (!found) throw new Error(`no metric ${name}${label === undefined ? "" : ` with ${label}`}`);
  return sum;
}

export class BenchCluster extends LocalCluster<BenchNode> {
  private constructor(
    readonly name: string,
    readonly discoveryPort: number,
    readonly multicastPort: number,
    readonly expect: number,
    /** Extra flags for node itself (before the script), e.g. --cpu-prof. */
    readonly nodeArgs: readonly string[],
    /** Extra environment of the node processes, e.g. GAVEL_SNAPSHOT_ENTRIES. */
    readonly env: Readonly<Record<string, string>>,
    /** Node.js flags of the node processes: colocatedNodeFlags unless a section compares without them. */
    readonly runtimeFlags: readonly string[],
  ) {
    super(mkdtempSync(path.join(tmpdir(), `gavel-bench-`)), { pollMs: 20 });
    liveRoots.add(this.root);
  }

  /**
   * Starts fresh nodes with these ids together and waits until the highest leads them all. A free
   * port can be taken by another process before a node binds it: then it starts again, on new ports.
   */
  static async start(
    ids: number[],
    nodeArgs: readonly string[] = [],
    env: Readonly<Record<string, string>> = {},
    runtimeFlags: readonly string[] = colocatedNodeFlags,
  ): Promise<BenchCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await BenchCluster.startOnce(ids, nodeArgs, env, runtimeFlags);
      } catch (error) {
        if (attempt >= 3 || !/EADDRINUSE/.test(String(error))) throw error;
      }
    }
  }

  private static async startOnce(
    ids: number[],
    nodeArgs: readonly string[],
    env: Readonly<Record<string, string>>,
    runtimeFlags: readonly string[],
  ): Promise<BenchCluster> {
    const name = `bench-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
    const ports = [await freeUdpPort(), await freeUdpPort()] as const;
    const cluster = new BenchCluster(name, ports[0], ports[1], ids.length, nodeArgs, env, runtimeFlags);
    try {
      for (const id of ids) await cluster.add(id);
      for (const node of cluster.nodes.values()) node.spawn();
      await Promise.all([...cluster.nodes.values()].map((node) => node.serving()));
      await cluster.waitForLeader(Math.max(...ids), 30_000);
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  protected override createNode(id: number, port: number, httpPort: number, dataDir: string): BenchNode {
    return new BenchNode(id, port, httpPort, dataDir, this);
  }

  urls(): string[] {
    return this.running().map((node) => node.url);
  }

  /** The leader every running node agrees on, or null. */
  async leader(): Promise<number | null> {
    const views = await Promise.all(this.running().map((node) => node.view().catch(() => null)));
    const leaders = new Set(views.map((view) => view?.leader ?? null));
    const [only] = leaders;
    return leaders.size === 1 && only !== undefined ? only : null;
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    liveRoots.delete(this.root);
  }
}

/** Registers a user at `url`; returns its token. */
export async function register(url: string, name: string): Promise<string> {
  const response = await request(`${url}/api/users`, { body: { name } });
  if (response.status !== 201)
    throw new Error(`register ${name}: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body["token"] as string;
}
