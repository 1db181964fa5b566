// The OpenAPI 3.1 document served at /api/openapi.json, built from the same zod schemas that
// validate the requests, so the description cannot drift from what the server accepts.
import { z } from "zod";
import {
  clusterQuerySchema,
  createAuctionBodySchema,
  listQuerySchema,
  loginBodySchema,
  nodeBodySchema,
  placeBidBodySchema,
  registerBodySchema,
  showQuerySchema,
  transferBodySchema,
} from "./schemas.js";

function schemaOf(schema: z.ZodType): unknown {
  return z.toJSONSchema(schema, { unrepresentable: "any", io: "input" });
}

function body(schema: z.ZodType) {
  return { required: true, content: { "application/json": { schema: schemaOf(schema) } } };
}

function queryParameters(schema: z.ZodObject) {
  return Object.keys(schema.shape).map((name) => ({
    name,
    in: "query",
    required: false,
    schema: { type: "string" },
  }));
}

const problem = {
  description: "a problem (application/problem+json) with a stable `code`",
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
};
const ok = (description: string) => ({
  description,
  content: { "application/json": { schema: { type: "object" } } },
});
/** An answer about one auction, with the Gavel-Owner header naming the node that runs it. */
const okWithOwner = (description: string) => ({
  ...ok(description),
  headers: {
    "Gavel-Owner": {
      description: "API URL of the node running the auction; its next bids can go there directly",
      schema: { type: "string" },
    },
  },
});
const idParameter = { name: "id", in: "path", required: true, schema: { type: "string" } };

export function openApiDocument(version: string): Record<string, unknown> {
  const errors = {
    "400": problem,
    "401": problem,
    "404": problem,
    "429": problem,
    "503": problem,
    "504": problem,
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "gavel",
      version,
      description:
        "The client API of every gavel node. Amounts are whole minor units (cents); times are ms since the epoch.",
    },
    components: {
      schemas: {
        Problem: {
          type: "object",
          properties: {
            type: { type: "string" },
            title: { type: "string" },
            status: { type: "integer" },
            code: { type: "string" },
            detail: { type: "string" },
          },
          required: ["status", "code", "detail"],
        },
      },
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    paths: {
      "/api/users": {
        post: {
          summary: "Register",
          requestBody: body(registerBodySchema),
          responses: { "201": ok("name and token"), "409": problem, ...errors },
        },
      },
      "/api/sessions": {
        post: {
          summary: "Log in",
          requestBody: body(loginBodySchema),
          responses: { "201": ok("name, token and expiry"), ...errors },
        },
      },
      "/api/sessions/current": {
        delete: {
          summary: "Log out",
          security: [{ bearer: [] }],
          responses: { "204": { description: "logged out" }, ...errors },
        },
      },
      "/api/me": {
        get: {
          summary: "Who am I",
          security: [{ bearer: [] }],
          responses: { "200": ok("the user"), ...errors },
        },
      },
      "/api/auctions": {
        get: {
          summary: "List auctions",
          parameters: queryParameters(listQuerySchema),
          responses: { "200": ok("a page of auctions"), ...errors },
        },
        post: {
          summary: "Create an auction",
          security: [{ bearer: [] }],
          requestBody: body(createAuctionBodySchema),
          responses: { "201": ok("the auction"), ...errors },
        },
      },
      "/api/auctions/{id}": {
        get: {
          summary: "Show an auction and a page of its bids",
          parameters: [idParameter, ...queryParameters(showQuerySchema)],
          responses: { "200": okWithOwner("the auction"), ...errors },
        },
      },
      "/api/auctions/{id}/cancel": {
        post: {
          summary: "Cancel (the seller, before the first bid)",
          security: [{ bearer: [] }],
          parameters: [idParameter],
          responses: { "200": ok("the auction"), "403": problem, "409": problem, "410": problem, ...errors },
        },
      },
      "/api/auctions/{id}/bids": {
        post: {
          summary: "Bid (idempotent by bidId; a max makes a proxy bid)",
          security: [{ bearer: [] }],
          parameters: [idParameter],
          requestBody: body(placeBidBodySchema),
          responses: {
            "201": okWithOwner("the accepted bid"),
            "200": okWithOwner("the same bid, sent again"),
            "403": problem,
            "409": problem,
            "410": problem,
            "422": problem,
            ...errors,
          },
        },
      },
      "/api/cluster": {
        get: {
          summary: "The cluster",
          parameters: queryParameters(clusterQuerySchema),
          responses: { "200": ok("term, leader, nodes") },
        },
      },
      "/api/stream": {
        get: {
          summary: "Live updates (WebSocket; see docs/API.md)",
          responses: { "101": { description: "switching to WebSocket" } },
        },
      },
      "/api/admin/transfer-leadership": {
        post: {
          summary: "Hand leadership over",
          requestBody: body(transferBodySchema),
          responses: { "202": ok("handing over"), ...errors },
        },
      },
      "/api/admin/drain": {
        post: {
          summary: "Drain a worker",
          requestBody: body(nodeBodySchema),
          responses: { "200": ok("drained"), ...errors },
        },
      },
      "/api/admin/undrain": {
        post: {
          summary: "Take a drained worker back",
          requestBody: body(nodeBodySchema),
          responses: { "200": ok("undrained"), ...errors },
        },
      },
      "/api/admin/remove-node": {
        post: {
          summary: "Remove a member",
          requestBody: body(nodeBodySchema),
          responses: { "200": ok("removed"), ...errors },
        },
      },
      "/api/admin/backup": {
        get: { summary: "A consistent backup", responses: { "200": ok("the backup"), ...errors } },
      },
      "/healthz": { get: { summary: "Alive", responses: { "200": ok("alive") } } },
      "/readyz": { get: { summary: "Ready to serve", responses: { "200": ok("ready"), "503": problem } } },
      "/metrics": {
        get: {
          summary: "Prometheus metrics",
          responses: { "200": { description: "text exposition format" } },
        },
      },
    },
  };
}
