// The hand-written fast path for append, append-reply, owner-proposal, and a forwarded bid and its
// result, against zod, its oracle:
// whatever it accepts, zod accepts with the same result (deep-equal and the same JSON text); it
// accepts every valid message of the shapes it covers and leaves every other entry kind to zod.
// Valid messages with realistic bids are generated and then mutated at any depth (keys dropped or
// added, __proto__ included, wrong types, bounds crossed by one); the seed is printed and
// GAVEL_FUZZ_SEED=<n> replays it. Takes two to four seconds.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isPlaceBidBody } from "../../src/core/auction/fast-check.js";
import {
  AMOUNT_MAX,
  auctionCommandSchema,
  limits as auctionLimits,
  TIMESTAMP_MAX,
  userNameSchema,
} from "../../src/core/auction/schemas.js";
import type { EntryData, LogEntry, Message } from "../../src/core/cluster/types.js";
import { decodeMessage, PROTOCOL_VERSION } from "../../src/net/envelope.js";
import { fastValidateMessage } from "../../src/net/fast-validate.js";
import { rejectionReasonSchema } from "../../src/net/outcome-schemas.js";
import { messageSchema, peerLimits } from "../../src/net/schemas.js";
import { fuzzParameters, mutatedJson, mutation } from "./fuzz-support.js";
import type { Mutation } from "./fuzz-support.js";
import { clusterId as sampleClusterId, createBody, sampleBodies } from "./support.js";

// ---- Valid messages of the covered shapes.

const identifierUnits = [..."ABCXYZabcxyz0189._:-"];
const identifier = (lengthMax: number) =>
  fc.string({ unit: fc.constantFrom(...identifierUnits), minLength: 1, maxLength: lengthMax });

const bidderName = fc.oneof(
  fc.integer({ min: 0, max: 999 }).map((n) => `bidder-${n}`),
  fc
    .string({ unit: fc.constantFrom(..."ab zÉü漢-'"), minLength: 1, maxLength: auctionLimits.nameLength })
    .filter((name) => userNameSchema.safeParse(name).success),
);

const positive = fc.oneof(fc.integer({ min: 1, max: 7 }), fc.constant(Number.MAX_SAFE_INTEGER));
const count = fc.oneof(fc.nat({ max: 1_000_000 }), fc.constantFrom(0, Number.MAX_SAFE_INTEGER));
const timestamp = fc.oneof(
  fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }),
  fc.constantFrom(0, TIMESTAMP_MAX),
);
const clockMs = fc.oneof(fc.double({ min: 0, max: TIMESTAMP_MAX, noNaN: true }), timestamp);
const clockDeviationMs = fc.oneof(
  fc.constant(null),
  fc.double({ min: -TIMESTAMP_MAX, max: TIMESTAMP_MAX, noNaN: true }),
);
const amount = fc.oneof(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(1, AMOUNT_MAX));

const bidData: fc.Arbitrary<EntryData> = fc.record({
  kind: fc.constant("auction" as const),
  command: fc.record({
    type: fc.constant("place-bid" as const),
    auctionId: identifier(auctionLimits.idLength),
    bidder: bidderName,
    bidId: identifier(auctionLimits.idLength),
    amount,
    max: fc.oneof(fc.constant(null), amount),
  }),
  owner: positive,
  epoch: positive,
  ref: fc.string({ minLength: 1, maxLength: peerLimits.refLength }),
});

const entryData = fc.oneof(
  { weight: 1, arbitrary: fc.constant<EntryData>({ kind: "noop" }) },
  { weight: 6, arbitrary: bidData },
);

const logEntry: fc.Arbitrary<LogEntry> = fc.record({
  index: count,
  term: count,
  timestampMs: timestamp,
  data: entryData,
});

// The envelope fields come last, unlike the schema, so results cannot follow the input's key order.
const envelopeFields = fc.record({
  clusterId: fc.oneof(
    fc.constant(null),
    fc.constant(sampleClusterId),
    identifier(peerLimits.clusterIdLength),
  ),
  from: positive,
  to: positive,
  term: count,
});

function withEnvelope<T extends object>(body: fc.Arbitrary<T>): fc.Arbitrary<Message> {
  return fc
    .tuple(body, envelopeFields)
    .map(([fields, head]) => ({ ...fields, ...head }) as unknown as Message);
}

