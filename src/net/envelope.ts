// The versioned envelope every TCP frame and UDP datagram carries: UTF-8 JSON of
// `{ "v": PROTOCOL_VERSION, "m": message }` (TCP) or `{ "v": PROTOCOL_VERSION, "b": beacon }` (UDP),
// and the multicast datagram's `{ "v": UPDATE_FORMAT_VERSION, "u": [update, ...] }` (for clients).
// Decoding is total: any input yields a value or a reason to drop it, never an exception, and
// nothing that failed validation reaches the caller.
import { z } from "zod";
import type { Beacon, Message } from "../core/cluster/types.js";
import { fastValidateMessage } from "./fast-validate.js";
import { beaconSchema, messageSchema, messageTypes } from "./schemas.js";
import { auctionUpdateSchema } from "./update-schema.js";
import type { AuctionUpdate } from "./update-schema.js";

/**
 * The peer protocol's version. Bump it on any change a node of the previous version would
 * misread; nodes of different versions refuse each other's messages and beacons.
 */
export const PROTOCOL_VERSION = 1;

/**
 * The multicast update format's version, separate from the peer protocol's: receivers are clients,
 * so it changes only when an update's meaning or the datagram's layout does. Receivers drop
 * datagrams of another version. 1: one update per datagram; 2: a list of one or more.
 */
export const UPDATE_FORMAT_VERSION = 2;

/** Most updates one datagram may carry (a receiver refuses more). */
export const UPDATES_PER_DATAGRAM_MAX = 64;

/** Why an input was dropped: not UTF-8 JSON of a versioned object, another version, or failing its schema. */
export type DecodeFailureReason = "malformed" | "version" | "invalid" | "unknown-type";

export type Decoded<T> =
  | { ok: true; value: T }
  /** `peerVersion` is set when reason is "version": the version the peer speaks. */
  | { ok: false; reason: DecodeFailureReason; detail: string; peerVersion?: number };

/** Longest excerpt of peer input quoted in a detail. */
const EXCERPT_CHARS = 64;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The envelope of `message`, as bytes (without a frame header). */
export function encodeMessage(message: Message): Buffer {
  return Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, m: message }), "utf8");
}

/** The envelope of `beacon`, as bytes (one datagram). */
export function encodeBeacon(beacon: Beacon): Buffer {
  return Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, b: beacon }), "utf8");
}

/** The envelope of `updates` (one or more, in order), as bytes: one datagram before sealing. */
export function encodeUpdates(updates: readonly AuctionUpdate[]): Buffer {
  return Buffer.from(JSON.stringify({ v: UPDATE_FORMAT_VERSION, u: updates }), "utf8");
}

const UPDATES_HEAD = `{"v":${UPDATE_FORMAT_VERSION},"u":[`;
const UPDATES_TAIL = "]}";

/** Updates packed into datagrams, and those too large to go even alone. */
export interface PackedUpdates {
  /** Datagram bodies before sealing, each `{ "v": UPDATE_FORMAT_VERSION, "u": [...] }`. */
  datagrams: Buffer[];
  /** How many updates each datagram carries, in the same order. */
  counts: number[];
  oversized: { update: AuctionUpdate; bytes: number }[];
}

/**
 * Packs `updates`, in order, into as few datagram bodies of at most `bodyBytesMax` bytes as it can
 * (each update's JSON made once, each datagram at most UPDATES_PER_DATAGRAM_MAX updates); an update
 * that does not fit even alone is left out and reported with its size alone.
 */
export function packUpdates(updates: readonly AuctionUpdate[], bodyBytesMax: number): PackedUpdates {
  const packed: PackedUpdates = { datagrams: [], counts: [], oversized: [] };
  const frame = Buffer.byteLength(UPDATES_HEAD) + Buffer.byteLength(UPDATES_TAIL);
  let parts: string[] = [];
  let bytes = frame;
  const close = () => {
    if (parts.length === 0) return;
    packed.datagrams.push(Buffer.from(`${UPDATES_HEAD}${parts.join(",")}${UPDATES_TAIL}`, "utf8"));
    packed.counts.push(parts.length);
    parts = [];
    bytes = frame;
  };
  for (const update of updates) {
    const json = JSON.stringify(update);
    const size = Buffer.byteLength(json);
    if (frame + size > bodyBytesMax) {
      packed.oversized.push({ update, bytes: frame + size });
      continue;
    }
    // A comma before every update but the first of its datagram.
    const full = bytes + 1 + size > bodyBytesMax || parts.length === UPDATES_PER_DATAGRAM_MAX;
    if (parts.length > 0 && full) close();
    bytes += (parts.length === 0 ? 0 : 1) + size;
    parts.push(json);
  }
  close();
  return packed;
}

