// The WebSocket stream (GET /api/stream) as a source of live auction events for `gavel watch`. It
// subscribes to one auction or all, remembers the last log index it saw, and when its node goes
// away it reconnects to the next known node and resumes from that index: nothing missed, nothing
// twice. It never throws from a socket callback; trouble is reported through `status`.
import WebSocket from "ws";
import type { StreamAuctionEvent } from "./board.js";

export interface StreamHandlers {
  /** An auction event, in log order. */
  event(event: StreamAuctionEvent, index: number): void;
  /** Subscribed (again): the caller should (re)read the state over HTTP to close any window. */
  subscribed(nodeUrl: string, resumed: boolean): void;
  /** The node no longer holds the events after our index: read the state over HTTP again. */
  resync(): void;
  /** A line about the connection, or null when all is well again. */
  status(line: string | null): void;
}

export interface StreamOptions {
  /** The nodes to try, best first (read again at each reconnect). */
  urls: () => string[];
  auctions: string[] | "all";
  /** A session token: the stream then also sends this user's outbid notices. */
  token?: string;
  /** A silent connection is given up after this long without a pong, in ms. */
  pingIntervalMs?: number;
}

const backoffMaxMs = 5000;

export class StreamSource {
  private socket: WebSocket | null = null;
  private lastIndex: number | null = null;
  private attempt = 0;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  /** The URL of the node we are connected to. */
  nodeUrl: string | null = null;

  constructor(
    private readonly options: StreamOptions,
    private readonly handlers: StreamHandlers,
  ) {}

  start(): void {
    this.connect();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.socket?.terminate();
    this.socket = null;
  }

  private connect(): void {
    if (this.closed) return;
    const urls = this.options.urls();
    const nodeUrl = urls[this.attempt % Math.max(1, urls.length)];
    if (nodeUrl === undefined) return this.retry("no node to connect to");
    this.attempt++;
    const socket = new WebSocket(`${nodeUrl.replace(/^http/, "ws")}/api/stream`, { handshakeTimeout: 3000 });
    this.socket = socket;
    let alive = true;
    socket.on("open", () => {
      this.pingTimer = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, this.options.pingIntervalMs ?? 10_000);
    });
    socket.on("pong", () => (alive = true));
    socket.on("message", (data: Buffer) => this.receive(socket, nodeUrl, data));
    // The close that follows an error reconnects; the error itself only names the cause.
    socket.on("error", (error) => this.handlers.status(`stream at ${nodeUrl}: ${error.message}`));
    socket.on("close", () => {
      if (this.pingTimer !== null) clearInterval(this.pingTimer);
      if (this.socket !== socket || this.closed) return;
      this.socket = null;
      this.nodeUrl = null;
      this.retry(`lost the stream at ${nodeUrl}; reconnecting to another node`);
    });
  }

  private retry(line: string): void {
    this.handlers.status(line);
    const urls = Math.max(1, this.options.urls().length);
    const round = Math.floor(this.attempt / urls);
    const waitMs = this.attempt % urls === 0 ? Math.min(backoffMaxMs, 250 * 2 ** round) : 100;
    this.retryTimer = setTimeout(() => this.connect(), waitMs);
  }

  private receive(socket: WebSocket, nodeUrl: string, data: Buffer): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(data.toString("utf8")) as Record<string, unknown>;
    } catch {
      return;
    }
    switch (message["type"]) {
      case "hello": {
        const subscribe: Record<string, unknown> = {
          type: "subscribe",
          auctions: this.options.auctions,
          from: this.lastIndex,
        };
        if (this.options.token !== undefined) subscribe["token"] = this.options.token;
        socket.send(JSON.stringify(subscribe));
        const resumed = this.lastIndex !== null;
        if (this.lastIndex === null && typeof message["index"] === "number")
          this.lastIndex = message["index"];
        this.attempt = 0;
        this.nodeUrl = nodeUrl;
        this.handlers.status(null);
        this.handlers.subscribed(nodeUrl, resumed);
        return;
      }
      case "event": {
        const index = message["index"];
        const event = message["event"] as StreamAuctionEvent | undefined;
        if (typeof index !== "number" || typeof event !== "object" || event === null) return;
        this.lastIndex = Math.max(this.lastIndex ?? 0, index);
        if ("auctionId" in event) this.handlers.event(event, index);
        return;
      }
      case "resync":
        if (typeof message["index"] === "number") this.lastIndex = message["index"];
        this.handlers.resync();
        return;
      case "error":
        this.handlers.status(`stream at ${nodeUrl} refused the subscription: ${String(message["detail"])}`);
        return;
    }
  }
}
