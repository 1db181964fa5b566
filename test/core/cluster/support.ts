// Builders for driving one ClusterNode by hand: a member with a given log, messages to it, and
// lookups in the effects it returns.
import { ClusterNode } from "../../../src/core/cluster/node.js";
import type {
  ClusterConfig,
  CreateAuctionBody,
  Input,
  Effect,
  LogEntry,
  Message,
  MessageBody,
  Mutant,
  NodeId,
  PersistedState,
} from "../../../src/core/cluster/types.js";
import { defaultConfig } from "../../../src/core/config.js";
import type { Config } from "../../../src/core/config.js";
import { SeededRandom } from "../../../src/core/random.js";

export const clusterId = "11111111-2222-4333-8444-555555555555";

export function votersConfig(ids: NodeId[], learners: NodeId[] = []): ClusterConfig {
  const member = (id: NodeId, voter: boolean) => ({
    id,
    incarnation: `i${id}`,
    address: `a${id}`,
    httpUrl: `h${id}`,
    voter,
  });
  return {
    members: [...ids.map((id) => member(id, true)), ...learners.map((id) => member(id, false))].sort(
      (a, b) => a.id - b.id,
    ),
  };
}

export function configEntry(index: number, term: number, config: ClusterConfig): LogEntry {
  return { index, term, timestampMs: index, data: { kind: "config", config } };
}

export function noopEntry(index: number, term: number): LogEntry {
  return { index, term, timestampMs: index, data: { kind: "noop" } };
}

export interface MemberOptions {
  id: NodeId;
  term?: number;
  votedFor?: NodeId | null;
  entries?: LogEntry[];
  config?: Partial<Config>;
  nowMs?: number;
  mutant?: Mutant;
  /** Steps in batches ended by endBatch(), as the driver runs them. */
  batching?: boolean;
}

/** A member of a cluster of voters 1..3 (unless `entries` says otherwise), restarted from disk. */
export function member(options: MemberOptions): ClusterNode {
  const entries = options.entries ?? [configEntry(1, 1, votersConfig([1, 2, 3]))];
  const persisted: PersistedState = {
    identity: { nodeId: options.id, incarnation: `i${options.id}` },
    clusterId,
    hardState: { term: options.term ?? 1, votedFor: options.votedFor ?? null },
    snapshot: null,
    entries,
  };
  return new ClusterNode({
    config: { ...defaultConfig(), ...options.config },
    identity: persisted.identity,
    address: `a${options.id}`,
    httpUrl: `h${options.id}`,
    random: new SeededRandom(options.id),
    nowMs: options.nowMs ?? 0,
    persisted,
    mutant: options.mutant ?? null,
    batching: options.batching ?? false,
  });
}

/** A message from `from` to `to` in the test cluster. */
export function message(from: NodeId, to: NodeId, term: number, body: MessageBody): Message {
  return { ...body, clusterId, from, to, term };
}

export function sent(effects: Effect[]): Message[] {
  return effects.flatMap((effect) => (effect.type === "send" ? [effect.message] : []));
}

export function sentOfType<T extends Message["type"]>(
  effects: Effect[],
  type: T,
): Extract<Message, { type: T }>[] {
  return sent(effects).filter((item): item is Extract<Message, { type: T }> => item.type === type);
}

export function persisted(effects: Effect[]) {
  return effects.find((effect) => effect.type === "persist");
}

export function voteRequest(
  lastIndex: number,
  lastTerm: number,
  preVote = false,
  transfer = false,
): MessageBody {
  return { type: "vote-request", lastIndex, lastTerm, preVote, transfer };
}

export function append(
  prevIndex: number,
  prevTerm: number,
  entries: LogEntry[],
  commitIndex: number,
): Extract<MessageBody, { type: "append" }> {
  return {
    type: "append",
    prevIndex,
    prevTerm,
    entries,
    commitIndex,
    leaderTimeMs: 0,
    clockDeviationMs: null,
    readSeq: 0,
  };
}

/** Ticks `node` until it runs a pre-vote, then grants it the votes of `voters`; returns the time reached. */
export function elect(node: ClusterNode, voters: NodeId[], startMs = 0): number {
  let nowMs = startMs;
  while (node.status().role !== "pre-candidate") node.step({ type: "tick", nowMs: (nowMs += 10) });
  const term = node.status().term + 1;
  for (const voter of voters) {
    node.step({
      type: "message",
      message: message(voter, node.id, term, { type: "vote-reply", granted: true, preVote: true }),
    });
  }
  for (const voter of voters) {
    node.step({
      type: "message",
      message: message(voter, node.id, term, { type: "vote-reply", granted: true, preVote: false }),
    });
  }
  if (node.status().role !== "leader") throw new Error(`node ${node.id} was not elected`);
  return nowMs;
}

/**
 * Node 3 elected by voters 1 and 2, both of which then acknowledge its log: a leader whose followers
 * are in replicate mode. With batching, each phase ends its batch as the driver would.
 */
export function leaderInSync(batching = false): { leader: ClusterNode; term: number; start: number } {
  const leader = member({ id: 3, config: { electionJitterMs: 0 }, batching });
  elect(leader, [1, 2]);
  if (batching) leader.endBatch();
  const term = leader.status().term;
  const start = leader.status().lastIndex;
  for (const id of [1, 2])
    leader.step({ type: "message", message: message(id, 3, term, appendReply(true, start)) });
  if (batching) leader.endBatch();
  return { leader, term, start };
}

/** A client request bidding 5,000 on `auctionId` as ann, with `requestId` as the bid id too. */
export function bidRequest(requestId: string, auctionId: string): Input {
  return {
    type: "request",
    requestId,
    request: {
      kind: "auction",
      command: { type: "place-bid", auctionId, bidder: "ann", bidId: requestId, amount: 5_000, max: null },
    },
  };
}

/** A client request creating auction `auctionId`. */
export function createRequest(auctionId: string): Input {
  return {
    type: "request",
    requestId: `create-${auctionId}`,
    request: { kind: "create", command: createCommand(auctionId) },
  };
}

export function createCommand(
  auctionId: string,
  overrides: Partial<CreateAuctionBody> = {},
): CreateAuctionBody {
  return {
    type: "create-auction",
    auctionId,
    seller: "sam",
    title: "Lamp",
    description: "",
    currency: "EUR",
    startingPrice: 100,
    reservePrice: null,
    buyNowPrice: null,
    increment: { type: "fixed", amount: 10 },
    opensAt: 0,
    closesAt: 1_000_000,
    softClose: null,
    ...overrides,
  };
}

/** A follower's acknowledgement of everything up to `matchIndex`. */
export function appendReply(success: boolean, matchIndex: number, readSeq = 0): MessageBody {
  return {
    type: "append-reply",
    success,
    matchIndex,
    rejectedIndex: 0,
    hintIndex: 0,
    echoTimeMs: 0,
    followerTimeMs: 0,
    readSeq,
  };
}

export function responses(effects: Effect[]) {
  return effects.flatMap((effect) => (effect.type === "response" ? [effect] : []));
}
