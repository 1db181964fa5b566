/// <reference lib="dom" />
// The form that starts an auction. Amounts are typed as money and sent in minor units; the
// request is sent once (creating is not repeatable), so a failure asks the user to try again.
import { html } from "htm/preact";
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { parseMoney } from "../money.js";
import { api, navigate, session, toast } from "../store.js";
import { Icon, describeError } from "./common.js";

const currencies = ["EUR", "USD", "GBP", "CHF", "SEK", "JPY"];
const units = { seconds: 1000, minutes: 60_000, hours: 3_600_000, days: 86_400_000 } as const;
type Unit = keyof typeof units;

interface Draft {
  title: string;
  description: string;
  currency: string;
  startingPrice: string;
  increment: string;
  duration: string;
  unit: Unit;
  reserve: string;
  buyNow: string;
  softClose: boolean;
}

const initialDraft: Draft = {
  title: "",
  description: "",
  currency: "EUR",
  startingPrice: "10.00",
  increment: "1.00",
  duration: "1",
  unit: "days",
  reserve: "",
  buyNow: "",
  softClose: true,
};

/** The request body for `draft`, or the first thing wrong with it. */
function bodyOf(draft: Draft): { ok: true; body: Record<string, unknown> } | { ok: false; reason: string } {
  if (draft.title.trim() === "") return { ok: false, reason: "Give your auction a title." };
  const startingPrice = parseMoney(draft.startingPrice, draft.currency);
  if (!startingPrice.ok) return { ok: false, reason: `Starting price: ${startingPrice.reason}.` };
  const increment = parseMoney(draft.increment, draft.currency);
  if (!increment.ok) return { ok: false, reason: `Bid increment: ${increment.reason}.` };
  const duration = Number(draft.duration);
  if (!Number.isFinite(duration) || duration <= 0)
    return { ok: false, reason: "Duration: a positive number." };
  const body: Record<string, unknown> = {
    title: draft.title.trim(),
    description: draft.description.trim(),
    currency: draft.currency,
    startingPrice: startingPrice.minorUnits,
    minIncrement: increment.minorUnits,
    durationMs: Math.round(duration * units[draft.unit]),
  };
  if (draft.reserve.trim() !== "") {
    const reserve = parseMoney(draft.reserve, draft.currency);
    if (!reserve.ok) return { ok: false, reason: `Reserve: ${reserve.reason}.` };
    body["reservePrice"] = reserve.minorUnits;
  }
  if (draft.buyNow.trim() !== "") {
    const buyNow = parseMoney(draft.buyNow, draft.currency);
    if (!buyNow.ok) return { ok: false, reason: `Buy-now price: ${buyNow.reason}.` };
    body["buyNowPrice"] = buyNow.minorUnits;
  }
  if (!draft.softClose) body["softClose"] = null;
  return { ok: true, body };
}

export function CreateAuction(): VNode {
  const [draft, setDraft] = useState<Draft>(initialDraft);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (session.value === null)
    return html`<section class="page narrow">
      <div class="card centered">
        <h1>Sell something</h1>
        <p class="muted">Sign in to start an auction.</p>
        <a class="button primary" href=${`#/login?next=${encodeURIComponent("#/new")}`}>Sign in</a>
      </div>
    </section>`;

  const field =
    (key: keyof Draft) =>
    (event: Event): void => {
      const target = event.target as HTMLInputElement;
      setDraft({ ...draft, [key]: target.type === "checkbox" ? target.checked : target.value });
    };
  const submit = async (event: Event) => {
    event.preventDefault();
    const built = bodyOf(draft);
    if (!built.ok) return setError(built.reason);
    setBusy(true);
    setError(null);
    try {
      const auction = await api.createAuction(built.body);
      toast("success", "Your auction is live", auction.title);
      navigate(`#/auctions/${auction.id}`);
    } catch (problem) {
      setError(describeError(problem));
    } finally {
      setBusy(false);
    }
  };

  return html`<section class="page narrow">
    <a class="back" href="#/">${Icon({ name: "arrow" })} All auctions</a>
    <div>
      <h1>Sell something</h1>
      <p class="lede">
        Set a starting price and a deadline. Bidders see the next minimum; you see every bid live.
      </p>
    </div>
    <form class="card form" onSubmit=${submit} data-testid="create-form">
      <label class="field">
        <span class="field-label">Title</span>
        <input
          name="title"
          maxlength="200"
          value=${draft.title}
          onInput=${field("title")}
          placeholder="Mid-century desk lamp"
        />
      </label>
      <label class="field">
        <span class="field-label">Description <span class="optional">optional</span></span>
        <textarea
          name="description"
          rows="3"
          maxlength="5000"
          value=${draft.description}
          onInput=${field("description")}
        ></textarea>
      </label>
      <div class="field-row">
        <label class="field">
          <span class="field-label">Starting price</span>
          <input
            name="startingPrice"
            inputmode="decimal"
            value=${draft.startingPrice}
            onInput=${field("startingPrice")}
          />
        </label>
        <label class="field">
          <span class="field-label">Bid increment</span>
          <input
            name="increment"
            inputmode="decimal"
            value=${draft.increment}
            onInput=${field("increment")}
          />
        </label>
        <label class="field small">
          <span class="field-label">Currency</span>
          <select name="currency" value=${draft.currency} onChange=${field("currency")}>
            ${currencies.map((code) => html`<option value=${code}>${code}</option>`)}
          </select>
        </label>
      </div>
      <div class="field-row">
        <label class="field">
          <span class="field-label">Runs for</span>
          <input name="duration" inputmode="decimal" value=${draft.duration} onInput=${field("duration")} />
        </label>
        <label class="field">
          <span class="field-label">Unit</span>
          <select name="unit" value=${draft.unit} onChange=${field("unit")}>
            ${Object.keys(units).map((unit) => html`<option value=${unit}>${unit}</option>`)}
          </select>
        </label>
      </div>
      <div class="field-row">
        <label class="field">
          <span class="field-label">Reserve price <span class="optional">optional</span></span>
          <input
            name="reserve"
            inputmode="decimal"
            value=${draft.reserve}
            onInput=${field("reserve")}
            placeholder="Hidden from bidders"
          />
        </label>
        <label class="field">
          <span class="field-label">Buy-now price <span class="optional">optional</span></span>
          <input name="buyNow" inputmode="decimal" value=${draft.buyNow} onInput=${field("buyNow")} />
        </label>
      </div>
      <label class="toggle">
        <input type="checkbox" name="softClose" checked=${draft.softClose} onChange=${field("softClose")} />
        <span>Soft close: a bid in the last 30 seconds adds 30 seconds (at most 10 minutes)</span>
      </label>
      ${error !== null && html`<p class="form-error" role="alert">${error}</p>`}
      <button class="button primary large" type="submit" disabled=${busy} data-testid="create-submit">
        ${busy ? "Starting…" : "Start auction"}
      </button>
    </form>
  </section>`;
}
