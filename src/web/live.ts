/// <reference lib="dom" />
// Live updates from GET /api/stream. One WebSocket at a time, subscribed to every auction and to the
// cluster; when it drops, the next node is tried, resuming from the last log index seen, so that no
// event is missed or seen twice. The index is the replicated log's, the same on every node. When no
// node's stream answers, the page polls over HTTP (mode "polling") and keeps trying the stream.
import { signal } from "@preact/signals";
import type { Endpoints } from "./api.js";
import type { StreamEvent, StreamMessage } from "./types.js";

export type LiveMode = "connecting" | "live" | "reconnecting" | "polling";

export interface LiveHandlers {
  /** An event of the log, in log order. */
  event(event: StreamEvent, index: number): void;
  /** Events may have been missed (first connection, a resync, the end of polling): fetch state over HTTP. */
  resync(): void;
  leader(term: number, leader: number | null): void;
}

/** Failed connection attempts in a row after which the page polls (it keeps trying the stream). */
const failuresBeforePolling = 4;
const openTimeoutMs = 4000;
const pollIntervalMs = 1500;

export class LiveStream {
  readonly mode = signal<LiveMode>("connecting");
  /** The node whose stream the page reads; null when none. */
  readonly node = signal<number | null>(null);
  /** Grows by one on each poll while the stream is unavailable. */
  readonly pollTick = signal(0);

  /** The last log index whose events were delivered; null before the first hello. */
  private lastIndex: number | null = null;
  private socket: WebSocket | null = null;
  private failures = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(
    private readonly endpoints: Endpoints,
    private readonly token: () => string | null,
    private readonly handlers: LiveHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.stopPolling();
    this.socket?.close();
    this.socket = null;
  }

  /** Sends the subscription again (the token changed: outbid notices follow the user). */
  resubscribe(): void {
    if (this.socket !== null && this.socket.readyState === WebSocket.OPEN && this.lastIndex !== null) {
      this.subscribe(this.socket, this.lastIndex);
    }
  }

  private connect(): void {
    if (this.stopped) return;
    const url = this.endpoints.current;
    const socket = new WebSocket(`${url.replace(/^http/, "ws")}/api/stream`);
    this.socket = socket;
    let greeted = false;
    const openTimer = setTimeout(() => socket.close(), openTimeoutMs);
    socket.onmessage = (message: MessageEvent<string>) => {
      const data = parse(message.data);
      if (data === null) return;
      if (data.type === "hello") {
        clearTimeout(openTimer);
        greeted = true;
        this.greeted(socket, data.node, data.index);
      } else this.receive(data);
    };
    socket.onclose = () => {
      clearTimeout(openTimer);
      if (this.socket !== socket) return;
      this.socket = null;
      this.node.value = null;
      this.endpoints.failed(url);
      this.lost(greeted);
    };
  }

  private greeted(socket: WebSocket, node: number, index: number): void {
    const fresh = this.lastIndex === null || this.mode.value === "polling";
    this.failures = 0;
    this.stopPolling();
    this.node.value = node;
    this.mode.value = "live";
    const from = fresh ? index : this.lastIndex!;
    this.lastIndex = from;
    this.subscribe(socket, from);
    // State fetched before this subscription may lack what happened since: fetch it again now.
    if (fresh) this.handlers.resync();
  }

  private subscribe(socket: WebSocket, from: number): void {
    const token = this.token();
    const message = { type: "subscribe", auctions: "all", cluster: true, from, ...(token ? { token } : {}) };
    socket.send(JSON.stringify(message));
  }

  private receive(data: StreamMessage): void {
    switch (data.type) {
      case "event":
        // Several events can share one index (one log entry); none older than the last one comes again.
        if (this.lastIndex !== null && data.index < this.lastIndex) return;
        this.lastIndex = data.index;
        this.handlers.event(data.event, data.index);
        return;
      case "resync":
        this.lastIndex = data.index;
        this.handlers.resync();
        return;
      case "leader":
        this.handlers.leader(data.term, data.leader);
        return;
      default:
        return;
    }
  }

  /** The socket closed: try the next node at once, then back off; poll once no node answers. */
  private lost(wasLive: boolean): void {
    if (this.stopped) return;
    this.failures = wasLive ? 0 : this.failures + 1;
    if (this.failures >= failuresBeforePolling) this.startPolling();
    else if (this.mode.value !== "polling") this.mode.value = "reconnecting";
    const delayMs = this.failures === 0 ? 50 : Math.min(250 * 2 ** (this.failures - 1), 5000);
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  private startPolling(): void {
    if (this.pollTimer !== null) return;
    this.mode.value = "polling";
    this.pollTimer = setInterval(() => this.pollTick.value++, pollIntervalMs);
  }

  private stopPolling(): void {
    if (this.pollTimer === null) return;
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}

function parse(text: string): StreamMessage | null {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && "type" in value ? (value as StreamMessage) : null;
  } catch {
    return null;
  }
}
