// The picture `gavel watch` draws, and the terminal it draws on. Frames are plain lines built from
// the board (pure); LiveScreen redraws them in place with ANSI cursor movement (never scrolling:
// lines are cut to the terminal's width and the frame to its height), and shows the cursor again
// when it stops. It writes only to the stream it is given.
import { formatClock, formatMoney, formatSpan } from "../money.js";
import { escapeSplitter, outcomeText, table, truncate, visibleWidth } from "../output.js";
import type { Style } from "../output.js";
import type { AuctionSummary } from "../types.js";
import type { Board, WatchedAuction } from "./board.js";

/** Where the live news comes from, for the header line. */
export interface FrameContext {
  source: string;
  nowMs: number;
  style: Style;
  /** Terminal height: the frame never takes more. */
  rows: number;
  /** A line about trouble (reconnecting, fell back), if any. */
  notice: string | null;
}

/** "3m 12s left", "closing…", or how it ended. */
export function countdownText(facts: AuctionSummary, nowMs: number): string {
  const ended = outcomeText(facts);
  if (ended !== null) return ended;
  if (facts.status === "scheduled" && facts.opensAt > nowMs)
    return `opens in ${formatSpan(facts.opensAt - nowMs)}`;
  if (facts.closesAt <= nowMs) return "closing…";
  return `${formatSpan(facts.closesAt - nowMs)} left`;
}

function header(title: string, context: FrameContext): string[] {
  const lines = [
    `${context.style.bold(title)}  ${context.style.dim(`· live via ${context.source} · ${formatClock(context.nowMs, context.nowMs)}`)}`,
  ];
  if (context.notice !== null) lines.push(context.style.yellow(context.notice));
  return lines;
}

/** The frame of one auction: price, high bidder, countdown, latest bids. */
export function auctionFrame(
  watched: WatchedAuction | undefined,
  auctionId: string,
  context: FrameContext,
): string[] {
  if (watched === undefined) return [...header(`auction ${auctionId}`, context), "loading…"];
  const { facts } = watched;
  const { style, nowMs } = context;
  const money = (cents: number | null) => formatMoney(cents, facts.currency);
  const running = facts.outcome === null && facts.status !== "cancelled";
  const lines = header(`${facts.title}  (${facts.id}, sold by ${facts.seller})`, context);
  const price =
    facts.price === null
      ? `${money(facts.startingPrice)} to start, no bids yet`
      : style.bold(money(facts.price));
  lines.push(
    `  price        ${price}${facts.highBidder === null ? "" : `   high bidder ${style.bold(facts.highBidder)}`}`,
  );
  if (running) lines.push(`  next bid     at least ${money(facts.minimumBid)}`);
  const clock = running ? `  (${formatClock(facts.closesAt, nowMs)})` : "";
  const extended =
    facts.closesAt > facts.originalClosesAt
      ? style.dim(`  extended ${formatSpan(facts.closesAt - facts.originalClosesAt)} by soft close`)
      : "";
  const countdown = running
    ? style.bold(countdownText(facts, nowMs))
    : style.green(countdownText(facts, nowMs));
  lines.push(`  ${running ? "closes  " : "ended   "}     ${countdown}${clock}${extended}`);
  const details = [facts.status, `${facts.bidCount} bid${facts.bidCount === 1 ? "" : "s"}`];
  if (facts.hasReserve) details.push(facts.reserveMet ? "reserve met" : "reserve not met");
  if (facts.buyNowPrice !== null) details.push(`buy now ${money(facts.buyNowPrice)}`);
  if (facts.owner !== null) details.push(`runs on node ${facts.owner}`);
  lines.push(`  status       ${details.join(" · ")}`, "");
  if (watched.bids.length === 0) lines.push(style.dim("  no bids yet"));
  else {
    lines.push(style.dim("  latest bids"));
    for (const line of [...watched.bids].reverse()) {
      const automatic = line.automatic ? style.dim("  automatic") : "";
      lines.push(
        `    ${formatClock(line.at, nowMs)}  ${line.bidder.padEnd(12)}  ${money(line.amount).padStart(14)}${automatic}`,
      );
    }
  }
  lines.push("", style.dim("Ctrl-C to stop"));
  return lines;
}

