// Runs one load-generator job in a child process of its own (bench/loadgen.ts) and returns its result.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Job, LoadResult } from "./loadgen.js";

const script = fileURLToPath(new URL("./loadgen.js", import.meta.url));

export function runLoad(job: Job): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let settled = false;
    child.once("message", (message: { ok: true; result: LoadResult } | { ok: false; error: string }) => {
      settled = true;
      if (message.ok) resolve(message.result);
      else reject(new Error(`load generator: ${message.error}`));
    });
    child.once("exit", (code) => {
      if (!settled) reject(new Error(`load generator exited with ${code} before answering`));
    });
    child.send(job);
  });
}
