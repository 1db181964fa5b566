// The simulator's safety checkers. They watch every applied entry and node event as it happens and
// inspect the nodes after steps, and record a violation whenever an invariant of the protocol or
// of the auction rules breaks. They know nothing of how the core works inside.
import type { ApplyResult } from "../core/cluster/state.js";
import type { LogEntry, LogIndex, NodeEvent, NodeId, Term } from "../core/cluster/types.js";
import type { AcceptedBid, AuctionEvent } from "../core/auction/types.js";
import { acceptedBid } from "../core/auction/engine.js";
import type { SimCluster } from "./cluster.js";

interface AuctionTrack {
  closesAt: number;
  ended: boolean;
  maxByBidder: Map<string, number>;
}

export class Checker {
  readonly violations: string[] = [];
  private readonly clusterIds = new Set<string>();
  private readonly leaderByTerm = new Map<Term, NodeId>();
  /** The entry applied at each index, as JSON: every node must apply the same one. */
  private readonly appliedAt = new Map<LogIndex, string>();
  /** A fingerprint of the state after each sampled index: nodes there must agree. */
  private readonly stateAt = new Map<LogIndex, string>();
  private readonly lastChecked = new Map<NodeId, LogIndex>();
  private readonly auctions = new Map<string, AuctionTrack>();
  committedMax: LogIndex = 0;
  /** Who owns each auction under which epoch, in the order the log assigns them. */
  private readonly owners = new Map<string, { owner: NodeId; epoch: number }>();

  constructor(private readonly cluster: SimCluster) {}

  private fail(what: string): void {
    if (this.violations.length < 20) this.violations.push(`${this.cluster.nowMs}ms ${what}`);
    this.cluster.note(`VIOLATION ${what}`);
  }

  event(nodeId: NodeId, event: NodeEvent): void {
    if (event.type === "bootstrapped") {
      this.clusterIds.add(event.clusterId);
      if (this.clusterIds.size > 1) this.fail(`more than one cluster id: ${[...this.clusterIds].join(", ")}`);
    }
    if (event.type === "became-leader") {
      const other = this.leaderByTerm.get(event.term);
      if (other !== undefined && other !== nodeId)
        this.fail(`two leaders in term ${event.term}: n${other} and n${nodeId}`);
      this.leaderByTerm.set(event.term, nodeId);
      this.checkLeaderCompleteness(nodeId);
    }
  }

  applied(nodeId: NodeId, entry: LogEntry, result: ApplyResult): void {
    const json = JSON.stringify(entry);
    const first = this.appliedAt.get(entry.index);
    if (first === undefined) {
      this.appliedAt.set(entry.index, json);
      this.committedMax = Math.max(this.committedMax, entry.index);
      this.checkFencing(entry, result);
      this.checkAuctionRules(entry, result);
    } else if (first !== json) {
      this.fail(`n${nodeId} applied a different entry at index ${entry.index}: ${json} vs ${first}`);
    }
  }

  /** No command takes effect under an owner and epoch that the log no longer assigns. */
  private checkFencing(entry: LogEntry, result: ApplyResult): void {
    const data = entry.data;
    if (data.kind === "create" && result.kind === "auction" && result.outcome.ok) {
      this.owners.set(data.command.auctionId, { owner: data.owner, epoch: 1 });
    } else if (data.kind === "assign" && result.kind === "assign" && result.applied) {
      this.owners.set(data.auctionId, { owner: data.owner, epoch: data.epoch });
    } else if (data.kind === "auction" && result.kind === "auction") {
      const current = this.owners.get(data.command.auctionId);
      if (current !== undefined && (current.owner !== data.owner || current.epoch !== data.epoch)) {
        this.fail(
          `${data.command.type} on ${data.command.auctionId} committed under a stale assignment ` +
            `(n${data.owner} epoch ${data.epoch}; current n${current.owner} epoch ${current.epoch})`,
        );
      }
    }
  }

  /** Leader completeness: a new leader holds every entry committed so far. */
  private checkLeaderCompleteness(nodeId: NodeId): void {
    const node = this.cluster.node(nodeId).driver?.node;
    if (node === undefined) return;
    const status = node.status();
    if (status.lastIndex < this.committedMax) {
      this.fail(
        `leader n${nodeId} lacks committed entries: last index ${status.lastIndex} < ${this.committedMax}`,
      );
      return;
    }
    for (let index = node.firstLogIndex; index <= this.committedMax; index++) {
      const committed = this.appliedAt.get(index);
      const held = node.entryAt(index);
      if (committed !== undefined && held !== undefined && JSON.stringify(held) !== committed) {
        this.fail(`leader n${nodeId} holds another entry at committed index ${index}`);
        return;
      }
    }
  }

