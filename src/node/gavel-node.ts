// One gavel node process: the data dir, the TCP peer transport, UDP discovery and the driver,
// ticking the core on the real clock and feeding it everything that arrives. Inputs that arrive
// in the same turn of the event loop are stepped together, so their writes share one fsync.
import { randomBytes } from "node:crypto";
import { validateConfig } from "../core/config.js";
import type { Config } from "../core/config.js";
import { SeededRandom } from "../core/random.js";
import type { NodeStatus } from "../core/cluster/node.js";
import type { ClusterState } from "../core/cluster/state.js";
import type {
  ClientRequest,
  ClientResult,
  Identity,
  Input,
  NodeEvent,
  NodeId,
} from "../core/cluster/types.js";
import type { Storage } from "./ports.js";
import { openDataDir } from "../disk/sqlite-storage.js";
import type { SqliteStorage } from "../disk/sqlite-storage.js";
import { TcpTransport } from "../net/tcp-transport.js";
import { UdpDiscovery } from "../net/udp-discovery.js";
import { BeaconRelay } from "../net/static-peers.js";
import { ClusterKeyring } from "../net/cluster-key.js";
import { UpdatePublisher } from "../net/update-publisher.js";
import { NodeDriver } from "./driver.js";
import type { DriverListener } from "./driver.js";
import type { Logger } from "./logger.js";
import { logContext } from "./logger.js";
import { NodeMetrics } from "./metrics.js";

export interface NodeProcessOptions {
  /** This node's id; when absent, the one in the data dir, or a new random one. */
  nodeId?: NodeId;
  host: string;
  /** TCP port for peers (0 picks a free one). */
  port: number;
  /** The client API's base URL, announced to peers (the HTTP server is started by the caller). */
  httpUrl: string;
  discoveryPort: number;
  dataDir: string;
  /** Never fsync the log (see DataDirOptions.unsafeNoFsync); the node warns at start. Default false. */
  unsafeNoFsync?: boolean;
  /** Fsync the log without waiting for it (see DataDirOptions.unsafeNoFsyncWait); the node warns at start. */
  unsafeNoFsyncWait?: boolean;
  /** Static peers (host:port of their peer port), sent beacons over TCP where broadcast does not reach. */
  peers?: readonly string[];
  /** Protocol settings; clusterName and expect among them. */
  config: Config;
  /**
   * Cluster keys: the first signs every message, beacon and update, all verify (rotation). None: nothing
   * is signed or checked, and the node warns loudly at start. Never logged; only key ids are.
   */
  keys?: readonly string[];
  /** Multicast group of auction updates. Default 239.255.77.1. */
  multicastGroup?: string;
  /** UDP port of the update group. Default 7410. */
  multicastPort?: number;
  /** Runs once the data dir is open and the peer port bound, before the node starts (restore, recovery). */
  prepare?: (storage: Storage, self: { identity: Identity; address: string; httpUrl: string }) => void;
  logger: Logger;
}

/** Listens to what the node does; every hook is optional. */
export type NodeListener = Pick<DriverListener, "applied">;

export class GavelNode {
  private readonly driver: NodeDriver;
  private queue: Input[] = [];
  private flushScheduled = false;
  /** The time of the last tick stepped. */
  private lastTickMs = 0;
  private readonly ticker: NodeJS.Timeout;
  private readonly waiting = new Map<string, (result: ClientResult) => void>();
  private readonly listeners: NodeListener[] = [];
  private readonly eventListeners: ((event: NodeEvent) => void)[] = [];
  private requestCounter = 0;
  private stopped = false;
  /** Set while the node hands over before stopping: it takes no new client requests. */
  private leaving = false;
  readonly metrics: NodeMetrics;

