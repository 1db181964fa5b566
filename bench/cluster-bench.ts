// The cluster part of `npm run bench`: real `gavel node` processes on loopback with durable SQLite
// storage, loaded over HTTP keep-alive by a generator in a child process of its own. Each section
// returns plain figures; main.ts prints them and writes BENCHMARKS.md.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { UpdateReceiver } from "../src/client/update-receiver.js";
import { colocatedNodeFlags } from "../src/dev/local-cluster.js";
import { BenchCluster, metricValue, register, request, waitFor } from "./cluster.js";
import type { BenchNode } from "./cluster.js";
import { runLoad } from "./load.js";
import { processWork } from "./machine.js";
import type { LoadResult } from "./loadgen.js";
import { profilesIn, summarize } from "./profile.js";
import type { ProfileSummary } from "./profile.js";
import { jain, median, percentiles } from "./stats.js";
import type { Percentiles } from "./stats.js";

export interface ClusterSettings {
  auctions: number;
  bidderCounts: number[];
  warmupMs: number;
  durationMs: number;
  hotBidders: number;
  watchers: number;
  multicastReceivers: number;
  fanoutBids: number;
  leaderKills: number;
  /** Auctions of the killed worker that must take bids again. */
  workerAuctions: number;
  /** Auctions in the cluster for the second memory figure (0: skipped). */
  bigAuctions: number;
  /** Log entries the joining node catches up at least (0: whatever the log holds). */
  joinEntries: number;
  /** Cluster sizes for the scale figure, besides 3 (empty: skipped). */
  scaleSizes: number[];
  /** Length of the 64-bidder run with every node under --cpu-prof, ms (0: skipped). */
  profileMs: number;
  /** Runs of the headline load (bids sent to the owner); the median one is reported. */
  headlineRuns: number;
  /**
   * Rounds comparing the headline load on fresh clusters with the defaults, without snapshots, with
   * fsyncs nothing waits for, without fsyncs, and with V8's GC threads (five runs each; 0: skipped).
   */
  snapshotPairs: number;
}

export type Progress = (text: string) => void;

export interface SpreadFigure {
  bidders: number;
  nodes: number;
  /** Where each bid goes: the bidder's own node (bidders spread evenly), or the auction's owner. */
  routing: "bidder's node" | "auction's owner";
  bidsPerSecond: number;
  latency: Percentiles;
  byStatus: Record<string, number>;
  generatorCores: number;
  /** CPU of all node processes together over the run, in cores. */
  nodeCores: number;
  /** The part of nodeCores spent in the kernel (system calls, page faults, the loopback network stack). */
  nodeSystemShare: number;
  /** Each node's share of nodeCores, by node id. */
  coresByNode: Record<number, number>;
  /** Read- and write-class system calls of all nodes per acknowledged bid (from /proc). */
  nodeIoCallsPerBid: number;
  /** Context switches of all nodes' threads per acknowledged bid (from /proc). */
  nodeSwitchesPerBid: number;
  /** Durable writes (a batch's transaction and its fsync) of all nodes per acknowledged bid. */
  writesPerBid: number;
  /** Mean time of those writes, from a batch's save to the end of its fsync, in ms (gavel_sqlite_write_seconds). */
  writeMs: number;
  /** Batches all nodes stepped per acknowledged bid (gavel_batches_total): the fewer, the more work each batch shared. */
  batchesPerBid: number;
  /** Peer messages all nodes sent per acknowledged bid (gavel_peer_messages_total). */
  peerMessagesPerBid: number;
}

/** Counts the nodes' metrics keep, summed over the nodes: durable writes (and their seconds), batches and peer messages sent. */
interface NodeCounters {
  writes: number;
  writeSeconds: number;
  batches: number;
  messagesSent: number;
}

