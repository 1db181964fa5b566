// One contract for every Storage: the same save/load cases run against the simulator's
// MemoryStorage and the SQLite storage, and a differential test feeds both the same random changes,
// so the disk the simulator models and the disk the node uses cannot drift apart.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AssertionError } from "../../src/core/assert.js";
import type { Identity, PersistEffect, PersistedState } from "../../src/core/cluster/types.js";
import { SeededRandom } from "../../src/core/random.js";
import type { Storage } from "../../src/node/ports.js";
import { MemoryStorage } from "../../src/sim/memory-storage.js";
import { configEntry, makeTempDir, noopEntries, noopEntry, openTestDir, snapshotAt } from "./support.js";

/** A storage under test, with the identity it was opened with and a way to dispose of it. */
interface Subject {
  storage: Storage;
  identity: Identity;
  dispose(): void;
}

function openMemory(): Subject {
  const identity = { nodeId: 7, incarnation: "memory-incarnation" };
  return { storage: new MemoryStorage(identity), identity, dispose: () => {} };
}

function openSqlite(): Subject {
  const temp = makeTempDir();
  const { storage, identity } = openTestDir(temp.dir);
  return {
    storage,
    identity,
    dispose: () => {
      storage.close();
      temp.remove();
    },
  };
}

/** Runs `body` on a fresh subject and disposes of it afterwards, whatever happens. */
function using(open: () => Subject, body: (subject: Subject) => void): void {
  const subject = open();
  try {
    body(subject);
  } finally {
    subject.dispose();
  }
}

function saved(identity: Identity, fields: Partial<PersistedState>): PersistedState {
  return {
    identity,
    clusterId: null,
    hardState: { term: 0, votedFor: null },
    snapshot: null,
    entries: [],
    ...fields,
  };
}

