// The SQLite schema of a data directory, and the checks that an existing database has exactly this
// shape before anything reads it. It creates tables only in a database that has none, and upgrades
// a database of the one older version it knows (1) in place; it never repairs or drops data it finds.
import type Database from "better-sqlite3";
import { DataDirCorruptError } from "./errors.js";

/**
 * Bumped whenever the tables change; a database of any other version is refused. Version 1 kept the
 * snapshot's data only in its row; version 2 may keep it in a file of the data dir instead, which
 * the row names (`file_name`, `file_bytes`).
 */
export const schemaVersion = 2;

/** The older version this code upgrades on open (see migrateFromVersion1). */
export const previousSchemaVersion = 1;

/** Every table the schema creates; a database missing one is corrupt. */
export const tableNames = ["schema_version", "identity", "hard_state", "log_entries", "snapshot"] as const;

// Single-row tables use `one = 1` as their key. Timestamps are REAL so that any JS number comes back
// exactly as saved. `hard_state` has its row only once the node saved something: until then the
// data dir holds an identity alone, and the node is fresh.
const schemaSql = `
CREATE TABLE schema_version (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  version INTEGER NOT NULL
) STRICT;
CREATE TABLE identity (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  cluster_name TEXT NOT NULL,
  node_id INTEGER NOT NULL CHECK (node_id > 0),
  incarnation TEXT NOT NULL
) STRICT;
CREATE TABLE hard_state (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  cluster_id TEXT,
  term INTEGER NOT NULL CHECK (term >= 0),
  voted_for INTEGER
) STRICT;
CREATE TABLE log_entries (
  entry_index INTEGER PRIMARY KEY CHECK (entry_index > 0),
  term INTEGER NOT NULL,
  timestamp_ms REAL NOT NULL,
  data TEXT NOT NULL
) STRICT;
${snapshotTableSql("snapshot")}
`;

/**
 * The snapshot's data is either in its row (`data`: an installed snapshot, which must be durable
 * within its save's transaction) or in a file of the data dir (`file_name`, `file_bytes` long: a
 * snapshot taken locally, written off the event loop before the row names it).
 */
function snapshotTableSql(name: string): string {
  return `CREATE TABLE ${name} (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  snapshot_index INTEGER NOT NULL CHECK (snapshot_index > 0),
  term INTEGER NOT NULL,
  timestamp_ms REAL NOT NULL,
  config TEXT NOT NULL,
  data TEXT,
  file_name TEXT,
  file_bytes INTEGER CHECK (file_bytes >= 0),
  CHECK ((data IS NULL) <> (file_name IS NULL)),
  CHECK ((file_name IS NULL) = (file_bytes IS NULL))
) STRICT;`;
}

/** A node's identity row as stored. */
export interface IdentityRow {
  cluster_name: string;
  node_id: number;
  incarnation: string;
}

/** True when the database holds no schema objects at all: a new file, or one whose creation never committed. */
export function isEmpty(db: Database.Database): boolean {
  const count = db.prepare("SELECT COUNT(*) FROM sqlite_schema").pluck().get() as number;
  return count === 0;
}

/** Creates the tables, the version row and the identity row; the caller wraps this in a transaction. */
export function createSchema(db: Database.Database, identity: IdentityRow): void {
  db.exec(schemaSql);
  db.prepare("INSERT INTO schema_version (one, version) VALUES (1, ?)").run(schemaVersion);
  db.prepare("INSERT INTO identity (one, cluster_name, node_id, incarnation) VALUES (1, ?, ?, ?)").run(
    identity.cluster_name,
    identity.node_id,
    identity.incarnation,
  );
}

/**
 * Upgrades a version 1 database to version 2 in one transaction: the snapshot table gains the file
 * columns (its data may now be NULL); a stored snapshot keeps its data in the row, where it stays
 * readable. Run only after every check passed.
 */
export function migrateFromVersion1(db: Database.Database): void {
  db.transaction(() => {
    db.exec(snapshotTableSql("snapshot_v2"));
    db.exec(
      "INSERT INTO snapshot_v2 (one, snapshot_index, term, timestamp_ms, config, data) " +
        "SELECT one, snapshot_index, term, timestamp_ms, config, data FROM snapshot",
    );
    db.exec("DROP TABLE snapshot");
    db.exec("ALTER TABLE snapshot_v2 RENAME TO snapshot");
    db.prepare("UPDATE schema_version SET version = ? WHERE one = 1").run(schemaVersion);
  })();
}

/**
 * Throws DataDirCorruptError unless the database is this schema at this version or the previous
 * one (which the caller then migrates), with its identity row.
 */
export function checkSchema(db: Database.Database, file: string): IdentityRow & { version: number } {
  const present = new Set(
    db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[],
  );
  if (!present.has("schema_version")) {
    throw new DataDirCorruptError(file, "the database has no schema_version table (is it a gavel database?)");
  }
  const version = db.prepare("SELECT version FROM schema_version WHERE one = 1").pluck().get();
  if (version !== schemaVersion && version !== previousSchemaVersion) {
    throw new DataDirCorruptError(
      file,
      `unknown schema version ${JSON.stringify(version ?? null)} (this gavel reads versions ` +
        `${previousSchemaVersion} and ${schemaVersion})`,
    );
  }
  const missing = tableNames.filter((name) => !present.has(name));
  if (missing.length > 0) throw new DataDirCorruptError(file, `missing tables: ${missing.join(", ")}`);
  const identity = db
    .prepare("SELECT cluster_name, node_id, incarnation FROM identity WHERE one = 1")
    .get() as IdentityRow | undefined;
  if (identity === undefined) throw new DataDirCorruptError(file, "the identity row is missing");
  return { ...identity, version };
}

/** Throws DataDirCorruptError unless the stored log is contiguous and starts no later than just after the snapshot. */
export function checkLog(db: Database.Database, file: string): void {
  const shape = db
    .prepare("SELECT COUNT(*) AS count, MIN(entry_index) AS first, MAX(entry_index) AS last FROM log_entries")
    .get() as { count: number; first: number | null; last: number | null };
  const snapshotIndex =
    (db.prepare("SELECT snapshot_index FROM snapshot WHERE one = 1").pluck().get() as number | undefined) ??
    0;
  if (shape.first === null || shape.last === null) return;
  if (shape.count !== shape.last - shape.first + 1) {
    throw new DataDirCorruptError(
      file,
      `the log has gaps: ${shape.count} entries between index ${shape.first} and ${shape.last}`,
    );
  }
  if (shape.first > snapshotIndex + 1) {
    throw new DataDirCorruptError(
      file,
      `the log starts at index ${shape.first}, but the snapshot ends at ${snapshotIndex}: entries in between are missing`,
    );
  }
}
