// HTTP calls to a gavel cluster with failover: a request goes to the preferred node, and when that
// node dies mid-request (connection refused or reset, timeout, 503, or 504 outcome-unknown) it is
// sent again to the next known node, with backoff, within a bounded number of attempts and time.
// It must never repeat a write that is not safe to repeat: those are retried only when the request
// certainly never reached a node (connection refused) or was refused before being applied (503).
import { ApiProblemError, ClientError, OutcomeUnknownError, UnreachableError } from "./errors.js";

/**
 * How a request may be repeated after a failure:
 * - "idempotent": always (reads, and bids, which carry the same bidId every time);
 * - "unsent-only": only if it certainly was not applied (refused connection, 503).
 */
export type RetryPolicy = "idempotent" | "unsent-only";

export interface ApiRequest {
  method: "GET" | "POST" | "DELETE";
  /** Path and query, e.g. "/api/auctions?filter=open". */
  path: string;
  body?: unknown;
  /** A bearer token (a session token or the cluster key). */
  bearer?: string;
  retry: RetryPolicy;
  /** What is being done, for messages: "the bid", "creating the auction". */
  what: string;
  /** Per-attempt timeout override, in ms. */
  attemptTimeoutMs?: number;
  /** Said when retrying, e.g. " with the same bid id b-1f2e". */
  retryNote?: string;
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  /** The node that answered. */
  nodeUrl: string;
  attempts: number;
}

export const apiClientDefaults = {
  /** One attempt waits this long for an answer; a node answers 504 after its own 5 s timeout. */
  attemptTimeoutMs: 10_000,
  /** Attempts in all, over every node. */
  attemptsMax: 12,
  /** No new attempt starts after this, in ms from the first. */
  deadlineMs: 30_000,
  /** Backoff between rounds over the known nodes: doubles from this... */
  backoffStartMs: 200,
  /** ...up to this. */
  backoffMaxMs: 2000,
} as const;

export type ApiClientSettings = { -readonly [K in keyof typeof apiClientDefaults]: number };

/** Why an attempt failed, and whether the request may have reached the node. */
interface AttemptFailure {
  reason: string;
  /** False when the request certainly never reached the node. */
  maybeSent: boolean;
  retryAfterMs?: number;
  /** Set for a 503/504 problem: shown if every attempt fails. */
  problem?: ApiProblemError;
}

const unsentCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** Codes of a 503 that say "not now, ask again": the request was not applied. */
const retryable503 = new Set(["unavailable", "starting", "not-ready"]);

/** The failure of a fetch that threw: connection refused (unsent), reset or timed out (maybe sent). */
function networkFailure(error: unknown): AttemptFailure {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
    return { reason: "no answer in time", maybeSent: true };
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === "string" ? cause.code : "";
  if (unsentCodes.has(code)) return { reason: `connection refused (${code})`, maybeSent: false };
  const detail = code !== "" ? code : typeof cause?.message === "string" ? cause.message : String(error);
  return { reason: `connection lost (${detail})`, maybeSent: true };
}

function parseRetryAfter(header: string | null): number | undefined {
  const seconds = Number(header);
  return header !== null && Number.isFinite(seconds) && seconds >= 0
    ? Math.min(seconds, 10) * 1000
    : undefined;
}

/** Reads a response body: JSON (also problem+json), or null when empty. */
async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { detail: text.slice(0, 200) };
  }
}

