// `gavel node`: flags (each also an environment variable GAVEL_<NAME>) merged over the defaults,
// validated, then one node started: its data dir, peer and discovery sockets, and the HTTP API.
// Stops cleanly on SIGINT/SIGTERM; a problem at start is one clear line and exit code 1.
import { Command, InvalidArgumentError, Option } from "commander";
import path from "node:path";
import { defaultConfig } from "../core/config.js";
import type { NodeId } from "../core/cluster/types.js";
import { HttpApi } from "../api/http-api.js";
import { GavelNode } from "../node/gavel-node.js";
import { createLogger } from "../node/logger.js";
import { parseAddress } from "../net/address.js";
import { KEY_BYTES_MIN, parseClusterKeys } from "../net/cluster-key.js";
import { checkMulticastGroup, multicastDefaults } from "../net/multicast.js";
import { readFileSync } from "node:fs";
import { forceNewCluster, parseBackup, restoreBackup } from "../node/recovery.js";
import type { Self } from "../node/recovery.js";
import type { Storage } from "../node/ports.js";
import type { Logger } from "../node/logger.js";

export interface NodeFlags {
  id?: NodeId;
  host: string;
  port: number;
  httpPort: number;
  discoveryPort: number;
  cluster: string;
  dataDir?: string;
  expect: number;
  peers: string[];
  logLevel: string;
  restore?: string;
  forceNewCluster: boolean;
  rateLimit: number;
  inFlightMax: number;
  snapshotEntries: number;
  logCacheEntries: number;
  unsafeNoFsync: boolean;
  unsafeNoFsyncWait: boolean;
  clusterKey?: string[];
  multicastGroup: string;
  multicastPort: number;
}

