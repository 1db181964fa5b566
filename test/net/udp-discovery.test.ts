// UDP discovery on loopback: instances sharing one discovery port hear each other's beacons via
// 127.255.255.255, and garbage, oversized, foreign-version and invalid datagrams are dropped and
// counted. Each test picks a random high discovery port and retries if it is taken.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import { describe, test } from "node:test";
import { PROTOCOL_VERSION } from "../../src/net/envelope.js";
import { WildcardAddressError } from "../../src/net/errors.js";
import { UdpDiscovery } from "../../src/net/udp-discovery.js";
import { recordingLogger, sampleBeacon, waitFor, withDiscovery } from "./support.js";

async function rawSender(): Promise<Socket> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  socket.setBroadcast(true);
  return socket;
}

function sendTo(socket: Socket, port: number, payload: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) =>
    socket.send(payload, port, "127.255.255.255", (error) => (error === null ? resolve() : reject(error))),
  );
}

describe("UDP discovery on loopback", () => {
  test("two instances on one discovery port hear each other (and themselves) via 127.255.255.255", async () => {
    await withDiscovery(async (start) => {
      const a = await start();
      const b = await start();
      assert.equal(a.discovery.broadcastAddress, "127.255.255.255");
      const beaconA = sampleBeacon({ nodeId: 1 });
      const beaconB = sampleBeacon({
        nodeId: 2,
        address: "127.0.0.1:7402",
        clusterId: "c-1",
        term: 4,
        leaderId: 2,
      });
      a.discovery.broadcast(beaconA);
      b.discovery.broadcast(beaconB);
      for (const { inbox } of [a, b]) {
        await waitFor(() => inbox.items.length >= 2, "both beacons");
        assert.deepEqual(
          [...inbox.items].sort((x, y) => x.nodeId - y.nodeId),
          [beaconA, beaconB],
        );
      }
      await waitFor(
        () => a.discovery.stats().sent === 1 && b.discovery.stats().sent === 1,
        "sends to complete",
      );
    });
  });

  test("garbage, oversized, foreign-version and invalid datagrams are dropped, counted, and do not stop delivery", async () => {
    const { logger, lines } = recordingLogger();
    await withDiscovery(async (start, port) => {
      const a = await start({ datagramBytesMax: 512, logger });
      const raw = await rawSender();
      try {
        await sendTo(raw, port, "garbage");
        await sendTo(raw, port, Buffer.from([0xff, 0x00, 0xfe]));
        await sendTo(raw, port, Buffer.alloc(1000, 0x7b));
        await sendTo(raw, port, JSON.stringify({ v: PROTOCOL_VERSION + 1, b: sampleBeacon() }));
        await sendTo(raw, port, JSON.stringify({ v: PROTOCOL_VERSION + 1, b: sampleBeacon() }));
        await sendTo(
          raw,
          port,
          JSON.stringify({ v: PROTOCOL_VERSION, b: { ...sampleBeacon(), nodeId: -1 } }),
        );
        await sendTo(raw, port, JSON.stringify({ v: PROTOCOL_VERSION, b: { ...sampleBeacon(), x: 1 } }));
        await sendTo(raw, port, JSON.stringify({ v: PROTOCOL_VERSION, b: sampleBeacon({ nodeId: 9 }) }));
        const expected = { malformed: 2, oversized: 1, version: 2, invalid: 2 };
        await waitFor(() => {
          const { dropped } = a.discovery.stats();
          return Object.entries(expected).every(
            ([reason, count]) => dropped[reason as keyof typeof dropped] === count,
          );
        }, "every drop to be counted");
        await waitFor(() => a.inbox.items.length === 1, "the valid beacon");
        assert.deepEqual(a.inbox.items, [sampleBeacon({ nodeId: 9 })]);
        const refusals = lines.filter((line) => line.msg.includes("protocol version"));
        assert.equal(refusals.length, 1, "one line per sender and version");
        assert.match(
          refusals[0]!.msg,
          new RegExp(`speaks protocol version ${PROTOCOL_VERSION + 1}, this node speaks ${PROTOCOL_VERSION}`),
        );
      } finally {
        raw.close();
      }
    });
  });

  test("a beacon over the datagram maximum is not sent", async () => {
    await withDiscovery(async (start) => {
      const a = await start({ datagramBytesMax: 64 });
      a.discovery.broadcast(sampleBeacon());
      assert.equal(a.discovery.stats().dropped.oversized, 1);
      assert.equal(a.discovery.stats().sent, 0);
    });
  });

  test("after close, broadcasts are dropped as closed", async () => {
    await withDiscovery(async (start) => {
      const a = await start();
      await a.discovery.close();
      a.discovery.broadcast(sampleBeacon());
      assert.equal(a.discovery.stats().dropped.closed, 1);
    });
  });

  test("the wildcard host is refused before anything is bound", async () => {
    for (const host of ["0.0.0.0", ""]) {
      await assert.rejects(
        UdpDiscovery.start({ host, discoveryPort: 20_000, onBeacon: () => undefined }),
        WildcardAddressError,
      );
    }
  });
});
