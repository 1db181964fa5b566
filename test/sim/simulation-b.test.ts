// The deterministic simulation, second half of the fixed seed list run by `npm test`.
import { test } from "node:test";
import { assertSeedsPass, seedRange } from "./run-seeds.js";

test("simulation seeds 151-300: no violation", () => {
  assertSeedsPass(seedRange(151, 150));
});
