// The node's durable state in a data directory: one SQLite database (WAL journal, synchronous=FULL)
// holding the node's identity, term, vote, cluster id, log and snapshot, and beside it the data of
// a snapshot taken locally, in its own file written off the event loop. It applies each persist
// effect in one transaction and returns only once it is committed (a taken snapshot and its
// compaction follow in a later one, once the file is on disk); it never repairs, rewrites or
// discards data it cannot trust, and stops with a DataDirError instead.
import { randomInt, randomUUID } from "node:crypto";
import { closeSync, fsync, fsyncSync, mkdirSync, openSync, unlink } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { assert } from "../core/assert.js";
import type {
  ClusterConfig,
  EntryData,
  Identity,
  LogEntry,
  LogIndex,
  NodeId,
  PersistEffect,
  PersistedState,
  Snapshot,
} from "../core/cluster/types.js";
import type { Storage } from "../node/ports.js";
import {
  DataDirCorruptError,
  DataDirError,
  DataDirInUseError,
  DataDirNodeIdMismatchError,
  DataDirOtherClusterError,
  DataDirUnreadableError,
  DataDirUnsupportedError,
  DataDirWriteError,
} from "./errors.js";
import {
  checkLog,
  checkSchema,
  createSchema,
  isEmpty,
  migrateFromVersion1,
  schemaVersion,
} from "./schema.js";
import {
  checkSnapshotFile,
  deleteUnnamedSnapshotFiles,
  errorCode,
  readSnapshotFile,
  snapshotFileName,
  temporaryFileName,
  writeSnapshotFile,
} from "./snapshot-files.js";
import type { IdentityRow } from "./schema.js";

/** The database file inside a data directory. */
export const databaseFileName = "gavel.db";

/** Generated node ids are integers in [1, generatedNodeIdMax]: positive, and short enough to read and type. */
export const generatedNodeIdMax = 2 ** 31 - 1;

/** Log rows a taken snapshot's compaction deletes per transaction (see compactInSteps). */
const compactRowsPerStep = 4096;

export interface DataDirOptions {
  /** The data directory; created (with its parents) if missing. */
  dir: string;
  /** The cluster this node belongs to; a data dir minted for another cluster is refused. */
  clusterName: string;
  /** The node id given by the operator; when absent, the stored one, or a generated one on first start. */
  nodeId?: NodeId;
  /** Mints a node id when none is given or stored; tests inject a fixed one. Default: random in [1, generatedNodeIdMax]. */
  generateNodeId?: () => NodeId;
  /** Called after every committed save with its duration in milliseconds (the SQLite write latency metric). */
  onSaveMs?: (ms: number) => void;
  /**
   * Commits without waiting for the disk (synchronous=NORMAL) and fsyncs the WAL off the event loop
   * in flushToDisk, which the driver awaits before anything that depends on a batch leaves; `save`
   * (recovery at start) still returns only once on disk. Off (the default): synchronous=FULL, every
   * commit fsynced before it returns.
   */
  syncInBackground?: boolean;
  /**
   * With syncInBackground: flushToDisk returns without an fsync of the WAL (`gavel node
   * --unsafe-no-fsync`, for measuring what durability costs). Commits still reach the OS page cache
   * before anything that depends on them leaves, so a killed process loses nothing, but an OS crash
   * or power cut loses what the OS had not yet written: acknowledged bids included.
   */
  unsafeNoFsync?: boolean;
  /**
   * With syncInBackground: flushToDisk answers at once (as with unsafeNoFsync) while the WAL is still
   * fsynced behind it, one fsync at a time, the flushes asked during one sharing the next (`gavel node
   * --unsafe-no-fsync-wait`, for measuring what waiting for the fsync costs: the most a node that
   * stepped on while its fsync ran could gain). A killed process loses nothing; an OS crash or power
   * cut loses what was acknowledged before the fsync that covers it ended.
   */
  unsafeNoFsyncWait?: boolean;
}

