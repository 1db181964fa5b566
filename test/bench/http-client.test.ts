// The load generator's HTTP client against a raw TCP server that answers exactly as each test
// writes: it must read what node:http would, reuse its connections, and fail (never guess) on what
// it does not support.
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { HttpClient, parseHead } from "../../bench/http-client.js";

interface Received {
  head: string;
  body: string;
  socket: net.Socket;
  connection: number;
}

/** A server that hands each complete request (with its Content-Length body) to `answer`. */
async function rawServer(
  answer: (request: Received) => void,
): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    let data = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const headEnd = data.indexOf("\r\n\r\n");
      if (headEnd < 0) return;
      const head = data.toString("latin1", 0, headEnd);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (data.byteLength < headEnd + 4 + length) return;
      const body = data.toString("utf8", headEnd + 4, headEnd + 4 + length);
      data = data.subarray(headEnd + 4 + length);
      answer({ head, body, socket, connection });
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  after(() => server.close());
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, connections: () => connections };
}

const client = new HttpClient(2_000);
after(() => client.close());

test("reads status, body and Gavel-Owner, and reuses one connection for sequential requests", async () => {
  const seen: Received[] = [];
  const server = await rawServer((request) => {
    seen.push(request);
    const body = JSON.stringify({ echo: JSON.parse(request.body) as unknown, n: seen.length });
    request.socket.write(
      `HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nGavel-Owner: http://127.0.0.1:9/x\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  for (let n = 1; n <= 3; n++) {
    const answer = await client.post(
      `${server.url}/api/auctions/a1/bids`,
      "tok",
      JSON.stringify({ amount: n, note: "é" }),
    );
    assert.equal(answer.status, 201);
    assert.deepEqual(JSON.parse(answer.body), { echo: { amount: n, note: "é" }, n });
    assert.equal(answer.owner, "http://127.0.0.1:9/x");
  }
  assert.equal(server.connections(), 1);
  assert.match(seen[0]!.head, /^POST \/api\/auctions\/a1\/bids HTTP\/1\.1\r\n/);
  assert.match(seen[0]!.head, /\r\nauthorization: Bearer tok(\r\n|$)/);
  assert.match(seen[0]!.head, /\r\ncontent-type: application\/json(\r\n|$)/);
});

test("an answer split into many writes is put together; concurrent requests use their own connections", async () => {
  const server = await rawServer((request) => {
    const body = `{"conflict":"bid must be at least 1234"}`;
    const text = `HTTP/1.1 409 Conflict\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    let at = 0;
    const next = () => {
      if (at >= text.length) return;
      request.socket.write(text.slice(at, at + 7));
      at += 7;
      setImmediate(next);
    };
    next();
  });
  const answers = await Promise.all(
    Array.from({ length: 4 }, () => client.post(`${server.url}/api/auctions/a/bids`, "t", "{}")),
  );
  for (const answer of answers) {
    assert.equal(answer.status, 409);
    assert.equal(/at least (\d+)/.exec(answer.body)?.[1], "1234");
    assert.equal(answer.owner, undefined);
  }
  assert.equal(server.connections(), 4);
});

test("Connection: close is honoured: the next request opens a new connection", async () => {
  const server = await rawServer((request) => {
    request.socket.end(`HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}`);
  });
  assert.equal((await client.post(`${server.url}/p`, "t", "{}")).status, 200);
  assert.equal((await client.post(`${server.url}/p`, "t", "{}")).status, 200);
  assert.equal(server.connections(), 2);
});

test("what the client does not support fails the request instead of being guessed at", async () => {
  const answers: Record<string, string> = {
    chunked: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    "no length": `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n`,
    "not http": `SSH-2.0-OpenSSH\r\n\r\n`,
    "extra bytes": `HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n`,
    "cut short": `HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}`,
  };
  const server = await rawServer((request) => {
    const kind = JSON.parse(request.body) as string;
    if (kind === "cut short") request.socket.end(answers[kind]!);
    else request.socket.write(answers[kind]!);
  });
  const expected: Record<string, RegExp> = {
    chunked: /unsupported transfer-encoding/,
    "no length": /without content-length/,
    "not http": /not an HTTP\/1.x status line/,
    "extra bytes": /bytes after the answer/,
    "cut short": /connection closed/,
  };
  for (const kind of Object.keys(answers)) {
    await assert.rejects(client.post(`${server.url}/p`, "t", JSON.stringify(kind)), expected[kind]!, kind);
  }
});

test("a server that never answers times the request out", async () => {
  const server = await rawServer(() => {});
  const quick = new HttpClient(200);
  after(() => quick.close());
  await assert.rejects(quick.post(`${server.url}/p`, "t", "{}"), /timed out/);
});

/** Why parseHead refused `text` (fails the test if it accepted it). */
function refusal(text: string): string {
  const head = parseHead(text);
  assert.equal(typeof head, "string", `accepted: ${JSON.stringify(head)}`);
  return head as string;
}

test("parseHead reads the head's fields and refuses ambiguous lengths", () => {
  assert.deepEqual(
    parseHead("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nconnection: keep-alive, Close"),
    {
      status: 503,
      contentLength: 0,
      close: true,
    },
  );
  assert.match(refusal("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3"), /bad content-length/);
  assert.match(refusal("HTTP/1.1 200 OK\r\nContent-Length: -1"), /bad content-length/);
  assert.match(refusal("HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 1"), /malformed header/);
});
