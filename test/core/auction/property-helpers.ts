// Seeds for property tests: every run prints the seed it uses, and `FC_SEED=<n>` replays that run
// exactly (`FC_RUNS=<n>` changes how many cases it tries). Tests never draw seeds any other way.
import type fc from "fast-check";

function integerFromEnvironment(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value))
    throw new Error(`${name} must be an integer, got ${JSON.stringify(text)}`);
  return value;
}

/** Parameters for fc.assert: the seed from FC_SEED or a fresh one, printed either way. */
export function propertyParameters<T>(numRuns = 100): fc.Parameters<T> {
  const seed = integerFromEnvironment("FC_SEED") ?? Math.floor(Math.random() * 2 ** 31);
  console.log(`seed=${seed} (replay with FC_SEED=${seed})`);
  return { seed, numRuns: integerFromEnvironment("FC_RUNS") ?? numRuns };
}
