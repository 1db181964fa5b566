// The full client API against a real 3-node cluster: users, passwords and sessions; auctions
// listed, paged, shown and cancelled; bids validated and refused with the right codes; rate
// limits; CORS for the cluster's own nodes; the OpenAPI document; and the live stream, resumed on
// another node without a gap or a duplicate.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import WebSocket from "ws";
import { http, TestCluster, waitFor } from "../node/harness.js";
import type { TestNode } from "../node/harness.js";

let cluster: TestCluster;
let one: TestNode;
let two: TestNode;

before(async () => {
  cluster = await TestCluster.start([1, 2, 3], "api");
  await cluster.waitForLeader(3, 15_000);
  one = cluster.node(1);
  two = cluster.node(2);
});

after(() => cluster.destroy());

async function user(node: TestNode, name: string, password?: string): Promise<string> {
  const response = await http(`${node.url}/api/users`, {
    body: password === undefined ? { name } : { name, password },
  });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body["token"] as string;
}

async function auction(node: TestNode, token: string, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await http(`${node.url}/api/auctions`, {
    token,
    body: { title: "Lamp", startingPrice: 1000, minIncrement: 100, durationMs: 600_000, ...extra },
  });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body["id"] as string;
}

function bid(node: TestNode, token: string, auctionId: string, body: Record<string, unknown>) {
  return http(`${node.url}/api/auctions/${auctionId}/bids`, { token, body });
}

test("register with a password, log in for a session that expires, log out", async () => {
  await user(one, "pat", "correct horse");
  const login = await http(`${two.url}/api/sessions`, { body: { name: "pat", password: "correct horse" } });
  assert.equal(login.status, 201);
  assert.ok((login.body["expiresAt"] as number) > Date.now() + 23 * 3600_000);
  const token = login.body["token"] as string;
  assert.deepEqual((await http(`${one.url}/api/me`, { token })).body, { name: "pat" });
  const wrong = await http(`${one.url}/api/sessions`, { body: { name: "pat", password: "wrong horse" } });
  assert.deepEqual([wrong.status, wrong.body["code"]], [401, "bad-credentials"]);
  const nobody = await http(`${one.url}/api/sessions`, { body: { name: "nobody", password: "whatever1" } });
  assert.equal(nobody.status, 401);
  assert.equal((await http(`${one.url}/api/sessions/current`, { method: "DELETE", token })).status, 204);
  const loggedOut = async () => (await http(`${two.url}/api/me`, { token })).status === 401;
  await waitFor("the logout to reach node 2 (a logged-out token stops working everywhere)", 2000, loggedOut);
  const short = await http(`${one.url}/api/users`, { body: { name: "tim", password: "short" } });
  assert.deepEqual([short.status, short.body["code"]], [400, "invalid-body"]);
  const legacy = await user(one, "legacy");
  assert.equal(
    (await http(`${two.url}/api/me`, { token: legacy })).status,
    200,
    "registering without a password still works",
  );
});

test("auctions are listed by filter, newest first, in pages; a show pages the bids", async () => {
  const seller = await user(one, "lister");
  const buyer = await user(two, "looker");
  const ids: string[] = [];
  for (let k = 0; k < 3; k++) ids.push(await auction(one, seller, { title: `Item ${k}` }));
  for (let k = 1; k <= 5; k++)
    assert.equal((await bid(two, buyer, ids[0]!, { amount: 1000 + 100 * k, bidId: `p${k}` })).status, 201);
  const page = await http(`${two.url}/api/auctions?filter=open&limit=2&offset=0`);
  assert.equal(page.status, 200);
  assert.equal((page.body["items"] as unknown[]).length, 2);
  assert.ok((page.body["total"] as number) >= 3);
  const mine = await http(`${one.url}/api/auctions?filter=mine&limit=50`, { token: buyer });
  assert.deepEqual(
    (mine.body["items"] as { id: string }[]).map((item) => item.id),
    [ids[0]],
  );
  const mineAsSeller = await http(`${one.url}/api/auctions?filter=mine`, { token: seller });
  assert.deepEqual(
    (mineAsSeller.body["items"] as { id: string }[]).map((item) => item.id),
    [...ids].reverse(),
  );
  assert.equal((await http(`${one.url}/api/auctions?filter=mine`)).status, 401);
  const shown = await http(`${one.url}/api/auctions/${ids[0]}?bidsOffset=2&bidsLimit=2`);
  assert.deepEqual(
    (shown.body["bids"] as { bidId: string }[]).map((line) => line.bidId),
    ["p3", "p4"],
  );
  assert.equal(shown.body["bidsTotal"], 5);
  assert.equal((await http(`${one.url}/api/auctions?filter=bogus`)).status, 400);
});

