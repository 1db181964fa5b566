// A hand-written fast path beside the zod schemas, for the peer messages that make up nearly all
// traffic: append (with noop and bid entries), append-reply and owner-proposal (of bids). It returns
// a message only when it is certain that `messageSchema` accepts the payload, built as zod builds
// its result (fresh objects, keys in schema order), and `undefined` ("not sure") for anything else,
// which then goes through zod. It must never accept what zod refuses; it may refuse what zod accepts.
import { hasExactly, isObject, isPlaceBidBody, isPositiveInt, isText } from "../core/auction/fast-check.js";
import type { Fields } from "../core/auction/fast-check.js";
import { TIMESTAMP_MAX } from "../core/auction/schemas.js";
import type { EntryData, LogEntry, Message, OwnerCommandBody } from "../core/cluster/types.js";
import { clusterIdPattern, peerLimits } from "./schema-parts.js";

type Envelope = Pick<Message, "clusterId" | "from" | "to" | "term">;
type BidBody = Extract<OwnerCommandBody, { type: "place-bid" }>;

const envelopeKeys = ["clusterId", "from", "to", "term"];

/** The payload as a message, if it is one of the covered shapes and certainly valid; else undefined. */
export function fastValidateMessage(payload: unknown): Message | undefined {
  if (!isObject(payload)) return undefined;
  switch (payload["type"]) {
    case "append":
      return append(payload);
    case "append-reply":
      return appendReply(payload);
    case "owner-proposal":
      return ownerProposal(payload);
    default:
      return undefined;
  }
}

const appendKeys = new Set([
  ...envelopeKeys,
  "type",
  "prevIndex",
  "prevTerm",
  "entries",
  "commitIndex",
  "leaderTimeMs",
  "clockDeviationMs",
  "readSeq",
]);

function append(object: Fields): Message | undefined {
  if (!hasExactly(object, appendKeys)) return undefined;
  const head = envelope(object);
  const { prevIndex, prevTerm, commitIndex, leaderTimeMs, clockDeviationMs, readSeq } = object;
  if (head === undefined || !isCount(prevIndex) || !isCount(prevTerm) || !isCount(commitIndex))
    return undefined;
  if (!isClockMs(leaderTimeMs) || !isCount(readSeq)) return undefined;
  if (clockDeviationMs !== null && !isClockDeviationMs(clockDeviationMs)) return undefined;
  const entries = listOf(object["entries"], logEntry);
  if (entries === undefined) return undefined;
  const { clusterId, from, to, term } = head;
  return {
    clusterId,
    from,
    to,
    term,
    type: "append",
    prevIndex,
    prevTerm,
    entries,
    commitIndex,
    leaderTimeMs,
    clockDeviationMs,
    readSeq,
  };
}

const appendReplyKeys = new Set([
  ...envelopeKeys,
  "type",
  "success",
  "matchIndex",
  "rejectedIndex",
  "hintIndex",
  "echoTimeMs",
  "followerTimeMs",
  "readSeq",
]);

function appendReply(object: Fields): Message | undefined {
  if (!hasExactly(object, appendReplyKeys)) return undefined;
  const head = envelope(object);
  const { success, matchIndex, rejectedIndex, hintIndex, echoTimeMs, followerTimeMs, readSeq } = object;
  if (head === undefined || typeof success !== "boolean") return undefined;
  if (!isCount(matchIndex) || !isCount(rejectedIndex) || !isCount(hintIndex) || !isCount(readSeq))
    return undefined;
  if (!isClockMs(echoTimeMs) || !isClockMs(followerTimeMs)) return undefined;
  const { clusterId, from, to, term } = head;
  return {
    clusterId,
    from,
    to,
    term,
    type: "append-reply",
    success,
    matchIndex,
    rejectedIndex,
    hintIndex,
    echoTimeMs,
    followerTimeMs,
    readSeq,
  };
}

const ownerProposalKeys = new Set([...envelopeKeys, "type", "entries"]);

