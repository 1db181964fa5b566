// The deterministic simulation, first half of the fixed seed list run by `npm test` (3- and
// 5-node clusters under random faults; safety checked at every step, liveness after healing).
import { test } from "node:test";
import { assertSeedsPass, seedRange } from "./run-seeds.js";

test("simulation seeds 1-150: no violation", () => {
  assertSeedsPass(seedRange(1, 150));
});
