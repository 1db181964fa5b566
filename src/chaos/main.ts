// `npm run chaos -- --duration 60s --nodes 5 [--seed S] [--hosts]`: one chaos run against real node
// processes. Prints the seed first and the summary line last on stdout, progress on stderr, and
// exits non-zero on any violation (printing the first offending operations) or failure of the run.
import { randomInt } from "node:crypto";
import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { describeOperation } from "./checker.js";
import { runChaos } from "./run.js";

/** "60s", "10m", "1500ms" or a plain number of seconds, in ms. */
function parseDuration(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(text.trim());
  if (match === null) throw new InvalidArgumentError(`not a duration: ${text} (say 60s, 10m or 1500ms)`);
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  return Math.round(value * (unit === "ms" ? 1 : unit === "s" ? 1_000 : 60_000));
}

function positiveInt(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new InvalidArgumentError(`not a whole number: ${text}`);
  return value;
}

const violationsShown = 10;
const operationsShown = 6;

async function main(): Promise<number> {
  const program = new Command("chaos")
    .description(
      "real gavel nodes under a bidding load and a seeded nemesis; checks the whole history at the end",
    )
    .option("--duration <time>", "how long the load and the faults last (60s, 10m)", parseDuration, 60_000)
    .option("--nodes <n>", "node processes", positiveInt, 5)
    .option("--seed <n>", "seed of the fault schedule and the load (random if not given)", positiveInt)
    .option("--hosts", "nodes in network namespaces, with partitions (root only)", false)
    .option("--clients <n>", "concurrent bidders", positiveInt, 10)
    .option("--readers <n>", "concurrent sampling readers", positiveInt, 2)
    .option("--checker-budget <time>", "time the checker may take", parseDuration, 120_000)
    .option("--history <file>", "write the history and final states there (JSON)")
    .option("--keep", "keep the nodes' data dirs and logs (loopback)", false)
    .option("--log-level <level>", "the nodes' log level", "warn");
  program.parse();
  const flags = program.opts<{
    duration: number;
    nodes: number;
    seed?: number;
    hosts: boolean;
    clients: number;
    readers: number;
    checkerBudget: number;
    history?: string;
    keep: boolean;
    logLevel: string;
  }>();
  if (flags.nodes < 1) throw new InvalidArgumentError("--nodes must be at least 1");
  const seed = flags.seed ?? randomInt(0, 2 ** 31);
  process.stdout.write(`seed=${seed}\n`);
  const replay = `npm run chaos -- --seed ${seed} --duration ${flags.duration / 1000}s --nodes ${flags.nodes}${flags.hosts ? " --hosts" : ""}`;
  const result = await runChaos({
    durationMs: flags.duration,
    nodes: flags.nodes,
    seed,
    hosts: flags.hosts,
    clients: flags.clients,
    readers: flags.readers,
    checkerBudgetMs: flags.checkerBudget,
    keep: flags.keep,
    logLevel: flags.logLevel,
    progress: (line) => process.stderr.write(`chaos: ${line}\n`),
  });
  if (flags.history !== undefined) {
    writeFileSync(flags.history, JSON.stringify(result.history));
    process.stderr.write(`chaos: history written to ${flags.history}\n`);
  }
  const { check, nemesis } = result;
  // How far acknowledged bids' stamps trailed their first send (the leader stamps with its last tick's time).
  const firstSent = new Map<string, number>();
  let stampLagMs = 0;
  for (const op of result.history.operations) {
    if (op.type !== "bid") continue;
    const key = `${op.auctionId}/${op.bidder}/${op.bidId}`;
    if (!firstSent.has(key)) firstSent.set(key, op.invokedAt);
    if (op.ack !== null) stampLagMs = Math.max(stampLagMs, firstSent.get(key)! - op.ack.at);
  }
  process.stderr.write(
    `chaos: faults by kind ${Object.entries(nemesis.byKind)
      .map(([kind, count]) => `${kind}=${count}`)
      .join(
        " ",
      )}; failed=${check.failed}; stamps trailed their bids' first send by at most ${stampLagMs} ms\n`,
  );
  for (const error of result.errors) process.stdout.write(`error: ${error}\n`);
  for (const violation of check.violations.slice(0, violationsShown)) {
    process.stdout.write(
      `violation ${violation.kind} auction=${violation.auctionId ?? "-"}: ${violation.message}\n`,
    );
    for (const op of violation.operations.slice(0, operationsShown)) {
      process.stdout.write(`  ${describeOperation(op)}\n`);
    }
  }
  if (check.violations.length > violationsShown) {
    process.stdout.write(`(${check.violations.length - violationsShown} more violations)\n`);
  }
  const failed = check.violations.length > 0 || result.errors.length > 0;
  if (failed) process.stdout.write(`seed=${seed} replay: ${replay}\n`);
  process.stdout.write(
    `operations=${check.operations} acknowledged=${check.acknowledged} unknown=${check.unknown} faults=${nemesis.faults} violations=${check.violations.length}\n`,
  );
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(2);
  },
);
