/// <reference lib="dom" />
// The auction room: price, high bidder, countdown, the live bid history and the bid form. State is
// an HTTP snapshot plus the live events after it (room-model.ts), fetched again whenever the room
// knows it may lack something; while the stream is down the room polls.
import { html } from "htm/preact";
import type { VNode } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, newBidId } from "../api.js";
import { formatMoney, inputAmount, parseMoney } from "../money.js";
import { displayStatus, emptyRoom, winnerOf, withEvent, withSnapshot } from "../room-model.js";
import type { RoomState } from "../room-model.js";
import { api, live, now, onStreamEvent, resyncTick, session, titles, toast } from "../store.js";
import { formatClock } from "../time.js";
import type { Auction, BidLine } from "../types.js";
import { Avatar, Countdown, Icon, Money, StatusChip, describeError } from "./common.js";

export function AuctionRoom(props: { id: string }): VNode {
  const room = useRoom(props.id);
  if (room.error !== null && room.state.auction === null) {
    return html`<section class="page">
      <a class="back" href="#/">${Icon({ name: "arrow" })} All auctions</a>
      <div class="notice error">${room.error}</div>
    </section>`;
  }
  const auction = room.state.auction;
  if (auction === null) return html`<section class="page"><div class="card skeleton tall"></div></section>`;
  return html`<section class="page room" data-testid="room">
    <a class="back" href="#/">${Icon({ name: "arrow" })} All auctions</a>
    <div class="room-head">
      <div>
        <div class="room-meta">
          <${StatusChip} auction=${auction} />
          <span class="muted">Auction ${auction.id}</span>
          ${auction.owner !== null && html`<span class="muted">· run by node ${auction.owner}</span>`}
        </div>
        <h1 data-testid="title">${auction.title}</h1>
        <p class="seller-line">
          ${Avatar({ name: auction.seller })} Sold by <strong>${auction.seller}</strong>
        </p>
      </div>
    </div>
    <div class="room-grid">
      <div class="room-main">
        ${auction.description !== "" && html`<div class="card description"><p>${auction.description}</p></div>`}
        <${History} auction=${auction} bids=${room.state.bids} />
      </div>
      <aside class="room-side">
        <${PricePanel}
          auction=${auction}
          bids=${room.state.bids}
          minimumKnown=${room.state.minimumKnown}
          refresh=${room.refresh}
        />
      </aside>
    </div>
  </section>`;
}

/** The room's state: a snapshot, live events on top, fetched again when stale, on resync and while polling. */
function useRoom(id: string): { state: RoomState; error: string | null; refresh: () => void } {
  const [state, setState] = useState<RoomState>(emptyRoom);
  const [error, setError] = useState<string | null>(null);
  const loading = useRef(false);
  const again = useRef(false);
  const me = session.value?.name ?? null;
  const meRef = useRef(me);
  meRef.current = me;

  const load = useCallback(async () => {
    if (loading.current) {
      again.current = true;
      return;
    }
    loading.current = true;
    try {
      const auction = await api.auction(id);
      titles.set(auction.id, { title: auction.title, currency: auction.currency });
      setState((previous) => {
        const next = withSnapshot(previous, auction, auction.bids);
        if (live.mode.value === "polling") noticeOutbid(previous.auction, next.auction, meRef.current);
        return next;
      });
      setError(null);
    } catch (problem) {
      setError(
        problem instanceof ApiError && problem.problem.status === 404
          ? "No such auction."
          : describeError(problem),
      );
    } finally {
      loading.current = false;
      if (again.current) {
        again.current = false;
        void load();
      }
    }
  }, [id]);

  useEffect(() => {
    setState(emptyRoom);
    const stop = onStreamEvent((event) => {
      if ("auctionId" in event && event.auctionId === id) setState((previous) => withEvent(previous, event));
    });
    void load();
    return stop;
  }, [id, load]);

  const pollTick = live.pollTick.value;
  const resyncs = resyncTick.value;
  useEffect(() => {
    if (pollTick > 0 || resyncs > 0) void load();
  }, [pollTick, resyncs, load]);

  useEffect(() => {
    if (!state.stale) return;
    const timer = setTimeout(() => void load(), 150);
    return () => clearTimeout(timer);
  }, [state.stale, state.auction?.version, load]);

  // The close is applied by the auction's worker shortly after the deadline; ask if it is late.
  const closing = state.auction !== null && displayStatus(state.auction, now.value) === "closing";
  useEffect(() => {
    if (!closing) return;
    const timer = setInterval(() => void load(), 2000);
    return () => clearInterval(timer);
  }, [closing, load]);

  return { state, error, refresh: () => void load() };
}

