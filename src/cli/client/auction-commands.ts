// `gavel create`, `gavel list`, `gavel show`, `gavel bid`, `gavel cancel`: auctions and bids. Amounts
// are typed in major units ("12.50") and sent as exact cents. A bid carries one bidId chosen once
// per invocation, so the retries that carry it past a dying node can never bid twice.
import { Command, InvalidArgumentError, Option } from "commander";
import { randomBytes } from "node:crypto";
import { ClientContext, runClient, withConnectionOptions } from "./context.js";
import type { ConnectionFlags } from "./context.js";
import { ApiProblemError, ClientError, OutcomeUnknownError } from "./errors.js";
import {
  formatClock,
  formatMoney,
  formatRelative,
  InputError,
  parseAmount,
  parseDuration,
  parseTime,
  typedAmount,
} from "./money.js";
import { fields, outcomeText, priceText, table, truncate } from "./output.js";
import { acceptedBidSchema, auctionDocumentSchema, auctionListSchema, expectDocument } from "./types.js";
import type { AuctionDocument, AuctionSummary } from "./types.js";

/** commander's argParser for amounts: a refusal reads as "... is invalid ... 12.345 has 3 decimals ...". */
export function amountArgument(value: string): number {
  try {
    return parseAmount(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function durationArgument(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function timeArgument(value: string): number {
  try {
    return parseTime(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** A fixed increment ("1.00") or bands "from=increment,…" ("0=0.50,100=1.00"). */
export function incrementArgument(value: string): number | { from: number; increment: number }[] {
  if (!value.includes("=")) return amountArgument(value);
  const bands = value.split(",").map((band) => {
    const [from = "", increment = ""] = band.split("=");
    const start = /^0+(\.0*)?$/.test(from.trim()) ? 0 : amountArgument(from);
    return { from: start, increment: amountArgument(increment) };
  });
  if (bands[0]?.from !== 0)
    throw new InvalidArgumentError("increment bands start at 0, e.g. 0=0.50,100=1.00");
  return bands;
}

function positiveInteger(what: string, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < 1 || parsed > max)
      throw new InvalidArgumentError(`${what} is a whole number from 1 to ${max}`);
    return parsed;
  };
}

/** "in 3m 12s (14:03:27)" while it runs; how it ended once it has. */
export function closingText(auction: AuctionSummary, nowMs: number): string {
  const ended = outcomeText(auction);
  if (ended !== null) return ended;
  if (auction.status === "scheduled") return `opens ${formatRelative(auction.opensAt, nowMs)}`;
  if (auction.closesAt <= nowMs) return "closing now";
  return `${formatRelative(auction.closesAt, nowMs)} (${formatClock(auction.closesAt, nowMs)})`;
}

interface CreateFlags extends ConnectionFlags {
  title: string;
  start: number;
  increment: number | { from: number; increment: number }[];
  duration?: number;
  closesAt?: number;
  opensAt?: number;
  reserve?: number;
  buyNow?: number;
  description?: string;
  currency?: string;
  softClose: boolean;
}

export function createCommand(): Command {
  const command = new Command("create")
    .summary("put an item up for auction")
    .description(
      "Put an item up for auction. Amounts are typed like 12.50 (at most two decimals). Soft close is on unless --no-soft-close: a bid in the last 30 s adds 30 s, at most 10 minutes in all.",
    )
    .requiredOption("--title <text>", "what is sold")
    .addOption(
      new Option("--start <amount>", "starting price, e.g. 12.50")
        .argParser(amountArgument)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option("--increment <amount>", "minimum raise, e.g. 1.00, or bands from=increment: 0=0.50,100=1.00")
        .argParser(incrementArgument)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option("--duration <span>", "how long it runs: 10m, 1h30m, 2d")
        .argParser(durationArgument)
        .conflicts("closesAt"),
    )
    .addOption(
      new Option("--closes-at <time>", "when it closes, ISO 8601 (2030-01-31T18:00:00Z)").argParser(
        timeArgument,
      ),
    )
    .addOption(
      new Option("--opens-at <time>", "when bidding opens, ISO 8601 (default: now)").argParser(timeArgument),
    )
    .addOption(
      new Option("--reserve <amount>", "reserve price: below it the item is not sold").argParser(
        amountArgument,
      ),
    )
    .addOption(
      new Option("--buy-now <amount>", "a bid of this much ends the auction at once").argParser(
        amountArgument,
      ),
    )
    .addOption(new Option("--description <text>", "a longer description"))
    .addOption(new Option("--currency <code>", "ISO 4217 currency code (default EUR)"))
    .addOption(new Option("--no-soft-close", "close exactly on time, even right after a bid"));
  withConnectionOptions(command, { json: "print the auction as the API returns it" });
  return command.action(async (flags: CreateFlags) => {
    await runClient("create", async () => {
      if ((flags.duration === undefined) === (flags.closesAt === undefined)) {
        throw new InputError("give exactly one of --duration and --closes-at");
      }
      const context = new ClientContext("create", flags);
      const token = context.session().token;
      await context.connect();
      const body: Record<string, unknown> = {
        title: flags.title,
        startingPrice: flags.start,
        minIncrement: flags.increment,
      };
      if (flags.duration !== undefined) body["durationMs"] = flags.duration;
      if (flags.closesAt !== undefined) body["closesAt"] = flags.closesAt;
      if (flags.opensAt !== undefined) body["opensAt"] = flags.opensAt;
      if (flags.reserve !== undefined) body["reservePrice"] = flags.reserve;
      if (flags.buyNow !== undefined) body["buyNowPrice"] = flags.buyNow;
      if (flags.description !== undefined) body["description"] = flags.description;
      if (flags.currency !== undefined) body["currency"] = flags.currency.toUpperCase();
      if (!flags.softClose) body["softClose"] = null;
      let response;
      try {
        response = await context.api.send({
          method: "POST",
          path: "/api/auctions",
          body,
          bearer: token,
          retry: "unsent-only",
          what: "creating the auction",
        });
      } catch (error) {
        if (error instanceof OutcomeUnknownError)
          throw new OutcomeUnknownError(`${error.message} (look for it with gavel list --mine)`);
        throw error;
      }
      if (flags.json === true) return context.out(JSON.stringify(response.body, null, 2));
      const auction = expectDocument(auctionDocumentSchema, response.body, "auction");
      const increment =
        typeof flags.increment === "number"
          ? `raises of at least ${formatMoney(flags.increment, auction.currency)}`
          : "raises by price band";
      context.out(
        `created auction ${auction.id} "${auction.title}": starts at ${formatMoney(auction.startingPrice, auction.currency)}, ${increment}, closes ${closingText(auction, Date.now())}`,
      );
    });
  });
}

interface ListFlags extends ConnectionFlags {
  closed?: boolean;
  mine?: boolean;
  all?: boolean;
  page: number;
  limit: number;
}

export function listCommand(): Command {
  const command = new Command("list")
    .summary("list auctions: open ones, or --closed, --mine, --all")
    .description("List auctions, newest first, a page at a time. Without a filter: the open ones.")
    .addOption(new Option("--closed", "closed and cancelled auctions").conflicts(["mine", "all"]))
    .addOption(new Option("--mine", "auctions you sell or have bid on (needs a login)").conflicts("all"))
    .addOption(new Option("--all", "every auction"))
    .addOption(
      new Option("--page <n>", "which page, from 1")
        .default(1)
        .argParser(positiveInteger("--page", 1_000_000)),
    )
    .addOption(
      new Option("--limit <n>", "auctions per page").default(20).argParser(positiveInteger("--limit", 200)),
    );
  withConnectionOptions(command, { json: "print the page as the API returns it" });
  return command.action(async (flags: ListFlags) => {
    await runClient("list", async () => {
      const filter =
        flags.closed === true ? "closed" : flags.mine === true ? "mine" : flags.all === true ? "all" : "open";
      const context = new ClientContext("list", flags);
      const bearer = filter === "mine" ? context.session().token : undefined;
      await context.connect();
      const offset = (flags.page - 1) * flags.limit;
      const response = await context.api.send({
        method: "GET",
        path: `/api/auctions?filter=${filter}&offset=${offset}&limit=${flags.limit}`,
        bearer,
        retry: "idempotent",
        what: "listing auctions",
      });
      if (flags.json === true) return context.out(JSON.stringify(response.body, null, 2));
      const list = expectDocument(auctionListSchema, response.body, "auction list");
      context.out(listText(list.items, list.total, flags, filter, context));
    });
  });
}

function listText(
  items: AuctionSummary[],
  total: number,
  flags: ListFlags,
  filter: string,
  context: ClientContext,
): string {
  const noun = total === 1 ? "auction" : "auctions";
  const what = filter === "all" ? noun : filter === "mine" ? `${noun} of yours` : `${filter} ${noun}`;
  if (total === 0)
    return `no ${filter === "all" ? "auctions" : filter === "mine" ? "auctions of yours" : `${filter} auctions`}`;
  if (items.length === 0) return `no page ${flags.page}: there are ${total} ${what}`;
  const nowMs = Date.now();
  const rows = items.map((auction) => [
    auction.id,
    truncate(auction.title, 32),
    priceText(auction),
    String(auction.bidCount),
    auction.highBidder ?? "—",
    auction.status,
    closingText(auction, nowMs),
  ]);
  const pages = Math.ceil(total / flags.limit);
  const header = table(
    ["ID", "TITLE", "PRICE", "BIDS", "LEADER", "STATUS", "CLOSES"],
    rows,
    [2, 3],
    context.style,
  );
  const more =
    flags.page < pages
      ? `; next: gavel list${filter === "open" ? "" : ` --${filter}`} --page ${flags.page + 1}`
      : "";
  return `${header}\n${context.style.dim(`page ${flags.page} of ${pages}, ${total} ${what}${more}`)}`;
}

interface ShowFlags extends ConnectionFlags {
  bids: number;
}

export function showCommand(): Command {
  const command = new Command("show")
    .summary("show one auction with its latest bids")
    .description("Show one auction: price, high bidder, minimum next bid, closing time, and its latest bids.")
    .argument("<id>", "the auction's id")
    .addOption(
      new Option("--bids <n>", "how many of the latest bids to list")
        .default(10)
        .argParser(positiveInteger("--bids", 1000)),
    );
  withConnectionOptions(command, { json: "print GET /api/auctions/:id as the API returns it" });
  return command.action(async (id: string, flags: ShowFlags) => {
    await runClient("show", async () => {
      const context = new ClientContext("show", flags);
      await context.connect();
      const path = `/api/auctions/${encodeURIComponent(id)}`;
      const response = await context.api.send({
        method: "GET",
        path,
        retry: "idempotent",
        what: `reading auction ${id}`,
      });
      if (flags.json === true) return context.out(JSON.stringify(response.body, null, 2));
      let auction = expectDocument(auctionDocumentSchema, response.body, "auction");
      if (auction.bidsTotal > auction.bids.length) {
        const offset = Math.max(0, auction.bidsTotal - flags.bids);
        const latest = await context.api.send({
          method: "GET",
          path: `${path}?bidsOffset=${offset}&bidsLimit=${flags.bids}`,
          retry: "idempotent",
          what: `reading the bids of ${id}`,
        });
        auction = expectDocument(auctionDocumentSchema, latest.body, "auction");
      }
      context.out(showText(auction, flags.bids, context));
    });
  });
}

function showText(auction: AuctionDocument, bidsShown: number, context: ClientContext): string {
  const nowMs = Date.now();
  const money = (cents: number | null) => formatMoney(cents, auction.currency);
  const open = auction.outcome === null && auction.status !== "cancelled";
  const pairs: [string, string][] = [
    ["auction", `${context.style.bold(auction.title)} (${auction.id}), sold by ${auction.seller}`],
    ["status", auction.status],
    [
      "price",
      `${priceText(auction)}${auction.highBidder === null ? "" : `, high bidder ${auction.highBidder}`}`,
    ],
  ];
  if (open) pairs.push(["next bid", `at least ${money(auction.minimumBid)}`]);
  if (auction.hasReserve) pairs.push(["reserve", auction.reserveMet ? "met" : "not met yet"]);
  if (auction.buyNowPrice !== null) pairs.push(["buy now", money(auction.buyNowPrice)]);
  pairs.push([open ? "closes" : "ended", closingText(auction, nowMs)]);
  if (auction.closesAt !== auction.originalClosesAt)
    pairs.push([
      "extended",
      `by ${Math.round((auction.closesAt - auction.originalClosesAt) / 1000)} s of soft close`,
    ]);
  if (auction.owner !== null) pairs.push(["runs on", `node ${auction.owner}`]);
  if (auction.description !== "") pairs.push(["about", auction.description]);
  const lines = [fields(pairs, context.style)];
  const bids = auction.bids.slice(-bidsShown).reverse();
  if (bids.length === 0) {
    lines.push("", "no bids yet");
  } else {
    const rows = bids.map((line) => [
      formatClock(line.at, nowMs),
      line.bidder,
      money(line.amount),
      line.automatic ? "automatic (proxy)" : "",
    ]);
    const title = `latest ${bids.length} of ${auction.bidsTotal} bid${auction.bidsTotal === 1 ? "" : "s"}, newest first`;
    lines.push("", context.style.dim(title), table(["AT", "BIDDER", "AMOUNT", ""], rows, [2], context.style));
  }
  return lines.join("\n");
}

interface BidFlags extends ConnectionFlags {
  max?: number;
  bidId?: string;
}

const bidIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

function bidIdArgument(value: string): string {
  if (!bidIdPattern.test(value)) throw new InvalidArgumentError("1 to 64 letters, digits and . _ : -");
  return value;
}

export function bidCommand(): Command {
  const command = new Command("bid")
    .summary("bid on an auction (retried on another node if this one dies; never twice)")
    .description(
      "Bid on an auction. The amount is typed like 12.50 (at most two decimals). With --max, the cluster bids for you, just enough to lead, up to that maximum. The bid carries one bid id for all its retries: if the node dies mid-request, the bid is sent to another node and can never be placed twice.",
    )
    .argument("<id>", "the auction's id")
    .argument("<amount>", "how much, e.g. 12.50", amountArgument)
    .addOption(
      new Option("--max <amount>", "a proxy bid: bid automatically up to this much").argParser(
        amountArgument,
      ),
    )
    .addOption(
      new Option(
        "--bid-id <id>",
        "the bid's id (default: a new random one); repeat one to finish a bid whose outcome was unknown",
      ).argParser(bidIdArgument),
    );
  withConnectionOptions(command, { json: "print the accepted bid as the API returns it" });
  return command.action(async (id: string, amount: number, flags: BidFlags) => {
    await runClient("bid", async () => {
      if (flags.max !== undefined && flags.max < amount)
        throw new InputError("--max must be at least the amount");
      const context = new ClientContext("bid", flags);
      const token = context.session().token;
      const bidId = flags.bidId ?? `cli-${randomBytes(9).toString("base64url")}`;
      await context.connect();
      const body: Record<string, unknown> = { amount, bidId };
      if (flags.max !== undefined) body["max"] = flags.max;
      const path = `/api/auctions/${encodeURIComponent(id)}`;
      let response;
      try {
        response = await context.api.send({
          method: "POST",
          path: `${path}/bids`,
          body,
          bearer: token,
          retry: "idempotent",
          what: `the bid ${bidId}`,
          retryNote: ` with the same bid id ${bidId}`,
        });
      } catch (error) {
        throw await explainBidFailure(error, context, path, amount, bidId, flags.max);
      }
      if (flags.json === true) return context.out(JSON.stringify(response.body, null, 2));
      const bid = expectDocument(acceptedBidSchema, response.body, "bid");
      const currency = await currencyOf(context, path);
      const money = (cents: number) => formatMoney(cents, currency);
      const repeat = response.status === 200 ? " (already placed earlier: the same bid id)" : "";
      const maximum = bid.max === null ? "" : ` up to ${money(bid.max)}`;
      let standing: string;
      if (bid.boughtNow) standing = `you bought it now for ${money(bid.price)}`;
      else if (bid.leading) standing = `you lead at ${money(bid.price)}`;
      else standing = `${bid.highBidder} still leads at ${money(bid.price)} (their maximum is higher)`;
      context.out(
        `bid ${money(bid.amount)}${maximum} on ${bid.auctionId} accepted${repeat}: ${standing} [bid id ${bid.bidId}]`,
      );
    });
  });
}

/** The auction's currency, for printing; "" if it cannot be read right now. */
async function currencyOf(context: ClientContext, path: string): Promise<string> {
  try {
    const response = await context.api.send({
      method: "GET",
      path: `${path}?bidsLimit=0`,
      retry: "idempotent",
      what: "reading the auction",
      attemptTimeoutMs: 3000,
    });
    return expectDocument(auctionDocumentSchema, response.body, "auction").currency;
  } catch {
    return "";
  }
}

/** A refusal made clearer with the auction's own figures; an unknown outcome says how to finish it safely. */
async function explainBidFailure(
  error: unknown,
  context: ClientContext,
  path: string,
  amount: number,
  bidId: string,
  max: number | undefined,
): Promise<unknown> {
  if (error instanceof OutcomeUnknownError) {
    const auctionId = decodeURIComponent(path.split("/").at(-1) ?? "");
    const again = `gavel bid ${auctionId} ${typedAmount(amount)}${max === undefined ? "" : ` --max ${typedAmount(max)}`} --bid-id ${bidId}`;
    return new OutcomeUnknownError(
      `${error.message}. Run \`${again}\` to finish it: the same bid id never bids twice`,
    );
  }
  if (!(error instanceof ApiProblemError) || error.problemCode !== "below-minimum") return error;
  try {
    const response = await context.api.send({
      method: "GET",
      path: `${path}?bidsLimit=0`,
      retry: "idempotent",
      what: "reading the auction",
    });
    const auction = expectDocument(auctionDocumentSchema, response.body, "auction");
    const money = (cents: number) => formatMoney(cents, auction.currency);
    return new ClientError(
      "api-problem",
      `below-minimum: the next bid must be at least ${money(auction.minimumBid)}, you offered ${money(amount)} (HTTP 409)`,
    );
  } catch {
    return error;
  }
}

export function cancelCommand(): Command {
  const command = new Command("cancel")
    .summary("cancel your auction (only before its first bid)")
    .description("Cancel an auction you sell. Only possible before its first bid.")
    .argument("<id>", "the auction's id");
  withConnectionOptions(command, { json: "print the cancelled auction as the API returns it" });
  return command.action(async (id: string, flags: ConnectionFlags) => {
    await runClient("cancel", async () => {
      const context = new ClientContext("cancel", flags);
      const token = context.session().token;
      await context.connect();
      let response;
      try {
        // Cancelling twice leaves it cancelled: safe to retry.
        response = await context.api.send({
          method: "POST",
          path: `/api/auctions/${encodeURIComponent(id)}/cancel`,
          bearer: token,
          retry: "idempotent",
          what: `cancelling ${id}`,
        });
      } catch (error) {
        if (error instanceof ApiProblemError && error.problemCode === "auction-cancelled") {
          return context.out(`auction ${id} is cancelled (it already was)`);
        }
        throw error;
      }
      if (flags.json === true) return context.out(JSON.stringify(response.body, null, 2));
      const auction = expectDocument(auctionDocumentSchema, response.body, "auction");
      context.out(`cancelled auction ${auction.id} "${auction.title}"`);
    });
  });
}
