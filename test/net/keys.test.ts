// Cluster keys on real sockets (127.0.0.1 only): TCP transports and UDP discovery with the wrong
// key or none have every frame refused and counted; captured bytes sent again are refused as
// replays; a key rotation A -> A,B -> B,A -> B, one node at a time, loses nothing at any step.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import type { Socket as UdpSocket } from "node:dgram";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { describe, test } from "node:test";
import type { Beacon, Message } from "../../src/core/cluster/types.js";
import { InvalidClusterKeyError } from "../../src/net/errors.js";
import { FrameDecoder } from "../../src/net/frame.js";
import { TcpTransport } from "../../src/net/tcp-transport.js";
import type { TcpTransportOptions } from "../../src/net/tcp-transport.js";
import { Inbox, numbered, recordingLogger, sampleBeacon, waitFor, withDiscovery } from "./support.js";

const keyA = "cluster-key-a-3f9c2e71d0b84a65";
const keyB = "cluster-key-b-8e41a7c3f2d95b10";

interface Started {
  transport: TcpTransport;
  messages: Inbox<Message>;
  beacons: Inbox<Beacon>;
}

/** Starts TCP transports, runs `body`, and closes them all whatever happens. */
async function withTransports(
  body: (start: (options?: Partial<TcpTransportOptions>) => Promise<Started>) => Promise<void>,
): Promise<void> {
  const started: TcpTransport[] = [];
  const start = async (options: Partial<TcpTransportOptions> = {}) => {
    const messages = new Inbox<Message>();
    const beacons = new Inbox<Beacon>();
    const transport = await TcpTransport.start({
      onMessage: messages.push,
      onBeacon: beacons.push,
      ...options,
    });
    started.push(transport);
    return { transport, messages, beacons };
  };
  try {
    await body(start);
  } finally {
    await Promise.all(started.map((transport) => transport.close()));
  }
}

/** A TCP server on 127.0.0.1 that keeps every byte it is sent. */
async function captureServer(): Promise<{ server: Server; address: string; bytes: () => Buffer }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  const close = server.close.bind(server);
  server.close = (callback) => {
    for (const socket of sockets) socket.destroy();
    return close(callback);
  };
  return { server, address: `127.0.0.1:${port}`, bytes: () => Buffer.concat(chunks) };
}

async function writeRaw(port: number, bytes: Buffer): Promise<void> {
  const socket = connect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  socket.end(bytes);
  await once(socket, "close");
}

function frameCount(bytes: Buffer): number {
  return new FrameDecoder().push(bytes).frames.length;
}

