/// <reference lib="dom" />
// The page's HTTP client. It knows every node of the cluster (learned from GET /api/cluster) and
// moves to the next one when the node it talks to stops answering. It repeats a request only when
// repeating cannot do anything twice: reads, and bids, which carry their own `bidId`.
import type {
  Auction,
  AuctionPage,
  BidAnswer,
  BidLine,
  ClusterNode,
  ClusterView,
  ListFilter,
  Problem,
  Session,
} from "./types.js";

/** An answer of the API that is not a success: its problem document, or one made up for a network failure. */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? problem.code);
    this.name = "ApiError";
  }
}

/** The origins of the cluster's nodes; the first is the one in use. */
export class Endpoints {
  private urls: string[];

  constructor(origin: string) {
    this.urls = [origin];
  }

  get current(): string {
    return this.urls[0]!;
  }

  /** Every known origin, the one in use first. */
  all(): string[] {
    return [...this.urls];
  }

  /** Adds the origins of `nodes`, keeping the one in use first. */
  learn(nodes: ClusterNode[]): void {
    for (const node of nodes) {
      const origin = originOf(node.http);
      if (origin !== null && !this.urls.includes(origin)) this.urls.push(origin);
    }
  }

  /** `url` failed: use the node after it (unless another caller has moved on already). */
  failed(url: string): void {
    if (this.urls[0] !== url || this.urls.length < 2) return;
    this.urls = [...this.urls.slice(1), url];
  }
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

interface RequestOptions {
  body?: unknown;
  /** Safe to send again, to this node or another, after a network failure, a 503 or a 504. */
  repeatable: boolean;
  /** Give up repeating after this long. */
  deadlineMs?: number;
  /**
   * The auction the request is about: its answers name the node running it (Gavel-Owner), and a
   * bid goes there first, saving the hop from the node in use to the owner.
   */
  auctionId?: string;
  /** Send the first attempt to the auction's owner, when known. */
  toOwner?: boolean;
}

const attemptTimeoutMs = 6000;
/** How long an owner that did not answer is not tried first: a dead worker's auctions move within seconds. */
const ownerAvoidMs = 15_000;

export class Api {
  /** The origin of the node running each auction, as the last answer about it said. */
  private readonly owners = new Map<string, string>();
  /** Owners that did not answer, and until when bids do not try them first (its auctions move). */
  private readonly avoidUntil = new Map<string, number>();

  constructor(
    readonly endpoints: Endpoints,
    private readonly token: () => string | null,
    /** Called when the API no longer accepts the token sent (expired, or signed out elsewhere). */
    private readonly tokenRefused: () => void = () => undefined,
  ) {}

  register(name: string, password: string): Promise<Session> {
    return this.request<Session>("POST", "/api/users", { body: { name, password }, repeatable: false });
  }

  login(name: string, password: string): Promise<Session> {
    return this.request<Session>("POST", "/api/sessions", { body: { name, password }, repeatable: true });
  }

  logout(): Promise<unknown> {
    return this.request("DELETE", "/api/sessions/current", { repeatable: true });
  }

  me(): Promise<{ name: string }> {
    return this.request("GET", "/api/me", { repeatable: true });
  }

  list(filter: ListFilter, offset = 0, limit = 50): Promise<AuctionPage> {
    const query = new URLSearchParams({ filter, offset: String(offset), limit: String(limit) });
    return this.request("GET", `/api/auctions?${query}`, { repeatable: true });
  }

  /** The auction with its whole bid history (every page of it). */
  async auction(id: string): Promise<Auction & { bids: BidLine[] }> {
    const path = `/api/auctions/${encodeURIComponent(id)}`;
    const first = await this.request<Auction>("GET", path, { repeatable: true, auctionId: id });
    const bids = [...(first.bids ?? [])];
    const total = first.bidsTotal ?? bids.length;
    while (bids.length < total) {
      const page = await this.request<Auction>("GET", `${path}?bidsOffset=${bids.length}&bidsLimit=100`, {
        repeatable: true,
      });
      if (page.version !== first.version || (page.bids ?? []).length === 0) return this.auction(id);
      bids.push(...(page.bids ?? []));
    }
    return { ...first, bids };
  }

  createAuction(body: Record<string, unknown>): Promise<Auction> {
    return this.request("POST", "/api/auctions", { body, repeatable: false });
  }

  cancelAuction(id: string): Promise<Auction> {
    return this.request("POST", `/api/auctions/${encodeURIComponent(id)}/cancel`, { repeatable: true });
  }

