// The update publisher and the receiver library on real sockets: multicast on loopback, sent with
// the interface pinned to 127.0.0.1 and TTL 1, joined on 127.0.0.1, to a random port of
// 239.255.77.1. A run of updates arrives in order; a skipped version makes the receiver fetch the
// auction from a small HTTP server and go on from its version; duplicates and stale versions are
// dropped; with keys, updates of the wrong key, of none, and replayed datagrams are refused.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { describe, test } from "node:test";
import { UpdateReceiver } from "../../src/client/update-receiver.js";
import type {
  AuctionUpdate,
  CatchUp,
  GapNotice,
  UpdateReceiverOptions,
} from "../../src/client/update-receiver.js";
import { ClusterState } from "../../src/core/cluster/state.js";
import type { LogEntry } from "../../src/core/cluster/types.js";
import { keyIdOf } from "../../src/net/cluster-key.js";
import { InvalidMulticastGroupError, WildcardAddressError } from "../../src/net/errors.js";
import { UpdatePublisher } from "../../src/net/update-publisher.js";
import type { UpdatePublisherOptions } from "../../src/net/update-publisher.js";
import { createBody, freePort, waitFor } from "../net/support.js";

const group = "239.255.77.1";
const keyA = "update-key-a-6d1f0c9e2b7a4853";
const keyB = "update-key-b-1a2b3c4d5e6f7081";

/** A fresh port for each test's group (no other test listens on it). */
function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 40_000);
}

interface Channel {
  port: number;
  publisher(options?: Partial<UpdatePublisherOptions>): Promise<UpdatePublisher>;
  receiver(options?: Partial<UpdateReceiverOptions>): Promise<Recorded>;
}

interface Recorded {
  receiver: UpdateReceiver;
  updates: AuctionUpdate[];
  gaps: GapNotice[];
  catchUps: CatchUp[];
}

/** Runs `body` with publishers and receivers on one random port; closes them all whatever happens. */
async function withChannel(body: (channel: Channel) => Promise<void>): Promise<void> {
  const port = randomPort();
  const closers: (() => Promise<void>)[] = [];
  const channel: Channel = {
    port,
    publisher: async (options = {}) => {
      const publisher = await UpdatePublisher.start({
        group,
        port,
        nodeId: 2,
        clusterName: "gavel",
        eventAgeMaxMs: Number.POSITIVE_INFINITY,
        ...options,
      });
      closers.push(() => publisher.close());
      return publisher;
    },
    receiver: async (options = {}) => {
      const receiver = await UpdateReceiver.start({ group, port, interfaceAddress: "127.0.0.1", ...options });
      closers.push(() => receiver.close());
      const recorded: Recorded = { receiver, updates: [], gaps: [], catchUps: [] };
      receiver.on("update", (update) => recorded.updates.push(update));
      receiver.on("gap", (gap) => recorded.gaps.push(gap));
      receiver.on("catch-up", (catchUp) => recorded.catchUps.push(catchUp));
      return recorded;
    },
  };
  try {
    await body(channel);
  } finally {
    await Promise.all(closers.map((close) => close()));
  }
}

/** An update of auction a1 at `version` (the facts do not matter to ordering). */
function updateAt(version: number, overrides: Partial<AuctionUpdate> = {}): AuctionUpdate {
  return {
    clusterName: "gavel",
    nodeId: 2,
    auctionId: "a1",
    version,
    event: version === 1 ? "auction-created" : "bid-accepted",
    timestampMs: 1_700_000_000_000 + version,
    phase: "active",
    price: version === 1 ? null : 100 + 10 * version,
    highBidder: version === 1 ? null : `bidder-${version}`,
    closesAt: 1_700_000_600_000,
    bidCount: version - 1,
    outcome: null,
    ...overrides,
  };
}

function versions(updates: readonly AuctionUpdate[]): number[] {
  return updates.map((update) => update.version);
}

