// The boundary schemas and the versioned envelope: every message type round-trips, and unknown
// fields, wrong types, NaN, negative and fractional ids, `__proto__` keys, oversized strings and
// arrays, unknown types and other versions are refused with the right reason.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AuctionBook } from "../../src/core/auction/engine.js";
import type { Message } from "../../src/core/cluster/types.js";
import type { Decoded } from "../../src/net/envelope.js";
import {
  announcedVersion,
  decodeBeacon,
  decodeMessage,
  encodeBeacon,
  encodeMessage,
  encodeVersionNotice,
  PROTOCOL_VERSION,
} from "../../src/net/envelope.js";
import { messageSchema, messageTypes, peerLimits } from "../../src/net/schemas.js";
import { bidBody, createBody, envelope, sampleBeacon, sampleMessages } from "./support.js";

/** The envelope bytes of an arbitrary payload (JSON text, so keys like __proto__ survive). */
function rawMessage(payloadJson: string, version: unknown = PROTOCOL_VERSION): Buffer {
  return Buffer.from(`{"v":${JSON.stringify(version)},"m":${payloadJson}}`, "utf8");
}

function reasonOf(decoded: Decoded<unknown>): string {
  return decoded.ok ? "ok" : decoded.reason;
}

/** The sample message of `type`, as a mutable plain object. */
function sample(type: Message["type"]): Record<string, unknown> {
  const found: object | undefined = sampleMessages().find((message) => message.type === type);
  assert.ok(found, type);
  return structuredClone(found) as Record<string, unknown>;
}

function decodeObject(payload: unknown): Decoded<Message> {
  return decodeMessage(rawMessage(JSON.stringify(payload)));
}

describe("messages round-trip", () => {
  test("the samples cover every message type the schemas know", () => {
    assert.deepEqual(new Set(sampleMessages().map((message) => message.type)), messageTypes);
  });

  test("every sample message decodes to itself", () => {
    for (const message of sampleMessages()) {
      assert.deepEqual(decodeMessage(encodeMessage(message)), { ok: true, value: message }, message.type);
    }
  });

  test("real engine outcomes travel in forward-result messages", () => {
    const book = new AuctionBook();
    const commands = [
      { ...createBody, timestampMs: 0 },
      { ...bidBody, timestampMs: 2000 },
      { ...bidBody, bidId: "b-2", bidder: "cid", amount: 250, max: null, timestampMs: 3000 },
      { ...bidBody, timestampMs: 3100 },
      { ...bidBody, bidId: "b-3", amount: 1, timestampMs: 3200 },
      { type: "close-auction" as const, auctionId: "a1", timestampMs: 20_000 },
    ];
    for (const command of commands) {
      const outcome = book.execute(command);
      const results = [
        { ok: true as const, kind: "decided" as const, outcome },
        {
          ok: true as const,
          kind: "applied" as const,
          index: 9,
          result: { kind: "auction" as const, auctionId: "a1", outcome },
        },
      ];
      for (const result of results) {
        const message = envelope({ type: "forward-result", requestId: "r", result });
        assert.deepEqual(decodeMessage(encodeMessage(message)), { ok: true, value: message }, command.type);
      }
    }
  });

  test("a beacon round-trips, with and without a cluster", () => {
    for (const beacon of [sampleBeacon(), sampleBeacon({ clusterId: "c-1", term: 3, leaderId: 2 })]) {
      assert.deepEqual(decodeBeacon(encodeBeacon(beacon)), { ok: true, value: beacon });
    }
  });
});