async function nodeCounters(nodes: readonly BenchNode[]): Promise<NodeCounters> {
  const each = await Promise.all(
    nodes.map(async (node): Promise<NodeCounters> => {
      const text = await node.metricsText();
      return {
        writes: metricValue(text, "gavel_sqlite_write_seconds_count"),
        writeSeconds: metricValue(text, "gavel_sqlite_write_seconds_sum"),
        batches: metricValue(text, "gavel_batches_total"),
        // A node that has sent nothing yet has no series.
        messagesSent: text.includes('direction="sent"')
          ? metricValue(text, "gavel_peer_messages_total", 'direction="sent"')
          : 0,
      };
    }),
  );
  const sum = (key: keyof NodeCounters) => each.reduce((total, item) => total + item[key], 0);
  return {
    writes: sum("writes"),
    writeSeconds: sum("writeSeconds"),
    batches: sum("batches"),
    messagesSent: sum("messagesSent"),
  };
}

export interface ProfileFigure {
  bidders: number;
  bidsPerSecond: number;
  nodes: { id: number; role: string; summary: ProfileSummary }[];
}

export interface HotFigure {
  bidders: number;
  attemptsPerSecond: number;
  acceptedPerSecond: number;
  latency: Percentiles;
  byStatus: Record<string, number>;
  fairness: number;
  acceptedMin: number;
  acceptedMax: number;
  generatorCores: number;
}

export interface FanoutFigure {
  watchers: number;
  receivers: number;
  bids: number;
  ackMs: Percentiles;
  /** From sending a bid to each watcher receiving its event. */
  watcherMs: Percentiles;
  /** From sending a bid to the last watcher receiving it, per bid. */
  allWatchersMs: Percentiles;
  receiverMs: Percentiles;
  missed: number;
}

export interface FailoverFigure {
  kills: number;
  /** From SIGKILL of the leader to the first acknowledged bid sent after it, per kill. */
  samplesMs: number[];
  /** From SIGKILL of a worker until each of its auctions sampled took a bid again. */
  workerSamplesMs: number[];
  workerAuctions: number;
}

export interface JoinFigure {
  entries: number;
  servingMs: number;
  caughtUpMs: number;
}

export interface MemoryFigure {
  auctions: number;
  /** The leader's commit index when measured: entries applied (auctions, bids, users, ...). */
  entries: number;
  /** When it was measured, in words. */
  when: string;
  rssMb: Record<number, number>;
}

export interface ClusterFigures {
  spread: SpreadFigure[];
  /** The most bidders again, each bid sent to its auction's owner: the run with the median bids/s. */
  routed: SpreadFigure;
  /** Every run of the headline load, in the order they ran. */
  routedRuns: SpreadFigure[];
  hot: HotFigure;
  fanout: FanoutFigure;
  failover: FailoverFigure;
  /** A node joining a fresh cluster whose log was filled to joinEntries (or the main cluster's, without them). */
  join: JoinFigure;
  /** A node joining the main cluster at its end: catching up its whole log, whatever the sections grew it to. */
  joinMain: JoinFigure;
  memory: MemoryFigure[];
  scale: SpreadFigure[];
  profile: ProfileFigure | null;
  /**
   * The headline load on fresh 3-node clusters: default settings, then snapshots far apart, then
   * fsyncs nothing waits for (`--unsafe-no-fsync-wait`), then no fsync (`--unsafe-no-fsync`), then
   * V8's GC threads (nodes without colocatedNodeFlags).
   */
  snapshots: SettingsRound[];
  setupMs: number;
}

/** One round of the settings comparison: the same load on a fresh cluster per setting. */
export interface SettingsRound {
  spaced: SpreadFigure;
  apart: SpreadFigure;
  /** The log fsynced, but nothing waiting for it: the most stepping on during the fsync could give. */
  unwaited: SpreadFigure;
  unsynced: SpreadFigure;
  parallelGc: SpreadFigure;
}

const startingPrice = 100;

export interface Setup {
  cluster: BenchCluster;
  seller: string;
  bidders: string[];
  auctions: string[];
  prices: Record<string, number>;
}

