// The update tracker, without sockets: log entries applied to a real replicated state, then
// drained into updates. Versions must be exact whatever the batching, facts exact as of the end of
// each entry, only the owner's entries published, and nothing hidden (reserve, maximum) leaked.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ClusterState } from "../../src/core/cluster/state.js";
import type {
  CreateAuctionBody,
  EntryData,
  LogEntry,
  NodeId,
  OwnerCommandBody,
} from "../../src/core/cluster/types.js";
import { UpdateTracker } from "../../src/net/update-tracker.js";
import { auctionUpdateSchema } from "../../src/net/update-schema.js";
import type { AuctionUpdate } from "../../src/net/update-schema.js";
import { createBody } from "./support.js";

const self: NodeId = 2;
const other: NodeId = 3;

/** Builds entries in order: index and a stamp that grows by 10 ms each. */
class Log {
  private index = 0;
  timestampMs = 2000;

  entry(data: EntryData): LogEntry {
    this.index++;
    this.timestampMs += 10;
    return { index: this.index, term: 1, timestampMs: this.timestampMs, data };
  }

  create(owner: NodeId = self, overrides: Partial<CreateAuctionBody> = {}): LogEntry {
    const command: CreateAuctionBody = { ...createBody, ...overrides };
    return this.entry({ kind: "create", command, owner });
  }

  bid(
    bidder: string,
    amount: number,
    options: { max?: number; owner?: NodeId; epoch?: number } = {},
  ): LogEntry {
    const command: OwnerCommandBody = {
      type: "place-bid",
      auctionId: createBody.auctionId,
      bidder,
      bidId: `${bidder}-${amount}`,
      amount,
      max: options.max ?? null,
    };
    const owner = options.owner ?? self;
    return this.entry({ kind: "auction", command, owner, epoch: options.epoch ?? 1, ref: `r${this.index}` });
  }

  close(owner: NodeId = self, epoch = 1): LogEntry {
    const command: OwnerCommandBody = { type: "close-auction", auctionId: createBody.auctionId };
    return this.entry({ kind: "auction", command, owner, epoch, ref: `r${this.index}` });
  }

  assign(owner: NodeId, epoch: number): LogEntry {
    return this.entry({ kind: "assign", auctionId: createBody.auctionId, owner, epoch });
  }
}

/** Applies `batches` of entries, draining after each batch; returns every update. */
function run(
  batches: LogEntry[][],
  tracker = new UpdateTracker(self, "gavel"),
  state = new ClusterState(),
): { updates: AuctionUpdate[]; unknownFacts: number; state: ClusterState } {
  const updates: AuctionUpdate[] = [];
  let unknownFacts = 0;
  for (const batch of batches) {
    for (const entry of batch) tracker.record(entry, state.apply(entry));
    const drained = tracker.drain(state);
    updates.push(...drained.updates);
    unknownFacts += drained.unknownFacts;
  }
  return { updates, unknownFacts, state };
}

/** A run with a reserve, a proxy bid, a bid in the soft-close window (bid + extension) and a close. */
function scenario(): LogEntry[] {
  const log = new Log();
  const entries = [log.create(self, { reservePrice: 450, buyNowPrice: null })];
  entries.push(log.bid("bea", 120, { max: 400 }));
  entries.push(log.bid("cal", 150));
  log.timestampMs = 9_500; // inside the last second: the soft close extends by 1 s
  entries.push(log.bid("dan", 420));
  log.timestampMs = 20_000;
  entries.push(log.close());
  return entries;
}

