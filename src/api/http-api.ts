// The client API over HTTP (fastify), on every node. Each request is validated at the boundary,
// turned into a cluster request that the core routes to the leader or the auction's owner, and
// its answer mapped to a status code; errors are application/problem+json. Reads first confirm
// with the leader (read index), so they reflect every write acknowledged before them.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import Fastify from "fastify";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import { auctionView } from "../core/auction/view.js";
import type { AcceptedBid, Outcome } from "../core/auction/types.js";
import type { ClientRequest, ClientResult, NodeId } from "../core/cluster/types.js";
import type { NodeStatus } from "../core/cluster/node.js";
import type { ApplyResult, ClusterState } from "../core/cluster/state.js";
import type { Logger } from "../node/logger.js";
import { createAuctionBodySchema, placeBidBodySchema, registerBodySchema } from "./schemas.js";
import type { CreateAuctionBody } from "./schemas.js";
import { clusterProblem, engineProblem, problem, problemBody } from "./problems.js";
import type { Problem } from "./problems.js";

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
  };
}

/** A consistent copy of the cluster's state, as `GET /api/admin/backup` returns it and `gavel node --restore` reads it. */
export interface Backup {
  format: "gavel-backup";
  version: 1;
  clusterId: string;
  clusterName: string;
  /** The log index the state reflects. */
  appliedIndex: number;
  /** The last entry's stamp, so that stamps keep not decreasing in a restored cluster. */
  lastTimestampMs: number;
  takenAt: string;
  /** The serialized state machine (ClusterState.serialize). */
  state: string;
}

export interface HttpApiOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Largest request body, in bytes. Default 64 KiB. */
  bodyBytesMax?: number;
  /** Soft close applied when a seller does not say: window, extension, cap, in ms. */
  defaultSoftClose?: { windowMs: number; extensionMs: number; maxExtensionMs: number };
  /** When set, /api/admin/* requires `Authorization: Bearer <one of these>` (the cluster keys). */
  adminKeys?: readonly string[];
}

/** Soft close unless the seller says otherwise: a bid in the last 30 s adds 30 s, at most 10 minutes in all. */
export const defaultSoftClose = { windowMs: 30_000, extensionMs: 30_000, maxExtensionMs: 600_000 };

class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

function fail(status: number, code: string, detail: string): never {
  throw new ProblemError(problem(status, code, detail));
}

function send(reply: FastifyReply, value: Problem): FastifyReply {
  if (value.retryAfterS !== undefined) void reply.header("retry-after", String(value.retryAfterS));
  return reply.code(value.status).type("application/problem+json").send(problemBody(value));
}

/** Parses `body` with `schema`, or answers 400 saying which field is wrong and why. */
function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.join(".");
  const amount = ["amount", "max", "startingPrice", "reservePrice", "buyNowPrice", "minIncrement"].includes(
    String(issue.path[0]),
  );
  fail(400, amount ? "invalid-amount" : "invalid-body", `${path === "" ? "body" : path}: ${issue.message}`);
}

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Compares secrets in constant time (by their hashes, so lengths leak nothing either). */
function sameSecret(expected: string, given: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(expected), digest(given));
}

export class HttpApi {
  private constructor(
    private readonly server: FastifyInstance,
    readonly url: string,
  ) {}

