// What every route module shares: the node it serves, sending requests into the cluster and
// mapping their answers, problems as exceptions, body parsing with the shared schemas, and who is
// asking (bearer tokens, checked again after a read index when this node may lag).
import type { FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { Outcome } from "../core/auction/types.js";
import type { NodeStatus } from "../core/cluster/node.js";
import type { ApplyResult, ClusterState } from "../core/cluster/state.js";
import type { ClientRequest, ClientResult, LogEntry, NodeEvent, NodeId } from "../core/cluster/types.js";
import type { Logger } from "../node/logger.js";
import { clusterProblem, problem, problemBody, retryAdvice } from "./problems.js";
import type { Problem } from "./problems.js";
import { hashToken } from "./secrets.js";

/** What the API needs of its node. */
export interface ApiNode {
  readonly id: NodeId;
  request(request: ClientRequest): Promise<ClientResult>;
  status(): NodeStatus;
  state(): ClusterState;
  /** Null when the node can serve, else why not (for /readyz). */
  notReadyReason(): string | null;
  readonly metrics: {
    text(): Promise<string>;
    contentType: string;
    bid(outcome: { ok: true } | { ok: false; reason: string }): void;
    /** Counts a problem answered to a client, by status and code. */
    problem(status: number, code: string): void;
  };
  onApplied(listener: { applied?(entry: LogEntry, result: ApplyResult): void }): void;
  onEvent(listener: (event: NodeEvent) => void): void;
}

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

export function fail(status: number, code: string, detail: string): never {
  throw new ProblemError(problem(status, code, detail));
}

export function sendProblem(reply: FastifyReply, value: Problem): FastifyReply {
  if (value.retryAfterS !== undefined) void reply.header("retry-after", String(value.retryAfterS));
  return reply.code(value.status).type("application/problem+json").send(problemBody(value));
}

const amountFields = new Set([
  "amount",
  "max",
  "startingPrice",
  "reservePrice",
  "buyNowPrice",
  "minIncrement",
]);

/** Parses `body` with `schema`, or answers 400 saying which field is wrong and why. */
export function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.join(".");
  const code = amountFields.has(String(issue.path[0])) ? "invalid-amount" : "invalid-body";
  fail(400, code, `${path === "" ? "body" : path}: ${issue.message}`);
}

/** The node, its requests and who is asking: shared by the route modules. */
export class ApiContext {
  /** The last token each connection presented, with its hash (see tokenHash). */
  private readonly tokenHashes = new WeakMap<object, { token: string; hash: string }>();

  constructor(
    private readonly getNode: () => ApiNode | null,
    readonly logger: Logger,
  ) {}

  node(): ApiNode {
    const node = this.getNode();
    if (node === null) throw new ProblemError(problem(503, "starting", "the node is starting", 1));
    return node;
  }

  /** Sends a request into the cluster; a failure becomes 503/504 with the core's explanation. */
  async ask(request: ClientRequest): Promise<Exclude<ClientResult, { ok: false }>> {
    const result = await this.node().request(request);
    if (!result.ok) {
      if (result.reason === "invalid") fail(400, "invalid-request", result.detail);
      throw new ProblemError(clusterProblem(result.reason, result.detail, retryAdvice(request)));
    }
    return result;
  }

  /** What was applied for a request the leader appends. */
  async applied(request: ClientRequest): Promise<ApplyResult> {
    const result = await this.ask(request);
    if (result.kind !== "applied") fail(500, "internal", `unexpected answer ${result.kind}`);
    return result.result;
  }

  /** The engine's outcome of an auction command, decided by its owner or applied from the log. */
  async outcome(request: ClientRequest): Promise<Outcome> {
    const result = await this.ask(request);
    if (result.kind === "decided") return result.outcome;
    if (result.kind !== "applied") fail(500, "internal", "unexpected answer");
    const applied = result.result;
    if (applied.kind === "auction") return applied.outcome;
    if (applied.kind === "fenced") {
      throw new ProblemError(
        clusterProblem("outcome-unknown", "the auction moved to another worker", retryAdvice(request)),
      );
    }
    fail(500, "internal", `unexpected result ${applied.kind}`);
  }

  /** Waits until this node reflects every write acknowledged before now (read index). */
  async read(): Promise<void> {
    const result = await this.node().request({ kind: "read" });
    if (!result.ok) throw new ProblemError(clusterProblem(result.reason, result.detail));
  }

  /** The bearer token of a request, if it carries one. */
  token(request: FastifyRequest): string | null {
    const header = request.headers.authorization ?? "";
    return /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(header)?.[1] ?? null;
  }

  /** The user a token belongs to now, on this node's state; undefined if unknown or expired. */
  userOfToken(token: string): string | undefined {
    return this.userOfHash(hashToken(token));
  }

  private userOfHash(tokenHash: string): string | undefined {
    return this.node().state().userOfToken(tokenHash, Date.now());
  }

  /**
   * The hash of a request's token. A keep-alive connection carries one client's token, so each
   * connection keeps the hash of the last token it presented, for as long as the connection lives
   * (which holds the token anyway): a SHA-256 per request was about 1% of a worker's busy time.
   */
  private tokenHash(request: FastifyRequest, token: string): string {
    const connection: object | undefined = request.raw.socket;
    const kept = connection === undefined ? undefined : this.tokenHashes.get(connection);
    if (kept !== undefined && kept.token === token) return kept.hash;
    const hash = hashToken(token);
    if (connection !== undefined) this.tokenHashes.set(connection, { token, hash });
    return hash;
  }

  /** Who is asking; a token this node does not know yet is checked again after a read index. */
  async authenticate(request: FastifyRequest): Promise<string> {
    const token = this.token(request);
    if (token === null)
      fail(
        401,
        "unauthenticated",
        "send Authorization: Bearer <token>; POST /api/users or /api/sessions gives you one",
      );
    const tokenHash = this.tokenHash(request, token);
    const known = this.userOfHash(tokenHash);
    if (known !== undefined) return known;
    await this.read();
    const user = this.userOfHash(tokenHash);
    if (user === undefined) fail(401, "unauthenticated", "unknown or expired token; log in again");
    return user;
  }

  /** Who is asking, or null for an anonymous request (a bad token is still an error). */
  async optionalUser(request: FastifyRequest): Promise<string | null> {
    return this.token(request) === null ? null : this.authenticate(request);
  }
}
