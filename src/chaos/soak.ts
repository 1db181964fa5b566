// `npm run chaos:soak -- --duration 2h [--run 10m] [--nodes 5] [--seed S] [--hosts]`: chaos runs one
// after another, each a separate `chaos` process with the next seed, for as long as asked. It stops
// at the first run that fails (printing that run's seed and how to replay it) and ends with one
// line `runs=R operations=N acknowledged=A unknown=U faults=F violations=V failed=X`.
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError } from "commander";

const chaosMain = fileURLToPath(new URL("./main.js", import.meta.url));

/** "60s", "10m", "2h", "1500ms" or a plain number of seconds, in ms. */
function parseDuration(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) throw new InvalidArgumentError(`not a duration: ${text} (say 90s, 10m or 2h)`);
  const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? "s"]!;
  return Math.round(Number(match[1]) * unitMs);
}

function wholeNumber(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new InvalidArgumentError(`not a whole number: ${text}`);
  return value;
}

interface Totals {
  operations: number;
  acknowledged: number;
  unknown: number;
  faults: number;
  violations: number;
}

/** Runs one chaos process; its stdout passes through, and its summary line is parsed. */
function runOnce(args: string[]): Promise<{ code: number | null; summary: Totals | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--enable-source-maps", chaosMain, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    // Ctrl-C reaches the child as well (same process group); the soak then stops after it.
    child.on("close", (code) => {
      const match = /operations=(\d+) acknowledged=(\d+) unknown=(\d+) faults=(\d+) violations=(\d+)/.exec(
        output,
      );
      const summary =
        match === null
          ? null
          : {
              operations: Number(match[1]),
              acknowledged: Number(match[2]),
              unknown: Number(match[3]),
              faults: Number(match[4]),
              violations: Number(match[5]),
            };
      resolve({ code, summary });
    });
  });
}

async function main(): Promise<number> {
  const program = new Command("chaos:soak")
    .description("chaos runs one after another with consecutive seeds, for as long as asked")
    .option("--duration <time>", "how long to keep starting runs (90s, 10m, 2h)", parseDuration, 3_600_000)
    .option("--run <time>", "the length of each run", parseDuration, 600_000)
    .option("--nodes <n>", "node processes per run", wholeNumber, 5)
    .option("--seed <n>", "seed of the first run; each next run takes the next seed", wholeNumber)
    .option("--hosts", "nodes in network namespaces, with partitions (root only)", false);
  program.parse();
  const flags = program.opts<{
    duration: number;
    run: number;
    nodes: number;
    seed?: number;
    hosts: boolean;
  }>();
  if (flags.run < 1_000) throw new InvalidArgumentError("--run must be at least 1s");
  const firstSeed = flags.seed ?? randomInt(0, 2 ** 30);
  const deadline = Date.now() + flags.duration;
  const totals: Totals = { operations: 0, acknowledged: 0, unknown: 0, faults: 0, violations: 0 };
  let runs = 0;
  let failed = 0;
  let interrupted = false;
  process.on("SIGINT", () => (interrupted = true));
  for (let seed = firstSeed; !interrupted && Date.now() < deadline; seed++) {
    // The last run is shortened to end near the deadline (but runs at least 30 s).
    const runMs = Math.max(30_000, Math.min(flags.run, deadline - Date.now()));
    runs++;
    process.stderr.write(
      `chaos:soak: run ${runs}, seed ${seed}, ${Math.round(runMs / 1000)} s; ` +
        `${Math.max(0, Math.round((deadline - Date.now()) / 60_000))} min of the soak left\n`,
    );
    const args = ["--seed", String(seed), "--duration", `${runMs}ms`, "--nodes", String(flags.nodes)];
    if (flags.hosts) args.push("--hosts");
    const { code, summary } = await runOnce(args);
    if (summary !== null) {
      for (const key of Object.keys(totals) as (keyof Totals)[]) totals[key] += summary[key];
    }
    if (code !== 0) {
      failed++;
      process.stdout.write(
        `chaos:soak: run ${runs} (seed ${seed}) failed with exit code ${code}; replay: npm run chaos -- ${args.join(" ")}\n`,
      );
      break;
    }
  }
  process.stdout.write(
    `runs=${runs} operations=${totals.operations} acknowledged=${totals.acknowledged} unknown=${totals.unknown} ` +
      `faults=${totals.faults} violations=${totals.violations} failed=${failed}\n`,
  );
  return failed > 0 || interrupted ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos:soak: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
