// Finding a node when none is named: listen for the nodes' UDP discovery beacons on the shared
// discovery port, bound to the loopback broadcast address (as the nodes do, with reuseAddr so they
// keep hearing each other), and read the API URL out of the first ones heard. It only listens:
// it never sends a datagram. Only the fields the CLI needs are read; a signed beacon is verified
// when the cluster key is given and otherwise just unwrapped (the URL is then checked over HTTP).
import { createSocket } from "node:dgram";
import { z } from "zod";
import { frameAuth, SIGNATURE_HEADER_BYTES } from "../../net/cluster-key.js";

export const discoveryDefaults = {
  /** The nodes' default --discovery-port. */
  port: 7400,
  /** Where beacons arrive on loopback (the nodes bind the same address). */
  address: "127.255.255.255",
  /** Nodes beacon every 500 ms: two seconds hears each of them several times. */
  timeoutMs: 2000,
  /** After the first beacon, listen this much longer to hear the other nodes too. */
  settleMs: 700,
  datagramBytesMax: 8192,
} as const;

export interface HeardNode {
  clusterName: string;
  nodeId: number;
  httpUrl: string;
}

export interface DiscoveryOptions {
  port?: number;
  address?: string;
  timeoutMs?: number;
  /** Only beacons of this cluster. */
  clusterName?: string;
  /** Cluster keys: when given, only beacons signed with one of them count. */
  keys?: readonly string[];
}

const SIGNED_MARKER = 0xf5;

const beaconFields = z.looseObject({
  v: z.literal(1),
  b: z.looseObject({
    clusterName: z.string().max(200),
    nodeId: z.number().int().positive(),
    httpUrl: z.url({ protocol: /^https?$/ }).max(500),
  }),
});

/** The node a datagram announces, or null if it is not a beacon we can read. */
export function readBeacon(datagram: Buffer, keys: readonly string[] = []): HeardNode | null {
  let body = datagram;
  if (keys.length > 0) {
    const opened = frameAuth("beacon", { keys }).open(datagram);
    if (!opened.ok) return null;
    body = opened.body;
  } else if (datagram[0] === SIGNED_MARKER) {
    body = datagram.subarray(SIGNATURE_HEADER_BYTES);
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  const parsed = beaconFields.safeParse(value);
  if (!parsed.success) return null;
  const { clusterName, nodeId, httpUrl } = parsed.data.b;
  return { clusterName, nodeId, httpUrl: httpUrl.replace(/\/+$/, "") };
}

/**
 * Listens for beacons until a little after the first one (or the timeout) and returns the nodes
 * heard, one per node id. Rejects only if the port cannot be bound.
 */
export async function discoverNodes(options: DiscoveryOptions = {}): Promise<HeardNode[]> {
  const port = options.port ?? discoveryDefaults.port;
  const address = options.address ?? discoveryDefaults.address;
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  const heard = new Map<number, HeardNode>();
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ address, port, exclusive: false }, () => {
      socket.removeListener("error", reject);
      resolve();
    });
  });
  return new Promise((resolve) => {
    let settle: NodeJS.Timeout | null = null;
    const finish = () => {
      clearTimeout(deadline);
      if (settle !== null) clearTimeout(settle);
      socket.close(() => resolve([...heard.values()]));
    };
    const deadline = setTimeout(finish, options.timeoutMs ?? discoveryDefaults.timeoutMs);
    // A receive error (ICMP noise) does not stop listening.
    socket.on("error", () => undefined);
    socket.on("message", (datagram) => {
      if (datagram.byteLength > discoveryDefaults.datagramBytesMax) return;
      const node = readBeacon(datagram, options.keys);
      if (node === null) return;
      if (options.clusterName !== undefined && node.clusterName !== options.clusterName) return;
      heard.set(node.nodeId, node);
      settle ??= setTimeout(finish, discoveryDefaults.settleMs);
    });
  });
}
