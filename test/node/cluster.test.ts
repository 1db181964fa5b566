// Real node processes on loopback: discovery and the highest-ID leader, failover of the leader and
// of a worker without losing an acknowledged bid, exactly-once closing at the deadline, a node that
// restarts and catches up, a whole-cluster restart, and garbage on every socket. Time limits are
// about three times the targets (the benchmark measures the targets themselves).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { http, metric, register, TestCluster, waitFor } from "./harness.js";
import type { TestNode } from "./harness.js";

async function createAuction(
  node: TestNode,
  token: string,
  body: Record<string, unknown> = {},
): Promise<string> {
  const response = await http(`${node.url}/api/auctions`, {
    token,
    body: { title: "Lamp", startingPrice: 1000, minIncrement: 100, durationMs: 600_000, ...body },
  });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body["id"] as string;
}

async function bid(node: TestNode, token: string, auctionId: string, amount: number, bidId: string) {
  return http(`${node.url}/api/auctions/${auctionId}/bids`, { token, body: { amount, bidId } });
}

/** Retries a bid with the same bidId until it gets a definite answer (as a client should after 503/504). */
async function bidUntilDefinite(
  nodes: () => TestNode[],
  token: string,
  auctionId: string,
  amount: number,
  bidId: string,
) {
  return waitFor(`a definite answer to ${bidId}`, 20_000, async () => {
    for (const node of nodes()) {
      try {
        const response = await bid(node, token, auctionId, amount, bidId);
        if (response.status !== 503 && response.status !== 504) return response;
      } catch {
        // that node is down; try the next
      }
    }
    return undefined;
  });
}

test("three nodes find each other and the highest ID leads", async (t) => {
  const cluster = await TestCluster.start([1, 2, 3], "three");
  t.after(() => cluster.destroy());
  const started = Date.now();
  const view = await cluster.waitForLeader(3, 15_000);
  t.diagnostic(`formed in ${Date.now() - started} ms`);
  assert.deepEqual(
    view.nodes.map((node) => [node.id, node.role, node.status]),
    [
      [1, "worker", "alive"],
      [2, "worker", "alive"],
      [3, "leader", "alive"],
    ],
  );
});

test("five nodes find each other and the highest ID leads", async (t) => {
  const cluster = await TestCluster.start([2, 5, 1, 4, 3], "five");
  t.after(() => cluster.destroy());
  const started = Date.now();
  await cluster.waitForLeader(5, 15_000);
  t.diagnostic(`formed in ${Date.now() - started} ms`);
});

test("kill -9 of the leader: the highest remaining ID leads, and every acknowledged bid is still there", async (t) => {
  const cluster = await TestCluster.start([1, 2, 3], "leader-kill");
  t.after(() => cluster.destroy());
  await cluster.waitForLeader(3, 15_000);
  const seller = await register(cluster.node(1), "sam");
  const buyer = await register(cluster.node(2), "ann");
  const auctionId = await createAuction(cluster.node(1), seller);
  const acknowledged: number[] = [];
  for (let k = 1; k <= 5; k++) {
    const response = await bid(cluster.node(1 + (k % 3)), buyer, auctionId, 1000 + 100 * k, `before-${k}`);
    assert.equal(response.status, 201);
    acknowledged.push(1000 + 100 * k);
  }
  await cluster.node(3).kill("SIGKILL");
  const killed = Date.now();
  await cluster.waitForLeader(2, 9000);
  t.diagnostic(`node 2 leads ${Date.now() - killed} ms after the kill`);
  const after = await bidUntilDefinite(() => cluster.running(), buyer, auctionId, 2000, "after-kill");
  assert.equal(after.status, 201);
  const view = await http(`${cluster.node(1).url}/api/auctions/${auctionId}`);
  const amounts = (view.body["bids"] as { amount: number }[]).map((line) => line.amount);
  assert.deepEqual(amounts, [...acknowledged, 2000]);
});

