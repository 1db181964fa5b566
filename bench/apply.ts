// The replicated state machine in process: what applying a bid entry costs every node, what a
// snapshot of the result costs (its text per bid, the time to serialize and to restore it), and what
// memory a bid takes in the state and its log entry takes as parsed objects. For the
// edit-measure loop of the apply path and the snapshot format; `npm run bench` remains the source of
// BENCHMARKS.md.
//
//   node dist/bench/apply.js [bids]    (after npm run build; default 300,000 bids over 1,000 auctions)
import { ClusterState } from "../src/core/cluster/state.js";
import type { CreateAuctionBody, LogEntry } from "../src/core/cluster/types.js";
import { countArgs } from "./args.js";
import { heapUsed } from "./heap.js";
import { createCommand } from "./engine.js";

const auctions = 1000;
const [bids] = countArgs("node dist/bench/apply.js [bids]", ["bids"], [300_000]) as [number];

/** The engine bench's auction, as a log entry carries it (stamped by its entry). */
function createBody(auctionId: string): CreateAuctionBody {
  const { timestampMs: _stamp, ...body } = createCommand(auctionId);
  return body;
}

const state = new ClusterState();
let index = 0;
for (let auction = 0; auction < auctions; auction++) {
  const data = {
    kind: "create" as const,
    owner: 1 + (auction % 2),
    command: createBody(`auction-${auction}`),
  };
  state.apply({ index: ++index, term: 1, timestampMs: 1, data });
}
const before = heapUsed();
// The bench's spread load: 64 bidders, each bid one above its auction's price. Each entry goes
// through JSON, as entries reach a node from the wire or its disk.
const entries: LogEntry[] = [];
const prices = new Array<number>(auctions).fill(0);
for (let bid = 0; bid < bids; bid++) {
  const auction = (bid * 7919) % auctions;
  prices[auction] = prices[auction]! + 1;
  const command = {
    type: "place-bid" as const,
    auctionId: `auction-${auction}`,
    bidder: `bidder-${bid % 64}`,
    bidId: `${bid.toString(36)}-${(bid * 2654435761) % 4294967296}`,
    amount: prices[auction],
    max: null,
  };
  const entry = {
    index: index + 1 + bid,
    term: 1,
    timestampMs: 2 + bid,
    data: { kind: "auction", owner: 1 + (auction % 2), epoch: 1, ref: `r${bid}`, command },
  };
  entries.push(JSON.parse(JSON.stringify(entry)) as LogEntry);
}

const startedAt = performance.now();
for (const entry of entries) state.apply(entry);
const applyMs = performance.now() - startedAt;
// What the entries hold beyond what the state shares with them (strings), then the state alone.
const withEntries = heapUsed();
entries.length = 0;
const stateOnly = heapUsed();
const serializedAt = performance.now();
const text = state.serialize();
const serializeMs = performance.now() - serializedAt;
const restoredAt = performance.now();
ClusterState.restore(text);
const restoreMs = performance.now() - restoredAt;
console.log(
  `bids=${bids} apply_us_per_entry=${((applyMs * 1000) / bids).toFixed(2)} ` +
    `snapshot_chars_per_bid=${(text.length / bids).toFixed(0)} serialize_ms=${serializeMs.toFixed(0)} ` +
    `restore_ms=${restoreMs.toFixed(0)} state_bytes_per_bid=${((stateOnly - before) / bids).toFixed(0)} ` +
    `log_entry_bytes=${((withEntries - stateOnly) / bids).toFixed(0)}`,
);
