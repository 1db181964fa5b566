// The replicated state machine: applies entries with the leader's stamp, and a snapshot restores
// exactly the same state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClusterState } from "../../../src/core/cluster/state.js";
import type { LogEntry } from "../../../src/core/cluster/types.js";
import { auctionProposal, configEntry, votersConfig } from "./support.js";

function auctionEntry(index: number, timestampMs: number, command: LogEntry["data"]): LogEntry {
  return { index, term: 1, timestampMs, data: command };
}

test("entries apply in order, auction commands at the leader's stamp; a snapshot restores the same state", () => {
  const state = new ClusterState();
  state.apply(configEntry(1, 1, votersConfig([1, 2, 3])));
  state.apply(
    auctionEntry(2, 100, { kind: "auction", command: auctionProposal("r", "lamp").command.command }),
  );
  const bid = state.apply(
    auctionEntry(3, 250, {
      kind: "auction",
      command: { type: "place-bid", auctionId: "lamp", bidder: "ann", bidId: "b1", amount: 120, max: 200 },
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
    }),
  );
  assert.ok(
    repeat.kind === "auction" && repeat.outcome.ok && repeat.outcome.duplicate,
    "idempotency keys survive",
  );
});