export async function setUp(
  nodes: number,
  settings: Pick<ClusterSettings, "auctions">,
  bidderCount: number,
  progress: Progress,
  nodeArgs: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
  runtimeFlags: readonly string[] = colocatedNodeFlags,
) {
  progress(`starting a ${nodes}-node cluster`);
  const ids = Array.from({ length: nodes }, (_, index) => index + 1);
  const cluster = await BenchCluster.start(ids, nodeArgs, env, runtimeFlags);
  try {
    const urls = cluster.urls();
    progress(`${nodes} nodes: registering ${bidderCount} bidders`);
    const seller = await register(urls[0]!, "seller");
    const bidders: string[] = [];
    for (let index = 0; index < bidderCount; index++)
      bidders.push(await register(urls[index % urls.length]!, `bidder${index}`));
    progress(`${nodes} nodes: creating ${settings.auctions.toLocaleString("en-US")} auctions`);
    const created = await runLoad({
      kind: "create",
      urls,
      token: seller,
      count: settings.auctions,
      concurrency: 32,
      prefix: "lot",
    });
    return { cluster, seller, bidders, auctions: created.ids!, prices: {} } satisfies Setup;
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
}

/** CPU time of a process so far, in ms, in user and in kernel mode (from /proc, by PID; 0 once it is gone). */
function cpuMs(pid: number | undefined): { user: number; system: number } {
  if (pid === undefined) return { user: 0, system: 0 };
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return { user: (Number(fields[11]) * 1000) / 100, system: (Number(fields[12]) * 1000) / 100 };
  } catch {
    return { user: 0, system: 0 };
  }
}

export async function spreadRun(
  setup: Setup,
  bidders: number,
  settings: Pick<ClusterSettings, "warmupMs" | "durationMs">,
  routing: "node" | "owner" = "node",
): Promise<SpreadFigure> {
  const nodes = setup.cluster.running();
  const cpuBefore = nodes.map((node) => cpuMs(node.pid));
  const workBefore = nodes.map((node) => processWork(node.pid));
  const countersBefore = await nodeCounters(nodes);
  const startedAt = performance.now();
  const result = await runLoad({
    kind: "spread",
    urls: setup.cluster.urls(),
    tokens: setup.bidders,
    concurrency: bidders,
    auctions: setup.auctions,
    prices: setup.prices,
    routing,
    startingPrice,
    warmupMs: settings.warmupMs,
    durationMs: settings.durationMs,
  });
  const wallMs = performance.now() - startedAt;
  const cpuUsed = nodes.map((node, index) => {
    const after = cpuMs(node.pid);
    return { user: after.user - cpuBefore[index]!.user, system: after.system - cpuBefore[index]!.system };
  });
  const cpuUsedMs = cpuUsed.map((used) => used.user + used.system);
  const nodeCpuMs = cpuUsedMs.reduce((total, used) => total + used, 0);
  const nodeSystemMs = cpuUsed.reduce((total, used) => total + used.system, 0);
  const countersAfter = await nodeCounters(nodes);
  const writes = countersAfter.writes - countersBefore.writes;
  const work = nodes.map((node, index) => {
    const after = processWork(node.pid);
    return {
      ioCalls: after.ioCalls - workBefore[index]!.ioCalls,
      switches: after.switches - workBefore[index]!.switches,
    };
  });
  // Counted over the whole run, warm-up included, as the CPU is: per second, then per bid.
  const perBid = (total: number) =>
    result.acked === 0 ? 0 : ((total / wallMs) * result.measuredMs) / result.acked;
  setup.prices = result.prices!;
  return {
    bidders,
    nodes: nodes.length,
    routing: routing === "node" ? "bidder's node" : "auction's owner",
    bidsPerSecond: (result.acked / result.measuredMs) * 1000,
    latency: result.latency,
    byStatus: result.byStatus,
    generatorCores: result.generatorCores,
    nodeCores: nodeCpuMs / wallMs,
    nodeSystemShare: nodeCpuMs === 0 ? 0 : nodeSystemMs / nodeCpuMs,
    coresByNode: Object.fromEntries(nodes.map((node, index) => [node.id, cpuUsedMs[index]! / wallMs])),
    nodeIoCallsPerBid: perBid(work.reduce((total, item) => total + item.ioCalls, 0)),
    nodeSwitchesPerBid: perBid(work.reduce((total, item) => total + item.switches, 0)),
    writesPerBid: perBid(writes),
    writeMs: writes === 0 ? 0 : ((countersAfter.writeSeconds - countersBefore.writeSeconds) * 1000) / writes,
    batchesPerBid: perBid(countersAfter.batches - countersBefore.batches),
    peerMessagesPerBid: perBid(countersAfter.messagesSent - countersBefore.messagesSent),
  };
}

