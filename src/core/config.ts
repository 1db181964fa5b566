// The protocol's tunables: one Config type, every field with its unit, default and reason, and
// the checks that keep combinations sane. The CLI merges flags over defaultConfig(), validates and
// freezes; nothing below the CLI reads the environment.

export interface Config {
  /** Name of the cluster this node belongs to; beacons of other names are ignored. Default "gavel". */
  clusterName: string;
  /** How often the driver ticks the core, in ms. Timeouts are checked at ticks. Default 10. */
  tickIntervalMs: number;
  /** How often a leader sends appends (heartbeats) to each follower, in ms. Default 100. */
  heartbeatIntervalMs: number;
  /**
   * Base election timeout, in ms: a follower that hears no leader for this long (plus its rank
   * step and jitter) stands for election; a leader that hears from no majority for this long steps
   * down. Default 1000.
   */
  electionTimeoutMs: number;
  /** Extra timeout per rank below the highest voter ID, in ms, so higher IDs time out first. Default 150. */
  electionRankStepMs: number;
  /** Random extra timeout in [0, jitter), in ms, so equal ranks rarely collide. Default 100. */
  electionJitterMs: number;
  /** How often a node broadcasts its beacon, in ms. Default 500. */
  beaconIntervalMs: number;
  /** How long a fresh node listens before it may bootstrap a cluster, in ms. Default 3000. */
  discoveryWindowMs: number;
  /** How many fresh nodes (this one included) must hear each other before one bootstraps. Default 1. */
  expect: number;
  /** How often a node outside the cluster asks to join, in ms. Default 1000. */
  joinRetryMs: number;
  /**
   * How long a higher-ID voter must stay connected and caught up before the leader hands over
   * leadership to it, in ms. Long enough that a flapping link causes no churn. Default 5000.
   */
  transferStableMs: number;
  /** Largest difference between a node's clock and the majority's for it to stand for election, in ms. Default 500. */
  clockSkewMaxMs: number;
  /** A member unheard for this long is removed from the configuration by the leader, in ms. Default 600000 (10 min). */
  deadMemberTimeoutMs: number;
  /** Most entries in one append message. Default 512. */
  appendEntriesMax: number;
  /** Most appends in flight to one follower before the leader waits for acknowledgements. Default 64. */
  inflightAppendsMax: number;
  /**
   * Take a snapshot once at least this many entries were applied since the last one. Default 10000.
   * A snapshot costs time in proportion to the state, so the spacing grows with it: as many entries
   * as the state has records (auctions, bids, users), between this and snapshotEntriesMax.
   */
  snapshotEntriesThreshold: number;
  /**
   * The longest spacing between snapshots, in entries, however large the state. Default 1000000. Up
   * to it, a snapshot costs about as much per entry as the log itself (both write each record once);
   * past it, the cost per entry grows with the state. The log (on disk and in memory) holds up to
   * this many entries.
   */
  snapshotEntriesMax: number;
  /**
   * Applied entries the log keeps in memory, behind the applied index; older ones (until the next
   * snapshot compacts them) are read back from the node's storage when a lagging follower needs them.
   * Default 10000.
   */
  logCacheEntries: number;
  /** Entries kept in the log behind a snapshot, so a slightly lagging follower needs no snapshot. Default 1000. */
  snapshotTrailingEntries: number;
  /** Characters of snapshot data per message. Default 1 MiB. */
  snapshotChunkChars: number;
  /** Most members (voters and learners) in a cluster. Default 64. */
  membersMax: number;
  /** Most client proposals waiting for their entries to commit at a leader; more are refused as unavailable. Default 20000. */
  pendingProposalsMax: number;
  /** How long a node waits for the answer to a client request before saying its outcome is unknown, in ms. Default 5000. */
  requestTimeoutMs: number;
  /**
   * Most client requests waiting at one node; more are refused as unavailable. Bounds each queue
   * a request can wait in: its own clients' requests, requests forwarded to it and parked until it
   * catches up or a hand-over ends, and each auction's queue at its owner. Default 20000.
   */
  pendingRequestsMax: number;
  /**
   * Most client requests one node's API works on at once (admission control). Beyond it a request
   * is answered at once with 503 `overloaded` and Retry-After, instead of queueing: past the load
   * that saturates the cluster, more requests in flight add only latency and memory, so under ten
   * times that load latency stays that of a saturated cluster. 64 admits the largest concurrency
   * `npm run bench` drives at one node; test/node/overload.test.ts drives 512 clients. Default 64.
   */
  requestsInFlightMax: number;
  /** A worker unheard for this long loses its auctions to other workers, in ms. Default 3000. */
  reassignAfterMs: number;
  /** Most commands an owner proposes for one auction in one batch. Default 256. */
  ownerBatchMax: number;
  /** An owner re-proposes a batch not applied within this time, in ms. Default 1000. */
  ownerRetryMs: number;
  /** How often an owner looks for auctions past their closing time, in ms. Default 100. */
  closeCheckIntervalMs: number;
}

