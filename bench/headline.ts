// The headline figure alone, for the edit-measure loop of performance work: a fresh cluster, bidders
// spread over 1,000 auctions, one run; prints bids/s, latency and CPU per bid, and with --profile
// where each node's time went. `npm run bench` remains the source of BENCHMARKS.md.
//
//   npm run bench:headline -- [--nodes 3] [--bidders 64] [--seconds 10] [--runs 1] [--to-owner] [--snapshot-entries N]
//                             [--join]
//                             [--profile [--keep-profiles]]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { joinRun, setUp, spreadRun } from "./cluster-bench.js";
import { machineLine, measureMachine } from "./machine.js";
import { profilesIn, summarize } from "./profile.js";

/** The options, or a one-line error and a hint on stderr (exit code 2). */
function parseOrExit<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}; see --help\n`);
    process.exit(2);
  }
}
const { values } = parseOrExit({
  options: {
    nodes: { type: "string", default: "3" },
    bidders: { type: "string", default: "64" },
    seconds: { type: "string", default: "10" },
    runs: { type: "string", default: "1" },
    profile: { type: "boolean", default: false },
    "to-owner": { type: "boolean", default: false },
    "keep-profiles": { type: "boolean", default: false },
    "snapshot-entries": { type: "string" },
    join: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(`npm run bench:headline -- [options]

The headline load alone on a fresh 3-node loopback cluster (durable, 1,000 auctions), one line of
figures per run; npm run bench remains the source of BENCHMARKS.md.

  --nodes N              cluster size (default 3)
  --bidders N            concurrent bidders (default 64)
  --seconds N            measured seconds per run, after a 2 s warm-up (default 10)
  --runs N               runs one after another on the same cluster, its state growing (default 1)
  --to-owner             send each bid to its auction's owner (Gavel-Owner), as the web page does
  --snapshot-entries N   the nodes' snapshot spacing (GAVEL_SNAPSHOT_ENTRIES)
  --join                 then start a new node and time its catch-up of the log the runs left
  --profile              where each node's time went (node --cpu-prof)
  --keep-profiles        keep the .cpuprofile files and print where
  -h, --help             this text`);
  process.exit(0);
}
const nodes = Number(values.nodes);
const bidders = Number(values.bidders);
const seconds = Number(values.seconds);
const runs = Number(values.runs);
for (const [name, value] of Object.entries({ nodes, bidders, seconds, runs }))
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`--${name} must be a positive integer; see --help\n`);
    process.exit(2);
  }

const progress = (text: string) => process.stderr.write(`${text}\n`);
const dir = values.profile ? mkdtempSync(path.join(tmpdir(), "gavel-headline-")) : null;
const settings = { auctions: 1000, warmupMs: 2000, durationMs: seconds * 1000 };
const nodeArgs = dir === null ? [] : ["--cpu-prof", `--cpu-prof-dir=${dir}`];
const snapshotEntries = values["snapshot-entries"];
const env: Record<string, string> =
  snapshotEntries === undefined ? {} : { GAVEL_SNAPSHOT_ENTRIES: snapshotEntries };
// What this machine's kernel charges: runs on machines that differ here are not comparable.
console.log(`machine ${machineLine(await measureMachine(tmpdir()))}`);
const setup = await setUp(nodes, settings, bidders, progress, nodeArgs, env);
try {
  // Runs one after another on the same cluster: the state, and so what it costs, grows with each.
  for (let run = 1; run <= runs; run += 1) {
    progress(
      `${nodes} nodes: ${bidders} bidders for ${seconds} s after a 2 s warm-up (run ${run} of ${runs})`,
    );
    const figure = await spreadRun(setup, bidders, settings, values["to-owner"] ? "owner" : "node");
    const { p50, p99, p999 } = figure.latency;
    const cpuPerBid = (figure.nodeCores * 1000) / figure.bidsPerSecond;
    console.log(
      `bids_per_s=${Math.round(figure.bidsPerSecond)} p50_ms=${p50.toFixed(2)} p99_ms=${p99.toFixed(2)} ` +
        `p999_ms=${p999.toFixed(1)} node_cores=${figure.nodeCores.toFixed(2)} node_sys_share=${figure.nodeSystemShare.toFixed(2)} node_cpu_ms_per_bid=${cpuPerBid.toFixed(3)} ` +
        `node_io_calls_per_bid=${figure.nodeIoCallsPerBid.toFixed(2)} node_switches_per_bid=${figure.nodeSwitchesPerBid.toFixed(2)} ` +
        `writes_per_bid=${figure.writesPerBid.toFixed(3)} write_ms=${figure.writeMs.toFixed(2)} ` +
        `batches_per_bid=${figure.batchesPerBid.toFixed(3)} peer_messages_per_bid=${figure.peerMessagesPerBid.toFixed(3)} ` +
        `generator_cores=${figure.generatorCores.toFixed(2)} statuses=${JSON.stringify(figure.byStatus)} ` +
        `cores_by_node=${Object.entries(figure.coresByNode)
          .map(([id, cores]) => `${id}:${cores.toFixed(2)}`)
          .join(",")}`,
    );
  }
  if (values.join) {
    // A new node joins after the runs and catches up the log they left (as the bench's join section).
    const join = await joinRun(setup, { ...settings, joinEntries: 0 }, progress);
    console.log(
      `join_entries=${join.entries} join_serving_ms=${Math.round(join.servingMs)} join_caught_up_ms=${Math.round(join.caughtUpMs)}`,
    );
  }
  if (dir !== null) {
    const running = setup.cluster.running();
    const pids = new Map(running.map((node) => [node.pid, node.id]));
    await Promise.all(running.map((node) => node.kill("SIGTERM")));
    for (const [pid, file] of profilesIn(dir)) {
      const summary = summarize(file, 25);
      console.log(
        `\nnode ${pids.get(pid)}: busy ${Math.round(summary.busyMs)} ms, idle ${(summary.idleShare * 100).toFixed(1)}%`,
      );
      for (const share of summary.byArea)
        console.log(`  ${(share.share * 100).toFixed(1).padStart(5)}%  ${share.what}`);
      console.log("  --");
      for (const share of summary.byPlace)
        console.log(`  ${(share.share * 100).toFixed(1).padStart(5)}%  ${share.what}`);
      console.log("  --");
      for (const share of summary.topFunctions)
        console.log(`  ${(share.share * 100).toFixed(1).padStart(5)}%  ${share.what}`);
    }
  }
} finally {
  await setup.cluster.destroy();
  if (dir !== null && !values["keep-profiles"]) rmSync(dir, { recursive: true, force: true });
  if (dir !== null && values["keep-profiles"]) console.log(`profiles kept in ${dir}`);
}