describe("update tracker", () => {
  test("one entry per batch: consecutive versions and the facts after each entry", () => {
    const { updates, unknownFacts, state } = run(scenario().map((entry) => [entry]));
    assert.equal(unknownFacts, 0);
    const auction = state.book.get(createBody.auctionId)!;
    assert.deepEqual(
      updates.map((update) => [update.version, update.event]),
      [
        [1, "auction-created"],
        [2, "bid-accepted"],
        [3, "bid-accepted"],
        [4, "bid-accepted"],
        [5, "auction-extended"],
        [6, "auction-closed"],
      ],
    );
    assert.equal(updates[updates.length - 1]!.version, auction.version);
    assert.deepEqual(
      updates.map((update) => [update.price, update.highBidder, update.closesAt, update.phase]),
      [
        [null, null, 10_000, "active"],
        [120, "bea", 10_000, "active"],
        [160, "bea", 10_000, "active"], // bea's maximum outbids cal: price 150 + increment
        [420, "dan", 11_000, "active"], // the bid and its extension are one entry: same facts
        [420, "dan", 11_000, "active"],
        [420, "dan", 11_000, "closed"],
      ],
    );
    assert.deepEqual(updates[5]!.outcome, { result: "unsold", reason: "deadline", reserveMet: false });
    for (const update of updates) {
      assert.ok(auctionUpdateSchema.safeParse(update).success, "every update passes the wire schema");
      assert.equal(update.nodeId, self);
      assert.equal(update.clusterName, "gavel");
    }
  });

  test("however the entries are batched, the updates are the same", () => {
    const entries = scenario();
    const oneByOne = run(entries.map((entry) => [entry])).updates;
    assert.deepEqual(run([entries]).updates, oneByOne, "all in one batch");
    assert.deepEqual(run([entries.slice(0, 2), entries.slice(2)]).updates, oneByOne, "two batches");
    assert.deepEqual(
      run([entries.slice(0, 1), entries.slice(1, 4), entries.slice(4)]).updates,
      oneByOne,
      "three batches",
    );
  });

  test("only the owner's entries are published, but every event counts toward the versions", () => {
    const log = new Log();
    const entries = [
      log.create(other),
      log.bid("bea", 120, { owner: other }),
      log.assign(self, 2),
      log.bid("cal", 150, { owner: self, epoch: 2 }),
      log.bid("bea", 170, { owner: other, epoch: 1 }), // fenced: the old owner's late proposal
      log.bid("bea", 180, { owner: self, epoch: 2 }),
    ];
    const { updates, unknownFacts } = run([entries.slice(0, 3), entries.slice(3)]);
    assert.deepEqual(
      updates.map((update) => [update.version, update.price, update.highBidder]),
      [
        [3, 150, "cal"],
        [4, 180, "bea"],
      ],
    );
    assert.equal(unknownFacts, 0, "the new owner knew the facts from the old owner's events");
    const theOther = run([entries], new UpdateTracker(other, "gavel")).updates;
    assert.deepEqual(
      theOther.map((update) => update.version),
      [1, 2],
    );
  });

  test("after a restart, the first batch states only its last entry; later batches are exact again", () => {
    const entries = scenario();
    const state = new ClusterState();
    run([entries.slice(0, 2)], new UpdateTracker(self, "gavel"), state);
    // A new tracker over the same state: the node restarted and knows no facts.
    const restarted = new UpdateTracker(self, "gavel");
    const { updates, unknownFacts } = run([entries.slice(2, 4), entries.slice(4)], restarted, state);
    assert.equal(unknownFacts, 1, "cal's bid (version 3) cannot be stated");
    assert.deepEqual(
      updates.map((update) => [update.version, update.event, update.price]),
      [
        [4, "bid-accepted", 420],
        [5, "auction-extended", 420],
        [6, "auction-closed", 420],
      ],
    );
  });

  test("the reserve and the leader's maximum never appear", () => {
    const { updates } = run([scenario()]);
    const text = JSON.stringify(updates);
    assert.ok(!text.includes("450"), "the reserve amount");
    assert.ok(!text.includes("400"), "bea's maximum");
    assert.ok(!/reserve(Price)?"|leaderMax|"max"/.test(text), "no hidden field names");
  });
});