const append = withEnvelope(
  fc.record({
    type: fc.constant("append" as const),
    prevIndex: count,
    prevTerm: count,
    entries: fc.array(logEntry, { maxLength: 12 }),
    commitIndex: count,
    leaderTimeMs: clockMs,
    clockDeviationMs,
    readSeq: count,
  }),
);

const appendReply = withEnvelope(
  fc.record({
    type: fc.constant("append-reply" as const),
    success: fc.boolean(),
    matchIndex: count,
    rejectedIndex: count,
    hintIndex: count,
    echoTimeMs: clockMs,
    followerTimeMs: clockMs,
    readSeq: count,
  }),
);

const ownerProposal = withEnvelope(
  fc.record({ type: fc.constant("owner-proposal" as const), entries: fc.array(bidData, { maxLength: 12 }) }),
);

const bidCommand = bidData.map((data) => (data as Extract<EntryData, { kind: "auction" }>).command);

const forward = withEnvelope(
  fc.record({
    type: fc.constant("forward" as const),
    origin: positive,
    requestId: fc.string({ minLength: 1, maxLength: peerLimits.requestIdLength }),
    request: fc.record({ kind: fc.constant("auction" as const), command: bidCommand }),
    hops: fc.nat({ max: peerLimits.forwardHopsMax }),
    minIndex: count,
  }),
);

const anyId = fc.string({ minLength: 1, maxLength: auctionLimits.idLength });
const bidLine = fc.record({
  bidId: anyId,
  bidder: bidderName,
  amount,
  timestampMs: timestamp,
  automatic: fc.boolean(),
});
const bidAccepted = fc.record({
  type: fc.constant("bid-accepted" as const),
  timestampMs: timestamp,
  auctionId: anyId,
  bidId: anyId,
  bidder: bidderName,
  amount,
  max: fc.oneof(fc.constant(null), amount),
  lines: fc.array(bidLine, { maxLength: 3 }),
  price: amount,
  leader: bidderName,
  leaderMax: amount,
  leaderBidId: anyId,
  boughtNow: fc.boolean(),
  previousLeader: fc.oneof(fc.constant(null), bidderName),
});
const acceptedBid = fc.record({
  auctionId: anyId,
  bidId: anyId,
  bidder: bidderName,
  amount,
  max: fc.oneof(fc.constant(null), amount),
  timestampMs: timestamp,
  priceAfter: amount,
  leaderAfter: bidderName,
  boughtNow: fc.boolean(),
});
const rejectionReasons = rejectionReasonSchema.options;
const bidOutcome = fc.oneof(
  fc.record(
    {
      ok: fc.constant(true),
      events: fc.array(bidAccepted, { maxLength: 2 }),
      bid: acceptedBid,
      duplicate: fc.boolean(),
    },
    { requiredKeys: ["ok", "events"] },
  ),
  fc.record({
    ok: fc.constant(false),
    reason: fc.constantFrom(...rejectionReasons),
    message: fc.string({ maxLength: 40 }),
  }),
);
const bidResult = fc.oneof(
  fc.record({
    ok: fc.constant(true),
    kind: fc.constant("applied"),
    index: count,
    result: fc.record({ kind: fc.constant("auction"), auctionId: anyId, outcome: bidOutcome }),
  }),
  fc.record({ ok: fc.constant(true), kind: fc.constant("decided"), outcome: bidOutcome }),
);

const forwardResult = withEnvelope(
  fc.record({
    type: fc.constant("forward-result" as const),
    requestId: fc.string({ minLength: 1, maxLength: peerLimits.requestIdLength }),
    result: bidResult,
  }),
);

const coveredMessage = fc.oneof(append, appendReply, ownerProposal, forward, forwardResult);

// ---- Mutations, aimed at the message itself, one of its entries, that entry's data or its bid.

/** Values just inside and just outside the bounds the schemas set. */
const boundaryValues: Extract<Mutation, { kind: "replace" }>["value"][] = [
  0,
  1,
  -1,
  0.5,
  TIMESTAMP_MAX,
  TIMESTAMP_MAX + 1,
  TIMESTAMP_MAX + 0.5,
  -TIMESTAMP_MAX,
  -TIMESTAMP_MAX - 1,
  AMOUNT_MAX,
  AMOUNT_MAX + 1,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  "",
  " ",
  // Each text bound, met and crossed by one.
  ...[
    auctionLimits.idLength,
    peerLimits.refLength,
    auctionLimits.nameLength,
    peerLimits.clusterIdLength,
    peerLimits.requestIdLength,
    peerLimits.detailLength,
  ].flatMap((length) => ["x".repeat(length), "x".repeat(length + 1)]),
  peerLimits.forwardHopsMax,
  peerLimits.forwardHopsMax + 1,
  "bid-accepted",
  "auction-extended",
  "applied",
  "decided",
  "below-minimum",
  " bea",
  "bea ",
  "b\u0000a",
  "a/b",
  "é",
  "__proto__",
  "noop",
  "auction",
  "place-bid",
  "cancel-auction",
  null,
  true,
  [],
  {},
];