/** The frame of every open auction: a table by closing time, then the latest bids. */
export function overviewFrame(board: Board, context: FrameContext): string[] {
  const { style, nowMs } = context;
  const all = [...board.auctions.values()].map((watched) => watched.facts);
  const running = all.filter((facts) => facts.outcome === null && facts.status !== "cancelled");
  const ended = all.filter((facts) => !running.includes(facts)).sort((a, b) => b.closesAt - a.closesAt);
  const shown = [...running.sort((a, b) => a.closesAt - b.closesAt), ...ended.slice(0, 3)];
  const lines = header(`${running.length} open auction${running.length === 1 ? "" : "s"}`, context);
  const feedRows = Math.min(board.feed.length, 5);
  const room = Math.max(1, context.rows - lines.length - 4 - (feedRows > 0 ? feedRows + 2 : 0));
  const rows = shown
    .slice(0, room)
    .map((facts) => [
      facts.id,
      truncate(facts.title, 28),
      facts.price === null
        ? style.dim(formatMoney(facts.startingPrice, facts.currency))
        : formatMoney(facts.price, facts.currency),
      facts.highBidder ?? "—",
      String(facts.bidCount),
      countdownText(facts, nowMs),
    ]);
  if (rows.length === 0) lines.push(style.dim("no open auctions; new ones appear here"));
  else lines.push(table(["ID", "TITLE", "PRICE", "LEADER", "BIDS", "CLOSES"], rows, [2, 4], style));
  if (shown.length > room) lines.push(style.dim(`… and ${shown.length - room} more`));
  if (feedRows > 0) {
    lines.push("", style.dim("latest bids"));
    for (const line of board.feed.slice(-feedRows).reverse()) {
      const facts = board.auctions.get(line.auctionId)?.facts;
      const title = truncate(facts?.title ?? line.auctionId, 24);
      lines.push(
        `  ${formatClock(line.at, nowMs)}  ${title.padEnd(24)}  ${line.bidder.padEnd(12)}  ${formatMoney(line.amount, facts?.currency)}`,
      );
    }
  }
  lines.push("", style.dim("Ctrl-C to stop"));
  return lines.flatMap((line) => line.split("\n"));
}

/** Cuts a line with escape sequences to `width` visible characters (resetting attributes if cut). */
function fit(line: string, width: number): string {
  if (visibleWidth(line) <= width) return line;
  let out = "";
  let visible = 0;
  for (const part of line.split(escapeSplitter)) {
    if (part.startsWith("\x1b[")) {
      out += part;
      continue;
    }
    for (const character of part) {
      if (visible >= width - 1) return `${out}…\x1b[0m`;
      out += character;
      visible++;
    }
  }
  return out;
}

/** Redraws frames in place on a terminal. */
export class LiveScreen {
  private drawnLines = 0;
  private last = "";

  constructor(private readonly stream: NodeJS.WriteStream) {}

  get columns(): number {
    return this.stream.columns > 0 ? this.stream.columns : 100;
  }

  get rows(): number {
    return this.stream.rows > 0 ? this.stream.rows : 40;
  }

  start(): void {
    this.stream.write("\x1b[?25l");
  }

  /** Draws `lines` over the previous frame; nothing is written if nothing changed. */
  draw(lines: string[]): void {
    const fitted = lines.slice(0, Math.max(1, this.rows - 1)).map((line) => fit(line, this.columns));
    const text = fitted.join("\n");
    if (text === this.last) return;
    this.last = text;
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F` : "";
    this.stream.write(`${up}${fitted.map((line) => `\x1b[2K${line}\n`).join("")}\x1b[J`);
    this.drawnLines = fitted.length;
  }

  /** After a resize the old frame may have wrapped: clear the screen and draw from the top. */
  reset(): void {
    this.stream.write("\x1b[2J\x1b[H");
    this.drawnLines = 0;
    this.last = "";
  }

  /** Leaves the last frame on screen and shows the cursor again. */
  stop(): void {
    this.stream.write("\x1b[?25h");
  }
}
