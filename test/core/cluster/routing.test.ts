// Routing of auction commands by a newly elected leader, driven by hand: it may not yet have applied
// what its predecessor committed, so "no such auction" waits until its view is complete.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  appendReply,
  bidRequest,
  configEntry,
  createCommand,
  elect,
  member,
  message,
  responses,
  sentOfType,
  votersConfig,
} from "./support.js";
import type { LogEntry } from "../../../src/core/cluster/types.js";

test("a new leader that has not applied its predecessor's last creation does not call the auction unknown", () => {
  // Node 2 led term 1, committed the creation of "lamp" (owned by 2) with node 3's acknowledgement,
  // answered the client, and died before telling node 3 the commit. Node 3 is elected in term 2.
  const creation: LogEntry = {
    index: 2,
    term: 1,
    timestampMs: 1_000,
    data: { kind: "create", command: createCommand("lamp"), owner: 2 },
  };
  const node = member({
    id: 3,
    entries: [configEntry(1, 1, votersConfig([1, 2, 3])), creation],
    nowMs: 2_000,
  });
  const nowMs = elect(node, [1], 2_000);
  assert.equal(node.status().role, "leader");

  const early = node.step(bidRequest("b1", "lamp"));
  const wrong = responses(early).filter((effect) => effect.requestId === "b1");
  assert.deepEqual(wrong, [], "answered before the leader's view of the state was complete");
  const missing = node.step(bidRequest("b2", "nothing"));
  assert.deepEqual(
    responses(missing),
    [],
    "not even for an auction that does not exist, until the view is complete",
  );

  // Node 1 acknowledges the new term's first entry: it commits, and everything before it applies.
  node.step({ type: "message", message: message(1, 3, 2, appendReply(true, 3)) });
  const later = node.step({ type: "tick", nowMs: nowMs + 10 });
  const forwarded = sentOfType(later, "forward").filter((item) => item.requestId === "b1");
  assert.equal(forwarded.length, 1, "the bid goes to the auction's owner");
  assert.equal(forwarded[0]!.to, 2);
  const unknown = responses(later).find((effect) => effect.requestId === "b2");
  assert.ok(unknown !== undefined && unknown.result.ok && unknown.result.kind === "decided");
  assert.equal(unknown.result.outcome.ok ? null : unknown.result.outcome.reason, "unknown-auction");
});
