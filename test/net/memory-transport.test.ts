// The in-memory transport keeps the PeerTransport contract and runs messages through the real codec.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryHub } from "../../src/net/memory-transport.js";
import { peerTransportContract } from "./peer-transport-contract.js";
import { numbered, sampleMessages } from "./support.js";

peerTransportContract("memory", () => {
  const hub = new MemoryHub();
  let next = 1;
  return {
    endpoint: (onMessage) => Promise.resolve(hub.endpoint(`memory:${next++}`, onMessage)),
    unusedAddress: () => Promise.resolve("memory:nobody"),
    close: () => Promise.resolve(),
  };
});

test("memory transport: a message the schemas refuse is dropped at the sender, as it would be on the wire", () => {
  const hub = new MemoryHub();
  const a = hub.endpoint("a", () => assert.fail("nothing should arrive"));
  hub.endpoint("b", () => assert.fail("nothing should arrive"));
  a.send(numbered(1, { from: 0 }), "b");
  assert.equal(a.stats().dropped.invalid, 1);
});

test("memory transport: messages over the frame maximum are dropped as oversized", () => {
  const hub = new MemoryHub({ frameBytesMax: 100 });
  const a = hub.endpoint("a", () => assert.fail("nothing should arrive"));
  hub.endpoint("b", () => assert.fail("nothing should arrive"));
  a.send(sampleMessages()[0]!, "b");
  assert.equal(a.stats().dropped.oversized, 1);
});

test("memory transport: an address can be taken once, and again after close", async () => {
  const hub = new MemoryHub();
  const first = hub.endpoint("a", () => undefined);
  assert.throws(() => hub.endpoint("a", () => undefined), /taken/);
  await first.close();
  hub.endpoint("a", () => undefined);
});
