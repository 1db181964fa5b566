// Where auction updates go: an IPv4 multicast group and port, and the checks on them. Sending is
// always pinned to one interface with TTL 1 (the local subnet only); receiving joins the group on
// one named interface. Pure functions and constants; no sockets here.
import { isIPv4 } from "node:net";
import { InvalidMulticastGroupError } from "./errors.js";

/**
 * Defaults of the update channel. 239.255.0.0/16 is the IPv4 organization-local scope (RFC 2365),
 * meant for groups an administrator picks for a site; 7410 sits beside the node's default ports.
 */
export const multicastDefaults = {
  group: "239.255.77.1",
  port: 7410,
  /** Where a receiver joins, and where tests publish from. */
  interfaceAddress: "127.0.0.1",
  /** Datagrams never cross a router. */
  ttl: 1,
} as const;

/** Throws InvalidMulticastGroupError unless `group` is an IPv4 multicast address (224.0.0.0/4). */
export function checkMulticastGroup(group: string): void {
  if (!isIPv4(group)) throw new InvalidMulticastGroupError(group, "not an IPv4 address");
  const first = Number(group.split(".")[0]);
  if (first < 224 || first > 239) {
    throw new InvalidMulticastGroupError(group, "not a multicast address (224.0.0.0 to 239.255.255.255)");
  }
}

/** Throws RangeError unless `port` is a UDP port a group can use (1..65535). */
export function checkMulticastPort(port: number): void {
  if (!Number.isSafeInteger(port) || port < 1 || port > 65_535) {
    throw new RangeError(`multicast port must be 1..65535, got ${port}`);
  }
}
