// Scenario tests on the in-memory cluster: discovery and bootstrap, the highest-ID leader,
// failover, partitions, wiped nodes, conflicting clusters, snapshots, flapping links and skewed
// clocks. Virtual time only: every wait is a condition with a simulated deadline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig } from "../../src/core/config.js";
import type { Config } from "../../src/core/config.js";
import type { NodeEvent, NodeId } from "../../src/core/cluster/types.js";
import { calmNetwork, SimCluster } from "../../src/sim/cluster.js";
import { Checker } from "../../src/sim/checker.js";
import { createCommand } from "../core/cluster/support.js";

function cluster(
  overrides: Partial<Config> = {},
  seed = 7,
): { sim: SimCluster; checker: Checker; events: [NodeId, NodeEvent][] } {
  const config = { ...defaultConfig(), tickIntervalMs: 10, discoveryWindowMs: 1000, ...overrides };
  const sim = new SimCluster({ seed, config });
  const checker = new Checker(sim);
  const events: [NodeId, NodeEvent][] = [];
  sim.observe(checker);
  sim.observe({ event: (id, event) => events.push([id, event]) });
  return { sim, checker, events };
}

function start(sim: SimCluster, ids: NodeId[]): void {
  for (const id of ids) sim.addNode(id);
}

function status(sim: SimCluster, id: NodeId) {
  return sim.node(id).driver!.node.status();
}

/** A condition: every running node follows `leader`, and every one knows all of them as committed voters. */
function settledUnder(sim: SimCluster, leader: NodeId): () => boolean {
  return () => {
    if (sim.agreedLeader() !== leader) return false;
    const ids = sim.running().map((node) => node.id);
    return sim.running().every((node) => {
      const voters = node
        .driver!.node.applied.config.members.filter((item) => item.voter)
        .map((item) => item.id);
      return ids.every((id) => voters.includes(id));
    });
  };
}

let requestCounter = 0;
function createAuction(sim: SimCluster, at: NodeId, auctionId: string): void {
  sim.request(at, `req-${requestCounter++}`, {
    kind: "create",
    command: createCommand(auctionId, { title: auctionId, closesAt: 10_000_000 }),
  });
}

function hasAuction(sim: SimCluster, id: NodeId, auctionId: string): boolean {
  return sim.node(id).driver?.node.applied.book.get(auctionId) !== undefined;
}

test("three nodes started at the same moment form one cluster, and the highest ID leads", () => {
  const { sim, checker, events } = cluster({ expect: 1 });
  start(sim, [1, 2, 3]);
  assert.ok(sim.runUntil(settledUnder(sim, 3), 10_000), "settled within 10 s");
  const bootstraps = events.filter(([, event]) => event.type === "bootstrapped");
  assert.deepEqual(
    bootstraps.map(([id]) => id),
    [3],
    "only the highest-ID fresh node bootstraps",
  );
  assert.equal(new Set(sim.running().map((node) => node.driver!.node.status().clusterId)).size, 1);
  assert.deepEqual(checker.violations, []);
});

test("five nodes find each other and the highest ID leads", () => {
  const { sim, checker } = cluster({ expect: 5 });
  start(sim, [4, 1, 5, 3, 2]);
  assert.ok(sim.runUntil(settledUnder(sim, 5), 10_000));
  assert.deepEqual(checker.violations, []);
});