/** What to do; its path is replaced by an aimed one. */
const mutationKind: fc.Arbitrary<Mutation> = fc.oneof(
  mutation,
  fc.record({
    kind: fc.constant("replace" as const),
    path: fc.constant<number[]>([]),
    value: fc.constantFrom(...boundaryValues),
  }),
  fc.record({
    kind: fc.constant("add-key" as const),
    path: fc.constant<number[]>([]),
    key: fc.constantFrom("__proto__", "extra"),
    value: fc.constantFrom(null, 1, "x"),
  }),
  fc.record({ kind: fc.constant("remove" as const), path: fc.constant<number[]>([]) }),
);

/** Where: how far down the route to an entry's bid, which entry, and then a few free choices. */
interface Aim {
  depth: number;
  entry: number;
  suffix: number[];
}

const aim: fc.Arbitrary<Aim> = fc.record({
  depth: fc.nat({ max: 7 }),
  entry: fc.nat(),
  suffix: fc.array(fc.nat(), { maxLength: 2 }),
});

/** The way down to what a message carries deepest: an entry's bid, a forwarded bid, a result's bid line. */
function routeOf(message: Message): string[] {
  switch (message.type) {
    case "append":
      return ["entries", "#", "data", "command"];
    case "forward":
      return ["request", "command"];
    case "forward-result":
      return message.result.ok && message.result.kind === "applied"
        ? ["result", "result", "outcome", "events", "#", "lines", "#"]
        : ["result", "outcome", "events", "#", "lines", "#"];
    default:
      return ["entries", "#", "command"];
  }
}

/**
 * The path of choices (child positions, as mutatedJson reads them) down to the message itself, or
 * part of the way along its route (routeOf), followed by the aim's free choices.
 */
function aimedPath(message: Message, { depth, entry, suffix }: Aim): number[] {
  const route = routeOf(message);
  const path: number[] = [];
  let node: unknown = message;
  for (const step of route.slice(0, depth)) {
    if (node === null || typeof node !== "object") break;
    const keys = Object.keys(node);
    const key = step === "#" ? String(entry % Math.max(1, keys.length)) : step;
    if (!keys.includes(key)) break;
    path.push(keys.indexOf(key));
    node = (node as Record<string, unknown>)[key];
  }
  return [...path, ...suffix];
}

function aimed(message: Message, steps: readonly [Mutation, Aim][]): Mutation[] {
  return steps.map(([step, where]) => ("path" in step ? { ...step, path: aimedPath(message, where) } : step));
}

// ---- Checks.

interface Tally {
  mutated: number;
  rejectedByZod: number;
  acceptedByFastPath: number;
}

/**
 * Checks one payload, given as JSON text (so `__proto__` keys survive): if the fast path answers,
 * zod accepts and gives the same value and text; decodeMessage agrees with zod either way.
 */
function checkAgainstZod(text: string): { zodOk: boolean; fastOk: boolean } | null {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return null; // cut short or NaN: refused before validation
  }
  const fast = fastValidateMessage(payload);
  const zod = messageSchema.safeParse(JSON.parse(text));
  if (fast !== undefined) {
    assert.ok(zod.success, `the fast path accepted what zod refuses: ${text.slice(0, 300)}`);
    assert.deepStrictEqual(fast, zod.data);
    assert.equal(JSON.stringify(fast), JSON.stringify(zod.data));
  }
  const decoded = decodeMessage(Buffer.from(`{"v":${PROTOCOL_VERSION},"m":${text}}`, "utf8"));
  if (zod.success) assert.deepStrictEqual(decoded, { ok: true, value: zod.data });
  else assert.equal(decoded.ok, false);
  return { zodOk: zod.success, fastOk: fast !== undefined };
}

