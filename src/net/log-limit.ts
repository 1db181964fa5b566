// A limiter for log lines caused by peers, so that a misbehaving or flooding peer costs a bounded
// number of lines. It only decides whether to log; it never drops counters or messages.

/** Lets one line per key through per interval (an infinite interval: once per key). */
export class LogLimiter {
  private readonly lastMs = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    /** Keys remembered; when full, all are forgotten at once (a few lines may repeat). */
    private readonly keysMax: number = 1024,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** True if a line for `key` may be logged now (and records that it was). */
  allow(key: string): boolean {
    const now = this.nowMs();
    const last = this.lastMs.get(key);
    if (last !== undefined && now - last < this.intervalMs) return false;
    if (last === undefined && this.lastMs.size >= this.keysMax) this.lastMs.clear();
    this.lastMs.set(key, now);
    return true;
  }
}
