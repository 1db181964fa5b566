// The multi-host scenarios without a cluster key (see scenarios.ts). They need root and
// iproute2 to build network namespaces; elsewhere each is skipped with the reason printed.
import { test } from "node:test";
import { hostTestsUnavailable } from "./net-harness.js";
import { scenarios } from "./scenarios.js";

const unavailable = hostTestsUnavailable();

for (const scenario of scenarios) {
  test(`hosts: ${scenario.name}`, { timeout: scenario.timeoutMs }, async (t) => {
    if (unavailable !== null) {
      t.skip(unavailable);
      return;
    }
    await scenario.run(t, {});
  });
}
