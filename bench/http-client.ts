// The load generator's HTTP/1.1 client: keep-alive TCP connections, one request in flight on each,
// requests written as one string and answers parsed from the status line, the headers the bench
// reads and a Content-Length body. It does what node:http's client does for the bench at a
// fraction of its CPU: the generator shares this machine's two cores with the nodes it measures,
// so every microsecond it spends per bid is taken from them. Anything it does not expect (a
// chunked or unbounded body, bytes after the answer, a malformed head) fails the request and
// closes its connection; it never guesses.
import net from "node:net";

export interface Answer {
  status: number;
  body: string;
  /** The auction owner's API URL, when the answer named it (Gavel-Owner). */
  owner?: string;
  /** The Retry-After header, when the answer had one (a 503 overloaded does). */
  retryAfter?: string;
}

/** Largest answer head accepted, in bytes. */
const HEAD_BYTES_MAX = 16 * 1024;
/** Largest answer body accepted, in bytes. */
const BODY_BYTES_MAX = 16 * 1024 * 1024;
const HEAD_END = Buffer.from("\r\n\r\n");

interface Pending {
  resolve: (answer: Answer) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** One keep-alive connection; it carries one request at a time. */
class Connection {
  readonly socket: net.Socket;
  private pending: Pending | null = null;
  private received: Buffer | null = null;
  private closed = false;

  constructor(
    host: string,
    port: number,
    private readonly release: (connection: Connection) => void,
  ) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("error", (error) => this.fail(error));
    this.socket.on("close", () => this.fail(new Error("connection closed")));
  }

  get usable(): boolean {
    return !this.closed;
  }

  send(request: string, timeoutMs: number): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error("timed out")), timeoutMs);
      this.pending = { resolve, reject, timer };
      this.socket.write(request);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.pending === null) return this.fail(new Error("bytes arrived with no request waiting"));
    const data = this.received === null ? chunk : Buffer.concat([this.received, chunk]);
    const headEnd = data.indexOf(HEAD_END);
    if (headEnd < 0) {
      if (data.byteLength > HEAD_BYTES_MAX) return this.fail(new Error("answer head too long"));
      this.received = data;
      return;
    }
    const head = parseHead(data.toString("latin1", 0, headEnd));
    if (typeof head === "string") return this.fail(new Error(head));
    const bodyStart = headEnd + HEAD_END.byteLength;
    const bodyEnd = bodyStart + head.contentLength;
    if (data.byteLength < bodyEnd) {
      this.received = data;
      return;
    }
    if (data.byteLength > bodyEnd) return this.fail(new Error("bytes after the answer"));
    this.received = null;
    const { resolve, timer } = this.pending;
    this.pending = null;
    clearTimeout(timer);
    const answer: Answer = { status: head.status, body: data.toString("utf8", bodyStart, bodyEnd) };
    if (head.owner !== undefined) answer.owner = head.owner;
    if (head.retryAfter !== undefined) answer.retryAfter = head.retryAfter;
    if (head.close) this.fail(new Error("closed by the server"));
    else this.release(this);
    resolve(answer);
  }

  private fail(error: Error): void {
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
    }
    const pending = this.pending;
    if (pending === null) return;
    this.pending = null;
    clearTimeout(pending.timer);
    pending.reject(error);
  }
}

interface Head {
  status: number;
  contentLength: number;
  owner?: string;
  retryAfter?: string;
  close: boolean;
}

/** The parts of an answer head the bench needs, or why it cannot be read. */
export function parseHead(text: string): Head | string {
  const lines = text.split("\r\n");
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]!);
  if (statusLine === null) return `not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 64))}`;
  const head: Head = { status: Number(statusLine[1]), contentLength: -1, close: false };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) return `malformed header line: ${JSON.stringify(line.slice(0, 64))}`;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") {
      if (!/^\d{1,9}$/.test(value) || head.contentLength >= 0) return `bad content-length: ${value}`;
      head.contentLength = Number(value);
    } else if (name === "transfer-encoding") {
      return `unsupported transfer-encoding: ${value}`;
    } else if (name === "gavel-owner") {
      head.owner = value;
    } else if (name === "retry-after") {
      head.retryAfter = value;
    } else if (name === "connection") {
      head.close = value
        .toLowerCase()
        .split(",")
        .some((token) => token.trim() === "close");
    }
  }
  if (head.contentLength < 0) return "answer without content-length";
  if (head.contentLength > BODY_BYTES_MAX) return `answer body too large: ${head.contentLength} bytes`;
  return head;
}

/** Keep-alive connections to any number of origins, opened as requests need them. */
export class HttpClient {
  private readonly idle = new Map<string, Connection[]>();
  private readonly all = new Set<Connection>();

  constructor(private readonly timeoutMs = 10_000) {}

  /** POSTs `payload` (JSON) to `url` (http://host:port/path) with a bearer token. */
  post(url: string, token: string, payload: string): Promise<Answer> {
    const pathStart = url.indexOf("/", "http://".length);
    if (!url.startsWith("http://") || pathStart < 0)
      return Promise.reject(new Error(`not an http URL: ${url}`));
    const origin = url.slice("http://".length, pathStart);
    const request =
      `POST ${url.slice(pathStart)} HTTP/1.1\r\nhost: ${origin}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(payload)}\r\nauthorization: Bearer ${token}\r\n\r\n${payload}`;
    return this.connection(origin).send(request, this.timeoutMs);
  }

  /** Closes every connection; requests in flight fail. */
  close(): void {
    for (const connection of this.all) connection.socket.destroy();
    this.all.clear();
    this.idle.clear();
  }

  private connection(origin: string): Connection {
    const idle = this.idle.get(origin);
    while (idle !== undefined && idle.length > 0) {
      const connection = idle.pop()!;
      if (connection.usable) return connection;
      this.all.delete(connection);
    }
    const colon = origin.lastIndexOf(":");
    const host = origin.slice(0, colon).replace(/^\[|\]$/g, "");
    const connection = new Connection(host, Number(origin.slice(colon + 1)), (done) => {
      const list = this.idle.get(origin) ?? [];
      list.push(done);
      this.idle.set(origin, list);
    });
    this.all.add(connection);
    connection.socket.once("close", () => this.all.delete(connection));
    return connection;
  }
}
