// Prometheus metrics of one node (prom-client, a registry of its own so several nodes can live in
// one process in tests). Gauges are read from the node's status when scraped; counters are fed
// from the events, applied entries and answers that pass through the node, or, for batches and
// peer messages, caught up at each scrape from counts the driver keeps (cumulativeCounter).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { NodeStatus } from "../core/cluster/node.js";
import type { ApplyResult } from "../core/cluster/state.js";
import type { LogEntry, NodeEvent } from "../core/cluster/types.js";
import type { DriverCounts } from "./driver.js";

/** What the metrics read at scrape time. */
export interface MetricsSource {
  status(): NodeStatus;
  /** Messages and beacons dropped by the adapters, by reason (cumulative). */
  adapterDrops(): Record<string, number>;
  /** Batches stepped and peer messages received and sent by the driver (cumulative). */
  driverCounts(): DriverCounts;
}

/**
 * A counter whose value lives elsewhere (a cumulative count kept where the work happens, with no
 * metric call on the hot path): each scrape adds what the count grew by since the last one.
 */
function cumulativeCounter<Label extends string>(
  options: { name: string; help: string; labelNames?: readonly Label[]; registers: Registry[] },
  read: () => { labels: Partial<Record<Label, string>>; value: number }[],
): Counter<Label> {
  const last = new Map<string, number>();
  return new Counter<Label>({
    ...options,
    collect() {
      for (const { labels, value } of read()) {
        const key = JSON.stringify(labels);
        const grown = value - (last.get(key) ?? 0);
        last.set(key, value);
        if (grown > 0) this.inc(labels, grown);
      }
    },
  });
}

const roles = ["discovering", "joining", "follower", "pre-candidate", "candidate", "leader"] as const;

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly bidsAccepted: Counter;
  private readonly bidsRejected: Counter<"reason">;
  private readonly coreDrops: Counter<"reason">;
  private readonly elections: Counter;
  private readonly transfers: Counter;
  private readonly reassignments: Counter;
  private readonly problems: Counter<"status" | "code">;
  private readonly writeSeconds: Histogram;

  constructor(source: MetricsSource) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: (status: NodeStatus) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(source.status()));
        },
      });
    gauge("gavel_term", "Current term", (status) => status.term);
    gauge("gavel_commit_index", "Highest log index known committed", (status) => status.commitIndex);
    gauge(
      "gavel_applied_index",
      "Highest log index applied to the state machine",
      (status) => status.appliedIndex,
    );
    gauge(
      "gavel_apply_lag",
      "Committed entries not applied yet",
      (status) => status.commitIndex - status.appliedIndex,
    );
    gauge(
      "gavel_log_entries_in_memory",
      "Log entries held in memory (the newest; older ones since the snapshot are read from disk)",
      (status) => status.logEntriesHeld,
    );
    gauge("gavel_is_leader", "1 on the leader, 0 elsewhere", (status) => (status.role === "leader" ? 1 : 0));
    new Gauge({
      name: "gavel_role",
      help: "1 for this node's current role",
      labelNames: ["role"],
      registers,
      collect() {
        const current = source.status().role;
        for (const role of roles) this.set({ role }, role === current ? 1 : 0);
      },
    });
    new Gauge({
      name: "gavel_adapter_messages_dropped",
      help: "Messages and beacons the network adapters dropped, by reason",
      labelNames: ["reason"],
      registers,
      collect() {
        for (const [reason, count] of Object.entries(source.adapterDrops())) this.set({ reason }, count);
      },
    });
    cumulativeCounter(
      {
        name: "gavel_batches_total",
        help: "Batches the node stepped: inputs that arrived together, stepped at once, with at most one durable write",
        registers,
      },
      () => [{ labels: {}, value: source.driverCounts().batches }],
    );
    cumulativeCounter(
      {
        name: "gavel_batch_inputs_total",
        help: "Inputs (peer messages, client requests, ticks, beacons) in those batches",
        registers,
      },
      () => [{ labels: {}, value: source.driverCounts().inputs }],
    );
    cumulativeCounter(
      {
        name: "gavel_peer_messages_total",
        help: "Peer messages this node stepped (received) and handed to the transport (sent), by type",
        labelNames: ["direction", "type"],
        registers,
      },
      () => {
        const counts = source.driverCounts();
        const each = (direction: string, byType: Record<string, number>) =>
          Object.entries(byType).map(([type, value]) => ({ labels: { direction, type }, value }));
        return [...each("received", counts.received), ...each("sent", counts.sent)];
      },
    );
    this.bidsAccepted = new Counter({
      name: "gavel_bids_accepted_total",
      help: "Bids this node's clients had accepted",
      registers,
    });
    this.bidsRejected = new Counter({
      name: "gavel_bids_rejected_total",
      help: "Bids this node's clients had rejected, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.coreDrops = new Counter({
      name: "gavel_messages_dropped_total",
      help: "Peer messages the protocol dropped, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.elections = new Counter({
      name: "gavel_elections_total",
      help: "Elections this node started",
      registers,
    });
    this.transfers = new Counter({
      name: "gavel_leadership_transfers_total",
      help: "Leadership hand-overs this node started",
      registers,
    });
    this.reassignments = new Counter({
      name: "gavel_reassignments_total",
      help: "Auctions moved to another worker (applied here)",
      registers,
    });
    this.problems = new Counter({
      name: "gavel_api_problems_total",
      help: "Client requests this node's API refused or failed (problem+json answers), by status and code",
      labelNames: ["status", "code"],
      registers,
    });
    this.writeSeconds = new Histogram({
      name: "gavel_sqlite_write_seconds",
      help: "Duration of one durable write (a batch's transaction and its fsync)",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers,
    });
  }

  event(event: NodeEvent): void {
    if (event.type === "election-started") this.elections.inc();
    else if (event.type === "transfer-started") this.transfers.inc();
    else if (event.type === "dropped") this.coreDrops.inc({ reason: event.reason });
  }

  applied(_entry: LogEntry, result: ApplyResult): void {
    if (result.kind === "assign" && result.applied) this.reassignments.inc();
  }

  bid(outcome: { ok: true } | { ok: false; reason: string }): void {
    if (outcome.ok) this.bidsAccepted.inc();
    else this.bidsRejected.inc({ reason: outcome.reason });
  }

  /** The API answered a problem (invalid body, unknown auction, overloaded, ...). */
  problem(status: number, code: string): void {
    this.problems.inc({ status: String(status), code });
  }

  write(ms: number): void {
    this.writeSeconds.observe(ms / 1000);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
