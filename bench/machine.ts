// What the machine's kernel charges for the things a gavel node does all the time, measured in the
// bench's own process before any load: a system call, a page of fresh memory, a write and fdatasync,
// a loopback TCP round trip, and what a system call costs the code after it. Machines of one kind
// differ in these, and the cluster figures follow them, so the bench prints them beside its
// figures. Also: what a process did, from /proc by PID.
import {
  closeSync,
  fdatasyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeSync,
} from "node:fs";
import net from "node:net";
import path from "node:path";
import { median } from "./stats.js";

export interface MachineCosts {
  /** A write of one byte to /dev/null, in µs (the median of 5 rounds of 20,000). */
  syscallUs: number;
  /**
   * What a system call costs the code after it, beyond its own time, in µs: random lookups in a
   * Map of 500,000 entries slow down when a system call comes every 20 of them (with page table
   * isolation and no PCID, every kernel entry empties the TLB, and the lookups refill it).
   */
  syscallAfterUs: number;
  /** Touching a page of memory the process never used (fault and zeroing), in µs per 4 KiB page. */
  freshPageUs: number;
  /** A write of 4 KiB and an fdatasync of the file, in ms (the median of 100), in `dir`. */
  fsyncMs: number;
  /** A one-byte TCP round trip on 127.0.0.1 between two sockets of this process, in µs. */
  loopbackRttUs: number;
  /** The kernel's Meltdown mitigation (e.g. "Mitigation: PTI"), or "unknown". */
  meltdown: string;
}

export async function measureMachine(dir: string): Promise<MachineCosts> {
  return {
    syscallUs: syscallUs(),
    syscallAfterUs: syscallAfterUs(),
    freshPageUs: freshPageUs(),
    fsyncMs: fsyncMs(dir),
    loopbackRttUs: await loopbackRttUs(),
    meltdown: meltdown(),
  };
}

/** One line for logs: `syscall_us=… syscall_after_us=… fresh_page_us=… fsync_ms=… loopback_rtt_us=… meltdown="…"`. */
export function machineLine(costs: MachineCosts): string {
  return (
    `syscall_us=${costs.syscallUs.toFixed(2)} syscall_after_us=${costs.syscallAfterUs.toFixed(2)} fresh_page_us=${costs.freshPageUs.toFixed(2)} ` +
    `fsync_ms=${costs.fsyncMs.toFixed(3)} loopback_rtt_us=${costs.loopbackRttUs.toFixed(1)} ` +
    `meltdown=${JSON.stringify(costs.meltdown)}`
  );
}

function syscallUs(): number {
  const fd = openSync("/dev/null", "w");
  const byte = Buffer.alloc(1);
  try {
    const rounds = Array.from({ length: 5 }, () => {
      const startedAt = performance.now();
      for (let index = 0; index < 20_000; index++) writeSync(fd, byte);
      return ((performance.now() - startedAt) * 1000) / 20_000;
    });
    return median(rounds);
  } finally {
    closeSync(fd);
  }
}

function syscallAfterUs(): number {
  const size = 500_000;
  const every = 20;
  const map = new Map<string, { value: number }>();
  const keys: string[] = [];
  for (let index = 0; index < size; index++) {
    keys.push(`key${index}`);
    map.set(`key${index}`, { value: index });
  }
  // A fixed pseudo-random order (a linear congruential sequence), the same in every round.
  const order = new Int32Array(1_000_000);
  let seed = 1;
  for (let index = 0; index < order.length; index++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    order[index] = seed % size;
  }
  const fd = openSync("/dev/null", "w");
  const byte = Buffer.alloc(1);
  const pass = (withCalls: boolean) => {
    let sum = 0;
    const startedAt = performance.now();
    for (let index = 0; index < order.length; index++) {
      sum += map.get(keys[order[index]!]!)!.value;
      if (withCalls && index % every === 0) writeSync(fd, byte);
    }
    if (sum < 0) throw new Error("unreachable");
    return (performance.now() - startedAt) * 1000;
  };
  try {
    pass(false);
    pass(true);
    const rounds = Array.from({ length: 3 }, () => {
      const without = pass(false);
      const withCalls = pass(true);
      return (withCalls - without) / (order.length / every);
    });
    return Math.max(0, median(rounds) - syscallUs());
  } finally {
    closeSync(fd);
  }
}

function freshPageUs(): number {
  const pageBytes = 4096;
  const rounds = Array.from({ length: 3 }, () => {
    // 64 MiB outside the JS heap (malloc maps it fresh), touched once per page.
    const memory = Buffer.allocUnsafeSlow(64 * 1024 * 1024);
    const startedAt = performance.now();
    for (let offset = 0; offset < memory.length; offset += pageBytes) memory[offset] = 1;
    return ((performance.now() - startedAt) * 1000) / (memory.length / pageBytes);
  });
  return median(rounds);
}

function fsyncMs(dir: string): number {
  const scratch = mkdtempSync(path.join(dir, "fsync-"));
  const fd = openSync(path.join(scratch, "probe"), "w");
  const block = Buffer.alloc(4096, 1);
  try {
    const samples = Array.from({ length: 100 }, () => {
      writeSync(fd, block);
      const startedAt = performance.now();
      fdatasyncSync(fd);
      return performance.now() - startedAt;
    });
    return median(samples);
  } finally {
    closeSync(fd);
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function loopbackRttUs(): Promise<number> {
  const roundTrips = 5000;
  const server = net.createServer((socket) => socket.on("data", (data) => socket.write(data)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect(port, "127.0.0.1");
  client.setNoDelay(true);
  try {
    await new Promise<void>((resolve, reject) => client.once("connect", resolve).once("error", reject));
    const startedAt = performance.now();
    await new Promise<void>((resolve, reject) => {
      let answered = 0;
      client.on("error", reject);
      client.on("data", () => {
        answered += 1;
        if (answered === roundTrips) resolve();
        else client.write("x");
      });
      client.write("x");
    });
    return ((performance.now() - startedAt) * 1000) / roundTrips;
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function meltdown(): string {
  try {
    return readFileSync("/sys/devices/system/cpu/vulnerabilities/meltdown", "utf8").trim();
  } catch {
    return "unknown";
  }
}

/** What a process has done so far (from /proc, by PID; zeros once it is gone). */
export interface ProcessWork {
  /** Read- and write-class system calls (read, write, send, recv and their kin), all threads. */
  ioCalls: number;
  /** Context switches, voluntary and not, summed over the process's threads alive now. */
  switches: number;
}

export function processWork(pid: number | undefined): ProcessWork {
  if (pid === undefined) return { ioCalls: 0, switches: 0 };
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    const field = (name: string, text: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
    let switches = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        const status = readFileSync(`/proc/${pid}/task/${task}/status`, "utf8");
        switches += field("voluntary_ctxt_switches", status) + field("nonvoluntary_ctxt_switches", status);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return { ioCalls: field("syscr", io) + field("syscw", io), switches };
  } catch {
    return { ioCalls: 0, switches: 0 };
  }
}
