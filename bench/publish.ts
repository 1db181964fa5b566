// What publishing multicast updates costs an owner, in process: batches of bid updates sent one to a
// datagram (`publish`, as format 1 did) or packed, as many to a datagram as fit (`publishAll`, what
// a node does with each batch). CPU time of this process (user and system: the send system calls
// included) per update. Sends to a group on loopback (239.255.77.1, TTL 1, a random port); nothing
// leaves the machine. For the edit-measure loop; `npm run bench` remains the source of BENCHMARKS.md.
//
//   node dist/bench/publish.js [updates] [batch]   (after npm run build; default 20,000 updates in batches of 7)
import { UpdatePublisher } from "../src/net/update-publisher.js";
import type { AuctionUpdate } from "../src/net/update-schema.js";
import { countArgs } from "./args.js";

const [updates, batchSize] = countArgs(
  "node dist/bench/publish.js [updates] [batch]",
  ["updates", "batch"],
  [20_000, 7],
) as [number, number];

const publisher = await UpdatePublisher.start({
  port: 20_000 + Math.floor(Math.random() * 40_000),
  nodeId: 2,
  clusterName: "gavel",
  eventAgeMaxMs: Number.POSITIVE_INFINITY,
});

/** A bid update as the headline load makes them: one of 1,000 auctions, one of 64 bidders. */
function update(sequence: number): AuctionUpdate {
  return {
    clusterName: "gavel",
    nodeId: 2,
    auctionId: `a${(sequence % 1000).toString(16).padStart(11, "0")}`,
    version: 2 + sequence,
    event: "bid-accepted",
    timestampMs: 1_796_094_530_775 + sequence,
    phase: "active",
    price: 1000 + sequence,
    highBidder: `bidder${sequence % 64}`,
    closesAt: 1_796_094_930_775,
    bidCount: 1 + sequence,
    outcome: null,
  };
}

/** CPU µs per update of one way of sending, over `updates` updates in batches. */
async function measure(send: (batch: AuctionUpdate[]) => void): Promise<number> {
  const before = process.cpuUsage();
  for (let start = 0; start < updates; start += batchSize) {
    const batch = Array.from({ length: Math.min(batchSize, updates - start) }, (_, k) => update(start + k));
    send(batch);
    // A batch per turn of the event loop, as a node flushes: the sends complete in between.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / updates;
}

try {
  const ways = {
    one_per_datagram: (batch: AuctionUpdate[]) => batch.forEach((item) => publisher.publish(item)),
    packed: (batch: AuctionUpdate[]) => publisher.publishAll(batch),
  };
  // A warm-up round of each, then the measured rounds alternating.
  const figures: Record<string, number[]> = { one_per_datagram: [], packed: [] };
  const packedSends = { datagrams: 0, updates: 0 };
  for (let round = 0; round < 4; round++) {
    for (const [name, send] of Object.entries(ways)) {
      const before = publisher.stats();
      const perUpdate = await measure(send);
      if (round > 0) figures[name]!.push(perUpdate);
      if (name !== "packed") continue;
      // Sends complete asynchronously: wait for this round's before reading what it sent.
      while (publisher.stats().updates - before.updates < updates) await new Promise((r) => setImmediate(r));
      packedSends.datagrams += publisher.stats().sent - before.sent;
      packedSends.updates += publisher.stats().updates - before.updates;
    }
  }
  const best = (values: number[]) => Math.min(...values).toFixed(2);
  const dropped = Object.values(publisher.stats().dropped).reduce((sum, count) => sum + count, 0);
  if (dropped > 0) throw new Error(`${dropped} updates dropped: the figures would not be of sends`);
  const ratio = (packedSends.updates / packedSends.datagrams).toFixed(2);
  console.log(
    `updates=${updates} batch=${batchSize} one_per_datagram_us_per_update=${best(figures["one_per_datagram"]!)} ` +
      `packed_us_per_update=${best(figures["packed"]!)} updates_per_datagram_packed=${ratio}`,
  );
} finally {
  await publisher.close();
}
