// A node's copy of the replicated log: entries after a compacted prefix. It only keeps entries in
// order; what is committed, and who may truncate what, is decided by node.ts.
//
// With a reader (the node's storage), only the newest entries stay in memory: node.ts releases the
// older ones (committed, applied and written) with releaseThrough, and they are read back from the
// storage when asked for (a lagging follower's appends); terms are kept apart, so no term check
// reads the disk. etcd's raft library reads entries through its Storage interface the same way.
// Reading is synchronous and deterministic: the storage holds exactly what the node gave it.
import { assert } from "../assert.js";
import type { LogEntry, LogIndex, Term } from "./types.js";

/** Reads back entries the node wrote to its storage. */
export interface EntryReader {
  /** The written entries from `from` on, in order, at most `max` of them. */
  readEntries(from: LogIndex, max: number): LogEntry[];
}

export class RaftLog {
  // Invariant: entries[k].index === firstHeld + k, and compactedIndex < firstHeld <= lastIndex() + 1.
  private entries: LogEntry[] = [];
  /** Index of the first entry held in memory; those before it (after compactedIndex) are read back. */
  private firstHeld: LogIndex = 1;
  /**
   * The term of every entry after compactedIndex, as runs: `terms[k]` starts at index `from` and
   * lasts until the next run. Invariant: ascending, the first run starts at compactedIndex + 1.
   */
  private terms: { from: LogIndex; term: Term }[] = [];
  private last: LogIndex = 0;
  /** Index of the last entry dropped by compaction (0 when nothing was). */
  compactedIndex: LogIndex = 0;
  compactedTerm: Term = 0;
  compactedTimestampMs = 0;

  constructor(private readonly reader: EntryReader | null = null) {}

  /** Rebuilds a log from what was persisted. */
  static restore(
    compactedIndex: LogIndex,
    compactedTerm: Term,
    timestampMs: number,
    entries: LogEntry[],
    reader: EntryReader | null = null,
  ): RaftLog {
    const log = new RaftLog(reader);
    log.resetTo(compactedIndex, compactedTerm, timestampMs);
    log.append(entries);
    return log;
  }

  lastIndex(): LogIndex {
    return this.last;
  }

  lastTerm(): Term {
    return this.terms.at(-1)?.term ?? this.compactedTerm;
  }

  lastTimestampMs(): number {
    // Invariant: the last entry is held (releaseThrough keeps it, truncateFrom reads it back).
    return this.entries.at(-1)?.timestampMs ?? this.compactedTimestampMs;
  }

  firstIndex(): LogIndex {
    return this.compactedIndex + 1;
  }

  /** Index of the first entry held in memory (lastIndex() + 1 when none is). */
  firstHeldIndex(): LogIndex {
    return this.firstHeld;
  }

  /** The term of entry `index`, or undefined if it was compacted away or does not exist yet. */
  termAt(index: LogIndex): Term | undefined {
    if (index === this.compactedIndex) return this.compactedTerm;
    if (index < this.compactedIndex || index > this.last) return undefined;
    let low = 0;
    let high = this.terms.length - 1;
    // The last run starting at or before `index`.
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.terms[middle]!.from <= index) low = middle;
      else high = middle - 1;
    }
    return this.terms[low]!.term;
  }

  entry(index: LogIndex): LogEntry | undefined {
    if (index <= this.compactedIndex || index > this.last) return undefined;
    if (index >= this.firstHeld) return this.entries[index - this.firstHeld];
    return this.read(index, 1)[0];
  }

  /** Entries from `from` on, at most `max` of them. Invariant: from > compactedIndex. */
  slice(from: LogIndex, max: number): LogEntry[] {
    assert(from > this.compactedIndex, "slice starts after the compacted prefix");
    if (from >= this.firstHeld) {
      const start = from - this.firstHeld;
      return this.entries.slice(start, start + max);
    }
    // Released entries come from the storage, the held ones after them from memory.
    const released = this.read(from, Math.min(max, this.firstHeld - from));
    return released.concat(this.entries.slice(0, max - released.length));
  }

  append(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.last + 1, "log entries are appended without gaps");
      assert(entry.timestampMs >= this.lastTimestampMs(), "stamps never decrease along the log");
      if (this.entries.length === 0) this.firstHeld = entry.index;
      this.entries.push(entry);
      this.last = entry.index;
      if (this.lastTerm() !== entry.term || this.terms.length === 0)
        this.terms.push({ from: entry.index, term: entry.term });
    }
  }

  /** Drops entries from `index` on. They are held: released entries are applied, never truncated. */
  truncateFrom(index: LogIndex): void {
    assert(index > this.compactedIndex, "a compacted entry is committed and never truncated");
    if (index > this.last) return;
    assert(index >= this.firstHeld, "a released entry is applied and never truncated");
    this.entries.length = index - this.firstHeld;
    this.last = index - 1;
    while (this.terms.length > 0 && this.terms.at(-1)!.from >= index) this.terms.pop();
    // The last entry stays held (its stamp is the log's): read it back if it was released.
    if (this.entries.length === 0 && this.last > this.compactedIndex) {
      this.entries = this.read(this.last, 1);
      this.firstHeld = this.last;
    }
  }

  /**
   * Releases the memory of the entries up to `index` (they are read back from the storage when
   * needed), always keeping the last entry. Only with a reader, and only for written entries.
   */
  releaseThrough(index: LogIndex): void {
    if (this.reader === null) return;
    const through = Math.min(index, this.last - 1);
    if (through < this.firstHeld) return;
    this.entries = this.entries.slice(through + 1 - this.firstHeld);
    this.firstHeld = through + 1;
  }

  /** Drops entries up to and including `index`, which must be in the log. */
  compactThrough(index: LogIndex): void {
    if (index <= this.compactedIndex) return;
    const entry = this.entry(index);
    assert(entry !== undefined, "compaction stays within the log");
    if (index >= this.firstHeld) {
      this.entries = this.entries.slice(index + 1 - this.firstHeld);
      this.firstHeld = index + 1;
    }
    // The run holding `index` now starts right after it.
    const kept = this.terms.filter((run, k) => (this.terms[k + 1]?.from ?? Infinity) > index + 1);
    if (kept.length > 0 && kept[0]!.from <= index) kept[0] = { from: index + 1, term: kept[0]!.term };
    this.terms = index < this.last ? kept : [];
    this.compactedIndex = index;
    this.compactedTerm = entry.term;
    this.compactedTimestampMs = entry.timestampMs;
  }

  /** Replaces the whole log by an installed snapshot's position. */
  resetTo(index: LogIndex, term: Term, timestampMs: number): void {
    this.entries = [];
    this.terms = [];
    this.firstHeld = index + 1;
    this.last = index;
    this.compactedIndex = index;
    this.compactedTerm = term;
    this.compactedTimestampMs = timestampMs;
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as this one? */
  isAtMostAsUpToDateAs(lastIndex: LogIndex, lastTerm: Term): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** `count` released entries from `from` on, from the storage, which must hold them all. */
  private read(from: LogIndex, count: number): LogEntry[] {
    assert(this.reader !== null, "entries are released only with a reader");
    const entries = this.reader.readEntries(from, count);
    assert(
      entries.length === count && entries.every((entry, k) => entry.index === from + k),
      "the storage holds every released entry",
    );
    return entries;
  }
}
