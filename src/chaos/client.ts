// HTTP for the chaos clients: one request, its answer classified as a definite outcome (2xx, or a
// refusal or rejection that says nothing happened) or an unknown one (timeout, 504, 5xx, a
// connection lost after the request may have left). A refused connection is definite: the request
// never reached a node.
import { Agent, request } from "node:http";
import type { OperationOutcome } from "./history.js";

export interface Answer {
  outcome: OperationOutcome;
  status: number;
  body: Record<string, unknown>;
}

/** Keep-alive agents per node URL, so the load does not churn through ephemeral ports. */
const agents = new Map<string, Agent>();

function agentFor(url: string): Agent {
  const origin = new URL(url).origin;
  let agent = agents.get(origin);
  if (agent === undefined) {
    agent = new Agent({ keepAlive: true, maxSockets: 64 });
    agents.set(origin, agent);
  }
  return agent;
}

/** Closes every kept-alive connection (at the end of a run). */
export function closeAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

/** Sends one request and classifies its answer; never throws. */
export function send(
  url: string,
  init: { method?: string; body?: unknown; token?: string; timeoutMs: number },
): Promise<Answer> {
  const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
  const headers: Record<string, string> = {};
  if (payload !== undefined) headers["content-type"] = "application/json";
  if (init.token !== undefined) headers["authorization"] = `Bearer ${init.token}`;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const unknown = (reason: string): Answer => ({
      outcome: { kind: "unknown", reason },
      status: 0,
      body: {},
    });
    const req = request(url, {
      method: init.method ?? (payload === undefined ? "GET" : "POST"),
      headers,
      agent: agentFor(url),
    });
    const timer = setTimeout(() => {
      finish(unknown(`no answer within ${init.timeoutMs} ms`));
      req.destroy();
    }, init.timeoutMs);
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNREFUSED") {
        finish({ outcome: { kind: "failed", status: 0, reason: "connection-refused" }, status: 0, body: {} });
      } else {
        finish(unknown(error.code ?? error.message));
      }
    });
    req.on("response", (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("error", (error: NodeJS.ErrnoException) => finish(unknown(error.code ?? error.message)));
      response.on("end", () => finish(classify(response.statusCode ?? 0, text)));
    });
    req.end(payload);
  });
}

function classify(status: number, text: string): Answer {
  let body: Record<string, unknown>;
  try {
    body = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = { code: "unparsable-body" };
  }
  const code = typeof body["code"] === "string" ? body["code"] : `http-${status}`;
  if (status >= 200 && status < 300) return { outcome: { kind: "ok" }, status, body };
  // 503 means nothing happened; every other 5xx (504 outcome-unknown above all) may have.
  if (status >= 500 && status !== 503)
    return { outcome: { kind: "unknown", reason: `${status} ${code}` }, status, body };
  return { outcome: { kind: "failed", status, reason: code }, status, body };
}
