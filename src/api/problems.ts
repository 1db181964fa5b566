// Errors as application/problem+json (RFC 9457): a stable `code` that programs can rely on and a
// human `detail`. Engine rejection reasons and cluster failures map to HTTP statuses here, in one
// table, so that every endpoint answers the same way.
import type { RejectionReason } from "../core/auction/types.js";
import type { ClientFailure, ClientRequest } from "../core/cluster/types.js";

export interface Problem {
  status: number;
  code: string;
  title: string;
  detail: string;
  /** Seconds, for 503. */
  retryAfterS?: number;
}

const engineStatus: Record<RejectionReason, number> = {
  "invalid-command": 400,
  "invalid-amount": 400,
  "invalid-auction": 400,
  "unknown-auction": 404,
  "own-auction": 403,
  "not-seller": 403,
  "below-minimum": 409,
  "not-open": 409,
  "has-bids": 409,
  "auction-exists": 409,
  "too-many-bids": 409,
  "too-many-auctions": 503,
  "close-too-early": 409,
  "auction-closed": 410,
  "auction-cancelled": 410,
  "bid-id-reused": 422,
};

const titles: Record<string, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  410: "Gone",
  413: "Payload Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export function problem(status: number, code: string, detail: string, retryAfterS?: number): Problem {
  const result: Problem = { status, code, title: titles[status] ?? "Error", detail };
  if (retryAfterS !== undefined) result.retryAfterS = retryAfterS;
  return result;
}

/** A rule of the auction engine said no. */
export function engineProblem(reason: RejectionReason, message: string): Problem {
  const status = engineStatus[reason];
  return problem(status, reason, message, status === 503 ? 1 : undefined);
}

/**
 * The cluster could not give a definite answer. `retry` says how to find out after an unknown
 * outcome (only a bid carries an idempotency key; a creation or registration sent again is new).
 */
export function clusterProblem(
  reason: ClientFailure,
  detail: string,
  retry = "look for its effect before sending it again",
): Problem {
  switch (reason) {
    case "unavailable":
      return problem(503, "unavailable", detail, 1);
    case "outcome-unknown":
      return problem(504, "outcome-unknown", `${detail}; ${retry}`);
    case "invalid":
      return problem(400, "invalid-request", detail);
  }
}

/** The JSON body of a problem response. */
export function problemBody(problem: Problem): Record<string, unknown> {
  return {
    type: "about:blank",
    title: problem.title,
    status: problem.status,
    code: problem.code,
    detail: problem.detail,
  };
}

/** What a client should do after an unknown outcome of `request`. */
export function retryAdvice(request: ClientRequest): string | undefined {
  if (request.kind !== "auction") return undefined;
  // A bid carries its bidId; a cancel or close repeated changes nothing more.
  return request.command.type === "place-bid" ? "retry with the same bidId" : "retry it";
}
