// The TCP transport: the PeerTransport contract, then what only TCP has: reconnection after a
// peer restarts, bad input from raw sockets that leaves the server serving others, version
// refusal in both directions, bounded queues, timeouts and limits. Everything on 127.0.0.1.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { describe, test } from "node:test";
import { encodeMessage, PROTOCOL_VERSION } from "../../src/net/envelope.js";
import { BindError, WildcardAddressError } from "../../src/net/errors.js";
import { encodeFrame, FrameDecoder } from "../../src/net/frame.js";
import { backoffDelayMs } from "../../src/net/tcp-peer-link.js";
import { TcpTransport } from "../../src/net/tcp-transport.js";
import type { TcpTransportOptions } from "../../src/net/tcp-transport.js";
import { peerTransportContract } from "./peer-transport-contract.js";
import { freePort, Inbox, numbered, recordingLogger, sampleMessages, waitFor } from "./support.js";

peerTransportContract("tcp", () => ({
  endpoint: (onMessage) => TcpTransport.start({ onMessage }),
  unusedAddress: async () => `127.0.0.1:${await freePort()}`,
  close: () => Promise.resolve(),
}));

/** Starts transports, runs `body`, and closes them all whatever happens. */
async function withTransports(
  body: (
    start: (options?: Partial<TcpTransportOptions>) => Promise<{ transport: TcpTransport; inbox: Inbox }>,
  ) => Promise<void>,
): Promise<void> {
  const started: TcpTransport[] = [];
  const start = async (options: Partial<TcpTransportOptions> = {}) => {
    const inbox = new Inbox();
    const transport = await TcpTransport.start({ onMessage: inbox.push, ...options });
    started.push(transport);
    return { transport, inbox };
  };
  try {
    await body(start);
  } finally {
    await Promise.all(started.map((transport) => transport.close()));
  }
}

async function rawConnection(port: number): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  return socket;
}

function frameOf(text: string): Buffer {
  return encodeFrame(Buffer.from(text, "utf8"));
}

describe("TCP transport: peers that restart", () => {
  test("messages flow again after the peer restarts on the same port", async () => {
    await withTransports(async (start) => {
      const a = await start();
      const b1 = await start();
      const port = b1.transport.port;
      a.transport.send(numbered(1), b1.transport.address);
      await b1.inbox.waitForCount(1);
      await b1.transport.close();
      await waitFor(() => a.transport.peers()[0]?.connected === false, "the link to notice the close");
      const b2 = await start({ port });
      a.transport.send(numbered(2), b2.transport.address);
      assert.deepEqual(await b2.inbox.waitForCount(1), [numbered(2)]);
    });
  });

  test("sends while the peer is down are dropped as unreachable; the link retries with backoff", async () => {
    await withTransports(async (start) => {
      const a = await start({ backoffBaseMs: 10, backoffMaxMs: 40 });
      const port = await freePort();
      a.transport.send(numbered(1), `127.0.0.1:${port}`);
      await waitFor(() => a.transport.stats().dropped.unreachable === 1, "the first attempt to fail");
      assert.equal(a.transport.peers()[0]?.failures, 1);
      const b = await start({ port });
      a.transport.send(numbered(2), b.transport.address);
      assert.deepEqual(await b.inbox.waitForCount(1), [numbered(2)]);
      assert.equal(a.transport.peers()[0]?.connected, true);
    });
  });

  test("backoff doubles from the base, is capped, and is jittered within [half, full]", () => {
    assert.equal(
      backoffDelayMs(0, 50, 5000, () => 0.5),
      0,
    );
    assert.equal(
      backoffDelayMs(1, 50, 5000, () => 0),
      25,
    );
    assert.equal(backoffDelayMs(1, 50, 5000, () => 0.999_999) < 50, true);
    assert.equal(
      backoffDelayMs(3, 50, 5000, () => 0),
      100,
    );
    assert.equal(
      backoffDelayMs(30, 50, 5000, () => 0),
      2500,
    );
    assert.equal(
      backoffDelayMs(1000, 50, 5000, () => 1),
      5000,
    );
  });
});

