// Cluster keys between real node processes: a keyed three-node cluster, then two intruders on the
// same cluster name and discovery port, each with a higher id than every member: one with the
// wrong key, one with none. They must stay out: no membership, no vote, no leadership, no entry;
// the cluster keeps its leader and term, counts what it refused, and keeps taking bids.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { http, register, TestCluster, waitFor } from "./harness.js";
import type { TestNode } from "./harness.js";

const key = "keys-test-cluster-key-6c1f0a9e83b2d475";
const wrongKey = "keys-test-wrong-key-2f9d8c7b6a5e4d31";

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start([], "keys");
  for (const id of [1, 2, 3]) await cluster.add(id);
  await Promise.all([1, 2, 3].map((id) => cluster.node(id).start(["--cluster-key", key])));
  await cluster.waitForLeader(3, 30_000);
});

after(() => cluster?.destroy());

/** The sum of the adapter drop counters of `node` for these reasons, from its /metrics. */
async function drops(node: TestNode, reasons: string[]): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    const match = /^gavel_adapter_messages_dropped\{reason="([a-z-]+)"\} (\d+)/.exec(line);
    if (match !== null && reasons.includes(match[1]!)) total += Number(match[2]);
  }
  return total;
}

test("a higher-id node with the wrong key, and one with no key, stay out; the cluster keeps its leader", async () => {
  const initial = await cluster.node(3).view();
  const seller = await register(cluster.node(1), "sam");
  const buyer = await register(cluster.node(2), "ann");
  const created = await http(`${cluster.node(1).url}/api/auctions`, {
    token: seller,
    body: { title: "Lamp", startingPrice: 1000, minIncrement: 100, durationMs: 600_000 },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const auctionId = created.body["id"] as string;

  const wrong = await cluster.add(9);
  const keyless = await cluster.add(8);
  // Each is also given a member as a static peer, so it talks to the members over TCP as well as
  // by broadcast beacons.
  const peers = ["--peers", `127.0.0.1:${cluster.node(1).port}`];
  await Promise.all([wrong.start(["--cluster-key", wrongKey, ...peers]), keyless.start(peers)]);

  // The intruders keep announcing themselves (a beacon every 500 ms each); wait until every member
  // has refused plenty from both, well past the discovery window and several election timeouts.
  for (const id of [1, 2, 3]) {
    await waitFor(`node ${id} to refuse 10 beacons of the wrong key and 10 unsigned`, 60_000, async () => {
      const node = cluster.node(id);
      const wrongKeyed = await drops(node, ["beacon-unknown-key", "beacon-bad-signature"]);
      const unsigned = await drops(node, ["beacon-unsigned"]);
      return wrongKeyed >= 10 && unsigned >= 10;
    });
  }
  // Node 1, their static peer, also refused their frames over TCP.
  assert.ok((await drops(cluster.node(1), ["unknown-key", "bad-signature"])) > 0, "wrong-key frames refused");
  assert.ok((await drops(cluster.node(1), ["unsigned"])) > 0, "unsigned frames refused");

  for (const id of [1, 2, 3]) {
    const view = await cluster.node(id).view();
    assert.equal(view.leader, 3, `node ${id} still follows node 3`);
    assert.equal(view.term, initial.term, `node ${id}: no election happened`);
    assert.deepEqual(
      view.nodes.map((item) => item.id).sort(),
      [1, 2, 3],
      `node ${id}: the intruders are not members`,
    );
  }
  for (const intruder of [wrong, keyless]) {
    const view = await intruder.view();
    assert.ok(
      !view.nodes.some((item) => [1, 2, 3].includes(item.id)),
      `node ${intruder.id} knows none of the members: ${JSON.stringify(view)}`,
    );
    assert.equal(
      (await http(`${intruder.url}/api/auctions/${auctionId}`)).status === 200,
      false,
      `node ${intruder.id} never saw the cluster's auction`,
    );
  }

  // The intruders refuse the members' signed messages too, and the cluster keeps taking bids.
  assert.ok(
    (await drops(keyless, ["beacon-unexpected-signature", "unexpected-signature"])) > 0,
    "the keyless node refused the members' signed messages",
  );
  const bid = await http(`${cluster.node(1).url}/api/auctions/${auctionId}/bids`, {
    token: buyer,
    body: { amount: 1200, bidId: "k1" },
  });
  assert.equal(bid.status, 201, JSON.stringify(bid.body));
});
