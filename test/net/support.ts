// Helpers for the network adapter tests: one valid sample of every message type, a beacon, a
// recording logger, an inbox that resolves when messages arrive, and waiting on conditions (never
// on fixed sleeps). Everything binds 127.0.0.1 only.
import { createServer } from "node:net";
import { pino } from "pino";
import type { Beacon, Message, MessageBody } from "../../src/core/cluster/types.js";
import type { Logger } from "../../src/node/logger.js";
import { BindError } from "../../src/net/errors.js";
import { UdpDiscovery } from "../../src/net/udp-discovery.js";
import type { UdpDiscoveryOptions } from "../../src/net/udp-discovery.js";

export const clusterId = "11111111-2222-4333-8444-555555555555";

export const config = {
  members: [
    { id: 1, incarnation: "i1", address: "127.0.0.1:7401", httpUrl: "http://127.0.0.1:8080", voter: true },
    { id: 2, incarnation: "i2", address: "127.0.0.1:7402", httpUrl: "http://127.0.0.1:8082", voter: false },
  ],
};

export const createBody = {
  type: "create-auction" as const,
  auctionId: "a1",
  seller: "sam",
  title: "Brass lamp",
  description: "A brass desk lamp, working.",
  currency: "EUR",
  startingPrice: 100,
  reservePrice: null,
  buyNowPrice: 500,
  increment: { type: "table" as const, bands: [{ from: 0, increment: 10 }] },
  opensAt: 1000,
  closesAt: 10_000,
  softClose: { windowMs: 1000, extensionMs: 1000, maxExtensionMs: 5000 },
};

export const bidBody = {
  type: "place-bid" as const,
  auctionId: "a1",
  bidder: "bea",
  bidId: "b-1",
  amount: 120,
  max: 200,
};

/** One body of every message type, in the order of the core's union. */
export function sampleBodies(): MessageBody[] {
  const entries = [
    { index: 1, term: 1, timestampMs: 5, data: { kind: "noop" as const } },
    { index: 2, term: 1, timestampMs: 5, data: { kind: "config" as const, config } },
    { index: 3, term: 2, timestampMs: 6, data: { kind: "create" as const, command: createBody, owner: 2 } },
    {
      index: 4,
      term: 2,
      timestampMs: 7,
      data: { kind: "auction" as const, command: bidBody, owner: 2, epoch: 1, ref: "2.x.1" },
    },
    {
      index: 5,
      term: 2,
      timestampMs: 7,
      data: { kind: "assign" as const, auctionId: "a1", owner: 1, epoch: 2 },
    },
    {
      index: 6,
      term: 2,
      timestampMs: 8,
      data: { kind: "user" as const, name: "bea", tokenHash: "ab12", passwordHash: null },
    },
  ];
  return [
    {
      type: "append",
      prevIndex: 0,
      prevTerm: 0,
      entries,
      commitIndex: 3,
      leaderTimeMs: 1.5,
      clockDeviationMs: -2.25,
      readSeq: 4,
    },
    {
      type: "append-reply",
      success: true,
      matchIndex: 6,
      rejectedIndex: 0,
      hintIndex: 0,
      echoTimeMs: 1.5,
      followerTimeMs: 3,
      readSeq: 4,
    },
    {
      type: "snapshot-chunk",
      snapshotIndex: 10,
      snapshotTerm: 2,
      snapshotTimestampMs: 9,
      config,
      offset: 0,
      totalChars: 7,
      data: '{"a":1}',
    },
    { type: "snapshot-reply", snapshotIndex: 10, nextOffset: 7, done: true },
    { type: "vote-request", lastIndex: 6, lastTerm: 2, preVote: true, transfer: false },
    { type: "vote-reply", granted: false, preVote: true },
    { type: "timeout-now" },
    { type: "join-request", incarnation: "i3", address: "127.0.0.1:7403", httpUrl: "http://127.0.0.1:8083" },
    { type: "join-reply", outcome: "accepted", leaderId: 1, detail: "added as a learner" },
    {
      type: "forward",
      origin: 2,
      requestId: "r-1",
      request: { kind: "auction", command: bidBody },
      hops: 1,
      minIndex: 4,
    },
    {
      type: "forward-result",
      requestId: "r-1",
      result: { ok: false, reason: "unavailable", detail: "no leader", leaderId: null },
    },
    { type: "owner-proposal", entries: entries.map((entry) => entry.data) },
    { type: "owner-proposal-refused", reason: "not-leader", leaderId: 3 },
  ];
}

/** `body` addressed from node 1 to node 2 in term 2. */
export function envelope(body: MessageBody, overrides: Partial<Message> = {}): Message {
  return { ...body, clusterId, from: 1, to: 2, term: 2, ...overrides } as Message;
}

/** One message of every type. */
export function sampleMessages(): Message[] {
  return sampleBodies().map((body) => envelope(body));
}

/** A small message numbered `sequence` (in its readSeq), for ordering tests. */
export function numbered(sequence: number, overrides: Partial<Message> = {}): Message {
  const body: MessageBody = {
    type: "append-reply",
    success: true,
    matchIndex: sequence,
    rejectedIndex: 0,
    hintIndex: 0,
    echoTimeMs: 0,
    followerTimeMs: 0,
    readSeq: sequence,
  };
  return envelope(body, overrides);
}

export function sampleBeacon(overrides: Partial<Beacon> = {}): Beacon {
  return {
    clusterName: "gavel",
    clusterId: null,
    nodeId: 1,
    incarnation: "i1",
    address: "127.0.0.1:7401",
    httpUrl: "http://127.0.0.1:8080",
    term: 0,
    leaderId: null,
    ...overrides,
  };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger at debug level whose lines land in `lines`, parsed. */
export function recordingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { logger, lines };
}

/** Polls `condition` every few ms until it holds; fails after `timeoutMs` naming `what`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Collects messages and lets a test wait until a number of them arrived. */
export class Inbox<T = Message> {
  readonly items: T[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  /** The callback to hand to a transport. */
  readonly push = (item: T): void => {
    this.items.push(item);
    this.waiters = this.waiters.filter((waiter) => {
      if (this.items.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  };

  /** Resolves once at least `count` items arrived; rejects after `timeoutMs`. */
  async waitForCount(count: number, timeoutMs = 5000): Promise<T[]> {
    if (this.items.length >= count) return this.items;
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<void>((resolve) => this.waiters.push({ count, resolve }));
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${count} items (got ${this.items.length})`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([arrived, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    return this.items;
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

export interface StartedDiscovery {
  discovery: UdpDiscovery;
  inbox: Inbox<Beacon>;
}

/** Runs `body` with a random discovery port in 20000..59999, retrying on EADDRINUSE; closes everything. */
export async function withDiscovery(
  body: (
    start: (options?: Partial<UdpDiscoveryOptions>) => Promise<StartedDiscovery>,
    port: number,
  ) => Promise<void>,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    const started: UdpDiscovery[] = [];
    const start = async (options: Partial<UdpDiscoveryOptions> = {}) => {
      const inbox = new Inbox<Beacon>();
      const discovery = await UdpDiscovery.start({ discoveryPort: port, onBeacon: inbox.push, ...options });
      started.push(discovery);
      return { discovery, inbox };
    };
    try {
      return await body(start, port);
    } catch (error) {
      if (!(error instanceof BindError && error.systemCode === "EADDRINUSE" && attempt < 10)) throw error;
    } finally {
      await Promise.all(started.map((discovery) => discovery.close()));
    }
  }
}
