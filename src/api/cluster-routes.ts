// The cluster and its operation: the cluster view (nodes, roles, who runs which auction, whether
// it can survive one more failure), health and readiness, Prometheus metrics, and the operator's
// requests (hand leadership over, drain or undrain a worker, remove a node, take a backup), which
// need the cluster key when one is set.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { NodeStatus } from "../core/cluster/node.js";
import { majority } from "../core/cluster/quorum.js";
import type { ApiContext } from "./context.js";
import { fail, parse, sendProblem } from "./context.js";
import { problem } from "./problems.js";
import { clusterQuerySchema, nodeBodySchema, transferBodySchema } from "./schemas.js";
import { sameSecret } from "./secrets.js";

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

/** Alive if heard within the status's window, suspect within three times it, else dead. */
function livenessOf(heardMs: number | undefined, status: NodeStatus): "alive" | "suspect" | "dead" {
  if (heardMs === undefined) return "dead";
  const silentMs = status.nowMs - heardMs;
  if (silentMs <= status.aliveWithinMs) return "alive";
  if (silentMs <= 3 * status.aliveWithinMs) return "suspect";
  return "dead";
}

export function registerClusterRoutes(
  server: FastifyInstance,
  context: ApiContext,
  adminKeys: readonly string[],
): void {
  const requireOperator = (request: FastifyRequest) => {
    if (adminKeys.length === 0) return;
    const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1] ?? "";
    if (!adminKeys.some((key) => sameSecret(key, given)))
      fail(401, "unauthenticated", "send Authorization: Bearer <cluster key>");
  };

  server.get("/healthz", () => ({ status: "alive" }));
  server.get("/readyz", (_request, reply) => {
    const reason = context.node().notReadyReason();
    return reason === null ? { status: "ready" } : sendProblem(reply, problem(503, "not-ready", reason, 1));
  });
  server.get("/metrics", async (_request, reply) => {
    const metrics = context.node().metrics;
    return reply.type(metrics.contentType).send(await metrics.text());
  });

  server.get("/api/cluster", (request) => {
    const query = parse(clusterQuerySchema, request.query);
    const node = context.node();
    const status = node.status();
    const state = node.state();
    const nodes = status.members.map((member) => ({
      id: member.id,
      role: member.id === status.leaderId ? "leader" : member.voter ? "worker" : "learner",
      status: member.id === node.id ? "alive" : livenessOf(status.lastHeardMs[member.id], status),
      http: member.httpUrl,
      auctions: state.activeByOwner.get(member.id)?.size ?? 0,
      drained: state.drained.has(member.id),
    }));
    const voters = nodes.filter((item) => item.role !== "learner");
    const aliveVoters = voters.filter((item) => item.status === "alive").length;
    const needed = majority(voters.length);
    const view = {
      term: status.term,
      leader: status.leaderId,
      nodes,
      voters: voters.length,
      majority: needed,
      canLoseOne: aliveVoters - 1 >= needed,
    };
    if (query.assignments !== "true") return view;
    const assignments: Record<string, number> = {};
    for (const [owner, auctions] of state.activeByOwner)
      for (const auctionId of auctions) assignments[auctionId] = owner;
    return { ...view, assignments };
  });

  server.post("/api/admin/transfer-leadership", async (request, reply) => {
    requireOperator(request);
    const body = parse(transferBodySchema, request.body);
    const result = await context.ask({ kind: "transfer", to: body.to ?? null });
    return reply
      .code(202)
      .send({ status: "handing-over", detail: result.kind === "accepted" ? result.detail : "" });
  });

  for (const [path, drained] of [
    ["/api/admin/drain", true],
    ["/api/admin/undrain", false],
  ] as const) {
    server.post(path, async (request) => {
      requireOperator(request);
      const body = parse(nodeBodySchema, request.body);
      await context.applied({ kind: "set-drained", id: body.node, drained });
      return { node: body.node, drained };
    });
  }

  server.post("/api/admin/remove-node", async (request) => {
    requireOperator(request);
    const body = parse(nodeBodySchema, request.body);
    await context.applied({ kind: "remove-member", id: body.node });
    return { node: body.node, removed: true };
  });

  server.get("/api/admin/backup", async (request): Promise<Backup> => {
    requireOperator(request);
    await context.read();
    const node = context.node();
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
  });
}
