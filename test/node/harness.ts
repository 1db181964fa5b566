// Real gavel node processes on loopback for tests: each cluster gets its own name, discovery port
// and data dirs; nodes are started with `gavel node`, stopped or killed by their PID only, and
// every wait is for a condition with a deadline, never a fixed sleep.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  colocatedNodeFlags,
  freeTcpPort,
  freeUdpPort,
  LocalCluster,
  LocalNode,
  waitFor,
} from "../../src/dev/local-cluster.js";
import type { ClusterView } from "../../src/dev/local-cluster.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export { freeTcpPort, freeUdpPort, waitFor };

export interface HttpResponse {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** A JSON request with a short timeout; network errors reject. */
export async function http(
  url: string,
  init: { method?: string; body?: unknown; token?: string } = {},
): Promise<HttpResponse> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers["content-type"] = "application/json";
  if (init.token !== undefined) headers["authorization"] = `Bearer ${init.token}`;
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  const body = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
  return { status: response.status, body, headers: response.headers };
}

export class TestNode extends LocalNode {
  /** Whether the node has ever served HTTP: until then its ports may still change (see start). */
  private served = false;

  constructor(
    id: number,
    port: number,
    httpPort: number,
    dataDir: string,
    private readonly cluster: TestCluster,
  ) {
    super(id, port, httpPort, dataDir);
  }

  /**
   * Starts `gavel node`; resolves once its API answers (within `timeoutMs`). A free port found
   * earlier can be taken by another process before the node binds it: on a first start that fails
   * with EADDRINUSE the node gets fresh ports and tries again. A node that does not come up in time
   * is killed by its PID, so a failed start leaves no process behind.
   */
  async start(extraArgs: string[] = [], timeoutMs = 30_000): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.startOnce(extraArgs, timeoutMs);
        this.served = true;
        return;
      } catch (error) {
        await this.kill("SIGKILL");
        if (this.served || attempt >= 3 || !this.output.includes("EADDRINUSE")) throw error;
        this.port = await freeTcpPort();
        this.httpPort = await freeTcpPort();
      }
    }
  }

  private async startOnce(extraArgs: string[], timeoutMs: number): Promise<void> {
    const args = [
      main,
      "node",
      "--id",
      String(this.id),
      "--port",
      String(this.port),
      "--http-port",
      String(this.httpPort),
      "--discovery-port",
      String(this.cluster.discoveryPort),
      "--cluster",
      this.cluster.name,
      "--data-dir",
      this.dataDir,
      "--expect",
      String(this.cluster.expect),
      "--log-level",
      "warn",
      ...extraArgs,
    ];
    const child = spawn(process.execPath, [...colocatedNodeFlags, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.process = child;
    this.output = "";
    child.stdout.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
    await waitFor(`node ${this.id} to serve HTTP`, timeoutMs, async () => {
      if (!this.running) throw new Error(`node ${this.id} exited: ${this.output}`);
      return (await http(`${this.url}/api/cluster`)).status === 200;
    });
  }

  override async view(): Promise<ClusterView> {
    return (await http(`${this.url}/api/cluster`)).body as unknown as ClusterView;
  }
}

export class TestCluster extends LocalCluster<TestNode> {
  private constructor(
    readonly name: string,
    readonly discoveryPort: number,
    readonly expect: number,
  ) {
    super(mkdtempSync(path.join(tmpdir(), `gavel-${name}-`)));
  }

  /** Starts nodes with these ids together, as fresh nodes expecting each other. */
  static async start(ids: number[], name: string): Promise<TestCluster> {
    const cluster = new TestCluster(`${name}-${process.pid}`, await freeUdpPort(), Math.max(1, ids.length));
    await Promise.all(ids.map(async (id) => cluster.add(id)));
    try {
      await Promise.all([...cluster.nodes.values()].map((node) => node.start()));
    } catch (error) {
      // Every node that did start is killed: none outlives a failed test.
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  protected override createNode(id: number, port: number, httpPort: number, dataDir: string): TestNode {
    return new TestNode(id, port, httpPort, dataDir, this);
  }
}

/** A user registered at `node`; returns its token. */
export async function register(node: TestNode, name: string): Promise<string> {
  const response = await http(`${node.url}/api/users`, { body: { name } });
  if (response.status !== 201)
    throw new Error(`register ${name}: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body["token"] as string;
}

/** A metric of `node`'s /metrics (its first series), or 0 when it has none. */
export async function metric(node: TestNode, name: string): Promise<number> {
  const response = await fetch(`${node.url}/metrics`);
  const text = await response.text();
  const line = text.split("\n").find((item) => item.startsWith(`${name} `) || item.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}
