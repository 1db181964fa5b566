// Fuzzing the client API and the live stream of a real 3-node cluster: mutated bodies of
// POST /api/users, /api/sessions, /api/auctions and /api/auctions/:id/bids (wrong types, NaN,
// Infinity, negative and huge amounts, __proto__ and constructor keys, cut short), hostile auction
// ids and query strings, garbage bodies and content types, replayed bids, and garbage WebSocket
// messages; and garbage peer frames and beacons at a node's own ports. Every answer is a success or a problem+json 4xx, counted in gavel_api_problems_total;
// no node crashes and no election happens; the state changes only by what was accepted; and a
// normal bid and subscription still work afterwards. Prints its seed (GAVEL_FUZZ_SEED=<n>
// replays it). Costs about 20 s.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import fc from "fast-check";
import WebSocket from "ws";
import { http, TestCluster, waitFor } from "../node/harness.js";
import type { TestNode } from "../node/harness.js";
import { decodeMessage, PROTOCOL_VERSION } from "../../src/net/envelope.js";
import { encodeFrame } from "../../src/net/frame.js";
import { sampleMessages } from "../net/support.js";
import { drawn, fuzzSeed, hostileValue, mutatedJson, mutationsOf, serialize } from "../net/fuzz-support.js";

let cluster: TestCluster;
let nodes: TestNode[];
let seller: string;
let bidder: string;
let auctionId: string;

before(async () => {
  cluster = await TestCluster.start([1, 2, 3], "api-fuzz");
  await cluster.waitForLeader(3, 15_000);
  nodes = [1, 2, 3].map((id) => cluster.node(id));
  seller = await user("fz-seller");
  bidder = await user("fz-bidder");
  const created = await http(`${nodes[0]!.url}/api/auctions`, {
    token: seller,
    body: { title: "Fuzzed lamp", startingPrice: 1000, minIncrement: 100, durationMs: 600_000 },
  });
  assert.equal(created.status, 201);
  auctionId = created.body["id"] as string;
});

after(() => cluster.destroy());

async function user(name: string): Promise<string> {
  const response = await http(`${nodes[0]!.url}/api/users`, { body: { name } });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body["token"] as string;
}

/** One hostile request: where it goes, with which body text and content type. */
interface Attempt {
  node: number;
  method: "GET" | "POST";
  path: string;
  body?: string;
  contentType?: string;
  token?: string;
  /** What the request was about, to account for what it changed. */
  target: "user" | "session" | "auction" | "bid" | "read";
}

const hostileIds = [
  "__proto__",
  "constructor",
  "prototype",
  "%00",
  "..%2F..%2Fetc",
  "x".repeat(3000),
  "%F0%9F%92%A5",
  "%ZZ",
  "a%20b",
];

const hostileQueries = [
  "filter=__proto__",
  "limit=NaN",
  "limit=-1",
  "limit=1e999",
  "offset=99999999999999999999",
  "__proto__[x]=1",
  "constructor=1",
  "filter=open&filter=closed",
  "bidsLimit=Infinity",
  "bidsOffset=-0",
  "limit=0x10",
  "%",
];