test("the leader dies: the highest remaining ID leads, and no committed entry is lost", () => {
  const { sim, checker } = cluster({ expect: 3 });
  start(sim, [1, 2, 3]);
  assert.ok(sim.runUntil(settledUnder(sim, 3), 10_000));
  createAuction(sim, 3, "lamp");
  assert.ok(sim.runUntil(() => [1, 2, 3].every((id) => hasAuction(sim, id, "lamp")), 2000));
  sim.crash(3);
  const crashedAt = sim.nowMs;
  assert.ok(
    sim.runUntil(() => sim.agreedLeader() === 2, 5000),
    "node 2 takes over",
  );
  assert.ok(sim.nowMs - crashedAt < 3000, `failover took ${sim.nowMs - crashedAt} ms`);
  assert.ok(hasAuction(sim, 2, "lamp"));
  createAuction(sim, 2, "vase");
  assert.ok(
    sim.runUntil(() => hasAuction(sim, 1, "vase"), 2000),
    "the survivors still commit",
  );
  sim.restart(3);
  assert.ok(
    sim.runUntil(() => sim.agreedLeader() === 3 && hasAuction(sim, 3, "vase"), 20_000),
    "3 catches up and leads again",
  );
  assert.deepEqual(checker.violations, []);
});

test("a partitioned minority commits nothing; the majority elects its highest ID; after healing all converge", () => {
  const { sim, checker } = cluster({ expect: 5 });
  start(sim, [1, 2, 3, 4, 5]);
  assert.ok(sim.runUntil(settledUnder(sim, 5), 10_000));
  sim.partition([
    [4, 5],
    [1, 2, 3],
  ]);
  createAuction(sim, 5, "minority");
  assert.ok(
    sim.runUntil(() => status(sim, 5).role !== "leader", 3000),
    "the isolated leader steps down",
  );
  // Whoever wins first (the most up-to-date log), node 3 leads once it has been caught up a while.
  assert.ok(
    sim.runUntil(() => status(sim, 3).role === "leader", 10_000),
    "the majority's highest ID leads",
  );
  createAuction(sim, 3, "majority");
  assert.ok(sim.runUntil(() => hasAuction(sim, 1, "majority"), 2000));
  assert.equal(hasAuction(sim, 5, "minority"), false, "the minority side applied nothing");
  const termBefore = status(sim, 3).term;
  sim.heal();
  assert.ok(sim.runUntil(() => sim.agreedLeader() === 5 && hasAuction(sim, 5, "majority"), 20_000));
  assert.ok(status(sim, 5).term <= termBefore + 2, "pre-vote keeps the returning nodes from inflating terms");
  assert.deepEqual(checker.violations, []);
});

test("the highest ID, cut off while the others commit, leads again only once it has caught up", () => {
  const { sim, checker, events } = cluster({ expect: 3 });
  start(sim, [1, 2, 3]);
  assert.ok(sim.runUntil(settledUnder(sim, 3), 10_000));
  sim.isolate(3);
  assert.ok(sim.runUntil(() => sim.leaders().some((leader) => leader.id !== 3), 5000));
  const interim = sim.leaders().find((leader) => leader.id !== 3)!.id;
  for (let k = 0; k < 20; k++) createAuction(sim, interim, `lot-${k}`);
  assert.ok(sim.runUntil(() => hasAuction(sim, 1, "lot-19") && hasAuction(sim, 2, "lot-19"), 3000));
  sim.heal();
  const healedAt = sim.nowMs;
  const leadsAgain = () =>
    events.some(([id, event]) => id === 3 && event.type === "became-leader" && event.term > 2);
  assert.ok(sim.runUntil(leadsAgain, 20_000));
  assert.ok(hasAuction(sim, 3, "lot-19"), "it leads with everything committed");
  assert.ok(sim.nowMs - healedAt >= 5000, `only after a stable period (${sim.nowMs - healedAt} ms)`);
  assert.ok(sim.runUntil(() => sim.agreedLeader() === 3, 2000));
  assert.deepEqual(checker.violations, []);
});

test("a flapping link to the leader causes no election storm", () => {
  const { sim, checker } = cluster({ expect: 3 });
  start(sim, [1, 2, 3]);
  assert.ok(sim.runUntil(settledUnder(sim, 3), 10_000));
  const termBefore = status(sim, 3).term;
  for (let second = 0; second < 60; second++) {
    sim.blockLink(3, 1);
    sim.blockLink(1, 3);
    sim.runFor(500);
    sim.unblockLink(3, 1);
    sim.unblockLink(1, 3);
    sim.runFor(500);
  }
  createAuction(sim, sim.agreedLeader() ?? 3, "after-flapping");
  assert.ok(sim.runUntil(() => hasAuction(sim, 2, "after-flapping"), 3000));
  assert.ok(status(sim, 2).term - termBefore <= 2, `term grew from ${termBefore} to ${status(sim, 2).term}`);
  assert.deepEqual(checker.violations, []);
});

