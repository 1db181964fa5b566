// An in-memory Storage for the simulator that models a crash honestly: only what was saved
// survives; a node restarted from it sees exactly that. A snapshot taken locally is written late,
// as on a real disk: at the start of the next save, and lost by a crash before it. With a background
// fsync (as the node's SQLite storage has) a save is durable only once a flush that began after it
// ends, and a crash loses every save not yet flushed. It checks the persist contract as it goes.
import { assert } from "../core/assert.js";
import type {
  Identity,
  LogEntry,
  LogIndex,
  PersistEffect,
  PersistedState,
  Snapshot,
} from "../core/cluster/types.js";
import type { Storage } from "../node/ports.js";

export class MemoryStorage implements Storage {
  private state: PersistedState | null = null;
  /** Number of saves, for tests and the benchmark. */
  saves = 0;
  /** A taken snapshot (with its compaction) saved but not yet on this disk; a crash loses it. */
  private unwritten: { snapshot: Snapshot; compactThrough?: LogIndex } | null = null;

  /**
   * With a background fsync: saves written but not yet on disk, oldest first, and the number of
   * crashes so far (a flush that began before a crash finishes nothing).
   */
  private unsynced: { seq: number; change: PersistEffect }[] = [];
  private written = 0;
  private crashes = 0;
  /** The log as written (on disk or not yet), for readEntries: what a process reads back from its file. */
  private writtenLog: LogEntry[] = [];
  readonly flushToDisk?: (done: (error: Error | null) => void) => void;

  /**
   * `background`, when given, schedules an fsync's end (at some later moment of the simulation):
   * flushToDisk makes what was saved before it durable once that runs; until then a crash loses it.
   */
  constructor(
    private identity: Identity,
    background?: (fsyncEnds: () => void) => void,
  ) {
    if (background !== undefined) {
      this.flushToDisk = (done) => {
        // Flushes may end in any order; each makes durable what was written before it began.
        const through = this.written;
        const crashes = this.crashes;
        background(() => {
          if (this.crashes !== crashes) return;
          while (this.unsynced.length > 0 && this.unsynced[0]!.seq <= through)
            this.apply(this.unsynced.shift()!.change);
          done(null);
        });
      };
    }
  }

  load(): PersistedState | null {
    this.writtenLog = this.state?.entries.slice() ?? [];
    return this.state === null ? null : structuredClone(this.state);
  }

  readEntries(from: LogIndex, max: number): LogEntry[] {
    const start = from - (this.writtenLog[0]?.index ?? from);
    if (start < 0) return [];
    return this.writtenLog.slice(start, start + max);
  }

  saveAll(changes: readonly PersistEffect[]): void {
    // A crash cannot strike in the middle of a synchronous call: this is as atomic as SQLite's transaction.
    for (const change of changes) this.write(change);
  }

  /** One change, on disk when this returns (as SqliteStorage's save, used at start): with it, every earlier write. */
  save(change: PersistEffect): void {
    this.write(change);
    for (const { change: written } of this.unsynced.splice(0)) this.apply(written);
  }

  /** Written: on disk at once, or with a background fsync once a flush that began after this ends. */
  private write(change: PersistEffect): void {
    this.saves++;
    this.writeLog(change);
    this.writeTakenSnapshot();
    if (change.snapshot !== undefined && change.snapshotTaken === true) {
      const { snapshot, compactThrough, snapshotTaken: _taken, ...rest } = change;
      this.writeOne(rest);
      this.unwritten = compactThrough === undefined ? { snapshot } : { snapshot, compactThrough };
    } else {
      this.writeOne(change);
    }
  }

  private writeOne(change: PersistEffect): void {
    if (this.flushToDisk === undefined) this.apply(change);
    else this.unsynced.push({ seq: ++this.written, change });
  }

  /** The taken snapshot's write finishes: the snapshot and its compaction reach the disk together. */
  private writeTakenSnapshot(): void {
    if (this.unwritten === null || this.state === null) return;
    const { snapshot, compactThrough } = this.unwritten;
    this.unwritten = null;
    this.writeOne({ type: "persist", snapshot, ...(compactThrough === undefined ? {} : { compactThrough }) });
  }

  /** The node crashed: a taken snapshot still being written, and what no fsync covered, never reach the disk. */
  crash(): void {
    this.unwritten = null;
    this.unsynced = [];
    this.crashes += 1;
    this.writtenLog = this.state?.entries.slice() ?? [];
  }

  /** The change's truncation, entries and compaction, on the written log at once. */
  private writeLog(change: PersistEffect): void {
    const log = this.writtenLog;
    const first = log[0]?.index;
    if (change.truncateFrom !== undefined && first !== undefined)
      log.length = Math.max(0, Math.min(log.length, change.truncateFrom - first));
    for (const entry of change.entries ?? []) {
      assert(log.length === 0 || log.at(-1)!.index + 1 === entry.index, "the written log has no gaps");
      log.push(entry);
    }
    const through = change.compactThrough;
    if (through !== undefined && log.length > 0 && log[0]!.index <= through)
      this.writtenLog = log.slice(Math.min(log.length, through + 1 - log[0]!.index));
  }

  private apply(change: PersistEffect): void {
    const state = (this.state ??= {
      identity: this.identity,
      clusterId: null,
      hardState: { term: 0, votedFor: null },
      snapshot: null,
      entries: [],
    });
    if (change.truncateFrom !== undefined) {
      const from = change.truncateFrom;
      state.entries = state.entries.filter((entry) => entry.index < from);
    }
    for (const entry of change.entries ?? []) {
      const last = state.entries.at(-1)?.index ?? state.snapshot?.index ?? 0;
      assert(entry.index === last + 1, "persisted entries follow the log without gap or overlap");
      state.entries.push(entry);
    }
    if (change.snapshot !== undefined) state.snapshot = change.snapshot;
    if (change.compactThrough !== undefined) {
      const through = change.compactThrough;
      state.entries = state.entries.filter((entry) => entry.index > through);
    }
    if (change.clusterId !== undefined) state.clusterId = change.clusterId;
    if (change.hardState !== undefined) state.hardState = { ...change.hardState };
  }

  /** Wipes everything, as if the data directory were deleted; the node comes back with a new incarnation. */
  wipe(identity: Identity): void {
    this.state = null;
    this.writtenLog = [];
    this.unwritten = null;
    this.unsynced = [];
    this.identity = identity;
  }
}
