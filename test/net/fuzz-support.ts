// What the fuzzers share: the seed (printed by every fuzz test, `GAVEL_FUZZ_SEED=<n>` replays it,
// `FC_SEED` too), and hostile mutations of valid JSON documents: fields replaced by wrong types,
// NaN, ±Infinity, negative, huge or fractional numbers, long strings, removed fields, extra
// `__proto__`, `constructor` and `prototype` keys, and texts cut short. Mutations produce JSON text,
// since NaN, Infinity and own `__proto__` keys cannot be written by JSON.stringify.
import fc from "fast-check";

function integerFromEnvironment(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value))
    throw new Error(`${name} must be an integer, got ${JSON.stringify(text)}`);
  return value;
}

/** The seed of this run: GAVEL_FUZZ_SEED (or FC_SEED), else a fresh one. Printed with `label`. */
export function fuzzSeed(label: string): number {
  const seed =
    integerFromEnvironment("GAVEL_FUZZ_SEED") ??
    integerFromEnvironment("FC_SEED") ??
    Math.floor(Math.random() * 2 ** 31);
  console.log(`${label}: seed=${seed} (replay with GAVEL_FUZZ_SEED=${seed})`);
  return seed;
}

/** Parameters for fc.assert: the printed seed and `numRuns` (GAVEL_FUZZ_RUNS overrides it). */
export function fuzzParameters<T>(label: string, numRuns: number): fc.Parameters<T> {
  return { seed: fuzzSeed(label), numRuns: integerFromEnvironment("GAVEL_FUZZ_RUNS") ?? numRuns };
}

/** `count` values of `arbitrary` drawn from `seed`: inputs for fuzzers that run against live servers. */
export function drawn<T>(arbitrary: fc.Arbitrary<T>, seed: number, count: number): T[] {
  return fc.sample(arbitrary, { seed, numRuns: integerFromEnvironment("GAVEL_FUZZ_RUNS") ?? count });
}

/** A JSON token written as is (NaN, 1e999, -0, ...): JSON.stringify cannot produce these. */
class Raw {
  constructor(readonly text: string) {}
}

type Tree = Raw | null | boolean | number | string | Tree[] | { [key: string]: Tree };

/** Raw number texts a JSON parser may turn into NaN (refused), ±Infinity, -0 or imprecise integers. */
export const hostileNumberTexts = [
  "NaN",
  "Infinity",
  "-Infinity",
  "1e999",
  "-1e999",
  "-0",
  "-1",
  "0.5",
  "1e-7",
  "9007199254740992",
  "9007199254740993",
  "18446744073709551616",
  "1e308",
  "-9007199254740993",
];

/** Values that replace a field: wrong types, hostile numbers, long strings, prototype keys. */
export const hostileValue: fc.Arbitrary<Tree> = fc.oneof(
  fc.constantFrom(...hostileNumberTexts).map((text) => new Raw(text)),
  fc.constantFrom<Tree>(
    null,
    true,
    "",
    "__proto__",
    "constructor",
    [],
    {},
    0,
    -1,
    2 ** 31,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    1.5,
  ),
  fc.integer({ min: 1, max: 70_000 }).map((length) => "x".repeat(length)),
  fc.string({ maxLength: 20, unit: "binary" }),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Tree>,
);

const prototypeKeys = ["__proto__", "constructor", "prototype"];

/** One mutation of a document: where (a path of choices, reduced modulo the shape) and what. */
export type Mutation =
  | { kind: "replace"; path: number[]; value: Tree }
  | { kind: "remove"; path: number[] }
  | { kind: "add-key"; path: number[]; key: string; value: Tree }
  | { kind: "truncate"; at: number }
  | { kind: "wrap"; value: Tree };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("replace" as const),
      path: pathArbitrary(),
      value: hostileValue,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), path: pathArbitrary() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("add-key" as const),
      path: pathArbitrary(),
      key: fc.oneof(fc.constantFrom(...prototypeKeys), fc.string({ maxLength: 8 })),
      value: fc.oneof(hostileValue, fc.constant<Tree>({ polluted: true, isAdmin: true })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("wrap" as const), value: hostileValue }) },
);

function pathArbitrary(): fc.Arbitrary<number[]> {
  return fc.array(fc.nat(), { minLength: 0, maxLength: 4 });
}

