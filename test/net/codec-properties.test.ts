// Properties of the parsers at the network boundary, checked with fast-check: decoding is total
// (any bytes, any JSON, any mutation of a valid message yields a value or a reason, never an
// exception), and framing does not depend on how the stream is cut. The full fuzzers come later.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { decodeBeacon, decodeMessage, encodeMessage, PROTOCOL_VERSION } from "../../src/net/envelope.js";
import { encodeFrame, FrameDecoder } from "../../src/net/frame.js";
import { messageSchema } from "../../src/net/schemas.js";
import { sampleMessages } from "./support.js";

const runs = { numRuns: 300 };

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
    runs,
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
    runs,
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
    runs,
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
    runs,
  );
});
