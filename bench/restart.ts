// What a restarting node reads from its data dir before it can take part: every log entry since its
// last snapshot, parsed into memory (src/disk/sqlite-storage.ts load). Snapshots are at most
// 1,000,000 entries apart, and as far apart as the state has records, so a node of a busy cluster
// can restart with hundreds of thousands of entries to read. For the edit-measure loop of the
// restart path; `npm run bench` remains the source of BENCHMARKS.md.
//
//   node dist/bench/restart.js [entries]    (after npm run build; default 300,000 bid entries)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { LogEntry } from "../src/core/cluster/types.js";
import { openDataDir } from "../src/disk/sqlite-storage.js";
import { countArgs } from "./args.js";
import { heapUsed } from "./heap.js";

const [count] = countArgs("node dist/bench/restart.js [entries]", ["entries"], [300_000]) as [number];
const batchEntries = 1000;

/** A bid entry as the spread load makes them: 64 bidders over 1,000 auctions. */
function bidEntry(index: number): LogEntry {
  const auction = (index * 7919) % 1000;
  return {
    index,
    term: 1,
    timestampMs: index,
    data: {
      kind: "auction",
      owner: 1 + (auction % 2),
      epoch: 1,
      ref: `r${index}`,
      command: {
        type: "place-bid",
        auctionId: `auction-${auction}`,
        bidder: `bidder-${index % 64}`,
        bidId: `${index.toString(36)}-${(index * 2654435761) % 4294967296}`,
        amount: 100 + index,
        max: null,
      },
    },
  };
}

const dir = mkdtempSync(path.join(tmpdir(), "gavel-restart-bench-"));
try {
  const written = openDataDir({ dir, clusterName: "restart-bench", nodeId: 1 }).storage;
  written.save({ type: "persist", clusterId: "restart-bench", hardState: { term: 1, votedFor: 1 } });
  for (let first = 1; first <= count; first += batchEntries) {
    const entries: LogEntry[] = [];
    for (let index = first; index < first + batchEntries && index <= count; index++)
      entries.push(bidEntry(index));
    written.saveAll([{ type: "persist", entries }]);
  }
  written.close();

  const before = heapUsed();
  const startedAt = performance.now();
  const storage = openDataDir({ dir, clusterName: "restart-bench", nodeId: 1 }).storage;
  const loaded = storage.load();
  const loadMs = performance.now() - startedAt;
  const held = heapUsed() - before;
  if (loaded?.entries.length !== count)
    throw new Error(`loaded ${loaded?.entries.length ?? 0} of ${count} entries`);
  storage.close();
  console.log(
    `entries=${count} load_ms=${loadMs.toFixed(0)} load_us_per_entry=${((loadMs * 1000) / count).toFixed(2)} ` +
      `heap_mb=${(held / 2 ** 20).toFixed(0)} heap_bytes_per_entry=${(held / count).toFixed(0)}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