test("the fast path accepts every valid append, append-reply, owner-proposal, forwarded bid and its result, as zod does", () => {
  fc.assert(
    fc.property(coveredMessage, (message) => {
      const outcome = checkAgainstZod(JSON.stringify(message));
      assert.deepEqual(outcome, { zodOk: true, fastOk: true });
    }),
    fuzzParameters("fast path on valid messages", 1000),
  );
});

test("mutated messages: whatever the fast path accepts, zod accepts with the same result", () => {
  const tally: Tally = { mutated: 0, rejectedByZod: 0, acceptedByFastPath: 0 };
  fc.assert(
    fc.property(
      coveredMessage,
      fc.array(fc.tuple(mutationKind, aim), { minLength: 1, maxLength: 3 }),
      (message, steps) => {
        const outcome = checkAgainstZod(mutatedJson(message, aimed(message, steps)));
        if (outcome === null) return;
        tally.mutated++;
        if (!outcome.zodOk) tally.rejectedByZod++;
        if (outcome.fastOk) tally.acceptedByFastPath++;
      },
    ),
    fuzzParameters("fast path on mutated messages", 3000),
  );
  console.log(
    `mutated ${tally.mutated}: zod refused ${tally.rejectedByZod}, fast path took ${tally.acceptedByFastPath}`,
  );
  // Not vacuous: most mutations make a message invalid, and some leave it valid and fast.
  assert.ok(tally.rejectedByZod >= tally.mutated * 0.4, "a good share of mutations are refused by zod");
  assert.ok(tally.acceptedByFastPath > 0, "some mutated messages stay valid and take the fast path");
});

/** Fixed valid messages of the covered shapes, every field set (clockDeviationMs and max not null). */
function fixedMessages(): Message[] {
  const bid = {
    type: "place-bid",
    auctionId: "lot-7",
    bidder: "Zoë Müller",
    bidId: "b.1:x",
    amount: 1250,
    max: 2000,
  };
  const data = { kind: "auction", command: bid, owner: 2, epoch: 3, ref: "2.9.1" };
  const head = { clusterId: sampleClusterId, from: 3, to: 1, term: 4 };
  const line = {
    bidId: "b.1:x",
    bidder: "Zoë Müller",
    amount: 1250,
    timestampMs: 1_700_000_000_002,
    automatic: false,
  };
  const accepted = {
    ok: true,
    events: [
      {
        type: "bid-accepted",
        timestampMs: 1_700_000_000_002,
        auctionId: "lot-7",
        bidId: "b.1:x",
        bidder: "Zoë Müller",
        amount: 1250,
        max: 2000,
        lines: [line, { ...line, bidId: "p.1", bidder: "sam", amount: 1300, automatic: true }],
        price: 1300,
        leader: "sam",
        leaderMax: 5000,
        leaderBidId: "p.1",
        boughtNow: false,
        previousLeader: "sam",
      },
    ],
    bid: {
      auctionId: "lot-7",
      bidId: "b.1:x",
      bidder: "Zoë Müller",
      amount: 1250,
      max: 2000,
      timestampMs: 1_700_000_000_002,
      priceAfter: 1300,
      leaderAfter: "sam",
      boughtNow: false,
    },
  };
  const bodies = [
    {
      type: "append",
      prevIndex: 10,
      prevTerm: 4,
      entries: [
        { index: 11, term: 4, timestampMs: 1_700_000_000_000, data: { kind: "noop" } },
        { index: 12, term: 4, timestampMs: 1_700_000_000_001, data },
      ],
      commitIndex: 10,
      leaderTimeMs: 12.5,
      clockDeviationMs: -3.25,
      readSeq: 9,
    },
    {
      type: "append-reply",
      success: false,
      matchIndex: 12,
      rejectedIndex: 10,
      hintIndex: 8,
      echoTimeMs: 12.5,
      followerTimeMs: 14,
      readSeq: 9,
    },
    { type: "owner-proposal", entries: [data, { ...data, command: { ...bid, bidId: "b2", max: null } }] },
    {
      type: "forward",
      origin: 2,
      requestId: "r7",
      request: { kind: "auction", command: bid },
      hops: 1,
      minIndex: 40,
    },
    {
      type: "forward-result",
      requestId: "r7",
      result: {
        ok: true,
        kind: "applied",
        index: 41,
        result: { kind: "auction", auctionId: "lot-7", outcome: accepted },
      },
    },
    {
      type: "forward-result",
      requestId: "r8",
      result: { ok: true, kind: "decided", outcome: { ...accepted, duplicate: true } },
    },
    {
      type: "forward-result",
      requestId: "r9",
      result: {
        ok: true,
        kind: "decided",
        outcome: { ok: false, reason: "below-minimum", message: "at least 1300" },
      },
    },
  ];
  return bodies.map((body) => ({ ...head, ...body }) as unknown as Message);
}

