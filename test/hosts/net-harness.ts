// Hosts for multi-host tests: one network namespace per node, a veth pair from each into a bridge
// of the root namespace, addresses in a private /24 that exists only while the test runs, and real
// `gavel node` processes inside, bound to their own address and finding each other by subnet
// broadcast. It cuts, splits, flaps and heals links, and kills, pauses or restarts nodes by PID.
// It never touches an interface, route, namespace or process it did not create, never routes
// anything beyond its /24 (an `unreachable` route covers the /24 so nothing can fall through to
// the default route), and removes all it made: at destroy, at process exit, and, for runs that died,
// at the next start (their state files under the temp dir say what they made).
import { execFile, execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { request as httpRequest } from "node:http";
import type { ClientRequest } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "../node/harness.js";

export { waitFor };

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** What every harness of any run writes down before creating anything, so a later run can remove it. */
const stateDir = path.join(tmpdir(), "gavel-hosts");

/** Inside its own namespace every node can use the default ports. */
export const PEER_PORT = 7401;
export const HTTP_PORT = 8080;
export const DISCOVERY_PORT = 7400;

/** The root namespace's address on every bridge: `<subnet>.254`. All bridges share one MAC, so a host moved between bridges keeps a valid ARP entry for it. */
const ROOT_HOST = 254;
const BRIDGE_MAC = "02:67:76:6c:00:fe";

/** Output kept per node (the tail), for a failing test's message. */
const outputCharsMax = 400_000;

// ------------------------------------------------------------------ commands

/** Runs `ip` (or another tool) and resolves with its stdout; rejects with its stderr. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`${command} ${args.join(" ")}: ${stderr.trim() || error.message}`));
    });
  });
}

/** Runs a command synchronously; failures are returned, not thrown (cleanup goes on regardless). */
function runSync(command: string, args: string[]): { ok: boolean; output: string } {
  try {
    const output = execFileSync(command, args, { timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
    return { ok: true, output: output.toString() };
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error);
    return { ok: false, output: stderr };
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function writeSysctl(file: string, value: string): void {
  writeFileSync(file, value);
}

// ------------------------------------------------------------------ availability

let availability: string | null | undefined;

/**
 * Null when this machine can run host tests; otherwise why not, to print as the skip reason.
 * Needs Linux, root, iproute2, and network namespaces and bridges that really work (tried once).
 */
export function hostTestsUnavailable(): string | null {
  if (availability !== undefined) return availability;
  availability = probeAvailability();
  return availability;
}

function probeAvailability(): string | null {
  if (process.platform !== "linux")
    return `host tests need Linux network namespaces (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return "host tests need root to create network namespaces (ip netns); run them as root, as .ci/run does";
  if (!runSync("ip", ["-V"]).ok)
    return "host tests need iproute2 (`ip`), which is not installed: apt-get install -y iproute2";
  const names = new Names(process.pid, 35);
  const namespace = `${names.namespacePrefix}probe`;
  const bridge = names.bridge(0);
  const steps: [string, string[]][] = [
    ["ip", ["netns", "add", namespace]],
    ["ip", ["link", "add", bridge, "type", "bridge"]],
    ["ip", ["link", "add", names.link(0), "type", "veth", "peer", "name", "eth0", "netns", namespace]],
  ];
  let reason: string | null = null;
  for (const [command, args] of steps) {
    const result = runSync(command, args);
    if (!result.ok) {
      reason = `host tests need network namespaces, veth and bridges: \`${command} ${args.join(" ")}\` failed: ${result.output.trim()}`;
      break;
    }
  }
  runSync("ip", ["link", "del", names.link(0)]);
  runSync("ip", ["link", "del", bridge]);
  runSync("ip", ["netns", "del", namespace]);
  return reason;
}

let keyFlag: boolean | undefined;

/** Null when `gavel node` has `--cluster-key`; otherwise why the keyed variant is skipped. */
export function clusterKeyUnsupported(): string | null {
  if (keyFlag === undefined) {
    const help = runSync(process.execPath, [main, "node", "--help"]);
    keyFlag = help.ok && help.output.includes("--cluster-key");
  }
  return keyFlag
    ? null
    : "`gavel node --help` lists no --cluster-key flag yet; the keyed variant runs once the flag exists";
}

// ------------------------------------------------------------------ names and leftovers

/**
 * Names of everything one harness creates. Interface names hold at most 15 characters, so links
 * are "gvl" + the owner's PID in base 36 (5 characters) + the harness number + a kind and an index:
 * the owner's PID can be read back from every name, and leftovers of dead owners recognized.
 */
class Names {
  readonly linkPrefix: string;
  readonly namespacePrefix: string;

  constructor(
    readonly ownerPid: number,
    readonly instance: number,
  ) {
    this.linkPrefix = `gvl${ownerPid.toString(36).padStart(5, "0")}${instance.toString(36)}`;
    this.namespacePrefix = `gvl-${ownerPid}-${instance}-`;
  }

  bridge(index: number): string {
    return `${this.linkPrefix}b${index.toString(36)}`;
  }

  /** The root-namespace end of host `index`'s veth pair (the other end is `eth0` in its namespace). */
  link(index: number): string {
    return `${this.linkPrefix}v${index.toString(36)}`;
  }

  namespace(id: number): string {
    return `${this.namespacePrefix}h${id}`;
  }

  static ownerOfLink(name: string): number | null {
    const match = /^gvl([0-9a-z]{5})[0-9a-z][bv][0-9a-z]$/.exec(name);
    return match === null ? null : parseInt(match[1]!, 36);
  }

  static ownerOfNamespace(name: string): number | null {
    const match = /^gvl-([0-9]+)-[0-9]+-/.exec(name);
    return match === null ? null : Number(match[1]);
  }
}

/** What one harness made (written before it makes it). */
interface Made {
  ownerPid: number;
  subnet: string;
  namespaces: string[];
  links: string[];
  bridges: string[];
  dataRoot: string;
  lockFile: string;
  pids: number[];
}

function stateFileOf(names: Names): string {
  return path.join(stateDir, `${names.ownerPid}-${names.instance}.json`);
}

/**
 * Removes what `made` lists, in an order that leaves no packet a way out: nodes first (by PID,
 * only if still running from this harness's data dir), then veth pairs and namespaces, then
 * bridges, then client sockets to the subnet, and the `unreachable` route over the /24 last.
 */
function removeMade(made: Made): string[] {
  const problems: string[] = [];
  for (const pid of made.pids) {
    if (isOurNode(pid, made.dataRoot)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch (error) {
        problems.push(`kill ${pid}: ${String(error)}`);
      }
    }
  }
  for (const pid of made.pids) waitGoneSync(pid, made.dataRoot);
  const existingLinks = new Set(listLinks());
  for (const link of [...made.links, ...made.bridges]) {
    if (!existingLinks.has(link)) continue;
    const result = runSync("ip", ["link", "del", link]);
    if (!result.ok) problems.push(result.output.trim());
  }
  const existingNamespaces = new Set(listNamespaces());
  for (const namespace of made.namespaces) {
    if (!existingNamespaces.has(namespace)) continue;
    const result = runSync("ip", ["netns", "del", namespace]);
    if (!result.ok) problems.push(result.output.trim());
  }
  // Sockets of clients in this namespace still open to the subnet are reset while the unreachable
  // route is in place, so no retransmission can ever take the default route.
  runSync("ss", ["-K", "dst", `${made.subnet}.0/24`]);
  const route = `${made.subnet}.0/24`;
  if (runSync("ip", ["-4", "route", "show", "type", "unreachable"]).output.includes(route)) {
    const result = runSync("ip", ["route", "del", "unreachable", route]);
    if (!result.ok) problems.push(result.output.trim());
  }
  rmSync(made.dataRoot, { recursive: true, force: true });
  rmSync(made.lockFile, { force: true });
  return problems;
}

/** True if `pid` runs `gavel node` on a data dir under `dataRoot` (so it is a node we started). */
function isOurNode(pid: number, dataRoot: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dataRoot);
  } catch {
    return false; // no such process any more
  }
}

