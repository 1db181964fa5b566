// Runs the bench's tiny mode (`--smoke`: a real 3-node cluster, about 30 s) so the script cannot rot
// unnoticed: it must measure acknowledged bids, a failover and a join, and end with the summary line.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { waitFor } from "../node/harness.js";

const script = fileURLToPath(new URL("../../bench/main.js", import.meta.url));

test(
  "npm run bench -- --smoke measures a real cluster and ends with the summary line",
  { timeout: 180_000 },
  async () => {
    const child = spawn(process.execPath, [script, "--smoke"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, 0, `bench exited with ${code}\n${stderr}`);
    const lines = stdout.trim().split("\n");
    const summary = /^bids_per_s=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+) failover_median_ms=(\d+)$/.exec(
      lines.at(-1)!,
    );
    assert.ok(summary, `last line is not the summary: ${lines.at(-1)}`);
    const [, bidsPerSecond, p50, p99, failover] = summary.map(Number);
    assert.ok(bidsPerSecond! > 0, "no acknowledged bids");
    assert.ok(p50! > 0 && p99! >= p50!, `latencies ${p50} ${p99}`);
    assert.ok(failover! > 0, "no failover measured");
    // The report says it is a partial run, and holds the sections it measured.
    assert.match(stdout, /This is a smoke run/);
    // The machine's costs, and what each bid cost the nodes in system calls and context switches.
    assert.match(stdout, /a system call [\d.]+ µs .* a TCP round trip on loopback [\d.]+ µs; Meltdown: /);
    const row = stdout.split("\n").find((line) => line.startsWith("| 3 | 4 | bidder's node |"));
    assert.ok(row, "no 4-bidder row");
    const [ioCalls, switches] = row
      .split("|")
      .slice(11, 13)
      .map((cell) => Number(cell.trim()));
    assert.ok(ioCalls! > 0 && switches! > 0, `I/O calls ${ioCalls}, switches ${switches} per bid`);
    const writes =
      /The nodes made ([\d.]+) durable writes per acknowledged bid .* a write took ([\d.]+) ms on average/.exec(
        stdout,
      );
    assert.ok(writes && Number(writes[1]) > 0 && Number(writes[2]) > 0, "no durable writes measured");
    // What users would otherwise run, quoted and labelled as such, with this run's ratio to it.
    assert.match(
      stdout,
      /For scale, figures quoted from the issue .* not measured by this bench .* is [\d.]+ times that etcd figure/,
    );
    // The nodes share this machine's cores, and the report says how they were started.
    assert.match(stdout, /Method: real `gavel node` processes .*\(`node --single-threaded-gc`/);
    // Where the profiled nodes' time went, by area: every node's column adds up to 100%.
    const section = stdout.split("\n## Where the time goes")[1]!.split("\n");
    const headerAt = section.findIndex((line) => line.startsWith("| area |"));
    assert.ok(headerAt >= 0, "no table of areas");
    const header = section[headerAt]!;
    const columns = header.split("|").length - 3;
    assert.ok(columns >= 1, header);
    // The table's rows: every line after its separator up to the first that is not a row.
    const end = section.findIndex((line, index) => index > headerAt + 1 && !line.startsWith("| "));
    const rows = section.slice(headerAt + 2, end);
    assert.ok(rows.length >= 5, `only ${rows.length} areas`);
    for (let column = 0; column < columns; column++) {
      const total = rows
        .map((line) => Number(line.split("|")[column + 2]!.trim().replace("%", "")))
        .reduce((sum, value) => sum + value, 0);
      assert.ok(Math.abs(total - 100) < 1, `node column ${column + 1} of the areas adds up to ${total}%`);
    }
    assert.match(stdout, /their busy time after the start .* went, on average over the nodes, to .*HTTP API/);
    assert.match(stdout, /## Failover/);
    assert.match(stdout, /A fresh node joined a cluster whose log held [\d,]+ entries/);
    assert.match(stdout, /Updates missed \(not arrived within 10 s\): 0\./);
    assert.match(stderr, /BENCHMARKS.md left as it is/);
  },
);

/** The PIDs of `gavel node` processes whose parent is `parent`, and their data dirs (from /proc). */
function nodeChildren(parent: number): { pid: number; dataDir: string }[] {
  const found: { pid: number; dataDir: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== parent) continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const at = args.indexOf("--data-dir");
      if (args.includes("node") && at >= 0) found.push({ pid: Number(entry), dataDir: args[at + 1]! });
    } catch {
      // The process ended while it was read.
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test(
  "a bench stopped by SIGTERM stops its nodes and removes their data dirs",
  { timeout: 60_000 },
  async () => {
    const headline = fileURLToPath(new URL("../../bench/headline.js", import.meta.url));
    const child = spawn(process.execPath, [headline, "--seconds", "30"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    let nodes: { pid: number; dataDir: string }[] = [];
    await waitFor("the bench's three nodes", 30_000, () => {
      nodes = nodeChildren(child.pid!);
      return nodes.length === 3;
    });
    child.kill("SIGTERM");
    assert.equal(await exited, 143, stderr);
    assert.match(stderr, /SIGTERM: stopping its nodes/);
    await waitFor("the nodes to end", 10_000, () => nodes.every((node) => !alive(node.pid)));
    for (const node of nodes) assert.equal(existsSync(path.dirname(node.dataDir)), false, node.dataDir);
  },
);

/** Runs one of the in-process benches (dist/bench/<name>.js) to its end. */
function runBench(name: string, args: string[]) {
  const script = fileURLToPath(new URL(`../../bench/${name}.js`, import.meta.url));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

test("the in-process benches print their usage on --help and refuse a bad count in one line", async () => {
  const run = (args: string[]) => runBench("apply", args);
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: node dist\/bench\/apply\.js \[bids\]\n$/);
  for (const bad of [["lots"], ["0"], ["1.5"], ["10", "20"]]) {
    const refused = await run(bad);
    assert.equal(refused.code, 2, bad.join(" "));
    assert.equal(refused.stdout, "");
    assert.doesNotMatch(refused.stderr, /\n\s+at |Error:/, "no stack trace");
    assert.match(refused.stderr, /^(bids must be|expected at most)[^\n]*\nusage: /);
  }
});

test("the restart bench writes a log, reads it back whole as a restart does, and prints its figures", async () => {
  const { code, stdout, stderr } = await runBench("restart", ["2500"]);
  assert.equal(code, 0, stderr);
  const figures = Object.fromEntries(
    stdout
      .trim()
      .split(" ")
      .map((pair) => pair.split("=") as [string, string]),
  );
  assert.equal(figures["entries"], "2500");
  for (const name of ["load_ms", "load_us_per_entry", "heap_mb", "heap_bytes_per_entry"])
    assert.ok(Number.isFinite(Number(figures[name])) && Number(figures[name]) >= 0, `${name}: ${stdout}`);
  assert.ok(Number(figures["heap_bytes_per_entry"]) > 0, "the entries are held in memory");
});
