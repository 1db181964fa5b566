// Discovery over UDP broadcast: beacons are sent to the broadcast address of the bound host's
// subnet (127.255.255.255 on loopback) and received on a socket bound to that broadcast address,
// which several nodes on one host share. It never sends to 255.255.255.255, never binds the
// wildcard, and drops (and counts) any datagram that is oversized, malformed or of another version.
// With cluster keys, beacons are sealed (cluster-key.ts) and one that does not open is dropped.
import type { RemoteInfo, Socket } from "node:dgram";
import { networkInterfaces } from "node:os";
import type { NetworkInterfaceInfo } from "node:os";
import type { Beacon } from "../core/cluster/types.js";
import type { Discovery } from "../node/ports.js";
import type { Logger } from "../node/logger.js";
import { silentLogger } from "../node/logger.js";
import { broadcastAddressOf, formatAddress } from "./address.js";
import { authFailureReasons, frameAuth } from "./cluster-key.js";
import type { AuthFailureReason, ChannelAuth } from "./cluster-key.js";
import { decodeBeacon, encodeBeacon, PROTOCOL_VERSION } from "./envelope.js";
import type { DecodeFailureReason } from "./envelope.js";
import { LogLimiter } from "./log-limit.js";
import { bindUdpSocket as bindSocket, closeUdpSocket as closeSocket } from "./udp-socket.js";
import { zeroCounts } from "./stats.js";

export interface UdpDiscoveryOptions {
  /** The node's own IPv4 address; beacons go to its subnet's broadcast address. Default "127.0.0.1". */
  host?: string;
  /** UDP port every node of the cluster on this subnet shares. Default 7400. */
  discoveryPort?: number;
  /** Receives every valid beacon, the node's own included. */
  onBeacon: (beacon: Beacon) => void;
  logger?: Logger;
  /** Largest beacon datagram, in bytes, either way. Default 8192. */
  datagramBytesMax?: number;
  /** The interface table to find the host's netmask in. Default os.networkInterfaces (tests pass their own). */
  interfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** Cluster keys, the first signs (see TcpTransportOptions.keys). None: beacons are neither signed nor checked. */
  keys?: readonly string[];
  /** Beacons stamped further than this from our clock are refused, in ms. Default 30000. */
  replayWindowMs?: number;
  /** Most nonces remembered against replays (see ReplayGuard). Default 100000. */
  replayNoncesMax?: number;
  /** The clock that stamps and checks signed beacons. Default Date.now. */
  nowMs?: () => number;
}

/** The defaults of every optional setting. */
export const udpDiscoveryDefaults = {
  host: "127.0.0.1",
  discoveryPort: 7400,
  datagramBytesMax: 8192,
} as const;

/** Why a beacon was dropped: see envelope.ts and cluster-key.ts; "oversized" either way; "send-failed"; "closed". */
export type BeaconDropReason =
  DecodeFailureReason | AuthFailureReason | "oversized" | "send-failed" | "closed";

export const beaconDropReasons: readonly BeaconDropReason[] = [
  "malformed",
  "version",
  "invalid",
  "unknown-type",
  "oversized",
  "send-failed",
  "closed",
  ...authFailureReasons,
];

export interface DiscoveryStats {
  /** Beacons handed to the sending socket. */
  sent: number;
  /** Valid beacons handed to `onBeacon`. */
  delivered: number;
  dropped: Record<BeaconDropReason, number>;
}