function waitGoneSync(pid: number, dataRoot: string): void {
  const deadline = Date.now() + 5000;
  while (isOurNode(pid, dataRoot) && Date.now() < deadline) {
    const status = readFileSafe(`/proc/${pid}/status`);
    if (/^State:\s+Z/m.test(status)) return; // a zombie holds no namespace or socket
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function listLinks(): string[] {
  const result = runSync("ip", ["-o", "link", "show"]);
  return [...result.output.matchAll(/^[0-9]+: ([^:@\s]+)[@:]/gm)].map((match) => match[1]!);
}

function listNamespaces(): string[] {
  return runSync("ip", ["netns", "list"])
    .output.split("\n")
    .map((line) => line.split(" ")[0]!)
    .filter((name) => name !== "");
}

/**
 * Removes what harnesses of runs that are gone left behind: first what their state files list,
 * then any link or namespace carrying our prefix whose owner is no longer running. A namespace's
 * processes are ours (only this harness makes such namespaces) and are killed by PID.
 */
export function removeLeftovers(): string[] {
  const problems: string[] = [];
  mkdirSync(stateDir, { recursive: true });
  for (const file of readdirSync(stateDir)) {
    const full = path.join(stateDir, file);
    if (file.endsWith(".json")) {
      const made = JSON.parse(readFileSafe(full) || "null") as Made | null;
      if (made !== null && processAlive(made.ownerPid)) continue;
      if (made !== null) problems.push(...removeMade(made));
      rmSync(full, { force: true });
    } else if (file.endsWith(".lock")) {
      const owner = Number(readFileSafe(full));
      if (!processAlive(owner)) rmSync(full, { force: true });
    }
  }
  for (const namespace of listNamespaces()) {
    const owner = Names.ownerOfNamespace(namespace);
    if (owner === null || processAlive(owner)) continue;
    const pids = runSync("ip", ["netns", "pids", namespace])
      .output.split("\n")
      .filter((line) => /^[0-9]+$/.test(line));
    for (const pid of pids) process.kill(Number(pid), "SIGKILL");
    runSync("ip", ["netns", "del", namespace]);
  }
  for (const link of listLinks()) {
    const owner = Names.ownerOfLink(link);
    if (owner === null || processAlive(owner)) continue;
    runSync("ip", ["link", "del", link]);
  }
  return problems;
}

/** A /24 under 10.77.0.0/16 that no address or route of this machine mentions, locked for this process. */
function allocateSubnet(): { subnet: string; lockFile: string } {
  mkdirSync(stateDir, { recursive: true });
  const used =
    runSync("ip", ["-4", "-o", "addr", "show"]).output +
    runSync("ip", ["-4", "route", "show", "table", "all"]).output;
  for (let step = 0; step < 240; step++) {
    const third = 10 + ((process.pid + step) % 240);
    const subnet = `10.77.${third}`;
    if (used.includes(`${subnet}.`)) continue;
    const lockFile = path.join(stateDir, `subnet-${third}.lock`);
    try {
      writeFileSync(lockFile, String(process.pid), { flag: "wx" });
      return { subnet, lockFile };
    } catch {
      continue; // another harness holds this one
    }
  }
  throw new Error("no free /24 under 10.77.0.0/16 for the test hosts");
}

// ------------------------------------------------------------------ HTTP client

export interface HttpResponse {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/** Requests in flight, reset (RST, no retransmission) when their harness is destroyed. */
type Inflight = Set<ClientRequest>;

/**
 * One HTTP request on its own connection (`connection: close`), so no socket outlives it; on a
 * timeout or abort the socket is reset, never left retransmitting.
 */
function request(
  inflight: Inflight,
  url: string,
  init: { method?: string; body?: unknown; token?: string; timeoutMs?: number },
): Promise<HttpResponse> {
  const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
  const headers: Record<string, string> = { connection: "close" };
  if (payload !== undefined) headers["content-type"] = "application/json";
  if (init.token !== undefined) headers["authorization"] = `Bearer ${init.token}`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: init.method ?? (payload === undefined ? "GET" : "POST"),
      headers,
      agent: false,
    });
    inflight.add(req);
    const timer = setTimeout(() => {
      req.socket?.resetAndDestroy();
      req.destroy(new Error(`no answer from ${url} within ${init.timeoutMs ?? 8000} ms`));
    }, init.timeoutMs ?? 8000);
    const finish = () => {
      clearTimeout(timer);
      inflight.delete(req);
    };
    req.on("error", (error) => {
      finish();
      reject(error);
    });
    req.on("response", (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("error", (error) => {
        finish();
        reject(error);
      });
      response.on("end", () => {
        finish();
        let body: Record<string, unknown> = {};
        if (text !== "" && (response.headers["content-type"] ?? "").includes("json"))
          body = JSON.parse(text) as Record<string, unknown>;
        resolve({ status: response.statusCode ?? 0, body, text });
      });
    });
    req.end(payload);
  });
}

