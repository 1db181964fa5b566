/// <reference lib="dom" />
// The frame around every view: the header with navigation, the connection indicator and the user,
// and the toasts.
import { html } from "htm/preact";
import type { VNode } from "preact";
import { api, dismissToast, live, route, session, setSession, toasts } from "../store.js";
import { Avatar, Icon } from "./common.js";

export function Header(): VNode {
  const current = route.value.name;
  const user = session.value;
  const signOut = () => {
    // The session ends on the server too; the page forgets the token either way.
    api.logout().catch(() => undefined);
    setSession(null);
  };
  return html`<header class="header">
    <div class="header-inner">
      <a class="brand" href="#/">${Icon({ name: "gavel" })}<span>gavel</span></a>
      <nav class="nav">
        <a class=${current === "list" || current === "room" ? "active" : ""} href="#/">Auctions</a>
        <a class=${current === "create" ? "active" : ""} href="#/new">Sell</a>
        <a class=${current === "cluster" ? "active" : ""} href="#/cluster">Cluster</a>
      </nav>
      <div class="header-right">
        <${Connection} />
        ${
          user === null
            ? html`<a class="button small" href="#/login">Sign in</a>`
            : html`<span class="user" data-testid="user"
                >${Avatar({ name: user.name })}<span class="user-name">${user.name}</span>
                <button class="link sign-out" title="Sign out" onClick=${signOut}>
                  ${Icon({ name: "logout" })}<span>Sign out</span>
                </button></span
              >`
        }
      </div>
    </div>
  </header>`;
}

/** Live (with the node streaming), reconnecting, or polling. */
function Connection(): VNode {
  const mode = live.mode.value;
  const node = live.node.value;
  const label =
    mode === "live"
      ? `Live · node ${node ?? "?"}`
      : mode === "polling"
        ? "Polling"
        : mode === "reconnecting"
          ? "Reconnecting…"
          : "Connecting…";
  return html`<span
    class=${`connection ${mode}`}
    data-testid="connection"
    data-mode=${mode}
    data-node=${node ?? ""}
    ><span class="connection-dot"></span><span class="connection-label">${label}</span></span
  >`;
}

export function Toasts(): VNode {
  return html`<div class="toasts" aria-live="polite">
    ${toasts.value.map(
      (item) =>
        html`<div
          class=${`toast toast-${item.kind}`}
          key=${item.id}
          data-testid="toast"
          data-kind=${item.kind}
        >
          <div class="toast-text">
            <strong>${item.title}</strong>
            ${item.body !== undefined && html`<span>${item.body}</span>`}
            ${item.href !== undefined && html`<a href=${item.href} onClick=${() => dismissToast(item.id)}>Open the auction</a>`}
          </div>
          <button class="toast-close" aria-label="Dismiss" onClick=${() => dismissToast(item.id)}>
            ${Icon({ name: "x" })}
          </button>
        </div>`,
    )}
  </div>`;
}
