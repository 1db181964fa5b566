// Fuzzing the TCP peer transport and UDP discovery on real loopback sockets: streams of garbage
// frames, mutated valid messages, replayed frames and oversized headers. Every frame is delivered
// (only if its schema accepts it) or dropped with a counted reason, exactly as the decoders judge
// it; nothing throws; the heap stays bounded after thousands of garbage frames; and partial frames
// held by all connections together stay within their budget. Each test prints its seed
// (GAVEL_FUZZ_SEED=<n> replays it). Costs about 5 s.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import type { Beacon, Message } from "../../src/core/cluster/types.js";
import { frameAuth } from "../../src/net/cluster-key.js";
import {
  decodeBeacon,
  decodeMessage,
  encodeBeacon,
  encodeMessage,
  PROTOCOL_VERSION,
} from "../../src/net/envelope.js";
import { encodeFrame, FRAME_HEADER_BYTES } from "../../src/net/frame.js";
import { messageSchema } from "../../src/net/schemas.js";
import type { PeerDropReason, TransportStats } from "../../src/net/stats.js";
import { TcpTransport } from "../../src/net/tcp-transport.js";
import type { TcpTransportOptions } from "../../src/net/tcp-transport.js";
import { UdpDiscovery } from "../../src/net/udp-discovery.js";
import { BindError } from "../../src/net/errors.js";
import {
  assertPlain,
  assertPrototypeClean,
  drawn,
  fuzzSeed,
  mutatedJson,
  mutationsOf,
} from "./fuzz-support.js";
import { Inbox, sampleBeacon, sampleMessages, waitFor } from "./support.js";

/** Longer than any datagram the receivers accept (8192 bytes), short enough for bursts not to overflow socket buffers. */
const udpPayloadMax = 9000;
const frameBytesMax = 64 * 1024;
const key = "transport-fuzz-key-4f1c2b9a7e";

/** One frame on the wire: a body with its true length, or a header announcing more than the maximum. */
type WireFrame = { kind: "body"; body: Buffer } | { kind: "oversized"; announced: number };

function envelopes(): unknown[] {
  return [
    ...sampleMessages().map((message) => ({ v: PROTOCOL_VERSION, m: message })),
    { v: PROTOCOL_VERSION, b: sampleBeacon() },
  ];
}

/** Garbage, mutations of valid messages, valid messages, other versions, and oversized headers. */
const wireFrame: fc.Arbitrary<WireFrame> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .uint8Array({ maxLength: 300 })
      .map((bytes) => ({ kind: "body" as const, body: Buffer.from(bytes) })),
  },
  {
    weight: 6,
    arbitrary: mutationsOf(envelopes()).map(({ document, mutations }) => ({
      kind: "body" as const,
      body: Buffer.from(mutatedJson(document, mutations)),
    })),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(...sampleMessages())
      .map((message) => ({ kind: "body" as const, body: encodeMessage(message) })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 2, max: 99 }).map((version) => ({
      kind: "body" as const,
      body: Buffer.from(JSON.stringify({ v: version, m: { type: "timeout-now" } })),
    })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: frameBytesMax + 1, max: 0xffff_ffff }).map((announced) => ({
      kind: "oversized" as const,
      announced,
    })),
  },
);

/** A connection's worth of frames; each case gets its own connection. */
const connectionCase = fc.array(wireFrame, { minLength: 1, maxLength: 12 });

interface Expected {
  delivered: number;
  beacons: number;
  dropped: Partial<Record<PeerDropReason, number>>;
}

/**
 * What the transport must make of `frames` sealed with `seal`, judged by the decoders and `open`;
 * an oversized frame or another version ends the connection.
 */
function expectationOf(
  frames: readonly WireFrame[],
  seal: (body: Buffer) => Buffer,
  open: (frame: Buffer) => Buffer | PeerDropReason,
): Expected {
  const expected: Expected = { delivered: 0, beacons: 0, dropped: {} };
  const count = (reason: PeerDropReason) => (expected.dropped[reason] = (expected.dropped[reason] ?? 0) + 1);
  for (const frame of frames) {
    if (frame.kind === "oversized" || seal(frame.body).byteLength > frameBytesMax) {
      count("oversized");
      return expected;
    }
    const opened = open(seal(frame.body));
    if (typeof opened === "string") {
      count(opened);
      continue;
    }
    const decoded = decodeMessage(opened);
    if (decoded.ok) expected.delivered++;
    else if (decoded.reason === "malformed" && decodeBeacon(opened).ok) expected.beacons++;
    else {
      count(decoded.reason);
      if (decoded.reason === "version") return expected;
    }
  }
  return expected;
}

function wireBytes(frames: readonly WireFrame[], seal: (body: Buffer) => Buffer): Buffer {
  return Buffer.concat(
    frames.map((frame) => {
      if (frame.kind === "body") return encodeFrame(seal(frame.body));
      const header = Buffer.alloc(FRAME_HEADER_BYTES + 16);
      header.writeUInt32BE(frame.announced);
      return header;
    }),
  );
}

