/// <reference lib="dom" />
// The cluster dashboard: term, leader, every node with its role and liveness, and which worker runs
// which auction. It fetches GET /api/cluster every two seconds (liveness is not an event) and at
// once when the stream reports a leader change, a member change or a reassignment.
import { html } from "htm/preact";
import type { VNode } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, cluster, leader, live, onStreamEvent, refreshCluster } from "../store.js";
import type { Auction, ClusterNode, ClusterView } from "../types.js";
import { Countdown, Icon, Money } from "./common.js";

const refreshIntervalMs = 2000;

export function Dashboard(): VNode {
  const auctions = useOpenAuctions();
  useEffect(() => {
    void refreshCluster();
    const timer = setInterval(() => void refreshCluster(), refreshIntervalMs);
    const stop = onStreamEvent((event) => {
      if (event.type === "reassigned" || event.type === "node-joined" || event.type === "node-left")
        void refreshCluster();
    });
    return () => {
      clearInterval(timer);
      stop();
    };
  }, []);
  const leaderSeen = leader.value;
  useEffect(() => void refreshCluster(), [leaderSeen?.term, leaderSeen?.leader]);

  const view = cluster.value;
  if (view === null)
    return html`<section class="page">
      <h1>Cluster</h1>
      <div class="card skeleton tall"></div>
    </section>`;
  return html`<section class="page dashboard" data-testid="dashboard">
    <div class="page-head">
      <div>
        <h1>Cluster</h1>
        <p class="lede">
          Equal nodes; the highest id leads. Auctions run on workers and move when a worker dies.
        </p>
      </div>
    </div>
    ${Summary({ view })}
    <h2 class="section-title">Nodes</h2>
    <div class="node-grid">
      ${[...view.nodes].sort((a, b) => a.id - b.id).map((node) => NodeCard({ node, view, streaming: live.node.value }))}
    </div>
    <h2 class="section-title">Auctions by worker</h2>
    ${Assignments({ view, auctions })}
  </section>`;
}

function Summary(props: { view: ClusterView }): VNode {
  const { view } = props;
  const alive = view.nodes.filter((node) => node.status === "alive").length;
  const voters = view.voters ?? view.nodes.filter((node) => node.role !== "learner").length;
  const majority = view.majority ?? Math.floor(voters / 2) + 1;
  const canLoseOne = view.canLoseOne ?? alive - 1 >= majority;
  return html`<div class="stats">
    <div class="card stat">
      <span class="label">Leader</span>
      <span class="stat-value" data-testid="leader"
        >${view.leader === null ? "none" : `node ${view.leader}`}</span
      >
    </div>
    <div class="card stat">
      <span class="label">Term</span>
      <span class="stat-value" data-testid="term">${view.term}</span>
    </div>
    <div class="card stat">
      <span class="label">Nodes alive</span>
      <span class="stat-value">${alive}<span class="stat-of"> / ${view.nodes.length}</span></span>
    </div>
    <div class=${`card stat ${canLoseOne ? "healthy" : "at-risk"}`}>
      <span class="label">Fault tolerance</span>
      <span class="stat-value small"
        >${canLoseOne ? "Survives one more failure" : "Cannot lose another node"}</span
      >
      <span class="muted">majority ${majority} of ${voters} voters</span>
    </div>
  </div>`;
}

function NodeCard(props: { node: ClusterNode; view: ClusterView; streaming: number | null }): VNode {
  const { node, streaming } = props;
  return html`<div
    class=${`card node-card node-${node.status} ${node.role === "leader" ? "is-leader" : ""}`}
    data-testid="node"
    data-node=${node.id}
  >
    <div class="node-head">
      <span class="node-name">${Icon({ name: "server" })} Node ${node.id}</span>
      <span class=${`status-dot ${node.status}`} title=${node.status}></span>
    </div>
    <div class="node-role">
      <span class=${`role role-${node.role}`}
        >${node.role === "leader" ? Icon({ name: "crown" }) : null} ${node.role}</span
      >
      <span class=${`liveness ${node.status}`}>${node.status}</span>
      ${node.drained === true && html`<span class="tag">drained</span>`}
    </div>
    <div class="node-auctions">
      <strong>${node.auctions}</strong> ${node.auctions === 1 ? "auction" : "auctions"}
    </div>
    <div class="node-url">${node.http}</div>
    ${streaming === node.id && html`<div class="node-stream">${Icon({ name: "bolt" })} streaming to this page</div>`}
  </div>`;
}

/** The open auctions by id, for titles and prices beside the assignments; follows bids live. */
function useOpenAuctions(): Map<string, Auction> {
  const [auctions, setAuctions] = useState(new Map<string, Auction>());
  const loading = useRef(false);
  const view = cluster.value;
  const unknown = Object.keys(view?.assignments ?? {}).some((id) => !auctions.has(id));
  useEffect(() => {
    if (!unknown || loading.current) return;
    loading.current = true;
    api.list("open", 0, 200).then(
      (page) => {
        loading.current = false;
        setAuctions(new Map(page.items.map((item) => [item.id, item])));
      },
      () => (loading.current = false),
    );
  }, [unknown, view]);
  useEffect(
    () =>
      onStreamEvent((event) => {
        if (event.type !== "bid") return;
        setAuctions((known) => {
          const item = known.get(event.auctionId);
          if (item === undefined || item.version >= event.version) return known;
          const next = new Map(known);
          next.set(item.id, {
            ...item,
            price: event.price,
            closesAt: event.closesAt,
            version: event.version,
          });
          return next;
        });
      }),
    [],
  );
  return auctions;
}

function Assignments(props: { view: ClusterView; auctions: Map<string, Auction> }): VNode {
  const entries = Object.entries(props.view.assignments ?? {}).sort(([, a], [, b]) => a - b);
  if (entries.length === 0) return html`<div class="card"><p class="muted">No open auctions.</p></div>`;
  return html`<div class="card table-card">
    <table class="table">
      <thead>
        <tr>
          <th>Auction</th>
          <th class="numeric">Current bid</th>
          <th>Time left</th>
          <th>Worker</th>
        </tr>
      </thead>
      <tbody>
        ${entries.map(([auctionId, nodeId]) => {
          const auction = props.auctions.get(auctionId);
          return html`<tr>
            <td>
              <a href=${`#/auctions/${auctionId}`}>${auction?.title ?? auctionId}</a>
              <span class="muted id">${auctionId}</span>
            </td>
            <td class="numeric">
              ${
                auction === undefined
                  ? "—"
                  : Money({ amount: auction.price ?? auction.startingPrice, currency: auction.currency })
              }
            </td>
            <td>${auction === undefined ? "—" : html`<${Countdown} auction=${auction} />`}</td>
            <td><span class="pill">${Icon({ name: "server" })} node ${nodeId}</span></td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}
