// Batching, as the driver runs a node: the appends and owner proposals of a batch of steps leave
// together at endBatch(), one message where each step would have sent its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  append,
  bidRequest,
  leaderInSync,
  createCommand,
  createRequest,
  member,
  message,
  sentOfType,
} from "./support.js";
import type { EntryData, Input, LogEntry } from "../../../src/core/cluster/types.js";

test("a batching leader sends the entries of a whole batch in one append per follower", () => {
  const { leader, start } = leaderInSync(true);
  const steps = ["a1", "a2", "a3"].flatMap((id) => leader.step(createRequest(id)));
  assert.deepEqual(sentOfType(steps, "append"), [], "nothing leaves before the batch ends");
  const appends = sentOfType(leader.endBatch(), "append");
  assert.deepEqual(
    appends.map((item) => [item.to, item.prevIndex, item.entries.length]),
    [
      [1, start, 3],
      [2, start, 3],
    ],
  );
});

test("a batching owner proposes the bids of a whole batch, on several auctions, in one message", () => {
  const creations: LogEntry[] = ["lamp", "vase"].map((auctionId, offset) => ({
    index: 2 + offset,
    term: 1,
    timestampMs: 10,
    data: { kind: "create", command: createCommand(auctionId), owner: 1 },
  }));
  const owner = member({ id: 1, batching: true, nowMs: 100 });
  owner.step({ type: "message", message: message(3, 1, 1, append(1, 1, creations, 3)) });
  owner.endBatch();
  assert.equal(owner.status().appliedIndex, 3);
  const steps = [owner.step(bidRequest("b1", "lamp")), owner.step(bidRequest("b2", "vase"))].flat();
  assert.deepEqual(sentOfType(steps, "owner-proposal"), [], "nothing leaves before the batch ends");
  const proposals = sentOfType(owner.endBatch(), "owner-proposal");
  assert.equal(proposals.length, 1);
  assert.equal(proposals[0]!.to, 3);
  assert.deepEqual(
    proposals[0]!.entries.map((entry) => (entry.kind === "auction" ? entry.command.auctionId : entry.kind)),
    ["lamp", "vase"],
  );
});

test("without batching the same steps send at once", () => {
  const { leader } = leaderInSync();
  const steps = ["a1", "a2"].flatMap((id) => leader.step(createRequest(id)));
  assert.equal(sentOfType(steps, "append").filter((item) => item.entries.length > 0).length, 4);
});

test("commands queued behind a batch in flight are decided together, each against the ones before it, and the committed state is untouched until they commit", () => {
  const creation: LogEntry = {
    index: 2,
    term: 1,
    timestampMs: 10,
    data: { kind: "create", command: createCommand("lamp"), owner: 1 },
  };
  const owner = member({ id: 1, batching: true, nowMs: 100 });
  owner.step({ type: "message", message: message(3, 1, 1, append(1, 1, [creation], 2)) });
  owner.endBatch();
  const bid = (requestId: string, bidder: string, amount: number, bidId = requestId): Input => ({
    type: "request",
    requestId,
    request: {
      kind: "auction",
      command: { type: "place-bid", auctionId: "lamp", bidder, bidId, amount, max: null },
    },
  });
  owner.step(bid("r1", "ann", 200));
  const first = sentOfType(owner.endBatch(), "owner-proposal");
  assert.equal(first.length, 1, "the first bid goes at once");
  // While it is in flight: a higher bid, one that only its batch-mate makes too low, and a repeat.
  for (const input of [bid("r2", "bob", 300), bid("r3", "cat", 305), bid("r4", "bob", 300, "r2")])
    owner.step(input);
  assert.deepEqual(sentOfType(owner.endBatch(), "owner-proposal"), [], "queued behind the batch in flight");
  const entry = (index: number, data: EntryData): LogEntry => ({ index, term: 1, timestampMs: 200, data });
  owner.step({
    type: "message",
    message: message(3, 1, 1, append(2, 1, [entry(3, first[0]!.entries[0]!)], 3)),
  });
  const proposals = sentOfType(owner.endBatch(), "owner-proposal");
  assert.deepEqual(
    proposals.flatMap((proposal) =>
      proposal.entries.map((data) =>
        data.kind === "auction" && data.command.type === "place-bid" ? data.command.bidId : "?",
      ),
    ),
    ["r2"],
    "cat's bid is below what bob's makes the minimum (held for it), bob's repeat joins bob's bid",
  );
  assert.equal(owner.applied.book.get("lamp")!.price, 200, "the committed state has ann's bid only");
  assert.equal(owner.applied.book.get("lamp")!.accepted.size, 1);
});
