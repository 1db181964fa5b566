// Runs a range of simulator seeds inside a test and fails with the first failure's seed and trace.
// SEED=<n> replays one seed instead of the range.
import assert from "node:assert/strict";
import { runSeed } from "../../src/sim/run-seed.js";
import type { Mutant } from "../../src/core/cluster/types.js";

export const simSteps = 12_000;

export function seedRange(from: number, count: number): number[] {
  const only = process.env["SEED"];
  if (only !== undefined) return [Number(only)];
  return Array.from({ length: count }, (_, k) => from + k);
}

/** Runs `seeds`; asserts that none violates anything. */
export function assertSeedsPass(seeds: number[]): void {
  for (const seed of seeds) {
    const result = runSeed({ seed, steps: simSteps });
    if (result.violations.length > 0) {
      const trace = result.trace.map((line) => `    ${line}`).join("\n");
      assert.fail(
        `seed ${seed} (replay: SEED=${seed} npm test, or npm run sim -- --seed ${seed} --trace):\n` +
          `${result.violations.join("\n")}\n  trace:\n${trace}`,
      );
    }
  }
}

/** The first seed (up to `limit`) at which `mutant` is caught, or null. */
export function firstCatch(mutant: Mutant, limit: number): number | null {
  for (let seed = 1; seed <= limit; seed++) {
    if (runSeed({ seed, steps: simSteps, mutant }).violations.length > 0) return seed;
  }
  return null;
}