function attempts(): fc.Arbitrary<Attempt> {
  const node = fc.integer({ min: 0, max: 2 });
  // Few passwords: each costs a scrypt, and CPU is shared with the cluster being fuzzed.
  const userBody = mutationsOf([{ name: "fz-user" }, { name: "fz-user2" }]);
  const sessionBody = mutationsOf([{ name: "fz-seller", password: "password1" }]);
  const auctionBody = mutationsOf([
    { title: "Lamp", startingPrice: 1000, minIncrement: 100, durationMs: 600_000 },
    {
      title: "Chair",
      startingPrice: 500,
      minIncrement: [{ from: 0, increment: 50 }],
      closesAt: 4_102_444_800_000,
      reservePrice: 800,
      buyNowPrice: 5000,
      softClose: null,
    },
  ]);
  const bidBody = mutationsOf([
    { amount: 5000, bidId: "fz-bid" },
    { amount: 6000, bidId: "fz-proxy", max: 9000 },
  ]);
  const text = ({
    document,
    mutations,
  }: {
    document: unknown;
    mutations: Parameters<typeof mutatedJson>[1];
  }) => mutatedJson(document, mutations);
  const often = <T>(arbitrary: fc.Arbitrary<T>) => ({ weight: 4, arbitrary });
  return fc.oneof(
    often(
      fc.record({
        node,
        method: fc.constant("POST" as const),
        path: fc.constant("/api/users"),
        body: userBody.map(text),
        target: fc.constant("user" as const),
      }),
    ),
    {
      // Rarely: a login runs scrypt whether the name exists or not.
      weight: 1,
      arbitrary: fc.record({
        node,
        method: fc.constant("POST" as const),
        path: fc.constant("/api/sessions"),
        body: sessionBody.map(text),
        target: fc.constant("session" as const),
      }),
    },
    often(
      fc.record({
        node,
        method: fc.constant("POST" as const),
        path: fc.constant("/api/auctions"),
        body: auctionBody.map(text),
        token: fc.constant("seller"),
        target: fc.constant("auction" as const),
      }),
    ),
    often(
      fc.record({
        node,
        method: fc.constant("POST" as const),
        path: fc.oneof(
          { weight: 4, arbitrary: fc.constant("bids:own") },
          { weight: 1, arbitrary: fc.constantFrom(...hostileIds).map((id) => `/api/auctions/${id}/bids`) },
        ),
        body: bidBody.map(text),
        token: fc.constantFrom("bidder", "seller", "garbage-token"),
        target: fc.constant("bid" as const),
      }),
    ),
    often(
      fc.record({
        node,
        method: fc.constant("POST" as const),
        path: fc.constantFrom("/api/users", "/api/auctions", "bids:own"),
        body: fc.oneof(
          fc.string({ maxLength: 200, unit: "binary" }),
          hostileValue.map(serialize),
          fc.constant("x".repeat(70_000)),
        ),
        contentType: fc.constantFrom(
          "application/json",
          "text/plain",
          "application/x-www-form-urlencoded",
          "application/json; charset=utf-16",
        ),
        token: fc.constant("bidder"),
        target: fc.constant("bid" as const),
      }),
    ),
    often(
      fc.record({
        node,
        method: fc.constant("GET" as const),
        path: fc.oneof(
          fc.constantFrom(...hostileQueries).map((query) => `/api/auctions?${query}`),
          fc.constantFrom(...hostileQueries).map((query) => `/api/auctions/own?${query}`),
          fc.constantFrom(...hostileIds).map((id) => `/api/auctions/${id}`),
          fc.constantFrom(...hostileQueries).map((query) => `/api/cluster?${query}`),
        ),
        target: fc.constant("read" as const),
      }),
    ),
  );
}

function resolvePath(path: string): string {
  if (path === "bids:own") return `/api/auctions/${auctionId}/bids`;
  return path.replace("/api/auctions/own", `/api/auctions/${auctionId}`);
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

async function send(attempt: Attempt): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (attempt.body !== undefined) headers["content-type"] = attempt.contentType ?? "application/json";
  const token = attempt.token === "seller" ? seller : attempt.token === "bidder" ? bidder : attempt.token;
  if (token !== undefined) headers["authorization"] = `Bearer ${token}`;
  const response = await fetch(`${nodes[attempt.node]!.url}${resolvePath(attempt.path)}`, {
    method: attempt.method,
    headers,
    body: attempt.body,
    signal: AbortSignal.timeout(15_000),
  });
  return {
    status: response.status,
    contentType: response.headers.get("content-type") ?? "",
    body: await response.text(),
  };
}

async function problemCount(node: TestNode): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("gavel_api_problems_total{")) total += Number(line.split(" ").at(-1));
  }
  return total;
}

async function auctionState(): Promise<Record<string, unknown>> {
  const response = await http(`${nodes[0]!.url}/api/auctions/${auctionId}?bidsLimit=1000`);
  assert.equal(response.status, 200);
  return response.body;
}

