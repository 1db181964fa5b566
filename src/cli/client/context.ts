// What every client subcommand shares: the connection options (--node, GAVEL_NODE, discovery, the
// cluster key), finding the cluster and learning all its nodes' URLs from GET /api/cluster, the
// remembered session, and turning any failure into one clear line on stderr and a non-zero exit.
import type { Command } from "commander";
import { InvalidArgumentError, Option } from "commander";
import { parseClusterKeys } from "../../net/cluster-key.js";
import { NetError } from "../../net/errors.js";
import { ApiClient, NodeList, normalizeUrl } from "./api-client.js";
import type { ApiRequest, ApiResponse } from "./api-client.js";
import { ConfigStore } from "./config-store.js";
import type { Session, StoredConfig } from "./config-store.js";
import { discoverNodes, discoveryDefaults } from "./discovery.js";
import { ClientError } from "./errors.js";
import { InputError } from "./money.js";
import { styleFor } from "./output.js";
import type { Style } from "./output.js";
import { clusterDocumentSchema, expectDocument } from "./types.js";
import type { ClusterDocument } from "./types.js";

export interface ConnectionFlags {
  /** Comma-separated API URLs (--node or GAVEL_NODE). */
  node?: string;
  discoveryPort: number;
  /** With discovery: only nodes of this cluster. */
  cluster?: string;
  /** Comma-separated cluster keys (--cluster-key or GAVEL_CLUSTER_KEY). */
  clusterKey?: string;
  json?: boolean;
}

function portNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1 || parsed > 65_535)
    throw new InvalidArgumentError("a UDP port from 1 to 65535");
  return parsed;
}

/** Adds --node, --discovery-port, --cluster and --cluster-key (and --json if asked) to `command`. */
export function withConnectionOptions(
  command: Command,
  options: { json?: string; operator?: boolean } = {},
): Command {
  command
    .addOption(
      new Option(
        "--node <url>",
        "API URL of a node (or several, comma-separated); default: the nodes remembered from the last call, else UDP discovery",
      ).env("GAVEL_NODE"),
    )
    .addOption(
      new Option(
        "--discovery-port <n>",
        "UDP port of the nodes' discovery beacons, listened to when no node is known",
      )
        .env("GAVEL_DISCOVERY_PORT")
        .default(discoveryDefaults.port)
        .argParser(portNumber),
    )
    .addOption(
      new Option("--cluster <name>", "with discovery, only nodes of this cluster").env("GAVEL_CLUSTER"),
    )
    .addOption(
      new Option(
        "--cluster-key <keys>",
        options.operator === true
          ? "the cluster key (sent as Authorization: Bearer; the first of a comma-separated list)"
          : "the cluster key, to check signed beacons and multicast updates (the first of a comma-separated list)",
      ).env("GAVEL_CLUSTER_KEY"),
    );
  if (options.json !== undefined) command.addOption(new Option("--json", options.json));
  return command;
}

/** One command's connection to the cluster, its output streams and the remembered state. */
export class ClientContext {
  readonly store = new ConfigStore();
  readonly config: StoredConfig;
  readonly nodes: NodeList;
  readonly api: ApiClient;
  readonly style: Style;
  private readonly explicit: string[];

  constructor(
    readonly commandName: string,
    readonly flags: ConnectionFlags,
  ) {
    this.config = this.store.load((line) => this.warn(line));
    this.explicit = (flags.node ?? "")
      .split(",")
      .map((url) => url.trim())
      .filter((url) => url !== "")
      .map(normalizeUrl);
    this.nodes = new NodeList([...this.explicit, ...this.config.nodes]);
    this.api = new ApiClient(this.nodes, (line) => this.warn(line));
    this.style = styleFor(process.stdout);
  }

  /** The cluster keys given, or none. */
  get keys(): string[] {
    return this.flags.clusterKey === undefined ? [] : parseClusterKeys(this.flags.clusterKey);
  }