  /** Starts listening; `node` is asked lazily, so the API may start before the node exists. */
  static async start(getNode: () => ApiNode | null, options: HttpApiOptions): Promise<HttpApi> {
    const server = Fastify({ bodyLimit: options.bodyBytesMax ?? 64 * 1024, logger: false });
    const routes = new Routes(getNode, options);
    routes.register(server);
    const address = await server.listen({ host: options.host, port: options.port });
    return new HttpApi(server, address);
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

class Routes {
  constructor(
    private readonly getNode: () => ApiNode | null,
    private readonly options: HttpApiOptions,
  ) {}

  private node(): ApiNode {
    const node = this.getNode();
    if (node === null) throw new ProblemError(problem(503, "starting", "the node is starting", 1));
    return node;
  }

  register(server: FastifyInstance): void {
    server.setErrorHandler((error: unknown, _request, reply) => {
      if (error instanceof ProblemError) return send(reply, error.problem);
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      if (status >= 500) this.options.logger.error({ err: error }, "request failed");
      const code = status === 413 ? "body-too-large" : status === 400 ? "invalid-body" : "internal";
      const detail =
        status >= 500 ? "internal error" : error instanceof Error ? error.message : "bad request";
      return send(reply, problem(status, code, detail));
    });
    server.setNotFoundHandler((request, reply) =>
      send(reply, problem(404, "not-found", `no route ${request.method} ${request.url}`)),
    );
    server.get("/healthz", () => ({ status: "alive" }));
    server.get("/readyz", (_request, reply) => this.ready(reply));
    server.get("/metrics", async (_request, reply) => {
      const metrics = this.node().metrics;
      return reply.type(metrics.contentType).send(await metrics.text());
    });
    server.get("/api/admin/backup", (request) => this.backup(request));
    server.get("/api/cluster", () => this.cluster());
    server.post("/api/users", (request, reply) => this.registerUser(request, reply));
    server.post("/api/auctions", (request, reply) => this.createAuction(request, reply));
    server.get("/api/auctions/:id", (request) => this.showAuction(request));
    server.post("/api/auctions/:id/bids", (request, reply) => this.placeBid(request, reply));
  }

  // ---------------------------------------------------------------- operations

  private ready(reply: FastifyReply) {
    const reason = this.node().notReadyReason();
    if (reason === null) return { status: "ready" };
    return send(reply, problem(503, "not-ready", reason, 1));
  }

  /** A consistent snapshot: confirmed with the leader first, so it holds every acknowledged write. */
  private async backup(request: FastifyRequest): Promise<Backup> {
    const keys = this.options.adminKeys ?? [];
    if (keys.length > 0) {
      const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1] ?? "";
      if (!keys.some((key) => sameSecret(key, given)))
        fail(401, "unauthenticated", "send Authorization: Bearer <cluster key>");
    }
    await this.read();
    const node = this.node();
    const status = node.status();
    const state = node.state();
    return {
      format: "gavel-backup",
      version: 1,
      clusterId: status.clusterId!,
      clusterName: status.clusterName,
      appliedIndex: state.appliedIndex,
      lastTimestampMs: state.book.lastTimestampMs,
      takenAt: new Date().toISOString(),
      state: state.serialize(),
    };
  }

  // ---------------------------------------------------------------- cluster

  private cluster() {
    const node = this.node();
    const status = node.status();
    const state = node.state();
    const nodes = status.members.map((member) => ({
      id: member.id,
      role: member.id === status.leaderId ? "leader" : member.voter ? "worker" : "learner",
      status: member.id === node.id ? "alive" : livenessOf(status.lastHeardMs[member.id], status),
      http: member.httpUrl,
      auctions: state.activeByOwner.get(member.id)?.size ?? 0,
    }));
    return { term: status.term, leader: status.leaderId, nodes };
  }

  // ---------------------------------------------------------------- users

  private async registerUser(request: FastifyRequest, reply: FastifyReply) {
    const body = parse(registerBodySchema, request.body);
    const token = randomBytes(24).toString("base64url");
    const result = await this.applied({
      kind: "register",
      name: body.name,
      tokenHash: hashToken(token),
      passwordHash: null,
    });
    if (result.kind !== "user") fail(500, "internal", "unexpected result");
    if (!result.created) fail(409, "name-taken", `the name ${body.name} is taken`);
    return reply.code(201).send({ name: body.name, token });
  }

  /** The user the bearer token belongs to; a token this node does not know yet is checked again after a read index. */
  private async authenticate(request: FastifyRequest): Promise<string> {
    const header = request.headers.authorization ?? "";
    const match = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(header);
    if (match === null)
      fail(401, "unauthenticated", "send Authorization: Bearer <token>; POST /api/users gives you one");
    const tokenHash = hashToken(match[1]!);
    const known = this.node().state().userOfToken(tokenHash);
    if (known !== undefined) return known;
    await this.read();
    const user = this.node().state().userOfToken(tokenHash);
    if (user === undefined) fail(401, "unauthenticated", "unknown token");
    return user;
  }

  // ---------------------------------------------------------------- auctions

  private async createAuction(request: FastifyRequest, reply: FastifyReply) {
    const seller = await this.authenticate(request);
    const body = parse(createAuctionBodySchema, request.body);
    const auctionId = randomBytes(6).toString("hex");
    const command = this.createCommand(auctionId, seller, body);
    const outcome = await this.outcome({ kind: "create", command });
    if (!outcome.ok) throw new ProblemError(engineProblem(outcome.reason, outcome.message));
    return reply.code(201).send(this.view(auctionId));
  }

  private createCommand(auctionId: string, seller: string, body: CreateAuctionBody) {
    const nowMs = Date.now();
    const closesAt = body.closesAt ?? nowMs + body.durationMs!;
    const increment =
      typeof body.minIncrement === "number"
        ? { type: "fixed" as const, amount: body.minIncrement }
        : { type: "table" as const, bands: body.minIncrement };
    return {
      type: "create-auction" as const,
      auctionId,
      seller,
      title: body.title,
      description: body.description ?? "",
      currency: body.currency ?? "EUR",
      startingPrice: body.startingPrice,
      reservePrice: body.reservePrice ?? null,
      buyNowPrice: body.buyNowPrice ?? null,
      increment,
      opensAt: body.opensAt ?? nowMs,
      closesAt,
      softClose:
        body.softClose === undefined ? (this.options.defaultSoftClose ?? defaultSoftClose) : body.softClose,
    };
  }

  private async showAuction(request: FastifyRequest) {
    const { id } = request.params as { id: string };
    await this.read();
    return this.view(id);
  }

  private view(auctionId: string) {
    const state = this.node().state();
    const auction = state.book.get(auctionId);
    if (auction === undefined) fail(404, "unknown-auction", `no auction ${auctionId}`);
    const view = auctionView(auction, Date.now());
    const bids = auction.bids.map((line) => ({
      bidId: line.bidId,
      bidder: line.bidder,
      amount: line.amount,
      at: line.timestampMs,
      automatic: line.automatic,
    }));
    const winner = auction.outcome?.result === "sold" ? auction.outcome.winner : undefined;
    return { ...view, owner: state.assignments.get(auctionId)?.owner ?? null, winner, bids };
  }

  private async placeBid(request: FastifyRequest, reply: FastifyReply) {
    const bidder = await this.authenticate(request);
    const { id } = request.params as { id: string };
    const body = parse(placeBidBodySchema, request.body);
    const command = {
      type: "place-bid" as const,
      auctionId: id,
      bidder,
      bidId: body.bidId,
      amount: body.amount,
      max: body.max ?? null,
    };
    const outcome = await this.outcome({ kind: "auction", command });
    this.node().metrics.bid(outcome);
    if (!outcome.ok) throw new ProblemError(engineProblem(outcome.reason, outcome.message));
    const bid = outcome.bid!;
    return reply.code(outcome.duplicate === true ? 200 : 201).send(bidBody(bid));
  }

  // ---------------------------------------------------------------- cluster requests

  /** Sends a request into the cluster; a failure becomes 503/504 with the core's explanation. */
  private async ask(request: ClientRequest): Promise<Exclude<ClientResult, { ok: false }>> {
    const result = await this.node().request(request);
    if (!result.ok) throw new ProblemError(clusterProblem(result.reason, result.detail));
    return result;
  }

  /** What was applied for a request the leader appends (registrations). */
  private async applied(request: ClientRequest): Promise<ApplyResult> {
    const result = await this.ask(request);
    if (result.kind !== "applied") fail(500, "internal", `unexpected answer ${result.kind}`);
    return result.result;
  }

  /** The engine's outcome of an auction command, decided by its owner or applied from the log. */
  private async outcome(request: ClientRequest): Promise<Outcome> {
    const result = await this.ask(request);
    if (result.kind === "decided") return result.outcome;
    if (result.kind !== "applied") fail(500, "internal", "unexpected answer");
    const applied = result.result;
    if (applied.kind === "auction") return applied.outcome;
    if (applied.kind === "fenced")
      throw new ProblemError(clusterProblem("outcome-unknown", "the auction moved to another worker"));
    fail(500, "internal", `unexpected result ${applied.kind}`);
  }

  /** Waits until this node reflects every write acknowledged before now. */
  private async read(): Promise<void> {
    const result = await this.node().request({ kind: "read" });
    if (!result.ok) throw new ProblemError(clusterProblem(result.reason, result.detail));
  }
}

function bidBody(bid: AcceptedBid) {
  return {
    auctionId: bid.auctionId,
    bidId: bid.bidId,
    bidder: bid.bidder,
    amount: bid.amount,
    max: bid.max,
    at: bid.timestampMs,
    price: bid.priceAfter,
    highBidder: bid.leaderAfter,
    leading: bid.leaderAfter === bid.bidder,
    boughtNow: bid.boughtNow,
  };
}

/** Alive if heard within two beacon intervals, suspect within an election timeout's worth more, else dead. */
function livenessOf(heardMs: number | undefined, status: NodeStatus): "alive" | "suspect" | "dead" {
  if (heardMs === undefined) return "dead";
  const silentMs = status.nowMs - heardMs;
  if (silentMs <= status.aliveWithinMs) return "alive";
  if (silentMs <= 3 * status.aliveWithinMs) return "suspect";
  return "dead";
}
