// The live stream's replay on subscribe: a backlog the client could be sent within its buffer limit
// is replayed event by event; one too large to queue at once is answered with "resync" instead of
// tripping the slow-client limit (which would close the socket again on every reconnect, forever).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import fastify from "fastify";
import websocket from "@fastify/websocket";
import WebSocket from "ws";
import { EventFeed, registerStream } from "../../src/api/stream.js";
import type { StreamNode } from "../../src/api/stream.js";
import type { ApplyResult, ClusterState } from "../../src/core/cluster/state.js";
import type { LogEntry } from "../../src/core/cluster/types.js";
import { silentLogger } from "../../src/node/logger.js";

const applied = 200;

function feedWithAssignments(): EventFeed {
  const feed = new EventFeed();
  feed.startAt(0);
  for (let index = 1; index <= applied; index++) {
    const entry = { index, term: 1 } as unknown as LogEntry;
    const result = {
      kind: "assign",
      applied: true,
      auctionId: `auction-${index}`,
      assignment: { owner: 1, epoch: index },
    } as unknown as ApplyResult;
    feed.onApplied(entry, result, {} as ClusterState);
  }
  return feed;
}

/** Subscribes to every auction from `from`; resolves with the messages until `done` says so. */
function subscribe(
  url: string,
  from: number,
  done: (messages: { type: string; index?: number }[]) => boolean,
): Promise<{ type: string; index?: number }[]> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const messages: { type: string; index?: number }[] = [];
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no end after 10 s: ${JSON.stringify(messages.map((m) => m.type))}`));
    }, 10_000);
    socket.on("open", () => socket.send(JSON.stringify({ type: "subscribe", auctions: "all", from })));
    socket.on("message", (data: Buffer) => {
      messages.push(JSON.parse(data.toString("utf8")) as { type: string; index?: number });
      if (done(messages)) {
        clearTimeout(timer);
        socket.close();
        resolve(messages);
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

test("a backlog within the buffer is replayed; one beyond it is answered with resync", async (t) => {
  const server = fastify();
  await server.register(websocket);
  const node: StreamNode = {
    id: 1,
    state: () => ({ appliedIndex: applied }) as unknown as ClusterState,
    status: () => ({ term: 1, leaderId: 1 }),
    onEvent: () => undefined,
  };
  // Each event is about 120 bytes as sent: 10 fit in half of 4,000 bytes, 200 do not.
  registerStream(server, feedWithAssignments(), () => node, {
    logger: silentLogger(),
    userOfToken: () => undefined,
    bufferedBytesMax: 4000,
  });
  await server.listen({ port: 0, host: "127.0.0.1" });
  t.after(() => server.close());
  const url = `ws://127.0.0.1:${(server.server.address() as AddressInfo).port}/api/stream`;

  const recent = await subscribe(url, applied - 10, (messages) =>
    messages.some((message) => message.type === "event" && message.index === applied),
  );
  assert.deepEqual(
    recent.filter((message) => message.type === "event").map((message) => message.index),
    Array.from({ length: 10 }, (_, k) => applied - 9 + k),
  );
  assert.ok(!recent.some((message) => message.type === "resync"));

  const far = await subscribe(url, 0, (messages) => messages.some((message) => message.type === "resync"));
  assert.deepEqual(
    far.filter((message) => message.type === "event"),
    [],
    "no event before the resync",
  );
  assert.equal(far.find((message) => message.type === "resync")?.index, applied);
});
