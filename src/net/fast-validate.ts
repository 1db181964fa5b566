// A hand-written fast path beside the zod schemas, for the peer messages that make up nearly all
// traffic: append (with noop and bid entries), append-reply and owner-proposal (of bids), and a
// bid forwarded to its auction's owner and its result (accepted, or a rule's rejection). It returns
// a message only when it is certain that `messageSchema` accepts the payload, built as zod builds
// its result (fresh objects, keys in schema order), and `undefined` ("not sure") for anything else,
// which then goes through zod. It must never accept what zod refuses; it may refuse what zod accepts.
import {
  hasExactly,
  isAmount,
  isObject,
  isPlaceBidBody,
  isPositiveInt,
  isText,
} from "../core/auction/fast-check.js";
import type { Fields } from "../core/auction/fast-check.js";
import { limits as auctionLimits, TIMESTAMP_MAX, userNamePattern } from "../core/auction/schemas.js";
import type { AcceptedBid, AuctionEvent, Outcome } from "../core/auction/types.js";
import type {
  ClientRequest,
  ClientResult,
  EntryData,
  LogEntry,
  Message,
  OwnerCommandBody,
} from "../core/cluster/types.js";
import { rejectionReasonSchema } from "./outcome-schemas.js";
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
    case "forward":
      return forward(payload);
    case "forward-result":
      return forwardResult(payload);
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

const forwardKeys = new Set([...envelopeKeys, "type", "origin", "requestId", "request", "hops", "minIndex"]);

/** A bid forwarded towards its auction's owner; any other request is left to zod. */
function forward(object: Fields): Message | undefined {
  if (!hasExactly(object, forwardKeys)) return undefined;
  const head = envelope(object);
  const { origin, requestId, hops, minIndex } = object;
  if (head === undefined || !isPositiveInt(origin) || !isText(requestId, peerLimits.requestIdLength))
    return undefined;
  if (!isCount(hops) || hops > peerLimits.forwardHopsMax || !isCount(minIndex)) return undefined;
  const request = bidRequest(object["request"]);
  if (request === undefined) return undefined;
  const { clusterId, from, to, term } = head;
  return { clusterId, from, to, term, type: "forward", origin, requestId, request, hops, minIndex };
}

const auctionRequestKeys = new Set(["kind", "command"]);

function bidRequest(value: unknown): ClientRequest | undefined {
  if (!isObject(value) || value["kind"] !== "auction" || !hasExactly(value, auctionRequestKeys))
    return undefined;
  const command = bidBody(value["command"]);
  return command === undefined ? undefined : { kind: "auction", command };
}

const forwardResultKeys = new Set([...envelopeKeys, "type", "requestId", "result"]);

/** The result of a forwarded bid: applied or decided, with a bid's outcome; anything else is left to zod. */
function forwardResult(object: Fields): Message | undefined {
  if (!hasExactly(object, forwardResultKeys)) return undefined;
  const head = envelope(object);
  const { requestId } = object;
  if (head === undefined || !isText(requestId, peerLimits.requestIdLength)) return undefined;
  const result = bidResult(object["result"]);
  if (result === undefined) return undefined;
  const { clusterId, from, to, term } = head;
  return { clusterId, from, to, term, type: "forward-result", requestId, result };
}

const appliedKeys = new Set(["ok", "kind", "index", "result"]);
const decidedKeys = new Set(["ok", "kind", "outcome"]);
const auctionResultKeys = new Set(["kind", "auctionId", "outcome"]);

function bidResult(value: unknown): ClientResult | undefined {
  if (!isObject(value) || value["ok"] !== true) return undefined;
  if (value["kind"] === "decided") {
    if (!hasExactly(value, decidedKeys)) return undefined;
    const outcome = bidOutcome(value["outcome"]);
    return outcome === undefined ? undefined : { ok: true, kind: "decided", outcome };
  }
  if (value["kind"] !== "applied" || !hasExactly(value, appliedKeys)) return undefined;
  const { index, result } = value;
  if (!isCount(index) || !isObject(result) || result["kind"] !== "auction") return undefined;
  if (!hasExactly(result, auctionResultKeys) || !isText(result["auctionId"], auctionLimits.idLength))
    return undefined;
  const outcome = bidOutcome(result["outcome"]);
  if (outcome === undefined) return undefined;
  return {
    ok: true,
    kind: "applied",
    index,
    result: { kind: "auction", auctionId: result["auctionId"], outcome },
  };
}

const rejectionKeys = new Set(["ok", "reason", "message"]);
const rejectionReasons: ReadonlySet<unknown> = new Set(rejectionReasonSchema.options);