/** A tiny auction API: GET /api/auctions/:id answers `state()` (after `gate` resolves, if set). */
async function auctionServer(state: () => Record<string, unknown>): Promise<{
  url: string;
  requests: string[];
  gate: { wait: Promise<void> | null };
  close(): Promise<void>;
}> {
  const requests: string[] = [];
  const gate: { wait: Promise<void> | null } = { wait: null };
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests.push(request.url ?? "");
    void (async () => {
      await gate.wait;
      const body = state();
      const found = request.url === `/api/auctions/${String(body.id)}`;
      response.writeHead(found ? 200 : 404, { "content-type": "application/json" });
      response.end(JSON.stringify(found ? body : { code: "unknown-auction" }));
    })();
  });
  server.listen({ host: "127.0.0.1", port: 0 });
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    gate,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("multicast updates on loopback", () => {
  test("a receiver sees every update of a run of applied entries, in order", async () => {
    await withChannel(async (channel) => {
      const publisher = await channel.publisher();
      const { receiver, updates, gaps } = await channel.receiver();
      const state = new ClusterState();
      const apply = (entry: LogEntry) => {
        publisher.applied(entry, state.apply(entry));
        publisher.flush(state);
      };
      const stamp = 5000; // inside createBody's opening hours (1 000 to 10 000 ms)
      apply({
        index: 1,
        term: 1,
        timestampMs: stamp,
        data: { kind: "create", command: { ...createBody, buyNowPrice: null }, owner: 2 },
      });
      for (let bid = 1; bid <= 40; bid++) {
        const command = {
          type: "place-bid" as const,
          auctionId: "a1",
          bidder: bid % 2 === 0 ? "bea" : "cal",
          bidId: `b${bid}`,
          amount: 100 + 10 * bid,
          max: null,
        };
        const data = { kind: "auction" as const, command, owner: 2, epoch: 1, ref: `r${bid}` };
        apply({ index: bid + 1, term: 1, timestampMs: stamp, data });
      }
      await waitFor(() => updates.length === 41, "41 updates");
      assert.deepEqual(
        versions(updates),
        Array.from({ length: 41 }, (_, index) => index + 1),
      );
      assert.deepEqual(updates[40], {
        ...updateAt(41),
        event: "bid-accepted",
        timestampMs: stamp,
        price: 500,
        highBidder: "bea",
        closesAt: createBody.closesAt,
        bidCount: 40,
      });
      assert.equal(receiver.version("a1"), 41);
      assert.equal(gaps.length, 0);
      assert.equal(publisher.stats().sent, 41);
      assert.equal(receiver.stats().delivered, 41);
    });
  });

  test("the updates of one batch go together, in order, as many to a datagram as fit", async () => {
    await withChannel(async (channel) => {
      const datagramBytesMax = 1400;
      const publisher = await channel.publisher({ datagramBytesMax });
      const { receiver, updates, gaps } = await channel.receiver();
      const raw = await rawGroupListener(channel.port);
      try {
        const batch = Array.from({ length: 200 }, (_, index) =>
          updateAt(Math.floor(index / 7) + 1, { auctionId: `a${index % 7}` }),
        );
        publisher.publishAll(batch);
        await waitFor(() => updates.length === batch.length, "every update");
        assert.deepEqual(updates, batch, "each update as sent, in the order sent");
        assert.equal(gaps.length, 0);
        const { sent, updates: carried } = publisher.stats();
        assert.equal(carried, batch.length);
        await waitFor(() => raw.datagrams.length === sent, "every datagram at the raw listener");
        const bytes = raw.datagrams.map((datagram) => datagram.byteLength);
        assert.ok(Math.max(...bytes) <= datagramBytesMax, `datagrams of ${Math.max(...bytes)} bytes`);
        // Packed: no datagram had room for the first update of the next one.
        const firsts = raw.datagrams.map((datagram) => {
          const body = JSON.parse(datagram.toString("utf8")) as { u: AuctionUpdate[] };
          return Buffer.byteLength(JSON.stringify(body.u[0]));
        });
        for (let index = 0; index + 1 < bytes.length; index++)
          assert.ok(bytes[index]! + 1 + firsts[index + 1]! > datagramBytesMax, `datagram ${index} not full`);
        assert.ok(sent < batch.length / 3, `${sent} datagrams for ${batch.length} updates`);
        assert.equal(receiver.stats().passed, sent);
        assert.equal(receiver.stats().updates, batch.length);
      } finally {
        raw.socket.close();
      }
    });
  });

  test("a skipped version is detected, the auction fetched over HTTP, and updates go on from its version", async () => {
    const api = await auctionServer(() => ({ id: "a1", version: 4, price: 140, title: "Brass lamp" }));
    try {
      await withChannel(async (channel) => {
        const publisher = await channel.publisher();
        const { receiver, updates, gaps, catchUps } = await channel.receiver({ httpUrl: `${api.url}/` });
        publisher.publish(updateAt(1));
        publisher.publish(updateAt(2));
        await waitFor(() => updates.length === 2, "versions 1 and 2");
        // Version 3 is lost; the fetch is held back until 5 and 6 have arrived too.
        let release: () => void = () => undefined;
        api.gate.wait = new Promise((resolve) => (release = resolve));
        publisher.publish(updateAt(4));
        await waitFor(() => gaps.length === 1, "the gap");
        assert.deepEqual(gaps, [{ auctionId: "a1", lastVersion: 2, receivedVersion: 4 }]);
        publisher.publish(updateAt(6));
        publisher.publish(updateAt(5));
        await waitFor(() => receiver.stats().received === 5, "5 and 6 to arrive during the catch-up");
        assert.deepEqual(versions(updates), [1, 2], "nothing delivered while catching up");
        release();
        await waitFor(() => updates.length === 4, "the updates after the fetched version");
        assert.deepEqual(api.requests, ["/api/auctions/a1"]);
        assert.equal(catchUps.length, 1);
        assert.deepEqual(catchUps[0], {
          auctionId: "a1",
          fromVersion: 2,
          version: 4,
          auction: { id: "a1", version: 4, price: 140, title: "Brass lamp" },
        });
        assert.deepEqual(versions(updates), [1, 2, 5, 6], "4 came with the fetch; 5 and 6 in order");
        publisher.publish(updateAt(7));
        await waitFor(() => updates.length === 5, "version 7");
        const stats = receiver.stats();
        assert.equal(stats.gaps, 1);
        assert.equal(stats.catchUps, 1);
        assert.equal(stats.dropped["stale-version"], 1, "the held 4, covered by the fetch");
      });
    } finally {
      await api.close();
    }
  });

  test("duplicates and stale versions are dropped and counted", async () => {
    await withChannel(async (channel) => {
      const publisher = await channel.publisher();
      const { receiver, updates } = await channel.receiver();
      for (const version of [1, 1, 2, 3, 2, 3, 1, 4]) publisher.publish(updateAt(version));
      await waitFor(() => receiver.stats().received === 8, "eight datagrams");
      assert.deepEqual(versions(updates), [1, 2, 3, 4]);
      const { dropped } = receiver.stats();
      assert.equal(dropped.duplicate, 2, "1 again right after 1, and 3 right after 3");
      assert.equal(dropped["stale-version"], 2, "2 after 3, and 1 after 3");
    });
  });

  test("without an HTTP URL a gap is reported and the receiver goes on from the update", async () => {
    await withChannel(async (channel) => {
      const publisher = await channel.publisher();
      const { receiver, updates, gaps } = await channel.receiver();
      for (const version of [1, 3, 4]) publisher.publish(updateAt(version));
      await waitFor(() => updates.length === 3, "three updates");
      assert.deepEqual(versions(updates), [1, 3, 4]);
      assert.deepEqual(gaps, [{ auctionId: "a1", lastVersion: 1, receivedVersion: 3 }]);
      assert.equal(receiver.stats().catchUps, 0);
    });
  });

  test("a failed fetch is reported and the receiver goes on from what it held", async () => {
    const closedPort = await freePort();
    await withChannel(async (channel) => {
      const publisher = await channel.publisher();
      const { receiver, updates } = await channel.receiver({ httpUrl: `http://127.0.0.1:${closedPort}` });
      const failures: string[] = [];
      receiver.on("catch-up-failed", (failure) => failures.push(failure.auctionId));
      for (const version of [1, 3]) publisher.publish(updateAt(version));
      await waitFor(() => updates.length === 2, "both updates");
      assert.deepEqual(versions(updates), [1, 3]);
      assert.deepEqual(failures, ["a1"]);
      assert.equal(receiver.stats().catchUpFailures, 1);
    });
  });

  test("updates of another cluster are dropped when the receiver names its cluster", async () => {
    await withChannel(async (channel) => {
      const publisher = await channel.publisher();
      const { receiver, updates } = await channel.receiver({ clusterName: "gavel" });
      publisher.publish(updateAt(1, { clusterName: "other", auctionId: "x" }));
      publisher.publish(updateAt(1));
      await waitFor(() => receiver.stats().received === 2, "both datagrams");
      assert.deepEqual(
        updates.map((update) => update.auctionId),
        ["a1"],
      );
      assert.equal(receiver.stats().dropped["other-cluster"], 1);
    });
  });
});

