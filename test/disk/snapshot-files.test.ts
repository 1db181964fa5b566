// Snapshots taken locally, in their own files: saveAll leaves their data off the event loop and
// out of SQLite, every crash point loads a consistent state, a version 1 data dir opens and loads
// as before, and an installed snapshot is durable with its save. The crash points are built
// directly (files written by hand, rows changed with raw SQL on a closed data dir).
// Cost: about 2 s, mostly writing and reading a few 12 MB snapshots.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import type { PersistEffect, PersistedState, Snapshot } from "../../src/core/cluster/types.js";
import { joinParts, takenSnapshot } from "../../src/core/cluster/taken-snapshot.js";
import { DataDirError } from "../../src/disk/errors.js";
import { schemaVersion } from "../../src/disk/schema.js";
import { databaseFileName } from "../../src/disk/sqlite-storage.js";
import { snapshotFileName, snapshotWritePace } from "../../src/disk/snapshot-files.js";
import { configEntry, makeTempDir, noopEntries, openTestDir, snapshotAt } from "./support.js";

/**
 * About 12 MB of snapshot data, with a character outside the BMP (a surrogate pair) straddling the
 * first 1 MiB boundary of the writer's chunks, and other non-ASCII text.
 */
function bigData(tag: string): string {
  const head = "a".repeat((1 << 20) - 1);
  return `${head}🦊${tag} nœud ${"0123456789".repeat(1_200_000)} ${tag}`;
}

function taken(snapshot: Snapshot, compactThrough: number): PersistEffect {
  return { type: "persist", snapshot, snapshotTaken: true, compactThrough };
}

function snapshotFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith("snapshot-"))
    .sort();
}

/** Bytes of the database and its WAL: what the main thread wrote into SQLite. */
function sqliteBytes(dir: string): number {
  const wal = join(dir, `${databaseFileName}-wal`);
  return statSync(join(dir, databaseFileName)).size + (existsSync(wal) ? statSync(wal).size : 0);
}

async function inTempDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  const temp = makeTempDir();
  try {
    await body(temp.dir);
  } finally {
    temp.remove();
  }
}

/** Entries 1..20 in term 1, and a taken snapshot at 10 (log compacted through 8), written and closed. */
async function withOldSnapshot(dir: string, data: string): Promise<PersistedState> {
  const { storage } = openTestDir(dir);
  storage.save({ type: "persist", clusterId: "c-1", hardState: { term: 1, votedFor: 7 } });
  storage.save({ type: "persist", entries: [configEntry(1, 1, [7]), ...noopEntries(2, 20, 1)] });
  storage.saveAll([taken(snapshotAt(10, 1, data), 8)]);
  await storage.snapshotsWritten();
  const state = storage.load();
  storage.close();
  assert.ok(state !== null);
  assert.equal(state.snapshot?.index, 10);
  assert.deepEqual(snapshotFiles(dir), [snapshotFileName(10, 1)]);
  return state;
}

function loadAndClose(dir: string): PersistedState | null {
  const { storage } = openTestDir(dir);
  try {
    return storage.load();
  } finally {
    storage.close();
  }
}