/** A rule's rejection, or accepted bid-accepted events with the bid (and `duplicate` when sent again). */
function bidOutcome(value: unknown): Outcome | undefined {
  if (!isObject(value)) return undefined;
  if (value["ok"] === false) {
    if (!hasExactly(value, rejectionKeys)) return undefined;
    const { reason, message } = value;
    if (!rejectionReasons.has(reason) || !isDetail(message)) return undefined;
    return { ok: false, reason: reason as Extract<Outcome, { ok: false }>["reason"], message };
  }
  if (value["ok"] !== true) return undefined;
  let keys = 2;
  for (const key in value) {
    if (key === "bid" || key === "duplicate") keys++;
    else if (key !== "ok" && key !== "events") return undefined;
  }
  if (!Object.hasOwn(value, "events") || Object.keys(value).length !== keys) return undefined;
  const events = listOf(value["events"], bidAccepted, peerLimits.eventsPerOutcomeMax);
  if (events === undefined) return undefined;
  const outcome: Outcome = { ok: true, events };
  if (Object.hasOwn(value, "bid")) {
    const bid = acceptedBid(value["bid"]);
    if (bid === undefined) return undefined;
    outcome.bid = bid;
  }
  if (Object.hasOwn(value, "duplicate")) {
    const duplicate = value["duplicate"];
    if (typeof duplicate !== "boolean") return undefined;
    outcome.duplicate = duplicate;
  }
  return outcome;
}

const acceptedBidKeys = new Set([
  "auctionId",
  "bidId",
  "bidder",
  "amount",
  "max",
  "timestampMs",
  "priceAfter",
  "leaderAfter",
  "boughtNow",
]);

function acceptedBid(value: unknown): AcceptedBid | undefined {
  if (!isObject(value) || !hasExactly(value, acceptedBidKeys)) return undefined;
  const { auctionId, bidId, bidder, amount, max, timestampMs, priceAfter, leaderAfter, boughtNow } = value;
  if (!isId(auctionId) || !isId(bidId) || !isUserName(bidder) || !isAmount(amount)) return undefined;
  if ((max !== null && !isAmount(max)) || !isTimestamp(timestampMs) || !isAmount(priceAfter))
    return undefined;
  if (!isUserName(leaderAfter) || typeof boughtNow !== "boolean") return undefined;
  return { auctionId, bidId, bidder, amount, max, timestampMs, priceAfter, leaderAfter, boughtNow };
}

const bidAcceptedKeys = new Set([
  "type",
  "timestampMs",
  "auctionId",
  "bidId",
  "bidder",
  "amount",
  "max",
  "lines",
  "price",
  "leader",
  "leaderMax",
  "leaderBidId",
  "boughtNow",
  "previousLeader",
]);

type BidAccepted = Extract<AuctionEvent, { type: "bid-accepted" }>;

/** A bid-accepted event; any other event is left to zod. */
function bidAccepted(value: unknown): BidAccepted | undefined {
  if (!isObject(value) || value["type"] !== "bid-accepted" || !hasExactly(value, bidAcceptedKeys))
    return undefined;
  const { timestampMs, auctionId, bidId, bidder, amount, max, price, leader, leaderMax, leaderBidId } = value;
  const { boughtNow, previousLeader } = value;
  if (!isTimestamp(timestampMs) || !isId(auctionId) || !isId(bidId) || !isUserName(bidder)) return undefined;
  if (!isAmount(amount) || (max !== null && !isAmount(max)) || !isAmount(price) || !isUserName(leader))
    return undefined;
  if (!isAmount(leaderMax) || !isId(leaderBidId) || typeof boughtNow !== "boolean") return undefined;
  if (previousLeader !== null && !isUserName(previousLeader)) return undefined;
  const lines = listOf(value["lines"], bidLine, peerLimits.linesPerBidMax);
  if (lines === undefined) return undefined;
  return {
    type: "bid-accepted",
    timestampMs,
    auctionId,
    bidId,
    bidder,
    amount,
    max,
    lines,
    price,
    leader,
    leaderMax,
    leaderBidId,
    boughtNow,
    previousLeader,
  };
}

const bidLineKeys = new Set(["bidId", "bidder", "amount", "timestampMs", "automatic"]);

function bidLine(value: unknown): BidAccepted["lines"][number] | undefined {
  if (!isObject(value) || !hasExactly(value, bidLineKeys)) return undefined;
  const { bidId, bidder, amount, timestampMs, automatic } = value;
  if (!isId(bidId) || !isUserName(bidder) || !isAmount(amount) || !isTimestamp(timestampMs)) return undefined;
  if (typeof automatic !== "boolean") return undefined;
  return { bidId, bidder, amount, timestampMs, automatic };
}

/** auctionIdSchema of the peer schemas: 1..idLength characters (any). */
function isId(value: unknown): value is string {
  return isText(value, auctionLimits.idLength);
}

/** userNameSchema. */
function isUserName(value: unknown): value is string {
  return isText(value, auctionLimits.nameLength, userNamePattern);
}

/** detailSchema: a string of at most detailLength UTF-16 units, empty included. */
function isDetail(value: unknown): value is string {
  return typeof value === "string" && value.length <= peerLimits.detailLength;
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

/** A fresh array of the checked items, if `value` is an array of at most `lengthMax` that all pass. */
function listOf<T>(
  value: unknown,
  item: (value: unknown) => T | undefined,
  lengthMax: number = peerLimits.entriesPerMessageMax,
): T[] | undefined {
  if (!Array.isArray(value) || value.length > lengthMax) return undefined;
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