test("a wiped node is refused under its old id until an operator removes the old member, then rejoins", () => {
  const { sim, checker, events } = cluster({ expect: 3, deadMemberTimeoutMs: 20_000 });
  start(sim, [1, 2, 3]);
  assert.ok(sim.runUntil(settledUnder(sim, 3), 10_000));
  sim.wipe(1);
  sim.restart(1);
  assert.ok(
    sim.runUntil(() => events.some(([id, event]) => id === 1 && event.type === "join-refused"), 10_000),
  );
  assert.match(status(sim, 1).joinRefusal ?? "", /another incarnation/);
  assert.equal(status(sim, 1).clusterId, null, "it never poses as the old member");
  sim.runFor(30_000);
  assert.equal(
    events.some(([, event]) => event.type === "member-removed"),
    false,
    "with three voters the leader does not shrink the cluster on its own",
  );
  sim.request(2, "remove-old-1", { kind: "remove-member", id: 1 });
  assert.ok(sim.runUntil(settledUnder(sim, 3), 20_000), "it rejoins as a new member");
  assert.equal(status(sim, 1).incarnation, "n1-i2");
  assert.deepEqual(checker.violations, []);
});

test("a voter dead for longer than the timeout is removed when three voters remain", () => {
  const { sim, checker, events } = cluster({ expect: 4, deadMemberTimeoutMs: 20_000 });
  start(sim, [1, 2, 3, 4]);
  assert.ok(sim.runUntil(settledUnder(sim, 4), 10_000));
  // The timeout runs from when the leader last heard from the member: at most a heartbeat interval
  // and a half and a tick before it stopped (a follower leaves commit notices unanswered for half an
  // interval).
  const heardAt = status(sim, 4).lastHeardMs[2]!;
  const tickIntervalMs = 10; // as cluster() sets it
  assert.ok(sim.nowMs - heardAt <= 1.5 * defaultConfig().heartbeatIntervalMs + tickIntervalMs);
  sim.retire(2);
  assert.ok(sim.runUntil(() => events.some(([, event]) => event.type === "member-removed"), 40_000));
  assert.ok(sim.nowMs - heardAt >= 20_000, "not before the timeout");
  assert.ok(sim.nowMs - heardAt <= 21_000, "soon after it");
  assert.deepEqual(
    status(sim, 4).members.map((item) => item.id),
    [1, 3, 4],
  );
  assert.deepEqual(checker.violations, []);
});

test("two clusters of the same name that hear each other are reported, never merged", () => {
  const { sim, events } = cluster({ expect: 1 });
  sim.partition([[1], [2]]);
  start(sim, [1, 2]);
  assert.ok(sim.runUntil(() => status(sim, 1).role === "leader" && status(sim, 2).role === "leader", 10_000));
  sim.heal();
  assert.ok(
    sim.runUntil(
      () => status(sim, 1).conflictingClusters.length > 0 && status(sim, 2).conflictingClusters.length > 0,
      5000,
    ),
  );
  sim.runFor(5000);
  assert.notEqual(status(sim, 1).clusterId, status(sim, 2).clusterId);
  assert.equal(status(sim, 1).role, "leader");
  assert.equal(status(sim, 2).role, "leader");
  assert.ok(events.some(([, event]) => event.type === "cluster-conflict"));
});