test("kill -9 of a worker: its auctions move to another worker, keep taking bids, and close exactly once at the deadline", async (t) => {
  const cluster = await TestCluster.start([1, 2, 3], "worker-kill");
  t.after(() => cluster.destroy());
  await cluster.waitForLeader(3, 15_000);
  const seller = await register(cluster.node(3), "sam");
  const buyer = await register(cluster.node(3), "ann");
  const auctionId = await createAuction(cluster.node(3), seller, { durationMs: 12_000, softClose: null });
  const owner = (await http(`${cluster.node(3).url}/api/auctions/${auctionId}`)).body["owner"] as number;
  assert.ok(owner === 1 || owner === 2, `owned by a worker, not the leader (owner ${owner})`);
  const other = owner === 1 ? 2 : 1;
  assert.equal((await bid(cluster.node(other), buyer, auctionId, 1100, "w1")).status, 201);
  await cluster.node(owner).kill("SIGKILL");
  const killed = Date.now();
  // Sent now, this bid goes to the dead owner; once the auction moves it is routed again to the new
  // owner and acknowledged, rather than left to its 5 s deadline (504 outcome-unknown).
  const inFlight = bid(cluster.node(3), buyer, auctionId, 1200, "w-in-flight").then((response) => ({
    response,
    answeredMs: Date.now() - killed,
  }));
  await waitFor("the auction to move to another worker", 15_000, async () => {
    const view = await http(`${cluster.node(3).url}/api/auctions/${auctionId}`);
    return view.body["owner"] === other;
  });
  t.diagnostic(`reassigned ${Date.now() - killed} ms after the kill`);
  const { response: first, answeredMs } = await inFlight;
  t.diagnostic(`the bid sent at the kill answered ${answeredMs} ms after it`);
  assert.equal(first.status, 201, JSON.stringify(first.body));
  const moved = await bidUntilDefinite(() => cluster.running(), buyer, auctionId, 1300, "w2");
  assert.equal(moved.status, 201);
  const closed = await waitFor("the auction to close", 30_000, async () => {
    const view = await http(`${cluster.node(other).url}/api/auctions/${auctionId}`);
    return view.body["status"] === "closed" ? view.body : undefined;
  });
  assert.deepEqual(closed["outcome"], { result: "sold", winner: "ann", price: 1300, reason: "deadline" });
  for (const node of cluster.running()) {
    const view = await http(`${node.url}/api/auctions/${auctionId}`);
    assert.deepEqual(view.body["outcome"], closed["outcome"], `node ${node.id} agrees`);
    assert.equal(view.body["version"], closed["version"], "one close event everywhere");
  }
});

test("a restarted node rejoins and catches up", async (t) => {
  const cluster = await TestCluster.start([1, 2, 3], "restart");
  t.after(() => cluster.destroy());
  await cluster.waitForLeader(3, 15_000);
  const seller = await register(cluster.node(2), "sam");
  const buyer = await register(cluster.node(2), "ann");
  await cluster.node(1).kill("SIGKILL");
  const auctionId = await createAuction(cluster.node(2), seller);
  for (let k = 1; k <= 20; k++) {
    const response = await bidUntilDefinite(
      () => cluster.running(),
      buyer,
      auctionId,
      1000 + 100 * k,
      `r${k}`,
    );
    assert.equal(response.status, 201);
  }
  await cluster.node(1).start();
  await waitFor("node 1 to catch up", 15_000, async () => {
    const view = await http(`${cluster.node(1).url}/api/auctions/${auctionId}`);
    return view.status === 200 && view.body["price"] === 3000;
  });
  await cluster.waitForLeader(3, 15_000);
});

