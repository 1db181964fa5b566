// The CLI carrying on when nodes die, against a real 3-node cluster: a bid whose node is killed (by
// PID) while its answer is in flight, and one whose node was killed just before, each land exactly
// once (the retry carries the same bidId); a watch follows its auction onto another node when the
// node streaming to it dies; and `gavel status` warns that the cluster cannot lose another node.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { http, waitFor } from "../node/harness.js";
import type { TestCluster, TestNode } from "../node/harness.js";
import { freshConfigDir, gavel, gavelOk, startCluster, startGavel, startNode } from "./support.js";

let cluster: TestCluster;
const seller = { configDir: freshConfigDir() };
const bidder = { configDir: freshConfigDir() };
const watcher = { configDir: freshConfigDir() };

before(async () => {
  cluster = await startCluster([1, 2, 3], "cli-failover");
  await cluster.waitForLeader(3, 60_000);
  await gavelOk(["register", "sam", "--no-password", "--node", cluster.node(1).url], seller);
  await gavelOk(["register", "ann", "--no-password", "--node", cluster.node(2).url], bidder);
  await gavelOk(["register", "wes", "--no-password", "--node", cluster.node(2).url], watcher);
});

after(() => cluster?.destroy());

async function createAuction(): Promise<string> {
  const out = await gavelOk(
    ["create", "--title", "Clock", "--start", "10.00", "--increment", "0.50", "--duration", "30m", "--json"],
    seller,
  );
  return (JSON.parse(out) as { id: string }).id;
}

/** The auction's bids as `node` reads them, once it can (a read waits for a leader: 503 meanwhile). */
async function bidsOf(node: TestNode, auctionId: string): Promise<{ bidId: string; amount: number }[]> {
  return waitFor(`node ${node.id} to read auction ${auctionId}`, 30_000, async () => {
    const response = await http(`${node.url}/api/auctions/${auctionId}`);
    if (response.status === 503 || response.status === 504) return undefined;
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body["bids"] as { bidId: string; amount: number }[];
  });
}

/**
 * An HTTP proxy standing in front of `target`: it passes every request through, except that for a
 * bid it waits for the node's answer, then kills the node by its PID and drops the connection, so
 * the CLI never hears the answer of a bid the cluster has accepted.
 */
async function killingProxy(
  target: TestNode,
): Promise<{ url: string; server: Server; killed: () => boolean }> {
  let killed = false;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = chunks.length === 0 ? undefined : Buffer.concat(chunks);
      const headers = Object.fromEntries(
        Object.entries(request.headers).filter(([name]) =>
          ["authorization", "content-type", "accept"].includes(name),
        ),
      ) as Record<string, string>;
      const upstream = await fetch(`${target.url}${request.url}`, { method: request.method, headers, body });
      const text = await upstream.text();
      if (request.method === "POST" && /\/bids$/.test(request.url ?? "") && !killed) {
        killed = true;
        await target.kill("SIGKILL");
        request.socket.destroy();
        return;
      }
      response.writeHead(upstream.status, {
        "content-type": upstream.headers.get("content-type") ?? "text/plain",
      });
      response.end(text);
    })().catch(() => request.socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, killed: () => killed };
}

test(
  "a bid whose node dies with the answer in flight lands exactly once, retried with the same bidId",
  { timeout: 180_000 },
  async () => {
    const auctionId = await createAuction();
    const leader = cluster.node(3);
    const proxy = await killingProxy(leader);
    try {
      const result = await gavel(["bid", auctionId, "11.00", "--node", proxy.url, "--json"], bidder);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(
        proxy.killed() && !leader.running,
        "the node was killed while the bid's answer was in flight",
      );
      const answer = JSON.parse(result.stdout) as { bidId: string; amount: number };
      assert.match(result.stderr, new RegExp(`retrying .* with the same bid id ${answer.bidId}`));
      const bids = await bidsOf(cluster.node(1), auctionId);
      assert.deepEqual(
        bids.map((line) => [line.bidId, line.amount]),
        [[answer.bidId, 1100]],
        "exactly one bid",
      );
    } finally {
      proxy.server.close();
      // Node 3 comes back for the next test, also after a failure here; the cluster is whole again.
      if (!leader.running) await startNode(leader);
      await cluster.waitForLeader(3, 30_000);
    }
  },
);

test("a bid whose node was killed just before goes to another node, once", { timeout: 180_000 }, async () => {
  const auctionId = await createAuction();
  await gavelOk(["bid", auctionId, "10.00"], bidder);
  const victim = cluster.node(1);
  await victim.kill("SIGKILL");
  const result = await gavel(["bid", auctionId, "12.00", "--node", victim.url, "--json"], bidder);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, new RegExp(`${victim.url} failed \\(connection refused`));
  const answer = JSON.parse(result.stdout) as { bidId: string };
  const bids = await bidsOf(cluster.node(2), auctionId);
  assert.equal(bids.filter((line) => line.bidId === answer.bidId).length, 1);
  assert.deepEqual(
    bids.map((line) => line.amount),
    [1000, 1200],
  );
});

test("gavel status warns when one more failure would stop the cluster", { timeout: 180_000 }, async () => {
  // Node 1 is down (previous test): 2 of 3 voters alive, a majority is 2.
  const out = await waitFor("gavel status to warn", 20_000, async () => {
    const result = await gavel(["status", "--node", cluster.node(2).url], bidder);
    return result.stdout.includes("WARNING") ? result.stdout : undefined;
  });
  assert.match(
    out,
    /WARNING: the cluster cannot survive one more failure: 2 of 3 voters alive, a majority is 2; down: node 1/,
  );
  assert.match(out, /1\s+worker\s+(suspect|dead)/);
  const view = JSON.parse(await gavelOk(["status", "--json"], bidder)) as { canLoseOne: boolean };
  assert.equal(view.canLoseOne, false);
});

test(
  "a watch moves to another node when the node streaming to it dies, and still shows new bids",
  { timeout: 180_000 },
  async () => {
    await startNode(cluster.node(1));
    await cluster.waitForLeader(3, 30_000);
    const auctionId = await createAuction();
    const streaming = cluster.node(2);
    const watch = startGavel(["watch", auctionId, "--via", "websocket", "--node", streaming.url], watcher);
    await watch.waitForOutput("the auction", 20_000, (out) => out.includes(auctionId));
    await waitFor("the stream to be subscribed", 10_000, () =>
      watch.stderr.includes(`live from the WebSocket stream of ${streaming.url}`),
    );
    await streaming.kill("SIGKILL");
    await gavelOk(["bid", auctionId, "10.50", "--node", cluster.node(1).url], bidder);
    await watch.waitForOutput("the bid placed after its node died", 30_000, (out) =>
      out.includes(`${auctionId} "Clock": price 10.50 EUR, ann leads (1 bid)`),
    );
    assert.match(
      watch.stderr,
      new RegExp(`lost the stream at ${streaming.url}; reconnecting to another node`),
    );
    assert.match(watch.stderr, /live from the WebSocket stream of .* \(resumed where it stopped\)/);
    assert.equal(await watch.interrupt(), 0);
  },
);