// ------------------------------------------------------------------ hosts

export interface ClusterView {
  term: number;
  leader: number | null;
  nodes: { id: number; role: string; status: string; http: string; auctions: number }[];
}

/** One host: a namespace with its address, its link to the bridges, and its node's process. */
export class Host {
  process: ChildProcess | null = null;
  pid: number | null = null;
  /** Output of every run of the node on this host (its tail). */
  output = "";
  /** Output of the current run only. */
  private runOutput = "";
  /** The bridge its link is in (0 is the one all hosts share when healed). */
  bridge = 0;
  linkUp = true;
  paused = false;

  constructor(
    readonly id: number,
    readonly index: number,
    readonly address: string,
    readonly namespace: string,
    readonly link: string,
    private readonly net: HostNet,
  ) {}

  get url(): string {
    return `http://${this.address}:${HTTP_PORT}`;
  }

  get running(): boolean {
    return this.process !== null && this.process.exitCode === null && this.process.signalCode === null;
  }

  get dataDir(): string {
    return path.join(this.net.dataRoot, `node-${this.id}`);
  }

  /** Starts `gavel node` inside this host's namespace, bound to its address; resolves once its API answers. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`node ${this.id} is already running`);
    const args = [
      "netns",
      "exec",
      this.namespace,
      process.execPath,
      "--enable-source-maps",
      main,
      "node",
      ...this.net.nodeArgs(this),
    ];
    // `ip netns exec` execs the node in place: the child's PID is the node's PID.
    const child = spawn("ip", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.process = child;
    this.pid = child.pid ?? null;
    this.paused = false;
    this.net.recordPids();
    this.runOutput = "";
    const append = (chunk: Buffer) => {
      if (child === this.process && this.runOutput.length < 10_000) this.runOutput += chunk.toString();
      this.output += chunk.toString();
      if (this.output.length > outputCharsMax) this.output = this.output.slice(-outputCharsMax / 2);
    };
    child.stdout.on("data", append);
    child.stderr.on("data", append);
    const printed = await waitFor(
      `node ${this.id} to start and serve HTTP at ${this.url}`,
      60_000, // starting is no target: on a busy machine five node processes take long to load
      async () => {
        if (!this.running) throw new Error(`node ${this.id} exited: ${this.output.slice(-2000)}`);
        const pid = /gavel node [0-9]+ \(pid ([0-9]+)\)/.exec(this.runOutput)?.[1];
        return pid !== undefined && (await this.get("/healthz", 1000)).status === 200
          ? Number(pid)
          : undefined;
      },
    );
    if (printed !== this.pid)
      throw new Error(`node ${this.id} runs as pid ${printed}, not ${this.pid}: signals would miss it`);
  }

  /** Sends `signal` to the node's PID and waits until it has exited (SIGCONT first if it was paused). */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.process;
    if (child === null || !this.running || this.pid === null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    process.kill(this.pid, signal);
    if (this.paused && signal !== "SIGKILL") process.kill(this.pid, "SIGCONT");
    this.paused = false;
    await exited;
  }

