// Proof that the checkers can fail: each deliberate bug is caught within 500 seeds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mutants } from "../../src/core/cluster/types.js";
import { firstCatch } from "./run-seeds.js";

for (const mutant of mutants) {
  test(`the ${mutant} mutant is caught within 500 seeds`, (t) => {
    const seed = firstCatch(mutant, 500);
    t.diagnostic(`caught at seed ${seed ?? "none"}`);
    assert.notEqual(seed, null, `the simulator missed the ${mutant} mutant`);
  });
}
