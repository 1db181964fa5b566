// The multi-host scenarios again, with every node given one cluster key (--cluster-key). Skipped,
// with the reason printed, where host tests cannot run or the node has no such flag yet.
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { clusterKeyUnsupported, hostTestsUnavailable } from "./net-harness.js";
import { scenarios } from "./scenarios.js";

const unavailable = hostTestsUnavailable() ?? clusterKeyUnsupported();
const clusterKey = randomBytes(24).toString("hex");

for (const scenario of scenarios) {
  test(`hosts with a cluster key: ${scenario.name}`, { timeout: scenario.timeoutMs }, async (t) => {
    if (unavailable !== null) {
      t.skip(unavailable);
      return;
    }
    await scenario.run(t, { clusterKey });
  });
}