/** The JSON text of `document` after `mutations`, applied in order. */
export function mutatedJson(document: unknown, mutations: readonly Mutation[]): string {
  let tree = cloneTree(document as Tree);
  let cut: number | null = null;
  for (const step of mutations) {
    if (step.kind === "truncate") cut = step.at;
    else if (step.kind === "wrap") tree = [tree, cloneTree(step.value)];
    else if (step.kind === "remove") tree = mutateAt(tree, step.path, step);
    else tree = mutateAt(tree, step.path, { ...step, value: cloneTree(step.value) });
  }
  const text = serialize(tree);
  return cut === null ? text : text.slice(0, cut % Math.max(1, text.length));
}

/** Applies `step` at the container that `path` leads to (each choice taken modulo its children). */
function mutateAt(
  tree: Tree,
  path: readonly number[],
  step: Exclude<Mutation, { kind: "truncate" | "wrap" }>,
): Tree {
  if (path.length === 0 || !isContainer(tree) || childKeys(tree).length === 0) return applyHere(tree, step);
  const keys = childKeys(tree);
  const key = keys[path[0]! % keys.length]!;
  const child = (tree as Record<string, Tree>)[key]!;
  if (path.length > 1 && isContainer(child) && childKeys(child).length > 0) {
    setChild(tree, key, mutateAt(child, path.slice(1), step));
    return tree;
  }
  if (step.kind === "replace") setChild(tree, key, step.value);
  else if (step.kind === "remove") removeChild(tree, key);
  else setChild(tree, key, applyHere(child, step));
  return tree;
}

function applyHere(tree: Tree, step: Exclude<Mutation, { kind: "truncate" | "wrap" }>): Tree {
  if (step.kind === "replace") return step.value;
  if (step.kind === "remove") return null;
  if (tree === null || typeof tree !== "object" || tree instanceof Raw || Array.isArray(tree)) return tree;
  // defineProperty: a plain assignment to "__proto__" would set the prototype, not an own key.
  Object.defineProperty(tree, step.key, {
    value: step.value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return tree;
}

/** A deep copy: generated values are shared between runs and must never be changed in place. */
function cloneTree(tree: Tree): Tree {
  if (tree instanceof Raw || tree === null || typeof tree !== "object") return tree;
  if (Array.isArray(tree)) return tree.map(cloneTree);
  const copy: { [key: string]: Tree } = {};
  for (const key of Object.keys(tree)) setChild(copy, key, cloneTree(tree[key]!));
  return copy;
}

function isContainer(tree: Tree): tree is Tree[] | { [key: string]: Tree } {
  return tree !== null && typeof tree === "object" && !(tree instanceof Raw);
}

function childKeys(tree: Tree[] | { [key: string]: Tree }): string[] {
  return Object.keys(tree);
}

function setChild(tree: Tree, key: string, value: Tree): void {
  Object.defineProperty(tree, key, { value, enumerable: true, writable: true, configurable: true });
}

function removeChild(tree: Tree, key: string): void {
  if (Array.isArray(tree)) tree.splice(Number(key), 1);
  else delete (tree as Record<string, Tree>)[key];
}

/** JSON text of `tree`, with Raw tokens verbatim and own `__proto__` keys kept. */
export function serialize(tree: Tree): string {
  if (tree instanceof Raw) return tree.text;
  if (Array.isArray(tree)) return `[${tree.map(serialize).join(",")}]`;
  if (tree !== null && typeof tree === "object")
    return `{${Object.keys(tree)
      .map((key) => `${JSON.stringify(key)}:${serialize(tree[key]!)}`)
      .join(",")}}`;
  return JSON.stringify(tree);
}

/** A document and the mutations to apply to it (one to three). */
export function mutationsOf<T>(
  documents: readonly T[],
): fc.Arbitrary<{ document: T; mutations: Mutation[] }> {
  return fc.record({
    document: fc.constantFrom(...documents),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
  });
}

/** Throws unless no object in `value` has an own `__proto__` key or a prototype other than Object's or Array's. */
export function assertPlain(value: unknown, where = "value"): void {
  if (value === null || typeof value !== "object") return;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== Array.prototype && prototype !== null)
    throw new Error(`${where} has an unexpected prototype`);
  if (Object.hasOwn(value, "__proto__")) throw new Error(`${where} carries an own __proto__ key`);
  for (const [key, child] of Object.entries(value)) assertPlain(child, `${where}.${key}`);
}

/** Throws if anything was written onto Object.prototype (prototype pollution). */
export function assertPrototypeClean(): void {
  const probe = {} as Record<string, unknown>;
  for (const key of ["polluted", "isAdmin"]) {
    if (probe[key] !== undefined) throw new Error(`Object.prototype was polluted with ${key}`);
  }
}
