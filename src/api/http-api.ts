// The client API over HTTP and WebSocket (fastify), on every node. Each request is validated at
// the boundary, turned into a cluster request that the core routes to the leader or the auction's
// owner, and its answer mapped to a status code; errors are application/problem+json. CORS allows
// the cluster's own nodes; requests are rate-limited per token. Route modules hold the endpoints.
import cors from "@fastify/cors";
import rateLimit from "@fastify/rate-limit";
import websocket from "@fastify/websocket";
import Fastify from "fastify";
import type { FastifyInstance } from "fastify";
import { createRequire } from "node:module";
import { defaultConfig } from "../core/config.js";
import type { Logger } from "../node/logger.js";
import { ownerHeader, registerAuctionRoutes } from "./auction-routes.js";
import { registerClusterRoutes } from "./cluster-routes.js";
import { ApiContext, ProblemError, sendProblem } from "./context.js";
import type { ApiNode } from "./context.js";
import { openApiDocument } from "./openapi.js";
import { problem } from "./problems.js";
import type { Problem } from "./problems.js";
import { EventFeed, registerStream } from "./stream.js";
import { registerUserRoutes } from "./user-routes.js";
import { registerStatic } from "./static.js";
import { fileURLToPath } from "node:url";

export type { ApiNode } from "./context.js";
export type { Backup } from "./cluster-routes.js";
export { defaultSoftClose } from "./auction-routes.js";

const require = createRequire(import.meta.url);
const { version } = require("../../../package.json") as { version: string };

export interface HttpApiOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Largest request body, in bytes. Default 64 KiB. */
  bodyBytesMax?: number;
  /** When set, /api/admin/* requires `Authorization: Bearer <one of these>` (the cluster keys). */
  adminKeys?: readonly string[];
  /** Requests per second allowed per token (per address for anonymous requests). Default 500. */
  ratePerSecond?: number;
  /**
   * Most client requests worked on at once (Config.requestsInFlightMax); beyond it, 503 overloaded
   * with Retry-After at once. Default 64.
   */
  requestsInFlightMax?: number;
  /** Most WebSocket clients at once. Default 2000. */
  streamClientsMax?: number;
  /** Registers more routes. */
  extraRoutes?: (server: FastifyInstance) => Promise<void> | void;
  /** Where the built web page is (default: dist/web beside the compiled code). */
  webRoot?: string;
}

export class HttpApi {
  private constructor(
    private readonly server: FastifyInstance,
    readonly url: string,
    private readonly feed: EventFeed,
  ) {}

  /** Starts listening; the node is attached later (`attach`), so the API may start first. */
  static async start(getNode: () => ApiNode | null, options: HttpApiOptions): Promise<HttpApi> {
    const count = (value: Problem) => getNode()?.metrics.problem(value.status, value.code);
    const server = Fastify({
      bodyLimit: options.bodyBytesMax ?? 64 * 1024,
      logger: false,
      // A URL the router cannot read (bad percent-encoding, a path parameter over 100 characters)
      // is answered as problem+json like every other refusal, not with fastify's own JSON.
      frameworkErrors: (error, _request, reply) => {
        const status = error.statusCode === 414 ? 414 : 400;
        const value = problem(status, status === 414 ? "url-too-long" : "invalid-url", error.message);
        count(value);
        void sendProblem(reply, value);
      },
    });
    const context = new ApiContext(getNode, options.logger);
    const feed = new EventFeed();
    registerAdmission(server, options.requestsInFlightMax ?? defaultConfig().requestsInFlightMax);
    await registerPlugins(server, context, options);
    registerErrorHandlers(server, options.logger, (value) =>
      getNode()?.metrics.problem(value.status, value.code),
    );
    server.get("/api/openapi.json", () => openApiDocument(version));
    registerUserRoutes(server, context);
    registerAuctionRoutes(server, context);
    registerClusterRoutes(server, context, options.adminKeys ?? []);
    registerStream(server, feed, () => (feed.started ? getNode() : null), {
      logger: options.logger,
      userOfToken: (token) => (getNode() === null ? undefined : context.userOfToken(token)),
      clientsMax: options.streamClientsMax,
    });
    registerStatic(server, options.webRoot ?? fileURLToPath(new URL("../../web", import.meta.url)));
    await options.extraRoutes?.(server);
    const address = await server.listen({ host: options.host, port: options.port });
    return new HttpApi(server, address, feed);
  }