/**
 * How a storage with background sync answers flushToDisk: once its fsync of the WAL ends (the only
 * safe mode), at once with the fsync still run behind it, or at once with no fsync at all.
 */
export type FsyncMode = "awaited" | "unawaited" | "never";

export interface OpenedDataDir {
  storage: SqliteStorage;
  /** Who this node is. `storage.load()` is null until the first save, so the caller takes identity from here. */
  identity: Identity;
  /** True when this call minted the identity (a new data dir). */
  created: boolean;
}

/** The durability settings in force on the connection, as SQLite reports them. */
export interface DurabilitySettings {
  journalMode: string;
  /** 2 is FULL: every commit is fsynced before it returns. */
  synchronous: number;
  lockingMode: string;
}

/**
 * Opens (or creates) a data directory and checks it before anything is written: SQLite integrity,
 * schema version, identity against the options, the shape of the log, then the durability pragmas.
 * Throws a DataDirError with an actionable message when any check fails; nothing is changed in that
 * case. The database stays locked to this process until `close()`, so two nodes never share it.
 */
export function openDataDir(options: DataDirOptions): OpenedDataDir {
  assert(options.clusterName.length > 0, "the cluster name is not empty");
  if (options.nodeId !== undefined) assert(isNodeId(options.nodeId), "node ids are positive safe integers");
  const file = join(options.dir, databaseFileName);
  makeDirectory(options.dir);
  const db = openDatabase(file);
  try {
    lock(db);
    checkIntegrity(db, file);
    const stored = isEmpty(db) ? null : checkStored(db, file, options);
    const background = options.syncInBackground ?? false;
    configure(db, file, background);
    const namedFile = stored === null ? null : checkSnapshotFiles(db, file, options.dir);
    if (stored !== null && stored.version !== schemaVersion) migrateFromVersion1(db);
    deleteUnnamedSnapshotFiles(options.dir, namedFile);
    const identity = stored?.identity ?? mintIdentity(db, options);
    const storage = new SqliteStorage(db, file, options.dir, identity, namedFile, {
      background,
      fsync: fsyncMode(options),
      ...(options.onSaveMs === undefined ? {} : { onSaveMs: options.onSaveMs }),
    });
    return { storage, identity, created: stored === null };
  } catch (error) {
    db.close();
    throw translate(error, file);
  }
}

function fsyncMode(options: DataDirOptions): FsyncMode {
  if (options.unsafeNoFsync === true) return "never";
  return options.unsafeNoFsyncWait === true ? "unawaited" : "awaited";
}

/** A taken snapshot waiting for its file to be written, and the compaction that follows it. */
interface TakenSnapshot {
  snapshot: Snapshot;
  compactThrough: LogIndex | undefined;
  /** The installed-snapshot count when it was saved: if that changed, a newer snapshot replaced it. */
  epoch: number;
}

/**
 * Storage over one SQLite connection; obtain it from openDataDir, which checks the data dir first.
 *
 * A snapshot taken locally (`snapshotTaken`) is saved in steps, so that the data dir always loads
 * as either the old snapshot with the full log or the new one with the log compacted through some
 * index up to the one asked: its data goes to a temporary file on libuv's thread pool, fsynced and
 * renamed into place (the directory fsynced); only then does one transaction name the file in the
 * snapshot row; the file it replaced is deleted once that is on disk; then the log's rows are
 * deleted oldest first, a few thousand per transaction. A crash before the row's transaction
 * leaves a file no row names, which the next open deletes. One such write is in flight
 * at a time; a newer taken snapshot waiting behind it replaces an older one, and an installed
 * snapshot (written in its save's transaction, data in the row) cancels both.
 */
export class SqliteStorage implements Storage {
  private readonly statements: Statements;
  private readonly applyInTransaction: (changes: readonly PersistEffect[]) => void;
  private readonly onSaveMs: ((ms: number) => void) | undefined;
  private readonly background: boolean;
  /** See DataDirOptions.unsafeNoFsync and unsafeNoFsyncWait (used with background sync only). */
  private readonly fsyncMode: FsyncMode;
  /** Unawaited fsyncs: one is running, and flushes were asked since it began (the next covers them). */
  private fsyncRunning = false;
  private fsyncAgain = false;