async function startTransport(options: Partial<TcpTransportOptions> = {}) {
  const messages = new Inbox<Message>();
  const beacons = new Inbox<Beacon>();
  const transport = await TcpTransport.start({
    onMessage: messages.push,
    onBeacon: beacons.push,
    frameBytesMax,
    ...options,
  });
  return { transport, messages, beacons };
}

async function openSocket(port: number): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => undefined); // the transport may reset a refused connection
  socket.resume(); // read (and discard) a version notice, so that the end of the stream is seen
  await once(socket, "connect");
  return socket;
}

function totalDropped(stats: TransportStats): number {
  return Object.values(stats.dropped).reduce((sum, count) => sum + count, 0);
}

/** Sends each case on its own connection and checks the counters against the decoders' verdicts. */
async function fuzzCases(
  cases: readonly WireFrame[][],
  keys: readonly string[],
  seal: (body: Buffer) => Buffer,
  open: (frame: Buffer) => Buffer | PeerDropReason,
): Promise<void> {
  const { transport, messages, beacons } = await startTransport({ keys });
  try {
    for (const [position, frames] of cases.entries()) {
      const before = transport.stats();
      const beaconsBefore = beacons.items.length;
      const expected = expectationOf(frames, seal, open);
      const socket = await openSocket(transport.port);
      socket.end(wireBytes(frames, seal));
      const accounted = () =>
        transport.stats().delivered - before.delivered + (beacons.items.length - beaconsBefore) >=
          expected.delivered + expected.beacons &&
        totalDropped(transport.stats()) - totalDropped(before) >=
          Object.values(expected.dropped).reduce((sum, count) => sum + count, 0);
      await waitFor(accounted, `case ${position} to be accounted for`);
      await new Promise<void>((resolve) =>
        socket.closed ? resolve() : socket.once("close", () => resolve()),
      );
      const after = transport.stats();
      const context = `case ${position}: ${JSON.stringify(expected)}`;
      assert.equal(after.delivered - before.delivered, expected.delivered, context);
      assert.equal(beacons.items.length - beaconsBefore, expected.beacons, context);
      for (const [reason, count] of Object.entries(after.dropped)) {
        const delta = count - before.dropped[reason as PeerDropReason];
        assert.equal(delta, expected.dropped[reason as PeerDropReason] ?? 0, `${context}: ${reason}`);
      }
    }
    for (const message of messages.items) {
      assert.equal(messageSchema.safeParse(message).success, true);
      assertPlain(message);
    }
    assertPrototypeClean();
  } finally {
    await transport.close();
  }
}

