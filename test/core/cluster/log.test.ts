// The in-memory log and the majority arithmetic.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RaftLog } from "../../../src/core/cluster/log.js";
import type { LogEntry } from "../../../src/core/cluster/types.js";
import { hasMajority, majority, majorityMatch, median } from "../../../src/core/cluster/quorum.js";
import { propertyParameters } from "../auction/property-helpers.js";
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

/** A storage for a windowed log: what the node wrote, as an array (the SQLite table in the node). */
class WrittenLog {
  entries: LogEntry[] = [];
  reads = 0;
  readEntries(from: number, max: number): LogEntry[] {
    this.reads++;
    const start = from - (this.entries[0]?.index ?? from);
    return start < 0 ? [] : this.entries.slice(start, start + max);
  }
  append(entries: LogEntry[]): void {
    this.entries.push(...entries);
  }
  truncateFrom(index: number): void {
    this.entries = this.entries.filter((entry) => entry.index < index);
  }
}

type LogOp =
  | { kind: "append"; count: number; termStep: number }
  | { kind: "truncate"; back: number }
  | { kind: "release"; back: number }
  | { kind: "compact"; back: number }
  | { kind: "reset" };

const logOp: fc.Arbitrary<LogOp> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      count: fc.integer({ min: 1, max: 6 }),
      termStep: fc.integer({ min: 0, max: 1 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("truncate" as const), back: fc.integer({ min: 0, max: 8 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("release" as const), back: fc.integer({ min: 0, max: 12 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("compact" as const), back: fc.integer({ min: 0, max: 12 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "reset" as const }) },
);

/** The log as a plain list: what a RaftLog must read as, however much of it is in memory. */
class ModelLog {
  entries: LogEntry[] = [];
  compacted = { index: 0, term: 0, timestampMs: 0 };
  last(): number {
    return this.entries.at(-1)?.index ?? this.compacted.index;
  }
  entry(index: number): LogEntry | undefined {
    return this.entries.find((entry) => entry.index === index);
  }
  termAt(index: number): number | undefined {
    return index === this.compacted.index ? this.compacted.term : this.entry(index)?.term;
  }
}

test("a log that releases applied entries to its storage reads as the whole list would", () => {
  fc.assert(
    fc.property(fc.array(logOp, { minLength: 1, maxLength: 60 }), (ops) => {
      const written = new WrittenLog();
      const log = new RaftLog(written);
      const model = new ModelLog();
      // What node.ts guarantees: only committed entries are released, and those are never truncated.
      let committed = 0;
      let term = 1;
      for (const op of ops) {
        const last = model.last();
        if (op.kind === "append") {
          term += op.termStep;
          const entries = Array.from({ length: op.count }, (_, k) => ({
            ...noopEntry(last + 1 + k, term),
            timestampMs: last + 1 + k,
          }));
          log.append(entries);
          model.entries.push(...entries);
          written.append(entries);
          committed = Math.max(committed, last + Math.floor(op.count / 2));
        } else if (op.kind === "truncate") {
          const from = Math.max(committed + 1, last - op.back);
          if (from > model.compacted.index && from <= last) {
            log.truncateFrom(from);
            model.entries = model.entries.filter((entry) => entry.index < from);
            written.truncateFrom(from);
          }
        } else if (op.kind === "release") {
          log.releaseThrough(Math.min(committed, last) - op.back);
        } else if (op.kind === "compact") {
          const through = Math.min(committed, last) - op.back;
          if (through > model.compacted.index) {
            log.compactThrough(through);
            const entry = model.entry(through)!;
            model.compacted = { index: through, term: entry.term, timestampMs: entry.timestampMs };
            model.entries = model.entries.filter((item) => item.index > through);
          }
        } else {
          const position = { index: last, term: model.termAt(last)!, timestampMs: last };
          log.resetTo(position.index, position.term, position.timestampMs);
          model.compacted = position;
          model.entries = [];
          written.entries = [];
          committed = last;
        }
        // Everything observable agrees, at every index around the log.
        const lastEntry = model.entries.at(-1);
        assert.deepEqual(
          [log.lastIndex(), log.lastTerm(), log.lastTimestampMs(), log.firstIndex()],
          [
            model.last(),
            lastEntry?.term ?? model.compacted.term,
            lastEntry?.timestampMs ?? model.compacted.timestampMs,
            model.compacted.index + 1,
          ],
        );
        for (let index = model.compacted.index - 1; index <= model.last() + 1; index++) {
          assert.equal(log.termAt(index), model.termAt(index), `term at ${index}`);
          assert.deepEqual(log.entry(index), model.entry(index), `entry ${index}`);
          if (index > model.compacted.index) {
            const rest = model.entries.filter((entry) => entry.index >= index);
            assert.deepEqual(log.slice(index, 5), rest.slice(0, 5), `slice from ${index}`);
          }
        }
      }
    }),
    propertyParameters(300),
  );
});

test("releasing keeps the last entry, needs a reader, and a missing entry in the storage is a bug", () => {
  const plain = RaftLog.restore(0, 0, 0, [noopEntry(1, 1), noopEntry(2, 1), noopEntry(3, 2)]);
  plain.releaseThrough(3);
  assert.equal(plain.firstHeldIndex(), 1, "without a reader nothing is released");
  const written = new WrittenLog();
  const log = RaftLog.restore(0, 0, 0, [noopEntry(1, 1), noopEntry(2, 1), noopEntry(3, 2)], written);
  log.releaseThrough(3);
  assert.deepEqual([log.firstHeldIndex(), log.lastTimestampMs(), written.reads], [3, 3, 0]);
  assert.throws(() => log.entry(1), /storage holds every released entry/);
  written.append([noopEntry(1, 1), noopEntry(2, 1), noopEntry(3, 2)]);
  assert.deepEqual(log.slice(1, 10), [noopEntry(1, 1), noopEntry(2, 1), noopEntry(3, 2)]);
  assert.equal(written.reads, 2, "the failed read and the slice's");
});
