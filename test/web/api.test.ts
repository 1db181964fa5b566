// The page's HTTP client sends an auction's bids to the node running it once an answer named that
// node (Gavel-Owner), only if it is one of the cluster's nodes, and falls back to the node in use
// when the owner does not take the bid. fetch is replaced by a stub that records every call.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { Api, Endpoints } from "../../src/web/api.js";

const one = "http://127.0.0.1:8081";
const two = "http://127.0.0.1:8082";
const realFetch = globalThis.fetch;

afterEach(() => {
  globalThis.fetch = realFetch;
});

interface Call {
  url: string;
  method: string;
}

/** Stubs fetch: `answer` decides each answer from the URL; every call is recorded. */
function stubFetch(answer: (url: string) => Response | "unreachable"): Call[] {
  const calls: Call[] = [];
  globalThis.fetch = (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : input.toString();
    calls.push({ url, method: init?.method ?? "GET" });
    const response = answer(url);
    if (response === "unreachable") return Promise.reject(new TypeError("fetch failed"));
    return Promise.resolve(response);
  };
  return calls;
}

function json(status: number, body: unknown, owner?: string): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (owner !== undefined) headers["gavel-owner"] = owner;
  return new Response(JSON.stringify(body), { status, headers });
}

function apiKnowing(...origins: string[]): Api {
  const endpoints = new Endpoints(origins[0]!);
  endpoints.learn(
    origins.map((http, index) => ({ id: index + 1, role: "worker", status: "alive", http, auctions: 0 })),
  );
  return new Api(endpoints, () => "token");
}

const bidAnswer = { auctionId: "a1", bidId: "b", bidder: "ann", amount: 100, price: 100 };

test("once an answer names the owner, the auction's next bid goes straight there", async () => {
  const calls = stubFetch(() => json(201, bidAnswer, `${two}/`));
  const api = apiKnowing(one, two);
  await api.bid("a1", { amount: 100, bidId: "b1" });
  await api.bid("a1", { amount: 110, bidId: "b2" });
  await api.bid("other", { amount: 100, bidId: "b3" });
  assert.deepEqual(
    calls.map((call) => call.url),
    [`${one}/api/auctions/a1/bids`, `${two}/api/auctions/a1/bids`, `${one}/api/auctions/other/bids`],
  );
});

test("showing an auction teaches its owner too; an owner outside the cluster is ignored", async () => {
  const shown = { id: "a1", bids: [], bidsTotal: 0 };
  const taught = apiKnowing(one, two);
  stubFetch(() => json(200, shown, two));
  await taught.auction("a1");
  const fooled = apiKnowing(one, two);
  stubFetch(() => json(200, shown, "http://stranger.invalid"));
  await fooled.auction("a1");
  const calls = stubFetch(() => json(201, bidAnswer));
  await taught.bid("a1", { amount: 100, bidId: "b1" });
  await fooled.bid("a1", { amount: 100, bidId: "b1" });
  assert.deepEqual(
    calls.map((call) => call.url),
    [`${two}/api/auctions/a1/bids`, `${one}/api/auctions/a1/bids`],
    "the token never goes to a node outside the cluster",
  );
});

test("an owner that does not answer is forgotten and not tried first for a while; the bid goes to the node in use, same bidId", async () => {
  let ownerDown = false;
  const bodies: string[] = [];
  const calls = stubFetch((url) => {
    if (ownerDown && url.startsWith(two)) return "unreachable";
    return json(201, bidAnswer, ownerDown ? undefined : two);
  });
  const originalFetch = globalThis.fetch;
  globalThis.fetch = (input: string | URL | Request, init?: RequestInit) => {
    bodies.push(typeof init?.body === "string" ? init.body : "");
    return originalFetch(input, init);
  };
  const api = apiKnowing(one, two);
  await api.bid("a1", { amount: 100, bidId: "b1" });
  ownerDown = true;
  await api.bid("a1", { amount: 110, bidId: "b2" });
  await api.bid("a1", { amount: 120, bidId: "b3" });
  ownerDown = false; // answers name node 2 again, but it is not tried first for a while
  await api.bid("a1", { amount: 130, bidId: "b4" });
  await api.bid("a1", { amount: 140, bidId: "b5" });
  assert.deepEqual(
    calls.map((call) => call.url.slice(0, two.length)),
    [one, two, one, one, one, one],
    "b2 tried the owner, then the node in use; later bids skip the owner that did not answer",
  );
  assert.deepEqual(
    bodies.slice(1, 3).map((body) => (JSON.parse(body) as { bidId: string }).bidId),
    ["b2", "b2"],
  );
});
