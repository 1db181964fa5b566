/// <reference lib="dom" />
// Small pieces every view uses: money, the countdown, status chips, avatars and icons.
import { html } from "htm/preact";
import type { VNode } from "preact";
import { formatAmount } from "../money.js";
import { displayStatus } from "../room-model.js";
import { now } from "../store.js";
import { formatCountdown, urgencyOf } from "../time.js";
import type { Auction } from "../types.js";

/** "1,250.00 EUR", the code set smaller. */
export function Money(props: { amount: number; currency: string; class?: string }): VNode {
  return html`<span class=${`money ${props.class ?? ""}`}
    ><span class="money-amount">${formatAmount(props.amount, props.currency)}</span>
    <span class="money-currency">${props.currency}</span></span
  >`;
}

/** Time left until `closesAt`, re-rendered by the clock; turns amber, then red near the end. */
export function Countdown(props: { auction: Auction; large?: boolean }): VNode {
  const nowMs = now.value;
  const status = displayStatus(props.auction, nowMs);
  const size = props.large === true ? "countdown-large" : "";
  if (status === "closed" || status === "cancelled")
    return html`<span class=${`countdown ended ${size}`} data-testid="countdown">Ended</span>`;
  if (status === "closing")
    return html`<span class=${`countdown closing ${size}`} data-testid="countdown">Closing…</span>`;
  if (status === "scheduled")
    return html`<span class=${`countdown calm ${size}`} data-testid="countdown"
      >Opens in ${formatCountdown(props.auction.opensAt - nowMs)}</span
    >`;
  const remainingMs = props.auction.closesAt - nowMs;
  return html`<span class=${`countdown ${urgencyOf(remainingMs)} ${size}`} data-testid="countdown"
    >${Icon({ name: "clock" })}<span class="countdown-value">${formatCountdown(remainingMs)}</span></span
  >`;
}

const statusLabels: Record<Auction["status"], string> = {
  scheduled: "Scheduled",
  open: "Live",
  closing: "Closing",
  closed: "Ended",
  cancelled: "Cancelled",
};

export function StatusChip(props: { auction: Auction }): VNode {
  const status = displayStatus(props.auction, now.value);
  return html`<span class=${`chip chip-${status}`}>${statusLabels[status]}</span>`;
}

/** A round badge with the name's initial, coloured by the name so a bidder is recognisable at a glance. */
export function Avatar(props: { name: string; size?: "small" | "large" }): VNode {
  let hash = 0;
  for (const char of props.name) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  const hue = hash % 360;
  return html`<span
    class=${`avatar ${props.size === "large" ? "avatar-large" : ""}`}
    style=${`--hue:${hue}`}
    aria-hidden="true"
    >${props.name.slice(0, 1).toUpperCase()}</span
  >`;
}

const icons: Record<string, string> = {
  gavel:
    "M14.5 3.5l6 6M12 6l6 6M9.5 8.5l6 6M13 5l-6.5 6.5a1 1 0 000 1.4l2.6 2.6a1 1 0 001.4 0L17 9M11.5 14.5L4 22M3 21h9",
  clock: "M12 7v5l3 2M21 12a9 9 0 11-18 0 9 9 0 0118 0z",
  crown: "M3 8l4 4 5-7 5 7 4-4-2 11H5L3 8z",
  server: "M4 5h16v6H4zM4 13h16v6H4zM8 8h.01M8 16h.01",
  user: "M12 12a4 4 0 100-8 4 4 0 000 8zM4 21a8 8 0 0116 0",
  plus: "M12 5v14M5 12h14",
  bolt: "M13 2L4 14h7l-1 8 9-12h-7l1-8z",
  check: "M5 12l5 5L20 7",
  arrow: "M15 18l-6-6 6-6",
  logout: "M15 3h4a2 2 0 012 2v14a2 2 0 01-2 2h-4M10 17l5-5-5-5M15 12H3",
  x: "M6 6l12 12M18 6L6 18",
  trophy: "M8 21h8M12 17v4M7 4h10v5a5 5 0 01-10 0V4zM17 5h3v2a3 3 0 01-3 3M7 5H4v2a3 3 0 003 3",
};

export function Icon(props: { name: keyof typeof icons; class?: string }): VNode {
  return html`<svg
    class=${`icon ${props.class ?? ""}`}
    viewBox="0 0 24 24"
    fill="none"
    stroke="currentColor"
    stroke-width="2"
    stroke-linecap="round"
    stroke-linejoin="round"
    aria-hidden="true"
  >
    <path d=${icons[props.name]} />
  </svg>`;
}

/** A short, plain sentence for a problem the API answered. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return "something went wrong";
}