function problemOf(status: number, body: unknown, nodeUrl: string): ApiProblemError {
  const fields = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const code = typeof fields["code"] === "string" ? fields["code"] : `http-${status}`;
  const detail = typeof fields["detail"] === "string" ? fields["detail"] : "no detail";
  return new ApiProblemError(status, code, detail, nodeUrl);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The nodes to try, best first: the one that answered last leads. */
export class NodeList {
  private urls: string[] = [];

  constructor(urls: readonly string[] = []) {
    this.add(urls);
  }

  /** Adds URLs not yet known, after the known ones. */
  add(urls: readonly string[]): void {
    for (const url of urls.map(normalizeUrl)) if (!this.urls.includes(url)) this.urls.push(url);
  }

  /** Moves `url` to the front: it answered. */
  prefer(url: string): void {
    this.urls = [url, ...this.urls.filter((known) => known !== url)];
  }

  /** Replaces the list, keeping `first` (if given) in front. */
  replace(urls: readonly string[], first?: string): void {
    this.urls = [];
    if (first !== undefined) this.add([first]);
    this.add(urls);
  }

  all(): string[] {
    return [...this.urls];
  }

  get size(): number {
    return this.urls.length;
  }
}

/** "http://127.0.0.1:8081" from "127.0.0.1:8081/" or "http://127.0.0.1:8081/". */
export function normalizeUrl(url: string): string {
  const trimmed = url.trim().replace(/\/+$/, "");
  return /^https?:\/\//.test(trimmed) ? trimmed : `http://${trimmed}`;
}

export class ApiClient {
  readonly settings: ApiClientSettings;

  constructor(
    readonly nodes: NodeList,
    /** Told about each failed attempt that will be retried. */
    private readonly notify: (line: string) => void = () => undefined,
    settings: Partial<ApiClientSettings> = {},
  ) {
    this.settings = { ...apiClientDefaults, ...settings };
  }

  /**
   * Sends `request` to the known nodes in turn until one gives a definite answer. Resolves with a
   * 2xx; rejects with ApiProblemError (a definite refusal), UnreachableError or OutcomeUnknownError.
   */
  async send<T = unknown>(request: ApiRequest): Promise<ApiResponse<T>> {
    if (this.nodes.size === 0) throw new ClientError("no-node", "no node to ask");
    const startedMs = Date.now();
    const failures: string[] = [];
    let lastProblem: ApiProblemError | undefined;
    let maybeApplied = false;
    for (let attempt = 1; attempt <= this.settings.attemptsMax; attempt++) {
      const urls = this.nodes.all();
      const nodeUrl = urls[(attempt - 1) % urls.length]!;
      const outcome = await this.attempt<T>(request, nodeUrl);
      if (!("reason" in outcome)) {
        this.nodes.prefer(nodeUrl);
        return { ...outcome, nodeUrl, attempts: attempt };
      }
      failures.push(`${nodeUrl}: ${outcome.reason}`);
      lastProblem = outcome.problem ?? lastProblem;
      if (outcome.maybeSent) maybeApplied = true;
      if (outcome.maybeSent && request.retry === "unsent-only") {
        throw new OutcomeUnknownError(
          `${request.what}: ${nodeUrl} failed (${outcome.reason}) after the request was sent, so it may or may not have been applied; check before trying again`,
        );
      }
      const elapsedMs = Date.now() - startedMs;
      if (attempt === this.settings.attemptsMax || elapsedMs >= this.settings.deadlineMs) break;
      const next = urls[attempt % urls.length]!;
      const roundDone = attempt % urls.length === 0;
      const waitMs = Math.max(
        outcome.retryAfterMs ?? 0,
        roundDone ? this.backoffMs(attempt / urls.length) : 0,
      );
      this.notify(
        `${nodeUrl} failed (${outcome.reason}); retrying${waitMs > 0 ? ` in ${waitMs} ms` : ""} on ${next}${request.retryNote ?? ""}`,
      );
      if (waitMs > 0) await sleep(Math.min(waitMs, this.settings.deadlineMs - elapsedMs));
    }
    const tried = failures.length;
    const summary = `${request.what}: no definite answer after ${tried} attempt${tried === 1 ? "" : "s"} on ${this.nodes.size} node${this.nodes.size === 1 ? "" : "s"} (last: ${failures.at(-1) ?? "none"})`;
    if (lastProblem !== undefined && lastProblem.status === 504) throw new OutcomeUnknownError(summary);
    if (maybeApplied && request.method !== "GET") throw new OutcomeUnknownError(summary);
    throw new UnreachableError(summary);
  }

  private backoffMs(round: number): number {
    return Math.min(this.settings.backoffMaxMs, this.settings.backoffStartMs * 2 ** Math.max(0, round - 1));
  }

  /** One attempt on one node: a definite answer (2xx, or a refusal thrown), or why to try again. */
  private async attempt<T>(
    request: ApiRequest,
    nodeUrl: string,
  ): Promise<{ status: number; body: T } | AttemptFailure> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (request.body !== undefined) headers["content-type"] = "application/json";
    if (request.bearer !== undefined) headers["authorization"] = `Bearer ${request.bearer}`;
    let response: Response;
    let body: unknown;
    try {
      response = await fetch(`${nodeUrl}${request.path}`, {
        method: request.method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.timeout(request.attemptTimeoutMs ?? this.settings.attemptTimeoutMs),
      });
      body = await readBody(response);
    } catch (error) {
      return networkFailure(error);
    }
    if (response.ok) return { status: response.status, body: body as T };
    const problem = problemOf(response.status, body, nodeUrl);
    if (response.status === 503 && retryable503.has(problem.problemCode)) {
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      return {
        reason: `503 ${problem.problemCode}: ${problem.detail}`,
        maybeSent: false,
        retryAfterMs,
        problem,
      };
    }
    if (response.status === 504) {
      return { reason: `504 ${problem.problemCode}: ${problem.detail}`, maybeSent: true, problem };
    }
    if (response.status === 429) {
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after")) ?? 1000;
      return { reason: "429 rate-limited", maybeSent: false, retryAfterMs, problem };
    }
    throw problem;
  }
}
