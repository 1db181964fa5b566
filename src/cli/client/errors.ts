// The errors of the CLI client, each with a stable `code` and a message meant for the terminal as
// one line. An API refusal keeps the node's problem code; the others say what the client could not
// do. `exitCode` is what the process exits with: 1 when refused or misused, 2 when the cluster
// could not be reached or the outcome of a write is unknown (a script may retry those).

export type ClientErrorCode =
  | "api-problem"
  | "unreachable"
  | "outcome-unknown"
  | "not-logged-in"
  | "session-expired"
  | "no-node"
  | "invalid-input"
  | "no-terminal"
  | "bad-response";

export class ClientError extends Error {
  override name = "ClientError";

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

/** The API answered with an application/problem+json refusal. */
export class ApiProblemError extends ClientError {
  override name = "ApiProblemError";

  constructor(
    readonly status: number,
    readonly problemCode: string,
    readonly detail: string,
    readonly nodeUrl: string,
  ) {
    super("api-problem", `${problemCode}: ${detail} (HTTP ${status} from ${nodeUrl})`);
  }
}

/** Every known node failed within the retry budget. */
export class UnreachableError extends ClientError {
  override name = "UnreachableError";

  constructor(message: string) {
    super("unreachable", message, 2);
  }
}

/** A write that is not safe to repeat may or may not have been applied. */
export class OutcomeUnknownError extends ClientError {
  override name = "OutcomeUnknownError";

  constructor(message: string) {
    super("outcome-unknown", message, 2);
  }
}
