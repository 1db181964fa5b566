// `gavel register`, `gavel login`, `gavel logout`: a user's session with the cluster. The token is
// kept in the config file (mode 0600) and never printed; a password is read hidden from the
// terminal or from standard input, never from the command line.
import { Command, Option } from "commander";
import { ClientContext, runClient, withConnectionOptions } from "./context.js";
import type { ConnectionFlags } from "./context.js";
import { ApiProblemError, ClientError, OutcomeUnknownError } from "./errors.js";
import { formatClock, formatRelative } from "./money.js";
import { obtainPassword } from "./password.js";
import { expectDocument, sessionSchema } from "./types.js";

interface PasswordFlags extends ConnectionFlags {
  passwordStdin?: boolean;
  password?: boolean;
}

function passwordOptions(command: Command, register: boolean): Command {
  command.addOption(
    new Option("--password-stdin", "read the password from the first line of standard input"),
  );
  if (register) {
    command.addOption(
      new Option(
        "--no-password",
        "register without a password (the minimum API): the session never expires, and you cannot log in again",
      ),
    );
  }
  return command;
}

function sessionLine(name: string, expiresAt: number | null): string {
  if (expiresAt === null) return `logged in as ${name} (this session does not expire)`;
  const nowMs = Date.now();
  return `logged in as ${name} until ${formatClock(expiresAt, nowMs)} (${formatRelative(expiresAt, nowMs)})`;
}

export function registerCommand(): Command {
  const command = new Command("register")
    .summary("create a user and log in as it (asks for a password)")
    .description(
      "Create a user and log in as it. The password is asked on the terminal (hidden, twice), or read with --password-stdin; the session token is kept in the config directory.",
    )
    .argument("<name>", "the user name");
  passwordOptions(command, true);
  withConnectionOptions(command);
  return command.action(async (name: string, flags: PasswordFlags) => {
    await runClient("register", async () => {
      const password = await obtainPassword(flags, true);
      const context = new ClientContext("register", flags);
      await context.connect();
      let body: unknown;
      try {
        const response = await context.api.send({
          method: "POST",
          path: "/api/users",
          body: password === null ? { name } : { name, password },
          retry: "unsent-only",
          what: `registering ${name}`,
        });
        body = response.body;
      } catch (error) {
        if (error instanceof OutcomeUnknownError && password !== null) {
          throw new OutcomeUnknownError(`${error.message} (try gavel login ${name})`);
        }
        throw error;
      }
      const session = expectDocument(sessionSchema, body, "registration");
      context.remember((config) => {
        config.session = { name: session.name, token: session.token, expiresAt: session.expiresAt };
      });
      context.out(`registered ${session.name}; ${sessionLine(session.name, session.expiresAt)}`);
    });
  });
}

export function loginCommand(): Command {
  const command = new Command("login")
    .summary("log in as a user (asks for the password)")
    .description(
      "Log in for a session token (it expires after 24 hours). The password is asked on the terminal (hidden), or read with --password-stdin.",
    )
    .argument("<name>", "the user name");
  passwordOptions(command, false);
  withConnectionOptions(command);
  return command.action(async (name: string, flags: PasswordFlags) => {
    await runClient("login", async () => {
      const password = await obtainPassword({ passwordStdin: flags.passwordStdin }, false);
      const context = new ClientContext("login", flags);
      await context.connect();
      // A repeated login only makes a second session: safe to retry.
      const response = await context.api.send({
        method: "POST",
        path: "/api/sessions",
        body: { name, password },
        retry: "idempotent",
        what: `logging in as ${name}`,
      });
      const session = expectDocument(sessionSchema, response.body, "session");
      context.remember((config) => {
        config.session = { name: session.name, token: session.token, expiresAt: session.expiresAt };
      });
      context.out(sessionLine(session.name, session.expiresAt));
    });
  });
}

export function logoutCommand(): Command {
  const command = new Command("logout")
    .summary("end the session: the token stops working everywhere")
    .description("End the session: the cluster stops accepting its token, and the config file forgets it.");
  withConnectionOptions(command);
  return command.action(async (flags: ConnectionFlags) => {
    await runClient("logout", async () => {
      const context = new ClientContext("logout", flags);
      const session = context.config.session;
      if (session === null) {
        context.out("not logged in");
        return;
      }
      const forget = () => context.remember((config) => (config.session = null));
      try {
        await context.connect();
        await context.api.send({
          method: "DELETE",
          path: "/api/sessions/current",
          bearer: session.token,
          retry: "idempotent",
          what: "logging out",
        });
      } catch (error) {
        // A token the cluster no longer accepts is as good as logged out.
        if (error instanceof ApiProblemError && error.status === 401) {
          forget();
          context.out(`logged out ${session.name} (the session had already ended)`);
          return;
        }
        forget();
        const reason = error instanceof Error ? error.message : String(error);
        throw new ClientError(
          error instanceof ClientError ? error.code : "unreachable",
          `forgot the session of ${session.name} here, but could not end it in the cluster (${reason}); it stays valid until it expires`,
          2,
        );
      }
      forget();
      context.out(`logged out ${session.name}`);
    });
  });
}
