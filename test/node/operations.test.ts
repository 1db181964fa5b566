// Operating real nodes: health and readiness, metrics that follow the bids, a graceful SIGTERM of
// the leader without a failed request, backup and restore into a new cluster, the last-resort
// recovery of a lost majority, and the demo command.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { colocatedNodeFlags } from "../../src/dev/local-cluster.js";
import { http, metric, register, TestCluster, waitFor } from "./harness.js";
import type { TestNode } from "./harness.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

async function createAuction(node: TestNode, token: string, title = "Lamp"): Promise<string> {
  const response = await http(`${node.url}/api/auctions`, {
    token,
    body: { title, startingPrice: 1000, minIncrement: 100, durationMs: 600_000 },
  });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body["id"] as string;
}

function runCli(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("exit", (code) => resolve({ code, output }));
  });
}

test("health, readiness and metrics follow the node and its bids", async (t) => {
  const cluster = await TestCluster.start([1, 2, 3], "ops");
  t.after(() => cluster.destroy());
  await cluster.waitForLeader(3, 15_000);
  const node = cluster.node(1);
  assert.deepEqual((await http(`${node.url}/healthz`)).body, { status: "alive" });
  await waitFor("node 1 to be ready", 5000, async () => (await http(`${node.url}/readyz`)).status === 200);
  const seller = await register(node, "sam");
  const buyer = await register(node, "ann");
  const auctionId = await createAuction(node, seller);
  const acceptedBefore = await metric(node, "gavel_bids_accepted_total");
  for (let k = 1; k <= 3; k++) {
    const response = await http(`${node.url}/api/auctions/${auctionId}/bids`, {
      token: buyer,
      body: { amount: 1000 + 100 * k, bidId: `m${k}` },
    });
    assert.equal(response.status, 201);
  }
  const low = await http(`${node.url}/api/auctions/${auctionId}/bids`, {
    token: buyer,
    body: { amount: 1000, bidId: "low" },
  });
  assert.equal(low.status, 409);
  assert.equal((await metric(node, "gavel_bids_accepted_total")) - acceptedBefore, 3);
  const text = await (await fetch(`${node.url}/metrics`)).text();
  assert.match(text, /gavel_bids_rejected_total\{reason="below-minimum"\} 1/);
  assert.match(text, /gavel_term [1-9]/);
  assert.ok((await metric(node, "gavel_applied_index")) > 0);
  assert.match(text, /gavel_sqlite_write_seconds_count [1-9]/);
  assert.equal(await metric(cluster.node(3), "gavel_is_leader"), 1);
  // Batches and peer messages, counted where they happen and added to the counters at each scrape.
  const batches = await metric(node, "gavel_batches_total");
  assert.ok(batches > 0);
  assert.ok((await metric(node, "gavel_batch_inputs_total")) >= batches);
  const received = async () =>
    Number(
      /gavel_peer_messages_total\{direction="received",type="append"\} (\d+)/.exec(
        await (await fetch(`${node.url}/metrics`)).text(),
      )?.[1],
    );
  const appendsBefore = await received();
  assert.ok(appendsBefore > 0, "a follower has stepped appends");
  await waitFor(
    "node 1 to step more appends (heartbeats)",
    5000,
    async () => (await received()) > appendsBefore,
  );
  assert.ok((await metric(node, "gavel_batches_total")) > batches);
  const leaderText = await (await fetch(`${cluster.node(3).url}/metrics`)).text();
  assert.match(leaderText, /gavel_peer_messages_total\{direction="sent",type="append"\} [1-9]/);
});

test("SIGTERM of the leader hands leadership over without a failed request", async (t) => {
  const cluster = await TestCluster.start([1, 2, 3], "sigterm");
  t.after(() => cluster.destroy());
  await cluster.waitForLeader(3, 15_000);
  const seller = await register(cluster.node(1), "sam");
  const buyer = await register(cluster.node(2), "ann");
  const auctionId = await createAuction(cluster.node(1), seller);
  let amount = 1000;
  const statuses: number[] = [];
  let stop = false;
  const load = (async () => {
    while (!stop) {
      amount += 100;
      const node = cluster.node(1 + ((amount / 100) % 2));
      const response = await http(`${node.url}/api/auctions/${auctionId}/bids`, {
        token: buyer,
        body: { amount, bidId: `s${amount}` },
      });
      statuses.push(response.status);
    }
  })();
  await waitFor("some bids", 5000, () => statuses.length >= 10);
  const killed = Date.now();
  await cluster.node(3).kill("SIGTERM");
  await cluster.waitForLeader(2, 9000);
  t.diagnostic(`node 2 leads ${Date.now() - killed} ms after SIGTERM`);
  const countAtHandover = statuses.length;
  await waitFor("more bids after the hand-over", 5000, () => statuses.length >= countAtHandover + 10);
  stop = true;
  await load;
  const failed = statuses.filter((status) => status !== 201);
  assert.deepEqual(failed, [], `${statuses.length} bids, none failed`);
  const views = await Promise.all(
    cluster.running().map((node) => http(`${node.url}/api/auctions/${auctionId}`)),
  );
  for (const view of views) assert.equal(view.body["bidCount"], statuses.length);
});