test("a fresh node that heard a cluster never bootstraps another, even when cut off", () => {
  const { sim, events } = cluster({ expect: 1 });
  start(sim, [1]);
  assert.ok(sim.runUntil(() => status(sim, 1).role === "leader", 5000));
  sim.blockLink(4, 1);
  sim.addNode(4);
  sim.runFor(300);
  sim.unblockLink(4, 1);
  sim.runFor(600);
  sim.isolate(4);
  sim.runFor(10_000);
  assert.equal(events.filter(([, event]) => event.type === "bootstrapped").length, 1);
  sim.heal();
  assert.ok(sim.runUntil(() => status(sim, 4).clusterId === status(sim, 1).clusterId, 10_000));
});

/**
 * Nodes 1 and 2 with 60 auctions and small snapshots: their logs are compacted, so a node joining
 * them catches up from a snapshot sent in chunks of 500 characters.
 */
function compactedPair(): ReturnType<typeof cluster> {
  const made = cluster({
    expect: 1,
    snapshotEntriesThreshold: 20,
    snapshotTrailingEntries: 2,
    snapshotChunkChars: 500,
  });
  start(made.sim, [1, 2]);
  assert.ok(made.sim.runUntil(settledUnder(made.sim, 2), 10_000));
  for (let k = 0; k < 60; k++) createAuction(made.sim, 2, `lot-${k}`);
  assert.ok(made.sim.runUntil(() => hasAuction(made.sim, 1, "lot-59"), 5000));
  return made;
}

test("a new node catches up from a snapshot sent in chunks", () => {
  const { sim, checker, events } = compactedPair();
  sim.addNode(3);
  assert.ok(sim.runUntil(() => hasAuction(sim, 3, "lot-59"), 20_000));
  assert.ok(events.some(([id, event]) => id === 3 && event.type === "snapshot-installed"));
  const applied = (id: NodeId) => sim.node(id).driver!.node.applied;
  assert.ok(sim.runUntil(() => applied(3).appliedIndex === applied(2).appliedIndex, 5000));
  assert.ok(applied(3).serialize() === applied(2).serialize(), "identical state at the same index");
  assert.deepEqual(checker.violations, []);
});

test("a snapshot goes to a slow follower once: one chunk in flight, no resend on every beat", () => {
  const { sim, checker } = compactedPair();
  const chunks: number[] = [];
  sim.observe({
    sent: (message) => message.type === "snapshot-chunk" && message.to === 3 && chunks.push(message.offset),
  });
  // A round trip of 300-500 ms: several heartbeats (100 ms) pass while each chunk is on its way.
  sim.network = { ...calmNetwork, delayMinMs: 150, delayMaxMs: 250 };
  sim.addNode(3);
  assert.ok(
    sim.runUntil(() => hasAuction(sim, 3, "lot-59"), 60_000),
    "node 3 catches up",
  );
  const needed = new Set(chunks).size;
  assert.ok(needed > 5, `the snapshot takes several chunks (${needed})`);
  // Without the single chunk in flight, this sent 2,125 chunks for 34.
  assert.ok(chunks.length <= needed * 1.5, `${chunks.length} chunks sent for ${needed} distinct ones`);
  assert.deepEqual(checker.violations, []);
});

test("snapshots are spaced by the state's size, within the configured bounds", () => {
  const { sim, checker, events } = cluster({
    expect: 1,
    snapshotEntriesThreshold: 20,
    snapshotEntriesMax: 100,
    snapshotTrailingEntries: 2,
  });
  start(sim, [1]);
  assert.ok(sim.runUntil(() => status(sim, 1).role === "leader", 5000));
  for (let k = 0; k < 400; k++) createAuction(sim, 1, `lot-${k}`);
  assert.ok(sim.runUntil(() => hasAuction(sim, 1, "lot-399"), 10_000));
  const taken = events
    .filter(([id, event]) => id === 1 && event.type === "snapshot-taken")
    .map(([, event]) => (event as Extract<NodeEvent, { type: "snapshot-taken" }>).index);
  const gaps = taken.map((index, k) => index - (k === 0 ? 0 : taken[k - 1]!));
  // Each auction is one record: the gap after a snapshot of n records is n entries, from 20 to 100.
  assert.ok(gaps[0]! >= 20 && gaps[0]! < 30, `first after the threshold: ${gaps.join(",")}`);
  assert.ok(
    gaps.every((gap, k) => k === 0 || gap >= gaps[k - 1]!),
    `then growing with the state: ${gaps.join(",")}`,
  );
  assert.ok(
    gaps.some((gap) => gap > 2 * gaps[0]!),
    `growing with the state: ${gaps.join(",")}`,
  );
  assert.ok(
    gaps.every((gap) => gap <= 100),
    `never past the maximum: ${gaps.join(",")}`,
  );
  assert.equal(gaps.at(-1), 100, `at the maximum once the state is large: ${gaps.join(",")}`);
  assert.deepEqual(checker.violations, []);
});