  /** SIGSTOP: the process keeps its sockets but does nothing, like a long pause. */
  pause(): void {
    if (this.pid === null || !this.running) throw new Error(`node ${this.id} is not running`);
    process.kill(this.pid, "SIGSTOP");
    this.paused = true;
  }

  /** SIGCONT after pause(). */
  resume(): void {
    if (this.pid === null || !this.running) throw new Error(`node ${this.id} is not running`);
    process.kill(this.pid, "SIGCONT");
    this.paused = false;
  }

  /** Kills (SIGKILL) and starts the node again on the same data dir. */
  async restart(): Promise<void> {
    await this.kill("SIGKILL");
    await this.start();
  }

  get(pathname: string, timeoutMs = 8000): Promise<HttpResponse> {
    return this.net.request(`${this.url}${pathname}`, { timeoutMs });
  }

  post(pathname: string, body: unknown, token?: string, timeoutMs = 12_000): Promise<HttpResponse> {
    return this.net.request(`${this.url}${pathname}`, { body, token, timeoutMs });
  }

  async clusterView(timeoutMs = 2000): Promise<ClusterView> {
    const response = await this.get("/api/cluster", timeoutMs);
    if (response.status !== 200) throw new Error(`node ${this.id}: /api/cluster ${response.status}`);
    return response.body as unknown as ClusterView;
  }

