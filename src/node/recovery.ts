// Starting points other than a fresh or a saved node: a new cluster from a backup, and the last
// resort after a majority is lost for good (a one-node cluster from this node's own data). Both
// write a snapshot whose configuration holds only this node; the node then elects itself, and the
// leader moves every auction off owners that are no longer members.
import { randomUUID } from "node:crypto";
import { ClusterState } from "../core/cluster/state.js";
import type { ClusterConfig, Identity, Member } from "../core/cluster/types.js";
import type { Storage } from "./ports.js";
import type { Backup } from "../api/http-api.js";

export class RecoveryError extends Error {
  override name = "RecoveryError";
  constructor(
    readonly code: "backup-invalid" | "data-dir-not-empty" | "nothing-to-recover",
    message: string,
  ) {
    super(message);
  }
}

export interface Self {
  identity: Identity;
  address: string;
  httpUrl: string;
}

function soloConfig(self: Self): ClusterConfig {
  const member: Member = {
    id: self.identity.nodeId,
    incarnation: self.identity.incarnation,
    address: self.address,
    httpUrl: self.httpUrl,
    voter: true,
  };
  return { members: [member] };
}

/** Checks that `value` is a backup this version can restore; returns it typed. */
export function parseBackup(value: unknown): Backup {
  const backup = value as Partial<Backup> | null;
  if (
    backup === null ||
    typeof backup !== "object" ||
    backup.format !== "gavel-backup" ||
    backup.version !== 1
  ) {
    throw new RecoveryError("backup-invalid", "not a gavel backup (format gavel-backup, version 1)");
  }
  if (
    typeof backup.state !== "string" ||
    !Number.isSafeInteger(backup.appliedIndex) ||
    typeof backup.lastTimestampMs !== "number"
  ) {
    throw new RecoveryError(
      "backup-invalid",
      "the backup is incomplete (state, appliedIndex or lastTimestampMs missing)",
    );
  }
  try {
    ClusterState.restore(backup.state);
  } catch (error) {
    throw new RecoveryError(
      "backup-invalid",
      `the backup's state cannot be read: ${(error as Error).message}`,
    );
  }
  return backup as Backup;
}

/**
 * Writes into an empty data dir a new cluster (a new cluster id) holding the backup's state, with
 * this node as its only member. Returns the new cluster id.
 */
export function restoreBackup(storage: Storage, self: Self, backup: Backup): string {
  if (storage.load() !== null) {
    throw new RecoveryError(
      "data-dir-not-empty",
      "--restore needs an empty data dir: this one already holds a node's data",
    );
  }
  const state = ClusterState.restore(backup.state);
  const config = soloConfig(self);
  state.config = config;
  const clusterId = randomUUID();
  const index = backup.appliedIndex;
  storage.save({
    snapshot: { index, term: 1, timestampMs: backup.lastTimestampMs, config, data: state.serialize() },
    compactThrough: index,
    clusterId,
    hardState: { term: 1, votedFor: self.identity.nodeId },
    type: "persist",
  });
  return clusterId;
}

export interface ForcedRecovery {
  /** Entries in the log beyond the last one this node knew to be committed (all kept; some may never have committed elsewhere). */
  entriesKept: number;
  lastIndex: number;
  term: number;
}

/**
 * The last resort after a majority is lost for good: applies every entry in this node's log (even
 * ones it cannot know were committed) and makes this node the only member, in a higher term. Other
 * former members that come back join again as new learners; what they held beyond this node's log
 * is lost.
 */
export function forceNewCluster(storage: Storage, self: Self): ForcedRecovery {
  const saved = storage.load();
  if (saved === null || saved.clusterId === null) {
    throw new RecoveryError(
      "nothing-to-recover",
      "--force-new-cluster needs a data dir that belonged to a cluster",
    );
  }
  const state = saved.snapshot ? ClusterState.restore(saved.snapshot.data) : new ClusterState();
  const base = state.appliedIndex;
  const entries = saved.entries.filter((entry) => entry.index > base);
  for (const entry of entries) state.apply(entry);
  const last = entries.at(-1);
  const config = soloConfig(self);
  state.config = config;
  const term = Math.max(saved.hardState.term, last?.term ?? 0, saved.snapshot?.term ?? 0) + 1;
  const lastIndex = state.appliedIndex;
  const timestampMs = last?.timestampMs ?? saved.snapshot?.timestampMs ?? 0;
  storage.save({
    type: "persist",
    truncateFrom: lastIndex + 1,
    snapshot: {
      index: lastIndex,
      term: last?.term ?? saved.snapshot?.term ?? 0,
      timestampMs,
      config,
      data: state.serialize(),
    },
    compactThrough: lastIndex,
    hardState: { term, votedFor: self.identity.nodeId },
  });
  return { entriesKept: entries.length, lastIndex, term };
}