describe("malformed envelopes", () => {
  test("bytes that are not UTF-8 JSON of an object are malformed", () => {
    const inputs = [
      Buffer.from([0xff, 0xfe, 0x00]),
      Buffer.from(""),
      Buffer.from("{"),
      Buffer.from("null"),
      Buffer.from("[1,2]"),
      Buffer.from('"text"'),
      Buffer.from("1"),
      Buffer.from("[".repeat(100_000) + "]".repeat(100_000)),
    ];
    for (const input of inputs)
      assert.equal(reasonOf(decodeMessage(input)), "malformed", input.toString().slice(0, 20));
  });

  test("a missing or non-integer version is malformed; another version is refused as such", () => {
    const payload = JSON.stringify(sampleMessages()[0]);
    assert.equal(reasonOf(decodeMessage(Buffer.from(`{"m":${payload}}`))), "malformed");
    assert.equal(reasonOf(decodeMessage(rawMessage(payload, "1"))), "malformed");
    assert.equal(reasonOf(decodeMessage(rawMessage(payload, 1.5))), "malformed");
    assert.equal(reasonOf(decodeMessage(rawMessage(payload, -1))), "malformed");
    const other = decodeMessage(rawMessage(payload, PROTOCOL_VERSION + 1));
    assert.equal(reasonOf(other), "version");
    assert.equal(!other.ok && other.peerVersion, PROTOCOL_VERSION + 1);
  });

  test("extra envelope keys, a missing payload and a __proto__ key are malformed", () => {
    const payload = JSON.stringify(sampleMessages()[0]);
    assert.equal(reasonOf(decodeMessage(Buffer.from(`{"v":1,"m":${payload},"x":1}`))), "malformed");
    assert.equal(reasonOf(decodeMessage(Buffer.from(`{"v":1}`))), "malformed");
    assert.equal(reasonOf(decodeMessage(Buffer.from(`{"v":1,"__proto__":${payload}}`))), "malformed");
    assert.equal(reasonOf(decodeMessage(Buffer.from(`{"v":1,"b":${payload}}`))), "malformed");
  });

  test("announcedVersion reads the version of any envelope, payload or not", () => {
    assert.equal(announcedVersion(encodeVersionNotice()), PROTOCOL_VERSION);
    assert.equal(announcedVersion(Buffer.from('{"v":7,"whatever":true}')), 7);
    assert.equal(announcedVersion(Buffer.from("garbage")), null);
    assert.equal(announcedVersion(Buffer.from('{"v":"7"}')), null);
  });
});