  /** The snapshot file the last committed snapshot row names, or null when the row holds the data or there is none. */
  private namedFile: string | null;
  /** Files no committed row names any more, deleted once the next fsync of the WAL makes that durable. */
  private filesUnnamed: string[] = [];
  /** Bumped by every save of an installed snapshot: a taken snapshot saved earlier is then stale. */
  private installedCount = 0;
  /** The taken snapshot to write next (only the newest waits). */
  private takenWaiting: TakenSnapshot | null = null;
  /** The loop writing taken snapshots, while one runs. */
  private writing: Promise<void> | null = null;
  /** A failed snapshot file write: fatal like any failed write, reported by the next save or flush. */
  private writeFailure: DataDirWriteError | null = null;

  /** Background sync: the WAL file, opened at the first flush. */
  private walFd: number | null = null;
  /** Background sync: when the oldest save not yet on disk was written. */
  private unsyncedSinceMs: number | null = null;
  private closed = false;
  readonly flushToDisk?: (done: (error: Error | null) => void) => void;

  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
    private readonly dir: string,
    private readonly identity: Identity,
    namedFile: string | null,
    options: { background: boolean; fsync?: FsyncMode; onSaveMs?: (ms: number) => void },
  ) {
    this.namedFile = namedFile;
    this.background = options.background;
    this.fsyncMode = options.fsync ?? "awaited";
    this.onSaveMs = options.onSaveMs;
    this.statements = prepareStatements(db);
    const statements = this.statements;
    this.applyInTransaction = db.transaction((changes: readonly PersistEffect[]) => {
      for (const change of changes) applyChange(statements, change);
    });
    if (this.background) this.flushToDisk = (done) => this.fsyncWal(done);
  }

  /** Everything saved so far, or null when nothing but the identity was ever saved (a fresh node). */
  load(): PersistedState | null {
    // One connection holding an exclusive lock: nothing changes between these reads.
    const hard = this.statements.selectHardState.get();
    if (hard === undefined) return null;
    const snapshot = this.statements.selectSnapshot.get();
    return {
      identity: { ...this.identity },
      clusterId: hard.cluster_id,
      hardState: { term: hard.term, votedFor: hard.voted_for },
      snapshot: snapshot === undefined ? null : this.toSnapshot(snapshot),
      entries: this.statements.selectEntries.all().map((row) => this.toEntry(row)),
    };
  }

  /**
   * The log entries from `from` on, at most `max`, as saved (this connection reads its own
   * transactions, fsynced or not): the node reads back those it no longer keeps in memory.
   */
  readEntries(from: LogIndex, max: number): LogEntry[] {
    return this.statements.selectEntriesFrom.all(from, max).map((row) => this.toEntry(row));
  }

  /**
   * Applies `change` in one transaction, in the order PersistEffect documents, and returns once it
   * is committed and fsynced. A broken contract (entries with a gap or overlap) is a bug: it rolls
   * the whole change back and throws an AssertionError. A failed write throws DataDirWriteError,
   * which the node must treat as fatal.
   */
  save(change: PersistEffect): void {
    this.saveAll([change]);
    if (this.background) {
      try {
        fsyncSync(this.wal());
      } catch (error) {
        throw new DataDirWriteError(this.file, `fsync: ${errorCode(error)}`, { cause: error });
      }
      this.unsyncedSinceMs = null;
    }
  }

  /**
   * Applies `changes` in order, in one transaction with one fsync: the node's batch of steps. A
   * taken snapshot and its compaction are left out, and written later (see the class comment).
   */
  saveAll(changes: readonly PersistEffect[]): void {
    if (changes.length === 0) return;
    if (this.writeFailure !== null) throw this.writeFailure;
    const startMs = performance.now();
    const { now, taken } = splitTaken(changes);
    const installs = now.some((change) => change.snapshot !== undefined);
    try {
      this.applyInTransaction(now);
    } catch (error) {
      if (!(error instanceof Database.SqliteError)) throw error;
      throw new DataDirWriteError(this.file, `${error.code}: ${error.message}`, { cause: error });
    }
    if (installs) this.installed();
    if (taken !== null) this.queueTaken(taken);
    if (this.background) this.unsyncedSinceMs ??= startMs;
    else this.onSaveMs?.(performance.now() - startMs);
  }

  /** Resolves once no taken snapshot is being written or waits to be (for tests and tools). */
  async snapshotsWritten(): Promise<void> {
    while (this.writing !== null) await this.writing;
  }

  /** An installed snapshot's row replaced whatever was there: taken snapshots saved before it are stale. */
  private installed(): void {
    this.installedCount++;
    this.takenWaiting = null;
    if (this.namedFile !== null) this.unnamed(this.namedFile);
    this.namedFile = null;
  }

  private queueTaken(taken: Omit<TakenSnapshot, "epoch">): void {
    this.takenWaiting = { ...taken, epoch: this.installedCount };
    this.writing ??= this.writeTakenSnapshots();
  }

  /** Writes taken snapshots one at a time, the newest waiting one next, until none waits. */
  private async writeTakenSnapshots(): Promise<void> {
    try {
      while (this.takenWaiting !== null && !this.closed) {
        const taken = this.takenWaiting;
        this.takenWaiting = null;
        await this.writeTaken(taken);
      }
    } catch (error) {
      if (!this.closed) {
        this.writeFailure =
          error instanceof DataDirWriteError
            ? error
            : new DataDirWriteError(this.file, `snapshot file: ${errorCode(error)}`, { cause: error });
      }
    } finally {
      this.writing = null;
    }
  }

  /** The file on disk first, then the row naming it, then the replaced file goes, then the compaction. */
  private async writeTaken(taken: TakenSnapshot): Promise<void> {
    const { snapshot } = taken;
    const name = snapshotFileName(snapshot.index, snapshot.term);
    const stale = () => this.closed || taken.epoch !== this.installedCount;
    const bytes = await writeSnapshotFile(this.dir, name, snapshot.parts ?? snapshot.data, stale);
    if (this.closed) return;
    if (bytes === null || stale()) {
      this.unnamed(temporaryFileName(name));
      return this.unnamed(name);
    }
    const replaced = this.namedFile;
    try {
      this.commitTaken(taken, name, bytes);
    } catch (error) {
      if (!(error instanceof Database.SqliteError)) throw error;
      throw new DataDirWriteError(this.file, `${error.code}: ${error.message}`, { cause: error });
    }
    this.namedFile = name;
    if (replaced !== null && replaced !== name) this.unnamed(replaced);
    // With synchronous=NORMAL the row is durable only once the WAL is fsynced; the replaced file
    // must stay until then (and files unnamed by saves after this fsync began, until a later one).
    const unnamed = this.filesUnnamed.splice(0);
    if (this.background) await this.fsyncWalNow();
    if (!this.closed) this.deleteUnnamed(unnamed);
    if (taken.compactThrough !== undefined) await this.compactInSteps(taken.compactThrough, stale);
  }

  /**
   * Deletes the log rows through `through`, oldest first, compactRowsPerStep per transaction with
   * the event loop free in between: one DELETE of 100,000 rows held it for tens of milliseconds.
   * The snapshot row that covers them is committed first, and each step leaves a contiguous log
   * with fewer entries compacted, which is valid at any crash; the next batch's fsync makes the
   * steps durable. An installed snapshot (which compacts the log itself) or close() stops it.
   */
  private async compactInSteps(through: LogIndex, stale: () => boolean): Promise<void> {
    for (;;) {
      if (stale()) return;
      const first = this.statements.firstEntryIndex.get() ?? null;
      if (first === null || first > through) return;
      try {
        this.statements.compactThrough.run(Math.min(through, first + compactRowsPerStep - 1));
      } catch (error) {
        if (!(error instanceof Database.SqliteError)) throw error;
        throw new DataDirWriteError(this.file, `${error.code}: ${error.message}`, { cause: error });
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private fsyncWalNow(): Promise<void> {
    const fd = this.wal();
    return new Promise((resolve, reject) => {
      fsync(fd, (error) => {
        if (error === null || this.closed) return resolve();
        reject(new DataDirWriteError(this.file, `fsync: ${error.code}`, { cause: error }));
      });
    });
  }

  private commitTaken(taken: TakenSnapshot, name: string, bytes: number): void {
    const { snapshot, compactThrough } = taken;
    assert(
      compactThrough === undefined || compactThrough <= snapshot.index,
      "compaction never passes the snapshot",
    );
    this.statements.replaceSnapshot.run(toSnapshotRow(snapshot, { name, bytes }));
  }

  /** `name` is named by no committed row any more: delete it once that is durable. */
  private unnamed(name: string): void {
    this.filesUnnamed.push(name);
    if (!this.background) this.deleteUnnamed();
  }

  /** Deletes the files of `filesUnnamed` (all of whose unnaming is on disk by now). */
  private deleteUnnamed(names = this.filesUnnamed.splice(0)): void {
    for (const name of names) {
      // A file that stays (the node stopped, a failed unlink) is deleted by the next open.
      unlink(join(this.dir, name), () => undefined);
    }
  }

  /**
   * Background sync: fsyncs the WAL on libuv's thread pool. With synchronous=NORMAL a commit is in
   * the WAL file (page cache) when saveAll returns, and SQLite syncs the WAL itself before any
   * checkpoint copies it into the database, so this fsync makes every commit written before it
   * durable. The write latency metric then measures from the first unsynced save to the fsync.
   * The unsafe modes answer after a turn of the event loop instead (see FsyncMode).
   */
  private fsyncWal(done: (error: Error | null) => void): void {
    let fd: number;
    try {
      fd = this.wal();
    } catch (error) {
      return done(new DataDirWriteError(this.file, `open WAL: ${errorCode(error)}`, { cause: error }));
    }
    if (this.writeFailure !== null) return done(this.writeFailure);
    if (this.fsyncMode === "never") {
      const since = this.unsyncedSinceMs ?? performance.now();
      this.unsyncedSinceMs = null;
      const unnamed = this.filesUnnamed.splice(0);
      return void setImmediate(() => {
        if (this.closed) return;
        this.deleteUnnamed(unnamed);
        this.onSaveMs?.(performance.now() - since);
        done(null);
      });
    }
    if (this.fsyncMode === "awaited") return this.fsyncOnce(fd, done);
    if (this.fsyncRunning) this.fsyncAgain = true;
    else this.fsyncBehind(fd);
    setImmediate(() => {
      if (!this.closed) done(this.writeFailure);
    });
  }

  /** Unawaited sync: one fsync after another while flushes keep being asked; a failure is kept as fatal. */
  private fsyncBehind(fd: number): void {
    this.fsyncRunning = true;
    this.fsyncAgain = false;
    this.fsyncOnce(fd, (error) => {
      this.fsyncRunning = false;
      if (error !== null) this.writeFailure ??= error;
      else if (this.fsyncAgain) this.fsyncBehind(fd);
    });
  }

  /** One fsync of the WAL, covering every save before it; then the files those saves unnamed go. */
  private fsyncOnce(fd: number, done: (error: DataDirWriteError | null) => void): void {
    const since = this.unsyncedSinceMs ?? performance.now();
    this.unsyncedSinceMs = null;
    const unnamed = this.filesUnnamed.splice(0);
    fsync(fd, (error) => {
      // Closed meanwhile (the node stopped): nothing waits for this any more.
      if (this.closed) return;
      if (error !== null)
        return done(new DataDirWriteError(this.file, `fsync: ${error.code}`, { cause: error }));
      this.deleteUnnamed(unnamed);
      this.onSaveMs?.(performance.now() - since);
      done(null);
    });
  }

  private wal(): number {
    this.walFd ??= openSync(`${this.file}-wal`, "r");
    return this.walFd;
  }

  /** The durability pragmas in force, for tests and the startup log. */
  durability(): DurabilitySettings {
    return readDurability(this.db);
  }

  /** Closes the database and releases its lock; the storage is unusable afterwards. */
  close(): void {
    this.closed = true;
    this.db.close();
    if (this.walFd !== null) closeSync(this.walFd);
    this.walFd = null;
  }

  private toEntry(row: EntryRow): LogEntry {
    const data = parseJson(row.data, this.file, `log entry ${row.entry_index}`) as EntryData;
    return { index: row.entry_index, term: row.term, timestampMs: row.timestamp_ms, data };
  }

  private toSnapshot(row: SnapshotRow): Snapshot {
    const config = parseJson(row.config, this.file, "the snapshot's configuration") as ClusterConfig;
    return {
      index: row.snapshot_index,
      term: row.term,
      timestampMs: row.timestamp_ms,
      config,
      data: row.data ?? readSnapshotFile(this.dir, row.file_name!, row.file_bytes!, this.file),
    };
  }
}

// ---------------------------------------------------------------- saving

interface HardStateRow {
  cluster_id: string | null;
  term: number;
  voted_for: number | null;
}

interface EntryRow {
  entry_index: number;
  term: number;
  timestamp_ms: number;
  data: string;
}

/** Invariant (a CHECK in the schema): exactly one of data and file_name is set; file_bytes with file_name. */
interface SnapshotRow {
  snapshot_index: number;
  term: number;
  timestamp_ms: number;
  config: string;
  data: string | null;
  file_name: string | null;
  file_bytes: number | null;
}

type Statements = ReturnType<typeof prepareStatements>;

function prepareStatements(db: Database.Database) {
  return {
    ensureHardState: db.prepare<[]>(
      "INSERT OR IGNORE INTO hard_state (one, cluster_id, term, voted_for) VALUES (1, NULL, 0, NULL)",
    ),
    selectHardState: db.prepare<[], HardStateRow>(
      "SELECT cluster_id, term, voted_for FROM hard_state WHERE one = 1",
    ),
    setHardState: db.prepare<[number, number | null]>(
      "UPDATE hard_state SET term = ?, voted_for = ? WHERE one = 1",
    ),
    setClusterId: db.prepare<[string]>("UPDATE hard_state SET cluster_id = ? WHERE one = 1"),
    truncateFrom: db.prepare<[number]>("DELETE FROM log_entries WHERE entry_index >= ?"),
    compactThrough: db.prepare<[number]>("DELETE FROM log_entries WHERE entry_index <= ?"),
    insertEntry: db.prepare<[EntryRow]>(
      "INSERT INTO log_entries (entry_index, term, timestamp_ms, data) " +
        "VALUES (@entry_index, @term, @timestamp_ms, @data)",
    ),
    selectEntries: db.prepare<[], EntryRow>(
      "SELECT entry_index, term, timestamp_ms, data FROM log_entries ORDER BY entry_index",
    ),
    selectEntriesFrom: db.prepare<[number, number], EntryRow>(
      "SELECT entry_index, term, timestamp_ms, data FROM log_entries WHERE entry_index >= ? " +
        "ORDER BY entry_index LIMIT ?",
    ),
    lastEntryIndex: db.prepare<[], number | null>("SELECT MAX(entry_index) FROM log_entries").pluck(),
    firstEntryIndex: db.prepare<[], number | null>("SELECT MIN(entry_index) FROM log_entries").pluck(),
    snapshotIndex: db.prepare<[], number>("SELECT snapshot_index FROM snapshot WHERE one = 1").pluck(),
    replaceSnapshot: db.prepare<[SnapshotRow]>(
      "INSERT OR REPLACE INTO snapshot (one, snapshot_index, term, timestamp_ms, config, data, file_name, file_bytes) " +
        "VALUES (1, @snapshot_index, @term, @timestamp_ms, @config, @data, @file_name, @file_bytes)",
    ),
    selectSnapshot: db.prepare<[], SnapshotRow>(
      "SELECT snapshot_index, term, timestamp_ms, config, data, file_name, file_bytes FROM snapshot WHERE one = 1",
    ),
  };
}

/** The body of one save transaction, in PersistEffect's order; the first save creates the hard state row. */
function applyChange(statements: Statements, change: PersistEffect): void {
  statements.ensureHardState.run();
  if (change.truncateFrom !== undefined) statements.truncateFrom.run(change.truncateFrom);
  appendEntries(statements, change.entries ?? []);
  if (change.snapshot !== undefined) statements.replaceSnapshot.run(toSnapshotRow(change.snapshot));
  if (change.compactThrough !== undefined) statements.compactThrough.run(change.compactThrough);
  if (change.clusterId !== undefined) statements.setClusterId.run(change.clusterId);
  if (change.hardState !== undefined) {
    statements.setHardState.run(change.hardState.term, change.hardState.votedFor);
  }
}

function appendEntries(statements: Statements, entries: LogEntry[]): void {
  if (entries.length === 0) return;
  let last = statements.lastEntryIndex.get() ?? statements.snapshotIndex.get() ?? 0;
  for (const entry of entries) {
    // Same contract as MemoryStorage: the log stays contiguous.
    assert(entry.index === last + 1, "persisted entries follow the log without gap or overlap");
    statements.insertEntry.run({
      entry_index: entry.index,
      term: entry.term,
      timestamp_ms: entry.timestampMs,
      data: JSON.stringify(entry.data),
    });
    last = entry.index;
  }
}

/**
 * The row of a snapshot: with its data (an installed one), or naming the file that holds it (a
 * taken one; its data is then not read, so a taken snapshot's parts are never joined here).
 */
function toSnapshotRow(snapshot: Snapshot, file: { name: string; bytes: number } | null = null): SnapshotRow {
  return {
    snapshot_index: snapshot.index,
    term: snapshot.term,
    timestamp_ms: snapshot.timestampMs,
    config: JSON.stringify(snapshot.config),
    data: file === null ? snapshot.data : null,
    file_name: file?.name ?? null,
    file_bytes: file?.bytes ?? null,
  };
}

/**
 * Splits a batch into what its transaction writes now and the taken snapshot written later: the
 * last taken snapshot of the batch with its compaction, unless an installed snapshot follows it.
 */
function splitTaken(changes: readonly PersistEffect[]): {
  now: PersistEffect[];
  taken: Omit<TakenSnapshot, "epoch"> | null;
} {
  let taken: Omit<TakenSnapshot, "epoch"> | null = null;
  const now = changes.map((change) => {
    if (change.snapshot === undefined) return change;
    if (change.snapshotTaken !== true) {
      taken = null;
      return change;
    }
    const { snapshot, compactThrough, snapshotTaken: _taken, ...rest } = change;
    taken = { snapshot, compactThrough };
    return rest;
  });
  return { now, taken };
}

function parseJson(text: string, file: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DataDirCorruptError(file, `${what} does not hold valid JSON`, { cause: error });
  }
}

// ---------------------------------------------------------------- opening

function isNodeId(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new DataDirUnreadableError(dir, `cannot create the directory (${errorCode(error)})`, {
      cause: error,
    });
  }
}

