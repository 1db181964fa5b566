// The chaos clients: users registered up front, an auctioneer creating auctions with mixed terms
// and deadlines, bidders placing plain and proxy bids (retrying a bid only with its own bidId), and
// readers sampling auctions through random nodes. Every request becomes one recorded operation.
import type { SeededRandom } from "../core/random.js";
import { send } from "./client.js";
import type { Answer } from "./client.js";
import type { ChaosNode } from "./cluster.js";
import type {
  AuctionTerms,
  BidOperation,
  CreateOperation,
  Operation,
  ReadOperation,
  RegisterOperation,
} from "./history.js";

/** Client-side timeout: above the nodes' 5 s request deadline, so a slow answer is seen as a 504. */
export const requestTimeoutMs = 8_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sleeps `ms`, or less once `stopping` holds (checked every 100 ms). */
async function sleepUnless(ms: number, stopping: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stopping() && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
}

/** Operations in invocation order; each is pushed when it completes. */
export class Recorder {
  readonly operations: Operation[] = [];
  private nextId = 0;

  /** Sends one request as operation `fields`, filling in times and outcome, then `complete`. */
  async run<T extends Operation>(
    fields: Omit<T, "id" | "invokedAt" | "completedAt" | "outcome">,
    url: string,
    init: { method?: string; body?: unknown; token?: string },
    complete: (op: T, answer: Answer) => void = () => {},
  ): Promise<{ op: T; answer: Answer }> {
    const id = this.nextId++;
    const invokedAt = Date.now();
    const answer = await send(url, { ...init, timeoutMs: requestTimeoutMs });
    const op = { ...fields, id, invokedAt, completedAt: Date.now(), outcome: answer.outcome } as T;
    complete(op, answer);
    this.operations.push(op);
    return { op, answer };
  }

  sorted(): Operation[] {
    return [...this.operations].sort((a, b) => a.id - b.id);
  }
}

/** What the clients know of an auction they created: its terms and their latest estimate of it. */
export interface KnownAuction {
  id: string;
  seller: string;
  terms: AuctionTerms;
  closesAt: number;
  /** The next minimum bid as last seen; null until read. */
  minimum: number | null;
  ended: boolean;
}

export interface User {
  name: string;
  token: string;
}

export class Workload {
  readonly auctions: KnownAuction[] = [];
  private titles = 0;
  private bidSeq = 0;

  constructor(
    private readonly recorder: Recorder,
    private readonly nodes: readonly ChaosNode[],
    private readonly random: SeededRandom,
    private readonly runId: string,
  ) {}

  private node(): ChaosNode {
    return this.nodes[this.random.int(this.nodes.length)]!;
  }

  private between(low: number, high: number): number {
    return low + this.random.int(high - low + 1);
  }

  /** Registers a user under `prefix`, with a fresh name after every attempt that did not succeed. */
  async register(prefix: string, client: number): Promise<User> {
    for (let attempt = 1; attempt <= 30; attempt++) {
      const name = `${prefix}-${this.runId}-${attempt}`;
      const node = this.node();
      const { answer } = await this.recorder.run<RegisterOperation>(
        { type: "register", client, node: node.id, name },
        `${node.url}/api/users`,
        { body: { name } },
      );
      if (answer.outcome.kind === "ok" && typeof answer.body["token"] === "string") {
        return { name, token: answer.body["token"] };
      }
      await sleep(200);
    }
    throw new Error(`could not register a user ${prefix} in 30 attempts`);
  }

  /** Creates one auction closing in `durationMs`; a create is never retried (it is not idempotent). */
  async create(seller: User, client: number, durationMs: number): Promise<void> {
    const startingPrice = 100 * this.between(1, 10);
    const minIncrement = 10 * this.between(1, 10);
    const terms: AuctionTerms = {
      startingPrice,
      minIncrement,
      reservePrice: this.random.next() < 0.3 ? startingPrice + minIncrement * this.between(5, 40) : null,
      buyNowPrice: this.random.next() < 0.3 ? startingPrice + minIncrement * this.between(30, 120) : null,
      softClose:
        this.random.next() < 0.5
          ? { windowMs: 2_000, extensionMs: this.between(500, 2_000), maxExtensionMs: this.between(0, 8_000) }
          : null,
    };
    const title = `chaos ${this.runId} #${++this.titles}`;
    const node = this.node();
    const body = {
      title,
      startingPrice,
      minIncrement,
      durationMs,
      softClose: terms.softClose,
      ...(terms.reservePrice === null ? {} : { reservePrice: terms.reservePrice }),
      ...(terms.buyNowPrice === null ? {} : { buyNowPrice: terms.buyNowPrice }),
    };
    const { op, answer } = await this.recorder.run<CreateOperation>(
      {
        type: "create",
        client,
        node: node.id,
        seller: seller.name,
        title,
        terms,
        durationMs,
        auctionId: null,
      },
      `${node.url}/api/auctions`,
      { body, token: seller.token },
      (created, reply) => {
        if (reply.outcome.kind === "ok") created.auctionId = String(reply.body["id"]);
      },
    );
    if (op.auctionId !== null) {
      this.auctions.push({
        id: op.auctionId,
        seller: seller.name,
        terms,
        closesAt: Number(answer.body["closesAt"]),
        minimum: null,
        ended: false,
      });
    }
  }

