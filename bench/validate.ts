// Time to validate one peer message of the common kinds, parsed from prepared bytes: JSON.parse alone,
// then followed by the hand-written fast check, then by zod (what decodeMessage ran before), and
// decodeMessage whole. In one process; prints one line per message kind.
// `node dist/bench/validate.js [--rounds 2000] [--entries 32]`.
import { parseArgs } from "node:util";
import type { EntryData, Message } from "../src/core/cluster/types.js";
import { decodeMessage, encodeMessage } from "../src/net/envelope.js";
import { fastValidateMessage } from "../src/net/fast-validate.js";
import { messageSchema } from "../src/net/schemas.js";

const head = { clusterId: "11111111-2222-4333-8444-555555555555", from: 3, to: 1, term: 4 };

function bid(sequence: number): EntryData {
  const command = {
    type: "place-bid" as const,
    auctionId: `lot-${sequence % 1000}`,
    bidder: `bidder-${sequence % 64}`,
    bidId: `b-${sequence}`,
    amount: 100 + sequence,
    max: null,
  };
  return { kind: "auction", command, owner: 2, epoch: 1, ref: `2.7.${sequence}` };
}

function samples(entryCount: number): { name: string; message: Message }[] {
  const bids = Array.from({ length: entryCount }, (_, i) => bid(i));
  const entries = bids.map((data, i) => ({ index: 100 + i, term: 4, timestampMs: 1_700_000_000_000, data }));
  const append: Message = {
    ...head,
    type: "append",
    prevIndex: 99,
    prevTerm: 4,
    entries,
    commitIndex: 99,
    leaderTimeMs: 12.5,
    clockDeviationMs: -0.5,
    readSeq: 7,
  };
  const appendReply: Message = {
    ...head,
    type: "append-reply",
    success: true,
    matchIndex: 99 + entryCount,
    rejectedIndex: 0,
    hintIndex: 0,
    echoTimeMs: 12.5,
    followerTimeMs: 13,
    readSeq: 7,
  };
  return [
    { name: `append of ${entryCount} bids`, message: append },
    { name: "append-reply", message: appendReply },
    {
      name: `owner-proposal of ${entryCount} bids`,
      message: { ...head, type: "owner-proposal", entries: bids },
    },
  ];
}

/** Microseconds per call of `decode` over `rounds` calls, after as many untimed ones. */
function microsecondsPerCall(decode: () => boolean, rounds: number): number {
  for (let i = 0; i < rounds; i++) if (!decode()) throw new Error("a sample did not decode");
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) decode();
  return Number(process.hrtime.bigint() - started) / 1000 / rounds;
}

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "2000" }, entries: { type: "string", default: "32" } },
});
const rounds = Number(values.rounds);
const entryCount = Number(values.entries);
for (const { name, message } of samples(entryCount)) {
  const body = encodeMessage(message);
  const parse = () => (JSON.parse(body.toString("utf8")) as { m: unknown }).m;
  const times = [
    ["JSON.parse", microsecondsPerCall(() => parse() !== undefined, rounds)],
    ["+ fast check", microsecondsPerCall(() => fastValidateMessage(parse()) !== undefined, rounds)],
    ["+ zod", microsecondsPerCall(() => messageSchema.safeParse(parse()).success, rounds)],
    ["decodeMessage", microsecondsPerCall(() => decodeMessage(body).ok, rounds)],
  ] as const;
  console.log(`${name}: ${times.map(([what, us]) => `${what} ${us.toFixed(1)} µs`).join(", ")}`);
}
