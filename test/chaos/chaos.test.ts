// A 30-second chaos run on loopback with 5 real nodes (kills, pauses, restarts under a bidding
// load), checked end to end: zero violations, and enough acknowledged operations and faults that
// the run meant something. Costs about a minute (start, 30 s of load, settling, checking).
// CHAOS_SEED=<n> replays a seed; the seed is printed either way.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../../src/chaos/main.js", import.meta.url));

test("a 30-second chaos run with 5 nodes finds no violation", { timeout: 600_000 }, async () => {
  const seed = Number(process.env["CHAOS_SEED"] ?? randomInt(0, 2 ** 31));
  console.log(`chaos seed ${seed} (CHAOS_SEED=${seed} replays it)`);
  const child = spawn(
    process.execPath,
    ["--enable-source-maps", main, "--duration", "30s", "--nodes", "5", "--seed", String(seed)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) =>
    child.once("exit", (exitCode) => resolve(exitCode)),
  );
  const report = `exit ${code}\n--- stdout\n${stdout}\n--- stderr (tail)\n${stderr.slice(-4000)}`;
  const lines = stdout.trim().split("\n");
  assert.equal(lines[0], `seed=${seed}`, report);
  const summary = /^operations=(\d+) acknowledged=(\d+) unknown=(\d+) faults=(\d+) violations=(\d+)$/.exec(
    lines.at(-1) ?? "",
  );
  assert.ok(summary, `no summary line\n${report}`);
  const [operations, acknowledged, , faults, violations] = summary.slice(1).map(Number);
  assert.equal(violations, 0, report);
  assert.equal(code, 0, report);
  assert.ok(
    acknowledged !== undefined && acknowledged >= 100,
    `only ${acknowledged} acknowledged\n${report}`,
  );
  assert.ok(operations !== undefined && operations > acknowledged, report);
  assert.ok(faults !== undefined && faults >= 3, `only ${faults} faults\n${report}`);
  console.log(lines.at(-1));
});
