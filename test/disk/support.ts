// Builders and temp directories shared by the disk tests: log entries, snapshots, and a data dir
// under the OS temp dir that each test removes afterwards. Nothing here touches a real node's data.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClusterConfig, LogEntry, Snapshot } from "../../src/core/cluster/types.js";
import { openDataDir } from "../../src/disk/sqlite-storage.js";
import type { DataDirOptions, OpenedDataDir } from "../../src/disk/sqlite-storage.js";

/** The cluster name the disk tests use unless a test is about another one. */
export const clusterName = "gavel-test";

/** A fresh, empty temp directory; `remove` deletes it and everything in it. */
export function makeTempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "gavel-disk-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens `dir` with the test cluster name and a fixed node id unless overridden. */
export function openTestDir(dir: string, overrides: Partial<DataDirOptions> = {}): OpenedDataDir {
  return openDataDir({ dir, clusterName, nodeId: 7, ...overrides });
}

/** A configuration of voters with the given ids (unicode in the address, to test text round trips). */
export function votersConfig(ids: number[]): ClusterConfig {
  return {
    members: ids.map((id) => ({
      id,
      incarnation: `incarnation-${id}`,
      address: `127.0.0.1:${7400 + id}`,
      httpUrl: `http://nœud-${id}.example:8080`,
      voter: true,
    })),
  };
}

/** A noop entry; stamps grow with the index and carry a fraction, which must survive storage exactly. */
export function noopEntry(index: number, term: number): LogEntry {
  return { index, term, timestampMs: 1_700_000_000_000 + index * 10 + 0.25, data: { kind: "noop" } };
}

/** A config entry naming voters `ids`. */
export function configEntry(index: number, term: number, ids: number[]): LogEntry {
  return {
    index,
    term,
    timestampMs: 1_700_000_000_000 + index * 10,
    data: { kind: "config", config: votersConfig(ids) },
  };
}

/** Noop entries `from`..`to` inclusive, all of `term`. */
export function noopEntries(from: number, to: number, term: number): LogEntry[] {
  const entries: LogEntry[] = [];
  for (let index = from; index <= to; index++) entries.push(noopEntry(index, term));
  return entries;
}

/** A snapshot after entry `index`, with opaque state-machine data `data`. */
export function snapshotAt(index: number, term: number, data = `{"appliedIndex":${index}}`): Snapshot {
  return { index, term, timestampMs: 1_700_000_000_000 + index * 10, config: votersConfig([1, 2, 3]), data };
}
