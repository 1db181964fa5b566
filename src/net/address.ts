// Peer addresses ("host:port") and broadcast addresses. Pure functions over strings and the
// interface table (passed in, so tests need no real interfaces). They never resolve names and
// never produce the wildcard or the limited broadcast address 255.255.255.255.
import { isIP, isIPv4 } from "node:net";
import type { NetworkInterfaceInfo } from "node:os";
import { InvalidAddressError, NoInterfaceError, WildcardAddressError } from "./errors.js";
import type { NetError } from "./errors.js";

export interface HostPort {
  host: string;
  port: number;
}

/** The loopback network's broadcast address, used for any 127.x.y.z host. */
export const LOOPBACK_BROADCAST = "127.255.255.255";

const WILDCARDS = new Set(["", "0.0.0.0", "::", "0:0:0:0:0:0:0:0", "::0"]);

/** True for the addresses that mean "every interface". */
export function isWildcard(host: string): boolean {
  return WILDCARDS.has(host.toLowerCase());
}

/** Parses "host:port" or "[ipv6]:port"; a wildcard host or a port outside 1..65535 is an error value. */
export function parseAddress(
  address: string,
): { ok: true; value: HostPort } | { ok: false; error: NetError } {
  const separator = address.lastIndexOf(":");
  if (separator < 0) return { ok: false, error: new InvalidAddressError(address, "expected host:port") };
  let host = address.slice(0, separator);
  const portText = address.slice(separator + 1);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  else if (host.includes(":"))
    return { ok: false, error: new InvalidAddressError(address, "IPv6 needs [brackets]") };
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return { ok: false, error: new InvalidAddressError(address, "port must be 1..65535") };
  }
  if (isWildcard(host)) return { ok: false, error: new WildcardAddressError(host) };
  if (!isIP(host) && !/^[A-Za-z0-9.-]{1,253}$/.test(host)) {
    return { ok: false, error: new InvalidAddressError(address, "host must be an IP address or a DNS name") };
  }
  return { ok: true, value: { host, port: Number(portText) } };
}

/** "host:port", with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The broadcast address of the subnet that `host` (an IPv4 address of this machine) belongs to:
 * 127.255.255.255 for loopback, otherwise address | ~netmask of the interface holding it.
 * Throws for the wildcard, non-IPv4 hosts, hosts no interface holds, and a /0 or /32 netmask.
 */
export function broadcastAddressOf(host: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string {
  if (isWildcard(host)) throw new WildcardAddressError(host);
  if (!isIPv4(host)) throw new NoInterfaceError(host, "broadcast needs an IPv4 address");
  if (host.startsWith("127.")) return LOOPBACK_BROADCAST;
  const info = findInterface(host, interfaces);
  if (info === undefined) throw new NoInterfaceError(host, "no network interface holds this address");
  const mask = ipv4ToInt(info.netmask);
  if (mask === 0 || mask === 0xffff_ffff) {
    throw new NoInterfaceError(host, `netmask ${info.netmask} leaves no subnet to broadcast to`);
  }
  return intToIpv4((ipv4ToInt(host) | ~mask) >>> 0);
}

function findInterface(
  host: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
): NetworkInterfaceInfo | undefined {
  for (const infos of Object.values(interfaces)) {
    const found = infos?.find((info) => info.family === "IPv4" && info.address === host);
    if (found !== undefined) return found;
  }
  return undefined;
}

function ipv4ToInt(address: string): number {
  return address.split(".").reduce((value, part) => ((value << 8) | Number(part)) >>> 0, 0);
}

function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join(".");
}