test("hostile HTTP requests get a success or a counted 4xx problem, and change only what they were accepted for", async () => {
  const seed = fuzzSeed("api requests");
  const inputs = drawn(attempts(), seed, 400);
  const problemsBefore = await Promise.all(nodes.map(problemCount));
  const listBefore = await http(`${nodes[0]!.url}/api/auctions?filter=all&limit=1`);
  const totalBefore = listBefore.body["total"] as number;
  const accepted = { bidIds: new Set<string>(), auctions: 0, problems: 0 };
  // 503 and 504 are the cluster's answers while it elects (a loaded 2-core machine can starve a
  // leader): not failures, but a 504's outcome is unknown, so it may or may not have changed state.
  const unknown = { bidIds: new Set<string>(), auctions: 0 };
  const failures: string[] = [];
  // Four at a time: far below the rate limit, and gentle with a shared 2-core machine.
  for (let start = 0; start < inputs.length; start += 4) {
    const batch = inputs.slice(start, start + 4);
    const answers = await Promise.all(batch.map(send));
    answers.forEach((answer, position) => {
      const attempt = batch[position]!;
      const what = `${attempt.method} ${attempt.path.slice(0, 80)} ${attempt.body?.slice(0, 120) ?? ""}`;
      if (answer.status >= 500 && answer.status !== 503 && answer.status !== 504)
        failures.push(`${answer.status} for ${what}: ${answer.body.slice(0, 200)}`);
      if (answer.status === 504 && attempt.target === "auction") unknown.auctions++;
      if (answer.status === 504 && attempt.target === "bid") unknown.bidIds.add(bidIdOf(attempt.body));
      if (answer.status >= 400) {
        accepted.problems++;
        if (!answer.contentType.startsWith("application/problem+json"))
          failures.push(`${answer.status} without problem+json for ${what}`);
        else if (typeof (JSON.parse(answer.body) as { code?: unknown }).code !== "string")
          failures.push(`a problem without a code for ${what}`);
      }
      if (answer.status === 201 && attempt.target === "bid" && attempt.path === "bids:own")
        accepted.bidIds.add((JSON.parse(answer.body) as { bidId: string }).bidId);
      if (answer.status === 201 && attempt.target === "auction") accepted.auctions++;
    });
  }
  assert.deepEqual(failures, [], `seed ${seed}`);
  // Each refused request was counted on the node that answered it.
  const problemsAfter = await Promise.all(nodes.map(problemCount));
  const counted = problemsAfter.reduce((sum, count, k) => sum + count - problemsBefore[k]!, 0);
  assert.equal(counted, accepted.problems, "every problem answer is counted in gavel_api_problems_total");
  // The state changed only by what was accepted.
  const state = await auctionState();
  const history = new Set((state["bids"] as { bidId: string }[]).map((line) => line.bidId));
  for (const bidId of accepted.bidIds)
    assert.ok(history.has(bidId), `seed ${seed}: accepted bid ${bidId} kept`);
  for (const bidId of history)
    assert.ok(
      accepted.bidIds.has(bidId) || unknown.bidIds.has(bidId),
      `seed ${seed}: bid ${bidId} was accepted`,
    );
  const listAfter = await http(`${nodes[0]!.url}/api/auctions?filter=all&limit=1`);
  const totalAfter = listAfter.body["total"] as number;
  assert.ok(totalAfter >= totalBefore + accepted.auctions, `seed ${seed}: accepted auctions kept`);
  assert.ok(
    totalAfter <= totalBefore + accepted.auctions + unknown.auctions,
    `seed ${seed}: no other auctions`,
  );
  // A normal bid still works, on every node.
  for (const node of nodes) {
    const current = await auctionState();
    const amount = current["minimumBid"] as number;
    const bid = await http(`${node.url}/api/auctions/${auctionId}/bids`, {
      token: bidder,
      body: { amount, bidId: `after-fuzz-${node.id}` },
    });
    assert.equal(bid.status, 201, JSON.stringify(bid.body));
  }
  for (const node of nodes) assert.ok(node.running, `node ${node.id} is running`);
});

/** The bidId a request body names, if it is JSON with a string bidId. */
function bidIdOf(body: string | undefined): string {
  try {
    const parsed = JSON.parse(body ?? "") as { bidId?: unknown };
    return typeof parsed.bidId === "string" ? parsed.bidId : "";
  } catch {
    return "";
  }
}

