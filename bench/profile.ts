// Reads the CPU profiles that `node --cpu-prof` wrote for the bench's nodes and says where their
// time went: the share of busy samples (idle excluded) by package or source file, and the functions
// with the most self time. A sample taken while the thread waits in a system call (an fsync in
// SQLite) counts as busy in the function that made the call.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
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

export function summarize(file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const timeById = new Map<number, number>();
  profile.samples.forEach((id, index) =>
    timeById.set(id, (timeById.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)),
  );
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
    const where = place(url, functionName);
    places.set(where, (places.get(where) ?? 0) + time);
    const file = url.startsWith("node:") ? url : where.replace(" (package)", "");
    const name = url === "" ? functionName : `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + time);
  }
  const shares = (map: Map<string, number>) =>
    [...map]
      .sort((left, right) => right[1] - left[1])
      .slice(0, top)
      .map(([what, time]) => ({ what, share: busy === 0 ? 0 : time / busy }));
  return {
    busyMs: busy / 1000,
    idleShare: busy + idle === 0 ? 0 : idle / (busy + idle),
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
