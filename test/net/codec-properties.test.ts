// Properties of the parsers at the network boundary, checked with fast-check: decoding is total
// (any bytes, any JSON, any mutation of a valid message, beacon or update yields a value or a
// reason, never an exception), what decodes passes its schema and carries no prototype tricks,
// framing does not depend on how the stream is cut, and the frame decoder holds a bounded number
// of bytes whatever it is fed. Each test prints its seed; GAVEL_FUZZ_SEED=<n> replays it.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import {
  decodeBeacon,
  decodeMessage,
  decodeUpdates,
  encodeMessage,
  packUpdates,
  PROTOCOL_VERSION,
  UPDATE_FORMAT_VERSION,
  UPDATES_PER_DATAGRAM_MAX,
} from "../../src/net/envelope.js";
import type { Decoded } from "../../src/net/envelope.js";
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from "../../src/net/frame.js";
import { beaconSchema, messageSchema } from "../../src/net/schemas.js";
import { auctionUpdateSchema } from "../../src/net/update-schema.js";
import type { AuctionUpdate } from "../../src/net/update-schema.js";
import {
  assertPlain,
  assertPrototypeClean,
  fuzzParameters,
  hostileNumberTexts,
  mutatedJson,
  mutationsOf,
} from "./fuzz-support.js";
import { sampleBeacon, sampleMessages } from "./support.js";

const runs = (label: string, numRuns = 300) => fuzzParameters(label, numRuns);

function assertTotal(body: Uint8Array): void {
  for (const decoded of [decodeMessage(body), decodeBeacon(body)]) {
    if (decoded.ok) continue;
    assert.ok(["malformed", "version", "invalid", "unknown-type"].includes(decoded.reason));
    assert.ok(decoded.detail.length <= 500, "details are bounded");
  }
}

test("decoding arbitrary bytes never throws", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => assertTotal(bytes)),
    runs("arbitrary bytes"),
  );
});

test("decoding arbitrary JSON in an envelope never throws", () => {
  fc.assert(
    fc.property(
      fc.jsonValue(),
      fc.constantFrom(PROTOCOL_VERSION, PROTOCOL_VERSION + 1),
      (payload, version) => {
        assertTotal(Buffer.from(JSON.stringify({ v: version, m: payload })));
        assertTotal(Buffer.from(JSON.stringify({ v: version, b: payload })));
      },
    ),
    runs("arbitrary JSON"),
  );
});

test("a valid message with one field replaced decodes only to something the schema accepts", () => {
  const messages = sampleMessages();
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: messages.length - 1 }),
      fc.nat(),
      fc.oneof(fc.jsonValue(), fc.constant("__proto__")),
      (which, fieldChoice, value) => {
        const message = structuredClone(messages[which]!) as unknown as Record<string, unknown>;
        const fields = Object.keys(message);
        message[fields[fieldChoice % fields.length]!] = value;
        const decoded = decodeMessage(encodeMessage(message as never));
        if (decoded.ok) assert.equal(messageSchema.safeParse(decoded.value).success, true);
      },
    ),
    runs("one field replaced"),
  );
});

test("frames come out the same however the stream is cut", () => {
  const bodies = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 });
  fc.assert(
    fc.property(bodies, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }), (frames, sizes) => {
      const stream = Buffer.concat(frames.map((body) => encodeFrame(body)));
      const decoder = new FrameDecoder(300);
      const out: Buffer[] = [];
      for (let offset = 0, turn = 0; offset < stream.length; turn++) {
        const size = sizes[turn % sizes.length]!;
        const result = decoder.push(stream.subarray(offset, offset + size));
        assert.equal(result.error, null);
        out.push(...result.frames);
        offset += size;
      }
      assert.deepEqual(
        out,
        frames.map((body) => Buffer.from(body)),
      );
      assert.equal(decoder.bufferedBytes, 0);
    }),
    runs("stream cuts"),
  );
});

export const sampleUpdate: AuctionUpdate = {
  clusterName: "gavel",
  nodeId: 2,
  auctionId: "a1",
  version: 3,
  event: "bid-accepted",
  timestampMs: 1_700_000_000_000,
  phase: "active",
  price: 1200,
  highBidder: "bea",
  closesAt: 1_700_000_600_000,
  bidCount: 2,
  outcome: null,
};

/** Checks one decoding of hostile input: a counted reason, or a value its schema accepts. */
function assertDecoded<T>(decoded: Decoded<T>, schema: { safeParse(value: unknown): { success: boolean } }) {
  if (decoded.ok) {
    assert.equal(schema.safeParse(decoded.value).success, true, "only schema-valid values come out");
    assertPlain(decoded.value);
  } else {
    assert.ok(["malformed", "version", "invalid", "unknown-type"].includes(decoded.reason));
    assert.ok(decoded.detail.length <= 500, "details are bounded");
  }
  assertPrototypeClean();
}

test("mutated messages (wrong types, NaN, Infinity, huge or negative numbers, __proto__ keys, cut short) never throw", () => {
  const envelopes = sampleMessages().map((message) => ({ v: PROTOCOL_VERSION, m: message }));
  fc.assert(
    fc.property(mutationsOf(envelopes), ({ document, mutations }) => {
      const body = Buffer.from(mutatedJson(document, mutations), "utf8");
      assertDecoded(decodeMessage(body), messageSchema);
    }),
    runs("mutated messages", 2000),
  );
});

