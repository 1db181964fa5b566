import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { test } from "node:test";
import { agreedView, freeTcpPort, freeUdpPort, waitFor } from "../../src/dev/local-cluster.js";
import type { ClusterView } from "../../src/dev/local-cluster.js";

test("a free TCP port and a free UDP port can be bound on 127.0.0.1", async () => {
  const tcp = await freeTcpPort();
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(tcp, "127.0.0.1", resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const udp = await freeUdpPort();
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(udp, "127.0.0.1", resolve);
  });
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  assert.ok(tcp > 0 && udp > 0);
});

test("waitFor resolves with the condition's first value, retrying through falses and throws", async () => {
  let calls = 0;
  const value = await waitFor(
    "the third call",
    5000,
    () => {
      calls += 1;
      if (calls === 1) return false;
      if (calls === 2) throw new Error("not yet");
      return { calls };
    },
    { pollMs: 1 },
  );
  assert.deepEqual(value, { calls: 3 });
});

test("waitFor fails after its timeout, naming what it waited for and the last error", async () => {
  await assert.rejects(
    waitFor(
      "a thing that never happens",
      30,
      () => {
        throw new Error("still broken");
      },
      { pollMs: 5 },
    ),
    /timed out after 30 ms waiting for a thing that never happens \(last error: still broken\)/,
  );
});

test("agreedView: every view names the leader and lists every node as a voter", () => {
  const view = (leader: number | null, roles: Record<number, string>): ClusterView => ({
    term: 2,
    leader,
    nodes: Object.entries(roles).map(([id, role]) => ({
      id: Number(id),
      role,
      status: "alive",
      http: "",
      auctions: 0,
    })),
  });
  const settled = view(3, { 1: "worker", 2: "worker", 3: "leader" });
  assert.equal(agreedView([settled, settled, settled], [1, 2, 3], 3), settled);
  assert.equal(
    agreedView([settled, view(2, { 1: "worker", 2: "leader", 3: "worker" })], [1, 2, 3], 3),
    undefined,
  );
  assert.equal(agreedView([view(3, { 1: "learner", 2: "worker", 3: "leader" })], [1, 2, 3], 3), undefined);
  assert.equal(agreedView([view(3, { 2: "worker", 3: "leader" })], [1, 2, 3], 3), undefined);
});
