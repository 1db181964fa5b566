// The bench's load generator: runs in a child process of its own (forked by bench/load.ts), so its
// work is measured apart from the bench and does not share an event loop with it. Bidders are async
// loops over keep-alive HTTP connections (bench/http-client.ts); each answers with counts, latency
// percentiles and the CPU the generator itself used.
import { HttpClient } from "./http-client.js";
import { percentiles } from "./stats.js";
import type { Percentiles } from "./stats.js";

export interface CreateJob {
  kind: "create";
  urls: string[];
  token: string;
  count: number;
  concurrency: number;
  prefix: string;
}

export interface SpreadJob {
  kind: "spread";
  urls: string[];
  /** One token per bidder; `concurrency` bidders take the first ones. */
  tokens: string[];
  concurrency: number;
  auctions: string[];
  /** Last accepted amount per auction, from earlier runs (absent: no bid yet). */
  prices: Record<string, number>;
  /**
   * "node": every bid goes to the bidder's own node. "owner": once an answer named the auction's
   * owner (the Gavel-Owner header), the auction's next bids go there; the bidders share what they
   * learned, as the users of one client library would.
   */
  routing: "node" | "owner";
  startingPrice: number;
  warmupMs: number;
  durationMs: number;
}

export interface HotJob {
  kind: "hot";
  urls: string[];
  tokens: string[];
  concurrency: number;
  auction: string;
  startingPrice: number;
  warmupMs: number;
  durationMs: number;
}

export type Job = CreateJob | SpreadJob | HotJob;

export interface LoadResult {
  /** Requests answered during the measured window (any status). */
  answered: number;
  /** Answers with 2xx (acknowledged bids) in the window. */
  acked: number;
  /** Count of answers by status ("error" for network errors), in the window. */
  byStatus: Record<string, number>;
  measuredMs: number;
  /** Latency of acknowledged requests (hot: of every answered attempt), ms. */
  latency: Percentiles;
  /** Generator CPU (user + system) over the window, as a share of one core. */
  generatorCores: number;
  /** spread: last accepted amount per auction, for the next run. */
  prices?: Record<string, number>;
  /** hot: accepted bids per bidder, in the window. */
  acceptedByBidder?: number[];
  /** create: the ids created. */
  ids?: string[];
}

const client = new HttpClient();
const post = (url: string, token: string, payload: string) => client.post(url, token, payload);

/** Counts and latencies of answers that arrive inside the measured window. */
class Window {
  readonly byStatus: Record<string, number> = {};
  readonly latencies: number[] = [];
  answered = 0;
  acked = 0;
  private startedAt = 0;
  private endedAt = 0;
  private cpuAtStart: NodeJS.CpuUsage = process.cpuUsage();
  private cpuUsed: NodeJS.CpuUsage = { user: 0, system: 0 };
  open = false;
  done = false;

  constructor(warmupMs: number, durationMs: number) {
    setTimeout(() => {
      this.open = true;
      this.startedAt = performance.now();
      this.cpuAtStart = process.cpuUsage();
    }, warmupMs);
    setTimeout(() => {
      this.open = false;
      this.done = true;
      this.endedAt = performance.now();
      this.cpuUsed = process.cpuUsage(this.cpuAtStart);
    }, warmupMs + durationMs);
  }

  record(status: string, latencyMs: number, acked: boolean, recordLatency: boolean): void {
    if (!this.open) return;
    this.answered++;
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
    if (acked) this.acked++;
    if (recordLatency) this.latencies.push(latencyMs);
  }