describe("invalid messages", () => {
  test("an unknown type is counted apart from other schema failures", () => {
    assert.equal(reasonOf(decodeObject({ ...sample("timeout-now"), type: "gossip" })), "unknown-type");
    assert.equal(reasonOf(decodeObject({ ...sample("timeout-now"), type: undefined })), "invalid");
    assert.equal(reasonOf(decodeObject({ ...sample("timeout-now"), type: 3 })), "invalid");
    assert.equal(reasonOf(decodeObject({ ...sample("timeout-now"), type: "toString" })), "unknown-type");
  });

  test("unknown fields are rejected at every depth", () => {
    const append = sample("append");
    const entries = append.entries as Record<string, unknown>[];
    const mutations: ((message: Record<string, unknown>) => void)[] = [
      (message) => (message.extra = 1),
      (message) => ((message.entries as Record<string, unknown>[])[0]!.extra = 1),
      (message) =>
        (((message.entries as Record<string, unknown>[])[1]!.data as Record<string, unknown>).extra = 1),
      (message) => {
        const data = (message.entries as { data: { command: Record<string, unknown> } }[])[3]!.data;
        data.command.timestampMs = 5;
      },
      (message) => {
        const data = (message.entries as { data: { config: { members: Record<string, unknown>[] } } }[])[1]!
          .data;
        data.config.members[0]!.role = "leader";
      },
    ];
    assert.ok(entries.length > 3);
    for (const [position, mutate] of mutations.entries()) {
      const message = sample("append");
      mutate(message);
      assert.equal(reasonOf(decodeObject(message)), "invalid", `mutation ${position}`);
    }
  });

  test("wrong types, NaN, infinities, negative, zero, fractional and unsafe ids are rejected", () => {
    const cases: [string, unknown][] = [
      ["from", "1"],
      ["from", 0],
      ["from", -1],
      ["from", 1.5],
      ["from", 2 ** 53],
      ["from", null],
      ["to", true],
      ["term", -1],
      ["term", 0.5],
      ["term", "2"],
      ["clusterId", 5],
      ["clusterId", ""],
      ["clusterId", "has space"],
      ["lastIndex", -3],
      ["preVote", "yes"],
    ];
    for (const [field, value] of cases) {
      assert.equal(
        reasonOf(decodeObject({ ...sample("vote-request"), [field]: value })),
        "invalid",
        `${field}=${String(value)}`,
      );
    }
    assert.equal(messageSchema.safeParse({ ...sample("vote-request"), term: Number.NaN }).success, false);
    assert.equal(
      messageSchema.safeParse({ ...sample("vote-request"), term: Number.POSITIVE_INFINITY }).success,
      false,
    );
    const huge = JSON.stringify(sample("vote-request")).replace('"term":2', '"term":1e400');
    assert.equal(reasonOf(decodeMessage(rawMessage(huge))), "invalid");
  });

  test("NaN and negative amounts in commands are rejected", () => {
    for (const amount of [120, null, -5, 0, 1.5, "120"]) {
      const message = envelope({
        type: "forward",
        origin: 2,
        requestId: "r",
        request: { kind: "auction", command: { ...bidBody, amount } },
        hops: 0,
        minIndex: 0,
      } as never);
      assert.equal(reasonOf(decodeObject(message)), amount === 120 ? "ok" : "invalid", String(amount));
    }
  });

  test("__proto__ keys are rejected inside the message, its entries and its commands", () => {
    const text = JSON.stringify(sample("append"));
    const variants = [
      text.replace('{"type":"append"', '{"__proto__":{"polluted":true},"type":"append"'),
      text.replace('{"kind":"noop"}', '{"kind":"noop","__proto__":{"polluted":true}}'),
      text.replace('"bidder":"bea"', '"bidder":"bea","__proto__":{"polluted":true}'),
    ];
    for (const variant of variants) {
      assert.notEqual(variant, text);
      assert.equal(reasonOf(decodeMessage(rawMessage(variant))), "invalid");
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test("strings and arrays over their bounds are rejected", () => {
    const cases: [Message["type"], string, unknown][] = [
      ["join-reply", "detail", "x".repeat(peerLimits.detailLength + 1)],
      ["join-request", "address", "a".repeat(peerLimits.addressLength + 1)],
      ["join-request", "incarnation", ""],
      ["join-request", "httpUrl", "h".repeat(peerLimits.httpUrlLength + 1)],
      ["forward", "requestId", "r".repeat(peerLimits.requestIdLength + 1)],
      ["forward", "hops", peerLimits.forwardHopsMax + 1],
      [
        "append",
        "entries",
        Array.from({ length: peerLimits.entriesPerMessageMax + 1 }, () => ({
          index: 1,
          term: 1,
          timestampMs: 0,
          data: { kind: "noop" },
        })),
      ],
      ["snapshot-chunk", "data", "d".repeat(peerLimits.snapshotChunkCharsMax + 1)],
      [
        "snapshot-chunk",
        "config",
        { members: Array.from({ length: peerLimits.membersMax + 1 }, () => sampleMember()) },
      ],
    ];
    for (const [type, field, value] of cases) {
      assert.equal(
        reasonOf(decodeObject({ ...sample(type), [field]: value })),
        "invalid",
        `${type}.${field}`,
      );
    }
  });

  test("invalid beacons are rejected", () => {
    const beacon = sampleBeacon() as unknown as Record<string, unknown>;
    const cases: [string, unknown][] = [
      ["nodeId", 0],
      ["nodeId", "1"],
      ["clusterName", ""],
      ["clusterName", "n".repeat(peerLimits.clusterNameLength + 1)],
      ["leaderId", -1],
      ["extra", true],
    ];
    for (const [field, value] of cases) {
      const datagram = Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, b: { ...beacon, [field]: value } }));
      assert.equal(reasonOf(decodeBeacon(datagram)), "invalid", field);
    }
    assert.equal(reasonOf(decodeBeacon(encodeMessage(sampleMessages()[0]!))), "malformed");
  });
});

function sampleMember() {
  return { id: 1, incarnation: "i", address: "127.0.0.1:1", httpUrl: "http://x", voter: true };
}
