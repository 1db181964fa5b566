// The end of a chaos run: wait until the healed cluster agrees on a leader and has settled, then
// read every auction, with its whole bid history, from every node.
import { send } from "./client.js";
import type { ChaosNode } from "./cluster.js";
import type { FinalAuction, NodeFinalState } from "./history.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(url: string): Promise<Record<string, unknown>> {
  const answer = await send(url, { timeoutMs: 8_000 });
  if (answer.outcome.kind !== "ok") {
    const why =
      answer.outcome.kind === "failed" ? `${answer.status} ${answer.outcome.reason}` : answer.outcome.reason;
    throw new Error(`GET ${url}: ${why}`);
  }
  return answer.body;
}

/** Waits until every node is ready and names the same leader; false if that did not happen in time. */
export async function waitForLeader(nodes: readonly ChaosNode[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const leaders = await Promise.all(
      nodes.map(async (node) => {
        const ready = await send(`${node.url}/readyz`, { timeoutMs: 2_000 });
        if (ready.status !== 200) return null;
        const view = await send(`${node.url}/api/cluster`, { timeoutMs: 2_000 });
        return typeof view.body["leader"] === "number" ? view.body["leader"] : null;
      }),
    );
    if (leaders[0] !== null && leaders.every((leader) => leader === leaders[0])) return true;
    await sleep(250);
  }
  return false;
}

/** Every auction's summary on one node, all pages. */
async function summaries(node: ChaosNode): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let offset = 0; ; offset += 200) {
    const page = await getJson(`${node.url}/api/auctions?filter=all&limit=200&offset=${offset}`);
    const pageItems = page["items"] as Record<string, unknown>[];
    items.push(...pageItems);
    if (pageItems.length < 200) return items;
  }
}

/** What must not change between two looks for the cluster to have settled ("closing" counts as open). */
function fingerprint(items: { id?: unknown; version?: unknown; status?: unknown }[]): string {
  return items
    .map(
      (item) => `${String(item["id"])}:${String(item["version"])}:${item["status"] === "closed" ? "c" : "o"}`,
    )
    .sort()
    .join(",");
}

/** Waits until all nodes report the same auctions at the same versions twice in a row; false on timeout. */
export async function waitForSettled(nodes: readonly ChaosNode[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let previous: string | null = null;
  while (Date.now() < deadline) {
    try {
      const prints = await Promise.all(nodes.map(async (node) => fingerprint(await summaries(node))));
      const agreed = prints.every((print) => print === prints[0]) ? prints[0]! : null;
      if (agreed !== null && agreed === previous) return true;
      previous = agreed;
    } catch {
      previous = null;
    }
    await sleep(500);
  }
  return false;
}

/** One auction with its whole bid history, in pages of 1,000 lines. */
async function fullAuction(node: ChaosNode, id: string): Promise<FinalAuction> {
  const first = await getJson(`${node.url}/api/auctions/${id}?bidsLimit=1000`);
  const bids = [...(first["bids"] as FinalAuction["bids"])];
  const total = Number(first["bidsTotal"]);
  while (bids.length < total) {
    const page = await getJson(`${node.url}/api/auctions/${id}?bidsOffset=${bids.length}&bidsLimit=1000`);
    const lines = page["bids"] as FinalAuction["bids"];
    if (lines.length === 0) break;
    bids.push(...lines);
  }
  return {
    id: String(first["id"]),
    title: String(first["title"]),
    seller: String(first["seller"]),
    status: String(first["status"]),
    startingPrice: Number(first["startingPrice"]),
    price: typeof first["price"] === "number" ? first["price"] : null,
    highBidder: typeof first["highBidder"] === "string" ? first["highBidder"] : null,
    buyNowPrice: typeof first["buyNowPrice"] === "number" ? first["buyNowPrice"] : null,
    opensAt: Number(first["opensAt"]),
    closesAt: Number(first["closesAt"]),
    originalClosesAt: Number(first["originalClosesAt"]),
    outcome: (first["outcome"] ?? null) as FinalAuction["outcome"],
    version: Number(first["version"]),
    bids: bids.map((line) => ({
      bidId: line.bidId,
      bidder: line.bidder,
      amount: line.amount,
      at: line.at,
      automatic: line.automatic,
    })),
  };
}

/** The final state of every node; a node that cannot be read gets `auctions: null` and the reason. */
export async function readFinalStates(nodes: readonly ChaosNode[]): Promise<NodeFinalState[]> {
  return Promise.all(
    nodes.map(async (node): Promise<NodeFinalState> => {
      try {
        const auctions: FinalAuction[] = [];
        for (const item of await summaries(node)) auctions.push(await fullAuction(node, String(item["id"])));
        return { node: node.id, auctions };
      } catch (error) {
        return { node: node.id, auctions: null, error: (error as Error).message };
      }
    }),
  );
}

/**
 * The final states, read again (up to `attempts` times) while the nodes' reads differ in an
 * auction's version or closed status: an auction that closes during the reads is read once more.
 */
export async function readSettledFinalStates(
  nodes: readonly ChaosNode[],
  attempts = 5,
): Promise<NodeFinalState[]> {
  let states = await readFinalStates(nodes);
  for (let attempt = 1; attempt < attempts; attempt++) {
    const prints = states.map((state) => (state.auctions === null ? null : fingerprint(state.auctions)));
    if (prints.every((print) => print !== null && print === prints[0])) return states;
    await sleep(1_000);
    states = await readFinalStates(nodes);
  }
  return states;
}
