// Log replication: the follower's append handler, the leader's commit rule, pipelining, stamps and
// snapshots, each driven by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  leaderInSync,
  append,
  appendReply,
  createRequest,
  responses,
  configEntry,
  elect,
  member,
  message,
  noopEntry,
  persisted,
  sentOfType,
  votersConfig,
} from "./support.js";
import type { Effect, LogEntry } from "../../../src/core/cluster/types.js";

const base = configEntry(1, 1, votersConfig([1, 2, 3]));

function appliedIndexes(effects: Effect[]): number[] {
  return effects.flatMap((effect) => (effect.type === "applied" ? [effect.entry.index] : []));
}

test("a follower refuses an append past its log and hints at its last index", () => {
  const node = member({ id: 1 });
  const effects = node.step({ type: "message", message: message(3, 1, 1, append(5, 1, [], 0)) });
  const [reply] = sentOfType(effects, "append-reply");
  assert.deepEqual([reply?.success, reply?.rejectedIndex, reply?.hintIndex], [false, 5, 1]);
});

test("a follower refuses a mismatched previous term and hints before the conflicting term", () => {
  const entries = [base, noopEntry(2, 2), noopEntry(3, 2), noopEntry(4, 2)];
  const node = member({ id: 1, term: 3, entries });
  const effects = node.step({ type: "message", message: message(3, 1, 3, append(4, 3, [], 0)) });
  const [reply] = sentOfType(effects, "append-reply");
  assert.deepEqual([reply?.success, reply?.rejectedIndex, reply?.hintIndex], [false, 4, 1]);
});

test("Raft §5.3: a conflicting uncommitted suffix is truncated, on disk too, and replaced", () => {
  const entries = [base, noopEntry(2, 2), noopEntry(3, 2)];
  const node = member({ id: 1, term: 3, entries });
  const replacement: LogEntry[] = [noopEntry(2, 3), noopEntry(3, 3), noopEntry(4, 3)];
  const effects = node.step({ type: "message", message: message(3, 1, 3, append(1, 1, replacement, 1)) });
  const change = persisted(effects);
  assert.equal(effects[0]?.type, "persist", "persist before the reply");
  assert.equal(change?.truncateFrom, 2);
  assert.deepEqual(
    change?.entries?.map((entry) => `${entry.index}/${entry.term}`),
    ["2/3", "3/3", "4/3"],
  );
  const [reply] = sentOfType(effects, "append-reply");
  assert.deepEqual([reply?.success, reply?.matchIndex], [true, 4]);
  assert.equal(node.status().lastIndex, 4);
});

test("a follower commits up to min(leader's commit, what it matched) and applies in order", () => {
  const node = member({ id: 1 });
  const entries = [noopEntry(2, 1), noopEntry(3, 1)];
  const first = node.step({ type: "message", message: message(3, 1, 1, append(1, 1, entries, 9)) });
  assert.deepEqual(appliedIndexes(first), [1, 2, 3]);
  assert.equal(node.status().commitIndex, 3);
  const heartbeat = node.step({ type: "message", message: message(3, 1, 1, append(3, 1, [], 9)) });
  assert.deepEqual(appliedIndexes(heartbeat), []);
});

test("a repeated or reordered append changes nothing", () => {
  const node = member({ id: 1 });
  const entries = [noopEntry(2, 1), noopEntry(3, 1)];
  node.step({ type: "message", message: message(3, 1, 1, append(1, 1, entries, 1)) });
  const again = node.step({
    type: "message",
    message: message(3, 1, 1, append(1, 1, entries.slice(0, 1), 1)),
  });
  assert.equal(persisted(again)?.entries, undefined);
  assert.equal(node.status().lastIndex, 3, "an older, shorter append does not truncate");
});

test("Raft §5.4.2: a leader commits an old-term entry only through an entry of its own term", () => {
  const entries = [base, noopEntry(2, 1)];
  const leader = member({ id: 3, entries, config: { electionJitterMs: 0 } });
  elect(leader, [1]);
  const term = leader.status().term;
  assert.equal(leader.entryAt(3)?.term, term, "the new leader appends a no-op of its term");
  const ackOld = leader.step({ type: "message", message: message(1, 3, term, appendReply(true, 2)) });
  assert.equal(leader.status().commitIndex, 0, "index 2 (term 1) is on a majority but not committed alone");
  assert.deepEqual(appliedIndexes(ackOld), []);
  const ackNew = leader.step({ type: "message", message: message(1, 3, term, appendReply(true, 3)) });
  assert.equal(leader.status().commitIndex, 3);
  assert.deepEqual(appliedIndexes(ackNew), [1, 2, 3]);
});