  /** The node's own gauges and counters from /metrics (no read index: answers on a minority side too). */
  async metrics(timeoutMs = 2000): Promise<Metrics> {
    const response = await this.get("/metrics", timeoutMs);
    const value = (name: string) => {
      const line = response.text.split("\n").find((item) => item.startsWith(`${name} `));
      return line === undefined ? NaN : Number(line.split(" ").at(-1));
    };
    return {
      term: value("gavel_term"),
      commitIndex: value("gavel_commit_index"),
      appliedIndex: value("gavel_applied_index"),
      isLeader: value("gavel_is_leader") === 1,
      elections: value("gavel_elections_total"),
    };
  }
}

export interface Metrics {
  term: number;
  commitIndex: number;
  appliedIndex: number;
  isLeader: boolean;
  elections: number;
}

export interface HostNetOptions {
  /** Node ids, one host each (1..250); host `id` gets address `<subnet>.<id>`. */
  ids: number[];
  /** Passed as --cluster-key when set. */
  clusterKey?: string;
  /** --expect (default: every host). */
  expect?: number;
  /** --log-level of every node (default: GAVEL_HOSTS_LOG_LEVEL, else info). */
  logLevel?: "debug" | "info" | "warn" | "error";
}

/** A flapping link: toggles until its count or time is used up, or stop() is called. */
export interface Flap {
  /** Resolves with the number of toggles once the link is back up for good. */
  readonly done: Promise<number>;
  stop(): void;
}

let instances = 0;
const live = new Set<HostNet>();

function removeAllSync(): void {
  for (const net of live) net.destroySync();
}

process.once("exit", removeAllSync);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    removeAllSync();
    process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
  });
}

/** A set of hosts on bridges in the root namespace, and the nodes on them. */
export class HostNet {
  readonly hosts = new Map<number, Host>();
  readonly clusterName: string;
  private readonly inflight: Inflight = new Set();
  private destroyed = false;

  private constructor(
    readonly names: Names,
    readonly subnet: string,
    readonly dataRoot: string,
    private readonly made: Made,
    private readonly options: HostNetOptions,
  ) {
    this.clusterName = `hosts-${names.ownerPid}-${names.instance}`;
  }

  /**
   * Builds the hosts: removes leftovers of dead runs, picks a free /24, writes down what it will
   * make, then makes it. Nodes are not started (see startAll).
   */
  static async create(options: HostNetOptions): Promise<HostNet> {
    removeLeftovers();
    for (const id of options.ids) {
      if (!Number.isInteger(id) || id < 1 || id >= ROOT_HOST) throw new Error(`host id ${id} out of 1..253`);
    }
    const names = new Names(process.pid, instances++ % 36);
    const { subnet, lockFile } = allocateSubnet();
    const dataRoot = mkdtempSync(path.join(tmpdir(), `gavel-hosts-${process.pid}-`));
    const made: Made = {
      ownerPid: process.pid,
      subnet,
      namespaces: options.ids.map((id) => names.namespace(id)),
      links: options.ids.map((_, index) => names.link(index)),
      bridges: options.ids.map((_, index) => names.bridge(index)),
      dataRoot,
      lockFile,
      pids: [],
    };
    writeFileSync(stateFileOf(names), JSON.stringify(made));
    const net = new HostNet(names, subnet, dataRoot, made, options);
    live.add(net);
    try {
      await net.build();
    } catch (error) {
      await net.destroy();
      throw error;
    }
    return net;
  }

  private async build(): Promise<void> {
    // First the catch-all: from here on nothing for this /24 can take the default route.
    await run("ip", ["route", "add", "unreachable", `${this.subnet}.0/24`]);
    for (const bridge of this.made.bridges) await this.buildBridge(bridge);
    this.options.ids.forEach((id, index) => {
      const host = new Host(
        id,
        index,
        `${this.subnet}.${id}`,
        this.names.namespace(id),
        this.names.link(index),
        this,
      );
      this.hosts.set(id, host);
    });
    for (const host of this.hosts.values()) await this.buildHost(host);
  }

  private async buildBridge(bridge: string): Promise<void> {
    await run("ip", ["link", "add", bridge, "type", "bridge", "stp_state", "0"]);
    const conf = (family: string, key: string) => `/proc/sys/net/${family}/conf/${bridge}/${key}`;
    writeSysctl(conf("ipv6", "disable_ipv6"), "1");
    writeSysctl(conf("ipv4", "forwarding"), "0");
    writeSysctl(conf("ipv4", "proxy_arp"), "0");
    writeSysctl(conf("ipv4", "arp_ignore"), "1");
    writeSysctl(conf("ipv4", "send_redirects"), "0");
    await run("ip", ["link", "set", bridge, "address", BRIDGE_MAC]);
    await run("ip", ["addr", "add", `${this.subnet}.${ROOT_HOST}/32`, "dev", bridge]);
    await run("ip", ["link", "set", bridge, "up"]);
  }

