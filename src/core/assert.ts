// Assertions for broken invariants: a failed assertion is a bug, and the process must stop rather
// than carry on with state it can no longer trust. Expected outcomes are values, never assertions.

/** Thrown when an invariant does not hold. Never caught by gavel's own code. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Crashes with `why` unless `condition` holds. */
export function assert(condition: unknown, why: string): asserts condition {
  if (!condition) throw new AssertionError(why);
}

/** Marks a branch that the type system proves unreachable. */
export function unreachable(value: never, why = "unreachable"): never {
  throw new AssertionError(`${why}: ${JSON.stringify(value)}`);
}
