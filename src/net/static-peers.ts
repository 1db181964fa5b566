// Beacons where broadcast does not reach: besides the UDP broadcast, every beacon also goes over
// TCP to each static seed (--peers) and to every node that sent us its beacon that way lately, so
// a seed learns of us and answers in kind. It never sends anywhere it was not told of.
import type { Beacon } from "../core/cluster/types.js";
import type { Discovery } from "../node/ports.js";
import type { TcpTransport } from "./tcp-transport.js";

/** How long a node that sent us a beacon over TCP keeps getting ours, in ms. */
const learnedForMs = 10_000;
/** Most addresses learned this way (a flood of beacons cannot grow it). */
const learnedMax = 256;

export class BeaconRelay implements Discovery {
  private readonly learned = new Map<string, number>();

  constructor(
    private readonly broadcaster: Discovery,
    private readonly transport: Pick<TcpTransport, "sendBeacon">,
    private readonly seeds: readonly string[],
    private readonly nowMs: () => number = Date.now,
  ) {}

  broadcast(beacon: Beacon): void {
    this.broadcaster.broadcast(beacon);
    const now = this.nowMs();
    const targets = new Set(this.seeds);
    for (const [address, heardMs] of this.learned) {
      if (now - heardMs > learnedForMs) this.learned.delete(address);
      else targets.add(address);
    }
    targets.delete(beacon.address);
    for (const address of targets) this.transport.sendBeacon(beacon, address);
  }

  /** A beacon arrived over TCP: answer its sender with ours from now on. */
  heard(beacon: Beacon): void {
    this.learned.delete(beacon.address);
    this.learned.set(beacon.address, this.nowMs());
    if (this.learned.size > learnedMax) this.learned.delete(this.learned.keys().next().value!);
  }
}