  private constructor(
    readonly config: Readonly<Config>,
    private readonly storage: SqliteStorage,
    private readonly transport: TcpTransport,
    private readonly discovery: UdpDiscovery,
    relay: BeaconRelay,
    private readonly publisher: UpdatePublisher,
    readonly logger: Logger,
    options: NodeProcessOptions,
    identity: { nodeId: NodeId; incarnation: string },
  ) {
    this.metrics = new NodeMetrics({
      status: () => this.status(),
      adapterDrops: () => this.adapterDrops(),
      driverCounts: () => this.driver.counts(),
    });
    this.driver = new NodeDriver(
      {
        config,
        identity,
        address: transport.address,
        httpUrl: options.httpUrl,
        random: new SeededRandom(randomBytes(4).readUInt32LE(0)),
      },
      { storage, transport, discovery: relay, clock: { nowMs: () => Date.now() } },
      {
        applied: (entry, result) => {
          this.metrics.applied(entry, result);
          this.publisher.applied(entry, result);
          for (const listener of this.listeners) listener.applied?.(entry, result);
        },
        responded: (requestId, result) => this.settle(requestId, result),
        batchDone: () => this.batchDone(),
        event: (event) => {
          this.metrics.event(event);
          this.log(event);
          for (const listener of this.eventListeners) listener(event);
        },
      },
    );
    this.ticker = setInterval(() => this.enqueue({ type: "tick", nowMs: Date.now() }), config.tickIntervalMs);
    this.enqueue({ type: "tick", nowMs: Date.now() });
  }

  /** Opens the data dir and the sockets, then starts the node. Throws a coded error if one cannot be opened. */
  static async start(options: NodeProcessOptions): Promise<GavelNode> {
    const config = validateConfig(options.config);
    const keys = options.keys ?? [];
    // Checked before anything is opened: an unusable key stops the node with a coded error.
    const keyring = keys.length > 0 ? ClusterKeyring.of(keys) : null;
    let metrics: NodeMetrics | null = null;
    const { storage, identity, created } = openDataDir({
      dir: options.dataDir,
      clusterName: config.clusterName,
      nodeId: options.nodeId,
      onSaveMs: (ms) => metrics?.write(ms),
      syncInBackground: true,
      unsafeNoFsync: options.unsafeNoFsync === true,
      unsafeNoFsyncWait: options.unsafeNoFsyncWait === true,
    });
    const logger = options.logger.child({ node: identity.nodeId });
    let node: GavelNode | null = null;
    let relay: BeaconRelay | null = null;
    const deliver = (input: Input) => node?.enqueue(input);
    let transport: TcpTransport | null = null;
    let udp: UdpDiscovery | null = null;
    let publisher: UpdatePublisher | null = null;
    try {
      transport = await TcpTransport.start({
        host: options.host,
        port: options.port,
        logger,
        keys,
        onMessage: (message) => deliver({ type: "message", message }),
        onBeacon: (beacon) => {
          relay?.heard(beacon);
          deliver({ type: "beacon", beacon });
        },
      });
      udp = await UdpDiscovery.start({
        host: options.host,
        discoveryPort: options.discoveryPort,
        logger,
        keys,
        onBeacon: (beacon) => deliver({ type: "beacon", beacon }),
      });
      relay = new BeaconRelay(udp, transport, options.peers ?? []);
      publisher = await UpdatePublisher.start({
        host: options.host,
        group: options.multicastGroup,
        port: options.multicastPort,
        nodeId: identity.nodeId,
        clusterName: config.clusterName,
        keys,
        logger,
      });
      options.prepare?.(storage, { identity, address: transport.address, httpUrl: options.httpUrl });
      node = new GavelNode(config, storage, transport, udp, relay, publisher, logger, options, identity);
      metrics = node.metrics;
      logger.info(
        {
          dataDir: options.dataDir,
          created,
          address: transport.address,
          broadcast: udp.broadcastAddress,
          peers: options.peers,
          updates: `${publisher.group}:${publisher.port}`,
        },
        "node started",
      );
      if (options.unsafeNoFsync === true) {
        logger.warn(
          {},
          "UNSAFE: --unsafe-no-fsync: the log is never fsynced; an OS crash or power cut loses acknowledged writes. For measurements only.",
        );
      }
      if (options.unsafeNoFsyncWait === true && options.unsafeNoFsync !== true) {
        logger.warn(
          {},
          "UNSAFE: --unsafe-no-fsync-wait: nothing waits for the log's fsync; an OS crash or power cut loses acknowledged writes. For measurements only.",
        );
      }
      if (keyring === null) {
        logger.warn(
          {},
          "NO CLUSTER KEY: messages, beacons and updates are not signed; anyone who reaches these ports can join, vote or lead. Set --cluster-key (or GAVEL_CLUSTER_KEY) on every node.",
        );
      } else {
        logger.info({ signingKeyId: keyring.signingKeyId, keyIds: keyring.keyIds }, "cluster keys set");
      }
      return node;
    } catch (error) {
      // Nothing half-started stays behind: the caller can report the error and exit.
      await Promise.allSettled([transport?.close(), udp?.close(), publisher?.close()]);
      storage.close();
      throw error;
    }
  }