const updateListSchema = z.array(auctionUpdateSchema).min(1).max(UPDATES_PER_DATAGRAM_MAX);

/** Decodes and validates one datagram of updates: all of them, in order, or a reason to drop it. */
export function decodeUpdates(body: Uint8Array): Decoded<AuctionUpdate[]> {
  const payload = decodeEnvelope(body, "u", UPDATE_FORMAT_VERSION);
  if (!payload.ok) return payload;
  return validate(updateListSchema, payload.value);
}

/** An envelope with no payload: tells a peer which version we speak before we refuse it. */
export function encodeVersionNotice(): Buffer {
  return Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION }), "utf8");
}

/** Decodes and validates one message envelope. */
export function decodeMessage(body: Uint8Array): Decoded<Message> {
  const payload = decodeEnvelope(body, "m");
  if (!payload.ok) return payload;
  const type = messageType(payload.value);
  if (type !== undefined && !messageTypes.has(type)) {
    return { ok: false, reason: "unknown-type", detail: `unknown message type ${excerpt(type)}` };
  }
  // The common messages are checked by hand when that is certain to agree with zod; zod decides the rest.
  const fast = fastValidateMessage(payload.value);
  if (fast !== undefined) return { ok: true, value: fast };
  return validate(messageSchema, payload.value);
}

/** Decodes and validates one beacon envelope. */
export function decodeBeacon(body: Uint8Array): Decoded<Beacon> {
  const payload = decodeEnvelope(body, "b");
  if (!payload.ok) return payload;
  return validate(beaconSchema, payload.value);
}

/**
 * The version a frame announces, if it is a well-formed envelope of any version (payload or not).
 * Lets the side that opened a connection learn why its peer refused it.
 */
export function announcedVersion(body: Uint8Array): number | null {
  const object = parseObject(body);
  if (!object.ok) return null;
  const version = ownField(object.value, "v");
  return isVersion(version) ? version : null;
}

/** Checks UTF-8, JSON, the version and the envelope's keys; returns the payload under `key`. */
function decodeEnvelope(
  body: Uint8Array,
  key: "m" | "b" | "u",
  expected = PROTOCOL_VERSION,
): Decoded<unknown> {
  const object = parseObject(body);
  if (!object.ok) return object;
  const version = ownField(object.value, "v");
  if (!isVersion(version)) return { ok: false, reason: "malformed", detail: "no protocol version" };
  if (version !== expected) {
    const detail = `protocol version ${version}, expected ${expected}`;
    return { ok: false, reason: "version", detail, peerVersion: version };
  }
  const keys = Object.keys(object.value);
  if (keys.length !== 2 || !Object.hasOwn(object.value, key)) {
    const detail = `envelope must have exactly "v" and "${key}", got ${excerpt(keys.join(","))}`;
    return { ok: false, reason: "malformed", detail };
  }
  return { ok: true, value: ownField(object.value, key) };
}

function parseObject(body: Uint8Array): Decoded<Record<string, unknown>> {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { ok: false, reason: "malformed", detail: "not UTF-8" };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "malformed", detail: `not JSON: ${excerpt(text)}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: "malformed", detail: "not a JSON object" };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function validate<T>(schema: z.ZodType<T>, value: unknown): Decoded<T> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? "(root)" : issue.path.join(".");
  return { ok: false, reason: "invalid", detail: excerpt(`${where}: ${issue?.message ?? "invalid"}`, 200) };
}

/** The `type` of a message-like payload, if it has a string one. */
function messageType(payload: unknown): string | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const type = ownField(payload as Record<string, unknown>, "type");
  return typeof type === "string" ? type : undefined;
}

/** A field of the object itself, never of its prototype (a JSON `__proto__` key is an own field). */
function ownField(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function isVersion(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** A short, quoted excerpt of peer input for a log line: control characters become "?". */
function excerpt(text: string, chars: number = EXCERPT_CHARS): string {
  const printable = text.slice(0, chars).replace(/\p{C}/gu, "?");
  return JSON.stringify(text.length > chars ? `${printable}…` : printable);
}
