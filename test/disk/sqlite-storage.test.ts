// The SQLite storage beyond the shared contract: durability pragmas, identity minted once and kept,
// reopening, atomic saves, the save-latency hook, and every way a data dir is refused. Each test
// works in its own temp dir; raw SQL is used only to damage a closed data dir on purpose.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import { AssertionError } from "../../src/core/assert.js";
import { DataDirError } from "../../src/disk/errors.js";
import type { DataDirErrorCode } from "../../src/disk/errors.js";
import { databaseFileName, generatedNodeIdMax, openDataDir } from "../../src/disk/sqlite-storage.js";
import { clusterName, configEntry, makeTempDir, noopEntries, openTestDir, snapshotAt } from "./support.js";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Runs `body` with a fresh temp dir and removes it afterwards. */
function inTempDir(body: (dir: string) => void): void {
  const temp = makeTempDir();
  try {
    body(temp.dir);
  } finally {
    temp.remove();
  }
}

/** Asserts that `open` throws a DataDirError with `code` whose message names `path`. */
function assertRefused(open: () => unknown, code: DataDirErrorCode, path: string): void {
  assert.throws(open, (error: unknown) => {
    assert.ok(error instanceof DataDirError, `expected a DataDirError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.ok(error.message.includes(path), `the message names ${path}: ${error.message}`);
    return true;
  });
}

/** Saves a little of everything into a new data dir and closes it. */
function populate(dir: string): void {
  const { storage } = openTestDir(dir);
  storage.save({ type: "persist", clusterId: "c-1", hardState: { term: 2, votedFor: 7 } });
  storage.save({ type: "persist", entries: [configEntry(1, 1, [7]), ...noopEntries(2, 10, 2)] });
  storage.save({ type: "persist", snapshot: snapshotAt(6, 2), compactThrough: 4 });
  storage.close();
}

/** File system requests in flight on libuv's thread pool (an fsync among them). */
function fsRequests(): string[] {
  return process.getActiveResourcesInfo().filter((kind) => kind === "FSReqCallback");
}

/**
 * Waits until no file system request is in flight: every fsync asked has then run its callback (a
 * request leaves the active list after its callback returns).
 */
async function fileSystemRequestsDone(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (fsRequests().length > 0) {
    assert.ok(Date.now() < deadline, "the fsyncs never completed");
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** What node 7's closed data dir holds, opened again with background sync. */
function reloaded(dir: string) {
  const { storage } = openDataDir({ dir, clusterName, nodeId: 7, syncInBackground: true });
  try {
    return storage.load();
  } finally {
    storage.close();
  }
}

/** Runs `sql` on the closed data dir's database, bypassing every check. */
function damage(dir: string, sql: string): void {
  const db = new Database(join(dir, databaseFileName));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe("SqliteStorage: opening a data dir", () => {
  test("creates a missing directory and runs with WAL, synchronous=FULL and an exclusive lock", () => {
    inTempDir((dir) => {
      const { storage } = openTestDir(join(dir, "nested", "node-7401"));
      try {
        assert.deepEqual(storage.durability(), {
          journalMode: "wal",
          synchronous: 2,
          lockingMode: "exclusive",
        });
      } finally {
        storage.close();
      }
    });
  });

  test("mints the identity once and keeps it across reopening", () => {
    inTempDir((dir) => {
      const first = openDataDir({ dir, clusterName, generateNodeId: () => 4242 });
      first.storage.close();
      assert.equal(first.created, true);
      assert.equal(first.identity.nodeId, 4242);
      assert.match(first.identity.incarnation, uuidPattern);
      const again = openDataDir({ dir, clusterName, generateNodeId: () => 1 });
      again.storage.close();
      assert.equal(again.created, false);
      assert.deepEqual(again.identity, first.identity);
      const withId = openDataDir({ dir, clusterName, nodeId: 4242 });
      withId.storage.close();
      assert.deepEqual(withId.identity, first.identity);
    });
  });

  test("a generated node id is a positive integer in the documented range", () => {
    inTempDir((dir) => {
      const { storage, identity } = openDataDir({ dir, clusterName });
      storage.close();
      assert.ok(Number.isSafeInteger(identity.nodeId));
      assert.ok(identity.nodeId >= 1 && identity.nodeId <= generatedNodeIdMax);
    });
  });

  test("a node that saved nothing stays fresh across reopening but keeps its identity", () => {
    inTempDir((dir) => {
      const first = openTestDir(dir);
      first.storage.close();
      const again = openTestDir(dir);
      assert.equal(again.storage.load(), null);
      assert.deepEqual(again.identity, first.identity);
      again.storage.close();
    });
  });

  test("reopening after close returns everything saved", () => {
    inTempDir((dir) => {
      populate(dir);
      const { storage, identity } = openTestDir(dir);
      assert.deepEqual(storage.load(), {
        identity,
        clusterId: "c-1",
        hardState: { term: 2, votedFor: 7 },
        snapshot: snapshotAt(6, 2),
        entries: noopEntries(5, 10, 2),
      });
      storage.close();
    });
  });
});

describe("SqliteStorage: saving", () => {
  test("a save that breaks the contract rolls back as a whole", () => {
    inTempDir((dir) => {
      const { storage } = openTestDir(dir);
      storage.save({
        type: "persist",
        entries: noopEntries(1, 3, 1),
        hardState: { term: 1, votedFor: null },
      });
      const before = storage.load();
      const broken = { truncateFrom: 2, entries: [...noopEntries(2, 2, 2), ...noopEntries(4, 4, 2)] };
      assert.throws(
        () => storage.save({ type: "persist", ...broken, hardState: { term: 2, votedFor: 7 } }),
        AssertionError,
      );
      assert.deepEqual(storage.load(), before);
      storage.close();
    });
  });

  test("reports the duration of every committed save", () => {
    inTempDir((dir) => {
      const durationsMs: number[] = [];
      const { storage } = openTestDir(dir, { onSaveMs: (ms) => durationsMs.push(ms) });
      storage.save({ type: "persist", entries: noopEntries(1, 1, 1) });
      storage.save({ type: "persist", hardState: { term: 1, votedFor: 7 } });
      storage.close();
      assert.equal(durationsMs.length, 2);
      assert.ok(durationsMs.every((ms) => Number.isFinite(ms) && ms >= 0));
    });
  });
});

describe("SqliteStorage: refusing a data dir", () => {
  test("another --id than the stored one", () => {
    inTempDir((dir) => {
      populate(dir);
      assertRefused(() => openTestDir(dir, { nodeId: 8 }), "data-dir-node-id-mismatch", dir);
      const { storage } = openTestDir(dir);
      assert.equal(storage.load()?.entries.length, 6, "the data is untouched");
      storage.close();
    });
  });

  test("a data dir of another cluster", () => {
    inTempDir((dir) => {
      populate(dir);
      assertRefused(() => openTestDir(dir, { clusterName: "other" }), "data-dir-other-cluster", dir);
    });
  });

  test("a gavel.db that is not a SQLite database, left byte for byte as it was", () => {
    inTempDir((dir) => {
      const file = join(dir, databaseFileName);
      const garbage = Buffer.from("not a database, just text. ".repeat(200));
      writeFileSync(file, garbage);
      assertRefused(() => openTestDir(dir), "data-dir-corrupt", file);
      assert.deepEqual(readFileSync(file), garbage);
    });
  });

  test("a database whose pages were overwritten", () => {
    inTempDir((dir) => {
      const { storage } = openTestDir(dir);
      for (let index = 1; index <= 400; index += 100) {
        storage.save({ type: "persist", entries: noopEntries(index, index + 99, 1) });
      }
      storage.close();
      const file = join(dir, databaseFileName);
      const bytes = readFileSync(file);
      const pageBytes = bytes.readUInt16BE(16);
      bytes.fill(0xa5, pageBytes * 3, pageBytes * 6);
      writeFileSync(file, bytes);
      assertRefused(() => openTestDir(dir), "data-dir-corrupt", file);
    });
  });

  test("a log with a gap", () => {
    inTempDir((dir) => {
      populate(dir);
      damage(dir, "DELETE FROM log_entries WHERE entry_index = 8");
      assertRefused(() => openTestDir(dir), "data-dir-corrupt", dir);
    });
  });

  test("a log that does not follow the snapshot", () => {
    inTempDir((dir) => {
      populate(dir);
      damage(dir, "DELETE FROM log_entries WHERE entry_index <= 7");
      assertRefused(() => openTestDir(dir), "data-dir-corrupt", dir);
    });
  });

  test("an unknown schema version", () => {
    inTempDir((dir) => {
      populate(dir);
      damage(dir, "UPDATE schema_version SET version = 99");
      assertRefused(() => openTestDir(dir), "data-dir-corrupt", dir);
    });
  });

  test("a missing table", () => {
    inTempDir((dir) => {
      populate(dir);
      damage(dir, "DROP TABLE snapshot");
      assertRefused(() => openTestDir(dir), "data-dir-corrupt", dir);
    });
  });

  test("a SQLite database of some other program, left byte for byte as it was", () => {
    inTempDir((dir) => {
      damage(dir, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')");
      const file = join(dir, databaseFileName);
      const before = readFileSync(file);
      assertRefused(() => openTestDir(dir), "data-dir-corrupt", dir);
      assert.deepEqual(readFileSync(file), before);
    });
  });

  test("an entry whose data is not JSON, when loading", () => {
    inTempDir((dir) => {
      populate(dir);
      damage(dir, "UPDATE log_entries SET data = '{not json' WHERE entry_index = 9");
      const { storage } = openTestDir(dir);
      try {
        assertRefused(() => storage.load(), "data-dir-corrupt", dir);
      } finally {
        storage.close();
      }
    });
  });

  test("a data dir another process (or connection) holds open", () => {
    inTempDir((dir) => {
      const { storage } = openTestDir(dir);
      try {
        assertRefused(() => openTestDir(dir), "data-dir-in-use", dir);
      } finally {
        storage.close();
      }
      openTestDir(dir).storage.close();
    });
  });

  test("a data dir path that is a file, and a gavel.db that is a directory", () => {
    inTempDir((dir) => {
      const notADirectory = join(dir, "file");
      writeFileSync(notADirectory, "");
      assertRefused(() => openTestDir(notADirectory), "data-dir-unreadable", notADirectory);
      const holder = join(dir, "holder");
      mkdirSync(join(holder, databaseFileName), { recursive: true });
      assertRefused(() => openTestDir(holder), "data-dir-unreadable", holder);
    });
  });
});

describe("SqliteStorage: syncing in the background", () => {
  test("commits with synchronous=NORMAL, fsyncs the WAL off the event loop, and reopens with every save", async () => {
    const temp = makeTempDir();
    try {
      const writes: number[] = [];
      const opened = openDataDir({
        dir: temp.dir,
        clusterName,
        nodeId: 7,
        syncInBackground: true,
        onSaveMs: (ms) => writes.push(ms),
      });
      const storage = opened.storage;
      assert.equal(storage.durability().synchronous, 1);
      assert.ok(storage.flushToDisk !== undefined);
      storage.saveAll([{ type: "persist", clusterId: "c-1", hardState: { term: 3, votedFor: 7 } }]);
      storage.saveAll([{ type: "persist", entries: [configEntry(1, 3, [7]), ...noopEntries(2, 5, 3)] }]);
      assert.deepEqual(writes, [], "the latency is measured to the fsync");
      const error = await new Promise<Error | null>((resolve) => storage.flushToDisk!(resolve));
      assert.equal(error, null);
      assert.equal(writes.length, 1);
      storage.close();
      const loaded = reloaded(temp.dir);
      assert.deepEqual(loaded?.hardState, { term: 3, votedFor: 7 });
      assert.deepEqual(
        loaded?.entries.map((entry) => entry.index),
        [1, 2, 3, 4, 5],
      );
      // A data dir written in the background opens as usual with synchronous=FULL, and back.
      const full = openDataDir({ dir: temp.dir, clusterName, nodeId: 7 });
      assert.equal(full.storage.durability().synchronous, 2);
      assert.equal(full.storage.flushToDisk, undefined);
      full.storage.close();
    } finally {
      temp.remove();
    }
  });

  test("unsafeNoFsyncWait answers a flush before its fsync ends; the flushes asked meanwhile share the next fsync", async () => {
    const temp = makeTempDir();
    try {
      const fsyncs: number[] = [];
      const { storage } = openDataDir({
        dir: temp.dir,
        clusterName,
        nodeId: 7,
        syncInBackground: true,
        unsafeNoFsyncWait: true,
        onSaveMs: (ms) => fsyncs.push(ms),
      });
      storage.saveAll([{ type: "persist", clusterId: "c-1", hardState: { term: 3, votedFor: 7 } }]);
      // How many fsyncs had ended when each flush was answered.
      const endedAtAnswer: number[] = [];
      const flush = () =>
        new Promise<Error | null>((resolve) =>
          storage.flushToDisk!((error) => {
            endedAtAnswer.push(fsyncs.length);
            resolve(error);
          }),
        );
      const answers: Promise<Error | null>[] = [flush()];
      for (let index = 1; index <= 4; index++) {
        const entries = index === 1 ? [configEntry(1, 3, [7])] : noopEntries(index, index, 3);
        storage.saveAll([{ type: "persist", entries }]);
        answers.push(flush());
      }
      assert.deepEqual(await Promise.all(answers), [null, null, null, null, null]);
      assert.deepEqual(endedAtAnswer, [0, 0, 0, 0, 0], "every flush is answered before any fsync ended");
      await fileSystemRequestsDone();
      assert.ok(
        fsyncs.length >= 1 && fsyncs.length <= 2,
        `five flushes, ${fsyncs.length} fsyncs (one running, one after)`,
      );
      storage.close();
      const loaded = reloaded(temp.dir);
      assert.deepEqual(loaded?.hardState, { term: 3, votedFor: 7 });
      assert.deepEqual(
        loaded?.entries.map((entry) => entry.index),
        [1, 2, 3, 4],
      );
    } finally {
      temp.remove();
    }
  });

  test("unsafeNoFsync answers a flush after a turn of the event loop, with no fsync", async () => {
    const temp = makeTempDir();
    try {
      const { storage } = openDataDir({
        dir: temp.dir,
        clusterName,
        nodeId: 7,
        syncInBackground: true,
        unsafeNoFsync: true,
      });
      storage.saveAll([{ type: "persist", clusterId: "c-1", hardState: { term: 3, votedFor: 7 } }]);
      const seen = await new Promise<number>((resolve) =>
        storage.flushToDisk!(() => resolve(fsRequests().length)),
      );
      assert.equal(seen, 0, "no fsync is asked");
      storage.close();
    } finally {
      temp.remove();
    }
  });

  test("a flush that completes after close calls nobody", async () => {
    const temp = makeTempDir();
    try {
      const { storage } = openDataDir({ dir: temp.dir, clusterName, nodeId: 7, syncInBackground: true });
      storage.saveAll([{ type: "persist", hardState: { term: 1, votedFor: null } }]);
      let called = false;
      storage.flushToDisk!(() => (called = true));
      storage.close();
      await fileSystemRequestsDone();
      assert.equal(called, false);
    } finally {
      temp.remove();
    }
  });
});
