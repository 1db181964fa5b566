// Minimum increments: a fixed amount, or a table of increments by price band. Pure arithmetic.
import type { IncrementRule } from "./schemas.js";

/** The smallest step above `price` that the next bid must take. */
export function incrementAt(rule: IncrementRule, price: number): number {
  if (rule.type === "fixed") return rule.amount;
  let step = rule.bands[0]?.increment ?? 1;
  for (const band of rule.bands) {
    if (band.from > price) break;
    step = band.increment;
  }
  return step;
}

/** Why a table of bands is unusable, or null if it is fine. */
export function incrementRuleProblem(rule: IncrementRule): string | null {
  if (rule.type === "fixed") return null;
  if (rule.bands[0]?.from !== 0) return "the first increment band must start at 0";
  for (let index = 1; index < rule.bands.length; index++) {
    if (rule.bands[index]!.from <= rule.bands[index - 1]!.from) {
      return "increment bands must be sorted by `from`, each starting above the one before";
    }
  }
  return null;
}
