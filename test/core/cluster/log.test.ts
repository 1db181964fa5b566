// The in-memory log and the majority arithmetic.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RaftLog } from "../../../src/core/cluster/log.js";
import { hasMajority, majority, majorityMatch, median } from "../../../src/core/cluster/quorum.js";
import { noopEntry } from "./support.js";

test("the log appends without gaps, truncates suffixes, and compacts prefixes", () => {
  const log = new RaftLog();
  log.append([noopEntry(1, 1), noopEntry(2, 1), noopEntry(3, 2)]);
  assert.deepEqual([log.lastIndex(), log.lastTerm(), log.termAt(2), log.termAt(4)], [3, 2, 1, undefined]);
  assert.throws(() => log.append([noopEntry(5, 2)]), /without gaps/);
  log.truncateFrom(3);
  assert.equal(log.lastIndex(), 2);
  log.append([noopEntry(3, 3), noopEntry(4, 3)]);
  log.compactThrough(2);
  assert.deepEqual(
    [log.firstIndex(), log.termAt(2), log.termAt(1), log.entry(2)],
    [3, 1, undefined, undefined],
  );
  assert.deepEqual(
    log.slice(3, 10).map((entry) => entry.index),
    [3, 4],
  );
  assert.throws(() => log.truncateFrom(2), /compacted entry is committed/);
});

test("stamps never decrease along the log", () => {
  const log = new RaftLog();
  log.append([{ ...noopEntry(1, 1), timestampMs: 50 }]);
  assert.throws(() => log.append([{ ...noopEntry(2, 1), timestampMs: 49 }]), /stamps never decrease/);
});

test("Raft §5.4.1: up to date means a higher last term, or the same term and at least as long", () => {
  const log = RaftLog.restore(0, 0, 0, [noopEntry(1, 1), noopEntry(2, 2)]);
  assert.equal(log.isAtMostAsUpToDateAs(1, 3), true);
  assert.equal(log.isAtMostAsUpToDateAs(2, 2), true);
  assert.equal(log.isAtMostAsUpToDateAs(1, 2), false);
  assert.equal(log.isAtMostAsUpToDateAs(9, 1), false);
});

test("majorities, the majority-matched index, and the median", () => {
  assert.deepEqual([majority(1), majority(2), majority(3), majority(4), majority(5)], [1, 2, 2, 3, 3]);
  const match = new Map([
    [1, 9],
    [2, 4],
    [3, 7],
    [4, 2],
    [5, 7],
  ]);
  assert.equal(
    majorityMatch([1, 2, 3, 4, 5], (id) => match.get(id)!),
    7,
  );
  assert.equal(
    majorityMatch([1, 2], (id) => match.get(id)!),
    4,
  );
  assert.equal(
    hasMajority([1, 2, 3], (id) => id !== 3),
    true,
  );
  assert.equal(
    hasMajority([1, 2, 3, 4], (id) => id <= 2),
    false,
  );
  assert.deepEqual([median([3, 1, 2]), median([4, 1, 3, 2]), median([])], [2, 2.5, undefined]);
});
