// The replicated state machine: applies entries with the leader's stamp, and a snapshot restores
// exactly the same state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClusterState } from "../../../src/core/cluster/state.js";
import { joinParts } from "../../../src/core/cluster/taken-snapshot.js";
import type { LogEntry, SnapshotPart } from "../../../src/core/cluster/types.js";
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

/**
 * The state's JSON by one plain JSON.stringify, each auction's history last as compact records (an
 * automatic line as [bidId, bidder, amount, timestampMs], a placed one followed by the rest of its
 * accepted bid: max, priceAfter, leaderAfter, boughtNow): what serialize must equal.
 */
function plainJson(state: ClusterState): string {
  return JSON.stringify({
    appliedIndex: state.appliedIndex,
    config: state.config,
    lastTimestampMs: state.book.lastTimestampMs,
    auctions: [...state.book.auctions.values()].map(({ bids, accepted, ...head }) => {
      const placed = [...accepted.values()];
      const history = bids.map((line) => {
        const record = [line.bidId, line.bidder, line.amount, line.timestampMs];
        if (line.automatic) return record;
        const bid = placed.shift()!;
        return [...record, bid.max, bid.priceAfter, bid.leaderAfter, bid.boughtNow];
      });
      assert.equal(placed.length, 0, "every accepted bid has its placed line");
      return { ...head, history };
    }),
    assignments: [...state.assignments],
    users: [...state.users.values()],
    drained: [...state.drained],
  });
}

test("serialize keeps the history it converted (as bids apply, and at snapshots) and gives one JSON.stringify's text", () => {
  const seed = Number(process.env["GAVEL_SEED"] ?? Date.now() % 100_000);
  console.log(`# seed ${seed} (GAVEL_SEED=${seed} replays)`);
  let random = seed;
  const next = (below: number) => {
    random = (random * 1_103_515_245 + 12_345) % 2_147_483_648;
    return random % below;
  };
  let state = new ClusterState();
  state.apply(configEntry(1, 1, votersConfig([1, 2, 3])));
  let index = 1;
  const lots = ["a", "b", "c", "d"];
  for (const lot of lots)
    state.apply(auctionEntry(++index, 100, { kind: "create", command: createCommand(lot), owner: 2 }));
  state.apply(auctionEntry(++index, 100, { kind: "user", name: "ann", tokenHash: "h1", passwordHash: null }));
  const prices = new Map(lots.map((lot) => [lot, 100]));
  let taken: { parts: SnapshotPart[]; text: string } | null = null;
  for (let round = 0; round < 8; round++) {
    // From one to a few times the conversion chunk per auction between snapshots.
    for (let bid = 0; bid < 1 + next(120); bid++) {
      const lot = lots[next(lots.length)]!;
      const amount = prices.get(lot)! + 10 + next(30);
      const max = next(3) === 0 ? amount + next(100) : null;
      const result = state.apply(
        auctionEntry(++index, 1000 + index, {
          kind: "auction",
          command: {
            type: "place-bid",
            auctionId: lot,
            bidder: `u${next(5)}`,
            bidId: `b${index}`,
            amount,
            max,
          },
          owner: 2,
          epoch: 1,
          ref: `r${index}`,
        }),
      );
      if (result.kind === "auction" && result.outcome.ok) prices.set(lot, state.book.get(lot)!.price!);
    }
    if (round === 3) {
      const cancel = { type: "cancel-auction" as const, auctionId: "d", by: "sam" };
      state.apply(
        auctionEntry(++index, 1000 + index, {
          kind: "auction",
          command: cancel,
          owner: 2,
          epoch: 1,
          ref: "c",
        }),
      );
    }
    // The parts taken at the last round still read as that round's text: they hold no live state.
    if (taken !== null) assert.equal(joinParts(taken.parts), taken.text, `round ${round}: earlier parts`);
    const text = state.serialize();
    taken = { parts: state.serializeParts(), text };
    assert.equal(text, plainJson(state), `round ${round}`);
    const restored = ClusterState.restore(text);
    assert.equal(restored.serialize(), text, `round ${round}: restored`);
    // Halfway, go on with the restored state: its histories were never converted bid by bid.
    if (round === 4) state = restored;
  }
  assert.ok(state.book.get("a")!.bids.length > 1, "the history grew between serializations");
});

test("a snapshot of the earlier format (history lines and accepted bids as objects) restores the same state", () => {
  let state = new ClusterState();
  state.apply(configEntry(1, 1, votersConfig([1, 2, 3])));
  state.apply(auctionEntry(2, 100, { kind: "create", command: createCommand("lamp"), owner: 2 }));
  const bids = [
    { bidder: "ann", amount: 120, max: 200 },
    { bidder: "bob", amount: 150, max: null },
    { bidder: "bob", amount: 300, max: null },
  ];
  let index = 2;
  for (const [position, bid] of bids.entries()) {
    // Ann's and Bob's first bids share an id (ids are each bidder's own).
    const bidId = position === 1 ? "b0" : `b${position}`;
    const command = { type: "place-bid" as const, auctionId: "lamp", bidId, ...bid };
    state.apply(
      auctionEntry(++index, 200 + index, { kind: "auction", command, owner: 2, epoch: 1, ref: `r${index}` }),
    );
  }
  const lamp = state.book.get("lamp")!;
  assert.ok(
    lamp.bids.some((line) => line.automatic),
    "ann's proxy bid for her",
  );
  const earlier = JSON.parse(state.serialize()) as { auctions: Record<string, unknown>[] };
  earlier.auctions = [...state.book.auctions.values()].map(({ bids: lines, accepted, ...head }) => ({
    ...head,
    bids: lines,
    accepted: [...accepted.values()],
  }));
  const restored = ClusterState.restore(JSON.stringify(earlier));
  assert.equal(restored.serialize(), state.serialize());
  assert.deepEqual(restored.book.get("lamp")!.bids, lamp.bids);
  assert.deepEqual([...restored.book.get("lamp")!.accepted], [...lamp.accepted]);
  // And from the compact text: the same lines and accepted bids, and it goes on alike.
  state = ClusterState.restore(state.serialize());
  assert.deepEqual(state.book.get("lamp")!.bids, lamp.bids);
  assert.deepEqual([...state.book.get("lamp")!.accepted], [...lamp.accepted]);
  for (const copy of [state, restored]) {
    for (const [position, bid] of bids.slice(0, 2).entries()) {
      const command = { type: "place-bid" as const, auctionId: "lamp", bidId: "b0", ...bid };
      const data = { kind: "auction" as const, command, owner: 2, epoch: 1, ref: `again${position}` };
      const repeat = copy.apply(auctionEntry(copy.appliedIndex + 1, 400 + position, data));
      assert.ok(repeat.kind === "auction" && repeat.outcome.ok && repeat.outcome.duplicate, bid.bidder);
    }
  }
});