function storageContract(name: string, open: () => Subject): void {
  describe(`Storage contract: ${name}`, () => {
    test("a node that never saved anything loads as fresh (null)", () => {
      using(open, ({ storage }) => assert.equal(storage.load(), null));
    });

    test("any first save, even an empty one, ends freshness with default state", () => {
      using(open, ({ storage, identity }) => {
        storage.save({ type: "persist" });
        assert.deepEqual(storage.load(), saved(identity, {}));
      });
    });

    test("the hard state round-trips and a later save replaces it", () => {
      using(open, ({ storage, identity }) => {
        storage.save({ type: "persist", hardState: { term: 3, votedFor: 5 } });
        assert.deepEqual(storage.load(), saved(identity, { hardState: { term: 3, votedFor: 5 } }));
        storage.save({ type: "persist", hardState: { term: 4, votedFor: null } });
        assert.deepEqual(storage.load()?.hardState, { term: 4, votedFor: null });
      });
    });

    test("the cluster id stays through saves that do not set it", () => {
      using(open, ({ storage }) => {
        storage.save({ type: "persist", clusterId: "c-1", hardState: { term: 1, votedFor: 7 } });
        storage.save({ type: "persist", hardState: { term: 2, votedFor: null } });
        assert.equal(storage.load()?.clusterId, "c-1");
      });
    });

    test("entries appended over several saves load in order, data and stamps intact", () => {
      using(open, ({ storage, identity }) => {
        const entries = [configEntry(1, 1, [7]), ...noopEntries(2, 3, 1), configEntry(4, 2, [5, 7])];
        storage.save({ type: "persist", entries: entries.slice(0, 2) });
        storage.save({ type: "persist", entries: entries.slice(2) });
        assert.deepEqual(storage.load(), saved(identity, { entries }));
      });
    });

    test("truncation comes before the append of the same change", () => {
      using(open, ({ storage }) => {
        storage.save({ type: "persist", entries: noopEntries(1, 5, 1) });
        storage.save({ type: "persist", truncateFrom: 3, entries: noopEntries(3, 4, 2) });
        assert.deepEqual(storage.load()?.entries, [...noopEntries(1, 2, 1), ...noopEntries(3, 4, 2)]);
      });
    });

    test("a snapshot with compaction keeps the trailing entries after the compacted index", () => {
      using(open, ({ storage }) => {
        storage.save({ type: "persist", entries: noopEntries(1, 10, 1) });
        storage.save({ type: "persist", snapshot: snapshotAt(8, 1), compactThrough: 5 });
        assert.deepEqual(storage.load()?.snapshot, snapshotAt(8, 1));
        assert.deepEqual(storage.load()?.entries, noopEntries(6, 10, 1));
      });
    });

    test("a later snapshot replaces the earlier one", () => {
      using(open, ({ storage }) => {
        storage.save({
          type: "persist",
          entries: noopEntries(1, 10, 1),
          snapshot: snapshotAt(4, 1, "first"),
        });
        storage.save({ type: "persist", snapshot: snapshotAt(9, 1, "second"), compactThrough: 9 });
        assert.deepEqual(storage.load()?.snapshot, snapshotAt(9, 1, "second"));
        assert.deepEqual(storage.load()?.entries, noopEntries(10, 10, 1));
      });
    });

    test("installing a snapshot past the log empties it; appends then follow the snapshot", () => {
      using(open, ({ storage }) => {
        storage.save({ type: "persist", entries: noopEntries(1, 10, 1) });
        storage.save({ type: "persist", truncateFrom: 21, snapshot: snapshotAt(20, 2), compactThrough: 20 });
        assert.deepEqual(storage.load()?.entries, []);
        storage.save({ type: "persist", entries: [noopEntry(21, 2)] });
        assert.deepEqual(storage.load()?.entries, [noopEntry(21, 2)]);
      });
    });

    test("one change with every field applies them in the documented order", () => {
      using(open, ({ storage, identity }) => {
        storage.save({ type: "persist", entries: noopEntries(1, 5, 1) });
        storage.save({
          type: "persist",
          truncateFrom: 4,
          entries: noopEntries(4, 6, 2),
          snapshot: snapshotAt(5, 2),
          compactThrough: 3,
          clusterId: "c-2",
          hardState: { term: 2, votedFor: 9 },
        });
        const expected = saved(identity, {
          clusterId: "c-2",
          hardState: { term: 2, votedFor: 9 },
          snapshot: snapshotAt(5, 2),
          entries: noopEntries(4, 6, 2),
        });
        assert.deepEqual(storage.load(), expected);
      });
    });

    test("compaction in the same change can drop the entries it appends", () => {
      using(open, ({ storage }) => {
        storage.save({ type: "persist", entries: noopEntries(1, 5, 1) });
        storage.save({
          type: "persist",
          entries: noopEntries(6, 7, 1),
          snapshot: snapshotAt(7, 1),
          compactThrough: 7,
        });
        assert.deepEqual(storage.load()?.entries, []);
        assert.equal(storage.load()?.snapshot?.index, 7);
      });
    });

    test("appended entries must follow the log: a gap, an overlap or a wrong start is a bug", () => {
      using(open, ({ storage }) => {
        assert.throws(() => storage.save({ type: "persist", entries: [noopEntry(2, 1)] }), AssertionError);
      });
      using(open, ({ storage }) => {
        storage.save({ type: "persist", entries: noopEntries(1, 3, 1) });
        assert.throws(() => storage.save({ type: "persist", entries: [noopEntry(5, 1)] }), AssertionError);
        assert.throws(() => storage.save({ type: "persist", entries: [noopEntry(3, 1)] }), AssertionError);
      });
      using(open, ({ storage }) => {
        storage.save({ type: "persist", entries: noopEntries(1, 2, 1) });
        const gapInside = [noopEntry(3, 1), noopEntry(5, 1)];
        assert.throws(() => storage.save({ type: "persist", entries: gapInside }), AssertionError);
      });
    });

    test("after compaction, appends continue from the last entry, not from the snapshot", () => {
      using(open, ({ storage }) => {
        storage.save({
          type: "persist",
          entries: noopEntries(1, 10, 1),
          snapshot: snapshotAt(8, 1),
          compactThrough: 5,
        });
        assert.throws(() => storage.save({ type: "persist", entries: [noopEntry(9, 1)] }), AssertionError);
        storage.save({ type: "persist", entries: [noopEntry(11, 1)] });
        assert.equal(storage.load()?.entries.at(-1)?.index, 11);
      });
    });

    test("load returns a copy: changing it changes nothing stored", () => {
      using(open, ({ storage }) => {
        storage.save({
          type: "persist",
          entries: [configEntry(1, 1, [7])],
          hardState: { term: 1, votedFor: 7 },
        });
        const before = storage.load();
        const loaded = storage.load();
        assert.ok(loaded !== null);
        loaded.hardState.term = 99;
        loaded.entries.pop();
        loaded.identity.nodeId = 99;
        assert.deepEqual(storage.load(), before);
      });
    });
  });
}