export function defaultConfig(): Config {
  return {
    clusterName: "gavel",
    tickIntervalMs: 10,
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
    electionRankStepMs: 150,
    electionJitterMs: 100,
    beaconIntervalMs: 500,
    discoveryWindowMs: 3000,
    expect: 1,
    joinRetryMs: 1000,
    transferStableMs: 5000,
    clockSkewMaxMs: 500,
    deadMemberTimeoutMs: 600_000,
    appendEntriesMax: 512,
    inflightAppendsMax: 64,
    snapshotEntriesThreshold: 10_000,
    snapshotEntriesMax: 1_000_000,
    snapshotTrailingEntries: 1000,
    logCacheEntries: 10_000,
    snapshotChunkChars: 1 << 20,
    membersMax: 64,
    pendingProposalsMax: 20_000,
    requestTimeoutMs: 5000,
    pendingRequestsMax: 20_000,
    requestsInFlightMax: 64,
    reassignAfterMs: 3000,
    ownerBatchMax: 256,
    ownerRetryMs: 1000,
    closeCheckIntervalMs: 100,
  };
}

/** Every problem with `config`, as sentences; empty when it is usable. */
export function configProblems(config: Config): string[] {
  const problems: string[] = [];
  const positive: (keyof Config)[] = [
    "tickIntervalMs",
    "heartbeatIntervalMs",
    "electionTimeoutMs",
    "beaconIntervalMs",
    "joinRetryMs",
    "clockSkewMaxMs",
    "deadMemberTimeoutMs",
    "appendEntriesMax",
    "inflightAppendsMax",
    "snapshotEntriesThreshold",
    "snapshotEntriesMax",
    "snapshotChunkChars",
    "logCacheEntries",
    "membersMax",
    "pendingProposalsMax",
    "expect",
    "requestTimeoutMs",
    "pendingRequestsMax",
    "requestsInFlightMax",
    "reassignAfterMs",
    "ownerBatchMax",
    "ownerRetryMs",
    "closeCheckIntervalMs",
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      problems.push(`${key} must be a positive integer (got ${String(value)})`);
    }
  }
  const nonNegative: (keyof Config)[] = [
    "electionRankStepMs",
    "electionJitterMs",
    "discoveryWindowMs",
    "transferStableMs",
    "snapshotTrailingEntries",
  ];
  for (const key of nonNegative) {
    const value = config[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      problems.push(`${key} must be a non-negative integer (got ${String(value)})`);
    }
  }
  if (config.snapshotEntriesMax < config.snapshotEntriesThreshold) {
    problems.push("snapshotEntriesMax must be at least snapshotEntriesThreshold");
  }
  if (config.electionTimeoutMs <= 2 * config.heartbeatIntervalMs) {
    problems.push(
      "electionTimeoutMs must exceed twice heartbeatIntervalMs, or followers time out between heartbeats",
    );
  }
  if (config.heartbeatIntervalMs < config.tickIntervalMs) {
    problems.push("heartbeatIntervalMs must be at least tickIntervalMs");
  }
  if (config.clusterName.length === 0 || config.clusterName.length > 64) {
    problems.push("clusterName must have 1 to 64 characters");
  }
  return problems;
}

/** Throws with every problem listed unless `config` is usable. */
export function validateConfig(config: Config): Readonly<Config> {
  const problems = configProblems(config);
  if (problems.length > 0) throw new Error(`invalid configuration:\n- ${problems.join("\n- ")}`);
  return Object.freeze({ ...config });
}
