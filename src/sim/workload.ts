// Simulated clients: they create auctions, bid (plain and proxy bids, repeats of accepted bids),
// cancel and close, against whichever node they believe leads, and retry with the same command
// (so the same idempotency key) until they learn a definite outcome.
import type { ApplyResult } from "../core/cluster/state.js";
import type { LogEntry, NodeId, ProposalCommand, ProposalRejection } from "../core/cluster/types.js";
import type { SeededRandom } from "../core/random.js";
import type { SimCluster } from "./cluster.js";

interface Operation {
  id: string;
  command: ProposalCommand;
  createdMs: number;
  attempts: number;
  done: boolean;
  /** When the current attempt gives up waiting. */
  deadlineMs: number;
}

const attemptTimeoutMs = 1500;

export class Workload {
  private readonly operations = new Map<string, Operation>();
  private readonly byRequest = new Map<string, Operation>();
  private nextId = 0;
  private auctionCount = 0;
  private knownLeader: NodeId | null = null;
  private readonly accepted: ProposalCommand[] = [];
  running = false;
  completed = 0;

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: SeededRandom,
  ) {}

  /** Starts issuing operations every `gapMs` on average until `stop()`. */
  start(gapMs: number): void {
    this.running = true;
    const next = () => {
      if (!this.running) return;
      this.issue();
      this.cluster.at(this.cluster.nowMs + 1 + this.random.next() * 2 * gapMs, next);
    };
    this.cluster.at(this.cluster.nowMs + gapMs, next);
  }

  stop(): void {
    this.running = false;
  }

  /** Operations issued at or after `sinceMs` that have not reached a definite outcome. */
  unfinishedSince(sinceMs: number): Operation[] {
    return [...this.operations.values()].filter(
      (operation) => !operation.done && operation.createdMs >= sinceMs,
    );
  }

  private issue(): void {
    const command = this.pickCommand();
    if (command === null) return;
    const operation: Operation = {
      id: `op${this.nextId++}`,
      command,
      createdMs: this.cluster.nowMs,
      attempts: 0,
      done: false,
      deadlineMs: 0,
    };
    this.operations.set(operation.id, operation);
    this.attempt(operation, this.target());
  }

  private target(): NodeId | null {
    const running = this.cluster.running();
    if (this.knownLeader !== null && this.cluster.nodes.get(this.knownLeader)?.running)
      return this.knownLeader;
    if (running.length === 0) return null;
    return running[this.random.int(running.length)]!.id;
  }

  private attempt(operation: Operation, target: NodeId | null): void {
    if (operation.done) return;
    operation.attempts += 1;
    const requestId = `${operation.id}#${operation.attempts}`;
    this.byRequest.set(requestId, operation);
    operation.deadlineMs = this.cluster.nowMs + attemptTimeoutMs;
    const attemptNumber = operation.attempts;
    if (target !== null) this.cluster.propose(target, [{ requestId, command: operation.command }]);
    // No answer in time (the node died, or the reply was lost with it): try elsewhere.
    this.cluster.at(operation.deadlineMs, () => {
      if (!operation.done && operation.attempts === attemptNumber) {
        this.knownLeader = null;
        this.attempt(operation, this.target());
      }
    });
  }

  applied(_nodeId: NodeId, _entry: LogEntry, result: ApplyResult, requestId: string | null): void {
    const operation = requestId === null ? undefined : this.byRequest.get(requestId);
    if (operation === undefined || operation.done) return;
    operation.done = true;
    this.completed += 1;
    if (result.kind === "auction" && result.outcome.ok && operation.command.kind === "auction") {
      if (operation.command.command.type === "place-bid" && !result.outcome.duplicate)
        this.accepted.push(operation.command);
    }
  }

  rejected(nodeId: NodeId, requestId: string, result: ProposalRejection): void {
    const operation = this.byRequest.get(requestId);
    if (operation === undefined || operation.done) return;
    if (`${operation.id}#${operation.attempts}` !== requestId) return;
    switch (result.reason) {
      case "invalid-proposal":
        operation.done = true;
        this.completed += 1;
        return;
      case "not-leader":
        this.knownLeader = result.leaderId !== nodeId ? result.leaderId : null;
        return this.retryAfter(operation, result.leaderId === null ? 50 : 5);
      case "outcome-unknown":
        this.knownLeader = result.leaderId;
        return this.retryAfter(operation, 20);
      case "overloaded":
        return this.retryAfter(operation, 100);
    }
  }

  private retryAfter(operation: Operation, delayMs: number): void {
    const attemptNumber = operation.attempts;
    this.cluster.at(this.cluster.nowMs + delayMs, () => {
      if (operation.attempts === attemptNumber) this.attempt(operation, this.target());
    });
  }

  // ------------------------------------------------------------- what to send

  private pickCommand(): ProposalCommand | null {
    const roll = this.random.next();
    const state = this.cluster.running()[0]?.driver?.node.applied;
    const auctions = state === undefined ? [] : [...state.book.auctions.values()];
    const open = auctions.filter((auction) => auction.phase === "active");
    if (roll < 0.12 || open.length === 0) return this.createCommand();
    const auction = open[this.random.int(open.length)]!;
    if (roll < 0.2 && this.cluster.nowMs >= auction.closesAt - 200) {
      return { kind: "auction", command: { type: "close-auction", auctionId: auction.id } };
    }
    if (roll < 0.22) {
      return {
        kind: "auction",
        command: { type: "cancel-auction", auctionId: auction.id, by: auction.seller },
      };
    }
    if (roll < 0.27 && this.accepted.length > 0) return this.accepted[this.random.int(this.accepted.length)]!;
    const base = auction.price ?? auction.startingPrice;
    const amount = base + 10 * this.random.int(4);
    const proxy = this.random.next() < 0.3;
    const bidder = `b${this.random.int(5)}`;
    const bidId = `bid${this.nextId}`;
    const max = proxy ? amount + 10 * (1 + this.random.int(10)) : null;
    return {
      kind: "auction",
      command: { type: "place-bid", auctionId: auction.id, bidder, bidId, amount, max },
    };
  }

  private createCommand(): ProposalCommand {
    const id = `a${this.auctionCount++}`;
    const now = this.cluster.nowMs;
    const roll = this.random.next();
    return {
      kind: "auction",
      command: {
        type: "create-auction",
        auctionId: id,
        seller: `s${this.random.int(3)}`,
        title: `Lot ${id}`,
        description: "",
        currency: "EUR",
        startingPrice: 100,
        reservePrice: roll < 0.3 ? 160 : null,
        buyNowPrice: roll > 0.85 ? 400 : null,
        increment:
          roll < 0.5
            ? { type: "fixed", amount: 10 }
            : {
                type: "table",
                bands: [
                  { from: 0, increment: 5 },
                  { from: 200, increment: 20 },
                ],
              },
        opensAt: now,
        closesAt: now + 2000 + this.random.int(8000),
        softClose: roll < 0.6 ? { windowMs: 500, extensionMs: 500, maxExtensionMs: 1500 } : null,
      },
    };
  }
}
