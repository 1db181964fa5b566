// `npm run sim`: runs the deterministic simulator over many seeds and reports. Every run ends with
// one line `seeds=N violations=V steps=S elapsed_ms=T`; a failure prints its seed and the trace of
// events that led to it, and the process exits non-zero.
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
    console.log(
      `  replay: npm run sim -- --seed ${result.seed}${result.nodes ? ` --nodes ${result.nodes}` : ""} --trace`,
    );
  }
}

function main(): void {
  const args = parseArgs(process.argv);
  const seeds =
    args.seed !== undefined ? [args.seed] : Array.from({ length: args.seeds }, (_, k) => args.from + k);
  const started = performance.now();
  let steps = 0;
  let violations = 0;
  let failedSeeds = 0;
  let slowestElectionMs = 0;
  let lastProgress = started;
  for (const [done, seed] of seeds.entries()) {
    const result = runSeed({ seed, steps: args.steps, nodes: args.nodes, mutant: args.mutant ?? null });
    steps += result.steps;
    violations += result.violations.length;
    slowestElectionMs = Math.max(slowestElectionMs, result.electionAfterHealMs ?? 0);
    if (result.violations.length > 0) {
      failedSeeds += 1;
      report(result, failedSeeds === 1);
      if (args.mutant !== undefined) break;
    } else if (args.trace) {
      report(result, true);
    }
    const now = performance.now();
    if (args.progress && (now - lastProgress > 2000 || done + 1 === seeds.length)) {
      lastProgress = now;
      const perSeedMs = (now - started) / (done + 1);
      const etaS = Math.round((perSeedMs * (seeds.length - done - 1)) / 1000);
      process.stderr.write(
        `sim: ${done + 1}/${seeds.length} seeds, ${violations} violation(s), eta ${etaS}s\n`,
      );
    }
  }
  const elapsedMs = Math.round(performance.now() - started);
  if (args.mutant === undefined)
    console.log(`slowest election after healing: ${slowestElectionMs} ms (simulated)`);
  console.log(`seeds=${seeds.length} violations=${violations} steps=${steps} elapsed_ms=${elapsedMs}`);
  process.exitCode = violations > 0 ? 1 : 0;
}

main();
