// Membership at the boundary: joining through the leader, incarnations, foreign clusters,
// strangers, and the one-change-at-a-time rule, each handler driven by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClusterNode } from "../../../src/core/cluster/node.js";
import type { Effect, Message, NodeEvent } from "../../../src/core/cluster/types.js";
import { defaultConfig } from "../../../src/core/config.js";
import { SeededRandom } from "../../../src/core/random.js";
import {
  append,
  configEntry,
  elect,
  member,
  message,
  persisted,
  sentOfType,
  voteRequest,
  votersConfig,
} from "./support.js";

function joinRequest(from: number, incarnation: string): Message {
  return message(from, 3, 2, { type: "join-request", incarnation, address: `a${from}`, httpUrl: `h${from}` });
}

function events(effects: Effect[]): NodeEvent[] {
  return effects.flatMap((effect) => (effect.type === "event" ? [effect.event] : []));
}

function fresh(id: number, overrides = {}): ClusterNode {
  return new ClusterNode({
    config: { ...defaultConfig(), ...overrides },
    identity: { nodeId: id, incarnation: `fresh-${id}` },
    address: `a${id}`,
    httpUrl: `h${id}`,
    random: new SeededRandom(id),
    nowMs: 0,
    persisted: null,
  });
}

function electedLeader(): ClusterNode {
  const leader = member({ id: 3, config: { electionJitterMs: 0 } });
  elect(leader, [1]);
  const term = leader.status().term;
  const last = leader.status().lastIndex;
  leader.step({
    type: "message",
    message: message(1, 3, term, {
      type: "append-reply",
      success: true,
      matchIndex: last,
      rejectedIndex: 0,
      hintIndex: 0,
      echoTimeMs: 0,
      followerTimeMs: 0,
      readSeq: 0,
    }),
  });
  assert.equal(leader.status().commitIndex, last, "the leader committed an entry of its term");
  return leader;
}

test("a leader adds a joining node as a learner, through the log", () => {
  const leader = electedLeader();
  const effects = leader.step({ type: "message", message: joinRequest(7, "i7") });
  const [reply] = sentOfType(effects, "join-reply");
  assert.equal(reply?.outcome, "accepted");
  const entry = persisted(effects)?.entries?.[0];
  assert.ok(entry?.data.kind === "config");
  const added = entry.data.config.members.find((item) => item.id === 7);
  assert.deepEqual(added, { id: 7, incarnation: "i7", address: "a7", httpUrl: "h7", voter: false });
});

test("only one configuration change at a time: a second join waits until the first commits", () => {
  const leader = electedLeader();
  leader.step({ type: "message", message: joinRequest(7, "i7") });
  const second = leader.step({ type: "message", message: joinRequest(8, "i8") });
  assert.equal(sentOfType(second, "join-reply")[0]?.outcome, "busy");
  assert.equal(persisted(second), undefined);
});

test("a node claiming a member's id with another incarnation is refused with a clear message", () => {
  const leader = electedLeader();
  const effects = leader.step({ type: "message", message: joinRequest(1, "wiped") });
  const [reply] = sentOfType(effects, "join-reply");
  assert.equal(reply?.outcome, "id-taken");
  assert.match(reply?.detail ?? "", /another incarnation \(i1\).*operator must remove/);
  const same = leader.step({ type: "message", message: joinRequest(1, "i1") });
  assert.equal(sentOfType(same, "join-reply")[0]?.outcome, "member");
});

test("a follower sends joiners to the leader", () => {
  const node = member({ id: 1 });
  node.step({ type: "message", message: message(3, 1, 1, append(1, 1, [], 1)) });
  const effects = node.step({ type: "message", message: { ...joinRequest(7, "i7"), to: 1, term: 0 } });
  const [reply] = sentOfType(effects, "join-reply");
  assert.deepEqual([reply?.outcome, reply?.leaderId], ["not-leader", 3]);
});

test("messages from another cluster are dropped and counted", () => {
  const node = member({ id: 1 });
  const foreign = { ...message(2, 1, 5, voteRequest(9, 9)), clusterId: "another-cluster" };
  const effects = node.step({ type: "message", message: foreign });
  assert.deepEqual(events(effects), [
    { type: "dropped", reason: "foreign-cluster", messageType: "vote-request" },
  ]);
  assert.equal(node.status().term, 1, "nothing changed");
});

test("vote requests from non-members are dropped", () => {
  const node = member({ id: 1 });
  const effects = node.step({ type: "message", message: message(9, 1, 5, voteRequest(9, 9)) });
  assert.deepEqual(events(effects), [{ type: "dropped", reason: "non-member", messageType: "vote-request" }]);
  assert.equal(node.status().term, 1);
});