function openDatabase(file: string): Database.Database {
  try {
    // No busy timeout: the only other holder of the lock can be another process, which keeps it.
    return new Database(file, { timeout: 0 });
  } catch (error) {
    throw translate(error, file);
  }
}

/**
 * Takes the database for this process until close, before the first read: in exclusive locking
 * mode the WAL index lives in process memory, and a second process cannot open the database at all.
 */
function lock(db: Database.Database): void {
  db.pragma("locking_mode = EXCLUSIVE");
  db.exec("BEGIN EXCLUSIVE; COMMIT");
}

/** Sets and verifies the pragmas durability rests on; the first write to a new file happens here. */
function configure(db: Database.Database, file: string, background: boolean): void {
  db.pragma("journal_mode = WAL");
  db.pragma(background ? "synchronous = NORMAL" : "synchronous = FULL");
  const settings = readDurability(db);
  if (settings.lockingMode !== "exclusive") {
    throw new DataDirUnsupportedError(file, "locking_mode", "exclusive", settings.lockingMode);
  }
  if (settings.journalMode !== "wal") {
    throw new DataDirUnsupportedError(file, "journal_mode", "wal", settings.journalMode);
  }
  if (settings.synchronous !== (background ? 1 : 2)) {
    const expected = background ? "1 (NORMAL, with an fsync of the WAL per batch)" : "2 (FULL)";
    throw new DataDirUnsupportedError(file, "synchronous", expected, settings.synchronous);
  }
}

