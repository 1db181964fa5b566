// Text for the terminal: aligned tables, a little emphasis when the output is a terminal (and
// NO_COLOR is not set), and the one-line forms of auctions and outcomes shared by the commands.
// Pure formatting; writing to a stream is the caller's.
import { formatMoney } from "./money.js";
import type { AuctionDocument } from "./types.js";

export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  red(text: string): string;
}

const sgr = (code: string) => (text: string) => `\x1b[${code}m${text}\x1b[0m`;

export const plainStyle: Style = {
  bold: (text) => text,
  dim: (text) => text,
  green: (text) => text,
  yellow: (text) => text,
  red: (text) => text,
};

export const ansiStyle: Style = {
  bold: sgr("1"),
  dim: sgr("2"),
  green: sgr("32"),
  yellow: sgr("33"),
  red: sgr("31"),
};

/** Emphasis only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function styleFor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): Style {
  return stream.isTTY === true && !env["NO_COLOR"] ? ansiStyle : plainStyle;
}

// eslint-disable-next-line no-control-regex
const escapes = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Splits text into runs of plain text and escape sequences (kept, as odd elements). */
// eslint-disable-next-line no-control-regex
export const escapeSplitter = /(\x1b\[[0-9;?]*[A-Za-z])/;

/** Width of `text` on screen: escape sequences take no room. */
export function visibleWidth(text: string): number {
  return [...text.replace(escapes, "")].length;
}

/** Pads to `width` on the right (or the left, for numbers), escape-aware. */
function pad(text: string, width: number, align: "left" | "right"): string {
  const room = " ".repeat(Math.max(0, width - visibleWidth(text)));
  return align === "left" ? text + room : room + text;
}

/** Columns aligned under a header, separated by two spaces; `right` lists right-aligned columns. */
export function table(
  header: string[],
  rows: string[][],
  right: readonly number[] = [],
  style = plainStyle,
): string {
  const widths = header.map((title, column) =>
    Math.max(visibleWidth(title), ...rows.map((row) => visibleWidth(row[column] ?? ""))),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => pad(cell, widths[column]!, right.includes(column) ? "right" : "left"))
      .join("  ")
      .trimEnd();
  return [style.bold(line(header)), ...rows.map(line)].join("\n");
}

/** Label/value lines with the labels aligned: "price     12.50 EUR". */
export function fields(pairs: [string, string][], style = plainStyle): string {
  const width = Math.max(...pairs.map(([label]) => visibleWidth(label)));
  return pairs.map(([label, value]) => `${style.dim(pad(label, width, "left"))}  ${value}`).join("\n");
}

/** How an auction ended, or null while it runs: "sold to ann for 15.00 EUR", "unsold (reserve not met)". */
export function outcomeText(
  auction: Pick<AuctionDocument, "outcome" | "status" | "currency">,
): string | null {
  if (auction.status === "cancelled") return "cancelled";
  const outcome = auction.outcome;
  if (outcome === null) return null;
  if (outcome.result === "sold") {
    const how = outcome.reason === "buy-now" ? " (bought now)" : "";
    return `sold to ${outcome.winner} for ${formatMoney(outcome.price, auction.currency)}${how}`;
  }
  return outcome.reserveMet ? "unsold (no bids)" : "unsold (reserve not met)";
}

/** The price, or the starting price when nobody has bid yet. */
export function priceText(auction: Pick<AuctionDocument, "price" | "startingPrice" | "currency">): string {
  return auction.price === null
    ? `${formatMoney(auction.startingPrice, auction.currency)} (start)`
    : formatMoney(auction.price, auction.currency);
}

/** Cuts `text` to `width` characters, ending in "…" when cut. */
export function truncate(text: string, width: number): string {
  const characters = [...text];
  return characters.length <= width ? text : `${characters.slice(0, Math.max(0, width - 1)).join("")}…`;
}
