// Auctions and bids: list with filters and pages, create, show with a page of the bid history,
// cancel (the seller, before the first bid), and bid (idempotent by bidId, proxy bids with a max).
// Reads confirm with the leader first (read index); writes go to the leader or the auction's owner.
import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply } from "fastify";
import { auctionView } from "../core/auction/view.js";
import type { AcceptedBid, Auction } from "../core/auction/types.js";
import type { ClusterState } from "../core/cluster/state.js";
import type { ApiContext } from "./context.js";
import { fail, parse, ProblemError } from "./context.js";
import { engineProblem } from "./problems.js";
import {
  auctionIdParamSchema,
  createAuctionBodySchema,
  isAuctionId,
  isPlaceBidBody,
  listQuerySchema,
  placeBidBodySchema,
  showQuerySchema,
} from "./schemas.js";
import type { CreateAuctionBody } from "./schemas.js";

/** Soft close unless the seller says otherwise: a bid in the last 30 s adds 30 s, at most 10 minutes in all. */
export const defaultSoftClose = { windowMs: 30_000, extensionMs: 30_000, maxExtensionMs: 600_000 };

/** An auction as clients see it; `bids` is a page of the history (oldest first). */
export function auctionBody(state: ClusterState, auction: Auction, bidsOffset = 0, bidsLimit = 100) {
  const view = auctionView(auction, Date.now());
  const bids = auction.bids.slice(bidsOffset, bidsOffset + bidsLimit).map((line) => ({
    bidId: line.bidId,
    bidder: line.bidder,
    amount: line.amount,
    at: line.timestampMs,
    automatic: line.automatic,
  }));
  const winner = auction.outcome?.result === "sold" ? auction.outcome.winner : undefined;
  const owner = state.assignments.get(auction.id)?.owner ?? null;
  return { ...view, owner, winner, bids, bidsOffset, bidsTotal: auction.bids.length };
}

export function bidBody(bid: AcceptedBid) {
  return {
    auctionId: bid.auctionId,
    bidId: bid.bidId,
    bidder: bid.bidder,
    amount: bid.amount,
    max: bid.max,
    at: bid.timestampMs,
    price: bid.priceAfter,
    highBidder: bid.leaderAfter,
    leading: bid.leaderAfter === bid.bidder,
    boughtNow: bid.boughtNow,
  };
}

function createCommand(auctionId: string, seller: string, body: CreateAuctionBody) {
  const nowMs = Date.now();
  const increment =
    typeof body.minIncrement === "number"
      ? { type: "fixed" as const, amount: body.minIncrement }
      : { type: "table" as const, bands: body.minIncrement };
  return {
    type: "create-auction" as const,
    auctionId,
    seller,
    title: body.title,
    description: body.description ?? "",
    currency: body.currency ?? "EUR",
    startingPrice: body.startingPrice,
    reservePrice: body.reservePrice ?? null,
    buyNowPrice: body.buyNowPrice ?? null,
    increment,
    opensAt: body.opensAt ?? nowMs,
    closesAt: body.closesAt ?? nowMs + body.durationMs!,
    softClose: body.softClose === undefined ? defaultSoftClose : body.softClose,
  };
}

/**
 * The auction id of a path: one that no auction can have is unknown here at once, rather than
 * sent into the cluster, whose peers would refuse to carry it (the client would wait for a 504).
 */
function auctionIdParam(params: unknown): string {
  const { id } = params as { id: string };
  if (!isAuctionId(id) && !auctionIdParamSchema.safeParse(id).success)
    fail(404, "unknown-auction", "no auction has this id");
  return id;
}

/** Whether `user` sells `auction` or has bid on it. */
function involves(auction: Auction, user: string): boolean {
  return auction.seller === user || auction.bids.some((line) => line.bidder === user);
}

/**
 * The response header naming the API URL of the node that runs an auction (its owner): a client
 * that sends that auction's bids there saves the hop from the node it asked to the owner.
 */
export const ownerHeader = "gavel-owner";

export function registerAuctionRoutes(server: FastifyInstance, context: ApiContext): void {
  /** Tells the client where the auction runs, when this node knows the owner's API URL. */
  const hintOwner = (reply: FastifyReply, auctionId: string) => {
    const state = context.node().state();
    const owner = state.assignments.get(auctionId)?.owner;
    if (owner === undefined) return;
    const url = state.config.members.find((member) => member.id === owner)?.httpUrl;
    if (url !== undefined && url !== "") void reply.header(ownerHeader, url);
  };

  const show = (auctionId: string, bidsOffset?: number, bidsLimit?: number) => {
    const state = context.node().state();
    const auction = state.book.get(auctionId);
    if (auction === undefined) fail(404, "unknown-auction", `no auction ${auctionId}`);
    return auctionBody(state, auction, bidsOffset, bidsLimit);
  };

  server.get("/api/auctions", async (request) => {
    const query = parse(listQuerySchema, request.query);
    const user = query.filter === "mine" ? await context.authenticate(request) : null;
    await context.read();
    const state = context.node().state();
    const matches = [...state.book.auctions.values()].filter((auction) => {
      if (query.filter === "open") return auction.phase === "active";
      if (query.filter === "closed") return auction.phase !== "active";
      if (query.filter === "mine") return involves(auction, user!);
      return true;
    });
    matches.reverse(); // newest first: the book keeps creation order
    const items = matches.slice(query.offset, query.offset + query.limit).map((auction) => {
      const { bids: _bids, ...summary } = auctionBody(state, auction, 0, 0);
      return summary;
    });
    return { items, total: matches.length, offset: query.offset, limit: query.limit };
  });

  server.post("/api/auctions", async (request, reply) => {
    const seller = await context.authenticate(request);
    const body = parse(createAuctionBodySchema, request.body);
    const auctionId = randomBytes(6).toString("hex");
    const outcome = await context.outcome({
      kind: "create",
      command: createCommand(auctionId, seller, body),
    });
    if (!outcome.ok) throw new ProblemError(engineProblem(outcome.reason, outcome.message));
    return reply.code(201).send(show(auctionId));
  });

  server.get("/api/auctions/:id", async (request, reply) => {
    const id = auctionIdParam(request.params);
    const query = parse(showQuerySchema, request.query);
    await context.read();
    const body = show(id, query.bidsOffset, query.bidsLimit);
    hintOwner(reply, id);
    return body;
  });

  server.post("/api/auctions/:id/cancel", async (request) => {
    const by = await context.authenticate(request);
    const id = auctionIdParam(request.params);
    const outcome = await context.outcome({
      kind: "auction",
      command: { type: "cancel-auction", auctionId: id, by },
    });
    if (!outcome.ok) throw new ProblemError(engineProblem(outcome.reason, outcome.message));
    return show(id);
  });

  server.post("/api/auctions/:id/bids", async (request, reply) => {
    const bidder = await context.authenticate(request);
    const id = auctionIdParam(request.params);
    const body = isPlaceBidBody(request.body) ? request.body : parse(placeBidBodySchema, request.body);
    const command = {
      type: "place-bid" as const,
      auctionId: id,
      bidder,
      bidId: body.bidId,
      amount: body.amount,
      max: body.max ?? null,
    };
    const outcome = await context.outcome({ kind: "auction", command });
    context.node().metrics.bid(outcome);
    hintOwner(reply, id);
    if (!outcome.ok) throw new ProblemError(engineProblem(outcome.reason, outcome.message));
    return reply.code(outcome.duplicate === true ? 200 : 201).send(bidBody(outcome.bid!));
  });
}
