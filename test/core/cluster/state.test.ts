// The replicated state machine: applies entries with the leader's stamp, and a snapshot restores
// exactly the same state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClusterState } from "../../../src/core/cluster/state.js";
import type { LogEntry } from "../../../src/core/cluster/types.js";
import { configEntry, createCommand, votersConfig } from "./support.js";

function auctionEntry(index: number, timestampMs: number, command: LogEntry["data"]): LogEntry {
  return { index, term: 1, timestampMs, data: command };
}

test("entries apply in order, auction commands at the leader's stamp; a snapshot restores the same state", () => {
  const state = new ClusterState();
  state.apply(configEntry(1, 1, votersConfig([1, 2, 3])));
  state.apply(auctionEntry(2, 100, { kind: "create", command: createCommand("lamp"), owner: 2 }));
  const bid = state.apply(
    auctionEntry(3, 250, {
      kind: "auction",
      command: { type: "place-bid", auctionId: "lamp", bidder: "ann", bidId: "b1", amount: 120, max: 200 },
      owner: 2,
      epoch: 1,
      ref: "r1",
    }),
  );
  assert.ok(bid.kind === "auction" && bid.outcome.ok);
  assert.equal(bid.outcome.bid?.timestampMs, 250, "the command carries the entry's stamp");
  assert.throws(() => state.apply(auctionEntry(5, 300, { kind: "noop" })), /in order/);
  const copy = ClusterState.restore(state.serialize());
  assert.equal(copy.serialize(), state.serialize());
  assert.equal(copy.appliedIndex, 3);
  const repeat = copy.apply(
    auctionEntry(4, 300, {
      kind: "auction",
      command: { type: "place-bid", auctionId: "lamp", bidder: "ann", bidId: "b1", amount: 120, max: 200 },
      owner: 2,
      epoch: 1,
      ref: "r2",
    }),
  );
  assert.ok(
    repeat.kind === "auction" && repeat.outcome.ok && repeat.outcome.duplicate,
    "idempotency keys survive",
  );
});

test("fencing: a command proposed under a stale assignment is not applied", () => {
  const state = new ClusterState();
  state.apply(auctionEntry(1, 100, { kind: "create", command: createCommand("lamp"), owner: 2 }));
  const moved = state.apply(auctionEntry(2, 110, { kind: "assign", auctionId: "lamp", owner: 3, epoch: 2 }));
  assert.deepEqual(moved, {
    kind: "assign",
    auctionId: "lamp",
    applied: true,
    assignment: { owner: 3, epoch: 2 },
  });
  const skipped = state.apply(
    auctionEntry(3, 120, { kind: "assign", auctionId: "lamp", owner: 1, epoch: 2 }),
  );
  assert.equal(skipped.kind === "assign" && skipped.applied, false, "an assignment must name the next epoch");
  const bid = {
    type: "place-bid" as const,
    auctionId: "lamp",
    bidder: "ann",
    bidId: "b1",
    amount: 120,
    max: null,
  };
  const stale = state.apply(
    auctionEntry(4, 130, { kind: "auction", command: bid, owner: 2, epoch: 1, ref: "x" }),
  );
  assert.deepEqual(stale, { kind: "fenced", auctionId: "lamp", current: { owner: 3, epoch: 2 } });
  assert.equal(state.book.get("lamp")?.price, null, "the stale bid changed nothing");
  const current = state.apply(
    auctionEntry(5, 140, { kind: "auction", command: bid, owner: 3, epoch: 2, ref: "y" }),
  );
  assert.ok(current.kind === "auction" && current.outcome.ok);
  assert.deepEqual([...(state.activeByOwner.get(3) ?? [])], ["lamp"]);
});

test("the no-fencing mutant applies stale commands", () => {
  const state = new ClusterState({ fencing: false });
  state.apply(auctionEntry(1, 100, { kind: "create", command: createCommand("lamp"), owner: 2 }));
  state.apply(auctionEntry(2, 110, { kind: "assign", auctionId: "lamp", owner: 3, epoch: 2 }));
  const bid = {
    type: "place-bid" as const,
    auctionId: "lamp",
    bidder: "ann",
    bidId: "b1",
    amount: 120,
    max: null,
  };
  const stale = state.apply(
    auctionEntry(3, 130, { kind: "auction", command: bid, owner: 2, epoch: 1, ref: "x" }),
  );
  assert.equal(stale.kind, "auction");
});

test("users register once; their tokens are known by hash", () => {
  const state = new ClusterState();
  const first = state.apply(
    auctionEntry(1, 100, { kind: "user", name: "ann", tokenHash: "h1", passwordHash: null }),
  );
  const again = state.apply(
    auctionEntry(2, 100, { kind: "user", name: "ann", tokenHash: "h2", passwordHash: null }),
  );
  assert.deepEqual(
    [first, again],
    [
      { kind: "user", name: "ann", created: true },
      { kind: "user", name: "ann", created: false },
    ],
  );
  assert.equal(state.userOfToken("h1"), "ann");
  assert.equal(state.userOfToken("h2"), undefined);
  assert.equal(ClusterState.restore(state.serialize()).userOfToken("h1"), "ann");
});