export class UdpDiscovery implements Discovery {
  private readonly counts: DiscoveryStats = { sent: 0, delivered: 0, dropped: zeroCounts(beaconDropReasons) };
  private readonly dropLog = new LogLimiter(10_000);
  private readonly versionLog = new LogLimiter(Number.POSITIVE_INFINITY);
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly sender: Socket,
    private readonly receiver: Socket,
    /** Where beacons go: the subnet's broadcast address, never 255.255.255.255. */
    readonly broadcastAddress: string,
    readonly discoveryPort: number,
    private readonly datagramBytesMax: number,
    private readonly onBeacon: (beacon: Beacon) => void,
    private readonly logger: Logger,
    private readonly auth: ChannelAuth,
  ) {
    receiver.on("message", (datagram, from) => this.receive(datagram, from));
    receiver.on("error", (error) => logger.error({ error: error.message }, "discovery receive error"));
    sender.on("error", (error) => logger.error({ error: error.message }, "discovery send error"));
  }

  /**
   * Binds the sending socket (host, any port) and the receiving one (broadcast address, shared
   * discovery port). Rejects with WildcardAddressError, NoInterfaceError, InvalidClusterKeyError
   * or BindError (whose `systemCode` tells EADDRINUSE apart).
   */
  static async start(options: UdpDiscoveryOptions): Promise<UdpDiscovery> {
    const { keys, replayWindowMs, replayNoncesMax, nowMs } = options;
    const auth = frameAuth("beacon", { keys, replayWindowMs, replayNoncesMax, nowMs });
    const host = options.host ?? udpDiscoveryDefaults.host;
    const discoveryPort = options.discoveryPort ?? udpDiscoveryDefaults.discoveryPort;
    const broadcastAddress = broadcastAddressOf(host, (options.interfaces ?? networkInterfaces)());
    const sender = await bindSocket("discovery sender", host, 0, false);
    let receiver: Socket;
    try {
      receiver = await bindSocket("discovery receiver", broadcastAddress, discoveryPort, true);
    } catch (error) {
      await closeSocket(sender);
      throw error;
    }
    sender.setBroadcast(true);
    const logger = options.logger ?? silentLogger();
    const bytesMax = options.datagramBytesMax ?? udpDiscoveryDefaults.datagramBytesMax;
    return new UdpDiscovery(
      sender,
      receiver,
      broadcastAddress,
      discoveryPort,
      bytesMax,
      options.onBeacon,
      logger,
      auth,
    );
  }

  /** Sends `beacon` to every node listening on the subnet. Best effort; never throws. */
  broadcast(beacon: Beacon): void {
    if (this.closing !== null) return this.drop("closed", "self");
    const datagram = this.auth.seal(encodeBeacon(beacon));
    if (datagram.byteLength > this.datagramBytesMax) {
      return this.drop("oversized", "self", {
        bytes: datagram.byteLength,
        datagramBytesMax: this.datagramBytesMax,
      });
    }
    this.sender.send(datagram, this.discoveryPort, this.broadcastAddress, (error) => {
      if (error === null) this.counts.sent++;
      else this.drop("send-failed", "self", { error: error.message });
    });
  }

  /** Signs and verifies beacons with `keys` from now on (see TcpTransport.setKeys). */
  setKeys(keys: readonly string[]): void {
    this.auth.setKeys(keys);
  }

  /** Counters since start; a fresh copy. */
  stats(): DiscoveryStats {
    return { ...this.counts, dropped: { ...this.counts.dropped } };
  }

  /** Closes both sockets. */
  close(): Promise<void> {
    this.closing ??= Promise.all([closeSocket(this.sender), closeSocket(this.receiver)]).then(
      () => undefined,
    );
    return this.closing;
  }

  private receive(datagram: Buffer, from: RemoteInfo): void {
    if (this.closing !== null) return;
    const sender = formatAddress(from.address, from.port);
    if (datagram.byteLength > this.datagramBytesMax) {
      return this.drop("oversized", sender, { bytes: datagram.byteLength });
    }
    const opened = this.auth.open(datagram);
    if (!opened.ok) return this.drop(opened.reason, sender, { detail: opened.detail });
    const decoded = decodeBeacon(opened.body);
    if (decoded.ok) {
      this.counts.delivered++;
      return this.onBeacon(decoded.value);
    }
    if (decoded.reason === "version") return this.refuse(from, decoded.peerVersion ?? -1);
    this.drop(decoded.reason, sender, { detail: decoded.detail });
  }

  private refuse(from: RemoteInfo, peerVersion: number): void {
    this.counts.dropped.version++;
    if (!this.versionLog.allow(`${from.address}/${peerVersion}`)) return;
    this.logger.warn(
      { from: from.address, peerVersion, protocolVersion: PROTOCOL_VERSION },
      `ignoring beacons from ${from.address}: it speaks protocol version ${peerVersion}, this node speaks ${PROTOCOL_VERSION}`,
    );
  }

  /** Counts a drop; logs at most one line per reason and sender every 10 s. */
  private drop(reason: BeaconDropReason, peer: string, context: Record<string, unknown> = {}): void {
    this.counts.dropped[reason]++;
    if (!this.dropLog.allow(`${reason}/${peer}`)) return;
    const level = reason === "send-failed" || authReasons.has(reason) ? "warn" : "debug";
    this.logger[level]({ reason, from: peer, ...context }, "dropped beacon");
  }
}

/** Refused by the cluster keys: a misconfigured or hostile sender, worth a warning. */
const authReasons: ReadonlySet<BeaconDropReason> = new Set(authFailureReasons);