test("mutated beacons and updates never throw, and decode only to schema-valid values", () => {
  const beacons = [sampleBeacon(), sampleBeacon({ clusterId: "c-1", term: 7, leaderId: 3 })].map(
    (beacon) => ({
      v: PROTOCOL_VERSION,
      b: beacon,
    }),
  );
  const updates = [
    { v: UPDATE_FORMAT_VERSION, u: [sampleUpdate] },
    { v: UPDATE_FORMAT_VERSION, u: [sampleUpdate, { ...sampleUpdate, version: 8, price: 250 }] },
  ];
  fc.assert(
    fc.property(mutationsOf(beacons), mutationsOf(updates), (beacon, update) => {
      assertDecoded(decodeBeacon(Buffer.from(mutatedJson(beacon.document, beacon.mutations))), beaconSchema);
      assertDecoded(
        decodeUpdates(Buffer.from(mutatedJson(update.document, update.mutations))),
        z.array(auctionUpdateSchema).min(1),
      );
    }),
    runs("mutated beacons and updates", 1000),
  );
});

test("packed updates: every update once, in order, in datagrams of at most the bound that decode to them", () => {
  const update = fc.record({
    version: fc.integer({ min: 1, max: 1_000_000 }),
    highBidder: fc.option(fc.stringMatching(/^[a-z][a-z0-9_-]{0,63}$/), { nil: null }),
    auctionId: fc.stringMatching(/^[a-z0-9]{1,40}$/),
  });
  fc.assert(
    fc.property(
      fc.array(update, { maxLength: 300 }),
      fc.integer({ min: 150, max: 3000 }),
      (fields, bodyBytesMax) => {
        const updates = fields.map((field) => ({ ...sampleUpdate, ...field }));
        const packed = packUpdates(updates, bodyBytesMax);
        assert.equal(packed.counts.length, packed.datagrams.length);
        const carried: AuctionUpdate[] = [];
        packed.datagrams.forEach((datagram, index) => {
          assert.ok(datagram.byteLength <= bodyBytesMax, `${datagram.byteLength} > ${bodyBytesMax}`);
          const decoded = decodeUpdates(datagram);
          assert.ok(decoded.ok, "every datagram decodes");
          assert.equal(decoded.value.length, packed.counts[index]);
          assert.ok(decoded.value.length <= UPDATES_PER_DATAGRAM_MAX);
          carried.push(...decoded.value);
        });
        const left = new Set(packed.oversized.map((item) => item.update));
        for (const item of packed.oversized) assert.ok(item.bytes > bodyBytesMax);
        assert.deepEqual(
          carried,
          updates.filter((item) => !left.has(item)),
          "every update that fits is carried once, in order",
        );
      },
    ),
    runs("packed updates", 200),
  );
  const many = Array.from({ length: 200 }, (_, index) => ({ ...sampleUpdate, version: index + 1 }));
  assert.deepEqual(packUpdates(many, 1_000_000).counts, [64, 64, 64, 8], "at most 64 to a datagram");
});

test("an unmutated sample decodes (the mutation tests start from valid input)", () => {
  for (const message of sampleMessages()) assert.equal(decodeMessage(encodeMessage(message)).ok, true);
  const beacon = mutatedJson({ v: PROTOCOL_VERSION, b: sampleBeacon() }, []);
  assert.equal(decodeBeacon(Buffer.from(beacon)).ok, true);
  const update = mutatedJson({ v: UPDATE_FORMAT_VERSION, u: [sampleUpdate] }, []);
  assert.equal(decodeUpdates(Buffer.from(update)).ok, true);
});

test("hostile version numbers are refused as malformed or another version", () => {
  for (const text of hostileNumberTexts) {
    const decoded = decodeMessage(Buffer.from(`{"v":${text},"m":{"type":"timeout-now"}}`));
    assert.equal(decoded.ok, false, text);
  }
});

test("the frame decoder fed garbage never throws and holds at most one frame plus one chunk", () => {
  const frameBytesMax = 1024;
  const chunks = fc.array(
    fc.oneof(
      fc.uint8Array({ maxLength: 2048 }),
      // A header announcing a length near the maximum, either side of it.
      fc.integer({ min: frameBytesMax - 8, max: frameBytesMax + 8 }).map((length) => {
        const header = Buffer.alloc(FRAME_HEADER_BYTES);
        header.writeUInt32BE(length);
        return new Uint8Array(header);
      }),
    ),
    { maxLength: 40 },
  );
  fc.assert(
    fc.property(chunks, (stream) => {
      const decoder = new FrameDecoder(frameBytesMax);
      let failed = false;
      for (const chunk of stream) {
        const result = decoder.push(chunk);
        for (const frame of result.frames) assert.ok(frame.byteLength <= frameBytesMax);
        if (failed) assert.deepEqual(result.frames, [], "nothing after the stream failed");
        if (result.error !== null) failed = true;
        assert.ok(decoder.bufferedBytes <= frameBytesMax + FRAME_HEADER_BYTES + chunk.byteLength);
      }
    }),
    runs("frame decoder garbage", 500),
  );
});