  /** Starts feeding the live stream from `node`'s applied entries. */
  attach(node: ApiNode): void {
    this.feed.startAt(node.state().appliedIndex);
    node.onApplied({ applied: (entry, result) => this.feed.onApplied(entry, result, node.state()) });
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

async function registerPlugins(
  server: FastifyInstance,
  context: ApiContext,
  options: HttpApiOptions,
): Promise<void> {
  // CORS: the cluster's own nodes may call each other from a page served by any of them.
  await server.register(cors, {
    origin: (origin, callback) => {
      if (origin === undefined) return callback(null, true);
      const members = context.node().status().members;
      callback(
        null,
        members.some((member) => member.httpUrl === origin),
      );
    },
    methods: ["GET", "POST", "DELETE"],
    // A page may send bids to the auction's owner, which it learns from this header.
    exposedHeaders: [ownerHeader],
  });
  await server.register(rateLimit, {
    max: options.ratePerSecond ?? 500,
    timeWindow: 1000,
    keyGenerator: (request) => context.token(request) ?? request.ip,
    errorResponseBuilder: (_request, context_) => {
      const seconds = Math.max(1, Math.ceil(context_.ttl / 1000));
      return new ProblemError(
        problem(
          429,
          "rate-limited",
          `more than ${context_.max} requests per second; retry in ${seconds} s`,
          seconds,
        ),
      );
    },
  });
  await server.register(websocket, { options: { maxPayload: 64 * 1024 } });
}

/** Requests outside admission control: cheap, and needed to watch a cluster under overload. */
const unmetered = new Set(["/api/stream", "/api/cluster", "/api/openapi.json"]);

/**
 * Admission control: at most `inFlightMax` API requests are worked on at once; one more is answered
 * 503 `overloaded` with Retry-After at once, before it costs anything, rather than queueing inside
 * the node (where it would wait, time out and be retried, while holding memory).
 */
function registerAdmission(server: FastifyInstance, inFlightMax: number): void {
  let inFlight = 0;
  server.addHook("onRequest", async (request, reply) => {
    const path = request.url.split("?", 1)[0]!;
    if (!path.startsWith("/api/") || unmetered.has(path)) return;
    if (inFlight >= inFlightMax) {
      throw new ProblemError(
        problem(503, "overloaded", `this node is working on ${inFlightMax} requests; retry shortly`, 1),
      );
    }
    inFlight++;
    // "close" comes once the answer is sent, or when the client went away first.
    reply.raw.once("close", () => inFlight--);
  });
}

function registerErrorHandlers(
  server: FastifyInstance,
  logger: Logger,
  count: (value: Problem) => void,
): void {
  server.setErrorHandler((error: unknown, _request, reply) => {
    if (error instanceof ProblemError) {
      count(error.problem);
      return sendProblem(reply, error.problem);
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) logger.error({ err: error }, "request failed");
    const code =
      status === 413
        ? "body-too-large"
        : status === 415
          ? "unsupported-media-type"
          : status === 400
            ? "invalid-body"
            : "internal";
    const detail = status >= 500 ? "internal error" : error instanceof Error ? error.message : "bad request";
    const value = problem(status, code, detail);
    count(value);
    return sendProblem(reply, value);
  });
  server.setNotFoundHandler((request, reply) => {
    const value = problem(404, "not-found", `no route ${request.method} ${request.url}`);
    count(value);
    return sendProblem(reply, value);
  });
}