  get id(): NodeId {
    return this.driver.node.id;
  }

  get address(): string {
    return this.transport.address;
  }

  status(): NodeStatus {
    return this.driver.node.status();
  }

  /** The replicated state as applied here; read-only. */
  state(): ClusterState {
    return this.driver.node.applied;
  }

  onApplied(listener: NodeListener): void {
    this.listeners.push(listener);
  }

  /** Hears the node's notable events (leader changes, elections, ...). */
  onEvent(listener: (event: NodeEvent) => void): void {
    this.eventListeners.push(listener);
  }

  /**
   * Replaces the cluster keys while the node runs, for a rotation without restarts or elections:
   * the first signs, all verify. Throws InvalidClusterKeyError, changing nothing, if one is unusable.
   */
  setKeys(keys: readonly string[]): void {
    const keyring = keys.length > 0 ? ClusterKeyring.of(keys) : null;
    this.transport.setKeys(keys);
    this.discovery.setKeys(keys);
    this.publisher.setKeys(keys);
    if (keyring === null) {
      this.logger.warn({}, "NO CLUSTER KEY: the node no longer signs or checks anything");
      return;
    }
    this.logger.info({ signingKeyId: keyring.signingKeyId, keyIds: keyring.keyIds }, "cluster keys changed");
  }

  /** Sends a client request into the cluster; resolves with its answer (the core times requests out). */
  request(request: ClientRequest): Promise<ClientResult> {
    if (this.stopped || this.leaving) {
      return Promise.resolve({
        ok: false,
        reason: "unavailable",
        detail: "the node is stopping",
        leaderId: null,
      });
    }
    return this.send(request);
  }

  private send(request: ClientRequest): Promise<ClientResult> {
    const requestId = `r${this.requestCounter++}`;
    return new Promise((resolve) => {
      this.waiting.set(requestId, resolve);
      this.enqueue({ type: "request", requestId, request });
    });
  }

  private settle(requestId: string, result: ClientResult): void {
    const resolve = this.waiting.get(requestId);
    if (resolve === undefined) return;
    this.waiting.delete(requestId);
    resolve(result);
  }

