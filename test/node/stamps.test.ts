// A real 3-node cluster (about 10 s): the leader stamps entries with the time it appends them, so an
// auction created "now" takes a bid sent the moment its creation is acknowledged, through any node.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TestCluster, http, register } from "./harness.js";

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.start([1, 2, 3], "stamps");
  await cluster.waitForLeader(3, 30_000);
});

after(async () => {
  await cluster.destroy();
});

test("a bid sent right after an auction's creation is acknowledged is accepted, whichever node takes it", async () => {
  const nodes = [1, 2, 3].map((id) => cluster.node(id));
  const seller = await register(nodes[0]!, "sam");
  const bidder = await register(nodes[1]!, "ann");
  const refused: string[] = [];
  for (let round = 0; round < 30; round++) {
    const created = await http(`${nodes[round % 3]!.url}/api/auctions`, {
      body: { title: `Lot ${round}`, startingPrice: 100, minIncrement: 1, durationMs: 600_000 },
      token: seller,
    });
    assert.equal(created.status, 201);
    const placed = await http(
      `${nodes[(round + 1) % 3]!.url}/api/auctions/${String(created.body["id"])}/bids`,
      {
        body: { amount: 100, bidId: `b${round}` },
        token: bidder,
      },
    );
    if (placed.status !== 201)
      refused.push(`round ${round}: ${placed.status} ${JSON.stringify(placed.body)}`);
  }
  assert.deepEqual(refused, []);
});