describe("cluster keys on the TCP transport", () => {
  test("frames from a transport with the wrong key, or none, are all refused and counted", async () => {
    const { logger, lines } = recordingLogger();
    await withTransports(async (start) => {
      const keyed = await start({ keys: [keyA], logger });
      const wrong = await start({ keys: [keyB] });
      const keyless = await start();
      const friend = await start({ keys: [keyA] });
      for (let sequence = 1; sequence <= 5; sequence++) {
        wrong.transport.send(numbered(sequence, { from: 9 }), keyed.transport.address);
        keyless.transport.send(numbered(sequence, { from: 8 }), keyed.transport.address);
      }
      wrong.transport.sendBeacon(sampleBeacon({ nodeId: 9 }), keyed.transport.address);
      keyless.transport.sendBeacon(sampleBeacon({ nodeId: 8 }), keyed.transport.address);
      friend.transport.send(numbered(1), keyed.transport.address);
      friend.transport.sendBeacon(sampleBeacon({ nodeId: 1 }), keyed.transport.address);
      await waitFor(() => {
        const { dropped } = keyed.transport.stats();
        return dropped["unknown-key"] === 6 && dropped.unsigned === 6;
      }, "every frame of the wrong key and of no key to be refused");
      assert.deepEqual(await keyed.messages.waitForCount(1), [numbered(1)]);
      assert.deepEqual(await keyed.beacons.waitForCount(1), [sampleBeacon({ nodeId: 1 })]);
      assert.equal(keyed.transport.stats().delivered, 1);
      const warnings = lines.filter((line) => line.msg === "dropped peer message" && line.level === 40);
      assert.ok(warnings.some((line) => line.reason === "unknown-key"));
      assert.ok(warnings.some((line) => line.reason === "unsigned"));
      const everything = JSON.stringify(lines);
      assert.ok(!everything.includes(keyA) && !everything.includes(keyB), "no key in any log line");
      // And the other way: a node without keys refuses what keyed nodes send it.
      friend.transport.send(numbered(2), keyless.transport.address);
      await waitFor(
        () => keyless.transport.stats().dropped["unexpected-signature"] === 1,
        "the keyless node to refuse a signed frame",
      );
      assert.equal(keyless.messages.items.length, 0);
    });
  });

  test("captured frames sent again, on the same or a new connection, are refused as replays", async () => {
    await withTransports(async (start) => {
      const receiver = await start({ keys: [keyA] });
      const sender = await start({ keys: [keyA] });
      const capture = await captureServer();
      try {
        for (let sequence = 1; sequence <= 3; sequence++)
          sender.transport.send(numbered(sequence), capture.address);
        await waitFor(() => frameCount(capture.bytes()) === 3, "three frames captured");
        const captured = capture.bytes();
        // First delivery of the captured bytes: accepted (they were never delivered before).
        await writeRaw(receiver.transport.port, captured);
        assert.deepEqual(await receiver.messages.waitForCount(3), [numbered(1), numbered(2), numbered(3)]);
        // The same bytes twice on one connection, then again on another: all replays.
        await writeRaw(receiver.transport.port, Buffer.concat([captured, captured]));
        await writeRaw(receiver.transport.port, captured);
        await waitFor(() => receiver.transport.stats().dropped.replayed === 9, "nine replays refused");
        assert.equal(receiver.messages.items.length, 3);
        assert.equal(receiver.transport.stats().delivered, 3);
      } finally {
        await new Promise<void>((resolve) => capture.server.close(() => resolve()));
      }
    });
  });

  test("a sender whose clock is outside the replay window is refused as stale", async () => {
    await withTransports(async (start) => {
      const receiver = await start({ keys: [keyA], replayWindowMs: 5000 });
      const late = await start({ keys: [keyA], nowMs: () => Date.now() - 60_000 });
      late.transport.send(numbered(1), receiver.transport.address);
      await waitFor(() => receiver.transport.stats().dropped.stale === 1, "the stale frame to be refused");
      assert.equal(receiver.messages.items.length, 0);
    });
  });

  test("an unusable key stops the transport before it binds", async () => {
    await assert.rejects(
      TcpTransport.start({ onMessage: () => undefined, keys: ["too-short"] }),
      InvalidClusterKeyError,
    );
  });

  test("rotation A -> A,B -> B,A -> B, one node at a time: every message at every step arrives", async () => {
    await withTransports(async (start) => {
      const nodes: Started[] = [];
      for (let index = 0; index < 3; index++) nodes.push(await start({ keys: [keyA] }));
      let sequence = 0;
      const exchangeAll = async (step: string) => {
        for (const from of nodes) {
          for (const to of nodes) {
            if (from === to) continue;
            const before = to.messages.items.length;
            const message = numbered(++sequence);
            from.transport.send(message, to.transport.address);
            const items = await to.messages.waitForCount(before + 1).catch(() => {
              throw new Error(`${step}: message ${sequence} did not arrive`);
            });
            assert.deepEqual(items[before], message, step);
          }
        }
      };
      await exchangeAll("all on A");
      for (const keys of [[keyA, keyB], [keyB, keyA], [keyB]]) {
        for (let index = 0; index < nodes.length; index++) {
          // A rolling restart: the node comes back with its new keys (and a new port).
          await nodes[index]!.transport.close();
          nodes[index] = await start({ keys });
          await exchangeAll(`node ${index + 1} on ${keys.length === 2 ? "two keys" : "B"}`);
        }
      }
      for (const node of nodes) {
        const { dropped } = node.transport.stats();
        for (const reason of ["unsigned", "unknown-key", "bad-signature", "stale", "replayed"] as const) {
          assert.equal(dropped[reason], 0, `${reason} drops`);
        }
      }
    });
  });
});