test("only the seller cancels, and only before the first bid", async () => {
  const seller = await user(one, "canceller");
  const other = await user(one, "other");
  const empty = await auction(one, seller);
  const refused = await http(`${two.url}/api/auctions/${empty}/cancel`, { method: "POST", token: other });
  assert.deepEqual([refused.status, refused.body["code"]], [403, "not-seller"]);
  const cancelled = await http(`${two.url}/api/auctions/${empty}/cancel`, { method: "POST", token: seller });
  assert.deepEqual([cancelled.status, cancelled.body["status"]], [200, "cancelled"]);
  const again = await http(`${two.url}/api/auctions/${empty}/cancel`, { method: "POST", token: seller });
  assert.equal(again.status, 410);
  const withBid = await auction(one, seller);
  assert.equal((await bid(one, other, withBid, { amount: 1000, bidId: "first" })).status, 201);
  const late = await http(`${two.url}/api/auctions/${withBid}/cancel`, { method: "POST", token: seller });
  assert.deepEqual([late.status, late.body["code"]], [409, "has-bids"]);
  const gone = await bid(one, other, empty, { amount: 1000, bidId: "x" });
  assert.deepEqual([gone.status, gone.body["code"]], [410, "auction-cancelled"]);
});

test("bad bids get a 400 saying what is wrong; a seller cannot bid on their own auction", async () => {
  const seller = await user(one, "strict-seller");
  const buyer = await user(one, "strict-buyer");
  const id = await auction(one, seller);
  const cases: [Record<string, unknown>, string][] = [
    [{ amount: 12.5, bidId: "a" }, "invalid-amount"],
    [{ amount: -100, bidId: "a" }, "invalid-amount"],
    [{ amount: 10 ** 15, bidId: "a" }, "invalid-amount"],
    [{ amount: "1000", bidId: "a" }, "invalid-amount"],
    [{ amount: 1000, bidId: "a", bidder: "someone-else" }, "invalid-body"],
    [{ amount: 1000, bidId: "has space" }, "invalid-body"],
    [{ amount: 1000 }, "invalid-body"],
  ];
  for (const [body, code] of cases) {
    const response = await bid(one, buyer, id, body);
    assert.deepEqual([response.status, response.body["code"]], [400, code], JSON.stringify(body));
    assert.match(String(response.body["detail"]), /\w/);
  }
  const own = await bid(one, seller, id, { amount: 1000, bidId: "own" });
  assert.deepEqual([own.status, own.body["code"]], [403, "own-auction"]);
  const big = await fetch(`${one.url}/api/auctions/${id}/bids`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${buyer}` },
    body: JSON.stringify({ amount: 1000, bidId: "big", pad: "x".repeat(100_000) }),
  });
  assert.equal(big.status, 413);
  assert.match(big.headers.get("content-type") ?? "", /application\/problem\+json/);
  const proxy = await bid(two, buyer, id, { amount: 1000, bidId: "proxy", max: 5000 });
  assert.deepEqual([proxy.status, proxy.body["price"], proxy.body["leading"]], [201, 1000, true]);
  const reused = await bid(two, buyer, id, { amount: 1200, bidId: "proxy" });
  assert.deepEqual([reused.status, reused.body["code"]], [422, "bid-id-reused"]);
});

test("answers about an auction name its owner's API URL; bids sent there are taken without a hop", async () => {
  const seller = await user(one, "owner-seller");
  const bidder = await user(two, "owner-bidder");
  const id = await auction(one, seller);
  const view = (await http(`${one.url}/api/cluster?assignments=true`)).body;
  const ownerId = (view["assignments"] as Record<string, number>)[id];
  const nodes = view["nodes"] as { id: number; http: string }[];
  const ownerUrl = nodes.find((node) => node.id === ownerId)?.http;
  assert.ok(ownerUrl !== undefined && ownerUrl.startsWith("http://"), `owner ${ownerId} has an API URL`);
  for (const node of [one, two, cluster.node(3)]) {
    const shown = await http(`${node.url}/api/auctions/${id}`);
    assert.equal(shown.headers.get("gavel-owner"), ownerUrl, `GET on node ${node.id}`);
  }
  const notOwner = [one, two, cluster.node(3)].find((node) => node.url !== ownerUrl)!;
  const first = await bid(notOwner, bidder, id, { amount: 1000, bidId: "via-any" });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  assert.equal(first.headers.get("gavel-owner"), ownerUrl);
  const direct = await http(`${ownerUrl}/api/auctions/${id}/bids`, {
    token: bidder,
    body: { amount: 1100, bidId: "direct" },
  });
  assert.equal(direct.status, 201, JSON.stringify(direct.body));
  assert.equal(direct.body["price"], 1100);
  const low = await bid(notOwner, bidder, id, { amount: 1100, bidId: "too-low" });
  assert.equal(low.status, 409);
  assert.equal(low.headers.get("gavel-owner"), ownerUrl, "a refused bid names the owner too");
  const crossOrigin = await fetch(`${ownerUrl}/api/auctions/${id}`, { headers: { origin: notOwner.url } });
  assert.match(crossOrigin.headers.get("access-control-expose-headers") ?? "", /gavel-owner/i);
  const unknown = await http(`${one.url}/api/auctions/000000000000`);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers.get("gavel-owner"), null);
});

test("CORS allows the cluster's own nodes only; the OpenAPI document describes the API", async () => {
  const allowed = await fetch(`${one.url}/api/cluster`, { headers: { origin: two.url } });
  assert.equal(allowed.headers.get("access-control-allow-origin"), two.url);
  const foreign = await fetch(`${one.url}/api/cluster`, { headers: { origin: "http://example.invalid" } });
  assert.equal(foreign.headers.get("access-control-allow-origin"), null);
  const document = (await http(`${one.url}/api/openapi.json`)).body as {
    openapi: string;
    paths: Record<string, unknown>;
  };
  assert.equal(document.openapi, "3.1.0");
  for (const path of [
    "/api/users",
    "/api/sessions",
    "/api/auctions",
    "/api/auctions/{id}/bids",
    "/api/cluster",
  ]) {
    assert.ok(path in document.paths, path);
  }
  const view = (await http(`${one.url}/api/cluster?assignments=true`)).body;
  assert.deepEqual([view["voters"], view["majority"], view["canLoseOne"]], [3, 2, true]);
  assert.equal(typeof view["assignments"], "object");
});

/** A stream client that records everything it receives. */
class StreamClient {
  readonly messages: Record<string, unknown>[] = [];
  private readonly socket: WebSocket;
  readonly open: Promise<void>;

  constructor(node: TestNode) {
    this.socket = new WebSocket(`${node.url.replace("http", "ws")}/api/stream`);
    this.open = new Promise((resolve, reject) => {
      this.socket.once("open", () => resolve());
      this.socket.once("error", reject);
    });
    this.socket.on("message", (data: Buffer, isBinary: boolean) => {
      this.messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
      // A browser hands a binary frame to the page as a Blob, which the page cannot parse as JSON.
      if (isBinary) this.binaryFrames++;
    });
  }

  /** Messages that arrived as binary frames rather than text: there must be none. */
  binaryFrames = 0;

  subscribe(body: Record<string, unknown>): void {
    this.socket.send(JSON.stringify({ type: "subscribe", ...body }));
  }

  events(type?: string): { index: number; event: Record<string, unknown> }[] {
    return this.messages
      .filter((message) => message["type"] === "event")
      .map((message) => ({
        index: message["index"] as number,
        event: message["event"] as Record<string, unknown>,
      }))
      .filter((item) => type === undefined || item.event["type"] === type);
  }

  close(): void {
    this.socket.close();
  }
}

test("the live stream sends bids and outbid notices, and resumes on another node without gaps or duplicates", async () => {
  const seller = await user(one, "streamer");
  const ann = await user(one, "ann-live");
  const bob = await user(one, "bob-live");
  const id = await auction(one, seller);
  const annStream = new StreamClient(one);
  await annStream.open;
  annStream.subscribe({ auctions: [id], token: ann, cluster: true });
  await waitFor("the subscription", 5000, () =>
    annStream.messages.some((message) => message["type"] === "leader"),
  );
  assert.equal((await bid(two, ann, id, { amount: 1100, bidId: "a1" })).status, 201);
  assert.equal((await bid(two, bob, id, { amount: 1300, bidId: "b1" })).status, 201);
  await waitFor(
    "two bids and an outbid notice",
    5000,
    () => annStream.events("bid").length === 2 && annStream.events("outbid").length === 1,
  );
  const outbid = annStream.events("outbid")[0]!.event;
  assert.deepEqual([outbid["bidder"], outbid["highBidder"], outbid["price"]], ["ann-live", "bob-live", 1300]);
  const lastIndex = annStream.events().at(-1)!.index;
  annStream.close();
  // Bids placed while the client is away; it comes back to another node and resumes.
  assert.equal((await bid(one, ann, id, { amount: 1500, bidId: "a2" })).status, 201);
  assert.equal((await bid(one, bob, id, { amount: 1700, bidId: "b2" })).status, 201);
  const resumed = new StreamClient(two);
  await resumed.open;
  resumed.subscribe({ auctions: [id], from: lastIndex, token: bob });
  assert.equal((await bid(two, ann, id, { amount: 1900, bidId: "a3" })).status, 201);
  await waitFor("the three later bids", 5000, () => resumed.events("bid").length === 3);
  assert.deepEqual(
    resumed.events("bid").map((item) => item.event["bidId"]),
    ["a2", "b2", "a3"],
  );
  assert.ok(
    resumed.events().every((item) => item.index > lastIndex),
    "nothing seen twice",
  );
  const notices = resumed.events("outbid").map((item) => [item.event["bidder"], item.event["price"]]);
  const expected = [
    ["bob-live", 1500],
    ["bob-live", 1900],
  ];
  assert.deepEqual(notices, expected, "outbid notices only to the bidder who lost the lead");
  assert.deepEqual([annStream.binaryFrames, resumed.binaryFrames], [0, 0], "every message a text frame");
  resumed.close();
});

test("requests over the rate limit get 429 with Retry-After", async (t) => {
  const limited = await TestCluster.start([], "rate");
  t.after(() => limited.destroy());
  const node = await limited.add(1);
  await node.start(["--rate-limit", "5"]);
  const statuses: number[] = [];
  for (let k = 0; k < 12; k++) statuses.push((await http(`${node.url}/healthz`)).status);
  assert.ok(statuses.includes(429), `statuses ${statuses.join(",")}`);
  const response = await fetch(`${node.url}/healthz`);
  if (response.status === 429) {
    assert.ok(Number(response.headers.get("retry-after")) >= 1);
    assert.equal(((await response.json()) as { code: string }).code, "rate-limited");
  }
});

test("one keep-alive connection may change tokens: each request is its own token's user", async () => {
  const [ann, bob] = [await user(one, "conn-ann"), await user(one, "conn-bob")];
  const { host, hostname, port } = new URL(one.url);
  const socket = net.connect({ host: hostname, port: Number(port) });
  await once(socket, "connect");
  let received = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
  /** One GET /api/me on this connection: the status and the body. */
  const me = async (token: string): Promise<[number, unknown]> => {
    received = Buffer.alloc(0);
    socket.write(`GET /api/me HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${token}\r\n\r\n`);
    const complete = () => {
      const text = received.toString("utf8");
      const end = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      return end >= 0 && length !== undefined && received.byteLength >= end + 4 + Number(length);
    };
    await waitFor("the answer", 5000, complete);
    const text = received.toString("utf8");
    return [Number(text.slice(9, 12)), JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4))];
  };
  try {
    assert.deepEqual(await me(ann), [200, { name: "conn-ann" }]);
    assert.deepEqual(await me(bob), [200, { name: "conn-bob" }]);
    assert.deepEqual(await me(ann), [200, { name: "conn-ann" }]);
    const [status] = await me(`${ann}x`);
    assert.equal(status, 401, "a token the connection did not present before is checked as any other");
    assert.deepEqual(await me(bob), [200, { name: "conn-bob" }]);
  } finally {
    socket.destroy();
  }
});