  private checkAuctionRules(entry: LogEntry, result: ApplyResult): void {
    if (result.kind !== "auction" || !result.outcome.ok) return;
    for (const event of result.outcome.events) this.checkAuctionEvent(event);
  }

  private checkAuctionEvent(event: AuctionEvent): void {
    if (event.type === "auction-created") {
      this.auctions.set(event.auction.id, {
        closesAt: event.auction.closesAt,
        ended: false,
        maxByBidder: new Map(),
      });
      return;
    }
    const track = this.auctions.get(event.auctionId);
    if (track === undefined) return this.fail(`event for an auction never created: ${event.auctionId}`);
    if (track.ended) return this.fail(`${event.type} on ${event.auctionId} after it ended`);
    if (event.type === "bid-accepted") {
      if (event.timestampMs >= track.closesAt) {
        this.fail(
          `bid ${event.bidId} on ${event.auctionId} accepted at ${event.timestampMs}, closing time ${track.closesAt}`,
        );
      }
      const max = event.max ?? event.amount;
      track.maxByBidder.set(event.bidder, Math.max(track.maxByBidder.get(event.bidder) ?? 0, max));
    } else if (event.type === "auction-extended") {
      track.closesAt = event.closesAt;
    } else if (event.type === "auction-closed") {
      track.ended = true;
      if (event.outcome.result === "sold") this.checkWinner(event.auctionId, event.outcome.winner, track);
    } else {
      track.ended = true;
    }
  }

  /** The winner holds the highest maximum of all bidders. */
  private checkWinner(auctionId: string, winner: string, track: AuctionTrack): void {
    const winnerMax = track.maxByBidder.get(winner) ?? 0;
    for (const [bidder, max] of track.maxByBidder) {
      if (max > winnerMax)
        this.fail(`${auctionId} sold to ${winner} (max ${winnerMax}) but ${bidder} bid up to ${max}`);
    }
  }

  /** Checks after a step: identical state at equal applied indexes (sampled), and log matching. */
  afterStep(fullCheck: boolean): void {
    for (const simNode of this.cluster.running()) {
      const node = simNode.driver!.node;
      const applied = node.applied.appliedIndex;
      if (this.lastChecked.get(simNode.id) === applied) continue;
      this.lastChecked.set(simNode.id, applied);
      if (applied % 128 !== 0 && !fullCheck) continue;
      const fingerprint = fingerprintOf(node.applied.serialize());
      const seen = this.stateAt.get(applied);
      if (seen === undefined) this.stateAt.set(applied, fingerprint);
      else if (seen !== fingerprint)
        this.fail(`n${simNode.id} holds a different state at applied index ${applied}`);
    }
    if (fullCheck) this.checkLogMatching();
  }

  /** Raft's log matching: entries with the same index and term are identical, and so are their predecessors. */
  private checkLogMatching(): void {
    const seen = new Map<string, string>();
    for (const simNode of this.cluster.running()) {
      const node = simNode.driver!.node;
      const last = node.status().lastIndex;
      let previousTerm: number | null = null;
      for (let index = node.firstLogIndex; index <= last; index++) {
        const entry = node.entryAt(index)!;
        const key = `${index}/${entry.term}`;
        const value = `${previousTerm ?? "?"}|${JSON.stringify(entry.data)}|${entry.timestampMs}`;
        const other = seen.get(key);
        if (other === undefined) seen.set(key, value);
        else if (other !== value && !other.startsWith("?") && !value.startsWith("?")) {
          this.fail(`log matching broken at index ${index} term ${entry.term} on n${simNode.id}`);
          return;
        }
        previousTerm = entry.term;
      }
    }
  }

  /** No acknowledged bid was lost: every running node's state holds every bid a client was told was accepted. */
  checkAcknowledged(bids: Iterable<AcceptedBid>): void {
    for (const simNode of this.cluster.running()) {
      const book = simNode.driver!.node.applied.book;
      for (const bid of bids) {
        const auction = book.get(bid.auctionId);
        const held = auction === undefined ? undefined : acceptedBid(auction.accepted, bid.bidder, bid.bidId);
        if (held === undefined || held.amount !== bid.amount || held.max !== bid.max) {
          this.fail(`acknowledged bid ${bid.bidId} on ${bid.auctionId} is missing on n${simNode.id}`);
          return;
        }
      }
    }
  }
}

/** A 53-bit FNV-1a style fingerprint of a string (enough to tell states apart in a run). */
export function fingerprintOf(text: string): string {
  let low = 0x811c9dc5;
  let high = 0x01000193;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    low = Math.imul(low ^ code, 0x01000193) >>> 0;
    high = Math.imul(high ^ code ^ (low >>> 7), 0x85ebca6b) >>> 0;
  }
  return `${text.length}:${high.toString(16)}${low.toString(16)}`;
}
