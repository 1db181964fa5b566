// `npm run bench`: measures the engine's in-process bid throughput, prints it with the machine it ran
// on, and (on a full run) writes BENCHMARKS.md, so the published figures always come from the bench.
// `--quick` makes a shorter run that only prints.
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { workloads } from "./engine.js";
import type { Measurement } from "./engine.js";

interface Settings {
  mode: "full" | "quick";
  bidsPerRun: number;
  runs: number;
}

const settingsByMode: Record<Settings["mode"], Settings> = {
  full: { mode: "full", bidsPerRun: 200_000, runs: 5 },
  quick: { mode: "quick", bidsPerRun: 20_000, runs: 3 },
};

const usage = "usage: npm run bench [-- --quick]";

interface Row {
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
    if (arg !== "--quick") throw new Error(`unknown argument ${JSON.stringify(arg)}; ${usage}`);
  }
  return args.includes("--quick") ? settingsByMode.quick : settingsByMode.full;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
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

function measureAll(settings: Settings): Row[] {
  return workloads.map((workload) => {
    // A warm-up pass lets the JIT settle; its figure is discarded.
    workload.measure(Math.min(settings.bidsPerRun, 20_000));
    const runs = Array.from({ length: settings.runs }, () => workload.measure(settings.bidsPerRun));
    const row = {
      name: workload.name,
      description: workload.description,
      runs,
      medianOpsPerSecond: median(runs.map((run) => run.opsPerSecond)),
    };
    const all = runs.map((run) => format(run.opsPerSecond)).join(", ");
    console.log(`${row.name}: ${format(row.medianOpsPerSecond)} bids/s (median; runs: ${all})`);
    return row;
  });
}

function markdown(settings: Settings, date: string, loadAverage: string, rows: readonly Row[]): string {
  const { node, cpuCount, cpuModel, platform } = machine();
  const lines = [
    "# Benchmarks",
    "",
    "Written by `npm run bench` (`bench/main.ts`); do not edit by hand. To regenerate, run `npm run bench`",
    "on an otherwise idle machine and commit the result. `npm run bench -- --quick` prints a shorter run",
    "without writing this file.",
    "",
    "In-process throughput of bid commands through `AuctionBook.executeUnknown` (each command parsed by",
    "the zod schema, as the cluster will), on one thread: the ceiling the replicated cluster will be",
    "compared with. Every bid is accepted and beats the last on its auction.",
    "",
    `- Date: ${date}`,
    `- Node.js: ${node}`,
    `- CPU: ${cpuCount} × ${cpuModel}`,
    `- OS: ${platform}`,
    `- Load average (1, 5, 15 min) when the bench started: ${loadAverage}`,
    `- Method: ${settings.bidsPerRun.toLocaleString("en-US")} bids per run, ${settings.runs} runs after a warm-up; the median run is reported`,
    "",
    "| workload | median bids/s | slowest run | fastest run | what it measures |",
    "| --- | ---: | ---: | ---: | --- |",
    ...rows.map((row) => {
      const rates = row.runs.map((run) => run.opsPerSecond);
      return `| ${row.name} | ${format(row.medianOpsPerSecond)} | ${format(Math.min(...rates))} | ${format(Math.max(...rates))} | ${row.description} |`;
    }),
    "",
  ];
  return lines.join("\n");
}

function main(): void {
  const settings = settingsFrom(process.argv.slice(2));
  const date = new Date().toISOString();
  const { node, cpuCount, cpuModel, platform, loadAverage } = machine();
  console.log(`gavel engine bench (${settings.mode}) — ${date}`);
  console.log(`Node.js ${node}; ${cpuCount} × ${cpuModel}; ${platform}; load average ${loadAverage}`);
  console.log(
    `${settings.bidsPerRun.toLocaleString("en-US")} bids per run, ${settings.runs} runs per workload`,
  );
  const rows = measureAll(settings);
  if (settings.mode !== "full") {
    console.log("quick run: BENCHMARKS.md left as it is");
    return;
  }
  const path = fileURLToPath(new URL("../../BENCHMARKS.md", import.meta.url));
  writeFileSync(path, markdown(settings, date, loadAverage, rows));
  console.log(`wrote ${path}`);
}

main();