/** While polling, the room itself notices that the user lost the lead (the stream would say so). */
function noticeOutbid(before: Auction | null, after: Auction | null, me: string | null): void {
  if (me === null || before === null || after === null) return;
  if (before.highBidder === me && after.highBidder !== me && after.highBidder !== null) {
    const price = after.price === null ? "" : ` at ${formatMoney(after.price, after.currency)}`;
    toast("warning", "You have been outbid", `${after.highBidder} leads ${after.title}${price}.`);
  }
}

function PricePanel(props: {
  auction: Auction;
  bids: BidLine[];
  minimumKnown: boolean;
  refresh: () => void;
}): VNode {
  const auction = props.auction;
  const me = session.value?.name ?? null;
  const status = displayStatus(auction, now.value);
  const ended = status === "closed" || status === "cancelled";
  const leading = me !== null && auction.highBidder === me;
  return html`<div class=${`card price-panel ${leading && !ended ? "leading" : ""}`}>
    <div class="panel-row">
      <span class="label"
        >${auction.price === null ? "Starting price" : ended ? "Final price" : "Current bid"}</span
      >
      <${Countdown} auction=${auction} large=${true} />
    </div>
    <div class="panel-price" data-testid="price">
      ${Money({ amount: auction.price ?? auction.startingPrice, currency: auction.currency, class: "price-large" })}
    </div>
    ${!ended && HighBidder({ auction, me, bids: props.bids })}
    ${
      auction.closesAt > auction.originalClosesAt &&
      !ended &&
      html`<p class="hint">
        ${Icon({ name: "bolt" })} Extended by late bids · closes ${formatClock(auction.closesAt)}
      </p>`
    }
    ${
      auction.closesAt <= auction.originalClosesAt &&
      !ended &&
      html`<p class="hint">Closes at ${formatClock(auction.closesAt)}</p>`
    }
    ${
      auction.hasReserve &&
      html`<p class=${`hint ${auction.reserveMet ? "ok" : ""}`}>
        ${auction.reserveMet ? "Reserve met" : "Reserve not met yet"}
      </p>`
    }
    <div class="divider"></div>
    ${
      ended
        ? Result({ auction, me })
        : html`<${BidForm}
            auction=${auction}
            status=${status}
            minimumKnown=${props.minimumKnown}
            refresh=${props.refresh}
          />`
    }
  </div>`;
}

/** Who leads: green when it is you, amber when you bid and someone has outbid you. */
function HighBidder(props: { auction: Auction; me: string | null; bids: BidLine[] }): VNode {
  const { auction, me } = props;
  const leader = auction.highBidder;
  if (leader === null) return html`<p class="high-bidder muted" data-testid="high-bidder">No bids yet</p>`;
  if (leader === me)
    return html`<p class="high-bidder mine" data-testid="high-bidder">
      ${Avatar({ name: leader })}<span><strong>You</strong> are the high bidder</span>
    </p>`;
  const outbid = me !== null && props.bids.some((bid) => bid.bidder === me);
  // One line of text: a line break inside it would reach the DOM's text (htm keeps inner whitespace).
  const note = outbid ? html`<span class="outbid-note"> · you were outbid</span>` : null;
  return html`<p class=${`high-bidder ${outbid ? "outbid" : ""}`} data-testid="high-bidder">
    ${Avatar({ name: leader })}
    <span><strong>${leader}</strong> is the high bidder${note}</span>
  </p>`;
}

function Result(props: { auction: Auction; me: string | null }): VNode {
  const { auction, me } = props;
  const winner = winnerOf(auction);
  if (auction.status === "cancelled")
    return html`<div class="result" data-testid="result"><p>The seller cancelled this auction.</p></div>`;
  if (winner === null)
    return html`<div class="result" data-testid="result">
      <p class="result-title">Ended without a sale</p>
      <p class="muted">
        ${auction.hasReserve && !auction.reserveMet ? "The reserve was not met." : "No bids."}
      </p>
    </div>`;
  const price = auction.outcome?.result === "sold" ? auction.outcome.price : (auction.price ?? 0);
  return html`<div class=${`result sold ${winner === me ? "won" : ""}`} data-testid="result">
    <div class="result-icon">${Icon({ name: "trophy" })}</div>
    <p class="result-title" data-testid="winner" data-winner=${winner}>
      ${winner === me ? "You won!" : html`Sold to <strong>${winner}</strong>`}
    </p>
    <p class="muted">for ${formatMoney(price, auction.currency)}</p>
  </div>`;
}

