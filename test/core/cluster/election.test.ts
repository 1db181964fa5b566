// Election: votes, pre-votes, leases, timeouts by rank, check-quorum and clock eligibility, each
// handler driven by hand with no sockets, timers or sleeps.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  append,
  configEntry,
  member,
  message,
  noopEntry,
  persisted,
  sentOfType,
  voteRequest,
  votersConfig,
} from "./support.js";

test("a follower votes for an up-to-date candidate and persists the vote before replying", () => {
  const node = member({ id: 1 });
  const effects = node.step({ type: "message", message: message(3, 1, 2, voteRequest(1, 1)) });
  assert.equal(effects[0]?.type, "persist", "the persist effect comes first");
  assert.deepEqual(persisted(effects)?.hardState, { term: 2, votedFor: 3 });
  const [reply] = sentOfType(effects, "vote-reply");
  assert.equal(reply?.granted, true);
  assert.equal(reply?.term, 2);
});

test("Raft §5.4.1: no vote for a candidate whose log is less up to date", () => {
  const entries = [configEntry(1, 1, votersConfig([1, 2, 3])), noopEntry(2, 2)];
  const node = member({ id: 1, term: 2, entries });
  const lowerTerm = node.step({ type: "message", message: message(3, 1, 3, voteRequest(5, 1)) });
  assert.equal(sentOfType(lowerTerm, "vote-reply")[0]?.granted, false, "last term 1 < 2");
  const shorter = node.step({ type: "message", message: message(2, 1, 3, voteRequest(1, 2)) });
  assert.equal(sentOfType(shorter, "vote-reply")[0]?.granted, false, "same last term, shorter log");
});

test("at most one vote per term, and the same candidate may ask again", () => {
  const node = member({ id: 1 });
  node.step({ type: "message", message: message(3, 1, 2, voteRequest(1, 1)) });
  const other = node.step({ type: "message", message: message(2, 1, 2, voteRequest(1, 1)) });
  assert.equal(sentOfType(other, "vote-reply")[0]?.granted, false);
  const again = node.step({ type: "message", message: message(3, 1, 2, voteRequest(1, 1)) });
  assert.equal(sentOfType(again, "vote-reply")[0]?.granted, true);
});

test("the stale-vote and double-vote mutants break exactly those rules", () => {
  const entries = [configEntry(1, 1, votersConfig([1, 2, 3])), noopEntry(2, 2)];
  const stale = member({ id: 1, term: 2, entries, mutant: "stale-vote" });
  const staleEffects = stale.step({ type: "message", message: message(3, 1, 3, voteRequest(1, 1)) });
  assert.equal(sentOfType(staleEffects, "vote-reply")[0]?.granted, true);
  const double = member({ id: 1, mutant: "double-vote" });
  double.step({ type: "message", message: message(3, 1, 2, voteRequest(1, 1)) });
  const second = double.step({ type: "message", message: message(2, 1, 2, voteRequest(1, 1)) });
  assert.equal(sentOfType(second, "vote-reply")[0]?.granted, true);
});

test("a pre-vote is granted without changing anyone's term or vote", () => {
  const node = member({ id: 1 });
  const effects = node.step({ type: "message", message: message(3, 1, 2, voteRequest(1, 1, true)) });
  const [reply] = sentOfType(effects, "vote-reply");
  assert.equal(reply?.granted, true);
  assert.equal(reply?.preVote, true);
  assert.equal(persisted(effects), undefined, "nothing to persist");
  assert.equal(node.status().term, 1);
});

test("a follower that hears from its leader ignores other candidates (lease), unless leadership is handed over", () => {
  const node = member({ id: 1 });
  node.step({ type: "message", message: message(2, 1, 1, append(1, 1, [], 1)) });
  assert.equal(node.status().leaderId, 2);
  const ignored = node.step({ type: "message", message: message(3, 1, 2, voteRequest(1, 1)) });
  assert.equal(sentOfType(ignored, "vote-reply")[0]?.granted, false);
  assert.equal(node.status().term, 1, "the lease keeps the term");
  const handedOver = node.step({
    type: "message",
    message: message(3, 1, 2, voteRequest(1, 1, false, true)),
  });
  assert.equal(sentOfType(handedOver, "vote-reply")[0]?.granted, true);
});