test("a restarted node catches up on entries its leader no longer holds in memory and reads back from disk", async (t) => {
  // A cache of 16 entries and no snapshot: what the follower missed can only come from the disk.
  const saved = { ...process.env };
  process.env["GAVEL_LOG_CACHE_ENTRIES"] = "16";
  process.env["GAVEL_SNAPSHOT_ENTRIES"] = "1000000000";
  t.after(() => {
    process.env = saved;
  });
  const cluster = await TestCluster.start([1, 2, 3], "released");
  t.after(() => cluster.destroy());
  await cluster.waitForLeader(3, 15_000);
  const seller = await register(cluster.node(3), "sam");
  const buyer = await register(cluster.node(3), "ann");
  await waitFor("node 1 to apply the registrations", 10_000, async () =>
    (await metric(cluster.node(1), "gavel_applied_index")) >=
    (await metric(cluster.node(3), "gavel_commit_index"))
      ? true
      : undefined,
  );
  const missedFrom = (await metric(cluster.node(1), "gavel_applied_index")) + 1;
  await cluster.node(1).kill("SIGKILL");
  const auctionId = await createAuction(cluster.node(3), seller);
  for (let k = 1; k <= 60; k++) {
    const response = await bidUntilDefinite(
      () => cluster.running(),
      buyer,
      auctionId,
      1000 + 100 * k,
      `d${k}`,
    );
    assert.equal(response.status, 201);
  }
  const leader = cluster.node(3);
  const commit = await metric(leader, "gavel_commit_index");
  const held = await metric(leader, "gavel_log_entries_in_memory");
  assert.ok(
    held > 0 && held < commit + 1 - missedFrom,
    `the leader holds ${held} entries; node 1 misses ${commit + 1 - missedFrom}`,
  );
  await cluster.node(1).start();
  await waitFor("node 1 to catch up", 15_000, async () => {
    const view = await http(`${cluster.node(1).url}/api/auctions/${auctionId}`);
    return view.status === 200 && view.body["price"] === 7000;
  });
  assert.equal((await metric(cluster.node(1), "gavel_applied_index")) >= commit, true);
});

test("every node killed with SIGKILL and restarted: nothing acknowledged is lost", async (t) => {
  const cluster = await TestCluster.start([1, 2, 3], "all-kill");
  t.after(() => cluster.destroy());
  await cluster.waitForLeader(3, 15_000);
  const seller = await register(cluster.node(1), "sam");
  const buyer = await register(cluster.node(1), "ann");
  const auctionId = await createAuction(cluster.node(1), seller);
  const acknowledged: number[] = [];
  for (let k = 1; k <= 10; k++) {
    const response = await bid(cluster.node(1 + (k % 3)), buyer, auctionId, 1000 + 100 * k, `a${k}`);
    if (response.status === 201) acknowledged.push(1000 + 100 * k);
  }
  assert.equal(acknowledged.length, 10);
  await Promise.all([...cluster.nodes.values()].map((node) => node.kill("SIGKILL")));
  await Promise.all([...cluster.nodes.values()].map((node) => node.start()));
  await cluster.waitForLeader(3, 15_000);
  for (const node of cluster.running()) {
    const view = await http(`${node.url}/api/auctions/${auctionId}`);
    assert.equal(view.status, 200, JSON.stringify(view.body));
    const amounts = (view.body["bids"] as { amount: number }[]).map((line) => line.amount);
    assert.deepEqual(amounts, acknowledged, `node ${node.id}`);
  }
  const registered = await bid(cluster.node(2), buyer, auctionId, 5000, "after-restart");
  assert.equal(registered.status, 201, "tokens survive too");
});

test("garbage and oversized datagrams and frames leave the cluster undisturbed", async (t) => {
  const cluster = await TestCluster.start([1, 2, 3], "garbage");
  t.after(() => cluster.destroy());
  const before = await cluster.waitForLeader(3, 15_000);
  const udp = createSocket("udp4");
  await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
  udp.setBroadcast(true);
  const datagrams = [
    Buffer.from("garbage"),
    Buffer.alloc(60_000, 7),
    Buffer.from('{"v":1,"b":{"nodeId":-1}}'),
    Buffer.from('{"v":99,"b":{}}'),
  ];
  for (const datagram of datagrams) {
    await new Promise<void>((resolve) =>
      udp.send(datagram, cluster.discoveryPort, "127.255.255.255", () => resolve()),
    );
  }
  udp.close();
  for (const node of cluster.running()) {
    await new Promise<void>((resolve) => {
      const socket = connect(node.port, "127.0.0.1", () => {
        socket.write(Buffer.from([0, 0, 0, 5, 1, 2, 3, 4, 5]));
        socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
        socket.end();
      });
      socket.on("close", () => resolve());
      socket.on("error", () => resolve());
    });
  }
  const seller = await register(cluster.node(1), "sam");
  const buyer = await register(cluster.node(2), "ann");
  const auctionId = await createAuction(cluster.node(1), seller);
  assert.equal((await bid(cluster.node(2), buyer, auctionId, 1200, "g1")).status, 201);
  const after = await cluster.waitForLeader(3, 5000);
  assert.equal(after.term, before.term, "no election was triggered");
});