  private async buildHost(host: Host): Promise<void> {
    await run("ip", ["netns", "add", host.namespace]);
    await run("ip", [
      "netns",
      "exec",
      host.namespace,
      "sh",
      "-c",
      "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6",
    ]);
    await run("ip", [
      "link",
      "add",
      host.link,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      host.namespace,
    ]);
    writeSysctl(`/proc/sys/net/ipv6/conf/${host.link}/disable_ipv6`, "1");
    await run("ip", ["link", "set", host.link, "master", this.names.bridge(0), "up"]);
    const inside = (args: string[]) => run("ip", ["-n", host.namespace, ...args]);
    await inside(["link", "set", "lo", "up"]);
    await inside(["addr", "add", `${host.address}/24`, "brd", "+", "dev", "eth0"]);
    await inside(["link", "set", "eth0", "up"]);
    await this.routeTo(host);
  }

  /** The root namespace reaches `host` through the bridge its link is in (a /32 inside our /24). */
  private async routeTo(host: Host): Promise<void> {
    const bridge = this.names.bridge(host.bridge);
    await run("ip", [
      "route",
      "replace",
      `${host.address}/32`,
      "dev",
      bridge,
      "src",
      `${this.subnet}.${ROOT_HOST}`,
    ]);
  }

  /** The flags of `gavel node` for `host`. */
  nodeArgs(host: Host): string[] {
    const args = [
      "--id",
      String(host.id),
      "--host",
      host.address,
      "--port",
      String(PEER_PORT),
      "--http-port",
      String(HTTP_PORT),
      "--discovery-port",
      String(DISCOVERY_PORT),
      "--cluster",
      this.clusterName,
      "--data-dir",
      host.dataDir,
      "--expect",
      String(this.options.expect ?? this.options.ids.length),
      "--log-level",
      this.options.logLevel ?? process.env["GAVEL_HOSTS_LOG_LEVEL"] ?? "info",
    ];
    if (this.options.clusterKey !== undefined) args.push("--cluster-key", this.options.clusterKey);
    return args;
  }

  recordPids(): void {
    const pids = [...this.hosts.values()].flatMap((host) => (host.pid === null ? [] : [host.pid]));
    this.made.pids = [...new Set([...this.made.pids, ...pids])];
    if (!this.destroyed) writeFileSync(stateFileOf(this.names), JSON.stringify(this.made));
  }

  host(id: number): Host {
    const host = this.hosts.get(id);
    if (host === undefined) throw new Error(`no host ${id}`);
    return host;
  }

  all(): Host[] {
    return [...this.hosts.values()];
  }

  /** Starts every host's node at once. */
  async startAll(): Promise<void> {
    await Promise.all(this.all().map((host) => host.start()));
  }

  // ---------------------------------------------------------------- links

  /** Moves `id`'s link to bridge `bridge` (0 is the shared one) and brings it up. */
  async moveTo(id: number, bridge: number): Promise<void> {
    const host = this.host(id);
    if (bridge < 0 || bridge >= this.made.bridges.length) throw new Error(`no bridge ${bridge}`);
    await run("ip", ["link", "set", host.link, "master", this.names.bridge(bridge), "up"]);
    host.bridge = bridge;
    host.linkUp = true;
    await this.routeTo(host);
  }

  /** Cuts `id` off from every other host by moving it to a bridge of its own; clients still reach it. */
  async isolate(id: number): Promise<void> {
    const taken = new Set(this.all().flatMap((host) => (host.id === id ? [] : [host.bridge])));
    const bridge = this.made.bridges.findIndex((_, index) => index > 0 && !taken.has(index));
    if (bridge < 0) throw new Error(`no free bridge to isolate ${id} on`);
    await this.moveTo(id, bridge);
  }

  /** Splits the hosts into groups, one bridge each; a host in no group is left where it is. */
  async split(groups: number[][]): Promise<void> {
    if (groups.length > this.made.bridges.length) throw new Error("more groups than bridges");
    for (const [bridge, group] of groups.entries()) {
      for (const id of group) await this.moveTo(id, bridge);
    }
  }

