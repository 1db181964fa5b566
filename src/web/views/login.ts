/// <reference lib="dom" />
// Sign in or create an account (name and password). The session token is kept in localStorage
// by the store; it expires when the server says so.
import { html } from "htm/preact";
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { ApiError } from "../api.js";
import { api, navigate, setSession, toast } from "../store.js";
import { Icon, describeError } from "./common.js";

export function Login(props: { next: string }): VNode {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (name.trim() === "") return setError("Enter your name.");
    if (password.length < 8) return setError("The password has at least 8 characters.");
    setBusy(true);
    setError(null);
    try {
      const result =
        mode === "login" ? await api.login(name.trim(), password) : await api.register(name.trim(), password);
      setSession({ name: result.name, token: result.token, expiresAt: result.expiresAt ?? null });
      toast("success", mode === "login" ? `Welcome back, ${result.name}` : `Welcome, ${result.name}`);
      navigate(props.next.startsWith("#") ? props.next : "#/");
    } catch (problem) {
      setError(loginError(problem, mode));
    } finally {
      setBusy(false);
    }
  };

  const switchTo = (next: "login" | "register") => () => (setMode(next), setError(null));
  return html`<section class="page narrow login">
    <div class="card form">
      <div class="login-mark">${Icon({ name: "gavel" })}</div>
      <h1>${mode === "login" ? "Sign in to gavel" : "Create your account"}</h1>
      <div class="segmented" role="tablist">
        <button
          type="button"
          role="tab"
          class=${mode === "login" ? "active" : ""}
          onClick=${switchTo("login")}
        >
          Sign in
        </button>
        <button
          type="button"
          role="tab"
          class=${mode === "register" ? "active" : ""}
          onClick=${switchTo("register")}
        >
          Create account
        </button>
      </div>
      <form onSubmit=${submit} data-testid="login-form">
        <label class="field">
          <span class="field-label">Name</span>
          <input
            name="name"
            autocomplete="username"
            value=${name}
            onInput=${(event: Event) => setName((event.target as HTMLInputElement).value)}
          />
        </label>
        <label class="field">
          <span class="field-label">Password</span>
          <input
            name="password"
            type="password"
            autocomplete=${mode === "login" ? "current-password" : "new-password"}
            value=${password}
            onInput=${(event: Event) => setPassword((event.target as HTMLInputElement).value)}
          />
          ${mode === "register" && html`<span class="field-help">At least 8 characters.</span>`}
        </label>
        ${error !== null && html`<p class="form-error" role="alert">${error}</p>`}
        <button class="button primary block large" type="submit" disabled=${busy} data-testid="login-submit">
          ${busy ? "One moment…" : mode === "login" ? "Sign in" : "Create account"}
        </button>
      </form>
    </div>
  </section>`;
}

function loginError(problem: unknown, mode: "login" | "register"): string {
  if (!(problem instanceof ApiError)) return describeError(problem);
  if (problem.problem.code === "bad-credentials") return "That name and password do not match.";
  if (problem.problem.code === "name-taken") return "That name is taken. Sign in, or pick another.";
  if (mode === "register" && problem.problem.status === 0) return "No node answered. Try again.";
  return problem.message;
}
