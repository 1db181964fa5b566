// `npm run sim`: runs the deterministic simulator over many seeds, spread over worker threads (each
// seed is independent, so the result does not depend on how many). Every run ends with one line
// `seeds=N violations=V steps=S elapsed_ms=T`; a failure prints its seed and the trace of events
// that led to it, and the process exits non-zero.
import { availableParallelism } from "node:os";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Command, InvalidArgumentError, Option } from "commander";
import { mutants } from "../core/cluster/types.js";
import type { Mutant } from "../core/cluster/types.js";
import { runSeed } from "./run-seed.js";
import type { SeedResult } from "./run-seed.js";

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) throw new InvalidArgumentError("a positive integer");
  return parsed;
}

interface SimArgs {
  seeds: number;
  seed?: number;
  from: number;
  nodes?: number;
  steps: number;
  mutant?: Mutant;
  trace: boolean;
  progress: boolean;
  jobs: number;
}

interface WorkerTask {
  seeds: number[];
  steps: number;
  nodes?: number;
  mutant: Mutant | null;
}

function parseArgs(argv: string[]): SimArgs {
  const program = new Command()
    .name("npm run sim --")
    .description("Runs the whole-cluster simulator under random faults and checks safety and liveness.")
    .option("--seeds <n>", "how many seeds to run (from --from on)", positiveInt, 100)
    .option("--seed <s>", "run only this seed (replays a failure)", positiveInt)
    .option("--from <s>", "first seed of the range", positiveInt, 1)
    .addOption(
      new Option("--nodes <k>", "cluster size (default: 3 or 5, picked by the seed)").argParser(positiveInt),
    )
    .option("--steps <m>", "events per seed while faults happen", positiveInt, 12_000)
    .addOption(
      new Option("--mutant <name>", "switch on a deliberate bug; the run must then fail").choices(mutants),
    )
    .option("--trace", "print the trace of every seed, not only of failures", false)
    .option("--progress", "print progress on stderr", false)
    .option(
      "--jobs <n>",
      "worker threads (default: the number of cores)",
      positiveInt,
      availableParallelism(),
    )
    .parse(argv);
  return program.opts<SimArgs>();
}

function report(result: SeedResult, full: boolean): void {
  console.log(
    `seed ${result.seed} (nodes=${result.nodes}, steps=${result.steps}): ${result.violations.length} violation(s)`,
  );
  for (const violation of result.violations) console.log(`  VIOLATION ${violation}`);
  if (full) {
    console.log(`  trace (last ${result.trace.length} events):`);
    for (const line of result.trace) console.log(`    ${line}`);
    console.log(`  replay: npm run sim -- --seed ${result.seed} --nodes ${result.nodes} --trace`);
  }
}

/** Runs the seeds on `jobs` threads; calls `onResult` for each as it completes; stops early if asked. */
function runAll(seeds: number[], args: SimArgs, onResult: (result: SeedResult) => boolean): Promise<void> {
  const jobs = Math.max(1, Math.min(args.jobs, seeds.length));
  const task = (share: number[]): WorkerTask => ({
    seeds: share,
    steps: args.steps,
    nodes: args.nodes,
    mutant: args.mutant ?? null,
  });
  if (jobs === 1) {
    for (const seed of seeds) if (!onResult(runOne(seed, task([])))) break;
    return Promise.resolve();
  }
  const workers = Array.from({ length: jobs }, (_, job) => {
    const share = seeds.filter((_, index) => index % jobs === job);
    return new Worker(new URL(import.meta.url), { workerData: task(share) });
  });
  return new Promise((resolve, reject) => {
    let running = workers.length;
    for (const worker of workers) {
      worker.on("message", (result: SeedResult) => {
        if (!onResult(result)) for (const other of workers) void other.terminate();
      });
      worker.on("error", reject);
      worker.on("exit", () => {
        running -= 1;
        if (running === 0) resolve();
      });
    }
  });
}

function runOne(seed: number, task: WorkerTask): SeedResult {
  return runSeed({ seed, steps: task.steps, nodes: task.nodes, mutant: task.mutant });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv);
  const seeds =
    args.seed !== undefined ? [args.seed] : Array.from({ length: args.seeds }, (_, k) => args.from + k);
  const started = performance.now();
  let done = 0;
  let steps = 0;
  let violations = 0;
  let failedSeeds = 0;
  let slowestElectionMs = 0;
  let lastProgress = started;
  await runAll(seeds, args, (result) => {
    done += 1;
    steps += result.steps;
    violations += result.violations.length;
    slowestElectionMs = Math.max(slowestElectionMs, result.electionAfterHealMs ?? 0);
    if (result.violations.length > 0) {
      failedSeeds += 1;
      report(result, failedSeeds === 1);
    } else if (args.trace) {
      report(result, true);
    }
    const now = performance.now();
    if (args.progress && (now - lastProgress > 2000 || done === seeds.length)) {
      lastProgress = now;
      const etaS = Math.round((((now - started) / done) * (seeds.length - done)) / 1000);
      process.stderr.write(`sim: ${done}/${seeds.length} seeds, ${violations} violation(s), eta ${etaS}s\n`);
    }
    // A mutant run stops at its first catch.
    return !(args.mutant !== undefined && violations > 0);
  });
  const elapsedMs = Math.round(performance.now() - started);
  if (args.mutant === undefined)
    console.log(`slowest election after healing: ${Math.round(slowestElectionMs)} ms (simulated)`);
  console.log(`seeds=${done} violations=${violations} steps=${steps} elapsed_ms=${elapsedMs}`);
  process.exitCode = violations > 0 ? 1 : 0;
}

if (isMainThread) {
  await main();
} else {
  const task = workerData as WorkerTask;
  for (const seed of task.seeds) parentPort!.postMessage(runOne(seed, task));
}
