// A node's copy of the replicated log in memory: entries after a compacted prefix. It only keeps
// entries in order; what is committed, and who may truncate what, is decided by node.ts.
import { assert } from "../assert.js";
import type { LogEntry, LogIndex, Term } from "./types.js";

export class RaftLog {
  private entries: LogEntry[] = [];
  // Invariant: entries[k].index === compactedIndex + 1 + k.
  /** Index of the last entry dropped by compaction (0 when nothing was). */
  compactedIndex: LogIndex = 0;
  compactedTerm: Term = 0;
  compactedTimestampMs = 0;

  /** Rebuilds a log from what was persisted. */
  static restore(
    compactedIndex: LogIndex,
    compactedTerm: Term,
    timestampMs: number,
    entries: LogEntry[],
  ): RaftLog {
    const log = new RaftLog();
    log.compactedIndex = compactedIndex;
    log.compactedTerm = compactedTerm;
    log.compactedTimestampMs = timestampMs;
    log.append(entries);
    return log;
  }

  lastIndex(): LogIndex {
    return this.compactedIndex + this.entries.length;
  }

  lastTerm(): Term {
    return this.entries.at(-1)?.term ?? this.compactedTerm;
  }

  lastTimestampMs(): number {
    return this.entries.at(-1)?.timestampMs ?? this.compactedTimestampMs;
  }

  firstIndex(): LogIndex {
    return this.compactedIndex + 1;
  }

  /** The term of entry `index`, or undefined if it was compacted away or does not exist yet. */
  termAt(index: LogIndex): Term | undefined {
    if (index === this.compactedIndex) return this.compactedTerm;
    if (index < this.compactedIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.compactedIndex - 1]!.term;
  }

  entry(index: LogIndex): LogEntry | undefined {
    if (index <= this.compactedIndex) return undefined;
    return this.entries[index - this.compactedIndex - 1];
  }

  /** Entries from `from` on, at most `max` of them. Invariant: from > compactedIndex. */
  slice(from: LogIndex, max: number): LogEntry[] {
    assert(from > this.compactedIndex, "slice starts after the compacted prefix");
    const start = from - this.compactedIndex - 1;
    return this.entries.slice(start, start + max);
  }

  append(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, "log entries are appended without gaps");
      assert(entry.timestampMs >= this.lastTimestampMs(), "stamps never decrease along the log");
      this.entries.push(entry);
    }
  }

  /** Drops entries from `index` on. */
  truncateFrom(index: LogIndex): void {
    assert(index > this.compactedIndex, "a compacted entry is committed and never truncated");
    this.entries.length = Math.max(0, index - this.compactedIndex - 1);
  }

  /** Drops entries up to and including `index`, which must be in the log. */
  compactThrough(index: LogIndex): void {
    if (index <= this.compactedIndex) return;
    const entry = this.entry(index);
    assert(entry !== undefined, "compaction stays within the log");
    this.entries = this.entries.slice(index - this.compactedIndex);
    this.compactedIndex = index;
    this.compactedTerm = entry.term;
    this.compactedTimestampMs = entry.timestampMs;
  }

  /** Replaces the whole log by an installed snapshot's position. */
  resetTo(index: LogIndex, term: Term, timestampMs: number): void {
    this.entries = [];
    this.compactedIndex = index;
    this.compactedTerm = term;
    this.compactedTimestampMs = timestampMs;
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as this one? */
  isAtMostAsUpToDateAs(lastIndex: LogIndex, lastTerm: Term): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }
}
