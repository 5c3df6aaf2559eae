// A deterministic single-thread simulation of two stacks joined by a virtual wire, in virtual
// time: frames leave one stack's tx queue and enter the other's input, with optional seeded
// loss, duplication, reordering and delay. Time jumps to the next deadline when nothing moves.
import { PktmbufPool } from '@bypass/mempool';
import { Stack, type StackOptions } from '../src/index.js';

let nextPoolId = 100;

/** A pool with its own pool id (handles of two pools must not collide in one thread). */
export function makePool(n: number, name: string, dataRoomSize = 2048): PktmbufPool {
  const o = { n, cacheSize: 0, dataRoomSize, name, poolId: nextPoolId++ & 0xff };
  return PktmbufPool.create(new SharedArrayBuffer(PktmbufPool.bytesFor(o)), 0, o);
}

/** xorshift32: a tiny seeded generator for the wire's faults. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s / 4294967296;
  }
}

export interface WireFaults {
  loss?: number;
  dup?: number;
  reorder?: number;
  /** One-way delay in ms. */
  delayMs?: number;
}

interface InFlight {
  m: number;
  at: number;
}

/** One direction of the wire. */
class Lane {
  readonly q: InFlight[] = [];
  readonly rng: Rng;
  held: InFlight | null = null;
  delivered = 0;
  dropped = 0;
  constructor(
    readonly faults: WireFaults,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }
}

export const MAC_A = 0x020000000001;
export const MAC_B = 0x020000000002;

export class Sim {
  now = 0;
  readonly a: Stack;
  readonly b: Stack;
  readonly poolA: PktmbufPool;
  readonly poolB: PktmbufPool;
  readonly ab: Lane;
  readonly ba: Lane;

  constructor(
    opts: {
      faults?: WireFaults;
      seed?: number;
      a?: Partial<StackOptions>;
      b?: Partial<StackOptions>;
      poolSize?: number;
    } = {},
  ) {
    const n = opts.poolSize ?? 4096;
    this.poolA = makePool(n, 'simA');
    this.poolB = makePool(n, 'simB');
    const secret = new Uint8Array(16).fill(7);
    this.a = new Stack({
      pool: this.poolA,
      mac: MAC_A,
      ip: '10.0.0.1/24',
      isnSecret: secret,
      ...opts.a,
    });
    this.b = new Stack({
      pool: this.poolB,
      mac: MAC_B,
      ip: '10.0.0.2/24',
      isnSecret: secret.map((x) => x + 1),
      ...opts.b,
    });
    this.a.arp.addStatic(this.b.localIp, MAC_B);
    this.b.arp.addStatic(this.a.localIp, MAC_A);
    const seed = opts.seed ?? 1;
    this.ab = new Lane(opts.faults ?? {}, seed);
    this.ba = new Lane(opts.faults ?? {}, seed * 7919 + 1);
  }

  private collect(from: Stack, lane: Lane): boolean {
    const n = from.txCount;
    if (n === 0) return false;
    const f = lane.faults;
    const pool = from.pool;
    for (let i = 0; i < n; i++) {
      const m = from.txQueue[i];
      if (f.loss !== undefined && lane.rng.next() < f.loss) {
        pool.free(m);
        lane.dropped++;
        continue;
      }
      const at = this.now + (f.delayMs ?? 0);
      if (f.dup !== undefined && lane.rng.next() < f.dup) {
        const copy = pool.fromBytes(pool.toBytes(m));
        if (copy >= 0) lane.q.push({ m: copy, at });
      }
      if (f.reorder !== undefined && lane.held === null && lane.rng.next() < f.reorder) {
        lane.held = { m, at };
        continue;
      }
      lane.q.push({ m, at });
      if (lane.held !== null) {
        lane.q.push(lane.held);
        lane.held = null;
      }
    }
    from.txDone(n);
    return true;
  }

  private deliver(to: Stack, lane: Lane): boolean {
    let moved = false;
    while (lane.q.length > 0 && lane.q[0].at <= this.now) {
      const f = lane.q.shift() as InFlight;
      to.input(f.m, this.now);
      lane.delivered++;
      moved = true;
    }
    if (lane.q.length === 0 && lane.held !== null) {
      // An idle link reorders nothing: release the held frame.
      lane.q.push(lane.held);
      lane.held = null;
      moved = true;
    }
    return moved;
  }

  /** Moves frames and time until `done()` or `untilMs`. Returns whether done() became true. */
  run(done: () => boolean, untilMs = this.now + 600_000): boolean {
    for (;;) {
      if (done()) return true;
      this.a.poll(this.now);
      this.b.poll(this.now);
      let moved = this.collect(this.a, this.ab);
      moved = this.collect(this.b, this.ba) || moved;
      moved = this.deliver(this.b, this.ab) || moved;
      moved = this.deliver(this.a, this.ba) || moved;
      if (moved) continue;
      if (done()) return true;
      let t = Math.min(this.a.nextDeadline(), this.b.nextDeadline());
      if (this.ab.q.length > 0) t = Math.min(t, this.ab.q[0].at);
      if (this.ba.q.length > 0) t = Math.min(t, this.ba.q[0].at);
      if (t <= this.now) t = this.now + 0.001;
      if (t === Number.POSITIVE_INFINITY || t > untilMs) return done();
      this.now = t;
    }
  }

  /** Frees what is still on the wire and closes both stacks. */
  close(): void {
    for (const lane of [this.ab, this.ba]) {
      for (const f of lane.q) this.poolFor(f.m).free(f.m);
      lane.q.length = 0;
      if (lane.held !== null) this.poolFor(lane.held.m).free(lane.held.m);
      lane.held = null;
    }
    this.a.close();
    this.b.close();
  }

  private poolFor(m: number): PktmbufPool {
    return m >>> 24 === this.poolA.mempool.poolId ? this.poolA : this.poolB;
  }
}
