// The contract every PeerTransport keeps, as a suite that runs against any implementation: the
// TCP transport and the in-memory one. Each test makes its own endpoints and closes them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Message } from "../../src/core/cluster/types.js";
import type { PeerEndpoint } from "../../src/net/stats.js";
import { Inbox, numbered, sampleMessages, waitFor } from "./support.js";

/** Makes endpoints of one implementation, and an address where nothing listens. */
export interface TransportFactory {
  endpoint(onMessage: (message: Message) => void): Promise<PeerEndpoint>;
  unusedAddress(): Promise<string>;
  /** Releases whatever the factory itself holds (after every endpoint was closed). */
  close(): Promise<void>;
}

async function withEndpoints(
  makeFactory: () => TransportFactory,
  count: number,
  run: (endpoints: { endpoint: PeerEndpoint; inbox: Inbox }[], factory: TransportFactory) => Promise<void>,
): Promise<void> {
  const factory = makeFactory();
  const endpoints: { endpoint: PeerEndpoint; inbox: Inbox }[] = [];
  try {
    for (let made = 0; made < count; made++) {
      const inbox = new Inbox();
      endpoints.push({ endpoint: await factory.endpoint(inbox.push), inbox });
    }
    await run(endpoints, factory);
  } finally {
    await Promise.all(endpoints.map(({ endpoint }) => endpoint.close()));
    await factory.close();
  }
}

/** Registers the contract tests for the transport that `makeFactory` builds. */
export function peerTransportContract(name: string, makeFactory: () => TransportFactory): void {
  describe(`PeerTransport contract: ${name}`, () => {
    test("every message type is delivered between two endpoints, unchanged", async () => {
      await withEndpoints(makeFactory, 2, async ([a, b]) => {
        const messages = sampleMessages();
        for (const message of messages) a!.endpoint.send(message, b!.endpoint.address);
        assert.deepEqual(await b!.inbox.waitForCount(messages.length), messages);
        assert.equal(a!.endpoint.stats().sent, messages.length);
        assert.equal(b!.endpoint.stats().delivered, messages.length);
      });
    });

    test("delivery works both ways at once", async () => {
      await withEndpoints(makeFactory, 2, async ([a, b]) => {
        a!.endpoint.send(numbered(1), b!.endpoint.address);
        b!.endpoint.send(numbered(2, { from: 2, to: 1 }), a!.endpoint.address);
        assert.deepEqual(await b!.inbox.waitForCount(1), [numbered(1)]);
        assert.deepEqual(await a!.inbox.waitForCount(1), [numbered(2, { from: 2, to: 1 })]);
      });
    });

    test("messages from one sender arrive in the order sent", async () => {
      await withEndpoints(makeFactory, 2, async ([a, b]) => {
        const count = 500;
        for (let sequence = 1; sequence <= count; sequence++)
          a!.endpoint.send(numbered(sequence), b!.endpoint.address);
        const received = await b!.inbox.waitForCount(count);
        assert.deepEqual(
          received.map((message) => (message.type === "append-reply" ? message.readSeq : -1)),
          Array.from({ length: count }, (_, offset) => offset + 1),
        );
      });
    });

    test("a send with no address is dropped and counted", async () => {
      await withEndpoints(makeFactory, 1, ([a]) => {
        a!.endpoint.send(numbered(1), undefined);
        assert.equal(a!.endpoint.stats().dropped["no-address"], 1);
        return Promise.resolve();
      });
    });

    test("a send to an address where nobody listens is dropped and counted, and later sends still work", async () => {
      await withEndpoints(makeFactory, 2, async ([a, b], factory) => {
        a!.endpoint.send(numbered(1), await factory.unusedAddress());
        await waitFor(() => a!.endpoint.stats().dropped.unreachable === 1, "the drop to be counted");
        a!.endpoint.send(numbered(2), b!.endpoint.address);
        assert.deepEqual(await b!.inbox.waitForCount(1), [numbered(2)]);
      });
    });

    test("after close, sends are dropped as closed", async () => {
      await withEndpoints(makeFactory, 2, async ([a, b]) => {
        await a!.endpoint.close();
        a!.endpoint.send(numbered(1), b!.endpoint.address);
        assert.equal(a!.endpoint.stats().dropped.closed, 1);
      });
    });
  });
}
