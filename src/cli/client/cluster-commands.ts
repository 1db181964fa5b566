// `gavel status` and the operator's commands: `gavel transfer-leadership`, `gavel drain`,
// `gavel undrain`, `gavel remove-node`. Operator requests carry the cluster key as a bearer token
// when one is given (a cluster with a key refuses them otherwise). The key is never printed.
import { Command, InvalidArgumentError, Option } from "commander";
import { ClientContext, runClient, withConnectionOptions } from "./context.js";
import type { ConnectionFlags } from "./context.js";
import { ApiProblemError, ClientError } from "./errors.js";
import { table } from "./output.js";
import type { Style } from "./output.js";
import { clusterDocumentSchema, expectDocument } from "./types.js";
import type { ClusterDocument } from "./types.js";

function nodeId(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError("a node id is a positive whole number");
  return parsed;
}

/** Warnings about the cluster's health, worst first; empty when all is well. */
export function clusterWarnings(view: ClusterDocument): string[] {
  const warnings: string[] = [];
  if (view.leader === null) warnings.push("no leader: writes wait until one is elected");
  if (view.canLoseOne === false) {
    const voters = view.nodes.filter((node) => node.role !== "learner");
    const alive = voters.filter((node) => node.status === "alive").length;
    const down = voters
      .filter((node) => node.status !== "alive")
      .map((node) => `node ${node.id} (${node.status})`);
    warnings.push(
      `the cluster cannot survive one more failure: ${alive} of ${voters.length} voters alive, a majority is ${view.majority ?? "?"}` +
        (down.length > 0 ? `; down: ${down.join(", ")}` : ""),
    );
  }
  return warnings;
}

/** The human form of a cluster view: summary, node table, warnings, and who runs which auction. */
export function statusText(view: ClusterDocument, answeredBy: string, style: Style): string {
  const leader = view.leader === null ? "no leader" : `leader node ${view.leader}`;
  const lines = [
    `term ${view.term}, ${leader}, ${view.voters ?? "?"} voters (majority ${view.majority ?? "?"}), as seen by ${answeredBy}`,
  ];
  const rows = [...view.nodes]
    .sort((a, b) => a.id - b.id)
    .map((node) => {
      const status = node.status === "alive" ? style.green(node.status) : style.red(node.status);
      const role = node.drained === true ? `${node.role} (drained)` : node.role;
      return [String(node.id), role, status, node.http, String(node.auctions)];
    });
  lines.push(table(["NODE", "ROLE", "STATUS", "API", "AUCTIONS"], rows, [0, 4], style));
  for (const warning of clusterWarnings(view)) lines.push(style.yellow(style.bold(`WARNING: ${warning}`)));
  if (view.assignments !== undefined) {
    const byNode = new Map<number, string[]>();
    for (const [auctionId, owner] of Object.entries(view.assignments)) {
      byNode.set(owner, [...(byNode.get(owner) ?? []), auctionId]);
    }
    if (byNode.size === 0) lines.push("no open auctions");
    for (const [owner, auctions] of [...byNode].sort(([a], [b]) => a - b)) {
      const shown =
        auctions.slice(0, 8).join(", ") + (auctions.length > 8 ? `, … (${auctions.length - 8} more)` : "");
      lines.push(
        `node ${owner} runs ${auctions.length} open auction${auctions.length === 1 ? "" : "s"}: ${shown}`,
      );
    }
  }
  return lines.join("\n");
}

interface StatusFlags extends ConnectionFlags {
  assignments?: boolean;
}

export function statusCommand(): Command {
  const command = new Command("status")
    .summary("the cluster: nodes, roles, term, who runs which auction, failure margin")
    .description(
      "Show the cluster as one node sees it: every node with its role and liveness, the term and leader, which worker runs which auction, and a warning when the cluster cannot survive one more failure.",
    )
    .addOption(new Option("--assignments", "with --json: add which node runs each open auction"));
  withConnectionOptions(command, { json: "print GET /api/cluster as the API returns it" });
  return command.action(async (flags: StatusFlags) => {
    await runClient("status", async () => {
      const context = new ClientContext("status", flags);
      await context.connect();
      const withAssignments = flags.assignments === true || flags.json !== true;
      const response = await context.api.send({
        method: "GET",
        path: withAssignments ? "/api/cluster?assignments=true" : "/api/cluster",
        retry: "idempotent",
        what: "reading the cluster",
      });
      if (flags.json === true) return context.out(JSON.stringify(response.body, null, 2));
      const view = expectDocument(clusterDocumentSchema, response.body, "cluster view");
      context.out(statusText(view, response.nodeUrl, context.style));
    });
  });
}