test("a backup restored into a new cluster holds the same auctions", async (t) => {
  const cluster = await TestCluster.start([1, 2, 3], "backup");
  t.after(() => cluster.destroy());
  await cluster.waitForLeader(3, 15_000);
  const seller = await register(cluster.node(1), "sam");
  const buyer = await register(cluster.node(1), "ann");
  const auctions = [
    await createAuction(cluster.node(1), seller, "Lamp"),
    await createAuction(cluster.node(2), seller, "Vase"),
  ];
  for (const [k, auctionId] of auctions.entries()) {
    const response = await http(`${cluster.node(2).url}/api/auctions/${auctionId}/bids`, {
      token: buyer,
      body: { amount: 1500 + k, bidId: `b${k}` },
    });
    assert.equal(response.status, 201);
  }
  const folder = mkdtempSync(path.join(tmpdir(), "gavel-backup-"));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const file = path.join(folder, "cluster.backup");
  const backup = await runCli(["backup", "--node", cluster.node(1).url, file]);
  assert.equal(backup.code, 0, backup.output);
  assert.match(backup.output, /2 auctions/);
  assert.equal((JSON.parse(readFileSync(file, "utf8")) as { format: string }).format, "gavel-backup");
  const restored = await TestCluster.start([], "restored");
  t.after(() => restored.destroy());
  const fresh = await restored.add(7);
  await fresh.start(["--restore", file]);
  await waitFor("the restored node to lead", 10_000, async () => (await fresh.view()).leader === 7);
  for (const [k, auctionId] of auctions.entries()) {
    const before = await http(`${cluster.node(1).url}/api/auctions/${auctionId}`);
    const after = await http(`${fresh.url}/api/auctions/${auctionId}`);
    assert.equal(after.status, 200);
    assert.deepEqual({ ...after.body, owner: null }, { ...before.body, owner: null }, `auction ${k}`);
  }
  const stillKnown = await http(`${fresh.url}/api/auctions/${auctions[0]}/bids`, {
    token: buyer,
    body: { amount: 2000, bidId: "after" },
  });
  assert.equal(stillKnown.status, 201, "users and their tokens came along; the auction found a new owner");
});

test("force-new-cluster brings back a node whose majority is gone for good", async (t) => {
  const cluster = await TestCluster.start([1, 2, 3], "force");
  t.after(() => cluster.destroy());
  await cluster.waitForLeader(3, 15_000);
  const seller = await register(cluster.node(1), "sam");
  const auctionId = await createAuction(cluster.node(1), seller);
  await waitFor(
    "node 1 to hold the auction",
    5000,
    async () => (await http(`${cluster.node(1).url}/api/auctions/${auctionId}`)).status === 200,
  );
  await Promise.all([1, 2, 3].map((id) => cluster.node(id).kill("SIGKILL")));
  const node = cluster.node(1);
  await node.start(["--force-new-cluster"]);
  assert.match(node.output, /FORCED A NEW ONE-NODE CLUSTER/);
  await waitFor("node 1 to lead alone", 10_000, async () => (await node.view()).leader === 1);
  const view = await http(`${node.url}/api/auctions/${auctionId}`);
  assert.equal(view.status, 200);
});

for (const flag of ["--unsafe-no-fsync", "--unsafe-no-fsync-wait"]) {
  test(`${flag} warns at start; a killed process still loses nothing it acknowledged`, async (t) => {
    const cluster = await TestCluster.start([], flag.slice(2));
    t.after(() => cluster.destroy());
    const node = await cluster.add(1);
    await node.start([flag]);
    await waitFor("the warning", 5000, () => node.output.includes(`UNSAFE: ${flag}:`));
    await cluster.waitForLeader(1, 15_000);
    const seller = await register(node, "sam");
    const auctionId = await createAuction(node, seller);
    // The commits are in the OS's page cache before the answer: a SIGKILL of the process loses none.
    await node.kill("SIGKILL");
    await node.start([flag]);
    await cluster.waitForLeader(1, 15_000);
    assert.equal((await http(`${node.url}/api/auctions/${auctionId}`)).status, 200);
  });
}

test("gavel demo comes up and answers", async (t) => {
  const child = spawn(process.execPath, [main, "demo", "--nodes", "3"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  t.after(() => child.kill("SIGKILL"));
  const url = await waitFor(
    "the demo to print its URLs",
    10_000,
    () => /node 1: (http:\/\/[0-9.:]+)\//.exec(output)?.[1],
  );
  const view = await waitFor("the demo cluster to elect node 3", 20_000, async () => {
    const body = (await http(`${url}/api/cluster`)).body as { leader: number | null; nodes: unknown[] };
    return body.leader === 3 && body.nodes.length === 3 ? body : undefined;
  });
  assert.equal(view.nodes.length, 3);
  assert.match(output, /\[n1\]/, "output is prefixed by node");
  child.kill("SIGINT");
  assert.equal(await exited, 0);
});

test("a demo killed by SIGKILL takes its nodes with it", async (t) => {
  const child = spawn(process.execPath, [main, "demo", "--nodes", "2"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  t.after(() => child.kill("SIGKILL"));
  const pids = await waitFor("both demo nodes to print their pids", 20_000, () => {
    const found = [...output.matchAll(/gavel node \d+ \(pid (\d+)\)/g)].map((match) => Number(match[1]));
    return found.length === 2 ? found : undefined;
  });
  // Nodes that share the machine's cores run with V8's garbage collector on their own thread.
  for (const pid of pids) {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    for (const flag of colocatedNodeFlags) assert.ok(args.includes(flag), `node ${pid}: ${args.join(" ")}`);
  }
  child.kill("SIGKILL");
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  await waitFor("the demo's nodes to stop", 20_000, () => pids.every((pid) => !alive(pid)));
  // A demo killed by SIGKILL cannot remove its data dir: the test does, once its nodes are gone.
  const root = /data in (\S+)\)/.exec(output)?.[1] ?? "";
  assert.ok(root.includes("gavel-demo-"), `the demo names its data dir: ${output.slice(0, 300)}`);
  rmSync(root, { recursive: true, force: true });
});