  /** Reads one auction (its summary, no bid lines) through a random node and updates the estimate. */
  async read(auction: KnownAuction, client: number): Promise<void> {
    const node = this.node();
    await this.recorder.run<ReadOperation>(
      { type: "read", client, node: node.id, auctionId: auction.id, result: null },
      `${node.url}/api/auctions/${auction.id}?bidsLimit=0`,
      {},
      (op, answer) => {
        if (answer.outcome.kind !== "ok") return;
        const body = answer.body;
        const status = String(body["status"]);
        op.result = {
          price: typeof body["price"] === "number" ? body["price"] : null,
          version: Number(body["version"]),
          status,
          bidCount: Number(body["bidCount"]),
        };
        auction.minimum = Number(body["minimumBid"]);
        auction.closesAt = Number(body["closesAt"]);
        auction.ended = status === "closed" || status === "cancelled";
      },
    );
  }

  /** An auction to bid on: mostly one still open, now and then one that has just closed. */
  pick(): KnownAuction | null {
    const now = Date.now();
    const open = this.auctions.filter((auction) => !auction.ended && auction.closesAt > now);
    const recent = this.auctions.filter((auction) => auction.closesAt > now - 5_000);
    const pool = open.length > 0 && this.random.next() < 0.95 ? open : recent;
    return pool.length === 0 ? null : pool[this.random.int(pool.length)]!;
  }

  /**
   * Places one bid: plain or proxy, mostly at or above the last seen minimum, sometimes below it;
   * retried with the same bidId after an unknown outcome or a refusal, up to four attempts.
   */
  async bid(auction: KnownAuction, bidder: User, client: number, stopping: () => boolean): Promise<void> {
    const increment = auction.terms.minIncrement;
    const base = auction.minimum ?? auction.terms.startingPrice;
    const buyNow = auction.terms.buyNowPrice;
    let amount = this.random.next() < 0.12 ? base - increment : base + increment * this.random.int(4);
    if (buyNow !== null && this.random.next() < 0.03) amount = buyNow;
    amount = Math.max(1, amount);
    const max = this.random.next() < 0.25 ? amount + increment * this.between(1, 12) : null;
    const bidId = `c${client}-${++this.bidSeq}`;
    for (let attempt = 1; attempt <= 4; attempt++) {
      const node = this.node();
      const fields = {
        type: "bid" as const,
        client,
        node: node.id,
        auctionId: auction.id,
        bidder: bidder.name,
        bidId,
        amount,
        max,
        attempt,
        ack: null,
      };
      const { op, answer } = await this.recorder.run<BidOperation>(
        fields,
        `${node.url}/api/auctions/${auction.id}/bids`,
        { body: max === null ? { amount, bidId } : { amount, bidId, max }, token: bidder.token },
        (placed, reply) => {
          if (reply.outcome.kind !== "ok") return;
          const body = reply.body;
          placed.ack = {
            at: Number(body["at"]),
            price: Number(body["price"]),
            highBidder: String(body["highBidder"]),
          };
        },
      );
      const outcome = op.outcome;
      if (outcome.kind === "ok") {
        auction.minimum = op.ack!.price + increment;
        return;
      }
      if (outcome.kind === "failed" && ![0, 429, 503].includes(outcome.status)) {
        if (outcome.reason === "below-minimum") auction.minimum = null;
        if (outcome.status === 410) auction.ended = true;
        return;
      }
      if (stopping()) return;
      const retryAfterS = Number(answer.status === 503 ? 1 : 0);
      await sleep(Math.min(1_000, retryAfterS * 300 + this.between(100, 400)));
    }
  }

  /** A bidder until `stopping`: read now and then, bid, pause briefly. */
  async bidder(user: User, client: number, stopping: () => boolean): Promise<void> {
    while (!stopping()) {
      const auction = this.pick();
      if (auction === null) {
        await sleep(200);
        continue;
      }
      if (auction.minimum === null || this.random.next() < 0.3) await this.read(auction, client);
      if (stopping()) return;
      await this.bid(auction, user, client, stopping);
      await sleep(this.between(20, 150));
    }
  }

  /** A reader until `stopping`: samples auctions (open ones mostly) through random nodes. */
  async reader(client: number, stopping: () => boolean): Promise<void> {
    while (!stopping()) {
      const pool = this.auctions;
      if (pool.length > 0) await this.read(pool[this.random.int(pool.length)]!, client);
      await sleep(this.between(30, 120));
    }
  }

  /** Creates an auction every `intervalMs` until `stopping`, at most `count` in all. */
  async auctioneer(
    sellers: User[],
    client: number,
    intervalMs: number,
    durationMs: { low: number; high: number },
    count: number,
    stopping: () => boolean,
  ): Promise<void> {
    for (let created = 0; created < count && !stopping(); created++) {
      await sleepUnless(intervalMs, stopping);
      if (stopping()) return;
      const seller = sellers[this.random.int(sellers.length)]!;
      await this.create(seller, client, this.between(durationMs.low, durationMs.high));
    }
  }
}
