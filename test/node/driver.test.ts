// The driver's order of effects: what must be on disk is saved before anything that depends on it
// leaves, except a leader's appends of new entries, which go out while it writes them (Raft §10.2.1),
// and a follower's messages that rest on committed entries or on nothing it wrote.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NodeDriver } from "../../src/node/driver.js";
import { defaultConfig } from "../../src/core/config.js";
import { SeededRandom } from "../../src/core/random.js";
import type { PersistedState } from "../../src/core/cluster/types.js";
import {
  append,
  appendReply,
  clusterId,
  configEntry,
  createRequest,
  noopEntry,
  message,
  voteRequest,
  votersConfig,
} from "../core/cluster/support.js";

/** A driver for node `id` of voters 1..3, recording what it saves and sends, in order. */
function driver(id: number, background = false) {
  const trace: string[] = [];
  const flushes: (() => void)[] = [];
  let nowMs = 0;
  const persisted: PersistedState = {
    identity: { nodeId: id, incarnation: `i${id}` },
    clusterId,
    hardState: { term: 1, votedFor: null },
    snapshot: null,
    entries: [configEntry(1, 1, votersConfig([1, 2, 3]))],
  };
  const node = new NodeDriver(
    {
      config: { ...defaultConfig(), electionJitterMs: 0 },
      identity: persisted.identity,
      address: `a${id}`,
      httpUrl: `h${id}`,
      random: new SeededRandom(id),
    },
    {
      storage: {
        load: () => persisted,
        save: () => trace.push("persist"),
        saveAll: () => trace.push("persist"),
        ...(background
          ? {
              flushToDisk: (done: (error: Error | null) => void) => {
                trace.push("fsync started");
                flushes.push(() => {
                  trace.push("fsync done");
                  done(null);
                });
              },
            }
          : {}),
      },
      transport: {
        send: (sent) =>
          trace.push(`${sent.type}${sent.type === "append" && sent.entries.length > 0 ? "+entries" : ""}`),
      },
      discovery: { broadcast: () => undefined },
      clock: { nowMs: () => nowMs },
    },
    { batchDone: () => trace.push("batch done") },
  );
  return { node, trace, flushes, advance: (ms: number) => (nowMs += ms) };
}

test("a leader sends its new entries to followers before its own write, and answers nothing before it", () => {
  const { node, trace, advance } = driver(3);
  while (node.node.status().role !== "pre-candidate") {
    advance(10);
    node.tick();
  }
  const term = node.node.status().term + 1;
  for (const preVote of [true, false])
    node.receive(message(1, 3, term, { type: "vote-reply", granted: true, preVote }));
  assert.equal(node.node.status().role, "leader");
  node.receive(message(1, 3, term, appendReply(true, node.node.status().lastIndex)));
  trace.length = 0;
  const request = createRequest("a1");
  assert.equal(request.type, "request");
  if (request.type === "request") node.request(request.requestId, request.request);
  assert.deepEqual(trace.slice(0, 2), ["append+entries", "persist"], trace.join(","));
});

test("a vote leaves only once it is on disk", () => {
  const { node, trace } = driver(1);
  node.receive(message(2, 1, 2, voteRequest(5, 1)));
  assert.deepEqual(trace, ["persist", "vote-reply", "batch done"]);
});

test("with the fsync in the background, a vote leaves once the fsync is done, and the driver takes nothing meanwhile", () => {
  const { node, trace, flushes } = driver(1, true);
  node.receive(message(2, 1, 2, voteRequest(5, 1)));
  assert.deepEqual(trace, ["persist", "fsync started"]);
  assert.equal(node.busy, true);
  assert.throws(() => node.tick(), /waits for the disk/);
  flushes.shift()!();
  assert.deepEqual(trace, ["persist", "fsync started", "fsync done", "vote-reply", "batch done"]);
  assert.equal(node.busy, false);
});

test("a follower forwards a request while it writes new entries, and acknowledges them only after the fsync", () => {
  const { node, trace, flushes } = driver(1, true);
  // Node 3 leads term 1: an empty append makes node 1 its follower.
  node.receive(message(3, 1, 1, append(1, 1, [], 1)));
  flushes.shift()?.();
  trace.length = 0;
  const request = createRequest("a1");
  assert.equal(request.type, "request");
  node.deliver([{ type: "message", message: message(3, 1, 1, append(1, 1, [noopEntry(2, 1)], 1)) }, request]);
  assert.deepEqual(trace, ["forward", "persist", "fsync started"], "the forward left before the write");
  flushes.shift()!();
  assert.deepEqual(trace.slice(3), ["fsync done", "append-reply", "batch done"]);
});

test("a follower whose batch changes its term sends nothing before the fsync", () => {
  const { node, trace, flushes } = driver(1, true);
  const request = createRequest("a1");
  node.deliver([{ type: "message", message: message(3, 1, 2, append(1, 1, [noopEntry(2, 2)], 1)) }, request]);
  assert.deepEqual(trace, ["persist", "fsync started"], trace.join(","));
  flushes.shift()!();
  assert.ok(
    trace.includes("forward") && trace.indexOf("forward") > trace.indexOf("fsync done"),
    trace.join(","),
  );
});
