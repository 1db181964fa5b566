// The child process of the SIGKILL durability test: it saves one entry per transaction into a data
// dir and writes each index to stdout only after its save returned. Run without arguments (as the
// test runner does with every file under test/), it does nothing; it never runs unbounded.
import { writeSync } from "node:fs";
import { openDataDir } from "../../src/disk/sqlite-storage.js";
import { clusterName, noopEntry } from "./support.js";

/** Saves entries 1, 2, … until `countMax` entries or `durationMaxMs` have passed, whichever is first. */
function saveInLoop(dir: string, countMax: number, durationMaxMs: number): void {
  const { storage } = openDataDir({ dir, clusterName, nodeId: 7 });
  const startMs = performance.now();
  for (let index = 1; index <= countMax && performance.now() - startMs < durationMaxMs; index++) {
    storage.save({ type: "persist", entries: [noopEntry(index, 1)], hardState: { term: 1, votedFor: 7 } });
    // Synchronous, one write per line: the parent sees an index only once it is acknowledged.
    writeSync(1, `${index}\n`);
  }
  storage.close();
}

const [dir, countMax, durationMaxMs] = process.argv.slice(2);
if (dir !== undefined) saveInLoop(dir, Number(countMax ?? 10_000), Number(durationMaxMs ?? 10_000));