  /** Takes `id`'s link down: the host hears nobody, and no client reaches it either. */
  async linkDown(id: number): Promise<void> {
    const host = this.host(id);
    await run("ip", ["link", "set", host.link, "down"]);
    host.linkUp = false;
  }

  async linkUp(id: number): Promise<void> {
    const host = this.host(id);
    await run("ip", ["link", "set", host.link, "up"]);
    host.linkUp = true;
  }

  /**
   * Toggles `id`'s link down and up every `intervalMs`, at most `togglesMax` times and for at most
   * `durationMs`; then leaves it up. Stops by itself; stop() ends it early.
   */
  flap(id: number, options: { intervalMs: number; durationMs: number; togglesMax?: number }): Flap {
    const togglesMax = options.togglesMax ?? Math.ceil(options.durationMs / options.intervalMs);
    const deadline = Date.now() + options.durationMs;
    let stopped = false;
    let wake: (() => void) | null = null;
    const done = (async () => {
      let toggles = 0;
      try {
        while (!stopped && !this.destroyed && toggles < togglesMax && Date.now() < deadline) {
          if (this.host(id).linkUp) await this.linkDown(id);
          else await this.linkUp(id);
          toggles++;
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, options.intervalMs);
          });
        }
      } finally {
        if (!this.destroyed && !this.host(id).linkUp) await this.linkUp(id);
      }
      return toggles;
    })();
    return {
      done,
      stop: () => {
        stopped = true;
        wake?.();
      },
    };
  }

  /** Every link up and back in the shared bridge. */
  async heal(): Promise<void> {
    for (const host of this.all()) {
      if (host.bridge !== 0 || !host.linkUp) await this.moveTo(host.id, 0);
    }
  }

  // ---------------------------------------------------------------- clients

  /** An HTTP request from the root namespace to a host (refused once the harness is destroyed). */
  request(
    url: string,
    init: { method?: string; body?: unknown; token?: string; timeoutMs?: number },
  ): Promise<HttpResponse> {
    if (this.destroyed) return Promise.reject(new Error("the hosts are gone"));
    if (!url.startsWith(`http://${this.subnet}.`))
      return Promise.reject(new Error(`${url} is not a test host`));
    return request(this.inflight, url, init);
  }

  /** Output of every node (its last `chars` characters), for a failing test's message. */
  logs(chars = 6000): string {
    return this.all()
      .map((host) => `--- node ${host.id} (${host.address}, pid ${host.pid})\n${host.output.slice(-chars)}`)
      .join("\n");
  }

  // ---------------------------------------------------------------- teardown

  /** Kills every node (SIGKILL by PID), waits for them, then removes every namespace, link, bridge and route made. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all(this.all().map((host) => host.kill("SIGKILL")));
    this.keepLogs();
    this.destroySync();
  }

  /** With GAVEL_HOSTS_LOGS=<dir>, every node's output is kept there (one file per harness and node) for a later look. */
  private keepLogs(): void {
    const dir = process.env["GAVEL_HOSTS_LOGS"];
    if (dir === undefined || dir === "") return;
    mkdirSync(dir, { recursive: true });
    for (const host of this.all()) {
      writeFileSync(path.join(dir, `${this.clusterName}-node-${host.id}.log`), host.output);
    }
  }

  /** The same, synchronously (for process exit). */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const req of this.inflight) {
      req.socket?.resetAndDestroy();
      req.destroy();
    }
    this.inflight.clear();
    const problems = removeMade(this.made);
    live.delete(this);
    if (problems.length === 0) unlinkSync(stateFileOf(this.names));
    else process.stderr.write(`host harness cleanup: ${problems.join("; ")}\n`);
  }

  /** Everything this harness made that still exists (empty after destroy). */
  static remainsOf(net: HostNet): string[] {
    const links = new Set(listLinks());
    const namespaces = new Set(listNamespaces());
    const route = `${net.subnet}.0/24`;
    return [
      ...[...net.made.links, ...net.made.bridges].filter((link) => links.has(link)),
      ...net.made.namespaces.filter((namespace) => namespaces.has(namespace)),
      ...(runSync("ip", ["-4", "route", "show", "table", "all"]).output.includes(`${net.subnet}.`)
        ? [route]
        : []),
      ...(existsSync(net.dataRoot) ? [net.dataRoot] : []),
    ];
  }
}
