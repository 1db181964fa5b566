// The interfaces through which a node touches the world. The real node implements them with
// sockets, SQLite and the system clock; the simulator with an in-memory network, an in-memory disk
// and virtual time, so both run the same driver code.
import type {
  Beacon,
  LogEntry,
  LogIndex,
  Message,
  PersistEffect,
  PersistedState,
} from "../core/cluster/types.js";

export type { Random } from "../core/random.js";

/**
 * Durable state. Saves return only once the change is on disk, unless the storage has flushToDisk.
 * A snapshot marked `snapshotTaken` (with its compaction) may reach the disk later: until it does,
 * the storage keeps the old snapshot and the uncompacted log.
 */
export interface Storage {
  load(): PersistedState | null;
  save(change: PersistEffect): void;
  /** Applies several changes in order, atomically: all or none are on disk afterwards. */
  saveAll(changes: readonly PersistEffect[]): void;
  /**
   * Present when saveAll returns once its changes are written but before they are on disk: calls
   * back once everything saved so far is on disk (an fsync off the event loop), or with an error
   * the node must treat as fatal. The driver holds back whatever depends on a batch until then.
   */
  flushToDisk?(done: (error: Error | null) => void): void;
  /**
   * The log entries written so far (saved, whether or not on disk yet) from `from` on, in order, at
   * most `max`. With it the node keeps only its newest entries in memory (see RaftLog).
   */
  readEntries?(from: LogIndex, max: number): LogEntry[];
}

/** Node-to-node messages (TCP in the real node). Best effort: may drop, never blocks. */
export interface PeerTransport {
  send(message: Message, address: string | undefined): void;
}

/** Beacons (UDP broadcast in the real node). Best effort. */
export interface Discovery {
  broadcast(beacon: Beacon): void;
}

export interface Clock {
  nowMs(): number;
}