  private enqueue(input: Input): void {
    if (this.stopped) return;
    this.queue.push(input);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * Steps everything that arrived at once: one batch, one fsync. While a batch waits for its fsync,
   * what arrives meanwhile queues up and goes as the next batch once that one is done.
   */
  private flush(): void {
    this.flushScheduled = false;
    if (this.stopped || this.driver.busy) return;
    const batch = this.queue;
    this.queue = [];
    // The core's clock is the ticks': ticks that waited (for the last batch's fsync) are brought to
    // now, and a batch without one starts with one when the clock moved, so that the leader stamps
    // entries with the time they are appended, never behind the clock the API stamps requests with
    // (an auction created "now" must take a bid sent right after its creation was acknowledged).
    const nowMs = Date.now();
    let ticked = false;
    for (const input of batch) {
      if (input.type !== "tick") continue;
      input.nowMs = nowMs;
      ticked = true;
    }
    if (!ticked && nowMs > this.lastTickMs) {
      batch.unshift({ type: "tick", nowMs });
      ticked = true;
    }
    if (ticked) this.lastTickMs = nowMs;
    this.driver.deliver(batch);
  }

  private batchDone(): void {
    // The batch is applied: the publisher can number and describe its events.
    this.publisher.flush(this.state());
    logContext.term = this.driver.node.term;
    if (this.queue.length > 0 && !this.flushScheduled && !this.stopped) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Messages and beacons dropped by the adapters so far, by reason. */
  adapterDrops(): Record<string, number> {
    const drops: Record<string, number> = { ...this.transport.stats().dropped };
    for (const [reason, count] of Object.entries(this.discovery.stats().dropped))
      drops[`beacon-${reason}`] = count;
    for (const [reason, count] of Object.entries(this.publisher.stats().dropped))
      drops[`update-${reason}`] = count;
    return drops;
  }

  /**
   * Whether this node can serve: a member of a cluster, following a known leader it heard from
   * recently, with everything it knows to be committed applied. Null when ready, else why not.
   */
  notReadyReason(): string | null {
    const status = this.status();
    if (status.clusterId === null || status.membership === "none") return "not a member of a cluster";
    if (status.leaderId === null) return "no leader known";
    if (status.leaderId !== this.id) {
      const heard = status.lastHeardMs[status.leaderId] ?? -Infinity;
      if (status.nowMs - heard > this.config.electionTimeoutMs)
        return "the leader has not been heard from lately";
    }
    if (status.appliedIndex < status.commitIndex)
      return `applying: ${status.commitIndex - status.appliedIndex} entries behind`;
    return null;
  }

  /**
   * Stops gracefully: takes no new requests, hands leadership over if it leads, hands its auctions
   * to other workers, lets requests in progress finish, then stops. Bounded by `timeoutMs`.
   */
  async shutdown(timeoutMs = 10_000): Promise<void> {
    if (this.stopped || this.leaving) return this.stop();
    this.leaving = true;
    const deadline = Date.now() + timeoutMs;
    const until = async (done: () => boolean) => {
      while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    this.enqueue({ type: "leave" });
    await until(() => this.status().role !== "leader" || this.status().members.length <= 1);
    const owned = () => this.state().activeByOwner.get(this.id)?.size ?? 0;
    if (owned() > 0 && this.status().members.length > 1) {
      const drained = await this.send({ kind: "drain", id: this.id });
      if (drained.ok) await until(() => owned() === 0);
    }
    await until(() => this.waiting.size === 0);
    this.logger.info({ handedOver: this.status().role !== "leader", auctionsLeft: owned() }, "handed over");
    await this.stop();
  }

  private log(event: NodeEvent): void {
    const term = this.driver.node.term;
    if (event.type === "dropped") {
      this.logger.debug({ term, event }, "message dropped");
    } else if (event.type === "cluster-conflict" || event.type === "join-refused") {
      this.logger.warn({ term, event }, event.type);
    } else {
      this.logger.info({ term, event }, event.type);
    }
  }

  /** Stops ticking, answers waiting clients, and closes sockets and the data dir. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.ticker);
    for (const resolve of this.waiting.values()) {
      resolve({ ok: false, reason: "outcome-unknown", detail: "the node stopped", leaderId: null });
    }
    this.waiting.clear();
    await Promise.allSettled([this.transport.close(), this.discovery.close(), this.publisher.close()]);
    this.storage.close();
    this.logger.info({}, "node stopped");
  }
}