  out(text: string): void {
    process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  warn(line: string): void {
    process.stderr.write(`gavel ${this.commandName}: ${line}\n`);
  }

  /**
   * Finds the cluster (the given or remembered nodes, else discovery), reads GET /api/cluster, and
   * from then on knows every node's URL, the answering node first; they are remembered for next time.
   */
  async connect(): Promise<ClusterDocument> {
    if (this.nodes.size === 0) await this.discover();
    let response: ApiResponse;
    const request: ApiRequest = {
      method: "GET",
      path: "/api/cluster",
      retry: "idempotent",
      what: "finding the cluster",
    };
    try {
      response = await this.api.send(request);
    } catch (error) {
      if (!(error instanceof ClientError) || error.code !== "unreachable") throw error;
      const before = this.nodes.size;
      await this.discover();
      if (this.nodes.size === before) throw error;
      response = await this.api.send(request);
    }
    const view = expectDocument(clusterDocumentSchema, response.body, "cluster view");
    this.learn(view, response.nodeUrl);
    return view;
  }

  /** Every member's URL, the node that answered first and the dead ones last; then remembered. */
  learn(view: ClusterDocument, answeredUrl: string): void {
    const members = [...view.nodes].sort(
      (a, b) => Number(a.status === "dead") - Number(b.status === "dead") || a.id - b.id,
    );
    this.nodes.replace(
      members.map((member) => member.http),
      answeredUrl,
    );
    this.remember();
  }

  /** Saves the known nodes (and any session change) for the next command. */
  remember(change: (config: StoredConfig) => void = () => undefined): void {
    change(this.config);
    this.config.nodes = this.nodes.all();
    try {
      this.store.save(this.config);
    } catch (error) {
      this.warn(`could not save ${this.store.file}: ${(error as Error).message}`);
    }
  }

  /** Listens for beacons and adds the nodes heard. */
  private async discover(): Promise<void> {
    const heard = await discoverNodes({
      port: this.flags.discoveryPort,
      clusterName: this.flags.cluster,
      keys: this.keys,
    }).catch((error: Error) => {
      this.warn(`cannot listen for discovery beacons on UDP ${this.flags.discoveryPort}: ${error.message}`);
      return [];
    });
    const clusters = [...new Set(heard.map((node) => node.clusterName))];
    if (clusters.length > 1) {
      this.warn(
        `heard nodes of clusters ${clusters.join(", ")}; using ${clusters[0]} (choose with --cluster)`,
      );
    }
    const chosen = heard.filter((node) => node.clusterName === clusters[0]);
    this.nodes.add(chosen.map((node) => node.httpUrl));
    if (this.nodes.size === 0) {
      throw new ClientError(
        "no-node",
        `no node found: pass --node URL or set GAVEL_NODE (no discovery beacon heard on UDP port ${this.flags.discoveryPort})`,
        2,
      );
    }
  }

  /** The logged-in session; throws a clear error when there is none or it has expired. */
  session(): Session {
    const session = this.config.session;
    if (session === null) {
      throw new ClientError(
        "not-logged-in",
        "not logged in: run gavel login <name> (or gavel register <name>)",
      );
    }
    if (session.expiresAt !== null && session.expiresAt <= Date.now()) {
      throw new ClientError(
        "session-expired",
        `the session of ${session.name} has expired: run gavel login ${session.name}`,
      );
    }
    return session;
  }

  /** The first cluster key, for operator requests. */
  operatorKey(): string | undefined {
    return this.keys[0];
  }
}

/**
 * Runs a command body: a ClientError or InputError becomes one line on stderr and its exit code;
 * anything else is a bug, reported with its stack.
 */
export async function runClient(commandName: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    if (error instanceof ClientError) {
      process.stderr.write(`gavel ${commandName}: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else if (error instanceof InputError || error instanceof NetError) {
      const code = error instanceof NetError ? `${error.code}: ` : "";
      process.stderr.write(`gavel ${commandName}: ${code}${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(
        `gavel ${commandName}: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  }
}
