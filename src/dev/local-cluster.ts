// What the tools that run gavel nodes on this machine share (the demo, the bench and the tests):
// free loopback ports for the nodes to bind, waiting for a condition with a deadline instead of a
// fixed sleep, and when a cluster's views agree on its leader. (Chaos runs pick their ports below
// the ephemeral range instead, and stop waiting as soon as a node exits: src/chaos/cluster.ts.)
import { createSocket } from "node:dgram";
import { createServer } from "node:net";

/** A TCP port free on 127.0.0.1 now (the kernel's pick, closed again so a node can bind it). */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no free TCP port on 127.0.0.1");
  return address.port;
}

/** A UDP port free on 127.0.0.1 now (the kernel's pick, closed again), e.g. for a cluster's discovery. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", resolve);
  });
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export interface WaitOptions {
  /** How often the condition is tried again, in ms. Default 50. */
  pollMs?: number;
}

/**
 * Tries `condition` until it returns a value other than undefined or false, and resolves with it;
 * a throw counts as not yet. Fails with `what` (and the last error thrown) after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
  }
}

/** What a node's GET /api/cluster says, in the parts these tools read. */
export interface ClusterView {
  term: number;
  leader: number | null;
  nodes: { id: number; role: string; status: string; http: string; auctions: number }[];
}

/**
 * The first of `views` (one per running node, of the nodes `ids`) when every one names `leader` and
 * lists every node of `ids` as a voter (not a learner); undefined until then.
 */
export function agreedView(
  views: readonly ClusterView[],
  ids: readonly number[],
  leader: number,
): ClusterView | undefined {
  const agreed = views.every((view) => view.leader === leader);
  const complete = views.every((view) =>
    ids.every((id) => view.nodes.some((item) => item.id === id && item.role !== "learner")),
  );
  return agreed && complete ? views[0] : undefined;
}