describe("TCP transport: bad input", () => {
  test("bad frames are dropped by reason; well-framed ones keep the connection open", async () => {
    await withTransports(async (start) => {
      const b = await start();
      const raw = await rawConnection(b.transport.port);
      const valid = sampleMessages()[0]!;
      raw.write(frameOf("not json"));
      raw.write(frameOf('{"v":1,"m":{"type":"gossip"}}'));
      raw.write(frameOf('{"v":1,"m":{"type":"timeout-now","from":-1}}'));
      raw.write(encodeFrame(Buffer.from([0xc3, 0x28])));
      raw.write(encodeFrame(encodeMessage(valid)));
      assert.deepEqual(await b.inbox.waitForCount(1), [valid]);
      const dropped = b.transport.stats().dropped;
      assert.deepEqual([dropped.malformed, dropped["unknown-type"], dropped.invalid], [2, 1, 1]);
      assert.equal(raw.destroyed, false);
      raw.destroy();
    });
  });

  test("garbage and oversized frames close only that connection; the server keeps serving others", async () => {
    await withTransports(async (start) => {
      const b = await start({ frameBytesMax: 1024 });
      const a = await start();
      const garbage = await rawConnection(b.transport.port);
      const oversized = await rawConnection(b.transport.port);
      const stalled = await rawConnection(b.transport.port);
      stalled.write(Buffer.from([0, 0, 1, 0, 123]));
      garbage.write(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      const header = Buffer.alloc(4);
      header.writeUInt32BE(1025, 0);
      oversized.write(header);
      await Promise.all([once(garbage, "close"), once(oversized, "close")]);
      assert.equal(b.transport.stats().dropped.oversized, 2);
      a.transport.send(numbered(1), b.transport.address);
      assert.deepEqual(await b.inbox.waitForCount(1), [numbered(1)]);
      assert.equal(stalled.destroyed, false, "a half-sent frame does not disturb other connections");
      stalled.destroy();
    });
  });

  test("a connection that sends nothing is closed after the idle timeout", async () => {
    await withTransports(async (start) => {
      const b = await start({ idleTimeoutMs: 50 });
      const raw = await rawConnection(b.transport.port);
      raw.write(Buffer.from([0, 0]));
      await once(raw, "close");
    });
  });

  test("connections beyond the maximum are refused and counted", async () => {
    await withTransports(async (start) => {
      const b = await start({ inboundConnectionsMax: 1 });
      const first = await rawConnection(b.transport.port);
      const second = await rawConnection(b.transport.port);
      await once(second, "close");
      assert.equal(b.transport.stats().dropped["connection-limit"], 1);
      first.write(encodeFrame(encodeMessage(numbered(1))));
      assert.deepEqual(await b.inbox.waitForCount(1), [numbered(1)]);
      first.destroy();
    });
  });
});

describe("TCP transport: protocol versions", () => {
  test("a peer of another version is told our version, logged once, counted and disconnected", async () => {
    const { logger, lines } = recordingLogger();
    await withTransports(async (start) => {
      const b = await start({ logger });
      for (let attempt = 0; attempt < 2; attempt++) {
        const raw = await rawConnection(b.transport.port);
        const decoder = new FrameDecoder();
        const frames: Buffer[] = [];
        raw.on("data", (chunk: Buffer) => frames.push(...decoder.push(chunk).frames));
        raw.write(frameOf(JSON.stringify({ v: PROTOCOL_VERSION + 1, m: numbered(1) })));
        raw.write(encodeFrame(encodeMessage(numbered(2))));
        await once(raw, "end");
        assert.deepEqual(
          frames.map((frame) => JSON.parse(frame.toString()) as unknown),
          [{ v: PROTOCOL_VERSION }],
        );
        raw.destroy();
      }
      assert.equal(b.transport.stats().dropped.version, 2);
      assert.equal(b.inbox.items.length, 0, "nothing after the refused frame is read");
      const refusals = lines.filter((line) => line.msg.includes("protocol version"));
      assert.equal(refusals.length, 1);
      assert.match(
        refusals[0]!.msg,
        new RegExp(`speaks protocol version ${PROTOCOL_VERSION + 1}, this node speaks ${PROTOCOL_VERSION}`),
      );
      assert.equal(refusals[0]!.level, 40);
    });
  });

  test("when a peer refuses our version, the sender logs which versions differ and counts it", async () => {
    const { logger, lines } = recordingLogger();
    const server = createServer((socket) => socket.end(frameOf(JSON.stringify({ v: 99 }))));
    server.listen({ host: "127.0.0.1", port: 0 });
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    try {
      await withTransports(async (start) => {
        const a = await start({ logger });
        a.transport.send(numbered(1), `127.0.0.1:${port}`);
        await waitFor(() => a.transport.stats().dropped.version === 1, "the refusal to be counted");
        const refusal = lines.find((line) => line.msg.includes("refused us"));
        assert.ok(refusal);
        assert.match(
          refusal.msg,
          new RegExp(`speaks protocol version 99, this node speaks ${PROTOCOL_VERSION}`),
        );
      });
    } finally {
      server.close();
    }
  });
});

describe("TCP transport: bounds and configuration", () => {
  test("messages beyond the queue maximum while connecting are dropped as queue-full", async () => {
    await withTransports(async (start) => {
      const a = await start({ queueMessagesMax: 2 });
      const b = await start();
      for (let sequence = 1; sequence <= 5; sequence++)
        a.transport.send(numbered(sequence), b.transport.address);
      assert.equal(a.transport.stats().dropped["queue-full"], 3);
      assert.deepEqual(await b.inbox.waitForCount(2), [numbered(1), numbered(2)]);
    });
  });

  test("a message over the frame maximum is dropped before it is sent", async () => {
    await withTransports(async (start) => {
      const a = await start({ frameBytesMax: 64 });
      const b = await start();
      a.transport.send(sampleMessages()[0]!, b.transport.address);
      assert.equal(a.transport.stats().dropped.oversized, 1);
      assert.deepEqual(a.transport.peers(), [], "no connection is made for it");
    });
  });

  test("invalid addresses and too many peers are dropped and counted", async () => {
    await withTransports(async (start) => {
      const a = await start({ peersMax: 1 });
      const b = await start();
      for (const address of ["nonsense", "127.0.0.1:0", "0.0.0.0:7401"])
        a.transport.send(numbered(1), address);
      assert.equal(a.transport.stats().dropped["invalid-address"], 3);
      a.transport.send(numbered(1), b.transport.address);
      a.transport.send(numbered(2), `127.0.0.1:${await freePort()}`);
      assert.equal(a.transport.stats().dropped["peer-limit"], 1);
      await b.inbox.waitForCount(1);
    });
  });

  test("the wildcard host is refused and a taken port is a BindError", async () => {
    await assert.rejects(
      TcpTransport.start({ host: "0.0.0.0", onMessage: () => undefined }),
      WildcardAddressError,
    );
    await withTransports(async (start) => {
      const a = await start();
      const error = await start({ port: a.transport.port }).then(
        () => assert.fail("expected EADDRINUSE"),
        (error: unknown) => error,
      );
      assert.ok(error instanceof BindError);
      assert.equal(error.code, "bind-failed");
      assert.equal(error.systemCode, "EADDRINUSE");
    });
  });

  test("close ends the server and every connection", async () => {
    const inbox = new Inbox();
    const a = await TcpTransport.start({ onMessage: inbox.push });
    const b = await TcpTransport.start({ onMessage: inbox.push });
    a.send(numbered(1), b.address);
    await inbox.waitForCount(1);
    await Promise.all([a.close(), b.close()]);
    const refused = connect({ host: "127.0.0.1", port: b.port });
    const [error] = (await once(refused, "error")) as [NodeJS.ErrnoException];
    assert.equal(error.code, "ECONNREFUSED");
  });
});