function ownerProposal(object: Fields): Message | undefined {
  if (!hasExactly(object, ownerProposalKeys)) return undefined;
  const head = envelope(object);
  const entries = listOf(object["entries"], auctionData);
  if (head === undefined || entries === undefined) return undefined;
  const { clusterId, from, to, term } = head;
  return { clusterId, from, to, term, type: "owner-proposal", entries };
}

/**
 * The fields every message carries, checked (the caller has checked the key set). Callers list them
 * one by one in the message they build: an object spread followed by more fields is many times slower.
 */
function envelope(object: Fields): Envelope | undefined {
  const { clusterId, from, to, term } = object;
  if (clusterId !== null && !isText(clusterId, peerLimits.clusterIdLength, clusterIdPattern))
    return undefined;
  if (!isPositiveInt(from) || !isPositiveInt(to) || !isCount(term)) return undefined;
  return { clusterId, from, to, term };
}

const logEntryKeys = new Set(["index", "term", "timestampMs", "data"]);

function logEntry(value: unknown): LogEntry | undefined {
  if (!isObject(value) || !hasExactly(value, logEntryKeys)) return undefined;
  const { index, term, timestampMs } = value;
  if (!isCount(index) || !isCount(term) || !isTimestamp(timestampMs)) return undefined;
  const data = entryData(value["data"]);
  if (data === undefined) return undefined;
  return { index, term, timestampMs, data };
}

const noopKeys = new Set(["kind"]);

/** A noop, or an auction entry of a bid; any other kind is left to zod. */
function entryData(value: unknown): EntryData | undefined {
  if (isObject(value) && value["kind"] === "noop")
    return hasExactly(value, noopKeys) ? { kind: "noop" } : undefined;
  return auctionData(value);
}

const auctionKeys = new Set(["kind", "command", "owner", "epoch", "ref"]);

/** An "auction" entry's data whose command is a bid; any other command or kind is left to zod. */
function auctionData(value: unknown): EntryData | undefined {
  if (!isObject(value) || value["kind"] !== "auction" || !hasExactly(value, auctionKeys)) return undefined;
  const { owner, epoch, ref } = value;
  if (!isPositiveInt(owner) || !isPositiveInt(epoch) || !isText(ref, peerLimits.refLength)) return undefined;
  const command = bidBody(value["command"]);
  if (command === undefined) return undefined;
  return { kind: "auction", command, owner, epoch, ref };
}

/** A place-bid command as an owner proposes it (no timestamp), as a fresh object. */
function bidBody(value: unknown): BidBody | undefined {
  if (!isPlaceBidBody(value)) return undefined;
  const { auctionId, bidder, bidId, amount, max } = value;
  return { type: "place-bid", auctionId, bidder, bidId, amount, max };
}

/** A fresh array of the checked items, if `value` is an array of at most entriesPerMessageMax that all pass. */
function listOf<T>(value: unknown, item: (value: unknown) => T | undefined): T[] | undefined {
  if (!Array.isArray(value) || value.length > peerLimits.entriesPerMessageMax) return undefined;
  const items: T[] = [];
  for (const element of value as unknown[]) {
    const checked = item(element);
    if (checked === undefined) return undefined;
    items.push(checked);
  }
  return items;
}

/** indexSchema, termSchema, countSchema: z.int().nonnegative(), and z.int() takes safe integers only. */
function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** timestampSchema: z.int().nonnegative().max(TIMESTAMP_MAX). */
function isTimestamp(value: unknown): value is number {
  return isCount(value) && value <= TIMESTAMP_MAX;
}

/** clockMsSchema: a finite number in 0..TIMESTAMP_MAX, not necessarily whole. */
function isClockMs(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= TIMESTAMP_MAX;
}

/** clockDeviationMsSchema: a finite number in -TIMESTAMP_MAX..TIMESTAMP_MAX. */
function isClockDeviationMs(value: unknown): value is number {
  return (
    typeof value === "number" && Number.isFinite(value) && value >= -TIMESTAMP_MAX && value <= TIMESTAMP_MAX
  );
}
