// An in-memory Storage for the simulator that models a crash honestly: only what was saved
// survives; a node restarted from it sees exactly that. A snapshot taken locally is written late,
// as on a real disk: at the start of the next save, and lost by a crash before it. It checks the
// persist contract as it goes.
import { assert } from "../core/assert.js";
import type { Identity, LogIndex, PersistEffect, PersistedState, Snapshot } from "../core/cluster/types.js";
import type { Storage } from "../node/ports.js";

export class MemoryStorage implements Storage {
  private state: PersistedState | null = null;
  /** Number of saves, for tests and the benchmark. */
  saves = 0;
  /** A taken snapshot (with its compaction) saved but not yet on this disk; a crash loses it. */
  private unwritten: { snapshot: Snapshot; compactThrough?: LogIndex } | null = null;

  constructor(private identity: Identity) {}

  load(): PersistedState | null {
    return this.state === null ? null : structuredClone(this.state);
  }

  saveAll(changes: readonly PersistEffect[]): void {
    // A crash cannot strike in the middle of a synchronous call: this is as atomic as SQLite's transaction.
    for (const change of changes) this.save(change);
  }

  save(change: PersistEffect): void {
    this.saves++;
    this.writeTakenSnapshot();
    if (change.snapshot !== undefined && change.snapshotTaken === true) {
      const { snapshot, compactThrough, snapshotTaken: _taken, ...rest } = change;
      this.apply(rest);
      this.unwritten = compactThrough === undefined ? { snapshot } : { snapshot, compactThrough };
    } else {
      this.apply(change);
    }
  }

  /** The taken snapshot's write finishes: the snapshot and its compaction reach the disk together. */
  private writeTakenSnapshot(): void {
    if (this.unwritten === null || this.state === null) return;
    const { snapshot, compactThrough } = this.unwritten;
    this.unwritten = null;
    this.apply({ type: "persist", snapshot, ...(compactThrough === undefined ? {} : { compactThrough }) });
  }

  /** The node crashed: a taken snapshot still being written never reaches the disk. */
  crash(): void {
    this.unwritten = null;
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
    this.unwritten = null;
    this.identity = identity;
  }
}