  /** A bid; sent again with the same `bidId` (to any node) until its outcome is known. */
  bid(id: string, body: { amount: number; bidId: string; max?: number }): Promise<BidAnswer> {
    return this.request("POST", `/api/auctions/${encodeURIComponent(id)}/bids`, {
      body,
      repeatable: true,
      deadlineMs: 20_000,
      auctionId: id,
      toOwner: true,
    });
  }

  cluster(): Promise<ClusterView> {
    return this.request("GET", "/api/cluster?assignments=true", { repeatable: true, deadlineMs: 5000 });
  }

  async request<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const deadline = Date.now() + (options.deadlineMs ?? 10_000);
    const auctionId = options.auctionId;
    for (let attempt = 0; ; attempt++) {
      const owner = auctionId === undefined ? undefined : this.owners.get(auctionId);
      const toOwner =
        attempt === 0 && options.toOwner === true && owner !== undefined && !this.avoided(owner);
      const url = toOwner ? owner : this.endpoints.current;
      const outcome = await this.attempt(url, method, path, options.body);
      if (auctionId !== undefined) this.noteOwner(auctionId, outcome.owner);
      if (outcome.kind === "answer") return outcome.value as T;
      // The owner did not take it: forget it (the next answer names the new one) and go on as usual;
      // one that did not answer at all is not tried first again for a while, so that bids do not
      // wait for its timeout while its auctions move to another worker.
      if (toOwner && outcome.kind !== "failed") {
        this.owners.delete(auctionId!);
        if (outcome.kind === "unreachable") this.avoidUntil.set(url, Date.now() + ownerAvoidMs);
      } else if (outcome.kind === "unreachable") this.endpoints.failed(url);
      // A 503 means nothing happened; after no answer or a 504 it may have, so only a repeatable request goes again.
      const retryable = outcome.kind === "unavailable" || (outcome.kind !== "failed" && options.repeatable);
      if (!retryable || Date.now() >= deadline) throw new ApiError(outcome.problem);
      await sleep(Math.min(outcome.retryAfterMs ?? 250 * 2 ** Math.min(attempt, 3), 2000));
    }
  }

  private avoided(origin: string): boolean {
    const until = this.avoidUntil.get(origin);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.avoidUntil.delete(origin);
    return false;
  }

  /** Remembers the owner an answer named, if it is one of the cluster's nodes (the token goes there). */
  private noteOwner(auctionId: string, owner: string | null | undefined): void {
    const origin = owner === null || owner === undefined ? null : originOf(owner);
    if (origin !== null && this.endpoints.all().includes(origin)) this.owners.set(auctionId, origin);
  }

  private async attempt(
    url: string,
    method: string,
    path: string,
    body: unknown,
  ): Promise<
    | { kind: "answer"; value: unknown; owner?: string | null }
    | {
        kind: "failed" | "unavailable" | "unknown" | "unreachable";
        problem: Problem;
        retryAfterMs?: number;
        owner?: string | null;
      }
  > {
    const headers: Record<string, string> = { accept: "application/json" };
    const token = this.token();
    if (token !== null) headers["authorization"] = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(attemptTimeoutMs),
      });
    } catch {
      const detail = `node ${url} did not answer`;
      return { kind: "unreachable", problem: { status: 0, code: "unreachable", detail } };
    }
    const text = await response.text().catch(() => "");
    const value = parseJson(text);
    const owner = response.headers.get("gavel-owner");
    if (response.ok) return { kind: "answer", value, owner };
    const problem = asProblem(value, response.status);
    if (problem.code === "unauthenticated" && token !== null && token === this.token()) this.tokenRefused();
    const retryAfterS = Number(response.headers.get("retry-after"));
    const retryAfterMs = Number.isFinite(retryAfterS) && retryAfterS > 0 ? retryAfterS * 1000 : undefined;
    if (response.status === 503) return { kind: "unavailable", problem, retryAfterMs, owner };
    if (response.status === 504) return { kind: "unknown", problem, retryAfterMs, owner };
    return { kind: "failed", problem, owner };
  }
}

function parseJson(text: string): unknown {
  if (text === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { detail: text.slice(0, 200) };
  }
}

function asProblem(value: unknown, status: number): Problem {
  const body = (typeof value === "object" && value !== null ? value : {}) as Partial<Problem>;
  return {
    status,
    code: typeof body.code === "string" ? body.code : `http-${status}`,
    title: body.title,
    detail: typeof body.detail === "string" ? body.detail : `the node answered ${status}`,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A fresh id for a bid: unique per bidder and auction, and safe to send again. */
export function newBidId(): string {
  const random = new Uint8Array(9);
  crypto.getRandomValues(random);
  return `web-${Array.from(random, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}
