// One chaos run: start the nodes, register users and create auctions, then drive bidders, readers
// and an auctioneer while the nemesis injects faults; at the end heal, wait for the cluster to
// settle, read the final state from every node, and check the whole history. Bounded in time:
// the load stops at the duration, every fault ends with it, and each wait after it has a deadline.
import { performance } from "node:perf_hooks";
import { SeededRandom } from "../core/random.js";
import { checkHistory } from "./checker.js";
import type { CheckResult } from "./checker.js";
import { closeAgents } from "./client.js";
import { startHostCluster, startLocalCluster } from "./cluster.js";
import type { ChaosCluster } from "./cluster.js";
import { readSettledFinalStates, waitForLeader, waitForSettled } from "./final-state.js";
import type { History } from "./history.js";
import { Nemesis } from "./nemesis.js";
import type { NemesisReport } from "./nemesis.js";
import { Recorder, Workload } from "./workload.js";
import type { User } from "./workload.js";

export interface ChaosOptions {
  durationMs: number;
  nodes: number;
  seed: number;
  hosts: boolean;
  /** Concurrent bidding clients. */
  clients: number;
  /** Concurrent sampling readers. */
  readers: number;
  /** The checker's time budget. */
  checkerBudgetMs: number;
  /** Keep the nodes' data dirs and logs (loopback only) and say where. */
  keep: boolean;
  /** The nodes' --log-level. */
  logLevel: string;
  /** Progress lines (stderr). */
  progress: (line: string) => void;
}

export interface ChaosResult {
  history: History;
  check: CheckResult;
  nemesis: NemesisReport;
  /** Failures of the run itself (not of the system under test's rules), e.g. no leader at the end. */
  errors: string[];
  keptAt: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.progress;
  const started = Date.now();
  log(`starting ${options.nodes} nodes${options.hosts ? " in network namespaces" : " on loopback"}`);
  const cluster = options.hosts
    ? await startHostCluster(options.nodes, options.logLevel)
    : await startLocalCluster(options.nodes, options.logLevel);
  let keptAt: string | null;
  let result: Omit<ChaosResult, "keptAt">;
  try {
    result = await drive(cluster, options, started);
  } finally {
    closeAgents();
    keptAt = await cluster.destroy(options.keep);
    if (keptAt !== null) log(`node data and logs kept in ${keptAt}`);
  }
  return { ...result, keptAt };
}

async function drive(
  cluster: ChaosCluster,
  options: ChaosOptions,
  started: number,
): Promise<Omit<ChaosResult, "keptAt">> {
  const log = options.progress;
  if (!(await waitForLeader(cluster.nodes, 60_000)))
    throw new Error("the cluster elected no leader within 60 s");
  log(`cluster up after ${Date.now() - started} ms`);
  const recorder = new Recorder();
  const runId = options.seed.toString(36);
  const workload = new Workload(recorder, cluster.nodes, new SeededRandom(options.seed ^ 0x5bd1e995), runId);
  const nemesis = new Nemesis(cluster, new SeededRandom(options.seed), log);
  const { sellers, bidders } = await setUp(workload, options);
  await load(workload, nemesis, recorder, sellers, bidders, options);
  const errors = [...nemesis.report.errors, ...(await settle(cluster))];
  const finalStates = await readSettledFinalStates(cluster.nodes);
  const history: History = { operations: recorder.sorted(), finalStates };
  log(`checking ${history.operations.length} operations against ${finalStates.length} final states`);
  const checkStarted = performance.now();
  const check = checkHistory(history, { budgetMs: options.checkerBudgetMs, now: () => performance.now() });
  log(`checked in ${Math.round(performance.now() - checkStarted)} ms`);
  return { history, check, nemesis: nemesis.report, errors };
}

/** Users and the first auctions, before any fault: some close during the run, some outlive it. */
async function setUp(
  workload: Workload,
  options: ChaosOptions,
): Promise<{ sellers: User[]; bidders: User[] }> {
  const sellers: User[] = [];
  for (let index = 0; index < 2; index++) sellers.push(await workload.register(`seller${index}`, 0));
  const bidders: User[] = [];
  for (let index = 0; index < options.clients; index++) {
    bidders.push(await workload.register(`bidder${index}`, index + 1));
  }
  const initial = Math.max(4, options.nodes + 1);
  for (let index = 0; index < initial; index++) {
    const share = 0.25 + (1.25 * index) / (initial - 1);
    await workload.create(sellers[index % 2]!, 0, Math.max(5_000, Math.round(options.durationMs * share)));
  }
  options.progress(
    `${bidders.length} bidders, ${workload.auctions.length} auctions; load and nemesis for ${options.durationMs} ms`,
  );
  return { sellers, bidders };
}

/** Bidders, readers, the auctioneer and the nemesis, until the duration is over and every fault has ended. */
async function load(
  workload: Workload,
  nemesis: Nemesis,
  recorder: Recorder,
  sellers: User[],
  bidders: User[],
  options: ChaosOptions,
): Promise<void> {
  const loadStarted = Date.now();
  const stopAt = loadStarted + options.durationMs;
  const stopping = () => Date.now() >= stopAt;
  const progress = setInterval(() => {
    const ops = recorder.operations;
    const count = (kind: string) => ops.filter((op) => op.outcome.kind === kind).length;
    options.progress(
      `t=${Math.round((Date.now() - loadStarted) / 1000)}s operations=${ops.length} acknowledged=${count("ok")} unknown=${count("unknown")} faults=${nemesis.report.faults} down=[${nemesis.down.join(",")}] auctions=${workload.auctions.length}`,
    );
  }, 5_000);
  const interval = Math.min(20_000, Math.max(2_000, Math.round(options.durationMs / 12)));
  const durations = { low: 3_000, high: Math.max(6_000, Math.round(options.durationMs / 2)) };
  try {
    await Promise.all([
      nemesis.run(stopAt),
      ...bidders.map((user, index) => workload.bidder(user, index + 1, stopping)),
      ...Array.from({ length: options.readers }, (_, index) =>
        workload.reader(options.clients + 1 + index, stopping),
      ),
      workload.auctioneer(sellers, 0, interval, durations, 200, stopping),
    ]);
  } finally {
    clearInterval(progress);
  }
  options.progress(
    `load stopped after ${Date.now() - loadStarted} ms; healing and waiting for the cluster to settle`,
  );
}

/** Heals, starts any node that is down, and waits for one leader and the same auctions everywhere. */
async function settle(cluster: ChaosCluster): Promise<string[]> {
  const errors: string[] = [];
  await cluster.heal();
  for (const node of cluster.nodes) {
    if (!node.running) {
      errors.push(`node ${node.id} was not running at the end; starting it`);
      await node.start();
    }
  }
  if (!(await waitForLeader(cluster.nodes, 90_000)))
    errors.push("no leader agreed by every node within 90 s of healing");
  if (!(await waitForSettled(cluster.nodes, 60_000)))
    errors.push("the nodes did not settle on the same auctions within 60 s");
  await sleep(500);
  return errors;
}