storageContract("MemoryStorage", openMemory);
storageContract("SqliteStorage", openSqlite);

// ---------------------------------------------------------------- differential

/** A random change that keeps the persist contract, given what is stored now. */
function randomChange(random: SeededRandom, state: PersistedState | null): PersistEffect {
  const change: PersistEffect = { type: "persist" };
  const base = state?.snapshot?.index ?? 0;
  let last = state?.entries.at(-1)?.index ?? base;
  const term = (state?.hardState.term ?? 0) + random.int(2);
  if (last > base && random.int(4) === 0) {
    change.truncateFrom = base + 1 + random.int(last - base);
    last = change.truncateFrom - 1;
  }
  if (random.int(2) === 0) {
    change.entries = noopEntries(last + 1, last + 1 + random.int(4), term);
    last += change.entries.length;
  }
  if (random.int(4) === 0) {
    const ahead = last === base || random.int(3) === 0;
    const index = ahead ? last + 1 + random.int(3) : base + 1 + random.int(last - base);
    change.snapshot = snapshotAt(index, term, `state-${index}`);
    change.compactThrough = ahead ? index : Math.max(1, index - random.int(3));
  }
  if (random.int(3) === 0)
    change.hardState = { term, votedFor: random.int(2) === 0 ? null : 1 + random.int(5) };
  if (random.int(8) === 0) change.clusterId = `cluster-${random.int(3)}`;
  return change;
}

describe("MemoryStorage and SqliteStorage agree", () => {
  test("on random sequences of changes, and after reopening the data dir", () => {
    for (let seed = 1; seed <= 8; seed++) {
      const random = new SeededRandom(seed);
      const temp = makeTempDir();
      try {
        const opened = openTestDir(temp.dir);
        const memory = new MemoryStorage(opened.identity);
        for (let step = 0; step < 30; step++) {
          const change = randomChange(random, memory.load());
          memory.save(change);
          opened.storage.save(change);
          const loaded = memory.load()!;
          assert.deepEqual(opened.storage.load(), loaded, `seed ${seed}, step ${step}`);
          // Both read back what they hold, from any index on (what a node reads of released entries).
          const first = loaded.entries[0]?.index ?? 1;
          for (let from = first; from <= (loaded.entries.at(-1)?.index ?? first) + 1; from++) {
            const expected = loaded.entries.filter((entry) => entry.index >= from).slice(0, 3);
            const where = `seed ${seed}, step ${step}, from ${from}`;
            assert.deepEqual(memory.readEntries(from, 3), expected, where);
            assert.deepEqual(opened.storage.readEntries(from, 3), expected, where);
          }
        }
        opened.storage.close();
        const reopened = openTestDir(temp.dir);
        assert.deepEqual(reopened.storage.load(), memory.load(), `seed ${seed}, after reopening`);
        reopened.storage.close();
      } finally {
        temp.remove();
      }
    }
  });
});

test("MemoryStorage reads back what was written before its fsync ends, and after a crash only what was on disk", () => {
  let fsyncEnds: (() => void)[] = [];
  const memory = new MemoryStorage({ nodeId: 1, incarnation: "i" }, (ends) => fsyncEnds.push(ends));
  memory.saveAll([{ type: "persist", entries: noopEntries(1, 3, 1) }]);
  memory.flushToDisk!(() => undefined);
  for (const end of fsyncEnds.splice(0)) end();
  memory.saveAll([{ type: "persist", entries: noopEntries(4, 5, 1) }]);
  assert.deepEqual(
    memory.readEntries(2, 10).map((entry) => entry.index),
    [2, 3, 4, 5],
    "written, whether or not on disk yet",
  );
  memory.crash();
  fsyncEnds = [];
  assert.deepEqual(
    memory.readEntries(2, 10).map((entry) => entry.index),
    [2, 3],
    "the crash lost what no fsync covered",
  );
  memory.saveAll([{ type: "persist", truncateFrom: 3, entries: noopEntries(3, 3, 2) }]);
  assert.deepEqual(
    memory.readEntries(1, 10).map((entry) => [entry.index, entry.term]),
    [
      [1, 1],
      [2, 1],
      [3, 2],
    ],
  );
});