describe("Snapshot files: a taken snapshot", () => {
  test("leaves saveAll without its data in SQLite, then loads from its file", async () => {
    await inTempDir(async (dir) => {
      const { storage } = openTestDir(dir, { syncInBackground: true });
      storage.saveAll([
        { type: "persist", entries: noopEntries(1, 30, 1), hardState: { term: 1, votedFor: 7 } },
      ]);
      const before = sqliteBytes(dir);
      const snapshot = snapshotAt(25, 1, bigData("first"));
      assert.ok(snapshot.data.length > 10_000_000);
      storage.saveAll([taken(snapshot, 20)]);
      // Written later: SQLite did not receive the data, and the disk still holds the old state.
      assert.ok(sqliteBytes(dir) - before < 1_000_000, `SQLite grew by ${sqliteBytes(dir) - before} bytes`);
      assert.equal(storage.load()?.snapshot, null);
      assert.equal(storage.load()?.entries.length, 30);
      await storage.snapshotsWritten();
      assert.ok(sqliteBytes(dir) - before < 1_000_000, "the snapshot row names the file, without the data");
      const loaded = storage.load();
      assert.deepEqual(loaded?.snapshot, snapshot);
      assert.deepEqual(
        loaded?.entries.map((entry) => entry.index),
        noopEntries(21, 30, 1).map((entry) => entry.index),
      );
      storage.close();
      assert.deepEqual(snapshotFiles(dir), [snapshotFileName(25, 1)]);
      assert.deepEqual(loadAndClose(dir)?.snapshot, snapshot);
    });
  });

  test("given as parts (as a node takes it), is written from them and loads as their joined text", async () => {
    await inTempDir(async (dir) => {
      const { storage } = openTestDir(dir, { syncInBackground: true });
      storage.saveAll([
        { type: "persist", entries: noopEntries(1, 30, 1), hardState: { term: 1, votedFor: 7 } },
      ]);
      // Many small parts, a part longer than the writer's chunks, a surrogate pair at its 1 MiB
      // boundary, and non-ASCII text: the file must hold exactly the joined text.
      const parts = [
        ...Array.from({ length: 5000 }, (_, i) => `{"n":${i},"é":"ü"},`),
        bigData("parts"),
        ...Array.from({ length: 500 }, (_, i) => `"🦊${i}",`),
        () => `"made when read",`,
        "null",
      ];
      const fields = snapshotAt(25, 1);
      const snapshot = takenSnapshot(
        { index: fields.index, term: fields.term, timestampMs: fields.timestampMs, config: fields.config },
        parts,
      );
      assert.deepEqual(Object.keys(snapshot).sort(), ["config", "data", "index", "term", "timestampMs"]);
      assert.equal(snapshot.data, joinParts(parts));
      // The writer must not build the whole text: it never reads `data`.
      let reads = 0;
      const text = snapshot.data;
      Object.defineProperty(snapshot, "data", { enumerable: true, get: () => (reads++, text) });
      storage.saveAll([taken(snapshot, 20)]);
      await storage.snapshotsWritten();
      assert.equal(reads, 0, "the writer read the joined text");
      const loaded = storage.load();
      storage.close();
      assert.equal(loaded?.snapshot?.data, joinParts(parts));
      assert.deepEqual(loaded?.snapshot, snapshot);
    });
  });

  test("compacts a long log in steps, oldest first: the log loads contiguous at every step", async () => {
    await inTempDir(async (dir) => {
      const { storage } = openTestDir(dir, { syncInBackground: true });
      storage.saveAll([
        { type: "persist", entries: noopEntries(1, 20_000, 1), hardState: { term: 1, votedFor: 7 } },
      ]);
      storage.saveAll([taken(snapshotAt(19_000, 1), 18_000)]);
      let written = false;
      const writing = storage.snapshotsWritten().then(() => (written = true));
      const firsts: number[] = [];
      while (!written) {
        const entries = storage.load()!.entries;
        entries.forEach((entry, i) => assert.equal(entry.index, entries[0]!.index + i, "contiguous"));
        assert.equal(entries.at(-1)?.index, 20_000);
        firsts.push(entries[0]!.index);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await writing;
      assert.equal(storage.load()!.entries[0]?.index, 18_001);
      storage.close();
      assert.deepEqual(
        [...firsts].sort((a, b) => a - b),
        firsts,
        "oldest first",
      );
      assert.ok(
        new Set(firsts.filter((first) => first > 1)).size >= 2,
        `in steps: ${[...new Set(firsts)].join(",")}`,
      );
    });
  });

  test("is written at a bounded pace, so that it does not hold up the WAL's fsync", async () => {
    await inTempDir(async (dir) => {
      const { storage } = openTestDir(dir, { syncInBackground: true });
      storage.saveAll([
        { type: "persist", entries: noopEntries(1, 30, 1), hardState: { term: 1, votedFor: 7 } },
      ]);
      const data = bigData("paced");
      const startedAt = performance.now();
      storage.saveAll([taken(snapshotAt(25, 1, data), 20)]);
      await storage.snapshotsWritten();
      const elapsedMs = performance.now() - startedAt;
      storage.close();
      // Each flush waits until the bytes written so far are due: the last flush comes at least at
      // the pace of all the bytes before it.
      const { syncBytes, bytesPerSecond } = snapshotWritePace;
      const paced = Math.floor(Buffer.byteLength(data) / syncBytes) * syncBytes;
      const leastMs = (paced / bytesPerSecond) * 1000;
      assert.ok(elapsedMs >= leastMs * 0.95, `${Math.round(elapsedMs)} ms for ${paced} paced bytes`);
    });
  });

  test("the next taken snapshot replaces the file; of several waiting, only the newest is written", async () => {
    await inTempDir(async (dir) => {
      const { storage } = openTestDir(dir);
      storage.save({ type: "persist", entries: noopEntries(1, 40, 1), hardState: { term: 1, votedFor: 7 } });
      storage.saveAll([taken(snapshotAt(10, 1, bigData("10")), 5)]);
      storage.saveAll([taken(snapshotAt(20, 1, "twenty"), 15)]);
      storage.saveAll([taken(snapshotAt(30, 1, "thirty"), 25)]);
      await storage.snapshotsWritten();
      assert.deepEqual(storage.load()?.snapshot, snapshotAt(30, 1, "thirty"));
      assert.equal(storage.load()?.entries[0]?.index, 26);
      storage.close();
      // The 10 was being written when 20 and 30 came; 20 was skipped; 10's file is gone by the next open.
      assert.deepEqual(loadAndClose(dir)?.snapshot, snapshotAt(30, 1, "thirty"));
      assert.deepEqual(snapshotFiles(dir), [snapshotFileName(30, 1)]);
    });
  });

  test("a node stopped while the file is written keeps its old snapshot and full log", async () => {
    await inTempDir(async (dir) => {
      const old = await withOldSnapshot(dir, "old");
      const { storage } = openTestDir(dir);
      storage.saveAll([taken(snapshotAt(18, 1, bigData("new")), 15)]);
      storage.close();
      await storage.snapshotsWritten();
      assert.deepEqual(loadAndClose(dir), old);
      assert.deepEqual(snapshotFiles(dir), [snapshotFileName(10, 1)]);
    });
  });

  test("an installed snapshot saved while a taken one is written wins, and is in its row at once", async () => {
    await inTempDir(async (dir) => {
      await withOldSnapshot(dir, "old");
      const { storage } = openTestDir(dir, { syncInBackground: true });
      storage.saveAll([taken(snapshotAt(18, 1, bigData("taken")), 15)]);
      const installed = snapshotAt(40, 2, "installed");
      storage.saveAll([{ type: "persist", truncateFrom: 41, snapshot: installed, compactThrough: 40 }]);
      assert.deepEqual(storage.load()?.snapshot, installed);
      await storage.snapshotsWritten();
      assert.deepEqual(storage.load()?.snapshot, installed);
      assert.deepEqual(storage.load()?.entries, []);
      storage.close();
      assert.deepEqual(loadAndClose(dir)?.snapshot, installed);
      assert.deepEqual(snapshotFiles(dir), []);
    });
  });
});

describe("Snapshot files: every crash point loads a consistent state", () => {
  const newData = "the new snapshot 🦊";

  test("new file written but not renamed: the old snapshot and the full log; the temporary goes", async () => {
    await inTempDir(async (dir) => {
      const old = await withOldSnapshot(dir, "old");
      writeFileSync(join(dir, `${snapshotFileName(18, 1)}.tmp`), newData.slice(0, 5));
      assert.deepEqual(loadAndClose(dir), old);
      assert.deepEqual(snapshotFiles(dir), [snapshotFileName(10, 1)]);
    });
  });

  test("new file renamed, its row not committed: the old snapshot and the full log; the new file goes", async () => {
    await inTempDir(async (dir) => {
      const old = await withOldSnapshot(dir, "old");
      writeFileSync(join(dir, snapshotFileName(18, 1)), newData);
      assert.deepEqual(loadAndClose(dir), old);
      assert.deepEqual(snapshotFiles(dir), [snapshotFileName(10, 1)]);
    });
  });

  test("row committed, old file not yet deleted: the new snapshot and the compacted log; the old file goes", async () => {
    await inTempDir(async (dir) => {
      const old = await withOldSnapshot(dir, "old");
      const name = snapshotFileName(18, 1);
      writeFileSync(join(dir, name), newData);
      commitRow(dir, snapshotAt(18, 1, newData), name, Buffer.byteLength(newData), 15);
      const loaded = loadAndClose(dir);
      assert.deepEqual(loaded?.snapshot, snapshotAt(18, 1, newData));
      assert.deepEqual(
        loaded?.entries,
        old.entries.filter((entry) => entry.index > 15),
      );
      assert.deepEqual(snapshotFiles(dir), [name]);
    });
  });

  test("a named file missing or cut short is corruption, and nothing is deleted", async () => {
    await inTempDir(async (dir) => {
      await withOldSnapshot(dir, "old");
      const name = snapshotFileName(18, 1);
      commitRow(dir, snapshotAt(18, 1, newData), name, Buffer.byteLength(newData), 15);
      assertCorrupt(dir, name);
      writeFileSync(join(dir, name), newData.slice(0, 4));
      assertCorrupt(dir, name);
      assert.deepEqual(snapshotFiles(dir), [snapshotFileName(10, 1), name]);
    });
  });
});

describe("Snapshot files: other data dirs", () => {
  test("a version 1 data dir with its snapshot in the row opens, migrates and loads the same state", async () => {
    await inTempDir(async (dir) => {
      const snapshot = snapshotAt(6, 2, bigData("v1"));
      writeVersion1(dir, snapshot);
      const { storage } = openTestDir(dir);
      const loaded = storage.load();
      assert.deepEqual(loaded?.snapshot, snapshot);
      assert.deepEqual(loaded?.hardState, { term: 2, votedFor: 7 });
      assert.deepEqual(
        loaded?.entries.map((entry) => entry.index),
        [5, 6, 7, 8],
      );
      // Then a taken snapshot moves the data to a file, as in a new data dir.
      storage.saveAll([taken(snapshotAt(8, 2, "eight"), 7)]);
      await storage.snapshotsWritten();
      storage.close();
      assert.deepEqual(loadAndClose(dir)?.snapshot, snapshotAt(8, 2, "eight"));
      const db = new Database(join(dir, databaseFileName), { readonly: true });
      try {
        assert.equal(db.prepare("SELECT version FROM schema_version").pluck().get(), schemaVersion);
      } finally {
        db.close();
      }
    });
  });

  test("an installed snapshot is on disk once saveAll and flushToDisk complete", async () => {
    await inTempDir(async (dir) => {
      await withOldSnapshot(dir, "old");
      const { storage } = openTestDir(dir, { syncInBackground: true });
      const installed = snapshotAt(30, 2, bigData("installed"));
      storage.saveAll([{ type: "persist", truncateFrom: 31, snapshot: installed, compactThrough: 30 }]);
      const error = await new Promise<Error | null>((resolve) => storage.flushToDisk!(resolve));
      assert.equal(error, null);
      // What the disk holds now, while the node still runs (no close, no checkpoint): a copy opens with it.
      const copy = `${dir}-copy`;
      try {
        copyDataDir(dir, copy);
        storage.close();
        const loaded = loadAndClose(copy);
        assert.deepEqual(loaded?.snapshot, installed);
        assert.deepEqual(loaded?.entries, []);
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    });
  });
});

/** Commits, as the storage would after writing the file, a row naming `name` and the compaction. */
function commitRow(
  dir: string,
  snapshot: Snapshot,
  name: string,
  bytes: number,
  compactThrough: number,
): void {
  const db = new Database(join(dir, databaseFileName));
  try {
    db.transaction(() => {
      db.prepare(
        "UPDATE snapshot SET snapshot_index = ?, term = ?, timestamp_ms = ?, config = ?, data = NULL, " +
          "file_name = ?, file_bytes = ? WHERE one = 1",
      ).run(
        snapshot.index,
        snapshot.term,
        snapshot.timestampMs,
        JSON.stringify(snapshot.config),
        name,
        bytes,
      );
      db.prepare("DELETE FROM log_entries WHERE entry_index <= ?").run(compactThrough);
    })();
  } finally {
    db.close();
  }
}

function assertCorrupt(dir: string, name: string): void {
  assert.throws(
    () => openTestDir(dir),
    (error: unknown) => {
      assert.ok(error instanceof DataDirError, String(error));
      assert.equal(error.code, "data-dir-corrupt");
      assert.ok(error.message.includes(name), error.message);
      return true;
    },
  );
}

/** A data dir as gavel wrote it with schema version 1: the snapshot's data in its row. */
function writeVersion1(dir: string, snapshot: Snapshot): void {
  const db = new Database(join(dir, databaseFileName));
  try {
    db.pragma("journal_mode = WAL");
    db.exec(`
      CREATE TABLE schema_version (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL) STRICT;
      CREATE TABLE identity (one INTEGER PRIMARY KEY CHECK (one = 1), cluster_name TEXT NOT NULL,
        node_id INTEGER NOT NULL CHECK (node_id > 0), incarnation TEXT NOT NULL) STRICT;
      CREATE TABLE hard_state (one INTEGER PRIMARY KEY CHECK (one = 1), cluster_id TEXT,
        term INTEGER NOT NULL CHECK (term >= 0), voted_for INTEGER) STRICT;
      CREATE TABLE log_entries (entry_index INTEGER PRIMARY KEY CHECK (entry_index > 0), term INTEGER NOT NULL,
        timestamp_ms REAL NOT NULL, data TEXT NOT NULL) STRICT;
      CREATE TABLE snapshot (one INTEGER PRIMARY KEY CHECK (one = 1),
        snapshot_index INTEGER NOT NULL CHECK (snapshot_index > 0), term INTEGER NOT NULL,
        timestamp_ms REAL NOT NULL, config TEXT NOT NULL, data TEXT NOT NULL) STRICT;
      INSERT INTO schema_version VALUES (1, 1);
      INSERT INTO identity VALUES (1, 'gavel-test', 7, 'incarnation-v1');
      INSERT INTO hard_state VALUES (1, 'c-1', 2, 7);
    `);
    const insert = db.prepare("INSERT INTO log_entries VALUES (?, ?, ?, ?)");
    for (const entry of noopEntries(5, 8, 2))
      insert.run(entry.index, entry.term, entry.timestampMs, JSON.stringify(entry.data));
    db.prepare("INSERT INTO snapshot VALUES (1, ?, ?, ?, ?, ?)").run(
      snapshot.index,
      snapshot.term,
      snapshot.timestampMs,
      JSON.stringify(snapshot.config),
      snapshot.data,
    );
  } finally {
    db.close();
  }
}

/**
 * Copies the database, its WAL and snapshot files: the data dir as a power cut would leave it (page
 * cache included). A file the storage deletes meanwhile (one no row names any more, unlinked in the
 * background) is left out, as the cut could have found it gone.
 */
function copyDataDir(from: string, to: string): void {
  mkdirSync(to);
  for (const name of readdirSync(from)) {
    try {
      copyFileSync(join(from, name), join(to, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
}
