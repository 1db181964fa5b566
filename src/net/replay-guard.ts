// Replay protection for signed frames: a frame is accepted once, and only while its timestamp is
// within a window of our clock. Nonces seen inside the window are remembered in a bounded cache;
// when the cache is full the guard forgets the oldest-stamped nonce and from then on refuses every
// frame stamped at or before it, so it fails closed: it never accepts a frame it cannot prove new.
// For the same reason it refuses frames stamped before it was created (its cache starts empty).

/** Settings of a replay guard. */
export interface ReplayGuardOptions {
  /** A frame stamped more than this far from our clock, either way, is stale. Default 30 000 ms. */
  replayWindowMs?: number;
  /** Most nonces remembered; see `ReplayGuard` for what happens at the bound. Default 100 000. */
  replayNoncesMax?: number;
  /** The clock the window is measured on. Default Date.now. */
  nowMs?: () => number;
}

/**
 * Defaults. 30 s covers a frame queued while its connection is made (2 s) and a slow socket (5 s),
 * plus ordinary clock differences between nodes that keep their clocks with NTP. 100 000 nonces
 * (about 15 MB at most) hold every frame of the window up to some 3 000 frames a second per receiver.
 */
export const replayGuardDefaults = {
  replayWindowMs: 30_000,
  replayNoncesMax: 100_000,
} as const;

/** "forgotten": inside the window, but stamped before the guard started, or at or below the floor raised at the bound. */
export type ReplayVerdict = "fresh" | "stale" | "forgotten" | "replayed";

interface Seen {
  timestampMs: number;
  nonce: string;
}

/**
 * Remembers the nonces of accepted frames. A frame is:
 * - "stale" if its stamp is outside [now - window, now + window];
 * - "forgotten" if its stamp is at or below the floor (see below);
 * - "replayed" if its nonce is remembered;
 * - otherwise "fresh", and its nonce is remembered until its stamp leaves the window.
 *
 * At the bound (`replayNoncesMax` nonces, all still inside the window) the guard evicts the nonce
 * with the oldest stamp and raises the floor to that stamp. Every frame it forgot is therefore
 * refused ("forgotten"), never accepted again; fresh traffic, stamped after the floor, still passes. Under
 * a sustained flood the effective window shrinks to what the cache holds, and only frames delayed
 * longer than that are refused. Only frames whose signature was verified reach the guard, so no one
 * without a key can fill it.
 *
 * The floor starts just before the guard's creation: a restarted node remembers no nonces, so it
 * refuses every frame stamped before it started rather than accept one its previous run had seen.
 * (A sender whose clock runs ahead stamps frames later than it sends them; within that lead such a
 * frame could still be replayed to a restarted node. The peer protocol tolerates duplicates.)
 */
export class ReplayGuard {
  readonly windowMs: number;
  readonly noncesMax: number;
  private readonly nowMs: () => number;
  private readonly nonces = new Set<string>();
  // Invariant: `heap` holds exactly the nonces of `nonces`, as a binary min-heap on timestampMs.
  private readonly heap: Seen[] = [];
  /** Frames stamped at or before this are refused: from before our start, or forgotten at the bound. */
  private floorMs: number;
  private evictedCount = 0;

  constructor(options: ReplayGuardOptions = {}) {
    this.windowMs = options.replayWindowMs ?? replayGuardDefaults.replayWindowMs;
    this.noncesMax = options.replayNoncesMax ?? replayGuardDefaults.replayNoncesMax;
    this.nowMs = options.nowMs ?? Date.now;
    this.floorMs = this.nowMs() - 1;
    if (!(this.windowMs > 0)) throw new RangeError("replayWindowMs must be positive");
    if (!(Number.isSafeInteger(this.noncesMax) && this.noncesMax > 0)) {
      throw new RangeError("replayNoncesMax must be a positive integer");
    }
  }

  /** Nonces remembered now. */
  get size(): number {
    return this.nonces.size;
  }

  /** Nonces forgotten at the bound since start (each raised the floor). */
  get evictions(): number {
    return this.evictedCount;
  }

  /** Decides on one verified frame and, if it is fresh, remembers its nonce. */
  check(timestampMs: number, nonce: string): ReplayVerdict {
    const now = this.nowMs();
    this.expire(now - this.windowMs);
    if (timestampMs < now - this.windowMs || timestampMs > now + this.windowMs) return "stale";
    if (timestampMs <= this.floorMs) return "forgotten";
    if (this.nonces.has(nonce)) return "replayed";
    if (this.nonces.size >= this.noncesMax) this.evictOldest();
    this.nonces.add(nonce);
    this.push({ timestampMs, nonce });
    return "fresh";
  }

  /** Forgets nonces stamped before `oldestMs`: the window refuses them anyway. */
  private expire(oldestMs: number): void {
    for (let top = this.heap[0]; top !== undefined && top.timestampMs < oldestMs; top = this.heap[0]) {
      this.nonces.delete(this.pop().nonce);
    }
  }

  private evictOldest(): void {
    const oldest = this.pop();
    this.nonces.delete(oldest.nonce);
    this.floorMs = Math.max(this.floorMs, oldest.timestampMs);
    this.evictedCount++;
  }

  private push(seen: Seen): void {
    const heap = this.heap;
    heap.push(seen);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.timestampMs <= seen.timestampMs) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = seen;
  }

  private pop(): Seen {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined) throw new Error("pop from an empty replay heap");
    if (heap.length > 0) this.siftDown(last);
    return top;
  }

  /** Puts `seen` at the root and moves it down to its place. */
  private siftDown(seen: Seen): void {
    const heap = this.heap;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.timestampMs < heap[left]!.timestampMs ? right : left;
      if (heap[child]!.timestampMs >= seen.timestampMs) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = seen;
  }
}
