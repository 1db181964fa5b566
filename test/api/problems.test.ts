import assert from "node:assert/strict";
import { test } from "node:test";
import { clusterProblem, retryAdvice } from "../../src/api/problems.js";
import type { ClientRequest } from "../../src/core/cluster/types.js";

const bid: ClientRequest = {
  kind: "auction",
  command: { type: "place-bid", auctionId: "a1", bidder: "ann", bidId: "b1", amount: 1200, max: null },
};
const cancel: ClientRequest = {
  kind: "auction",
  command: { type: "cancel-auction", auctionId: "a1", by: "sam" },
};

test("an unknown outcome says how to find out: a bid is retried with its bidId, anything else looked for first", () => {
  const forBid = clusterProblem("outcome-unknown", "no answer in time", retryAdvice(bid));
  assert.equal(forBid.status, 504);
  assert.equal(forBid.code, "outcome-unknown");
  assert.equal(forBid.detail, "no answer in time; retry with the same bidId");
  assert.equal(clusterProblem("outcome-unknown", "x", retryAdvice(cancel)).detail, "x; retry it");
  // Anything but an auction command (a creation, a registration) carries no idempotency key.
  const forOther = clusterProblem("outcome-unknown", "no answer in time", retryAdvice({ kind: "read" }));
  assert.equal(forOther.detail, "no answer in time; look for its effect before sending it again");
  assert.doesNotMatch(forOther.detail, /bidId/);
});

test("unavailable is a 503 with Retry-After, invalid a 400", () => {
  const unavailable = clusterProblem("unavailable", "no leader");
  assert.deepEqual([unavailable.status, unavailable.retryAfterS, unavailable.detail], [503, 1, "no leader"]);
  assert.equal(clusterProblem("invalid", "bad").status, 400);
});