function integer(min: number, max: number, what: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}`);
    }
    return parsed;
  };
}

function peerList(value: string): string[] {
  const peers = value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  for (const peer of peers) {
    const parsed = parseAddress(peer);
    if (!parsed.ok) throw new InvalidArgumentError(`${peer}: ${parsed.error.message}`);
  }
  return peers;
}

const port = (what: string) => integer(0, 65_535, what);

function clusterKeys(value: string): string[] {
  const keys = parseClusterKeys(value);
  if (keys.length === 0) throw new InvalidArgumentError("give at least one key");
  const short = keys.find((key) => Buffer.byteLength(key) < KEY_BYTES_MIN);
  if (short !== undefined) {
    throw new InvalidArgumentError(
      `each key needs at least ${KEY_BYTES_MIN} bytes (e.g. openssl rand -base64 24)`,
    );
  }
  return keys;
}

function multicastGroup(value: string): string {
  try {
    checkMulticastGroup(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

/** The `node` subcommand. */
export function nodeCommand(): Command {
  return new Command("node")
    .description(
      "run one gavel node (a second one on this machine: gavel node --id 2 --port 7402 --http-port 8082)",
    )
    .addOption(
      new Option(
        "--id <n>",
        "this node's id, a positive integer; the highest live id leads (default: generated once and kept in the data dir)",
      )
        .env("GAVEL_ID")
        .argParser(integer(1, Number.MAX_SAFE_INTEGER, "--id")),
    )
    .addOption(
      new Option("--host <address>", "IPv4 address to bind and announce")
        .env("GAVEL_HOST")
        .default("127.0.0.1"),
    )
    .addOption(
      new Option("--port <n>", "TCP port for the other nodes")
        .env("GAVEL_PORT")
        .default(7401)
        .argParser(port("--port")),
    )
    .addOption(
      new Option("--http-port <n>", "TCP port of the client API and web page")
        .env("GAVEL_HTTP_PORT")
        .default(8080)
        .argParser(port("--http-port")),
    )
    .addOption(
      new Option("--discovery-port <n>", "UDP port for discovery beacons, shared by every node on one host")
        .env("GAVEL_DISCOVERY_PORT")
        .default(7400)
        .argParser(port("--discovery-port")),
    )
    .addOption(
      new Option("--cluster <name>", "name of the cluster to find or form")
        .env("GAVEL_CLUSTER")
        .default("gavel"),
    )
    .addOption(
      new Option("--data-dir <path>", "where the node keeps its data (default: ./.gavel/node-<port>)").env(
        "GAVEL_DATA_DIR",
      ),
    )
    .addOption(
      new Option(
        "--expect <n>",
        "how many fresh nodes must hear each other before the highest-id one forms a cluster",
      )
        .env("GAVEL_EXPECT")
        .default(1)
        .argParser(integer(1, 1000, "--expect")),
    )
    .addOption(
      new Option(
        "--peers <host:port,...>",
        "static peers (their --port) to send beacons to where broadcast does not reach",
      )
        .env("GAVEL_PEERS")
        .default([])
        .argParser(peerList),
    )
    .addOption(
      new Option(
        "--cluster-key <keys>",
        "shared secret(s), comma-separated: every message between nodes is signed with the first and checked against all (add a key everywhere, then make it first, then drop the old one). Without one anyone on the network can join.",
      )
        .env("GAVEL_CLUSTER_KEY")
        .argParser(clusterKeys),
    )
    .addOption(
      new Option("--multicast-group <address>", "multicast group of the UDP auction updates")
        .env("GAVEL_MULTICAST_GROUP")
        .default(multicastDefaults.group)
        .argParser(multicastGroup),
    )
    .addOption(
      new Option("--multicast-port <n>", "UDP port of the auction updates")
        .env("GAVEL_MULTICAST_PORT")
        .default(multicastDefaults.port)
        .argParser(integer(1, 65_535, "--multicast-port")),
    )
    .addOption(
      new Option("--rate-limit <n>", "client requests per second allowed per token (per address without one)")
        .env("GAVEL_RATE_LIMIT")
        .default(500)
        .argParser(integer(1, 1_000_000, "--rate-limit")),
    )
    .addOption(
      new Option(
        "--in-flight-max <n>",
        "client requests this node works on at once; more are answered 503 overloaded with Retry-After",
      )
        .env("GAVEL_IN_FLIGHT_MAX")
        .default(defaultConfig().requestsInFlightMax)
        .argParser(integer(1, 1_000_000, "--in-flight-max")),
    )
    .addOption(
      new Option(
        "--snapshot-entries <n>",
        "fewest log entries applied between two snapshots; more as the state grows (as many as it has records, up to 1000000 or this, whichever is more)",
      )
        .env("GAVEL_SNAPSHOT_ENTRIES")
        .default(defaultConfig().snapshotEntriesThreshold)
        .argParser(integer(100, 1_000_000_000, "--snapshot-entries")),
    )
    .addOption(
      new Option(
        "--log-cache-entries <n>",
        "applied log entries kept in memory; older ones (until the next snapshot) are read from the data dir when a lagging follower needs them",
      )
        .env("GAVEL_LOG_CACHE_ENTRIES")
        .default(defaultConfig().logCacheEntries)
        .argParser(integer(1, 1_000_000_000, "--log-cache-entries")),
    )
    .addOption(
      new Option(
        "--restore <file>",
        "start a new cluster from a backup (gavel backup); needs an empty data dir",
      ).env("GAVEL_RESTORE"),
    )
    .addOption(
      new Option(
        "--unsafe-no-fsync",
        "UNSAFE, for measuring what durability costs: never fsync the log; a killed process loses nothing, but an OS crash or power cut loses acknowledged writes",
      )
        .env("GAVEL_UNSAFE_NO_FSYNC")
        .default(false),
    )
    .addOption(
      new Option(
        "--unsafe-no-fsync-wait",
        "UNSAFE, for measuring what waiting for the disk costs: fsync the log but send and answer without waiting for it; a killed process loses nothing, but an OS crash or power cut loses acknowledged writes",
      )
        .env("GAVEL_UNSAFE_NO_FSYNC_WAIT")
        .conflicts("unsafeNoFsync")
        .default(false),
    )
    .addOption(
      new Option(
        "--force-new-cluster",
        "LAST RESORT after a majority is lost for good: make this node a one-node cluster from its own data (entries it could not know were committed are kept; what other nodes held beyond them is lost)",
      ).default(false),
    )
    .addOption(
      new Option("--log-level <level>", "log level")
        .env("GAVEL_LOG_LEVEL")
        .default("info")
        .choices(["debug", "info", "warn", "error"]),
    )
    .action(async (flags: NodeFlags) => {
      await runNode(flags);
    });
}

/** Starts a node from flags and keeps it running until a signal. */
export async function runNode(flags: NodeFlags): Promise<void> {
  const logger = createLogger(flags.logLevel);
  const config = {
    ...defaultConfig(),
    clusterName: flags.cluster,
    expect: flags.expect,
    requestsInFlightMax: flags.inFlightMax,
    snapshotEntriesThreshold: flags.snapshotEntries,
    snapshotEntriesMax: Math.max(defaultConfig().snapshotEntriesMax, flags.snapshotEntries),
    logCacheEntries: flags.logCacheEntries,
  };
  const dataDir = path.resolve(flags.dataDir ?? path.join(".gavel", `node-${flags.port}`));
  let node: GavelNode | null = null;
  let api: HttpApi | null = null;
  try {
    const keys = flags.clusterKey ?? [];
    api = await HttpApi.start(() => node, {
      host: flags.host,
      port: flags.httpPort,
      logger,
      ratePerSecond: flags.rateLimit,
      requestsInFlightMax: config.requestsInFlightMax,
      adminKeys: keys,
    });
    node = await GavelNode.start({
      nodeId: flags.id,
      host: flags.host,
      port: flags.port,
      httpUrl: api.url,
      discoveryPort: flags.discoveryPort,
      dataDir,
      unsafeNoFsync: flags.unsafeNoFsync,
      unsafeNoFsyncWait: flags.unsafeNoFsyncWait,
      peers: flags.peers,
      keys,
      multicastGroup: flags.multicastGroup,
      multicastPort: flags.multicastPort,
      config,
      logger,
      prepare: (storage, self) => prepareData(flags, storage, self, logger),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    logger.error({ err: error }, `could not start: ${message}`);
    process.stderr.write(`gavel node: could not start: ${message}\n`);
    await api?.close();
    process.exitCode = 1;
    return;
  }
  api.attach(node);
  process.stderr.write(
    `gavel node ${node.id} (pid ${process.pid}): peers at ${node.address}, API at ${api.url}, data in ${dataDir}\n`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      process.stderr.write("gavel node: stopping now, without handing over\n");
      process.exit(1);
    }
    stopping = true;
    logger.child({ node: node?.id }).info({ signal }, "stopping: handing over first");
    process.stderr.write(
      `gavel node ${node?.id}: ${signal}: handing over, then stopping (again to stop at once)\n`,
    );
    await node?.shutdown();
    await api?.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  // Started by `gavel demo`: standard input is a pipe from the demo, which closes when the demo
  // ends in any way (even SIGKILL), and the node then stops too instead of living on unseen.
  if (process.env["GAVEL_STOP_WITH_PARENT"] === "1") {
    process.stdin.on("end", () => void stop("the demo ended"));
    process.stdin.resume();
  }
}

/** --restore and --force-new-cluster: rewrite the data dir before the node starts. */
function prepareData(flags: NodeFlags, storage: Storage, self: Self, logger: Logger): void {
  if (flags.restore !== undefined && flags.forceNewCluster) {
    throw new Error("--restore and --force-new-cluster cannot be used together");
  }
  if (flags.restore !== undefined) {
    const backup = parseBackup(JSON.parse(readFileSync(flags.restore, "utf8")) as unknown);
    const clusterId = restoreBackup(storage, self, backup);
    logger.warn(
      { from: flags.restore, clusterId, appliedIndex: backup.appliedIndex },
      "restored a backup into a new cluster",
    );
    process.stderr.write(
      `gavel node: restored ${flags.restore} (index ${backup.appliedIndex}) as a new cluster ${clusterId}; add nodes to it with fresh data dirs\n`,
    );
  }
  if (flags.forceNewCluster) {
    const result = forceNewCluster(storage, self);
    const warning =
      `FORCED A NEW ONE-NODE CLUSTER from this node's data (up to index ${result.lastIndex}, term ${result.term}). ` +
      `The last ${result.entriesKept} log entries were kept although this node could not know they were committed; ` +
      `anything the other nodes held beyond this node's log is lost. Other nodes must join again with fresh data dirs or as learners.`;
    logger.warn({ ...result }, warning);
    process.stderr.write(`gavel node: WARNING: ${warning}\n`);
  }
}
