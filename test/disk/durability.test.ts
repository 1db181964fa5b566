// Durability under SIGKILL: a child process saves entries in a loop and reports each acknowledged
// index; the test kills it mid-loop and checks that every acknowledged entry survived. It waits on
// the child's output and exit, never on fixed sleeps, and the child stops by itself if not killed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { makeTempDir, noopEntries, openTestDir } from "./support.js";

const childPath = fileURLToPath(new URL("./save-loop-child.js", import.meta.url));
const killAfterAcknowledged = 200;

/** Appends the complete lines of `text` to `into` as numbers; returns the incomplete rest. */
function takeLines(text: string, into: number[]): string {
  const lines = text.split("\n");
  const rest = lines.pop() ?? "";
  for (const line of lines) into.push(Number(line));
  return rest;
}

test("every save acknowledged before SIGKILL is on disk after reopening", { timeout: 60_000 }, async () => {
  const temp = makeTempDir();
  try {
    const child = spawn(process.execPath, [childPath, temp.dir, "100000", "15000"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = once(child, "exit");
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const acknowledged: number[] = [];
    let pending = "";
    let killed = false;
    for await (const chunk of child.stdout.setEncoding("utf8") as AsyncIterable<string>) {
      pending = takeLines(pending + chunk, acknowledged);
      if (!killed && acknowledged.length >= killAfterAcknowledged) {
        killed = process.kill(child.pid!, "SIGKILL");
      }
    }
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, "SIGKILL", `the child was killed, not done (exit ${code}): ${stderr}`);
    const last = acknowledged.length;
    assert.ok(last >= killAfterAcknowledged, `the child acknowledged ${last} saves`);
    assert.deepEqual(
      acknowledged,
      noopEntries(1, last, 1).map((entry) => entry.index),
    );

    const { storage } = openTestDir(temp.dir);
    const state = storage.load();
    storage.close();
    assert.ok(state !== null);
    assert.deepEqual(state.hardState, { term: 1, votedFor: 7 });
    assert.deepEqual(state.entries.slice(0, last), noopEntries(1, last, 1));
  } finally {
    temp.remove();
  }
});
