// metricValue reads one metric out of a node's /metrics text, as the bench does for its per-bid counts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { metricValue } from "../../bench/cluster.js";

const text = [
  "# HELP gavel_batches_total Batches the node stepped",
  "# TYPE gavel_batches_total counter",
  "gavel_batches_total 42",
  "gavel_batches_total_extra 7",
  'gavel_peer_messages_total{direction="received",type="append"} 10',
  'gavel_peer_messages_total{direction="sent",type="append-reply"} 9',
  'gavel_peer_messages_total{direction="sent",type="owner-proposal"} 4',
  "gavel_sqlite_write_seconds_sum 0.25",
].join("\n");

test("metricValue reads an unlabelled series and sums labelled ones, by label when asked", () => {
  assert.equal(metricValue(text, "gavel_batches_total"), 42);
  assert.equal(metricValue(text, "gavel_sqlite_write_seconds_sum"), 0.25);
  assert.equal(metricValue(text, "gavel_peer_messages_total"), 23);
  assert.equal(metricValue(text, "gavel_peer_messages_total", 'direction="sent"'), 13);
});

test("metricValue refuses a metric or label the text does not have", () => {
  assert.throws(() => metricValue(text, "gavel_batches"), /no metric gavel_batches$/);
  assert.throws(
    () => metricValue(text, "gavel_peer_messages_total", 'direction="lost"'),
    /with direction="lost"/,
  );
});
