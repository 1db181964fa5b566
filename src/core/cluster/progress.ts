// What a leader knows of each follower's log: how far it matches, what to send next, and how the
// link behaves. The leader owns these records; they vanish when it steps down.
import type { LogIndex, NodeId, Snapshot } from "./types.js";

/**
 * probe: the leader does not know where the follower's log diverges; one append at a time.
 * replicate: the follower's log matches up to matchIndex; appends are pipelined.
 * snapshot: the entries it needs were compacted; a snapshot is being sent in chunks.
 */
export type ProgressMode = "probe" | "replicate" | "snapshot";

export interface Progress {
  id: NodeId;
  // Invariant: matchIndex < nextIndex.
  matchIndex: LogIndex;
  nextIndex: LogIndex;
  mode: ProgressMode;
  /** Last indexes of the appends sent in replicate mode and not yet acknowledged, ascending. */
  inflight: LogIndex[];
  /** When the last probe (or snapshot chunk) was sent. */
  probeSentMs: number;
  /** When the follower last answered anything. */
  lastAckMs: number;
  /** When matchIndex last grew (or the mode changed). */
  lastProgressMs: number;
  /** Since when the follower has been connected and caught up; null when it is not. */
  caughtUpSinceMs: number | null;
  /** The follower's clock minus the leader's, from the last append round trip; null before one. */
  clockOffsetMs: number | null;
  /** The snapshot being sent (kept even if a newer one is taken meanwhile) and how far it got. */
  snapshot: { snapshot: Snapshot; offset: number } | null;
  /** The highest read-index round the follower has echoed in this term. */
  readSeqAcked: number;
  /**
   * The commit index the follower learns from the appends sent to it (each tells it
   * min(commit, last index it carries)), so the leader knows whom to tell of a newer one.
   */
  commitSent: LogIndex;
}

export function newProgress(id: NodeId, lastIndex: LogIndex, nowMs: number): Progress {
  return {
    id,
    matchIndex: 0,
    nextIndex: lastIndex + 1,
    mode: "probe",
    inflight: [],
    probeSentMs: -Infinity,
    lastAckMs: nowMs,
    lastProgressMs: nowMs,
    caughtUpSinceMs: null,
    clockOffsetMs: null,
    snapshot: null,
    readSeqAcked: 0,
    commitSent: 0,
  };
}

/** Drops the in-flight appends that `matchIndex` acknowledges. */
export function acknowledge(progress: Progress, matchIndex: LogIndex): void {
  let drop = 0;
  while (drop < progress.inflight.length && progress.inflight[drop]! <= matchIndex) drop++;
  if (drop > 0) progress.inflight.splice(0, drop);
}
