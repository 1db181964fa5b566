// `npm run bench`: measures a 3-node loopback cluster of real `gavel node` processes (durable
// SQLite storage, HTTP keep-alive load from a generator process of its own) and the in-process
// engine as the ceiling, prints the figures with the machine they ran on, and on a full run writes
// BENCHMARKS.md, so the published figures always come from the bench. `--quick` is a short run that
// only prints; `--smoke` is a tiny one for the test that keeps this script from rotting. Progress
// goes to stderr; the last line of stdout is the summary:
// bids_per_s=X p50_ms=Y p99_ms=Z failover_median_ms=W (64 bidders over 1,000 auctions, or the
// largest bidder count of the mode).
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { colocatedNodeFlags } from "../src/dev/local-cluster.js";
import { measureCluster, snapshotsApart } from "./cluster-bench.js";
import type {
  ClusterFigures,
  ClusterSettings,
  JoinFigure,
  SettingsRound,
  SpreadFigure,
} from "./cluster-bench.js";
import { workloads } from "./engine.js";
import { machineLine, measureMachine } from "./machine.js";
import { startingArea } from "./profile.js";
import type { Share } from "./profile.js";
import type { MachineCosts } from "./machine.js";
import type { Measurement } from "./engine.js";
import { median } from "./stats.js";

type Mode = "full" | "quick" | "smoke";

interface Settings {
  mode: Mode;
  bidsPerRun: number;
  runs: number;
  cluster: ClusterSettings;
}

const settingsByMode: Record<Mode, Settings> = {
  full: {
    mode: "full",
    bidsPerRun: 200_000,
    runs: 5,
    cluster: {
      auctions: 1000,
      bidderCounts: [1, 16, 64],
      warmupMs: 2000,
      durationMs: 15_000,
      hotBidders: 64,
      watchers: 1000,
      multicastReceivers: 20,
      fanoutBids: 10,
      leaderKills: 10,
      workerAuctions: 20,
      bigAuctions: 100_000,
      joinEntries: 100_000,
      scaleSizes: [1, 5, 7],
      profileMs: 15_000,
      headlineRuns: 3,
      snapshotPairs: 3,
    },
  },
  quick: {
    mode: "quick",
    bidsPerRun: 20_000,
    runs: 3,
    cluster: {
      auctions: 1000,
      bidderCounts: [1, 16, 64],
      warmupMs: 1000,
      durationMs: 4000,
      hotBidders: 64,
      watchers: 1000,
      multicastReceivers: 10,
      fanoutBids: 3,
      leaderKills: 2,
      workerAuctions: 10,
      bigAuctions: 0,
      joinEntries: 0,
      scaleSizes: [],
      profileMs: 0,
      headlineRuns: 1,
      snapshotPairs: 0,
    },
  },
  smoke: {
    mode: "smoke",
    bidsPerRun: 2000,
    runs: 1,
    cluster: {
      auctions: 40,
      bidderCounts: [1, 4],
      warmupMs: 200,
      durationMs: 1000,
      hotBidders: 4,
      watchers: 10,
      multicastReceivers: 2,
      fanoutBids: 1,
      leaderKills: 1,
      workerAuctions: 3,
      bigAuctions: 0,
      joinEntries: 0,
      scaleSizes: [],
      profileMs: 1000,
      headlineRuns: 1,
      snapshotPairs: 0,
    },
  },
};

const usage = "usage: npm run bench [-- --quick]";

interface EngineRow {
  name: string;
  description: string;
  runs: Measurement[];
  medianOpsPerSecond: number;
}

function settingsFrom(args: readonly string[]): Settings {
  for (const arg of args) {
    if (arg === "--help" || arg === "-h") {
      console.log(usage);
      process.exit(0);
    }
    if (arg !== "--quick" && arg !== "--smoke")
      throw new Error(`unknown argument ${JSON.stringify(arg)}; ${usage}`);
  }
  if (args.includes("--smoke")) return settingsByMode.smoke;
  return args.includes("--quick") ? settingsByMode.quick : settingsByMode.full;
}

function machine() {
  const cpus = os.cpus();
  return {
    node: process.version,
    cpuCount: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    // Other work on the machine slows the bench; the load average says how busy it was.
    loadAverage: os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(", "),
  };
}

const format = (value: number) => Math.round(value).toLocaleString("en-US");
const ms = (value: number) =>
  value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : format(value);

/** Progress on stderr: redrawn in place on a terminal, one line per step otherwise. */
function progressReporter(startedAt: number) {
  const tty = process.stderr.isTTY;
  const report = (text: string) => {
    const elapsed = ((performance.now() - startedAt) / 1000).toFixed(0).padStart(4);
    if (tty) process.stderr.write(`\r\x1b[K[${elapsed} s] ${text}`);
    else process.stderr.write(`[${elapsed} s] ${text}\n`);
  };
  const done = () => {
    if (tty) process.stderr.write("\r\x1b[K");
  };
  return { report, done };
}

function measureEngine(settings: Settings, report: (text: string) => void): EngineRow[] {
  return workloads.map((workload) => {
    report(`engine ceiling: ${workload.name}`);
    // A warm-up pass lets the JIT settle; its figure is discarded.
    workload.measure(Math.min(settings.bidsPerRun, 20_000));
    const runs = Array.from({ length: settings.runs }, () => workload.measure(settings.bidsPerRun));
    return {
      name: workload.name,
      description: workload.description,
      runs,
      medianOpsPerSecond: median(runs.map((run) => run.opsPerSecond)),
    };
  });
}

/** Node CPU per acknowledged bid, in ms: a figure that other work on the machine disturbs less than rates. */
function cpuPerBid(figure: SpreadFigure): string {
  return figure.bidsPerSecond === 0 ? "–" : ((figure.nodeCores * 1000) / figure.bidsPerSecond).toFixed(3);
}