test("the no-quorum-commit mutant commits before a majority has the entry", () => {
  const leader = member({ id: 3, config: { electionJitterMs: 0 }, mutant: "no-quorum-commit" });
  elect(leader, [1]);
  leader.step(createRequest("a1"));
  assert.equal(leader.status().commitIndex, leader.status().lastIndex);
});

test("a leader pipelines appends to a follower up to the in-flight limit, stamped with its clock", () => {
  const leader = member({
    id: 3,
    config: { electionJitterMs: 0, appendEntriesMax: 1, inflightAppendsMax: 3 },
  });
  const nowMs = elect(leader, [1]);
  const term = leader.status().term;
  leader.step({ type: "message", message: message(1, 3, term, appendReply(true, 2)) });
  const effects = ["a1", "a2", "a3", "a4", "a5"].flatMap((id) => leader.step(createRequest(id)));
  const toOne = sentOfType(effects, "append").filter((item) => item.to === 1 && item.entries.length > 0);
  assert.deepEqual(
    toOne.map((item) => item.prevIndex),
    [2, 3, 4],
    "three appends of one entry each in flight, then it waits",
  );
  const stamps = effects
    .flatMap((effect) => (effect.type === "persist" ? (effect.entries ?? []) : []))
    .map((entry) => entry.timestampMs);
  assert.equal(stamps.length, 5);
  assert.ok(
    stamps.every((stamp) => stamp === nowMs),
    "stamped with the leader's clock",
  );
});

test("a leader answers a request only once its entry committed, with the state machine's outcome", () => {
  const leader = member({ id: 3, config: { electionJitterMs: 0 } });
  elect(leader, [1]);
  const term = leader.status().term;
  const proposed = leader.step(createRequest("a1"));
  assert.deepEqual(responses(proposed), []);
  const index = leader.status().lastIndex;
  const acked = leader.step({ type: "message", message: message(1, 3, term, appendReply(true, index)) });
  const [response] = responses(acked);
  assert.equal(response?.requestId, "create-a1");
  const result = response?.result;
  assert.ok(
    result?.ok && result.kind === "applied" && result.result.kind === "auction" && result.result.outcome.ok,
  );
  assert.deepEqual(
    leader.applied.assignments.get("a1"),
    { owner: 1, epoch: 1 },
    "assigned to the live worker, not the leader",
  );
});

test("a follower whose acknowledgement arrives after the commit is told the commit at once", () => {
  const { leader, term } = leaderInSync();
  leader.step(createRequest("a1"));
  const index = leader.status().lastIndex;
  leader.step({ type: "message", message: message(1, 3, term, appendReply(true, index)) });
  assert.equal(leader.status().commitIndex, index, "committed with node 1");
  const late = leader.step({ type: "message", message: message(2, 3, term, appendReply(true, index)) });
  const toTwo = sentOfType(late, "append").filter((item) => item.to === 2);
  assert.ok(
    toTwo.some((item) => Math.min(item.commitIndex, item.prevIndex + item.entries.length) >= index),
    "node 2 learns that its entry committed without waiting for a heartbeat",
  );
  const again = leader.step({ type: "message", message: message(2, 3, term, appendReply(true, index)) });
  assert.deepEqual(
    sentOfType(again, "append").filter((item) => item.to === 2),
    [],
    "told once",
  );
});

test("a follower forwards a leader's request to the leader it knows", () => {
  const node = member({ id: 1 });
  node.step({ type: "message", message: message(3, 1, 1, append(1, 1, [], 1)) });
  const effects = node.step(createRequest("a1"));
  const [forward] = sentOfType(effects, "forward");
  assert.deepEqual([forward?.to, forward?.origin, forward?.requestId, forward?.hops], [3, 1, "create-a1", 1]);
  const answered = node.step({
    type: "message",
    message: message(3, 1, 1, {
      type: "forward-result",
      requestId: "create-a1",
      result: { ok: false, reason: "invalid", detail: "x", leaderId: 3 },
    }),
  });
  assert.equal(responses(answered)[0]?.requestId, "create-a1", "the answer reaches the local client");
});

