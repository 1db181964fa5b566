// Fuzzing the multicast update receiver on loopback: garbage datagrams, mutated valid datagrams
// (wrong types, NaN, Infinity, huge or negative versions, __proto__ keys, cut short), oversized
// ones, datagrams of several updates, and replays of valid updates. Every datagram is dropped whole
// with a counted reason or passes, and every update of one that passes is delivered or dropped,
// versions come out increasing per auction, the receiver tracks at most `auctionsMax` auctions, and
// with keys a replayed update is refused. Prints its seed (GAVEL_FUZZ_SEED=<n>). Costs about 1 s.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import { describe, test } from "node:test";
import fc from "fast-check";
import { UpdateReceiver } from "../../src/client/update-receiver.js";
import type { AuctionUpdate, UpdateReceiverStats } from "../../src/client/update-receiver.js";
import { frameAuth } from "../../src/net/cluster-key.js";
import { encodeUpdates, UPDATE_FORMAT_VERSION } from "../../src/net/envelope.js";
import {
  assertPlain,
  assertPrototypeClean,
  drawn,
  fuzzSeed,
  mutatedJson,
  mutationsOf,
} from "../net/fuzz-support.js";
import { waitFor } from "../net/support.js";

/** Longer than any datagram the receivers accept (8192 bytes), short enough for bursts not to overflow socket buffers. */
const udpPayloadMax = 9000;
const group = "239.255.77.1";
const key = "update-fuzz-key-8e2d4c6a1b3f";

function update(version: number, auctionId = "a1"): AuctionUpdate {
  return {
    clusterName: "gavel",
    nodeId: 2,
    auctionId,
    version,
    event: "bid-accepted",
    timestampMs: 1_700_000_000_000 + version,
    phase: "active",
    price: 100 + version,
    highBidder: "bea",
    closesAt: 1_700_000_600_000,
    bidCount: version,
    outcome: null,
  };
}

async function multicastSender(): Promise<Socket> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  socket.setMulticastInterface("127.0.0.1");
  socket.setMulticastTTL(1);
  socket.setMulticastLoopback(true);
  return socket;
}

/** Drop reasons that apply to one update of a datagram that passed; the others drop whole datagrams. */
const updateDropReasons = new Set(["other-cluster", "duplicate", "stale-version", "held-full"]);

/** Checks that every datagram passed or was dropped, and every update that passed was delivered or dropped. */
function assertAccounted(stats: UpdateReceiverStats): void {
  const dropped = (updates: boolean) =>
    Object.entries(stats.dropped)
      .filter(([reason]) => updateDropReasons.has(reason) === updates)
      .reduce((sum, [, count]) => sum + count, 0);
  assert.equal(
    stats.passed + dropped(false),
    stats.received,
    "every datagram passed or dropped with a reason",
  );
  assert.equal(
    stats.delivered + dropped(true),
    stats.updates,
    "every update delivered or dropped with a reason",
  );
}

/** Sends `datagrams` in small bursts, waiting until the receiver has judged each burst. */
async function sendAll(receiver: UpdateReceiver, port: number, datagrams: readonly Buffer[]): Promise<void> {
  const sender = await multicastSender();
  try {
    for (let start = 0; start < datagrams.length; start += 20) {
      const burst = datagrams.slice(start, start + 20);
      for (const payload of burst) {
        await new Promise<void>((resolve, reject) =>
          sender.send(payload, port, group, (error) => (error === null ? resolve() : reject(error))),
        );
      }
      await waitFor(
        () => receiver.stats().received >= start + burst.length,
        `datagrams up to ${start + burst.length}`,
      );
    }
  } finally {
    sender.close();
  }
}

describe("update receiver fuzzing", () => {
  test("garbage, mutated and oversized updates are delivered in version order or counted", async () => {
    const seed = fuzzSeed("update datagrams");
    const documents = [[1], [2], [3, 4], [7], [2, 3, 9]].map((versions) => ({
      v: UPDATE_FORMAT_VERSION,
      u: versions.map((version) => update(version)),
    }));
    const datagram = fc.oneof(
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)) },
      {
        weight: 6,
        arbitrary: mutationsOf(documents).map(({ document, mutations }) =>
          Buffer.from(mutatedJson(document, mutations)).subarray(0, udpPayloadMax),
        ),
      },
      {
        weight: 2,
        arbitrary: fc
          .integer({ min: 1, max: 20 })
          .map((version) => encodeUpdates([update(version, `a${version % 3}`)])),
      },
      {
        weight: 1,
        arbitrary: fc
          .array(fc.integer({ min: 1, max: 20 }), { minLength: 2, maxLength: 6 })
          .map((versions) => encodeUpdates(versions.map((version) => update(version, `a${version % 3}`)))),
      },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 8193, max: 9000 }).map((length) => Buffer.alloc(length, 0x7b)),
      },
    );
    const datagrams = drawn(datagram, seed, 400);
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    const receiver = await UpdateReceiver.start({ group, port, interfaceAddress: "127.0.0.1" });
    const delivered: AuctionUpdate[] = [];
    receiver.on("update", (item) => delivered.push(item));
    try {
      await sendAll(receiver, port, datagrams);
      const stats = receiver.stats();
      assert.equal(stats.received, datagrams.length);
      assertAccounted(stats);
      assert.ok(stats.updates > stats.passed, "some datagrams carried several updates");
      const last = new Map<string, number>();
      for (const item of delivered) {
        assertPlain(item);
        const before = last.get(item.auctionId) ?? 0;
        assert.ok(item.version > before, `${item.auctionId}: version ${item.version} after ${before}`);
        last.set(item.auctionId, item.version);
      }
      assertPrototypeClean();
    } finally {
      await receiver.close();
    }
  });

  test("the receiver tracks at most auctionsMax auctions, however many ids arrive", async () => {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    const auctionsMax = 16;
    const receiver = await UpdateReceiver.start({ group, port, interfaceAddress: "127.0.0.1", auctionsMax });
    try {
      const ids = Array.from({ length: 60 }, (_, k) => `fuzz-${k}`);
      await sendAll(
        receiver,
        port,
        ids.map((auctionId) => encodeUpdates([update(5, auctionId)])),
      );
      assert.equal(receiver.stats().delivered, ids.length);
      const tracked = ids.filter((auctionId) => receiver.version(auctionId) !== undefined);
      assert.deepEqual(tracked, ids.slice(-auctionsMax), "the most recent ones are kept");
    } finally {
      await receiver.close();
    }
  });

  test("with a cluster key, a replayed update and an unsigned one are refused and counted", async () => {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    const receiver = await UpdateReceiver.start({ group, port, interfaceAddress: "127.0.0.1", keys: [key] });
    const sender = frameAuth("update", { keys: [key] });
    try {
      const first = sender.seal(encodeUpdates([update(1)]));
      const second = sender.seal(encodeUpdates([update(2)]));
      await sendAll(receiver, port, [first, first, second, second, encodeUpdates([update(3)])]);
      const stats = receiver.stats();
      assert.equal(stats.delivered, 2);
      assert.equal(stats.dropped.replayed, 2);
      assert.equal(stats.dropped.unsigned, 1);
      assert.equal(receiver.version("a1"), 2);
    } finally {
      await receiver.close();
    }
  });
});
