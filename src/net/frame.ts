// The TCP framing: a 4-byte big-endian length, then that many bytes of body. FrameDecoder turns
// arbitrary chunks of a stream into whole frame bodies; it never buffers more than one maximum
// frame, and it never reads a body whose announced length is over the maximum.
import { FrameTooLargeError } from "./errors.js";

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/**
 * Default largest frame body, in bytes: 16 MiB. A default append (512 entries) and a default
 * snapshot chunk (1 Mi characters) fit with room to spare.
 */
export const DEFAULT_FRAME_BYTES_MAX = 16 * 1024 * 1024;

/** Largest length a 4-byte header can express. */
const HEADER_VALUE_MAX = 0xffff_ffff;

/** `body` with its length prefix. */
export function encodeFrame(body: Uint8Array): Buffer {
  if (body.byteLength > HEADER_VALUE_MAX) throw new FrameTooLargeError(body.byteLength, HEADER_VALUE_MAX);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.byteLength);
  frame.writeUInt32BE(body.byteLength, 0);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/** What one `push` produced: the frame bodies completed, and the error that ended the stream, if any. */
export interface FrameChunkResult {
  frames: Buffer[];
  /** Set once a header announced too large a frame; every later push returns it again and no frames. */
  error: FrameTooLargeError | null;
}

/** Storage kept between frames; anything larger is released once it is empty. */
const RETAINED_BYTES_MAX = 64 * 1024;

/**
 * Reassembles frames from a byte stream. Pure and synchronous (no sockets), so it can be fed any
 * sequence of chunks in tests and fuzzers. Chunks are copied into one growing buffer, so a peer
 * that trickles bytes costs linear time and at most twice the bytes held, never a list of chunks.
 */
export class FrameDecoder {
  private storage: Buffer = Buffer.alloc(0);
  // Invariant: 0 <= start <= end <= storage.length; the bytes held are storage[start, end).
  private start = 0;
  private end = 0;
  /** Length of the body being read, once its header is complete; null between frames. */
  private bodyBytes: number | null = null;
  private failure: FrameTooLargeError | null = null;

  constructor(readonly frameBytesMax: number = DEFAULT_FRAME_BYTES_MAX) {}

  /** Bytes held, waiting for the rest of a frame. At most frameBytesMax + header + one chunk. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  /** Feeds the next chunk of the stream; returns every frame it completes (each a copy). */
  push(chunk: Uint8Array): FrameChunkResult {
    if (this.failure !== null) return { frames: [], error: this.failure };
    this.append(chunk);
    const frames: Buffer[] = [];
    for (;;) {
      if (this.bodyBytes === null) {
        if (this.bufferedBytes < FRAME_HEADER_BYTES) break;
        const bodyBytes = this.storage.readUInt32BE(this.start);
        this.start += FRAME_HEADER_BYTES;
        if (bodyBytes > this.frameBytesMax)
          return this.fail(new FrameTooLargeError(bodyBytes, this.frameBytesMax), frames);
        this.bodyBytes = bodyBytes;
      }
      if (this.bufferedBytes < this.bodyBytes) break;
      frames.push(Buffer.from(this.storage.subarray(this.start, this.start + this.bodyBytes)));
      this.start += this.bodyBytes;
      this.bodyBytes = null;
    }
    this.releaseIfEmpty();
    return { frames, error: null };
  }

  private fail(error: FrameTooLargeError, frames: Buffer[]): FrameChunkResult {
    this.failure = error;
    this.storage = Buffer.alloc(0);
    this.start = 0;
    this.end = 0;
    return { frames, error };
  }

  /** Copies `chunk` after the bytes held, compacting or growing (doubling) the storage as needed. */
  private append(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    const held = this.bufferedBytes;
    const needed = held + chunk.byteLength;
    if (this.end + chunk.byteLength > this.storage.length) {
      // Doubling, but never past one whole frame: a large frame costs its size, not twice it.
      const target =
        needed <= this.storage.length
          ? this.storage
          : Buffer.allocUnsafe(
              Math.max(needed, Math.min(2 * this.storage.length, this.frameBytesMax + FRAME_HEADER_BYTES)),
            );
      this.storage.copy(target, 0, this.start, this.end);
      this.storage = target;
      this.start = 0;
      this.end = held;
    }
    this.storage.set(chunk, this.end);
    this.end += chunk.byteLength;
  }

  /** Forgets the bytes held (the stream ended): the storage goes back to the allocator. */
  release(): void {
    this.storage = Buffer.alloc(0);
    this.start = 0;
    this.end = 0;
    this.bodyBytes = null;
  }

  private releaseIfEmpty(): void {
    if (this.start !== this.end) return;
    this.start = 0;
    this.end = 0;
    if (this.storage.length > RETAINED_BYTES_MAX) this.storage = Buffer.alloc(0);
  }
}