describe("live key rotation on the TCP transport", () => {
  test("setKeys one node at a time, A -> A,B -> B,A -> B, while messages flow: nothing refused", async () => {
    await withTransports(async (start) => {
      const nodes: Started[] = [];
      for (let index = 0; index < 3; index++) nodes.push(await start({ keys: [keyA] }));
      let sequence = 0;
      let expected = 0;
      const delivered = () => nodes.reduce((sum, node) => sum + node.messages.items.length, 0);
      // Every node sends to every other; the step is over when all of it arrived (an operator
      // moves to the next phase of a rotation once every node has this one).
      const exchangeAll = async (step: string) => {
        for (const from of nodes) {
          for (const to of nodes) {
            if (from === to) continue;
            from.transport.send(numbered(++sequence), to.transport.address);
            expected++;
          }
        }
        await waitFor(() => delivered() === expected, `${step}: all ${expected} messages`);
      };
      await exchangeAll("all on A");
      for (const keys of [[keyA, keyB], [keyB, keyA], [keyB]]) {
        for (const [index, node] of nodes.entries()) {
          node.transport.setKeys(keys);
          await exchangeAll(
            `node ${index + 1} on ${keys.length} key(s), ${keys[0] === keyA ? "A" : "B"} first`,
          );
        }
      }
      for (const node of nodes) {
        const { dropped } = node.transport.stats();
        for (const reason of ["unsigned", "unknown-key", "bad-signature", "stale", "replayed"] as const) {
          assert.equal(dropped[reason], 0, `${reason} drops`);
        }
      }
      assert.throws(() => nodes[0]!.transport.setKeys(["short"]), InvalidClusterKeyError);
      nodes[0]!.transport.send(numbered(++sequence), nodes[1]!.transport.address);
      await nodes[1]!.messages.waitForCount(nodes[1]!.messages.items.length + 1);
    });
  });
});

/** A socket that hears the discovery port's broadcasts, like any node on this host. */
async function broadcastListener(port: number): Promise<{ socket: UdpSocket; datagrams: Buffer[] }> {
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  const datagrams: Buffer[] = [];
  socket.on("message", (datagram) => datagrams.push(datagram));
  await new Promise<void>((resolve) => socket.bind({ address: "127.255.255.255", port }, resolve));
  socket.setBroadcast(true);
  return { socket, datagrams };
}

describe("cluster keys on UDP discovery", () => {
  test("beacons of the wrong key or none are refused and counted; a captured beacon sent again is a replay", async () => {
    await withDiscovery(async (start, port) => {
      const keyed = await start({ keys: [keyA] });
      const wrong = await start({ keys: [keyB] });
      const keyless = await start();
      const friend = await start({ keys: [keyA] });
      const listener = await broadcastListener(port);
      try {
        wrong.discovery.broadcast(sampleBeacon({ nodeId: 9 }));
        keyless.discovery.broadcast(sampleBeacon({ nodeId: 8 }));
        friend.discovery.broadcast(sampleBeacon({ nodeId: 1 }));
        await waitFor(() => {
          const { dropped } = keyed.discovery.stats();
          return dropped["unknown-key"] === 1 && dropped.unsigned === 1;
        }, "the wrong-key and keyless beacons to be refused");
        await keyed.inbox.waitForCount(1);
        assert.deepEqual(keyed.inbox.items, [sampleBeacon({ nodeId: 1 })]);
        // The keyless node hears only itself: the signed beacons are refused.
        await waitFor(
          () => keyless.discovery.stats().dropped["unexpected-signature"] === 2,
          "keyless refusals",
        );
        assert.deepEqual(keyless.inbox.items, [sampleBeacon({ nodeId: 8 })]);
        // Replay the friend's beacon exactly as it was broadcast.
        await waitFor(() => listener.datagrams.length === 3, "the listener to hear the three beacons");
        const signed = listener.datagrams.filter((datagram) => datagram[0] === 0xf5);
        const sender = createSocket("udp4");
        await new Promise<void>((resolve) => sender.bind(0, "127.0.0.1", resolve));
        sender.setBroadcast(true);
        for (const datagram of signed) {
          await new Promise<void>((resolve, reject) =>
            sender.send(datagram, port, "127.255.255.255", (error) => (error ? reject(error) : resolve())),
          );
        }
        sender.close();
        await waitFor(
          () => keyed.discovery.stats().dropped.replayed === 1,
          "the replayed beacon to be refused",
        );
        assert.equal(keyed.inbox.items.length, 1);
      } finally {
        listener.socket.close();
      }
    });
  });
});
