// The length-prefixed frame codec: round trips, frames split across and merged within chunks,
// and an oversized header refused before any of its body is buffered.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FrameTooLargeError } from "../../src/net/errors.js";
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from "../../src/net/frame.js";

const bodies = ["", "a", "hello, frames", "ü€😀".repeat(100), "x".repeat(20_000)].map((text) =>
  Buffer.from(text, "utf8"),
);

function feed(decoder: FrameDecoder, chunks: Uint8Array[]): Buffer[] {
  const frames: Buffer[] = [];
  for (const chunk of chunks) {
    const result = decoder.push(chunk);
    assert.equal(result.error, null);
    frames.push(...result.frames);
  }
  return frames;
}

/** `stream` cut into pieces of the given sizes, cycling. */
function cut(stream: Buffer, sizes: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let offset = 0, turn = 0; offset < stream.length; turn++) {
    const size = sizes[turn % sizes.length]!;
    pieces.push(stream.subarray(offset, offset + size));
    offset += size;
  }
  return pieces;
}

describe("frame codec", () => {
  test("a frame is a 4-byte big-endian length and the body", () => {
    const frame = encodeFrame(Buffer.from("abc"));
    assert.deepEqual([...frame], [0, 0, 0, 3, 97, 98, 99]);
  });

  test("every body round-trips through encode and decode", () => {
    for (const body of bodies) {
      assert.deepEqual(feed(new FrameDecoder(), [encodeFrame(body)]), [body]);
    }
  });

  test("frames merged in one chunk come out one by one", () => {
    const stream = Buffer.concat(bodies.map(encodeFrame));
    assert.deepEqual(feed(new FrameDecoder(), [stream]), bodies);
  });

  test("frames split across chunks at every size, headers included, are reassembled", () => {
    const stream = Buffer.concat(bodies.map(encodeFrame));
    for (const sizes of [[1], [2], [3], [5, 1], [4], [7, 13, 1], [65_536]]) {
      const decoder = new FrameDecoder();
      assert.deepEqual(feed(decoder, cut(stream, sizes)), bodies, `chunk sizes ${sizes.join(",")}`);
      assert.equal(decoder.bufferedBytes, 0);
    }
  });

  test("empty chunks change nothing", () => {
    const decoder = new FrameDecoder();
    const frame = encodeFrame(Buffer.from("abc"));
    assert.deepEqual(
      feed(decoder, [new Uint8Array(0), frame.subarray(0, 2), new Uint8Array(0), frame.subarray(2)]),
      [Buffer.from("abc")],
    );
  });

  test("a frame of exactly the maximum is accepted", () => {
    const body = Buffer.alloc(100, 1);
    assert.deepEqual(feed(new FrameDecoder(100), [encodeFrame(body)]), [body]);
  });

  test("an oversized header is an error at once, without buffering its body", () => {
    const decoder = new FrameDecoder(100);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(101, 0);
    const result = decoder.push(Buffer.concat([header, Buffer.alloc(50)]));
    assert.ok(result.error instanceof FrameTooLargeError);
    assert.equal(result.error.code, "frame-too-large");
    assert.equal(result.error.frameBytes, 101);
    assert.equal(decoder.bufferedBytes, 0);
    const later = decoder.push(Buffer.alloc(1000));
    assert.equal(later.error, result.error, "the stream stays failed");
    assert.deepEqual(later.frames, []);
    assert.equal(decoder.bufferedBytes, 0);
  });

  test("frames before an oversized header in the same chunk are still returned", () => {
    const decoder = new FrameDecoder(10);
    const result = decoder.push(
      Buffer.concat([encodeFrame(Buffer.from("ok")), Buffer.from([0xff, 0xff, 0xff, 0xff])]),
    );
    assert.deepEqual(result.frames, [Buffer.from("ok")]);
    assert.ok(result.error instanceof FrameTooLargeError);
    assert.equal(result.error.frameBytes, 0xffff_ffff);
  });

  test("a partial frame is held without growing past one frame", () => {
    const decoder = new FrameDecoder(1000);
    const frame = encodeFrame(Buffer.alloc(1000, 7));
    feed(decoder, [frame.subarray(0, 600)]);
    assert.equal(decoder.bufferedBytes, 600 - FRAME_HEADER_BYTES);
    assert.equal(feed(decoder, [frame.subarray(600)]).length, 1);
    assert.equal(decoder.bufferedBytes, 0);
  });
});
