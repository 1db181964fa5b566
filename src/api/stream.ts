// Live updates over WebSocket (/api/stream). Every applied entry becomes client events numbered by
// its log index, which is the same on every node: a client that reconnects anywhere and says which
// index it saw last misses nothing and sees nothing twice. Recent events are kept in a bounded ring;
// older ones are answered with "resync" (fetch the state over HTTP, then go on).
import type { FastifyInstance } from "fastify";
import "@fastify/websocket";
import type { WebSocket } from "ws";
import { z } from "zod";
import type { ClosedOutcome } from "../core/auction/types.js";
import { minimumBid } from "../core/auction/engine.js";
import type { ApplyResult, ClusterState } from "../core/cluster/state.js";
import type { LogEntry, NodeEvent, NodeId } from "../core/cluster/types.js";
import type { Logger } from "../node/logger.js";

export type StreamEvent =
  | { type: "created"; auctionId: string; title: string; seller: string; closesAt: number; version: number }
  | {
      type: "bid";
      auctionId: string;
      bidId: string;
      bidder: string;
      amount: number;
      price: number;
      highBidder: string;
      /** The history lines this bid added (the engine's automatic bids marked). */
      lines: { bidId: string; bidder: string; amount: number; automatic: boolean }[];
      at: number;
      closesAt: number;
      /** The lowest amount the next bid may offer. */
      minimumBid: number;
      version: number;
    }
  | { type: "outbid"; auctionId: string; bidder: string; price: number; highBidder: string; version: number }
  | { type: "extended"; auctionId: string; closesAt: number; version: number }
  | { type: "closed"; auctionId: string; outcome: ClosedOutcome; version: number }
  | { type: "cancelled"; auctionId: string; version: number }
  | { type: "reassigned"; auctionId: string; owner: NodeId; epoch: number }
  | { type: "node-joined"; id: NodeId; voter: boolean }
  | { type: "node-left"; id: NodeId };

export interface FeedItem {
  index: number;
  event: StreamEvent;
}

/** Who may receive an event: everyone, or (an outbid notice) only that bidder. */
function recipient(event: StreamEvent): string | null {
  return event.type === "outbid" ? event.bidder : null;
}

function auctionOf(event: StreamEvent): string | null {
  return "auctionId" in event ? event.auctionId : null;
}

/** Turns applied entries into stream events and keeps the recent ones. */
export class EventFeed {
  private ring: FeedItem[] = [];
  /** Every index after this one is in the ring (or produced no event). */
  private coveredAfter = Number.MAX_SAFE_INTEGER;
  private members = new Map<NodeId, boolean>();
  private readonly listeners = new Set<(items: FeedItem[]) => void>();
  started = false;

  /** How far the ring may grow past ringMax before it is cut back to ringMax. */
  private readonly trimStep: number;

  /** Keeps at least the last `ringMax` events (at most ringMax plus an eighth). */
  constructor(private readonly ringMax = 50_000) {
    this.trimStep = Math.max(1, Math.floor(ringMax / 8));
  }

  /** The node starts feeding at `appliedIndex`: events after it are kept from now on. */
  startAt(appliedIndex: number): void {
    this.coveredAfter = appliedIndex;
    this.started = true;
  }

  onApplied(entry: LogEntry, result: ApplyResult, state: ClusterState): void {
    const events = this.eventsOf(entry, result, state);
    if (events.length === 0) return;
    const items = events.map((event) => ({ index: entry.index, event }));
    this.ring.push(...items);
    // Trimmed in steps of an eighth of the ring, not by one item per event: shifting a full ring
    // on every applied bid cost a tenth of a node's busy time under load (see BENCHMARKS.md).
    if (this.ring.length > this.ringMax + this.trimStep) {
      const dropped = this.ring.splice(0, this.ring.length - this.ringMax);
      this.coveredAfter = Math.max(this.coveredAfter, dropped.at(-1)!.index);
    }
    for (const listener of this.listeners) listener(items);
  }

  /** Events after `index`, or null when some were not kept (the client must resync). */
  since(index: number): FeedItem[] | null {
    if (index < this.coveredAfter) return null;
    let start = this.ring.length;
    while (start > 0 && this.ring[start - 1]!.index > index) start--;
    return this.ring.slice(start);
  }