test("higher IDs time out first: election timeouts grow with rank below the highest voter", () => {
  const firstCampaign = (id: number) => {
    const node = member({ id, config: { electionJitterMs: 0 } });
    for (let nowMs = 0; nowMs <= 5000; nowMs += 10) {
      const effects = node.step({ type: "tick", nowMs });
      if (sentOfType(effects, "vote-request").length > 0) return nowMs;
    }
    return Infinity;
  };
  const [one, two, three] = [firstCampaign(1), firstCampaign(2), firstCampaign(3)];
  assert.ok(three < two && two < one, `timeouts 3:${three} 2:${two} 1:${one}`);
});

test("a candidate runs a pre-vote first, then a real election, then leads with a no-op of its term", () => {
  const node = member({ id: 3, config: { electionJitterMs: 0 } });
  let nowMs = 0;
  let requests: ReturnType<typeof sentOfType<"vote-request">> = [];
  while (requests.length === 0)
    requests = sentOfType(node.step({ type: "tick", nowMs: (nowMs += 10) }), "vote-request");
  assert.ok(requests.every((request) => request.preVote && request.term === 2));
  assert.equal(node.status().term, 1, "a pre-vote does not bump the term");
  const preVote = node.step({
    type: "message",
    message: { ...message(1, 3, 2, { type: "vote-reply", granted: true, preVote: true }) },
  });
  const real = sentOfType(preVote, "vote-request");
  assert.ok(real.length === 2 && real.every((request) => !request.preVote && request.term === 2));
  assert.deepEqual(persisted(preVote)?.hardState, { term: 2, votedFor: 3 });
  const elected = node.step({
    type: "message",
    message: message(1, 3, 2, { type: "vote-reply", granted: true, preVote: false }),
  });
  assert.equal(node.status().role, "leader");
  const noop = persisted(elected)?.entries?.[0];
  assert.deepEqual([noop?.index, noop?.term, noop?.data.kind], [2, 2, "noop"]);
});

test("check-quorum: a leader that hears from no majority for an election timeout steps down", () => {
  const node = member({ id: 3, config: { electionJitterMs: 0 } });
  let nowMs = 0;
  while (node.status().role !== "pre-candidate") node.step({ type: "tick", nowMs: (nowMs += 10) });
  node.step({
    type: "message",
    message: message(1, 3, 2, { type: "vote-reply", granted: true, preVote: true }),
  });
  node.step({
    type: "message",
    message: message(1, 3, 2, { type: "vote-reply", granted: true, preVote: false }),
  });
  assert.equal(node.status().role, "leader");
  const events: string[] = [];
  for (let k = 0; k < 300 && node.status().role === "leader"; k++) {
    for (const effect of node.step({ type: "tick", nowMs: (nowMs += 10) })) {
      if (effect.type === "event") events.push(effect.event.type);
    }
  }
  assert.equal(node.status().role, "follower");
  assert.ok(events.includes("stepped-down"));
});

test("a node whose clock is off from the majority's does not stand for election, and says why", () => {
  const node = member({ id: 3, config: { electionJitterMs: 0 } });
  node.step({
    type: "message",
    message: message(2, 3, 1, { ...append(1, 1, [], 1), clockDeviationMs: 900 }),
  });
  const status = node.status();
  assert.equal(status.eligible, false);
  assert.match(status.ineligibleReason ?? "", /clock differs from the majority's by 900 ms/);
  let firstCampaignMs: number | null = null;
  for (let nowMs = 0; nowMs <= 10_000 && firstCampaignMs === null; nowMs += 10) {
    if (sentOfType(node.step({ type: "tick", nowMs }), "vote-request").length > 0) firstCampaignMs = nowMs;
  }
  // The measurement holds for three election timeouts; an old one must not keep a cluster leaderless.
  assert.ok(firstCampaignMs !== null && firstCampaignMs > 3000, `first campaign at ${firstCampaignMs} ms`);
});

test("a learner never stands for election", () => {
  const entries = [configEntry(1, 1, votersConfig([1, 2], [3]))];
  const node = member({ id: 3, entries });
  for (let nowMs = 0; nowMs <= 10_000; nowMs += 10) {
    assert.equal(sentOfType(node.step({ type: "tick", nowMs }), "vote-request").length, 0);
  }
  assert.equal(node.status().membership, "learner");
});