function BidForm(props: {
  auction: Auction;
  status: Auction["status"];
  minimumKnown: boolean;
  refresh: () => void;
}): VNode {
  const { auction, status, minimumKnown } = props;
  const me = session.value?.name ?? null;
  // What the user typed; null shows the next minimum, so the field follows it without a lag.
  const [typed, setTyped] = useState<string | null>(null);
  const [withMax, setWithMax] = useState(false);
  const [max, setMax] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const amount = typed ?? inputAmount(auction.minimumBid, auction.currency);

  // An amount the user typed that no longer qualifies gives way to the new minimum.
  useEffect(() => {
    const parsed = typed === null ? null : parseMoney(typed, auction.currency);
    if (parsed?.ok === true && parsed.minorUnits < auction.minimumBid) setTyped(null);
  }, [auction.minimumBid]);

  if (me === null)
    return html`<a
      class="button primary block"
      href=${`#/login?next=${encodeURIComponent(`#/auctions/${auction.id}`)}`}
      >Sign in to bid</a
    >`;
  if (me === auction.seller)
    return html`<div class="seller-note">
      <p><strong>This is your auction.</strong> You can watch the bids come in.</p>
      ${auction.bidCount === 0 && status === "open" && html`<${CancelButton} auction=${auction} />`}
    </div>`;

  const submit = async (event: Event) => {
    event.preventDefault();
    const parsedAmount = parseMoney(amount, auction.currency);
    if (!parsedAmount.ok) return setError(`Amount: ${parsedAmount.reason}.`);
    if (parsedAmount.minorUnits < auction.minimumBid)
      return setError(`The minimum bid is ${formatMoney(auction.minimumBid, auction.currency)}.`);
    const parsedMax = withMax && max.trim() !== "" ? parseMoney(max, auction.currency) : null;
    if (parsedMax !== null && !parsedMax.ok) return setError(`Maximum: ${parsedMax.reason}.`);
    if (parsedMax?.ok && parsedMax.minorUnits < parsedAmount.minorUnits)
      return setError("Your maximum must be at least your bid.");
    setBusy(true);
    setError(null);
    try {
      const answer = await api.bid(auction.id, {
        amount: parsedAmount.minorUnits,
        bidId: newBidId(),
        ...(parsedMax?.ok ? { max: parsedMax.minorUnits } : {}),
      });
      setTyped(null);
      setMax("");
      if (answer.leading)
        toast(
          "success",
          "You are the high bidder",
          `${formatMoney(answer.price, auction.currency)} on ${auction.title}.`,
        );
      else
        toast(
          "warning",
          "Outbid at once",
          `Another bidder's maximum is higher: ${formatMoney(answer.price, auction.currency)} now leads.`,
        );
    } catch (problem) {
      setError(bidError(problem, auction));
      // The minimum may have moved on: fetch it, so the field shows the new one.
      props.refresh();
    } finally {
      setBusy(false);
    }
  };

  const steps = quickAmounts(auction);
  return html`<form class="bid-form" onSubmit=${submit} data-testid="bid-form">
    <label class="field">
      <span class="field-label">Your bid</span>
      <span class="money-input">
        <input
          name="amount"
          inputmode="decimal"
          autocomplete="off"
          data-testid="bid-amount"
          value=${amount}
          onInput=${(event: Event) => setTyped((event.target as HTMLInputElement).value)}
        />
        <span class="suffix">${auction.currency}</span>
      </span>
      <span class="field-help">Minimum ${formatMoney(auction.minimumBid, auction.currency)}</span>
    </label>
    <div class="quick">
      ${steps.map(
        (step) =>
          html`<button
            type="button"
            class="chip-button"
            onClick=${() => setTyped(inputAmount(step, auction.currency))}
          >
            ${inputAmount(step, auction.currency)}
          </button>`,
      )}
    </div>
    <label class="toggle">
      <input
        type="checkbox"
        checked=${withMax}
        onChange=${(event: Event) => setWithMax((event.target as HTMLInputElement).checked)}
      />
      <span>Bid automatically up to a maximum</span>
    </label>
    ${
      withMax &&
      html`<label class="field">
        <span class="money-input">
          <input
            name="max"
            inputmode="decimal"
            autocomplete="off"
            placeholder="Your maximum"
            data-testid="bid-max"
            value=${max}
            onInput=${(event: Event) => setMax((event.target as HTMLInputElement).value)}
          />
          <span class="suffix">${auction.currency}</span>
        </span>
        <span class="field-help"
          >Others see only what it takes to beat them; we bid for you up to this amount.</span
        >
      </label>`
    }
    ${error !== null && html`<p class="form-error" role="alert">${error}</p>`}
    <button
      class="button primary block large"
      type="submit"
      disabled=${busy || !minimumKnown || status !== "open"}
      data-testid="bid-submit"
    >
      ${submitLabel(busy, minimumKnown, status)}
    </button>
  </form>`;
}