describe("signed updates", () => {
  test("with keys, updates of the wrong key, of none, or replayed are refused; rotation keys pass", async () => {
    await withChannel(async (channel) => {
      const { receiver, updates } = await channel.receiver({ keys: [keyA] });
      const raw = await rawGroupListener(channel.port);
      try {
        const wrong = await channel.publisher({ keys: [keyB] });
        const keyless = await channel.publisher();
        const right = await channel.publisher({ keys: [keyA] });
        const rotating = await channel.publisher({ keys: [keyB, keyA] });
        wrong.publish(updateAt(1));
        keyless.publish(updateAt(1));
        right.publish(updateAt(1));
        await waitFor(() => receiver.stats().received === 3, "three datagrams");
        assert.deepEqual(versions(updates), [1]);
        const { dropped } = receiver.stats();
        assert.equal(dropped["unknown-key"], 1);
        assert.equal(dropped.unsigned, 1);
        // The right key's datagram, captured and sent again, is a replay (not merely a duplicate).
        await waitFor(() => raw.datagrams.length === 3, "the listener to hear all three");
        const captured = raw.datagrams.find((datagram) => datagram.toString("hex", 2, 10) === keyIdOf(keyA))!;
        await sendToGroup(channel.port, captured);
        await waitFor(() => receiver.stats().dropped.replayed === 1, "the replay to be refused");
        // A publisher mid-rotation (signs with B, which the receiver lacks) is refused; A,B would pass.
        rotating.publish(updateAt(2));
        right.publish(updateAt(2));
        await waitFor(() => updates.length === 2, "version 2 from the right key");
        assert.equal(receiver.stats().dropped["unknown-key"], 2);
        const receiverAB = await channel.receiver({ keys: [keyA, keyB] });
        rotating.publish(updateAt(3));
        right.publish(updateAt(4));
        await waitFor(() => receiverAB.updates.length === 2, "both keys to pass a receiver holding both");
      } finally {
        raw.socket.close();
      }
    });
  });

  test("a keyless receiver refuses signed updates", async () => {
    await withChannel(async (channel) => {
      const { receiver, updates } = await channel.receiver();
      const signed = await channel.publisher({ keys: [keyA] });
      signed.publish(updateAt(1));
      await waitFor(() => receiver.stats().dropped["unexpected-signature"] === 1, "the refusal");
      assert.equal(updates.length, 0);
    });
  });
});

