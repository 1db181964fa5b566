// Reading a password: from the terminal with echo off (raw mode, nothing printed but the prompt),
// or the first line of standard input for scripts (--password-stdin). A password is never echoed,
// logged, stored or passed on a command line.
import { ClientError } from "./errors.js";

/** Reads one line from the terminal without echoing it. Ctrl-C exits (130); Ctrl-D ends the line. */
export function promptHidden(
  prompt: string,
  input = process.stdin,
  output = process.stderr,
): Promise<string> {
  if (input.isTTY !== true || typeof input.setRawMode !== "function") {
    throw new ClientError(
      "no-terminal",
      "no terminal to ask for the password: pipe it in with --password-stdin (or register with --no-password)",
    );
  }
  output.write(prompt);
  return new Promise((resolve) => {
    let typed = "";
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    input.resume();
    const done = (answer: string | null) => {
      input.removeListener("data", onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write("\n");
      if (answer === null) process.exit(130);
      resolve(answer);
    };
    const onData = (chunk: Buffer) => {
      for (const character of chunk.toString("utf8")) {
        if (character === "\r" || character === "\n" || character === "\u0004") return done(typed);
        if (character === "\u0003") return done(null);
        if (character === "\u007f" || character === "\b") typed = [...typed].slice(0, -1).join("");
        else if (character >= " ") typed += character;
      }
    };
    input.on("data", onData);
  });
}

/** The first line of standard input (without its line ending). */
export async function readPasswordFromStdin(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let text = "";
  for await (const chunk of input) {
    text += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    if (text.includes("\n")) break;
  }
  const line = text.split(/\r?\n/)[0] ?? "";
  if (line === "")
    throw new ClientError("invalid-input", "--password-stdin: standard input had no password line");
  return line;
}

export interface PasswordChoice {
  passwordStdin?: boolean;
  /** False with --no-password. */
  password?: boolean;
}

/**
 * The password for register (asked twice on a terminal) or login (once); null when the user chose
 * --no-password. A new password has 8 to 200 characters (the API's rule, checked here first).
 */
export async function obtainPassword(choice: PasswordChoice, confirm: boolean): Promise<string | null> {
  if (choice.password === false) return null;
  let password: string;
  if (choice.passwordStdin === true) {
    password = await readPasswordFromStdin();
  } else {
    password = await promptHidden("password: ");
    if (confirm && (await promptHidden("password again: ")) !== password) {
      throw new ClientError("invalid-input", "the two passwords differ; nothing was changed");
    }
  }
  if (confirm && ([...password].length < 8 || [...password].length > 200)) {
    throw new ClientError("invalid-input", "a password has 8 to 200 characters");
  }
  return password;
}