function submitLabel(busy: boolean, minimumKnown: boolean, status: Auction["status"]): string {
  if (busy) return "Placing bid…";
  if (status === "scheduled") return "Not open yet";
  if (status !== "open") return "Bidding has ended";
  return minimumKnown ? "Place bid" : "Updating…";
}

/** The next minimum and two bolder steps, for one-tap bids. */
function quickAmounts(auction: Auction): number[] {
  const step =
    auction.price === null
      ? Math.max(1, Math.round(auction.minimumBid / 10))
      : auction.minimumBid - auction.price;
  const minimum = auction.minimumBid;
  return [minimum, minimum + step * 2, minimum + step * 5].filter(
    (value, index, all) => all.indexOf(value) === index,
  );
}

function bidError(problem: unknown, auction: Auction): string {
  if (!(problem instanceof ApiError)) return describeError(problem);
  switch (problem.problem.code) {
    case "below-minimum":
      return "Someone was faster: the minimum has gone up. Try again with the new amount.";
    case "auction-closed":
      return "Bidding has ended.";
    case "own-auction":
      return "You cannot bid on your own auction.";
    case "unauthenticated":
      return "Your session has expired. Please sign in again.";
    case "outcome-unknown":
      return "The cluster did not confirm your bid in time. Check the history before bidding again.";
    default:
      return problem.message || `${auction.title}: the bid was refused.`;
  }
}

function CancelButton(props: { auction: Auction }): VNode {
  const [busy, setBusy] = useState(false);
  const cancel = async () => {
    setBusy(true);
    try {
      await api.cancelAuction(props.auction.id);
      toast("info", "Auction cancelled");
    } catch (problem) {
      toast("error", "Could not cancel", describeError(problem));
    } finally {
      setBusy(false);
    }
  };
  return html`<button class="button subtle block" disabled=${busy} onClick=${cancel}>Cancel auction</button>`;
}

function History(props: { auction: Auction; bids: BidLine[] }): VNode {
  const me = session.value?.name ?? null;
  const rows = props.bids.map((bid, position) => ({ bid, position })).reverse();
  const top = rows[0]?.bid.bidder;
  const ended = props.auction.status === "closed" || props.auction.status === "cancelled";
  const topTag =
    top === undefined || top !== props.auction.highBidder
      ? null
      : !ended
        ? "leading"
        : winnerOf(props.auction) === top
          ? "winning bid"
          : null;
  return html`<div class="card history">
    <div class="history-head">
      <h2>Bid history</h2>
      <span class="muted" data-testid="bid-count"
        >${props.bids.length} ${props.bids.length === 1 ? "bid" : "bids"}</span
      >
    </div>
    ${
      rows.length === 0
        ? html`<p class="muted empty-history">No bids yet. Be the first.</p>`
        : html`<ol class="history-list" data-testid="history">
            ${rows.map(
              ({ bid, position }, row) =>
                html`<li
                  key=${position}
                  class=${`history-row ${row === 0 ? "top" : ""} ${bid.bidder === me ? "mine" : ""}`}
                  data-testid="bid-row"
                  data-bidder=${bid.bidder}
                  data-amount=${bid.amount}
                >
                  ${Avatar({ name: bid.bidder })}
                  <span class="history-who">
                    <strong>${bid.bidder === me ? "You" : bid.bidder}</strong>
                    ${bid.automatic && html`<span class="tag" title="Placed by the proxy for a maximum">auto</span>`}
                    ${row === 0 && topTag !== null && html`<span class="tag lead">${topTag}</span>`}
                  </span>
                  <span class="history-time">${formatClock(bid.at)}</span>
                  ${Money({ amount: bid.amount, currency: props.auction.currency, class: "history-amount" })}
                </li>`,
            )}
          </ol>`
    }
  </div>`;
}