describe("TCP transport fuzzing", () => {
  test("garbage, mutated, valid, other-version and oversized frames are each delivered or counted, as the decoders judge", async () => {
    const cases = drawn(connectionCase, fuzzSeed("tcp frames"), 150);
    const receiver = frameAuth("peer");
    const open = (frame: Buffer): Buffer | PeerDropReason => {
      const opened = receiver.open(frame);
      return opened.ok ? opened.body : opened.reason;
    };
    await fuzzCases(cases, [], (body) => body, open);
  });

  test("with a cluster key, replays of valid frames and unsigned frames are refused and counted", async () => {
    const sender = frameAuth("peer", { keys: [key] });
    const seen = new Set<string>();
    // The oracle of the receiver's checks: signed frames open once; a second copy is a replay.
    const open = (frame: Buffer): Buffer | PeerDropReason => {
      const nonce = frame.toString("hex", 0, 66);
      if (seen.has(nonce)) return "replayed";
      seen.add(nonce);
      return frame.subarray(66);
    };
    const seed = fuzzSeed("tcp replays");
    const cases = drawn(connectionCase, seed, 40);
    const { transport } = await startTransport({ keys: [key] });
    try {
      const socket = await openSocket(transport.port);
      const valid = encodeFrame(sender.seal(encodeMessage(sampleMessages()[0]!)));
      socket.write(valid);
      socket.write(valid);
      socket.end(encodeFrame(encodeMessage(sampleMessages()[1]!)));
      await waitFor(() => totalDropped(transport.stats()) >= 2, "the replay and the unsigned frame");
      assert.equal(transport.stats().delivered, 1);
      assert.equal(transport.stats().dropped.replayed, 1);
      assert.equal(transport.stats().dropped.unsigned, 1);
    } finally {
      await transport.close();
    }
    // Then mutated streams, every frame signed, each sent twice: the copy is always refused.
    const doubled = cases.map((frames) => frames.flatMap((frame) => [frame, frame]));
    const sealed = new Map<Buffer, Buffer>();
    const seal = (body: Buffer) => {
      let frame = sealed.get(body);
      if (frame === undefined) sealed.set(body, (frame = sender.seal(body)));
      return frame;
    };
    await fuzzCases(doubled, [key], seal, open);
  });

  test("the heap stays bounded after thousands of garbage frames", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const seed = fuzzSeed("tcp heap");
    // Frames that do not end their connection (none of another version or over the maximum).
    const bodies = drawn(wireFrame, seed, 400).filter((frame) => {
      if (frame.kind !== "body" || frame.body.byteLength > frameBytesMax) return false;
      const decoded = decodeMessage(frame.body);
      return decoded.ok || decoded.reason !== "version";
    });
    const { transport } = await startTransport();
    try {
      const round = async () => {
        for (let connection = 0; connection < 4; connection++) {
          const socket = await openSocket(transport.port);
          socket.end(wireBytes(bodies, (body) => body));
          await new Promise<void>((resolve) => socket.once("close", () => resolve()));
        }
      };
      await round();
      gc();
      const baseline = process.memoryUsage().heapUsed;
      for (let k = 0; k < 5; k++) await round();
      gc();
      const grownBytes = process.memoryUsage().heapUsed - baseline;
      const frames = transport.stats().delivered + totalDropped(transport.stats());
      assert.ok(frames >= 6 * 4 * bodies.length * 0.9, `${frames} frames handled`);
      assert.ok(grownBytes < 16 * 1024 * 1024, `heap grew by ${grownBytes} bytes over ${frames} frames`);
    } finally {
      await transport.close();
    }
  });

  test("partial frames of all connections together stay within their budget (regression)", async () => {
    // Each connection announces a maximum frame and sends most of it: before the budget, every
    // connection could hold one, 256 connections × 16 MiB by default.
    const budget = 3 * frameBytesMax;
    const { transport } = await startTransport({ inboundBufferedBytesMax: budget });
    const sockets: Socket[] = [];
    try {
      const header = Buffer.alloc(FRAME_HEADER_BYTES);
      header.writeUInt32BE(frameBytesMax);
      for (let k = 0; k < 8; k++) {
        const socket = await openSocket(transport.port);
        sockets.push(socket);
        socket.write(Buffer.concat([header, Buffer.alloc(frameBytesMax - 10, 0x41)]));
      }
      await waitFor(
        () => transport.stats().dropped["buffer-limit"] >= 5,
        "connections over the budget to be closed",
      );
      const open = sockets.filter((socket) => !socket.closed && !socket.destroyed);
      await waitFor(
        () => sockets.filter((socket) => socket.closed).length >= 5,
        "the refused connections to close",
      );
      assert.ok(open.length >= 3 || sockets.filter((socket) => !socket.closed).length <= 3);
      assert.equal(transport.stats().dropped["buffer-limit"], 5);
    } finally {
      for (const socket of sockets) socket.destroy();
      await transport.close();
    }
  });
});

describe("UDP discovery fuzzing", () => {
  test("garbage and mutated beacons are each delivered or counted, and only valid beacons come out", async () => {
    const seed = fuzzSeed("udp beacons");
    const datagram = fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)),
      mutationsOf([{ v: PROTOCOL_VERSION, b: sampleBeacon() }]).map(({ document, mutations }) =>
        Buffer.from(mutatedJson(document, mutations)).subarray(0, udpPayloadMax),
      ),
      fc.constant(encodeBeacon(sampleBeacon())),
      fc.integer({ min: 8193, max: 9000 }).map((length) => Buffer.alloc(length, 0x7b)),
    );
    const datagrams = drawn(datagram, seed, 300);
    const received: Beacon[] = [];
    let started: UdpDiscovery | null = null;
    let port = 0;
    for (let attempt = 0; started === null; attempt++) {
      port = 20_000 + Math.floor(Math.random() * 40_000);
      try {
        started = await UdpDiscovery.start({
          discoveryPort: port,
          onBeacon: (beacon) => received.push(beacon),
        });
      } catch (error) {
        if (!(error instanceof BindError && attempt < 10)) throw error;
      }
    }
    const discovery = started;
    const sender = createSocket("udp4");
    try {
      await new Promise<void>((resolve) => sender.bind(0, "127.0.0.1", resolve));
      sender.setBroadcast(true);
      const handled = () =>
        discovery.stats().delivered +
        Object.values(discovery.stats().dropped).reduce((sum, count) => sum + count, 0);
      // In small bursts, so that the receive buffer never overflows.
      for (let start = 0; start < datagrams.length; start += 20) {
        const burst = datagrams.slice(start, start + 20);
        for (const payload of burst) {
          await new Promise<void>((resolve, reject) =>
            sender.send(payload, port, "127.255.255.255", (error) =>
              error === null ? resolve() : reject(error),
            ),
          );
        }
        await waitFor(() => handled() >= start + burst.length, `datagrams up to ${start + burst.length}`);
      }
      assert.equal(handled(), datagrams.length);
      const expectedValid = datagrams.filter(
        (payload) => payload.byteLength <= 8192 && decodeBeacon(payload).ok,
      ).length;
      assert.equal(discovery.stats().delivered, expectedValid);
      for (const beacon of received) assertPlain(beacon);
      assertPrototypeClean();
    } finally {
      sender.close();
      await discovery.close();
    }
  });
});