/** Every path of child positions (as mutatedJson reads them) in `value`, containers included. */
function indexPaths(value: unknown, prefix: number[] = []): number[][] {
  if (value === null || typeof value !== "object") return [];
  return Object.values(value).flatMap((child: unknown, position) => [
    [...prefix, position],
    ...indexPaths(child, [...prefix, position]),
  ]);
}

test("every field set to each boundary value, removed, or joined by an extra key: the fast path decides as zod does", () => {
  let checked = 0;
  let refused = 0;
  for (const message of fixedMessages()) {
    assert.deepEqual(checkAgainstZod(JSON.stringify(message)), { zodOk: true, fastOk: true });
    for (const path of [[], ...indexPaths(message)]) {
      const steps: Mutation[] = [
        { kind: "remove", path },
        { kind: "add-key", path, key: "__proto__", value: null },
        { kind: "add-key", path, key: "extra", value: 1 },
        ...boundaryValues.map((value) => ({ kind: "replace" as const, path, value })),
      ];
      for (const step of steps) {
        const outcome = checkAgainstZod(mutatedJson(message, [step]));
        assert.ok(outcome !== null);
        // One change leaves the message of a covered shape (or invalid): the fast path takes all that is valid.
        assert.equal(outcome.fastOk, outcome.zodOk, JSON.stringify(step).slice(0, 200));
        checked++;
        if (!outcome.zodOk) refused++;
      }
    }
  }
  assert.ok(refused >= checked * 0.5, `zod refused ${refused} of ${checked}`);
});

/** Valid entry data the fast path does not cover: every other kind, and owner commands other than bids. */
const otherData: EntryData[] = [
  ...sampleBodies().flatMap((body) =>
    body.type === "owner-proposal"
      ? body.entries.filter((data) => data.kind !== "noop" && data.kind !== "auction")
      : [],
  ),
  { kind: "create", command: createBody, owner: 2 },
  {
    kind: "auction",
    command: { type: "cancel-auction", auctionId: "a1", by: "sam" },
    owner: 2,
    epoch: 1,
    ref: "r",
  },
  { kind: "auction", command: { type: "close-auction", auctionId: "a1" }, owner: 2, epoch: 1, ref: "r" },
  { kind: "session-end", tokenHash: "ab12" },
  { kind: "worker-state", id: 3, drained: true },
];

test("an entry of any other kind leaves the message to zod, which accepts it", () => {
  assert.ok(otherData.length >= 6);
  const withOther = fc.tuple(fc.oneof(append, ownerProposal), fc.constantFrom(...otherData), fc.nat());
  fc.assert(
    fc.property(withOther, ([message, data, at]) => {
      const changed = structuredClone(message) as Message & { entries: unknown[] };
      const other = changed.type === "append" ? { index: 1, term: 1, timestampMs: 5, data } : data;
      changed.entries.splice(at % (changed.entries.length + 1), 0, other);
      assert.deepEqual(checkAgainstZod(JSON.stringify(changed)), { zodOk: true, fastOk: false });
    }),
    fuzzParameters("fast path leaves other entries to zod", 300),
  );
  const noopProposal = {
    type: "owner-proposal",
    entries: [{ kind: "noop" }],
    clusterId: null,
    from: 1,
    to: 2,
    term: 1,
  };
  assert.deepEqual(checkAgainstZod(JSON.stringify(noopProposal)), { zodOk: true, fastOk: false });
});

/** Valid forwards and results the fast path does not cover: other requests, results and events. */
const otherForwards: object[] = [
  {
    type: "forward",
    origin: 2,
    requestId: "r1",
    request: { kind: "auction", command: { type: "close-auction", auctionId: "a1" } },
    hops: 0,
    minIndex: 0,
  },
  {
    type: "forward",
    origin: 2,
    requestId: "r2",
    request: { kind: "create", command: createBody },
    hops: 0,
    minIndex: 0,
  },
  { type: "forward-result", requestId: "r3", result: { ok: true, kind: "read", index: 4 } },
  {
    type: "forward-result",
    requestId: "r4",
    result: { ok: false, reason: "unavailable", detail: "", leaderId: null },
  },
  {
    type: "forward-result",
    requestId: "r5",
    result: { ok: true, kind: "applied", index: 4, result: { kind: "user", name: "bea", created: true } },
  },
  {
    type: "forward-result",
    requestId: "r6",
    result: {
      ok: true,
      kind: "decided",
      outcome: {
        ok: true,
        events: [{ type: "auction-extended", timestampMs: 5, auctionId: "a1", closesAt: 9 }],
      },
    },
  },
];

