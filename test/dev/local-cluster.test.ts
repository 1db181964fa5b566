import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import {
  agreedView,
  colocatedNodeFlags,
  freeTcpPort,
  freeUdpPort,
  LocalCluster,
  LocalNode,
  waitFor,
} from "../../src/dev/local-cluster.js";
import type { ClusterView } from "../../src/dev/local-cluster.js";

test("a free TCP port and a free UDP port can be bound on 127.0.0.1", async () => {
  const tcp = await freeTcpPort();
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(tcp, "127.0.0.1", resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const udp = await freeUdpPort();
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(udp, "127.0.0.1", resolve);
  });
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  assert.ok(tcp > 0 && udp > 0);
});

test("waitFor resolves with the condition's first value, retrying through falses and throws", async () => {
  let calls = 0;
  const value = await waitFor(
    "the third call",
    5000,
    () => {
      calls += 1;
      if (calls === 1) return false;
      if (calls === 2) throw new Error("not yet");
      return { calls };
    },
    { pollMs: 1 },
  );
  assert.deepEqual(value, { calls: 3 });
});

test("waitFor fails after its timeout, naming what it waited for and the last error", async () => {
  await assert.rejects(
    waitFor(
      "a thing that never happens",
      30,
      () => {
        throw new Error("still broken");
      },
      { pollMs: 5 },
    ),
    /timed out after 30 ms waiting for a thing that never happens \(last error: still broken\)/,
  );
});

test("agreedView: every view names the leader and lists every node as a voter", () => {
  const view = (leader: number | null, roles: Record<number, string>): ClusterView => ({
    term: 2,
    leader,
    nodes: Object.entries(roles).map(([id, role]) => ({
      id: Number(id),
      role,
      status: "alive",
      http: "",
      auctions: 0,
    })),
  });
  const settled = view(3, { 1: "worker", 2: "worker", 3: "leader" });
  assert.equal(agreedView([settled, settled, settled], [1, 2, 3], 3), settled);
  assert.equal(
    agreedView([settled, view(2, { 1: "worker", 2: "leader", 3: "worker" })], [1, 2, 3], 3),
    undefined,
  );
  assert.equal(agreedView([view(3, { 1: "learner", 2: "worker", 3: "leader" })], [1, 2, 3], 3), undefined);
  assert.equal(agreedView([view(3, { 2: "worker", 3: "leader" })], [1, 2, 3], 3), undefined);
});

/**
 * A node whose process is any child (here a sleeping Node.js) and whose views are set by the test:
 * each call answers the next of `answers`, then the last one again.
 */
class FakeNode extends LocalNode {
  answers: ClusterView[] = [{ term: 1, leader: null, nodes: [] }];
  calls = 0;

  override view(): Promise<ClusterView> {
    this.calls++;
    return Promise.resolve(this.answers.length > 1 ? this.answers.shift()! : this.answers[0]!);
  }

  start(): void {
    this.process = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
  }
}

class FakeCluster extends LocalCluster<FakeNode> {
  protected override createNode(id: number, port: number, httpPort: number, dataDir: string): FakeNode {
    return new FakeNode(id, port, httpPort, dataDir);
  }
}

test("a local cluster gives its nodes their own ports and data dirs, waits for their leader and kills them all", async () => {
  const cluster = new FakeCluster(mkdtempSync(path.join(tmpdir(), "gavel-local-cluster-")), { pollMs: 5 });
  const [one, two, three] = [await cluster.add(1), await cluster.add(2), await cluster.add(3)];
  assert.equal(new Set([one, two, three].flatMap((node) => [node.port, node.httpPort])).size, 6);
  assert.equal(two.dataDir, path.join(cluster.root, "node-2"));
  assert.equal(cluster.node(3), three);
  assert.throws(() => cluster.node(4), /no node 4/);
  one.start();
  two.start();
  assert.deepEqual(
    cluster.running().map((node) => node.id),
    [1, 2],
  );
  // Only the running nodes count, and each must list both as voters.
  const view = (leader: number | null): ClusterView => ({
    term: 2,
    leader,
    nodes: [1, 2].map((id) => ({ id, role: "voter", status: "alive", http: "", auctions: 0 })),
  });
  one.answers = [view(2)];
  two.answers = [view(null), view(null), view(2)];
  assert.equal((await cluster.waitForLeader(2, 5000)).leader, 2);
  assert.equal(two.calls, 3, "it asked again until node 2 agreed");
  await assert.rejects(cluster.waitForLeader(1, 30), /timed out after 30 ms waiting for node 1 to lead/);
  const children = [one.process!, two.process!];
  await cluster.destroy();
  assert.ok(children.every((child) => child.signalCode === "SIGKILL"));
  assert.deepEqual(cluster.running(), []);
  assert.equal(existsSync(cluster.root), false);
});

test("this Node.js takes the flags of nodes that share a machine's cores", () => {
  const run = spawnSync(process.execPath, [...colocatedNodeFlags, "-e", "process.exit(7)"], {
    encoding: "utf8",
  });
  assert.equal(run.status, 7, run.stderr);
});
