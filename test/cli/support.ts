// Running the real `gavel` command in tests: `node dist/src/cli/main.js ...` as a child process with
// its own config directory (GAVEL_CONFIG_DIR) and no GAVEL_* variables inherited from the test's
// environment. Long-running commands (watch) are read as they print and stopped by their PID.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { http, TestCluster, waitFor } from "../node/harness.js";
import type { TestNode } from "../node/harness.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  configDir: string;
  /** Written to standard input, which is then closed. */
  stdin?: string;
  env?: Record<string, string>;
}

/**
 * Starts `node` and waits until its API answers, for up to `timeoutMs`: TestNode.start gives up
 * after 10 s, which a loaded machine can exceed while the node is still on its way up.
 */
export async function startNode(node: TestNode, timeoutMs = 60_000): Promise<void> {
  try {
    await node.start();
  } catch (error) {
    if (!node.running) throw error;
    await waitFor(`node ${node.id} to serve HTTP`, timeoutMs, async () => {
      if (!node.running) throw new Error(`node ${node.id} exited: ${node.output}`);
      return (await http(`${node.url}/api/cluster`)).status === 200;
    });
  }
}

/**
 * A cluster of fresh nodes expecting each other (as TestCluster.start makes), started with the
 * patience of startNode; if it cannot start, every node started is killed by its PID.
 */
export async function startCluster(ids: number[], name: string): Promise<TestCluster> {
  const cluster = await TestCluster.start([], name);
  // TestCluster.start([]) sets `expect` to 1; these nodes must wait for each other.
  (cluster as unknown as { expect: number }).expect = ids.length;
  try {
    for (const id of ids) await cluster.add(id);
    await Promise.all(ids.map((id) => startNode(cluster.node(id))));
    return cluster;
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
}

/** Config directories made by this test file's process; removed when it exits. */
const configDirs: string[] = [];
process.once("exit", () => {
  for (const dir of configDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh, empty config directory (removed when the test process exits). */
export function freshConfigDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "gavel-cli-config-"));
  configDirs.push(dir);
  return dir;
}

function childEnv(options: CliOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("GAVEL_")) env[name] = value;
  return { ...env, GAVEL_CONFIG_DIR: options.configDir, NO_COLOR: "1", ...options.env };
}

/** Starts `gavel <args>`; the caller reads its output and waits for its exit. */
export function startGavel(args: string[], options: CliOptions): RunningCli {
  const child = spawn(process.execPath, [main, ...args], {
    env: childEnv(options),
    stdio: ["pipe", "pipe", "pipe"],
  });
  // A command that exits without reading its input closes the pipe: that is not an error here.
  child.stdin.on("error", () => undefined);
  child.stdin.end(options.stdin ?? "");
  return new RunningCli(child, args);
}

/** Runs `gavel <args>` to its end (killed by PID after `timeoutMs`). */
export async function gavel(args: string[], options: CliOptions, timeoutMs = 60_000): Promise<CliResult> {
  const running = startGavel(args, options);
  const timer = setTimeout(() => running.child.kill("SIGKILL"), timeoutMs);
  const code = await running.exited;
  clearTimeout(timer);
  return { code, stdout: running.stdout, stderr: running.stderr };
}

/** Runs `gavel <args>` and fails with its output unless it exits 0. */
export async function gavelOk(args: string[], options: CliOptions): Promise<string> {
  const result = await gavel(args, options);
  if (result.code !== 0) {
    throw new Error(
      `gavel ${args.join(" ")} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
  return result.stdout;
}

export class RunningCli {
  stdout = "";
  stderr = "";
  /** The exit code (null when ended by a signal). */
  readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    readonly args: string[],
  ) {
    child.stdout!.on("data", (chunk: Buffer) => (this.stdout += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once("close", (code) => resolve(code)));
  }

  /** Waits until standard output satisfies `condition`. */
  async waitForOutput(
    what: string,
    timeoutMs: number,
    condition: (stdout: string) => boolean,
  ): Promise<void> {
    await waitFor(`gavel ${this.args[0]} to print ${what}`, timeoutMs, () => {
      if (this.child.exitCode !== null) throw new Error(`it exited ${this.child.exitCode}: ${this.stderr}`);
      return condition(this.stdout);
    }).catch((error: Error) => {
      throw new Error(`${error.message}\nstdout so far:\n${this.stdout}\nstderr so far:\n${this.stderr}`);
    });
  }

  /** Sends SIGINT to this process (by its PID), as Ctrl-C would, and waits for its exit code. */
  async interrupt(): Promise<number | null> {
    process.kill(this.child.pid!, "SIGINT");
    return this.exited;
  }
}