function spreadLine(figure: SpreadFigure): string {
  const statuses = Object.entries(figure.byStatus)
    .map(([status, count]) => `${status}: ${format(count)}`)
    .join(", ");
  return `| ${figure.nodes} | ${figure.bidders} | ${figure.routing} | ${format(figure.bidsPerSecond)} | ${ms(figure.latency.p50)} | ${ms(figure.latency.p99)} | ${ms(figure.latency.p999)} | ${ms(figure.latency.max)} | ${figure.nodeCores.toFixed(2)} | ${cpuPerBid(figure)} | ${figure.nodeIoCallsPerBid.toFixed(1)} | ${figure.nodeSwitchesPerBid.toFixed(1)} | ${figure.generatorCores.toFixed(2)} | ${statuses} |`;
}

function snapshotLines(figures: ClusterFigures): string[] {
  const header = ["## What snapshots, fsyncs and GC threads cost", ""];
  if (figures.snapshots.length === 0)
    return [
      ...header,
      "Skipped in this run (fresh clusters with and without snapshots, fsyncs and V8's GC threads).",
      "",
    ];
  return [
    ...header,
    `The headline load on fresh 3-node clusters, in rounds of five: the defaults (snapshots at least 10,000 entries apart, as many as the state has records; an fsync of the log for every batch, which what depends on the batch waits for), then \`gavel node --snapshot-entries ${format(snapshotsApart)}\` (no snapshot during the run), then \`gavel node --unsafe-no-fsync-wait\` (the log fsynced as often, one fsync at a time, but nothing waits for it: what the waiting costs; never for real use), then \`gavel node --unsafe-no-fsync\` (the log never fsynced: what durability costs; never for real use), then nodes started without \`node ${colocatedNodeFlags.join(" ")}\` (V8's default: its garbage collector works on helper threads too; every other run of this bench starts its nodes with that flag, as \`gavel demo\` and the tests do, because here three nodes and the load generator share ${os.cpus().length} cores). Every snapshot writes and fsyncs a file of the whole state while the node goes on.`,
    "",
    "| run | nodes | bidders | bids sent to | bids/s | p50 | p99 | p99.9 | max | node CPU | node CPU ms per bid | node I/O calls per bid | node switches per bid | generator CPU | answers by status |",
    "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...figures.snapshots.flatMap(({ spaced, apart, unwaited, unsynced, parallelGc }) => [
      `| defaults ${spreadLine(spaced)}`,
      `| no snapshot ${spreadLine(apart)}`,
      `| fsync not waited for ${spreadLine(unwaited)}`,
      `| no fsync ${spreadLine(unsynced)}`,
      `| V8's GC threads ${spreadLine(parallelGc)}`,
    ]),
    "",
  ];
}

/** The limits' line on fsyncs, from the rounds with and without them. */
/** How much less CPU per bid the nodes would need: as a share when it is under half, else a factor. */
function cutNeeded(nodeMsPerBid: number, nodeBudgetMsPerBid: number): string {
  const ratio = nodeMsPerBid / nodeBudgetMsPerBid;
  if (ratio <= 1) return "the nodes' CPU per bid would fit it, were the cores all theirs and always busy";
  if (ratio < 2)
    return `the nodes would need to spend ${((1 - 1 / ratio) * 100).toFixed(0)}% less CPU per bid`;
  return `the nodes would need to spend ${ratio.toFixed(1)} times less CPU per bid`;
}

/**
 * The headline runs on the main cluster, whose state earlier sections grew; the fresh clusters of
 * the snapshot rounds ran the same load from nothing. Null when those rounds were skipped.
 */
function grownStateLine(headline: SpreadFigure, figures: ClusterFigures): string | null {
  const fresh = figures.snapshots.map((round) => round.spaced);
  const applied = figures.memory.find((row) => row.when === "after the bid runs above")?.entries;
  if (fresh.length === 0 || applied === undefined) return null;
  const msPerBid = (figure: SpreadFigure) => (figure.nodeCores * 1000) / figure.bidsPerSecond;
  const freshMs = fresh.reduce((sum, figure) => sum + msPerBid(figure), 0) / fresh.length;
  const more = msPerBid(headline) / freshMs - 1;
  return (
    `The headline runs on the main cluster after the sections before it, its state grown to ${format(applied)} applied entries by the end of them; ` +
    `fresh clusters with the defaults ran the same load at ${fresh.map((figure) => format(figure.bidsPerSecond)).join(" / ")} bids/s ` +
    `(${fresh.map((figure) => msPerBid(figure).toFixed(3)).join(" / ")} ms of node CPU per bid, against ${msPerBid(headline).toFixed(3)} here). ` +
    (more >= 0.05
      ? `A bid cost ${(more * 100).toFixed(0)}% more CPU on the grown cluster: what a bid costs grows with the state (a larger heap for the garbage collector to mark, larger maps to look bids up in, larger snapshots to write).`
      : more <= -0.05
        ? `A bid cost ${(-more * 100).toFixed(0)}% less CPU on the grown cluster than on the fresh ones: here the state's growth did not show in what a bid costs, while the fresh clusters' runs start on nodes started moments before (whose hot code V8 may still be compiling), on a machine whose speed varies from run to run.`
        : "A bid cost about as much CPU on the grown cluster as on the fresh ones: the difference in bids/s is mostly the machine's variation from run to run.")
  );
}

/** What the joins measured: the target's (a fresh cluster filled to its entries) and the main cluster's. */
function joinLine(join: JoinFigure, main: JoinFigure): string {
  const sentence = (figure: JoinFigure) =>
    `serving HTTP after ${format(figure.servingMs)} ms, caught up (applied index at the leader's commit index when it started) after ${format(figure.caughtUpMs)} ms`;
  if (join === main)
    return `A fresh node joined a cluster whose log held ${format(join.entries)} entries (snapshot plus trailing entries): ${sentence(join)}.`;
  return (
    `A fresh node joined a fresh 3-node cluster whose log had been filled to ${format(join.entries)} entries (snapshot plus trailing entries): ${sentence(join)}. ` +
    `Another joined the main cluster at the end of its sections, its log at ${format(main.entries)} entries: ${sentence(main)}.`
  );
}