function readDurability(db: Database.Database): DurabilitySettings {
  return {
    journalMode: db.pragma("journal_mode", { simple: true }) as string,
    synchronous: db.pragma("synchronous", { simple: true }) as number,
    lockingMode: db.pragma("locking_mode", { simple: true }) as string,
  };
}

function checkIntegrity(db: Database.Database, file: string): void {
  const problems = (db.pragma("integrity_check") as { integrity_check: string }[]).map(
    (row) => row.integrity_check,
  );
  if (problems.length === 1 && problems[0] === "ok") return;
  throw new DataDirCorruptError(file, `SQLite's integrity check failed: ${problems.slice(0, 3).join("; ")}`);
}

/** Checks an existing database (schema, identity against the options, log); returns its identity and schema version. */
function checkStored(
  db: Database.Database,
  file: string,
  options: DataDirOptions,
): { identity: Identity; version: number } {
  const row = checkSchema(db, file);
  if (row.cluster_name !== options.clusterName) {
    throw new DataDirOtherClusterError(options.dir, row.cluster_name, options.clusterName);
  }
  if (options.nodeId !== undefined && options.nodeId !== row.node_id) {
    throw new DataDirNodeIdMismatchError(options.dir, row.node_id, options.nodeId);
  }
  checkLog(db, file);
  return { identity: { nodeId: row.node_id, incarnation: row.incarnation }, version: row.version };
}

