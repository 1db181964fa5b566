/// <reference lib="dom" />
// The page's shared state, as signals: the session (kept in localStorage), the route, the clock, the
// cluster view, toasts, and the one HTTP client and live stream every view uses. Views subscribe to
// stream events here; nothing else talks to the network.
import { signal } from "@preact/signals";
import { Api, Endpoints } from "./api.js";
import { LiveStream } from "./live.js";
import type { ClusterView, Session, StreamEvent } from "./types.js";

const sessionKey = "gavel.session";

function loadSession(): Session | null {
  try {
    const value = JSON.parse(localStorage.getItem(sessionKey) ?? "null") as Session | null;
    if (value === null || typeof value.token !== "string" || typeof value.name !== "string") return null;
    if (value.expiresAt !== null && value.expiresAt <= Date.now()) return null;
    return value;
  } catch {
    return null;
  }
}

export const session = signal<Session | null>(loadSession());

/** Signs in (or out, with null): remembered across reloads, and the stream follows the new user. */
export function setSession(next: Session | null): void {
  session.value = next;
  if (next === null) localStorage.removeItem(sessionKey);
  else localStorage.setItem(sessionKey, JSON.stringify(next));
  live.resubscribe();
}

export const endpoints = new Endpoints(location.origin);
export const api = new Api(
  endpoints,
  () => session.value?.token ?? null,
  () => {
    setSession(null);
    toast("info", "Your session has ended", "Sign in again to bid.", "#/login");
  },
);

/** Now, in ms, ticking four times a second for countdowns. */
export const now = signal(Date.now());
setInterval(() => (now.value = Date.now()), 250);

export const cluster = signal<ClusterView | null>(null);
export const leader = signal<{ term: number; leader: number | null } | null>(null);
/** Grows by one whenever views must fetch their state again (first connection, resync, end of polling). */
export const resyncTick = signal(0);

export interface Toast {
  id: number;
  kind: "info" | "success" | "warning" | "error";
  title: string;
  body?: string;
  href?: string;
}

export const toasts = signal<Toast[]>([]);
let toastCount = 0;

export function toast(kind: Toast["kind"], title: string, body?: string, href?: string): void {
  const item: Toast = { id: ++toastCount, kind, title, body, href };
  toasts.value = [...toasts.value, item].slice(-4);
  setTimeout(() => dismissToast(item.id), kind === "error" ? 8000 : 6000);
}

export function dismissToast(id: number): void {
  toasts.value = toasts.value.filter((item) => item.id !== id);
}

/** Titles and currencies of auctions the page has seen, for notices about auctions not on screen. */
export const titles = new Map<string, { title: string; currency?: string }>();

type EventListener = (event: StreamEvent, index: number) => void;
const listeners = new Set<EventListener>();

/** Calls `listener` with every live event until the returned function is called. */
export function onStreamEvent(listener: EventListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const live = new LiveStream(endpoints, () => session.value?.token ?? null, {
  event(event, index) {
    for (const listener of listeners) listener(event, index);
  },
  resync() {
    resyncTick.value++;
  },
  leader(term, leaderId) {
    leader.value = { term, leader: leaderId };
  },
});

/** Fetches the cluster view and learns the nodes' addresses, for failover. */
export async function refreshCluster(): Promise<ClusterView | null> {
  try {
    const view = await api.cluster();
    endpoints.learn(view.nodes);
    cluster.value = view;
    return view;
  } catch {
    return null;
  }
}

export type Route =
  | { name: "list"; filter: "open" | "closed" | "mine" | "all" }
  | { name: "room"; id: string }
  | { name: "create" }
  | { name: "login"; next: string }
  | { name: "cluster" };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  const [pathname = "/", query = ""] = path.split("?");
  const parts = pathname.split("/").filter((part) => part !== "");
  if (parts[0] === "auctions" && parts[1] !== undefined)
    return { name: "room", id: decodeURIComponent(parts[1]) };
  if (parts[0] === "new") return { name: "create" };
  if (parts[0] === "cluster") return { name: "cluster" };
  if (parts[0] === "login") return { name: "login", next: new URLSearchParams(query).get("next") ?? "#/" };
  const filter = parts[0] === "closed" || parts[0] === "mine" || parts[0] === "all" ? parts[0] : "open";
  return { name: "list", filter };
}

export const route = signal<Route>(parseRoute(location.hash));
window.addEventListener("hashchange", () => (route.value = parseRoute(location.hash)));

export function navigate(hash: string): void {
  location.hash = hash;
}