test("a forward of any other request, or a result of any other kind, is left to zod, which accepts it", () => {
  assert.ok(otherForwards.length >= 6);
  for (const body of otherForwards) {
    const message = { clusterId: null, from: 1, to: 2, term: 1, ...body };
    assert.deepEqual(
      checkAgainstZod(JSON.stringify(message)),
      { zodOk: true, fastOk: false },
      JSON.stringify(body),
    );
  }
});

test("a __proto__ key at any level makes the fast path step aside, and zod refuses", () => {
  const bid = '{"type":"place-bid","auctionId":"a1","bidder":"bea","bidId":"b1","amount":5,"max":null}';
  const data = `{"kind":"auction","command":${bid},"owner":2,"epoch":1,"ref":"r"}`;
  const entry = `{"index":1,"term":1,"timestampMs":5,"data":${data}}`;
  const head = '"clusterId":null,"from":1,"to":2,"term":1,"type":"append","prevIndex":0,"prevTerm":0';
  const tail = '"commitIndex":0,"leaderTimeMs":1,"clockDeviationMs":null,"readSeq":0';
  const valid = `{${head},"entries":[${entry}],${tail}}`;
  assert.deepEqual(checkAgainstZod(valid), { zodOk: true, fastOk: true });
  const polluted = [
    valid.replace('"clusterId"', '"__proto__":{},"clusterId"'),
    valid.replace('"index"', '"__proto__":null,"index"'),
    valid.replace('"kind"', '"__proto__":{"polluted":true},"kind"'),
    valid.replace('"type":"place-bid"', '"type":"place-bid","__proto__":1'),
  ];
  for (const text of polluted) assert.deepEqual(checkAgainstZod(text), { zodOk: false, fastOk: false }, text);
});

test("entries up to the peer limit take the fast path; one more is refused", () => {
  const proposal = (entries: number) => ({
    type: "owner-proposal",
    entries: Array.from({ length: entries }, (_, i) => ({
      kind: "auction",
      command: {
        type: "place-bid",
        auctionId: "a1",
        bidder: "bea",
        bidId: `b${i}`,
        amount: 1 + i,
        max: null,
      },
      owner: 2,
      epoch: 1,
      ref: `r${i}`,
    })),
    clusterId: sampleClusterId,
    from: 1,
    to: 2,
    term: 3,
  });
  const limit = peerLimits.entriesPerMessageMax;
  assert.deepEqual(checkAgainstZod(JSON.stringify(proposal(limit))), { zodOk: true, fastOk: true });
  assert.deepEqual(checkAgainstZod(JSON.stringify(proposal(limit + 1))), { zodOk: false, fastOk: false });
});

test("the core's bid check (an owner's queue takes bids by it): each field at each boundary, removed, or joined by a key decides as zod does", () => {
  const commands = fc.sample(
    bidData.map((data) => (data as Extract<EntryData, { kind: "auction" }>).command),
    { numRuns: 20, seed: 7 },
  );
  let checked = 0;
  let refused = 0;
  for (const command of commands) {
    const variants: unknown[] = [
      command,
      { ...command, extra: 1 },
      JSON.parse(`{"__proto__":null,${JSON.stringify(command).slice(1)}`),
    ];
    for (const key of Object.keys(command)) {
      const { [key]: _removed, ...without } = command as Record<string, unknown>;
      variants.push(without);
      for (const value of boundaryValues) variants.push({ ...command, [key]: value });
    }
    for (const variant of variants) {
      const zodOk = auctionCommandSchema.safeParse({ ...(variant as object), timestampMs: 0 }).success;
      assert.equal(isPlaceBidBody(variant), zodOk, JSON.stringify(variant).slice(0, 200));
      checked++;
      if (!zodOk) refused++;
    }
  }
  assert.ok(refused >= checked * 0.5, `zod refused ${refused} of ${checked}`);
});
