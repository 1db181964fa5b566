// The stream's ring of recent events: it keeps at least the last ringMax events, trims in steps, and
// answers "resync" (null) for an index older than what it kept, never a list with a gap.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventFeed } from "../../src/api/stream.js";
import type { ApplyResult, ClusterState } from "../../src/core/cluster/state.js";
import type { LogEntry } from "../../src/core/cluster/types.js";

/** Applies entry `index` as an assignment, which yields one "reassigned" event. */
function applyAssign(feed: EventFeed, index: number): void {
  const entry = { index, term: 1 } as unknown as LogEntry;
  const result = {
    kind: "assign",
    applied: true,
    auctionId: `a${index}`,
    assignment: { owner: 1, epoch: index },
  } as unknown as ApplyResult;
  feed.onApplied(entry, result, {} as ClusterState);
}

test("the ring keeps at least ringMax events and answers resync, never a gap, for older indexes", () => {
  const ringMax = 16;
  const feed = new EventFeed(ringMax);
  feed.startAt(0);
  for (let index = 1; index <= 1000; index++) {
    applyAssign(feed, index);
    // The last ringMax events are always there, in order, without a gap.
    const recent = feed.since(Math.max(0, index - ringMax));
    assert.ok(recent !== null, `index ${index}: the last ${ringMax} events are kept`);
    assert.deepEqual(
      recent.map((item) => item.index),
      Array.from({ length: Math.min(ringMax, index) }, (_, k) => index - Math.min(ringMax, index) + 1 + k),
    );
  }
  // Far behind: resync. Just behind what was kept: either all events after it, or resync.
  assert.equal(feed.since(0), null);
  for (let index = 900; index <= 1000; index++) {
    const items = feed.since(index);
    if (items === null) continue;
    assert.deepEqual(
      items.map((item) => item.index),
      Array.from({ length: 1000 - index }, (_, k) => index + 1 + k),
    );
  }
});
