// The bench's machine costs and per-process counts: real measurements of this machine, so the tests
// check that each is measured (positive, finite, moving with what the process does), not its value.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { machineLine, measureMachine, processWork } from "../../bench/machine.js";

test("the machine's costs are measured and printed on one line", async () => {
  const costs = await measureMachine(tmpdir());
  for (const [name, value] of Object.entries(costs)) {
    if (name === "meltdown") continue;
    // What a system call costs the code after it is nothing where the kernel keeps the TLB.
    const least = name === "syscallAfterUs" ? 0 : Number.MIN_VALUE;
    assert.ok(Number.isFinite(value) && (value as number) >= least, `${name} = ${value}`);
  }
  assert.ok(costs.meltdown.length > 0);
  assert.match(
    machineLine(costs),
    /^syscall_us=[\d.]+ syscall_after_us=[\d.]+ fresh_page_us=[\d.]+ fsync_ms=[\d.]+ loopback_rtt_us=[\d.]+ meltdown=".+"$/,
  );
});

test("a process's I/O calls count its writes, and a process gone counts nothing", () => {
  const before = processWork(process.pid);
  const fd = openSync("/dev/null", "w");
  for (let index = 0; index < 500; index++) writeSync(fd, "x");
  closeSync(fd);
  const after = processWork(process.pid);
  assert.ok(after.ioCalls - before.ioCalls >= 500, `${before.ioCalls} -> ${after.ioCalls}`);
  assert.ok(after.switches >= before.switches && before.switches > 0);
  const gone = spawnSync(process.execPath, ["-e", "process.pid"]).pid;
  assert.deepEqual(processWork(gone), { ioCalls: 0, switches: 0 });
  assert.deepEqual(processWork(undefined), { ioCalls: 0, switches: 0 });
});
