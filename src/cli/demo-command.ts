// `gavel demo --nodes 3`: a local cluster of N nodes on loopback as child processes, on free ports,
// with data dirs in a temporary folder and a shared random cluster key; output is prefixed by node
// id. It prints where to reach each node and what to try, and stops them all on Ctrl-C.
import { Command, InvalidArgumentError, Option } from "commander";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { colocatedNodeFlags, freeTcpPort, freeUdpPort } from "../dev/local-cluster.js";

const main = fileURLToPath(new URL("./main.js", import.meta.url));

interface DemoFlags {
  nodes: number;
  keep: boolean;
}

function nodeCount(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1 || parsed > 9)
    throw new InvalidArgumentError("1 to 9 nodes");
  return parsed;
}

export function demoCommand(): Command {
  return new Command("demo")
    .description("run a local demo cluster of N nodes on loopback, with a shared random key; Ctrl-C stops it")
    .addOption(new Option("--nodes <n>", "how many nodes").default(3).argParser(nodeCount))
    .addOption(new Option("--keep", "keep the data dirs when stopping").default(false))
    .action(async (flags: DemoFlags) => {
      await runDemo(flags);
    });
}

/** Copies a child's output to ours, each line prefixed with `prefix`. */
function prefixed(stream: NodeJS.ReadableStream, prefix: string, out: NodeJS.WritableStream): void {
  let rest = "";
  stream.on("data", (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) out.write(`${prefix} ${line}\n`);
  });
}

async function runDemo(flags: DemoFlags): Promise<void> {
  const root = mkdtempSync(path.join(tmpdir(), "gavel-demo-"));
  const key = randomBytes(24).toString("base64url");
  const cluster = `demo-${randomBytes(3).toString("hex")}`;
  const discoveryPort = await freeUdpPort();
  const children: ChildProcess[] = [];
  const urls: string[] = [];
  for (let id = 1; id <= flags.nodes; id++) {
    const [port, httpPort] = [await freeTcpPort(), await freeTcpPort()];
    const args = [main, "node", "--id", String(id), "--port", String(port), "--http-port", String(httpPort)];
    args.push(
      "--discovery-port",
      String(discoveryPort),
      "--cluster",
      cluster,
      "--expect",
      String(flags.nodes),
    );
    args.push("--data-dir", path.join(root, `node-${id}`), "--log-level", "warn");
    const child = spawn(process.execPath, [...colocatedNodeFlags, ...args], {
      // stdin is a pipe the node watches: it stops when the demo dies, even by SIGKILL.
      env: { ...process.env, GAVEL_CLUSTER_KEY: key, GAVEL_STOP_WITH_PARENT: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    prefixed(child.stdout, `[n${id}]`, process.stdout);
    prefixed(child.stderr, `[n${id}]`, process.stderr);
    children.push(child);
    urls.push(`http://127.0.0.1:${httpPort}`);
  }
  printGuide(urls, root);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping the demo cluster...\n");
    const exits = children.map(
      (child) =>
        new Promise<void>((resolve) =>
          child.exitCode !== null ? resolve() : child.once("exit", () => resolve()),
        ),
    );
    for (const child of children) child.kill("SIGTERM");
    void Promise.all(exits).then(() => {
      if (!flags.keep) rmSync(root, { recursive: true, force: true });
      process.exit(0);
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

function printGuide(urls: string[], root: string): void {
  const [first, second] = [urls[0]!, urls[1] ?? urls[0]!];
  const nodes = urls.join(",");
  const lines = [
    "",
    `gavel demo: ${urls.length} nodes (data in ${root}); Ctrl-C stops them all.`,
    ...urls.map((url, index) => `  node ${index + 1}: ${url}/  (web page; API under ${url}/api/)`),
    "",
    `Open ${first}/ in a browser (and ${second}/ in another window, signed in as someone else).`,
    "Or, in another terminal, with the gavel client:",
    `  npx gavel register sam --no-password --node ${nodes}`,
    `  npx gavel create --title Lamp --start 10.00 --increment 1.00 --duration 10m`,
    `  npx gavel list`,
    `  npx gavel watch                  # live; Ctrl-C stops it`,
    `  export ANN=$(mktemp -d)          # a second user keeps her session in her own config dir`,
    `  GAVEL_CONFIG_DIR=$ANN npx gavel register ann --no-password --node ${nodes}`,
    `  GAVEL_CONFIG_DIR=$ANN npx gavel bid <auction id> 12.00`,
    `  npx gavel status                 # who leads, who runs which auction`,
    `  kill -9 <the pid node ${urls.length} printed>   # the leader; another node takes over in about a second`,
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}