test("a leader refuses a malformed request without appending it", () => {
  const leader = member({ id: 3, config: { electionJitterMs: 0 } });
  elect(leader, [1]);
  const last = leader.status().lastIndex;
  const bad = createRequest("a1");
  assert.ok(bad.type === "request" && bad.request.kind === "create");
  bad.request.command.title = "";
  const [response] = responses(leader.step(bad));
  assert.ok(response !== undefined && !response.result.ok && response.result.reason === "invalid");
  assert.equal(leader.status().lastIndex, last);
});

test("a leader that steps down tells waiting clients the outcome is unknown", () => {
  const leader = member({ id: 3, config: { electionJitterMs: 0 } });
  elect(leader, [1]);
  leader.step(createRequest("a1"));
  const term = leader.status().term;
  const effects = leader.step({ type: "message", message: message(1, 3, term + 1, append(1, 1, [], 1)) });
  const [response] = responses(effects);
  assert.ok(response !== undefined && !response.result.ok && response.result.reason === "outcome-unknown");
  assert.equal(response.result.leaderId, 1);
});

test("read index: a leader answers a read once a majority confirmed it still leads", () => {
  const leader = member({ id: 3, config: { electionJitterMs: 0 } });
  elect(leader, [1]);
  const term = leader.status().term;
  leader.step({
    type: "message",
    message: message(1, 3, term, appendReply(true, leader.status().lastIndex)),
  });
  const asked = leader.step({ type: "request", requestId: "read-1", request: { kind: "read" } });
  assert.deepEqual(responses(asked), [], "not before the confirmation round");
  const round = sentOfType(asked, "append").find((item) => item.to === 1);
  assert.ok(round !== undefined && round.readSeq > 0, "a confirmation round went out");
  const confirmed = leader.step({
    type: "message",
    message: message(1, 3, term, appendReply(true, leader.status().lastIndex, round.readSeq)),
  });
  const [response] = responses(confirmed);
  assert.ok(response?.result.ok && response.result.kind === "read");
  assert.equal(response.result.index, leader.status().commitIndex);
});

test("a follower leaves an empty append that tells the leader nothing new unanswered, for half a heartbeat interval", () => {
  const node = member({ id: 1, term: 2 });
  const from3 = (body: ReturnType<typeof append>) =>
    sentOfType(node.step({ type: "message", message: message(3, 1, 2, body) }), "append-reply");
  const [first] = from3(append(1, 1, [noopEntry(2, 2)], 1));
  assert.deepEqual([first?.success, first?.matchIndex], [true, 2]);
  // The notice of the new commit index, and a heartbeat below what it reported: no answer, but learned.
  assert.deepEqual(from3(append(2, 2, [], 2)), []);
  assert.equal(node.status().commitIndex, 2);
  assert.deepEqual(from3(append(1, 1, [], 2)), []);
  // A new read round is echoed at once, and so is a new match.
  const [read] = from3({ ...append(2, 2, [], 2), readSeq: 1 });
  assert.deepEqual([read?.success, read?.readSeq], [true, 1]);
  const [grown] = from3({ ...append(2, 2, [noopEntry(3, 2)], 2), readSeq: 1 });
  assert.equal(grown?.matchIndex, 3);
  // Half an interval after the last answer the leader hears from it again.
  node.step({ type: "tick", nowMs: 49 });
  assert.deepEqual(from3({ ...append(3, 2, [], 3), readSeq: 1 }), []);
  node.step({ type: "tick", nowMs: 50 });
  const [beat] = from3({ ...append(3, 2, [], 3), readSeq: 1 });
  assert.deepEqual([beat?.success, beat?.matchIndex], [true, 3]);
  // After a refusal every append is answered until one succeeds.
  const [refused] = from3(append(9, 2, [], 3));
  assert.equal(refused?.success, false);
  const [again] = from3({ ...append(3, 2, [], 3), readSeq: 1 });
  assert.equal(again?.success, true);
});
