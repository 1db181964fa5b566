// Simulated clients: they create auctions, bid (plain and proxy bids, repeats of accepted bids),
// cancel and close, each time at a random running node (which routes the request to the leader or
// the auction's owner), and retry with the same command, so the same idempotency key, until they
// get a definite answer. They remember every bid they were told was accepted.
import type { AcceptedBid } from "../core/auction/types.js";
import type { ClientRequest, ClientResult, NodeId } from "../core/cluster/types.js";
import type { SeededRandom } from "../core/random.js";
import type { SimCluster } from "./cluster.js";

interface Operation {
  id: string;
  request: ClientRequest;
  createdMs: number;
  attempts: number;
  done: boolean;
}

/** Longer than a node's own request timeout: only a node that died leaves a client waiting this long. */
const attemptTimeoutMs = 7000;

export class Workload {
  private readonly operations = new Map<string, Operation>();
  private nextId = 0;
  private auctionCount = 0;
  private readonly acceptedBids = new Map<string, AcceptedBid>();
  private readonly acceptedRequests: ClientRequest[] = [];
  running = false;
  answered = 0;
  outcomeUnknown = 0;

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
      this.cluster.at(this.cluster.nowMs + 1 + this.random.int(2 * gapMs), next);
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

  /** Every bid a client was told was accepted. */
  acknowledgedBids(): Iterable<AcceptedBid> {
    return this.acceptedBids.values();
  }

  /** An operator's request, sent like any client's and retried until it gets a definite answer. */
  operate(request: ClientRequest): void {
    this.send(request);
  }

  private issue(): void {
    const request = this.pickRequest();
    if (request !== null) this.send(request);
  }

  private send(request: ClientRequest): void {
    const operation: Operation = {
      id: `op${this.nextId++}`,
      request,
      createdMs: this.cluster.nowMs,
      attempts: 0,
      done: false,
    };
    this.operations.set(operation.id, operation);
    this.attempt(operation);
  }

  private attempt(operation: Operation): void {
    if (operation.done) return;
    operation.attempts += 1;
    const attemptNumber = operation.attempts;
    const running = this.cluster.running();
    if (running.length > 0) {
      const target = running[this.random.int(running.length)]!.id;
      this.cluster.request(target, `${operation.id}#${attemptNumber}`, operation.request);
    }
    // The node may die with the request: try again elsewhere.
    this.cluster.at(this.cluster.nowMs + attemptTimeoutMs, () => {
      if (operation.attempts === attemptNumber) this.attempt(operation);
    });
  }

  responded(_nodeId: NodeId, requestId: string, result: ClientResult): void {
    const [operationId, attempt] = requestId.split("#");
    const operation = this.operations.get(operationId!);
    if (operation === undefined || operation.done || Number(attempt) !== operation.attempts) return;
    if (!result.ok && result.reason !== "invalid") {
      if (result.reason === "outcome-unknown") this.outcomeUnknown += 1;
      const attemptNumber = operation.attempts;
      this.cluster.at(this.cluster.nowMs + 20 + this.random.int(100), () => {
        if (operation.attempts === attemptNumber) this.attempt(operation);
      });
      return;
    }
    operation.done = true;
    this.answered += 1;
    this.remember(operation.request, result);
  }

  private remember(request: ClientRequest, result: ClientResult): void {
    if (!result.ok || result.kind === "read" || result.kind === "accepted") return;
    const outcome =
      result.kind === "decided"
        ? result.outcome
        : result.result.kind === "auction"
          ? result.result.outcome
          : null;
    if (outcome === null || !outcome.ok) return;
    if (outcome.bid !== undefined) {
      this.acceptedBids.set(
        `${outcome.bid.auctionId}/${outcome.bid.bidder}/${outcome.bid.bidId}`,
        outcome.bid,
      );
      if (outcome.duplicate !== true) this.acceptedRequests.push(request);
    }
  }

  // ------------------------------------------------------------- what to send

  private pickRequest(): ClientRequest | null {
    const roll = this.random.next();
    const state = this.cluster.running()[0]?.driver?.node.applied;
    const auctions = state === undefined ? [] : [...state.book.auctions.values()];
    const open = auctions.filter((auction) => auction.phase === "active");
    if (roll < 0.12 || open.length === 0) return this.createRequest();
    const auction = open[this.random.int(open.length)]!;
    if (roll < 0.16 && this.cluster.nowMs >= auction.closesAt - 200) {
      return { kind: "auction", command: { type: "close-auction", auctionId: auction.id } };
    }
    if (roll < 0.18) {
      return {
        kind: "auction",
        command: { type: "cancel-auction", auctionId: auction.id, by: auction.seller },
      };
    }
    if (roll < 0.2) return { kind: "read" };
    if (roll < 0.25 && this.acceptedRequests.length > 0) {
      return this.acceptedRequests[this.random.int(this.acceptedRequests.length)]!;
    }
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

  private createRequest(): ClientRequest {
    const id = `a${this.auctionCount++}`;
    const now = this.cluster.nowMs;
    const roll = this.random.next();
    return {
      kind: "create",
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
