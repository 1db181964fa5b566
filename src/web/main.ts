/// <reference lib="dom" />
// The page's entry point: renders the view of the current route, starts the live stream, learns the
// cluster's nodes (for failover), and turns outbid notices into toasts wherever the user is.
import { html } from "htm/preact";
import { render } from "preact";
import type { VNode } from "preact";
import { formatMoney } from "./money.js";
import { api, live, onStreamEvent, refreshCluster, route, session, titles, toast } from "./store.js";
import { AuctionList } from "./views/auction-list.js";
import { AuctionRoom } from "./views/auction-room.js";
import { CreateAuction } from "./views/create-auction.js";
import { Dashboard } from "./views/dashboard.js";
import { Header, Toasts } from "./views/layout.js";
import { Login } from "./views/login.js";

/** How often the page asks for the cluster's members, so it knows where to go when its node dies. */
const clusterRefreshMs = 10_000;

function App(): VNode {
  const current = route.value;
  let view: VNode;
  switch (current.name) {
    case "room":
      view = html`<${AuctionRoom} key=${current.id} id=${current.id} />`;
      break;
    case "create":
      view = html`<${CreateAuction} />`;
      break;
    case "login":
      view = html`<${Login} next=${current.next} />`;
      break;
    case "cluster":
      view = html`<${Dashboard} />`;
      break;
    case "list":
      view = html`<${AuctionList} filter=${current.filter} />`;
      break;
  }
  return html`<${Header} />
    <main class="main">${view}</main>
    <${Toasts} />`;
}

onStreamEvent((event) => {
  if (event.type === "created" && event.title !== undefined && !titles.has(event.auctionId)) {
    titles.set(event.auctionId, { title: event.title });
  }
  if (event.type !== "outbid") return;
  const me = session.value?.name;
  if (me === undefined || (event.bidder !== undefined && event.bidder !== me)) return;
  const known = titles.get(event.auctionId);
  const price = known?.currency === undefined ? "" : ` at ${formatMoney(event.price, known.currency)}`;
  toast(
    "warning",
    "You have been outbid",
    `${event.highBidder} leads ${known?.title ?? "an auction you bid on"}${price}.`,
    `#/auctions/${event.auctionId}`,
  );
});

render(html`<${App} />`, document.getElementById("app")!);
// A remembered session may have expired meanwhile: a refused token signs the page out (see store.ts).
if (session.value !== null) api.me().catch(() => undefined);
void refreshCluster().then(() => live.start());
setInterval(() => void refreshCluster(), clusterRefreshMs);
