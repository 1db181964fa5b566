/// <reference lib="dom" />
// The auction list: open, closed, or the user's own (selling or bidding), newest first. Prices and
// countdowns follow the live stream; a new or closed auction makes the list fetch itself again.
import { html } from "htm/preact";
import type { VNode } from "preact";
import { useEffect, useState } from "preact/hooks";
import { displayStatus, winnerOf } from "../room-model.js";
import { api, live, now, onStreamEvent, resyncTick, session, titles } from "../store.js";
import type { Auction, ListFilter } from "../types.js";
import { Avatar, Countdown, Icon, Money, describeError } from "./common.js";

const tabs: { filter: ListFilter; label: string }[] = [
  { filter: "open", label: "Live now" },
  { filter: "closed", label: "Ended" },
  { filter: "mine", label: "Mine" },
  { filter: "all", label: "All" },
];

export function AuctionList(props: { filter: ListFilter }): VNode {
  const [items, setItems] = useState<Auction[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reloads, setReloads] = useState(0);
  const signedIn = session.value !== null;
  const filter = props.filter === "mine" && !signedIn ? "open" : props.filter;
  const pollTick = live.pollTick.value;
  const resyncs = resyncTick.value;

  useEffect(() => {
    let current = true;
    api.list(filter).then(
      (page) => {
        if (!current) return;
        for (const item of page.items) titles.set(item.id, { title: item.title, currency: item.currency });
        setItems(page.items);
        setError(null);
      },
      (problem: unknown) => current && setError(describeError(problem)),
    );
    return () => {
      current = false;
    };
  }, [filter, reloads, pollTick, resyncs, session.value?.token]);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const reloadSoon = () => {
      if (timer === null) timer = setTimeout(() => ((timer = null), setReloads((count) => count + 1)), 300);
    };
    const stop = onStreamEvent((event) => {
      if (event.type === "created" || event.type === "closed" || event.type === "cancelled") reloadSoon();
      else if (event.type === "bid" || event.type === "extended")
        setItems((list) =>
          list === null
            ? list
            : list.map((item) =>
                item.id !== event.auctionId || item.version >= event.version
                  ? item
                  : event.type === "bid"
                    ? {
                        ...item,
                        price: event.price,
                        highBidder: event.highBidder,
                        closesAt: event.closesAt,
                        bidCount: item.bidCount + (event.lines?.length ?? 1),
                        version: event.version,
                      }
                    : { ...item, closesAt: event.closesAt, version: event.version },
              ),
        );
    });
    return () => {
      stop();
      if (timer !== null) clearTimeout(timer);
    };
  }, []);

  return html`<section class="page">
    <div class="page-head">
      <div>
        <h1>Auctions</h1>
        <p class="lede">Bid live. Every bid is replicated across the cluster before it counts.</p>
      </div>
      <a class="button primary" href="#/new">${Icon({ name: "plus" })} Sell something</a>
    </div>
    <nav class="tabs" aria-label="Filter auctions">
      ${tabs
        .filter((tab) => tab.filter !== "mine" || signedIn)
        .map(
          (tab) =>
            html`<a class=${`tab ${tab.filter === filter ? "active" : ""}`} href=${`#/${tab.filter}`}
              >${tab.label}</a
            >`,
        )}
    </nav>
    ${error !== null && html`<div class="notice error">${error}</div>`}
    ${items === null && error === null && html`<div class="grid">${[0, 1, 2].map(() => html`<div class="card skeleton"></div>`)}</div>`}
    ${items !== null && items.length === 0 && EmptyList({ filter })}
    ${items !== null && items.length > 0 && html`<div class="grid">${items.map((item) => html`<${AuctionCard} key=${item.id} auction=${item} />`)}</div>`}
  </section>`;
}

function EmptyList(props: { filter: ListFilter }): VNode {
  const text =
    props.filter === "open"
      ? "Nothing is on the block right now."
      : props.filter === "mine"
        ? "You are not selling or bidding on anything yet."
        : "No auctions here yet.";
  return html`<div class="empty">
    <div class="empty-icon">${Icon({ name: "gavel" })}</div>
    <p>${text}</p>
    <a class="button primary" href="#/new">Start an auction</a>
  </div>`;
}

function AuctionCard(props: { auction: Auction }): VNode {
  const auction = props.auction;
  const me = session.value?.name ?? null;
  const status = displayStatus(auction, now.value);
  const ended = status === "closed" || status === "cancelled";
  const winner = winnerOf(auction);
  const leading = me !== null && auction.highBidder === me;
  return html`<a class=${`card auction-card ${leading ? "leading" : ""}`} href=${`#/auctions/${auction.id}`}>
    <div class="card-top">
      <span class="seller">${Avatar({ name: auction.seller })} ${auction.seller}</span>
      <${Countdown} auction=${auction} />
    </div>
    <h3 class="card-title">${auction.title}</h3>
    <div class="card-price">
      <span class="label"
        >${ended ? (winner !== null ? "Sold for" : "Final") : auction.price === null ? "Starting at" : "Current bid"}</span
      >
      ${Money({ amount: auction.price ?? auction.startingPrice, currency: auction.currency, class: "price" })}
    </div>
    <div class="card-foot">
      <span>${auction.bidCount} ${auction.bidCount === 1 ? "bid" : "bids"}</span>
      ${leading && !ended && html`<span class="badge success">${Icon({ name: "check" })} You lead</span>`}
      ${ended && winner !== null && html`<span class="badge">${Icon({ name: "trophy" })} ${winner}</span>`}
      ${!leading && !ended && auction.highBidder !== null && html`<span class="muted">${auction.highBidder} leads</span>`}
    </div>
  </a>`;
}
