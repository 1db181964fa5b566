// The errors a data directory can stop a node with: each has a stable `code` for programs and a
// message for people that says what is wrong, where, and what to do about it. These are
// environment failures, never bugs; nothing here repairs, rewrites or discards data.

/** Every reason the disk adapter refuses a data directory. */
export type DataDirErrorCode =
  | "data-dir-unreadable"
  | "data-dir-in-use"
  | "data-dir-unsupported"
  | "data-dir-corrupt"
  | "data-dir-other-cluster"
  | "data-dir-node-id-mismatch"
  | "data-dir-write-failed";

/** Base of the data directory errors, so a caller can catch them all and print `message`. */
export abstract class DataDirError extends Error {
  abstract readonly code: DataDirErrorCode;

  /** The data directory, or the file in it, that the error is about. */
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

/** The directory or its database file could not be created, opened or read (permissions, not a directory, full disk). */
export class DataDirUnreadableError extends DataDirError {
  override name = "DataDirUnreadableError";
  readonly code = "data-dir-unreadable";

  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(
      path,
      `cannot open ${path} (${reason}). Check that the data dir is a directory the node's user ` +
        `can read and write, or choose another --data-dir.`,
      options,
    );
  }
}

/** Another process holds the database: two nodes must never share one data directory. */
export class DataDirInUseError extends DataDirError {
  override name = "DataDirInUseError";
  readonly code = "data-dir-in-use";

  constructor(path: string, options?: { cause?: unknown }) {
    super(
      path,
      `the data dir's database ${path} is locked by another process. Stop the node that uses it, ` +
        `or give this node its own --data-dir.`,
      options,
    );
  }
}

/** SQLite would not keep the durability settings gavel relies on (WAL journal, synchronous=FULL). */
export class DataDirUnsupportedError extends DataDirError {
  override name = "DataDirUnsupportedError";
  readonly code = "data-dir-unsupported";

  constructor(path: string, setting: string, expected: string, actual: unknown) {
    super(
      path,
      `the data dir's database ${path} cannot keep ${setting} = ${expected} (SQLite reports ${JSON.stringify(actual)}), ` +
        `so writes there would not be durable. Choose a --data-dir on a local file system.`,
    );
  }
}

/** The directory holds something gavel cannot trust; it was left exactly as found. */
export class DataDirCorruptError extends DataDirError {
  override name = "DataDirCorruptError";
  readonly code = "data-dir-corrupt";

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super(
      path,
      `the data dir's database ${path} is corrupt: ${problem}. Nothing in it was changed. Restore it from a ` +
        `backup, or move it aside and start with an empty --data-dir: the node then comes back as a ` +
        `new incarnation, which the cluster accepts once an operator removes the old member.`,
      options,
    );
  }
}

/** The directory belongs to a cluster of another name. */
export class DataDirOtherClusterError extends DataDirError {
  override name = "DataDirOtherClusterError";
  readonly code = "data-dir-other-cluster";

  constructor(path: string, storedClusterName: string, givenClusterName: string) {
    super(
      path,
      `the data dir ${path} belongs to cluster "${storedClusterName}", not "${givenClusterName}". ` +
        `Start with --cluster ${storedClusterName}, or give this node another --data-dir.`,
    );
  }
}

/** The directory was minted for another node id than the one given. */
export class DataDirNodeIdMismatchError extends DataDirError {
  override name = "DataDirNodeIdMismatchError";
  readonly code = "data-dir-node-id-mismatch";

  constructor(path: string, storedNodeId: number, givenNodeId: number) {
    super(
      path,
      `the data dir ${path} belongs to node ${storedNodeId}, but --id ${givenNodeId} was given. ` +
        `Start with --id ${storedNodeId} (or without --id), or give node ${givenNodeId} another --data-dir.`,
    );
  }
}

/** A save failed (disk full, I/O error): the node must stop, as it can no longer promise durability. */
export class DataDirWriteError extends DataDirError {
  override name = "DataDirWriteError";
  readonly code = "data-dir-write-failed";

  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(
      path,
      `a write to ${path} failed (${reason}); the node stops rather than acknowledge data that may ` +
        `not be on disk. Fix the cause (free space, disk health, permissions) and restart the node.`,
      options,
    );
  }
}