test("garbage WebSocket messages get an error each, and the stream still works after them", async () => {
  const seed = fuzzSeed("stream messages");
  const subscribe = { type: "subscribe", auctions: [auctionId], cluster: true, from: null };
  const messages = drawn(
    fc.oneof(
      // Under the 64 KiB limit of a message (a longer one closes the connection, tested below).
      mutationsOf([subscribe, { ...subscribe, auctions: "all", token: "abc" }]).map(
        ({ document, mutations }) => mutatedJson(document, mutations).slice(0, 60_000),
      ),
      fc.string({ maxLength: 200, unit: "binary" }),
      fc.constant("x".repeat(60_000)),
    ),
    seed,
    200,
  );
  const socket = new WebSocket(`${nodes[1]!.url.replace("http", "ws")}/api/stream`);
  const received: Record<string, unknown>[] = [];
  socket.on("message", (data: Buffer) =>
    received.push(JSON.parse(data.toString()) as Record<string, unknown>),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  try {
    for (const message of messages) socket.send(message);
    // Every message that is not JSON gets an error; the last one, valid, subscribes afresh, from the
    // index the node said hello with: the bid below may be applied on this node before it gets
    // through the garbage to this message, and "from": null would then start after the bid.
    const hello = await waitFor("the node's hello", 5000, () =>
      received.find((item) => item["type"] === "hello"),
    );
    assert.equal(typeof hello["index"], "number");
    socket.send(JSON.stringify({ ...subscribe, from: hello["index"] }));
    const amount = (await auctionState())["minimumBid"] as number;
    const bid = await http(`${nodes[0]!.url}/api/auctions/${auctionId}/bids`, {
      token: bidder,
      body: { amount, bidId: "after-stream-fuzz" },
    });
    assert.equal(bid.status, 201);
    const unparsable = messages.filter((message) => {
      try {
        JSON.parse(message);
        return false;
      } catch {
        return true;
      }
    }).length;
    const errors = () => received.filter((item) => item["type"] === "error").length;
    await waitFor("an error for every message that is not JSON", 10_000, () => errors() >= unparsable);
    await waitFor("the bid on the stream", 10_000, () =>
      received.some(
        (item) =>
          item["type"] === "event" &&
          (item["event"] as { bidId?: string } | undefined)?.bidId === "after-stream-fuzz",
      )
        ? true
        : undefined,
    );
    assert.equal(socket.readyState, WebSocket.OPEN, "the connection stays open");
    const known = new Set(["hello", "error", "leader", "event", "resync"]);
    assert.deepEqual(
      received.filter((item) => !known.has(item["type"] as string)),
      [],
      "only the documented message types",
    );
  } finally {
    socket.close();
  }
});

test("a WebSocket message over 64 KiB closes only its own connection (1009)", async () => {
  const url = `${nodes[2]!.url.replace("http", "ws")}/api/stream`;
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  const closed = new Promise<number>((resolve) => socket.once("close", (code: number) => resolve(code)));
  socket.send("x".repeat(70_000));
  assert.equal(await closed, 1009);
  const next = new WebSocket(url);
  const hello = await new Promise<Record<string, unknown>>((resolve, reject) => {
    next.once("message", (data: Buffer) => resolve(JSON.parse(data.toString()) as Record<string, unknown>));
    next.once("error", reject);
  });
  next.close();
  assert.equal(hello["type"], "hello");
});

/** Resident memory of a node process, from /proc (Linux). */
function rssBytes(node: TestNode): number {
  const status = readFileSync(`/proc/${node.process!.pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function adapterDrops(node: TestNode): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n"))
    if (line.startsWith("gavel_adapter_messages_dropped{")) total += Number(line.split(" ").at(-1));
  return total;
}

test("thousands of garbage peer frames and beacons at a real node are counted, with bounded memory and no election", async () => {
  const seed = fuzzSeed("node garbage");
  const termBefore = (await nodes[0]!.view()).term;
  const target = nodes[0]!;
  const frames = drawn(
    fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      fc
        .constantFrom(...sampleMessages())
        .chain((message) =>
          mutationsOf([{ v: PROTOCOL_VERSION, m: message }]).map(({ document, mutations }) =>
            Buffer.from(mutatedJson(document, mutations)),
          ),
        ),
    ),
    seed,
    500,
  ).filter((body) => {
    // Garbage only: a valid message would reach the core, one of another version ends the connection.
    const decoded = decodeMessage(body);
    return !decoded.ok && decoded.reason !== "version";
  });
  const dropsBefore = await adapterDrops(target);
  const rssBefore = rssBytes(target);
  const stream = Buffer.concat(frames.map((body) => encodeFrame(body)));
  for (let round = 0; round < 10; round++) {
    const socket = connect({ host: "127.0.0.1", port: target.port });
    socket.on("error", () => undefined);
    socket.resume();
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.end(stream);
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
  }
  const sender = createSocket("udp4");
  await new Promise<void>((resolve) => sender.bind(0, "127.0.0.1", resolve));
  sender.setBroadcast(true);
  for (const body of frames.slice(0, 200)) {
    await new Promise<void>((resolve) =>
      sender.send(body.subarray(0, 8000), cluster.discoveryPort, "127.255.255.255", () => resolve()),
    );
  }
  sender.close();
  await waitFor("the garbage to be counted", 10_000, async () =>
    (await adapterDrops(target)) - dropsBefore >= frames.length * 10 ? true : undefined,
  );
  const grownBytes = rssBytes(target) - rssBefore;
  assert.ok(grownBytes < 64 * 1024 * 1024, `RSS grew by ${grownBytes} bytes`);
  for (const node of nodes) assert.equal((await node.view()).term, termBefore, "no election");
  const amount = (await auctionState())["minimumBid"] as number;
  const bid = await http(`${target.url}/api/auctions/${auctionId}/bids`, {
    token: bidder,
    body: { amount, bidId: "after-peer-garbage" },
  });
  assert.equal(bid.status, 201);
});

test("a bid on an id no auction can have is refused at once on every node (regression: 504 after 5 s)", async () => {
  for (const node of nodes) {
    for (const id of ["%00", "a%20b", "%F0%9F%92%A5", "x".repeat(65)]) {
      const started = Date.now();
      const response = await http(`${node.url}/api/auctions/${id}/bids`, {
        token: bidder,
        body: { amount: 5000, bidId: "never" },
      });
      assert.deepEqual(
        [response.status, response.body["code"]],
        [404, "unknown-auction"],
        `${id} at node ${node.id}`,
      );
      assert.ok(Date.now() - started < 2000, "answered without waiting for the cluster");
    }
  }
});
