// Reads the CPU profiles that `node --cpu-prof` wrote for the bench's nodes and says where their
// time went: the share of busy samples (idle excluded) by area of gavel (each sample counted once,
// in the area of the nearest gavel code on its stack), by package or source file, and the functions
// with the most self time. A sample taken while the thread waits in a system call (an fsync in
// SQLite) counts as busy in the function that made the call.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Share {
  what: string;
  share: number;
}

export interface ProfileSummary {
  /** Busy time in the profile, ms. */
  busyMs: number;
  /** Idle share of all samples. */
  idleShare: number;
  /** Every area of `areas` (and the rest), largest first; the shares add up to 1. */
  byArea: Share[];
  byPlace: Share[];
  topFunctions: Share[];
}

/** Where a frame's code lives: a package, a file of gavel, Node's own code, or a V8 pseudo-frame. */
function place(url: string, functionName: string): string {
  if (url === "") return functionName === "" ? "(native)" : functionName;
  const packaged = url.split("node_modules/")[1];
  if (packaged !== undefined) {
    const parts = packaged.split("/");
    return `${parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]} (package)`;
  }
  if (url.startsWith("node:")) return "Node.js internals (streams, sockets, HTTP)";
  const dist = url.split("/dist/")[1];
  return dist === undefined ? url : dist.replace(/\.js$/, ".ts");
}

/**
 * The parts of a node a sample's time can go to, each named by what its code does: the first area,
 * from the sample's own function up through its callers, whose pattern matches a frame's file (or
 * the pseudo-frame's name) takes the sample. So Node.js, V8 and package code count toward the gavel
 * code that called them: a socket write under the HTTP reply is the HTTP API's, the same write
 * under a peer link is peer messages'. Files that serve several areas (the UDP socket, the
 * counters) match none, so that their time goes to their caller's.
 */
export const areas: readonly { name: string; pattern: RegExp }[] = [
  { name: "garbage collector", pattern: /^\(garbage collector\)$/ },
  {
    name: "updates (multicast datagrams, live stream)",
    pattern: /\/src\/(net\/update-|net\/multicast|api\/stream)/,
  },
  {
    name: "HTTP API (Node's HTTP server, fastify, gavel's routes)",
    pattern: /node_modules\/(fastify|@fastify|find-my-way|avvio)\/|\/src\/api\/|^node:_http_/,
  },
  {
    name: "peer messages (TCP links, encoding, checking)",
    pattern:
      /\/src\/net\/(tcp-|frame|envelope|fast-validate|schemas|schema-parts|outcome-schemas|cluster-key|replay-guard)/,
  },
  { name: "discovery (UDP beacons)", pattern: /\/src\/net\/(udp-discovery|static-peers)/ },
  { name: "log storage (SQLite, fsync)", pattern: /\/src\/disk\/|node_modules\/better-sqlite3\// },
  {
    name: "state machine (applying entries: auctions, users)",
    pattern: /\/src\/core\/(auction\/|cluster\/state)/,
  },
  {
    name: "cluster core (election, replication, roles) and its driver",
    pattern: /\/src\/(core\/|node\/driver|node\/gavel-node)/,
  },
  {
    name: "metrics and logging",
    pattern: /node_modules\/(prom-client|pino)\/|\/src\/node\/(metrics|logger)/,
  },
];

/** Where a process's start goes: loading and compiling modules (and what their top levels run). */
export const startingArea = "starting (loading modules)";

/**
 * The area of the sample whose own frame is `id` (see areas): starting, when Node's module loader
 * is on its stack; else the first area that matches, from the sample's own frame up; else where its
 * time was spent outside them.
 */
function areaOf(id: number, byId: Map<number, ProfileNode>, parentOf: Map<number, number>): string {
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    if (/^node:internal\/modules\//.test(byId.get(at)!.callFrame.url)) return startingArea;
  }
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const { functionName, url } = byId.get(at)!.callFrame;
    const key = url === "" ? functionName : url;
    for (const area of areas) if (area.pattern.test(key)) return area.name;
  }
  const { url } = byId.get(id)!.callFrame;
  return url === "" || url.startsWith("node:")
    ? "Node.js and V8 outside gavel's code (event loop, socket reads, compiling)"
    : "other code";
}

export function summarize(file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const timeById = new Map<number, number>();
  profile.samples.forEach((id, index) =>
    timeById.set(id, (timeById.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)),
  );
  const byArea = new Map<string, number>();
  const places = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, time] of timeById) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === "(idle)") {
      idle += time;
      continue;
    }
    busy += time;
    const area = areaOf(id, byId, parentOf);
    byArea.set(area, (byArea.get(area) ?? 0) + time);
    const where = place(url, functionName);
    places.set(where, (places.get(where) ?? 0) + time);
    const file = url.startsWith("node:") ? url : where.replace(" (package)", "");
    const name = url === "" ? functionName : `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + time);
  }
  const shares = (map: Map<string, number>, count = top) =>
    [...map]
      .sort((left, right) => right[1] - left[1])
      .slice(0, count)
      .map(([what, time]) => ({ what, share: busy === 0 ? 0 : time / busy }));
  return {
    busyMs: busy / 1000,
    idleShare: busy + idle === 0 ? 0 : idle / (busy + idle),
    byArea: shares(byArea, Infinity),
    byPlace: shares(places),
    topFunctions: shares(functions),
  };
}

/** The profiles in `dir`, by the PID in their file name (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile). */
export function profilesIn(dir: string): Map<number, string> {
  const found = new Map<number, string>();
  for (const name of readdirSync(dir)) {
    const pid = /^CPU\.\d+\.\d+\.(\d+)\./.exec(name)?.[1];
    if (pid !== undefined && name.endsWith(".cpuprofile")) found.set(Number(pid), path.join(dir, name));
  }
  return found;
}