  listen(listener: (items: FeedItem[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private eventsOf(entry: LogEntry, result: ApplyResult, state: ClusterState): StreamEvent[] {
    if (result.kind === "config") return this.membershipEvents(result.config.members);
    if (result.kind === "assign" && result.applied && result.assignment !== null) {
      return [{ type: "reassigned", auctionId: result.auctionId, ...result.assignment }];
    }
    if (result.kind !== "auction" || !result.outcome.ok) return [];
    const auction = state.book.get(result.auctionId);
    const events = result.outcome.events;
    const versionAfter = auction?.version ?? events.length;
    const out: StreamEvent[] = [];
    events.forEach((event, position) => {
      const version = versionAfter - (events.length - 1 - position);
      switch (event.type) {
        case "auction-created":
          out.push({
            type: "created",
            auctionId: event.auction.id,
            title: event.auction.title,
            seller: event.auction.seller,
            closesAt: event.auction.closesAt,
            version,
          });
          break;
        case "bid-accepted": {
          const lines = event.lines.map((line) => ({
            bidId: line.bidId,
            bidder: line.bidder,
            amount: line.amount,
            automatic: line.automatic,
          }));
          const closesAt = auction?.closesAt ?? 0;
          const next = auction === undefined ? event.price : minimumBid(auction);
          out.push({
            type: "bid",
            auctionId: event.auctionId,
            bidId: event.bidId,
            bidder: event.bidder,
            amount: event.amount,
            price: event.price,
            highBidder: event.leader,
            lines,
            at: event.timestampMs,
            closesAt,
            minimumBid: next,
            version,
          });
          if (event.previousLeader !== null && event.previousLeader !== event.leader) {
            out.push({
              type: "outbid",
              auctionId: event.auctionId,
              bidder: event.previousLeader,
              price: event.price,
              highBidder: event.leader,
              version,
            });
          }
          break;
        }
        case "auction-extended":
          out.push({ type: "extended", auctionId: event.auctionId, closesAt: event.closesAt, version });
          break;
        case "auction-closed":
          out.push({ type: "closed", auctionId: event.auctionId, outcome: event.outcome, version });
          break;
        case "auction-cancelled":
          out.push({ type: "cancelled", auctionId: event.auctionId, version });
          break;
      }
    });
    return out;
  }

  private membershipEvents(members: { id: NodeId; voter: boolean }[]): StreamEvent[] {
    const known = this.members;
    const next = new Map(members.map((member) => [member.id, member.voter]));
    this.members = next;
    if (known.size === 0) return [];
    const events: StreamEvent[] = [];
    for (const [id, voter] of next)
      if (known.get(id) !== voter) events.push({ type: "node-joined", id, voter });
    for (const id of known.keys()) if (!next.has(id)) events.push({ type: "node-left", id });
    return events;
  }
}

const subscribeSchema = z.strictObject({
  type: z.literal("subscribe"),
  auctions: z.union([z.literal("all"), z.array(z.string().max(64)).max(1000)]),
  cluster: z.boolean().optional(),
  from: z.int().nonnegative().nullable().optional(),
  token: z.string().max(200).optional(),
});

interface Subscription {
  auctions: Set<string> | "all";
  cluster: boolean;
  user: string | null;
  /** Events up to this index were delivered (or skipped because the client had them). */
  sentThrough: number;
}

export interface StreamNode {
  readonly id: NodeId;
  state(): ClusterState;
  status(): { term: number; leaderId: NodeId | null };
  onEvent(listener: (event: NodeEvent) => void): void;
}

export interface StreamOptions {
  logger: Logger;
  userOfToken: (token: string) => string | undefined;
  /** Most clients at once; more are refused. */
  clientsMax?: number;
  /** A client that does not read fast enough (bytes queued) is disconnected; it reconnects and resumes. */
  bufferedBytesMax?: number;
}

/** Registers `GET /api/stream` on `server` (the websocket plugin must be registered). */
export function registerStream(
  server: FastifyInstance,
  feed: EventFeed,
  getNode: () => StreamNode | null,
  options: StreamOptions,
): void {
  const clients = new Set<WebSocket>();
  const clientsMax = options.clientsMax ?? 2000;
  const bufferedMax = options.bufferedBytesMax ?? 4 * 1024 * 1024;
  const leaderListeners = new Set<(term: number, leader: NodeId | null) => void>();
  let listening = false;
  const ensureLeaderEvents = (node: StreamNode) => {
    if (listening) return;
    listening = true;
    node.onEvent((event) => {
      if (event.type !== "leader-changed") return;
      for (const listener of leaderListeners) listener(event.term, event.leaderId);
    });
  };
  server.get("/api/stream", { websocket: true }, (socket) => {
    const node = getNode();
    if (node === null || clients.size >= clientsMax) {
      socket.close(1013, node === null ? "starting" : "too many clients");
      return;
    }
    ensureLeaderEvents(node);
    clients.add(socket);
    /** Sends one text frame: `message` as JSON, or bytes of it made before (see eventFrame). */
    const send = (message: unknown, frame?: Buffer) => {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > bufferedMax) return socket.close(1013, "too slow; reconnect and resume");
      if (frame === undefined) socket.send(JSON.stringify(message));
      else socket.send(frame, { binary: false });
    };
    let subscription: Subscription | null = null;
    const deliver = (items: FeedItem[]) => {
      if (subscription === null) return;
      for (const item of items) {
        if (item.index <= subscription.sentThrough) continue;
        if (!wanted(subscription, item.event)) continue;
        send(null, eventFrame(item));
      }
      const last = items.at(-1);
      if (last !== undefined) subscription.sentThrough = Math.max(subscription.sentThrough, last.index);
    };
    const stopFeed = feed.listen(deliver);
    const onLeader = (term: number, leader: NodeId | null) =>
      subscription?.cluster && send({ type: "leader", term, leader });
    leaderListeners.add(onLeader);
    send({ type: "hello", node: node.id, index: node.state().appliedIndex });
    socket.on("message", (data: Buffer) => {
      const parsed = subscribeSchema.safeParse(safeJson(data.toString("utf8")));
      if (!parsed.success) {
        send({
          type: "error",
          code: "invalid-message",
          detail: parsed.error.issues[0]?.message ?? "invalid",
        });
        return;
      }
      const message = parsed.data;
      const user = message.token === undefined ? null : (options.userOfToken(message.token) ?? null);
      const from = message.from ?? node.state().appliedIndex;
      subscription = {
        auctions: message.auctions === "all" ? "all" : new Set(message.auctions),
        cluster: message.cluster ?? false,
        user,
        sentThrough: from,
      };
      const status = node.status();
      if (subscription.cluster) send({ type: "leader", term: status.term, leader: status.leaderId });
      const replay = feed.since(from);
      // A backlog too large to queue at once would trip the slow-client limit on every reconnect,
      // forever: such a client is told to resync instead, like one further behind than the ring.
      if (replay === null || !fitsInBuffer(subscription, replay, bufferedMax / 2)) {
        send({ type: "resync", index: node.state().appliedIndex });
        subscription.sentThrough = node.state().appliedIndex;
        return;
      }
      deliver(replay);
    });
    socket.on("close", () => {
      clients.delete(socket);
      stopFeed();
      leaderListeners.delete(onLeader);
    });
    socket.on("error", (error) => options.logger.debug({ err: error }, "stream client error"));
  });
}

/** Each event's message as sent (UTF-8 JSON), made once however many clients it goes to. */
const frames = new WeakMap<FeedItem, Buffer>();

function eventFrame(item: FeedItem): Buffer {
  let frame = frames.get(item);
  if (frame === undefined) {
    frame = Buffer.from(JSON.stringify({ type: "event", index: item.index, event: item.event }));
    frames.set(item, frame);
  }
  return frame;
}

/** Whether the events of `items` this subscription wants, as sent, take at most `bytesMax`. */
function fitsInBuffer(subscription: Subscription, items: readonly FeedItem[], bytesMax: number): boolean {
  let bytes = 0;
  for (const item of items) {
    if (item.index <= subscription.sentThrough || !wanted(subscription, item.event)) continue;
    bytes += eventFrame(item).length;
    if (bytes > bytesMax) return false;
  }
  return true;
}

function wanted(subscription: Subscription, event: StreamEvent): boolean {
  const forWhom = recipient(event);
  if (forWhom !== null && forWhom !== subscription.user) return false;
  const auctionId = auctionOf(event);
  if (auctionId === null) return subscription.cluster;
  return subscription.auctions === "all" || subscription.auctions.has(auctionId);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
