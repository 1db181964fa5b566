// The nodes' UDP multicast auction updates as a source for `gavel watch`, through the receiver
// library (src/client/update-receiver.ts). Multicast leaves a node with TTL 1 on the node's own
// interface, so it can only be heard on a host that shares that subnet: `multicastInterfaceFor`
// says which local interface (if any) can hear a node, and the watch uses the WebSocket otherwise.
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import type { NetworkInterfaceInfo } from "node:os";
import { UpdateReceiver, updateReceiverDefaults } from "../../../client/update-receiver.js";
import type { AuctionState, AuctionUpdate } from "../../../client/update-receiver.js";

export const multicastWatchDefaults = {
  group: updateReceiverDefaults.group,
  port: updateReceiverDefaults.port,
} as const;

function ipv4ToNumber(address: string): number {
  return address.split(".").reduce((value, part) => value * 256 + Number(part), 0);
}

/**
 * The local IPv4 address to join the group on to hear the node at `nodeUrl`, or null when this
 * host is not on the node's subnet: loopback for a node on loopback, else the interface whose
 * subnet holds the node's address.
 */
export function multicastInterfaceFor(
  nodeUrl: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string | null {
  let host: string;
  try {
    host = new URL(nodeUrl).hostname;
  } catch {
    return null;
  }
  if (host === "localhost") host = "127.0.0.1";
  if (isIP(host) !== 4) return null;
  if (host.startsWith("127.")) return "127.0.0.1";
  const target = ipv4ToNumber(host);
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) {
      if (entry.family !== "IPv4") continue;
      const mask = ipv4ToNumber(entry.netmask);
      // `>>> 0` keeps the bitwise results unsigned, so that they compare as addresses.
      if ((ipv4ToNumber(entry.address) & mask) >>> 0 === (target & mask) >>> 0) return entry.address;
    }
  }
  return null;
}

export interface MulticastHandlers {
  update(update: AuctionUpdate): void;
  /** After a gap the receiver fetched the auction: its full document. */
  caughtUp(auction: AuctionState): void;
}

export interface MulticastOptions {
  group: string;
  port: number;
  interfaceAddress: string;
  keys: readonly string[];
  clusterName?: string;
  /** Where the receiver fetches an auction after a gap. */
  httpUrls: readonly string[];
}

/** Joins the group; rejects (BindError and the like) when this host cannot. */
export async function startMulticast(
  options: MulticastOptions,
  handlers: MulticastHandlers,
): Promise<UpdateReceiver> {
  const receiver = await UpdateReceiver.start({
    group: options.group,
    port: options.port,
    interfaceAddress: options.interfaceAddress,
    keys: options.keys.length > 0 ? options.keys : undefined,
    clusterName: options.clusterName,
    httpUrl: options.httpUrls,
  });
  receiver.on("update", (update) => handlers.update(update));
  receiver.on("catch-up", (catchUp) => handlers.caughtUp(catchUp.auction));
  return receiver;
}

/** True when the receiver throws away updates it cannot open: signed with a key we lack, or not at all. */
export function refusedByKeys(receiver: UpdateReceiver): boolean {
  const stats = receiver.stats();
  const refused =
    stats.dropped["unexpected-signature"] +
    stats.dropped["unknown-key"] +
    stats.dropped["bad-signature"] +
    stats.dropped["unsigned"];
  return refused > 0 && stats.delivered === 0;
}