type PickFigure = (round: SettingsRound) => SpreadFigure;

/** One setting's bids/s in every round of the settings comparison, as "a / b". */
function roundsRates(rounds: readonly SettingsRound[], pick: PickFigure): string {
  return rounds.map((round) => format(pick(round).bidsPerSecond)).join(" / ");
}

/** One setting's node CPU per bid (ms) in every round of the settings comparison, as "a / b". */
function roundsCpu(rounds: readonly SettingsRound[], pick: PickFigure): string {
  return rounds.map((round) => cpuPerBid(pick(round))).join(" / ");
}

/** A share as a percentage with one decimal. */
function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** A relative change as a signed percentage with one decimal: "+5.2%", "−4.0%". */
function signedPercent(change: number): string {
  return `${change < 0 ? "−" : "+"}${percent(Math.abs(change))}`;
}

function fsyncLine(figures: ClusterFigures): string {
  const rounds = figures.snapshots;
  const lead =
    "- Fsyncs: every batch is fsynced on the leader and on each follower before what depends on it leaves, and a node steps nothing while its batch's fsync runs.";
  if (rounds.length === 0)
    return `${lead} (The rounds that measure what they cost were skipped in this run.)`;
  const rates = (pick: PickFigure) => roundsRates(rounds, pick);
  const cpu = (pick: PickFigure) => roundsCpu(rounds, pick);
  // Medians over the rounds: one run disturbed by the machine moves them less than a mean.
  const middle = (pick: PickFigure) => median(rounds.map((round) => pick(round).bidsPerSecond));
  const withFsync = middle((round) => round.spaced);
  const waitGain = middle((round) => round.unwaited) - withFsync;
  const fsyncGain = middle((round) => round.unsynced) - withFsync;
  const figuresText =
    `${lead} Without them (the no-fsync rows of What snapshots, fsyncs and GC threads cost) the same load ran at ${rates((round) => round.unsynced)} bids/s against ${rates((round) => round.spaced)} with them, ` +
    `at ${cpu((round) => round.unsynced)} ms of node CPU per bid against ${cpu((round) => round.spaced)}; ` +
    `with the fsyncs still made but nothing waiting for them (the fsync-not-waited-for rows) it ran at ${rates((round) => round.unwaited)} bids/s, at ${cpu((round) => round.unwaited)} ms per bid. `;
  const pipelining =
    "a node that steps on while its fsync runs (counting toward commit only the entries on its own disk, a durable index fed back to the core; its acknowledgements still waiting for their fsync)";
  if (fsyncGain <= 0)
    return `${figuresText}Here the fsyncs cost no throughput that the runs could tell from their noise.`;
  const gains = `in median bids/s over the rounds against the defaults', the runs without the waiting gave ${signedPercent(waitGain / withFsync)} and those without the fsyncs ${signedPercent(fsyncGain / withFsync)}`;
  if (waitGain < fsyncGain / 2)
    return (
      figuresText +
      `Waiting for the fsync is the smaller part (${gains}): most of what they cost is the fsync itself, the system call, the file system's journal commit and the disk's flush, and the wake-ups of the thread that waits for it, on the cores the nodes share. ` +
      `So ${pipelining} ${waitGain / withFsync < 0.05 ? "would gain little here, no more than the runs without the waiting show" : "could gain at most the first figure"}; fewer fsyncs per bid, more bids to each batch, would gain more.`
    );
  return (
    figuresText +
    `Waiting for the fsync is most of what the fsyncs cost (${gains}): ${pipelining} would lift it by up to the first figure.`
  );
}

/** The limits' line on V8's GC threads, from the rounds with and without colocatedNodeFlags. */
function gcThreadsLine(figures: ClusterFigures): string | null {
  const rounds = figures.snapshots;
  if (rounds.length === 0) return null;
  const rates = (pick: PickFigure) => roundsRates(rounds, pick);
  const cpu = (pick: PickFigure) => roundsCpu(rounds, pick);
  return (
    `- V8's GC threads: the nodes run with \`${colocatedNodeFlags.join(" ")}\`, so that each collects its garbage on its own thread; with V8's default (the GC-threads rows above) the same load ran at ${rates((round) => round.parallelGc)} bids/s against ${rates((round) => round.spaced)}, ` +
    `at ${cpu((round) => round.parallelGc)} ms of node CPU per bid against ${cpu((round) => round.spaced)}. Where nodes outnumber the cores, helper threads only compete with the other nodes for them; a node with cores to spare keeps V8's default, made for that (not measured here).`
  );
}

/** The areas of a profiled run's nodes, largest first by their mean share over the nodes. */
function profileAreas(profile: NonNullable<ClusterFigures["profile"]>): string[] {
  const totals = new Map<string, number>();
  for (const node of profile.nodes) {
    for (const row of node.summary.byArea) totals.set(row.what, (totals.get(row.what) ?? 0) + row.share);
  }
  return [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([area]) => area);
}