async function createAuction(url: string, seller: string, title: string): Promise<string> {
  const response = await request(`${url}/api/auctions`, {
    token: seller,
    body: { title, startingPrice, minIncrement: 1, durationMs: 6 * 3600_000, softClose: null },
  });
  if (response.status !== 201) throw new Error(`create: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body["id"] as string;
}

async function hotRun(setup: Setup, settings: ClusterSettings): Promise<HotFigure> {
  const urls = setup.cluster.urls();
  const auction = await createAuction(urls[0]!, setup.seller, "hot lot");
  const result: LoadResult = await runLoad({
    kind: "hot",
    urls,
    tokens: setup.bidders,
    concurrency: settings.hotBidders,
    auction,
    startingPrice,
    warmupMs: settings.warmupMs,
    durationMs: settings.durationMs,
  });
  const accepted = result.acceptedByBidder!;
  return {
    bidders: settings.hotBidders,
    attemptsPerSecond: (result.answered / result.measuredMs) * 1000,
    acceptedPerSecond: (result.acked / result.measuredMs) * 1000,
    latency: result.latency,
    byStatus: result.byStatus,
    fairness: jain(accepted),
    acceptedMin: Math.min(...accepted),
    acceptedMax: Math.max(...accepted),
    generatorCores: result.generatorCores,
  };
}

export async function fanoutRun(
  setup: Setup,
  settings: ClusterSettings,
  progress: Progress,
): Promise<FanoutFigure> {
  const { cluster } = setup;
  const nodes = cluster.running();
  const auction = await createAuction(nodes[0]!.url, setup.seller, "watched lot");
  progress(`fan-out: connecting ${settings.watchers} WebSocket watchers`);
  const sockets: WebSocket[] = [];
  const arrivals: ((amount: number) => void)[] = [];
  const receivers: UpdateReceiver[] = [];
  try {
    await Promise.all(
      Array.from({ length: settings.watchers }, async (_, index) => {
        const node = nodes[index % nodes.length]!;
        const socket = new WebSocket(`ws://127.0.0.1:${node.httpPort}/api/stream`);
        sockets.push(socket);
        const subscribed = new Promise<void>((resolve, reject) => {
          socket.once("error", reject);
          socket.on("message", (data: Buffer) => {
            const message = JSON.parse(data.toString("utf8")) as {
              type: string;
              event?: { type: string; amount?: number };
            };
            if (message.type === "leader") resolve();
            if (message.type === "event" && message.event?.type === "bid")
              arrivals[index]?.(message.event.amount!);
          });
        });
        await new Promise<void>((resolve, reject) => {
          socket.once("open", () => resolve());
          socket.once("error", reject);
        });
        socket.send(JSON.stringify({ type: "subscribe", auctions: [auction], cluster: true, from: null }));
        await subscribed;
      }),
    );
    progress(`fan-out: starting ${settings.multicastReceivers} multicast receivers`);
    for (let index = 0; index < settings.multicastReceivers; index++) {
      receivers.push(
        await UpdateReceiver.start({
          port: cluster.multicastPort,
          clusterName: cluster.name,
          interfaceAddress: "127.0.0.1",
        }),
      );
    }
    const watcherMs: number[] = [];
    const allWatchersMs: number[] = [];
    const receiverMs: number[] = [];
    const ackMs: number[] = [];
    let missed = 0;
    for (let bid = 0; bid < settings.fanoutBids; bid++) {
      progress(`fan-out: bid ${bid + 1} of ${settings.fanoutBids}`);
      const amount = startingPrice + bid;
      let pending = settings.watchers + settings.multicastReceivers;
      let allArrived: () => void = () => undefined;
      const done = new Promise<void>((resolve) => (allArrived = resolve));
      let last = 0;
      const sentAt = performance.now();
      const arrived = (into: number[]) => {
        const ms = performance.now() - sentAt;
        into.push(ms);
        last = Math.max(last, ms);
        if (--pending === 0) allArrived();
      };
      const seen = new Set<number>();
      for (let index = 0; index < settings.watchers; index++) {
        arrivals[index] = (value) => {
          if (value !== amount || seen.has(index)) return;
          seen.add(index);
          arrived(watcherMs);
        };
      }
      const heard = new Set<number>();
      const listeners = receivers.map((receiver, index) => {
        const listener = (update: { auctionId: string; price: number | null }) => {
          if (update.auctionId !== auction || update.price !== amount || heard.has(index)) return;
          heard.add(index);
          arrived(receiverMs);
        };
        receiver.on("update", listener);
        return () => receiver.off("update", listener);
      });
      const response = await request(`${nodes[bid % nodes.length]!.url}/api/auctions/${auction}/bids`, {
        token: setup.bidders[0]!,
        body: { amount, bidId: `fanout-${bid}` },
      });
      if (response.status !== 201) throw new Error(`fan-out bid: ${response.status}`);
      ackMs.push(performance.now() - sentAt);
      await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      missed += pending;
      allWatchersMs.push(last);
      for (const stop of listeners) stop();
    }
    return {
      watchers: settings.watchers,
      receivers: settings.multicastReceivers,
      bids: settings.fanoutBids,
      ackMs: percentiles(ackMs),
      watcherMs: percentiles(watcherMs),
      allWatchersMs: percentiles(allWatchersMs),
      receiverMs: percentiles(receiverMs),
      missed,
    };
  } finally {
    for (const socket of sockets) socket.terminate();
    await Promise.all(receivers.map((receiver) => receiver.close()));
  }
}