/** Checks that the snapshot file the row names (if any) is there, whole; returns its name. */
function checkSnapshotFiles(db: Database.Database, file: string, dir: string): string | null {
  const row = db.prepare("SELECT * FROM snapshot WHERE one = 1").get() as Partial<SnapshotRow> | undefined;
  const name = row?.file_name ?? null;
  if (name === null) return null;
  checkSnapshotFile(dir, name, row?.file_bytes ?? 0, file);
  return name;
}

/** Creates the schema with a new identity in one transaction: the given node id or a generated one, and a new incarnation. */
function mintIdentity(db: Database.Database, options: DataDirOptions): Identity {
  const row: IdentityRow = {
    cluster_name: options.clusterName,
    node_id: options.nodeId ?? generateNodeId(options),
    incarnation: randomUUID(),
  };
  db.transaction(() => createSchema(db, row))();
  return { nodeId: row.node_id, incarnation: row.incarnation };
}

function generateNodeId(options: DataDirOptions): NodeId {
  const nodeId = options.generateNodeId?.() ?? randomInt(1, generatedNodeIdMax + 1);
  assert(isNodeId(nodeId), "generated node ids are positive safe integers");
  return nodeId;
}

/** Turns SQLite's errors about the file into DataDirErrors; anything else passes through unchanged. */
function translate(error: unknown, file: string): unknown {
  if (error instanceof DataDirError || !(error instanceof Database.SqliteError)) return error;
  const code = error.code;
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) {
    return new DataDirCorruptError(file, `SQLite cannot read it (${code}: ${error.message})`, {
      cause: error,
    });
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new DataDirInUseError(file, { cause: error });
  }
  const environment = ["SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_PERM", "SQLITE_FULL"];
  if (environment.some((prefix) => code.startsWith(prefix))) {
    return new DataDirUnreadableError(file, `${code}: ${error.message}`, { cause: error });
  }
  return error;
}