function profileLines(figures: ClusterFigures): string[] {
  const profile = figures.profile;
  if (profile === null) return ["## Where the time goes", "", "Skipped in this run (a profiled run).", ""];
  return [
    "## Where the time goes",
    "",
    `A fresh 3-node cluster under the headline load (bids sent to the auction's owner, ${profile.bidders} bidders, ${format(profile.bidsPerSecond)} acknowledged bids/s while profiled), every node run with \`node --cpu-prof\` and stopped with SIGTERM so that it writes its profile. Shares of each node's busy samples (idle left out); a sample taken while the thread waits in a system call, such as SQLite's fsync, counts in the function that called it.`,
    "",
    "By area of gavel (`bench/profile.ts`): each sample counts once, in the area of the nearest gavel code on its stack, so the Node.js, V8 and package code a part of gavel calls counts as that part's (a socket write under an HTTP reply is the HTTP API's, under a peer link it is peer messages'); starting is everything under Node's module loader, the process's start; the areas add up to 100%.",
    "",
    `| area | ${profile.nodes.map((node) => `node ${node.id} (${node.role})`).join(" | ")} |`,
    `| --- | ${profile.nodes.map(() => "---:").join(" | ")} |`,
    ...profileAreas(profile).map(
      (area) =>
        `| ${area} | ${profile.nodes.map((node) => percent(node.summary.byArea.find((row) => row.what === area)?.share ?? 0)).join(" | ")} |`,
    ),
    "",
    "By package or file, and by function (self time):",
    "",
    ...profile.nodes.flatMap((node) => [
      `Node ${node.id} (${node.role}): busy ${format(node.summary.busyMs)} ms, idle ${percent(node.summary.idleShare)} of the samples.`,
      "",
      "| where | share of busy | | function (self time) | share of busy |",
      "| --- | ---: | --- | --- | ---: |",
      ...node.summary.byPlace.map((row, index) => {
        const fn = node.summary.topFunctions[index];
        return `| ${row.what} | ${percent(row.share)} | | ${fn === undefined ? "" : `\`${fn.what}\``} | ${fn === undefined ? "" : percent(fn.share)} |`;
      }),
      "",
    ]),
  ];
}

/** The figures as markdown lines (the same text is printed and, on a full run, written). */
function report(
  settings: Settings,
  date: string,
  loadAverage: string,
  costs: MachineCosts,
  figures: ClusterFigures,
  engine: EngineRow[],
  headline: SpreadFigure,
): string[] {
  const { node, cpuCount, cpuModel, platform } = machine();
  const c = settings.cluster;
  const spreadEngine = engine.find((row) => row.name.startsWith("spread"))!;
  const failoverMedian = median(figures.failover.samplesMs);
  const workerMedian = median(figures.failover.workerSamplesMs);
  const { hot, fanout, join } = figures;
  const skipped: string[] = [];
  if (c.bigAuctions === 0) skipped.push("memory with 100,000 auctions");
  if (c.joinEntries === 0)
    skipped.push("joining with 100,000 log entries (the join catches up whatever the log holds)");
  if (c.scaleSizes.length === 0) skipped.push("the 1-, 5- and 7-node clusters");
  if (c.profileMs === 0) skipped.push("the profiled run");
  const statusesOf = (byStatus: Record<string, number>) =>
    Object.entries(byStatus)
      .map(([status, count]) => `${status}: ${format(count)}`)
      .join(", ");
  return [
    "# Benchmarks",
    "",
    "Written by `npm run bench` (`bench/main.ts`); do not edit by hand. To regenerate, run `npm run bench`",
    "on an otherwise idle machine and commit the result. `npm run bench -- --quick` prints a shorter run",
    "without writing this file.",
    "",
    ...(settings.mode === "full"
      ? []
      : [
          `**This is a ${settings.mode} run**: shorter and partial; skipped: ${skipped.join("; ") || "nothing"}.`,
          "",
        ]),
    `- Date: ${date}`,
    `- Machine: ${cpuCount} × ${cpuModel}; ${platform}; Node.js ${node}`,
    `- Load average (1, 5, 15 min) when the bench started: ${loadAverage}`,
    `- What the kernel charged (\`bench/machine.ts\`, in the bench's process before the load): a system call ${costs.syscallUs.toFixed(2)} µs (a 1-byte write to /dev/null), and ${costs.syscallAfterUs.toFixed(2)} µs more in the code after it (random lookups in a Map of 500,000 entries, slower with a system call every 20 of them: where every kernel entry empties the TLB, the code after it refills it); a page of fresh memory ${costs.freshPageUs.toFixed(2)} µs (its fault and zeroing); a 4 KiB write and fdatasync in the temp dir ${costs.fsyncMs.toFixed(2)} ms; a TCP round trip on loopback ${costs.loopbackRttUs.toFixed(1)} µs; Meltdown: ${costs.meltdown}. Machines of this kind differ in these, and the cluster's figures follow them; node CPU, I/O calls and context switches per bid say what a bid cost.`,
    `- Method: real \`gavel node\` processes on 127.0.0.1 started by the bench (\`node ${colocatedNodeFlags.join(" ")}\`, as for any nodes that share a machine's cores), each with its own SQLite data`,
    "  dir (WAL; every batch fsynced before anything that depends on it leaves the node) in a temp dir",
    "  removed afterwards; bids over HTTP/1.1 keep-alive connections (one request in flight on each;",
    "  bench/http-client.ts, a minimal client that takes half the CPU per request of node:http's) from a",
    "  load generator in a child process of its own, every bidder an async loop",
    "  with its own token and its own node (bidders spread evenly over the nodes; any node takes any request",
    "  and forwards it to the auction's owner), and once more as gavel's web page sends bids: to the node",
    "  running the auction, which every answer about it names (the Gavel-Owner header; the generator's",
    "  bidders share what they learn, and send a bid to their own node while they know no owner or the",
    "  owner fails). That last way is the headline figure. The generator and the nodes share the",
    "  machine's cores, and the tables say",
    "  what each used. Spread load: each bidder bids one above the current price on a random auction no",
    "  other bidder is bidding on at that moment, so every bid is meant to be accepted. Latency is from",
    "  sending a request to its full answer.",
    `- Each load run: ${c.warmupMs / 1000} s warm-up (not counted), then ${c.durationMs / 1000} s measured.`,
    "",
    "## Throughput and latency (3 nodes, durable)",
    "",
    `Acknowledged bids (201) per second over ${format(c.auctions)} auctions; latency of acknowledged bids in ms. ` +
      "Node CPU: all node processes together, in cores (from /proc), and per acknowledged bid in ms; node I/O calls: the nodes' read- and write-class system calls (reads, writes, sends, receives; from /proc), and node switches: their threads' context switches, both per acknowledged bid and counted over the run as the CPU is; generator CPU: the load generator's process, in cores.",
    "",
    "| nodes | bidders | bids sent to | bids/s | p50 | p99 | p99.9 | max | node CPU | node CPU ms per bid | node I/O calls per bid | node switches per bid | generator CPU | answers by status |",
    "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...[...figures.spread, figures.routed].map(spreadLine),
    "",
    ...(figures.routedRuns.length > 1
      ? [
          `The last row is the median of ${figures.routedRuns.length} runs of that load on the same cluster (one after another; the machine is shared, so runs differ): ` +
            figures.routedRuns
              .map((run) => `${format(run.bidsPerSecond)} bids/s, p99 ${ms(run.latency.p99)} ms`)
              .join("; ") +
            ".",
          "",
        ]
      : []),
    "## One hot auction",
    "",
    `${hot.bidders} bidders on one auction, each bidding one above the highest price it knows of; most lose to`,
    "a bid that got there first (409). Latency of every answered attempt, in ms.",
    "",
    "| attempts answered/s | accepted/s | p50 | p99 | p99.9 | fairness (Jain) | accepted per bidder (min–max) | generator CPU | answers by status |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    `| ${format(hot.attemptsPerSecond)} | ${format(hot.acceptedPerSecond)} | ${ms(hot.latency.p50)} | ${ms(hot.latency.p99)} | ${ms(hot.latency.p999)} | ${hot.fairness.toFixed(3)} | ${hot.acceptedMin}–${hot.acceptedMax} | ${hot.generatorCores.toFixed(2)} | ${statusesOf(hot.byStatus)} |`,
    "",
    "## Failover",
    "",
    `- Leader killed (SIGKILL) ${figures.failover.kills} times under a light bid load; from the kill to the first acknowledged bid sent after it: median ${format(failoverMedian)} ms, max ${format(Math.max(...figures.failover.samplesMs))} ms (each: ${figures.failover.samplesMs.map(format).join(", ")}). The node is restarted and leads again before the next kill.`,
    `- A worker killed: its ${figures.failover.workerAuctions} sampled auctions took bids again after a median of ${format(workerMedian)} ms, all of them within ${format(Math.max(...figures.failover.workerSamplesMs))} ms (reassignment after 3 s unheard).`,
    "",
    "## A new node joining",
    "",
    joinLine(join, figures.joinMain),
    "",
    "## Fan-out of one update",
    "",
    `${fanout.bids} bids on a watched auction; ${format(fanout.watchers)} WebSocket watchers (\`/api/stream\`, spread over the nodes) and ${fanout.receivers} multicast receivers (\`src/client/update-receiver.ts\`) in the bench process. Times from sending the bid, in ms.`,
    "",
    "| what | p50 | p99 | max |",
    "| --- | ---: | ---: | ---: |",
    `| bid acknowledged | ${ms(fanout.ackMs.p50)} | ${ms(fanout.ackMs.p99)} | ${ms(fanout.ackMs.max)} |`,
    `| each WebSocket watcher | ${ms(fanout.watcherMs.p50)} | ${ms(fanout.watcherMs.p99)} | ${ms(fanout.watcherMs.max)} |`,
    `| the last of all ${format(fanout.watchers)} watchers, per bid | ${ms(fanout.allWatchersMs.p50)} | ${ms(fanout.allWatchersMs.p99)} | ${ms(fanout.allWatchersMs.max)} |`,
    `| each multicast receiver | ${ms(fanout.receiverMs.p50)} | ${ms(fanout.receiverMs.p99)} | ${ms(fanout.receiverMs.max)} |`,
    "",
    `Updates missed (not arrived within 10 s): ${fanout.missed}.`,
    "",
    "## Scale",
    "",
    ...(figures.scale.length === 0
      ? ["Skipped in this run (clusters of 1, 5 and 7 nodes)."]
      : [
          "64 bidders over 1,000 auctions, bids sent to the auction's owner as in the headline, by cluster size (every node on this one machine). One node is the baseline: durable (every batch fsynced), with nothing to replicate.",
          "",
          "| nodes | bidders | bids sent to | bids/s | p50 | p99 | p99.9 | max | node CPU | node CPU ms per bid | node I/O calls per bid | node switches per bid | generator CPU | answers by status |",
          "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
          ...[headline, ...figures.scale].sort((left, right) => left.nodes - right.nodes).map(spreadLine),
        ]),
    "",
    "Resident memory (RSS) per node, in MiB, on the main cluster, with the entries its log had applied by then (its state, and the log since its last snapshot, are in memory):",
    "",
    "| when | auctions | entries applied | " +
      Object.keys(figures.memory[0]!.rssMb)
        .map((id) => `node ${id}`)
        .join(" | ") +
      " |",
    "| --- | ---: | ---: | " +
      Object.keys(figures.memory[0]!.rssMb)
        .map(() => "---:")
        .join(" | ") +
      " |",
    ...figures.memory.map(
      (row) =>
        `| ${row.when} | ${format(row.auctions)} | ${format(row.entries)} | ${Object.values(row.rssMb)
          .map((value) => value.toFixed(0))
          .join(" | ")} |`,
    ),
    "",
    ...snapshotLines(figures),
    ...profileLines(figures),
    "## The ceiling: the engine in process",
    "",
    "Bid commands through `AuctionBook.executeUnknown` (each parsed by the zod schema, as the cluster does),",
    `on one thread, no I/O: ${format(settings.bidsPerRun)} bids per run, ${settings.runs} runs after a warm-up, the median reported.`,
    "",
    "| workload | median bids/s | slowest run | fastest run | what it measures |",
    "| --- | ---: | ---: | ---: | --- |",
    ...engine.map((row) => {
      const rates = row.runs.map((run) => run.opsPerSecond);
      return `| ${row.name} | ${format(row.medianOpsPerSecond)} | ${format(Math.min(...rates))} | ${format(Math.max(...rates))} | ${row.description} |`;
    }),
    "",
    `Cluster to ceiling: ${format(headline.bidsPerSecond)} acknowledged bids/s on 3 durable nodes with ${headline.bidders} bidders is ${((headline.bidsPerSecond / spreadEngine.medianOpsPerSecond) * 100).toFixed(1)}% of the engine's ${format(spreadEngine.medianOpsPerSecond)} bids/s spread over auctions.`,
    "",
    "## Targets (3 nodes, durable, 64 bidders over 1,000 auctions)",
    "",
    "| figure | target | measured | met |",
    "| --- | ---: | ---: | --- |",
    `| acknowledged bids/s | ≥ 10,000 | ${format(headline.bidsPerSecond)} | ${headline.bidsPerSecond >= 10_000 ? "yes" : "no"} |`,
    `| p99 latency | ≤ 25 ms | ${ms(headline.latency.p99)} ms | ${headline.latency.p99 <= 25 ? "yes" : "no"} |`,
    `| failover median | ≤ 1,500 ms | ${format(failoverMedian)} ms | ${failoverMedian <= 1500 ? "yes" : "no"} |`,
    `| join and catch up ${format(join.entries)} entries | ≤ 10 s | ${(join.caughtUpMs / 1000).toFixed(1)} s | ${join.caughtUpMs <= 10_000 ? "yes" : "no"} |`,
    "",
    ...scaleLines(headline, figures),
    ...limitLines(headline, figures, cpuCount, costs),
  ];
}

/**
 * What users would otherwise run, for scale: figures quoted from the issue that set the targets
 * (measured there on a machine of this kind; this bench runs neither etcd nor Redis), each set
 * beside this run's comparable figure as a ratio.
 */
const quotedAlternatives = {
  etcdBidsPerSecond: 1_800,
  etcdP99Ms: 100,
  redisBidsPerSecond: 36_000,
} as const;

function scaleLines(headline: SpreadFigure, figures: ClusterFigures): string[] {
  const { etcdBidsPerSecond, etcdP99Ms, redisBidsPerSecond } = quotedAlternatives;
  const single = figures.scale.find((figure) => figure.nodes === 1);
  const times = (ours: number, theirs: number) => `${(ours / theirs).toFixed(2)} times`;
  return [
    "For scale, figures quoted from the issue that set these targets, not measured by this bench (it runs neither): " +
      `on a machine of this kind a 3-member etcd cluster manages about ${format(etcdBidsPerSecond)} compare-and-set bids/s under the same load (p99 about ${etcdP99Ms} ms), ` +
      `and a single Redis that fsyncs every write about ${format(redisBidsPerSecond)}, without any replication. ` +
      `The headline here, ${format(headline.bidsPerSecond)} bids/s with p99 ${ms(headline.latency.p99)} ms, is ${times(headline.bidsPerSecond, etcdBidsPerSecond)} that etcd figure` +
      (single === undefined || single.bidsPerSecond <= 0
        ? "."
        : `; one gavel node alone (durable, nothing to replicate: the Scale table) took ${format(single.bidsPerSecond)} bids/s, ${times(single.bidsPerSecond, redisBidsPerSecond)} that Redis figure.`),
    "",
  ];
}

/**
 * A profiled node's areas without the process's start (not what a bid costs), each as a share of the
 * busy time after it; largest first.
 */
function afterStart(node: NonNullable<ClusterFigures["profile"]>["nodes"][number]): Share[] {
  const started = node.summary.byArea.find((row) => row.what === startingArea)?.share ?? 0;
  return node.summary.byArea
    .filter((row) => row.what !== startingArea)
    .map((row) => ({ what: row.what, share: started >= 1 ? 0 : row.share / (1 - started) }));
}

/**
 * "; in the profile above, <area> took X%, Y% and Z%, and <area> ..., of the busy time after the start of nodes
 * 1, 2 and 3 (worker, worker, leader)" (only the nodes of `role`, when given), for areas of
 * bench/profile.ts named by their start (after an optional "the "); "" without a profile.
 */
function areaClause(figures: ClusterFigures, names: string[], role: string | null = null): string {
  const profile = figures.profile;
  if (profile === null) return "";
  const nodes = profile.nodes.filter((node) => role === null || node.role === role);
  if (nodes.length === 0) return "";
  const list = (items: string[]) =>
    items.length === 1 ? items[0]! : `${items.slice(0, -1).join(", ")} and ${items.at(-1)!}`;
  const shares = (name: string) =>
    list(
      nodes.map(
        (node) =>
          `${((afterStart(node).find((row) => row.what.startsWith(name.replace(/^the /, "")))?.share ?? 0) * 100).toFixed(1)}%`,
      ),
    );
  const whose = `nodes ${list(nodes.map((node) => String(node.id)))} (${nodes.map((node) => node.role).join(", ")})`;
  const took = names.map((name, index) =>
    index === 0 ? `${name} took ${shares(name)}` : `${name} ${shares(name)}`,
  );
  return `; in the profile above, ${took.join(", and ")}${names.length > 1 ? "," : ""} of the busy time after the start of ${nodes.length === 1 ? whose.replace("nodes", "node") : whose}`;
}

/**
 * What limits the headline figure, from this run's measurements: the CPU each acknowledged bid
 * costs against what the target leaves per bid on this machine, and the profile's largest places.
 */
function limitLines(
  headline: SpreadFigure,
  figures: ClusterFigures,
  cpuCount: number,
  costs: MachineCosts,
): string[] {
  const targetBidsPerSecond = 10_000;
  if (headline.bidsPerSecond >= targetBidsPerSecond && headline.latency.p99 <= 25) return [];
  const nodeMsPerBid = (headline.nodeCores * 1000) / headline.bidsPerSecond;
  const generatorMsPerBid = (headline.generatorCores * 1000) / headline.bidsPerSecond;
  const budgetMsPerBid = (cpuCount * 1000) / targetBidsPerSecond;
  const used = headline.nodeCores + headline.generatorCores;
  const nodeBudgetMsPerBid = budgetMsPerBid - generatorMsPerBid;
  const lines = [
    "## What limits it, and what would lift it",
    "",
    `At ${headline.bidders} bidders the three nodes used ${headline.nodeCores.toFixed(2)} cores and the load generator ${headline.generatorCores.toFixed(2)}: ${used.toFixed(2)} of this machine's ${cpuCount}. ` +
      `Each acknowledged bid cost ${nodeMsPerBid.toFixed(3)} ms of node CPU (all three nodes together) and ${generatorMsPerBid.toFixed(3)} ms of generator CPU. ` +
      `${format(targetBidsPerSecond)} bids/s on ${cpuCount} cores leaves ${budgetMsPerBid.toFixed(3)} ms of CPU per bid for everything` +
      (nodeBudgetMsPerBid > 0
        ? `, so ${cutNeeded(nodeMsPerBid, nodeBudgetMsPerBid)}. `
        : `, less than the generator alone spends per bid at this load. `) +
      (used >= 0.8 * cpuCount
        ? "The machine's cores were nearly all busy: on this machine the limit is CPU per bid."
        : "The cores were not all busy: the limit is also waiting, on fsyncs and round trips between the nodes."),
    "",
    `Of the nodes' CPU, ${(headline.nodeSystemShare * 100).toFixed(0)}% was spent in the kernel (system calls, page faults, the loopback network stack; from /proc) and the rest in the nodes' own code, Node.js and V8. ` +
      `Across the ${headline.nodes} nodes each acknowledged bid took ${headline.batchesPerBid.toFixed(2)} batches (a batch: the inputs that arrived together, stepped at once, with at most one durable write; \`gavel_batches_total\`) and ${headline.peerMessagesPerBid.toFixed(2)} peer messages (\`gavel_peer_messages_total\`), so a node's batch shared its fixed costs among ${(headline.nodes / Math.max(headline.batchesPerBid, 1e-9)).toFixed(1)} bids on average. ` +
      `Each acknowledged bid also cost the nodes ${headline.nodeIoCallsPerBid.toFixed(1)} read/write system calls and ${headline.nodeSwitchesPerBid.toFixed(1)} context switches (besides the waits for events, the fsyncs and the thread pool's wake-ups), on a machine that charged ${costs.syscallUs.toFixed(2)} µs for a bare system call (and ${costs.syscallAfterUs.toFixed(2)} µs more in the code after it) and ${costs.freshPageUs.toFixed(2)} µs for a page of fresh memory (Meltdown: ${costs.meltdown}). Where the kernel charges more for these, the same work per bid takes more CPU, which is why figures from two machines compare only where their costs at the top of this file agree.`,
    "",
    `The nodes made ${headline.writesPerBid.toFixed(3)} durable writes per acknowledged bid (a batch's transaction and its fsync, on each of the ${headline.nodes} nodes: a node's write held ${(headline.nodes / Math.max(headline.writesPerBid, 1e-9)).toFixed(1)} bids on average), and a write took ${ms(headline.writeMs)} ms on average from the start of its transaction to the end of its fsync (\`gavel_sqlite_write_seconds\`), where a bare 4 KiB write and fdatasync takes ${costs.fsyncMs.toFixed(2)} ms on this machine: the rest is the transaction and waiting, for libuv's thread pool to run the fsync on the shared cores and for its completion to reach the event loop. A node delivers nothing new to its core while its batch waits, so this wait is part of every hop of a bid.`,
  ];
  const single = figures.scale.find((figure) => figure.nodes === 1);
  if (single !== undefined && single.bidsPerSecond > 0) {
    const singleMsPerBid = (single.nodeCores * 1000) / single.bidsPerSecond;
    lines.push(
      "",
      `One node alone (the Scale table: durable, every batch fsynced, nothing to replicate) took ${format(single.bidsPerSecond)} bids/s from the same load at ${singleMsPerBid.toFixed(3)} ms of CPU per bid, with ${single.nodeSwitchesPerBid.toFixed(1)} context switches and ${single.batchesPerBid.toFixed(3)} batches per bid; ` +
        `the ${headline.nodes} nodes spent ${(nodeMsPerBid / singleMsPerBid).toFixed(1)} times its CPU per bid, with ${headline.nodeSwitchesPerBid.toFixed(1)} switches and ${headline.batchesPerBid.toFixed(3)} batches per bid. ` +
        `The work of a bid's steps does not grow that much with replication (every node applies every entry, but applying one costs microseconds: \`node dist/bench/apply.js\`); what grows is the hops: each peer message and each fsync's completion wakes a process that shares the cores with three others, and each batch on a node holds fewer bids, so the fixed costs of waking, reading, writing and syncing are shared among fewer.`,
    );
  }
  const grown = grownStateLine(headline, figures);
  if (grown !== null) lines.push("", grown);
  const profile = figures.profile;
  if (profile !== null && profile.nodes.length > 0) {
    const shareOf = (node: (typeof profile.nodes)[number], area: string) =>
      afterStart(node).find((row) => row.what === area)?.share ?? 0;
    const mean = (area: string) =>
      profile.nodes.reduce((sum, node) => sum + shareOf(node, area), 0) / profile.nodes.length;
    const idle = profile.nodes.reduce((sum, node) => sum + node.summary.idleShare, 0) / profile.nodes.length;
    const largest = profile.nodes.map((node) => ({ node, area: afterStart(node)[0]! }));
    const spread = largest.every(({ area }) => area.share < 0.5);
    lines.push(
      "",
      `In the profiled run each node was idle ${(idle * 100).toFixed(0)}% of the time (three nodes and the generator share ${cpuCount} cores); their busy time after the start (the table's other areas, as shares of their sum) went, on average over the nodes, to ` +
        profileAreas(profile)
          .filter((area) => area !== startingArea)
          .map((area) => `${area} ${percent(mean(area))}`)
          .join(", ") +
        ". The largest area of each node: " +
        largest
          .map(({ node, area }) => `node ${node.id} (${node.role}) ${area.what} ${percent(area.share)}`)
          .join("; ") +
        "." +
        (spread
          ? " No area holds half of any node's time: what a bid costs is spread over every part it crosses, so no one change lifts the whole, and the lifts below each take a share."
          : ""),
    );
  }
  lines.push(
    "",
    "A bid sent to its auction's owner crosses the owner's HTTP stack, goes to the leader in the owner's next proposal, is appended and fsynced on the leader and both followers, and is answered once the leader's commit notice reaches the owner: four hops between three processes that share the machine's cores with the generator. With 64 bids in flight, bids per second are 64 divided by the mean latency, and each hop waits for its process to be scheduled and to get through the batch in hand, so every microsecond of CPU per bid shows up twice, in throughput and in latency. What would lift it:",
    "",
    fsyncLine(figures),
    ...[gcThreadsLine(figures)].filter((line) => line !== null),
    `- The HTTP request itself: each bid is one request and one answer on a keep-alive connection, each a system call that runs loopback TCP for both ends, and Node's HTTP parser and fastify's request and reply objects${areaClause(figures, ["the HTTP API"], "worker")}. Fewer requests per bid (several bids per request from one bidder) would cut it; the same requests cost what Node.js makes them cost.`,
    `- Cheaper messages: every peer message is JSON, and each wakes its receiver${areaClause(figures, ["peer messages"])}; append, append reply, owner proposal, a forwarded bid and its result are checked by a hand-written validator (zod checks the rest), and a bid sent to a node that does not run its auction costs a forward and its answer, one message each (compare the \`bidder's node\` and \`auction's owner\` rows), which could be batched per target as appends and proposals are.`,
    `- Less work per applied entry where no client waits: every node builds live-stream events and replicated-state bookkeeping for every entry, and the owner sends the multicast updates of each batch (about five to a datagram)${areaClause(figures, ["the state machine", "updates"])}.`,
    `- Less memory per bid: every node keeps every bid in memory (its history line, its accepted bid and its line of history JSON) and, for a few seconds, its event in the live stream's ring; the garbage collector copies each of them once or twice before they settle, and marks them all, and that takes its share of every node's time${areaClause(figures, ["the garbage collector"])}. The log itself holds only its newest 10,000 applied entries in memory and reads older ones back from SQLite (it held every entry since the last snapshot, up to a million). \`node dist/bench/apply.js\` weighs both in process (\`state_bytes_per_bid\`, \`log_entry_bytes\`). Keeping bid history on disk rather than in every node's heap would take most of the rest away.`,
    "- Snapshots: taking one no longer stops a node for long (it keeps each auction's history as JSON and takes the snapshot as parts, written piece by piece; its compaction deletes a few thousand rows at a time), but every 10,000 to 1,000,000 entries (as many as the state has records) a node still writes and fsyncs a file of the whole state (every auction and bid history line; paced at 16 MiB/s and flushed every 2 MiB, so that it holds up the WAL's fsync less): in the headline load, with the state growing from nothing, each node writes several, and while they are written batches wait longer for their fsync and the cores do the writing. What snapshots cost the headline load is measured above (What snapshots, fsyncs and GC threads cost): writing them less often, or only what changed since the last one, would lift p99.",
    "- One hot auction: every bidder bids one above the price it last saw, so at most one bid of each owner batch can win; accepted bids per second follow the round trip of a batch, not the node's capacity.",
    "",
  );
  return lines;
}

async function main(): Promise<void> {
  const settings = settingsFrom(process.argv.slice(2));
  const startedAt = performance.now();
  const date = new Date().toISOString();
  const { node, cpuCount, cpuModel, platform, loadAverage } = machine();
  const progress = progressReporter(startedAt);
  process.stderr.write(`gavel bench (${settings.mode}) — ${date}\n`);
  process.stderr.write(
    `Node.js ${node}; ${cpuCount} × ${cpuModel}; ${platform}; load average ${loadAverage}\n`,
  );
  progress.report("machine: what a system call, a fresh page, an fsync and a loopback round trip cost");
  const costs = await measureMachine(os.tmpdir());
  progress.done();
  process.stderr.write(`machine: ${machineLine(costs)}\n`);
  let figures: ClusterFigures;
  try {
    figures = await measureCluster(settings.cluster, progress.report);
  } finally {
    progress.done();
  }
  const engine = measureEngine(settings, progress.report);
  progress.done();
  // Bids sent as the web page sends them: to the auction's owner, once an answer named it.
  const headline = figures.routed;
  const lines = report(settings, date, loadAverage, costs, figures, engine, headline);
  console.log(lines.join("\n"));
  if (settings.mode === "full") {
    const path = fileURLToPath(new URL("../../BENCHMARKS.md", import.meta.url));
    writeFileSync(path, lines.join("\n"));
    process.stderr.write(`wrote ${path} in ${((performance.now() - startedAt) / 1000).toFixed(0)} s\n`);
  } else {
    process.stderr.write(
      `${settings.mode} run in ${((performance.now() - startedAt) / 1000).toFixed(0)} s: BENCHMARKS.md left as it is\n`,
    );
  }
  const failoverMedian = median(figures.failover.samplesMs);
  console.log(
    `bids_per_s=${Math.round(headline.bidsPerSecond)} p50_ms=${headline.latency.p50.toFixed(2)} p99_ms=${headline.latency.p99.toFixed(2)} failover_median_ms=${Math.round(failoverMedian)}`,
  );
}

await main();
// Idle keep-alive connections would keep the process up.
process.exit(0);