/**
 * A few bidders in this process bidding on one auction each in turn, each answer noted with when it
 * was sent: failover is the time from a kill to the first acknowledged bid sent after it.
 */
class Bidders {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  readonly acks: { sentAt: number; answeredAt: number; auction: string }[] = [];
  private counter = 0;

  constructor(
    private readonly cluster: BenchCluster,
    private readonly token: string,
    private readonly prices: Map<string, number>,
    auctions: string[],
  ) {
    this.loops = auctions.map((auction) => this.loop(auction));
  }

  private async loop(auction: string): Promise<void> {
    let urlIndex = 0;
    while (!this.stopped) {
      const amount = (this.prices.get(auction) ?? startingPrice - 1) + 1;
      const body = { amount, bidId: `fo-${this.counter++}` };
      for (;;) {
        if (this.stopped) return;
        const urls = this.cluster.urls();
        const url = urls[urlIndex++ % Math.max(1, urls.length)];
        const sentAt = performance.now();
        try {
          if (url === undefined) throw new Error("no node running");
          const response = await request(`${url}/api/auctions/${auction}/bids`, {
            token: this.token,
            body,
            timeoutMs: 6000,
          });
          if (response.status === 200 || response.status === 201) {
            this.prices.set(auction, amount);
            // Only a new acceptance (201) needed a commit; a repeat (200) of a bid committed before the
            // kill is answered from the state, and says nothing about the cluster taking bids again.
            if (response.status === 201) this.acks.push({ sentAt, answeredAt: performance.now(), auction });
            break;
          }
          if (response.status === 409) {
            const minimum = /at least (\d+)/.exec(JSON.stringify(response.body))?.[1];
            if (minimum !== undefined) this.prices.set(auction, Number(minimum) - 1);
            break;
          }
        } catch {
          // Refused or reset: the node is gone; the next node in turn gets the same bid.
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  /** Resolves with the answer time of the first acknowledged bid (of `auctions`, if given) sent at or after `since`. */
  async firstAckAfter(since: number, timeoutMs: number, auction?: string): Promise<number> {
    const ack = await waitFor("an acknowledged bid", timeoutMs, () =>
      this.acks.find((item) => item.sentAt >= since && (auction === undefined || item.auction === auction)),
    );
    return ack.answeredAt;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

async function failoverRun(setup: Setup, settings: ClusterSettings, progress: Progress) {
  const { cluster } = setup;
  const prices = new Map(Object.entries(setup.prices));
  const samplesMs: number[] = [];
  const bidders = new Bidders(cluster, setup.bidders[1]!, prices, setup.auctions.slice(0, 4));
  try {
    for (let kill = 0; kill < settings.leaderKills; kill++) {
      const leaderId = await waitFor("a leader", 20_000, async () => (await cluster.leader()) ?? undefined);
      const leader = cluster.node(leaderId);
      await bidders.firstAckAfter(performance.now(), 20_000);
      progress(`failover: killing leader ${leaderId} (${kill + 1} of ${settings.leaderKills})`);
      const killedAt = performance.now();
      await leader.kill("SIGKILL");
      const ackAt = await bidders.firstAckAfter(killedAt, 30_000);
      samplesMs.push(ackAt - killedAt);
      progress(`failover: ${Math.round(ackAt - killedAt)} ms; restarting node ${leaderId}`);
      await leader.start();
      // The highest id takes the lead back once caught up (5 s stable): the next kill is of a settled leader.
      await cluster.waitForLeader(Math.max(...cluster.running().map((node) => node.id)), 30_000);
    }
  } finally {
    await bidders.stop();
  }
  const workerSamplesMs = await workerKill(setup, settings, prices, progress);
  setup.prices = Object.fromEntries(prices);
  return {
    kills: settings.leaderKills,
    samplesMs,
    workerSamplesMs,
    workerAuctions: workerSamplesMs.length,
  } satisfies FailoverFigure;
}

/** Kills a worker and times until each of (a sample of) its auctions takes bids again elsewhere. */
async function workerKill(
  setup: Setup,
  settings: ClusterSettings,
  prices: Map<string, number>,
  progress: Progress,
): Promise<number[]> {
  const { cluster } = setup;
  const leaderId = await waitFor("a leader", 20_000, async () => (await cluster.leader()) ?? undefined);
  const victim = cluster.running().find((node) => node.id !== leaderId)!;
  const listing = await request(`${cluster.urls()[0]!}/api/auctions?limit=200`);
  const items = listing.body["items"] as { id: string; owner: number | null }[];
  const owned = items
    .filter((item) => item.owner === victim.id && setup.auctions.includes(item.id))
    .map((item) => item.id)
    .slice(0, settings.workerAuctions);
  if (owned.length === 0) throw new Error(`worker ${victim.id} owns none of the listed auctions`);
  const bidders = new Bidders(cluster, setup.bidders[2]!, prices, owned);
  try {
    await Promise.all(owned.map((auction) => bidders.firstAckAfter(performance.now(), 20_000, auction)));
    progress(`worker failover: killing worker ${victim.id} (owns ${owned.length} sampled auctions)`);
    const killedAt = performance.now();
    await victim.kill("SIGKILL");
    const samples = await Promise.all(
      owned.map(async (auction) => (await bidders.firstAckAfter(killedAt, 30_000, auction)) - killedAt),
    );
    return samples;
  } finally {
    await bidders.stop();
    progress(`worker failover: restarting node ${victim.id}`);
    await victim.start();
  }
}

async function memoryFigure(cluster: BenchCluster, auctions: number, when: string): Promise<MemoryFigure> {
  // Settle first: what the nodes hold, not what a burst of requests left to collect.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const leaderId = await waitFor("a leader", 20_000, async () => (await cluster.leader()) ?? undefined);
  const entries = await cluster.node(leaderId).metric("gavel_commit_index");
  const rssMb: Record<number, number> = {};
  for (const node of cluster.running()) rssMb[node.id] = node.rssBytes() / 2 ** 20;
  return { auctions, entries, when, rssMb };
}

async function growTo(setup: Setup, total: number, progress: Progress): Promise<void> {
  const more = total - setup.auctions.length;
  if (more <= 0) return;
  progress(`creating ${more.toLocaleString("en-US")} more auctions (to ${total.toLocaleString("en-US")})`);
  await runLoad({
    kind: "create",
    urls: setup.cluster.urls(),
    token: setup.seller,
    count: more,
    concurrency: 64,
    prefix: "bulk",
  });
}

export async function joinRun(
  setup: Setup,
  settings: Pick<ClusterSettings, "joinEntries" | "auctions" | "warmupMs" | "durationMs">,
  progress: Progress,
): Promise<JoinFigure> {
  const { cluster } = setup;
  const leaderId = await waitFor("a leader", 20_000, async () => (await cluster.leader()) ?? undefined);
  const leader = cluster.node(leaderId);
  let entries = await leader.metric("gavel_commit_index");
  if (entries < settings.joinEntries) {
    // Bids fill the log up to the target (bounded in time: the figure then says how many it was).
    progress(`join: filling the log to ${settings.joinEntries.toLocaleString("en-US")} entries`);
    const deadline = Date.now() + 180_000;
    while (entries < settings.joinEntries && Date.now() < deadline) {
      await spreadRun(setup, 64, { ...settings, warmupMs: 0, durationMs: 5000 });
      entries = await leader.metric("gavel_commit_index");
      progress(`join: ${entries.toLocaleString("en-US")} entries in the log`);
    }
  }
  const newId = Math.max(...cluster.nodes.keys()) + 1;
  const joiner: BenchNode = await cluster.add(newId);
  progress(`join: node ${newId} catching up ${entries.toLocaleString("en-US")} entries`);
  const startedAt = performance.now();
  await joiner.start();
  const servingMs = performance.now() - startedAt;
  await waitFor(`node ${newId} to catch up`, 120_000, async () => {
    return (await joiner.metric("gavel_applied_index")) >= entries;
  });
  return { entries, servingMs, caughtUpMs: performance.now() - startedAt };
}

/** The 64-bidder load on a fresh 3-node cluster whose nodes run under --cpu-prof: where their time goes. */
async function profileRun(settings: ClusterSettings, progress: Progress): Promise<ProfileFigure | null> {
  if (settings.profileMs <= 0) return null;
  const dir = mkdtempSync(path.join(tmpdir(), "gavel-bench-profile-"));
  try {
    const bidders = Math.max(...settings.bidderCounts);
    const setup = await setUp(3, settings, bidders, progress, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
    try {
      progress(`profile: ${bidders} bidders with every node under --cpu-prof`);
      const figure = await spreadRun(
        setup,
        bidders,
        { ...settings, durationMs: settings.profileMs },
        "owner",
      );
      const leaderId = await setup.cluster.leader();
      const nodes = setup.cluster.running();
      const pids = new Map(nodes.map((node) => [node.id, node.pid]));
      progress("profile: stopping the nodes (SIGTERM) so that they write their profiles");
      await Promise.all(nodes.map((node) => node.kill("SIGTERM")));
      const files = profilesIn(dir);
      return {
        bidders,
        bidsPerSecond: figure.bidsPerSecond,
        nodes: nodes.flatMap((node) => {
          const file = files.get(pids.get(node.id) ?? -1);
          if (file === undefined) return [];
          const role = node.id === leaderId ? "leader" : "worker";
          return [{ id: node.id, role, summary: summarize(file) }];
        }),
      };
    } finally {
      await setup.cluster.destroy();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every cluster section, in an order where each leaves the cluster as the next needs it. */
/** Log entries between snapshots in the runs "without snapshots": more than such a run applies. */
export const snapshotsApart = 100_000_000;

/**
 * What snapshots, fsyncs and V8's GC threads cost the headline load: rounds of five fresh 3-node
 * clusters, one with the defaults, one with snapshots `snapshotsApart` entries apart, one whose nodes
 * fsync their log without waiting for it (`--unsafe-no-fsync-wait`), one that never fsyncs it
 * (`--unsafe-no-fsync`), and one whose nodes run without colocatedNodeFlags (V8's garbage collector
 * on helper threads too), each loaded once, in turn.
 */
async function snapshotPairs(settings: ClusterSettings, progress: Progress): Promise<SettingsRound[]> {
  const pairs: SettingsRound[] = [];
  const run = async (env: Record<string, string>, what: string, runtimeFlags = colocatedNodeFlags) => {
    const setup = await setUp(3, settings, 64, progress, [], env, runtimeFlags);
    try {
      progress(`snapshots: 3 nodes, 64 bidders, ${what}`);
      return await spreadRun(setup, 64, settings, "owner");
    } finally {
      await setup.cluster.destroy();
    }
  };
  for (let pair = 1; pair <= settings.snapshotPairs; pair++) {
    const spaced = await run({}, `defaults (round ${pair} of ${settings.snapshotPairs})`);
    const apart = await run(
      { GAVEL_SNAPSHOT_ENTRIES: String(snapshotsApart) },
      `no snapshot (round ${pair} of ${settings.snapshotPairs})`,
    );
    const unwaited = await run(
      { GAVEL_UNSAFE_NO_FSYNC_WAIT: "1" },
      `fsync not waited for (round ${pair} of ${settings.snapshotPairs})`,
    );
    const unsynced = await run(
      { GAVEL_UNSAFE_NO_FSYNC: "1" },
      `no fsync (round ${pair} of ${settings.snapshotPairs})`,
    );
    const parallelGc = await run({}, `V8's GC threads (round ${pair} of ${settings.snapshotPairs})`, []);
    pairs.push({ spaced, apart, unwaited, unsynced, parallelGc });
  }
  return pairs;
}

export async function measureCluster(settings: ClusterSettings, progress: Progress): Promise<ClusterFigures> {
  const maxBidders = Math.max(...settings.bidderCounts, settings.hotBidders, 3);
  const setupStartedAt = performance.now();
  const setup = await setUp(3, settings, maxBidders, progress);
  const setupMs = performance.now() - setupStartedAt;
  try {
    const memory = [await memoryFigure(setup.cluster, settings.auctions, "auctions created")];
    const spread: SpreadFigure[] = [];
    for (const bidders of settings.bidderCounts) {
      progress(
        `3 nodes: ${bidders} bidders over ${settings.auctions.toLocaleString("en-US")} auctions for ${(settings.warmupMs + settings.durationMs) / 1000} s`,
      );
      spread.push(await spreadRun(setup, bidders, settings));
    }
    const most = Math.max(...settings.bidderCounts);
    const routedRuns: SpreadFigure[] = [];
    for (let run = 1; run <= settings.headlineRuns; run++) {
      progress(
        `3 nodes: ${most} bidders, each bid sent to its auction's owner (run ${run} of ${settings.headlineRuns})`,
      );
      routedRuns.push(await spreadRun(setup, most, settings, "owner"));
    }
    const byRate = [...routedRuns].sort((left, right) => left.bidsPerSecond - right.bidsPerSecond);
    const routed = byRate[Math.floor((byRate.length - 1) / 2)]!;
    memory.push(await memoryFigure(setup.cluster, settings.auctions, "after the bid runs above"));
    progress(`hot auction: ${settings.hotBidders} bidders`);
    const hot = await hotRun(setup, settings);
    const fanout = await fanoutRun(setup, settings, progress);
    const failover = await failoverRun(setup, settings, progress);
    if (settings.bigAuctions > 0) {
      await growTo(setup, settings.bigAuctions, progress);
      memory.push(await memoryFigure(setup.cluster, settings.bigAuctions, "grown to that many auctions"));
    }
    const joinMain = await joinRun(setup, { ...settings, joinEntries: 0 }, progress);
    await setup.cluster.destroy();
    let join = joinMain;
    if (settings.joinEntries > 0) {
      // The target's join: a cluster whose log holds the entries the target names, not the main one's.
      const fresh = await setUp(3, settings, 64, progress);
      try {
        join = await joinRun(fresh, settings, progress);
      } finally {
        await fresh.cluster.destroy();
      }
    }
    const scale: SpreadFigure[] = [];
    for (const size of settings.scaleSizes) {
      const bigger = await setUp(size, settings, 64, progress);
      try {
        progress(`${size} nodes: 64 bidders`);
        scale.push(await spreadRun(bigger, 64, settings, "owner"));
      } finally {
        await bigger.cluster.destroy();
      }
    }
    const profile = await profileRun(settings, progress);
    const snapshots = await snapshotPairs(settings, progress);
    return {
      spread,
      routed,
      routedRuns,
      hot,
      fanout,
      failover,
      join,
      joinMain,
      memory,
      scale,
      profile,
      snapshots,
      setupMs,
    };
  } finally {
    await setup.cluster.destroy();
  }
}

export { median };