test("the highest-ID node with a skewed clock does not lead; it says why", () => {
  const { sim, checker } = cluster({ expect: 3 });
  start(sim, [1, 2, 3]);
  assert.ok(sim.runUntil(settledUnder(sim, 3), 10_000));
  sim.setSkew(3, 2000);
  assert.ok(
    sim.runUntil(() => sim.agreedLeader() === 2, 10_000),
    "leadership moves to node 2",
  );
  sim.runFor(15_000);
  assert.equal(sim.agreedLeader(), 2, "and stays there");
  assert.equal(status(sim, 3).eligible, false);
  assert.match(status(sim, 3).ineligibleReason ?? "", /clock differs/);
  sim.setSkew(3, 0);
  assert.ok(
    sim.runUntil(() => sim.agreedLeader() === 3, 20_000),
    "back once the clock is right",
  );
  assert.deepEqual(checker.violations, []);
});

test("an operator removes a member through the leader", () => {
  const { sim, checker } = cluster({ expect: 4 });
  start(sim, [1, 2, 3, 4]);
  assert.ok(sim.runUntil(settledUnder(sim, 4), 10_000));
  sim.retire(2);
  const replies: string[] = [];
  sim.observe({
    responded: (_id, requestId, result) =>
      requestId === "remove-2" && replies.push(result.ok ? result.kind : result.reason),
  });
  sim.request(1, "remove-2", { kind: "remove-member", id: 2 });
  assert.ok(sim.runUntil(() => replies.length > 0, 3000));
  assert.deepEqual(replies, ["applied"], "asked at a follower, answered once applied");
  assert.deepEqual(
    status(sim, 4).members.map((item) => item.id),
    [1, 3, 4],
  );
  assert.deepEqual(checker.violations, []);
});

test("with fsyncs in the background, a follower acknowledges entries only once they are on its disk", () => {
  // Node 2 is cut off, so the leader's commits rest on node 1's acknowledgement alone. Node 1 and
  // the leader then crash, node 1 before its last fsync could have ended had it acknowledged early:
  // the entry the leader committed must still be on node 1's disk, or nodes 1 and 2 would elect a
  // leader without it.
  const config = { ...defaultConfig(), tickIntervalMs: 10, discoveryWindowMs: 1000, expect: 3 };
  for (const seed of [1, 2, 3, 4, 5]) {
    const sim = new SimCluster({ seed, config, fsyncMaxMs: 200 });
    const checker = new Checker(sim);
    sim.observe(checker);
    start(sim, [1, 2, 3]);
    assert.ok(sim.runUntil(settledUnder(sim, 3), 20_000), "settled");
    sim.isolate(2);
    createAuction(sim, 3, "lamp");
    assert.ok(
      sim.runUntil(() => hasAuction(sim, 3, "lamp"), 5000),
      "the leader commits with node 1",
    );
    sim.crash(1);
    sim.crash(3);
    sim.heal();
    sim.restart(1);
    assert.ok(
      sim.runUntil(() => sim.agreedLeader() !== null && hasAuction(sim, 2, "lamp"), 20_000),
      `seed ${seed}: nodes 1 and 2 elect a leader that has the committed auction`,
    );
    assert.deepEqual(checker.violations, []);
  }
});