  result(): LoadResult {
    const measuredMs = this.endedAt - this.startedAt;
    return {
      answered: this.answered,
      acked: this.acked,
      byStatus: this.byStatus,
      measuredMs,
      latency: percentiles(this.latencies),
      generatorCores: (this.cpuUsed.user + this.cpuUsed.system) / 1000 / measuredMs,
    };
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bids spread over many auctions: each bidder picks an auction no one is bidding on at that moment and bids one above its price, so every bid should be accepted. */
async function spread(job: SpreadJob): Promise<LoadResult> {
  const window = new Window(job.warmupMs, job.durationMs);
  const prices = new Map(Object.entries(job.prices));
  const busy = new Set<string>();
  const owners = new Map<string, string>();
  let bidCounter = 0;
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const bidder = async (index: number) => {
    const token = job.tokens[index]!;
    let urlIndex = index % job.urls.length;
    while (!window.done) {
      let auction = job.auctions[Math.floor(Math.random() * job.auctions.length)]!;
      while (busy.has(auction)) auction = job.auctions[Math.floor(Math.random() * job.auctions.length)]!;
      busy.add(auction);
      const price = prices.get(auction);
      const amount = price === undefined ? job.startingPrice : price + 1;
      const payload = JSON.stringify({ amount, bidId: `b${run}-${bidCounter++}` });
      // Retried with the same bidId (idempotent) until a definite answer: another node after a failure.
      for (let attempt = 0; !window.done || attempt === 0; attempt++) {
        const startedAt = performance.now();
        try {
          const owner = attempt === 0 ? owners.get(auction) : undefined;
          const url = owner ?? job.urls[urlIndex]!;
          const answer = await post(`${url}/api/auctions/${auction}/bids`, token, payload);
          const latency = performance.now() - startedAt;
          if (job.routing === "owner" && answer.owner !== undefined) owners.set(auction, answer.owner);
          if (answer.status >= 500) owners.delete(auction);
          const acked = answer.status === 200 || answer.status === 201;
          window.record(String(answer.status), latency, acked, acked);
          if (acked) {
            prices.set(auction, Math.max(prices.get(auction) ?? 0, amount));
            break;
          }
          if (answer.status === 409) {
            const minimum = /at least (\d+)/.exec(answer.body)?.[1];
            if (minimum !== undefined) prices.set(auction, Number(minimum) - 1);
            break;
          }
          if (answer.status < 500) break;
        } catch {
          window.record("error", performance.now() - startedAt, false, false);
          owners.delete(auction);
        }
        urlIndex = (urlIndex + 1) % job.urls.length;
        await pause(10);
      }
      busy.delete(auction);
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, (_, index) => bidder(index)));
  return { ...window.result(), prices: Object.fromEntries(prices) };
}

/** Every bidder on one auction, each bidding one above the highest price it knows of. */
async function hot(job: HotJob): Promise<LoadResult> {
  const window = new Window(job.warmupMs, job.durationMs);
  const acceptedByBidder = new Array<number>(job.concurrency).fill(0);
  let known = job.startingPrice - 1;
  let bidCounter = 0;
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const bidder = async (index: number) => {
    const token = job.tokens[index]!;
    let urlIndex = index % job.urls.length;
    while (!window.done) {
      const amount = known + 1;
      const payload = JSON.stringify({ amount, bidId: `h${run}-${bidCounter++}` });
      const startedAt = performance.now();
      try {
        const answer = await post(`${job.urls[urlIndex]!}/api/auctions/${job.auction}/bids`, token, payload);
        const latency = performance.now() - startedAt;
        const acked = answer.status === 200 || answer.status === 201;
        window.record(String(answer.status), latency, acked, answer.status < 500);
        if (acked) {
          known = Math.max(known, amount);
          if (window.open) acceptedByBidder[index]!++;
        } else if (answer.status === 409) {
          const minimum = /at least (\d+)/.exec(answer.body)?.[1];
          if (minimum !== undefined) known = Math.max(known, Number(minimum) - 1);
        } else if (answer.status >= 500) {
          urlIndex = (urlIndex + 1) % job.urls.length;
          await pause(10);
        }
      } catch {
        window.record("error", performance.now() - startedAt, false, false);
        urlIndex = (urlIndex + 1) % job.urls.length;
        await pause(10);
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, (_, index) => bidder(index)));
  return { ...window.result(), acceptedByBidder };
}

/** Creates `count` auctions (long-running, no soft close), `concurrency` at a time. */
async function create(job: CreateJob): Promise<LoadResult> {
  const startedAt = performance.now();
  const cpuAtStart = process.cpuUsage();
  const ids: string[] = [];
  const latencies: number[] = [];
  const byStatus: Record<string, number> = {};
  let next = 0;
  const worker = async (index: number) => {
    let urlIndex = index % job.urls.length;
    while (next < job.count) {
      const number = next++;
      const payload = JSON.stringify({
        title: `${job.prefix} ${number}`,
        startingPrice: 100,
        minIncrement: 1,
        durationMs: 6 * 3600_000,
        softClose: null,
      });
      for (let attempt = 0; attempt < 20; attempt++) {
        const began = performance.now();
        try {
          const answer = await post(`${job.urls[urlIndex]!}/api/auctions`, job.token, payload);
          byStatus[String(answer.status)] = (byStatus[String(answer.status)] ?? 0) + 1;
          if (answer.status === 201) {
            latencies.push(performance.now() - began);
            ids.push((JSON.parse(answer.body) as { id: string }).id);
            break;
          }
          if (answer.status < 500) throw new Error(`create: ${answer.status} ${answer.body}`);
        } catch (error) {
          if ((error as Error).message.startsWith("create:")) throw error;
        }
        urlIndex = (urlIndex + 1) % job.urls.length;
        await pause(50);
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, (_, index) => worker(index)));
  const measuredMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuAtStart);
  return {
    answered: ids.length,
    acked: ids.length,
    byStatus,
    measuredMs,
    latency: percentiles(latencies),
    generatorCores: (cpu.user + cpu.system) / 1000 / measuredMs,
    ids,
  };
}

async function runJob(job: Job): Promise<LoadResult> {
  if (job.kind === "create") return create(job);
  if (job.kind === "spread") return spread(job);
  return hot(job);
}

// The bench that forked this generator ended (its IPC channel closed): so does the generator.
process.once("disconnect", () => process.exit(1));
process.once("message", (job: Job) => {
  runJob(job).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (error: unknown) =>
      process.send!({ ok: false, error: error instanceof Error ? error.message : String(error) }, () =>
        process.exit(1),
      ),
  );
});