describe("configuration", () => {
  test("the wildcard interface and non-multicast groups are refused", async () => {
    await assert.rejects(UpdateReceiver.start({ interfaceAddress: "0.0.0.0" }), WildcardAddressError);
    await assert.rejects(UpdateReceiver.start({ group: "127.0.0.1" }), InvalidMulticastGroupError);
    await assert.rejects(UpdateReceiver.start({ group: "255.255.255.255" }), InvalidMulticastGroupError);
    await assert.rejects(
      UpdatePublisher.start({ host: "0.0.0.0", nodeId: 1, clusterName: "gavel" }),
      WildcardAddressError,
    );
    await assert.rejects(
      UpdatePublisher.start({ group: "10.0.0.1", nodeId: 1, clusterName: "gavel" }),
      InvalidMulticastGroupError,
    );
  });

  test("an update over the datagram maximum is dropped and counted, not sent", async () => {
    await withChannel(async (channel) => {
      const publisher = await channel.publisher({ datagramBytesMax: 100 });
      publisher.publish(updateAt(1));
      assert.equal(publisher.stats().dropped.oversized, 1);
      assert.equal(publisher.stats().sent, 0);
    });
  });
});

/** A plain socket in the group on 127.0.0.1, as any listener on this machine could be. */
async function rawGroupListener(
  port: number,
): Promise<{ socket: ReturnType<typeof createSocket>; datagrams: Buffer[] }> {
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  const datagrams: Buffer[] = [];
  socket.on("message", (datagram) => datagrams.push(datagram));
  await new Promise<void>((resolve) => socket.bind({ address: group, port }, resolve));
  socket.addMembership(group, "127.0.0.1");
  return { socket, datagrams };
}

/** Sends `datagram` to the group from 127.0.0.1, pinned to loopback with TTL 1. */
async function sendToGroup(port: number, datagram: Buffer): Promise<void> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  socket.setMulticastInterface("127.0.0.1");
  socket.setMulticastTTL(1);
  socket.setMulticastLoopback(true);
  await new Promise<void>((resolve, reject) =>
    socket.send(datagram, port, group, (error) => (error ? reject(error) : resolve())),
  );
  socket.close();
}