test("a fresh node takes no appends before the leader accepted its join", () => {
  const node = fresh(7, { discoveryWindowMs: 0 });
  node.step({
    type: "beacon",
    beacon: {
      clusterName: "gavel",
      clusterId: "c1",
      nodeId: 3,
      incarnation: "i3",
      address: "a3",
      httpUrl: "h3",
      term: 2,
      leaderId: 3,
    },
  });
  const tick = node.step({ type: "tick", nowMs: 10 });
  assert.equal(sentOfType(tick, "join-request")[0]?.to, 3, "it asks the leader to join");
  const early = { ...message(3, 7, 2, append(0, 0, [], 0)), clusterId: "c1" };
  assert.equal(events(node.step({ type: "message", message: early }))[0]?.type, "dropped");
  assert.equal(node.status().clusterId, null);
  node.step({
    type: "message",
    message: {
      ...message(3, 7, 2, { type: "join-reply", outcome: "accepted", leaderId: 3, detail: "" }),
      clusterId: "c1",
    },
  });
  const joined = node.step({ type: "message", message: early });
  assert.ok(events(joined).some((event) => event.type === "joined"));
  assert.equal(persisted(joined)?.clusterId, "c1", "the cluster id is persisted");
});

test("a lone fresh node bootstraps after its discovery window when expect is 1", () => {
  const node = fresh(4, { discoveryWindowMs: 3000 });
  assert.equal(events(node.step({ type: "tick", nowMs: 2990 })).length, 0);
  const effects = node.step({ type: "tick", nowMs: 3000 });
  assert.ok(events(effects).some((event) => event.type === "bootstrapped"));
  const change = persisted(effects);
  assert.match(
    change?.clusterId ?? "",
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.deepEqual(change?.hardState, { term: 1, votedFor: 4 });
  assert.equal(node.status().role, "leader");
});

test("a fresh node waits for `expect` fresh nodes, and defers to a higher ID", () => {
  const beacon = (nodeId: number) => ({
    type: "beacon" as const,
    beacon: {
      clusterName: "gavel",
      clusterId: null,
      nodeId,
      incarnation: `f${nodeId}`,
      address: "",
      httpUrl: "",
      term: 0,
      leaderId: null,
    },
  });
  const low = fresh(2, { discoveryWindowMs: 100, expect: 2 });
  low.step({ type: "tick", nowMs: 200 });
  assert.equal(low.status().role, "discovering", "alone, it waits for a second node");
  low.step(beacon(5));
  low.step({ type: "tick", nowMs: 300 });
  assert.equal(low.status().role, "discovering", "node 5 is higher: it bootstraps, not node 2");
  const high = fresh(5, { discoveryWindowMs: 100, expect: 2 });
  high.step(beacon(2));
  high.step({ type: "tick", nowMs: 300 });
  assert.equal(high.status().role, "leader");
});

test("beacons of another cluster with the same name are reported once, never merged", () => {
  const node = member({ id: 1 });
  const beacon = {
    clusterName: "gavel",
    clusterId: "someone-else",
    nodeId: 9,
    incarnation: "x",
    address: "",
    httpUrl: "",
    term: 4,
    leaderId: 9,
  };
  const first = node.step({ type: "beacon", beacon });
  assert.deepEqual(events(first), [{ type: "cluster-conflict", clusterId: "someone-else", nodeId: 9 }]);
  assert.deepEqual(events(node.step({ type: "beacon", beacon })), []);
  assert.deepEqual(node.status().conflictingClusters, [{ clusterId: "someone-else", nodeId: 9 }]);
  assert.notEqual(node.status().clusterId, "someone-else");
});

test("the leader promotes a caught-up learner, then removes a member dead for too long", () => {
  const entries = [configEntry(1, 1, votersConfig([1, 3, 4], [2]))];
  const leader = member({ id: 4, entries, config: { electionJitterMs: 0, deadMemberTimeoutMs: 5000 } });
  let nowMs = elect(leader, [1, 3]);
  const ack = (from: number) =>
    leader.step({
      type: "message",
      message: message(from, 4, leader.status().term, {
        type: "append-reply",
        success: true,
        matchIndex: leader.status().lastIndex,
        rejectedIndex: 0,
        hintIndex: 0,
        echoTimeMs: nowMs,
        followerTimeMs: nowMs,
        readSeq: 0,
      }),
    });
  for (const id of [1, 2, 3]) ack(id);
  leader.step({ type: "tick", nowMs: (nowMs += 10) });
  assert.equal(leader.status().members.find((item) => item.id === 2)?.voter, true, "2 is promoted");
  for (const id of [1, 2, 3]) ack(id);
  while (leader.status().members.some((item) => item.id === 2) && nowMs < 20_000) {
    leader.step({ type: "tick", nowMs: (nowMs += 100) });
    ack(1);
    ack(3);
  }
  assert.ok(nowMs >= 5000, "not before the timeout");
  assert.deepEqual(
    leader.status().members.map((item) => item.id),
    [1, 3, 4],
    "2, silent for longer than the timeout, was removed; three voters remain",
  );
});

test("the leader does not remove a dead voter on its own when fewer than three voters would remain", () => {
  const leader = member({ id: 3, config: { electionJitterMs: 0, deadMemberTimeoutMs: 1000 } });
  let nowMs = elect(leader, [1]);
  for (let k = 0; k < 100; k++) {
    leader.step({ type: "tick", nowMs: (nowMs += 100) });
    leader.step({
      type: "message",
      message: message(1, 3, leader.status().term, {
        type: "append-reply",
        success: true,
        matchIndex: leader.status().lastIndex,
        rejectedIndex: 0,
        hintIndex: 0,
        echoTimeMs: nowMs,
        followerTimeMs: nowMs,
        readSeq: 0,
      }),
    });
  }
  assert.deepEqual(
    leader.status().members.map((item) => item.id),
    [1, 2, 3],
  );
});
