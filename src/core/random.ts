// Randomness as an input: the core never draws random numbers itself, it asks an injected Random.
// The simulator passes a seeded generator so a seed replays a run exactly; the node passes one
// seeded from the operating system.

/** A source of uniformly distributed numbers in [0, 1). */
export interface Random {
  next(): number;
}

/** A small, fast, seeded generator (mulberry32). Deterministic for a given seed. */
export class SeededRandom implements Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, bound). */
  int(bound: number): number {
    return Math.floor(this.next() * bound);
  }
}

/** An integer in [0, bound) drawn from `random`. */
export function randomInt(random: Random, bound: number): number {
  return Math.floor(random.next() * bound);
}

/** A version-4 UUID whose bits come from `random`. */
export function randomUuid(random: Random): string {
  const hex: string[] = [];
  for (let index = 0; index < 32; index++) hex.push(randomInt(random, 16).toString(16));
  hex[12] = "4";
  hex[16] = ((randomInt(random, 4) & 0x3) | 0x8).toString(16);
  const s = hex.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}
