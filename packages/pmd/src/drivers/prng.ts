/**
 * A small seeded generator for fault injection: xoshiro128** (Blackman and Vigna, 2018), 32-bit
 * integer math only, seeded through splitmix32. Every fault decision draws from one of these, so a
 * run replays exactly from its seed; Math.random never enters. One instance per queue and
 * direction (see `laneSeedStream`), so lcores never share a state.
 *
 * Nothing here allocates after construction: the state is four int32 fields.
 */

const TWO_NEG_32 = 2 ** -32;

/** splitmix32's output function (a 32-bit finaliser of murmur3's kind). */
function mix32(z: number): number {
  let x = z;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export class Xoshiro128 {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** `seed` and `stream` are u32s; different streams of one seed are unrelated sequences. */
  constructor(seed: number, stream = 0) {
    // splitmix32 from a state that folds the stream in, so (seed, stream) pairs never collide
    // on the first words.
    let z = (seed ^ mix32(Math.imul(stream + 1, 0x9e3779b9))) | 0;
    z = (z + 0x9e3779b9) | 0;
    this.s0 = mix32(z) | 0;
    z = (z + 0x9e3779b9) | 0;
    this.s1 = mix32(z) | 0;
    z = (z + 0x9e3779b9) | 0;
    this.s2 = mix32(z) | 0;
    z = (z + 0x9e3779b9) | 0;
    this.s3 = mix32(z) | 0;
    // The all-zero state is the generator's one fixed point.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator in a given state (tests: the reference vectors start from {1, 2, 3, 4}). */
  static fromState(s0: number, s1: number, s2: number, s3: number): Xoshiro128 {
    const g = new Xoshiro128(0);
    g.s0 = s0 | 0;
    g.s1 = s1 | 0;
    g.s2 = s2 | 0;
    g.s3 = s3 | 0;
    return g;
  }

  /** The next u32. */
  nextU32(): number {
    const s1 = this.s1;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result >>> 0;
  }

  /** Uniform in [0, 1), 32 bits of resolution: `next() < p` is true with probability p. */
  next(): number {
    return this.nextU32() * TWO_NEG_32;
  }

  /** Uniform integer in [0, n) for n <= 2^32 (multiply-shift; bias below 2^-16 for n < 65536). */
  nextInt(n: number): number {
    return Math.floor(this.nextU32() * TWO_NEG_32 * n);
  }
}

/** Direction numbers in the stream id of a queue's generator. */
export const FaultDir = { RX: 0, TX: 1 } as const;

/** The stream of queue `queue`'s generator in direction `dir` (FaultDir). */
export function laneSeedStream(queue: number, dir: number): number {
  return queue * 2 + dir;
}

/** The generator net_fault uses on `queue` in direction `dir` for `seed`: tests replay it. */
export function laneRng(seed: number, queue: number, dir: number): Xoshiro128 {
  return new Xoshiro128(seed, laneSeedStream(queue, dir));
}