/** Sends an operator request, explaining a refusal for want of the cluster key. */
async function operatorRequest(context: ClientContext, path: string, body: unknown, what: string) {
  await context.connect();
  try {
    return await context.api.send({
      method: "POST",
      path,
      body,
      bearer: context.operatorKey(),
      retry: "idempotent",
      what,
    });
  } catch (error) {
    if (error instanceof ApiProblemError && error.status === 401) {
      const hint =
        context.operatorKey() === undefined
          ? "give it with --cluster-key or GAVEL_CLUSTER_KEY"
          : "the key given is not one of the cluster's";
      throw new ClientError(
        "api-problem",
        `${error.message}: this cluster needs its key for operator commands; ${hint}`,
      );
    }
    throw error;
  }
}

interface TransferFlags extends ConnectionFlags {
  wait: boolean;
}

export function transferLeadershipCommand(): Command {
  const command = new Command("transfer-leadership")
    .summary("hand leadership to a node (or the best caught-up voter)")
    .description(
      "Ask the leader to hand over leadership, to node <id> or to the best caught-up voter. The highest-id node takes it back once it has been caught up for 5 s.",
    )
    .argument("[id]", "the node to lead", nodeId)
    .addOption(new Option("--no-wait", "do not wait to see the new leader"));
  withConnectionOptions(command, { operator: true });
  return command.action(async (to: number | undefined, flags: TransferFlags) => {
    await runClient("transfer-leadership", async () => {
      const context = new ClientContext("transfer-leadership", flags);
      const before = await context.connect();
      const response = await operatorRequest(
        context,
        "/api/admin/transfer-leadership",
        to === undefined ? {} : { to },
        "transferring leadership",
      );
      const detail = (response.body as { detail?: unknown }).detail;
      context.out(
        `leader node ${before.leader ?? "?"} is handing over${to === undefined ? "" : ` to node ${to}`}${typeof detail === "string" && detail !== "" ? `: ${detail}` : ""}`,
      );
      if (!flags.wait) return;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const view = await context.api
          .send({ method: "GET", path: "/api/cluster", retry: "idempotent", what: "reading the cluster" })
          .then((answer) => expectDocument(clusterDocumentSchema, answer.body, "cluster view"))
          .catch(() => null);
        if (view !== null && view.leader !== null && view.leader !== before.leader) {
          return context.out(`node ${view.leader} leads now (term ${view.term})`);
        }
      }
      context.warn("no new leader seen within 10 s; see gavel status");
      process.exitCode = 2;
    });
  });
}

function nodeOperation(
  name: string,
  summary: string,
  description: string,
  path: string,
  done: (node: number) => string,
) {
  const command = new Command(name)
    .summary(summary)
    .description(description)
    .argument("<node>", "the node's id", nodeId);
  withConnectionOptions(command, { operator: true, json: "print the answer as the API returns it" });
  return command.action(async (node: number, flags: ConnectionFlags) => {
    await runClient(name, async () => {
      const context = new ClientContext(name, flags);
      const response = await operatorRequest(context, path, { node }, `${name} ${node}`);
      context.out(flags.json === true ? JSON.stringify(response.body, null, 2) : done(node));
    });
  });
}

export function drainCommand(): Command {
  return nodeOperation(
    "drain",
    "move a worker's auctions away before maintenance",
    "Drain a worker before maintenance: its auctions move to other workers, and it gets no new ones until undrained.",
    "/api/admin/drain",
    (node) =>
      `node ${node} is drained: its auctions move to other workers, and it gets no new ones (gavel undrain ${node} to undo)`,
  );
}

export function undrainCommand(): Command {
  return nodeOperation(
    "undrain",
    "let a drained worker run auctions again",
    "Undo gavel drain: the worker gets auctions again.",
    "/api/admin/undrain",
    (node) => `node ${node} is no longer drained: it gets auctions again`,
  );
}

export function removeNodeCommand(): Command {
  return nodeOperation(
    "remove-node",
    "take a dead member out of the configuration",
    "Take a member out of the cluster's configuration (for a node that is gone for good). Answers once the new configuration is committed.",
    "/api/admin/remove-node",
    (node) => `node ${node} is removed from the configuration`,
  );
}
