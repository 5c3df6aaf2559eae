import { OptionError } from '@bypass/atomics-sync';
import { memzoneLookup, memzoneReserve, now } from '@bypass/eal';
import { MBUF_NONE, mbufPoolOf, type PktmbufPool } from '@bypass/mempool';
import type { DriverFactory, EthDriver, PortContext } from '../driver.js';
import { EthDevError } from '../errors.js';
import { ethDevInfo, rxBurst as ethRxBurst, txBurst as ethTxBurst } from '../ethdev.js';
import { MAX_QUEUES, type PortConf, type PortTable } from '../port-table.js';
import { checkArgNames, intArg } from './args.js';
import { FaultDir, laneRng, type Xoshiro128 } from './prng.js';

/**
 * net_fault: a port that wraps another port and damages what crosses it (smoltcp's
 * phy/fault_injector.rs, Linux netem), so any application or test can run over a bad link
 * without knowing.
 *
 *   --vdev net_ring0 --vdev net_fault0,port=net_ring0,dir=both,seed=7,loss=0.01
 *   --vdev net_fault1,port=net_ring0,gilbert=0.01:0.3,dup=0.001,reorder=0.01,reorder_depth=3
 *   --vdev net_fault2,port=net_tap0,dir=rx,delay_ms=20,jitter_ms=5,rate_mbps=100,corrupt=1e-4
 *
 * The wrapped port is configured and started by the application as usual; the fault port is
 * configured with the same queue counts (at most the wrapped port's) and started after it. Queue q
 * of the fault port is queue q of the wrapped port: rxBurst pulls from the wrapped port's rxBurst
 * and txBurst pushes into its txBurst, both through the ethdev API by port id, and the faults are
 * applied on the way in the directions that `dir` names (the other direction passes straight
 * through).
 *
 * Options (vdev key=value; probabilities are per frame, in [0, 1]):
 *   port=NAME           the port to wrap (required)
 *   dir=rx|tx|both      where faults apply (default both)
 *   seed=N              u32 seed (default 0). Each queue and direction draws from its own
 *                       xoshiro128** stream of (seed, queue, direction): a run replays exactly.
 *   loss=P              uniform loss
 *   gilbert=p:r[:h:k]   Gilbert-Elliott bursty loss, as netem's gemodel: p = P(good -> bad),
 *                       r = P(bad -> good), a frame is lost with 1-h in the bad state and 1-k in
 *                       the good one (defaults h=0, k=1: classic Gilbert, every frame in the bad
 *                       state is lost; mean loss p/(p+r), mean loss burst 1/r). Colons, because
 *                       commas separate vdev arguments.
 *   rate_mbps=R         token-bucket policer on bytes (packet length): frames beyond the rate are
 *   burst_bytes=B       dropped; the bucket holds B bytes (default 15000)
 *   corrupt=P           flip one random bit of one random byte of the frame
 *   dup=P               send a copy right after the frame (a new mbuf from the fault port's rx
 *                       queue pool on rx, from the frame's own pool on tx)
 *   reorder=P           hold the frame back until reorder_depth=N (default 1) later frames have
 *                       gone by (at most N frames held at once)
 *   delay_ms=D          hold every frame until D ms after it crossed, give or take jitter_ms=J
 *   jitter_ms=J         (uniform in [-J, J]). Delayed frames leave in the order they came: a frame
 *                       is never due before the one ahead of it, so jitter never reorders (use
 *                       reorder= for that) and, within a burst, waits lean towards D + J.
 *   hold=N              frames a queue may hold per direction (the delay FIFO; on tx, frames
 *                       waiting for the wrapped port): a power of two, at least 2 * reorder_depth
 *                       + 4; default the queue's descriptor count (at least 64)
 *
 * Per frame the faults apply in this order, each drawing from the queue's generator only when
 * its option is set: loss, gilbert (transition draw, then a loss draw when 0 < loss < 1), rate,
 * corrupt (one draw, then one for the bit), dup, reorder, jitter.
 *
 * Ownership (DPDK's rule) holds: rxBurst hands out frames the caller owns. txBurst takes a prefix
 * handles[0..k) and the caller keeps the rest: the tx queue is a software ring of `hold` frames in
 * front of the wrapped port, so frames the wrapped port refuses wait there (in order) and go on the
 * next txBurst of that queue, and k falls short once the ring is full. Frames the driver drops are
 * freed by it. Held frames (delayed, reordered, waiting) belong to the driver: they leave on later
 * bursts of the same queue (a txBurst with n = 0 flushes a tx queue; an rxBurst that finds the
 * wrapped queue empty, or a txBurst with n = 0, releases reordered frames at once: an idle link
 * reorders nothing), and are freed, counted as `flushed`, when this thread's instance closes or the
 * port stops (ethDevStop frees what the main thread's instance holds).
 *
 * Counters (float64 per queue and direction, in memzone `${port name}_faults`, reserved when the
 * port starts, so the main thread reads them while lcores run): see FAULT_STAT_NAMES and
 * ethFaultStats.
 *
 * Nothing on the per-packet path allocates: staging buffers are typed arrays sized at attach, grown
 * only when a larger rx burst arrives.
 */

export const FaultStat = {
  SEEN: 0,
  DROPPED_LOSS: 1,
  DROPPED_GILBERT: 2,
  DROPPED_RATE: 3,
  DUPLICATED: 4,
  DUP_NOMBUF: 5,
  CORRUPTED: 6,
  CORRUPT_NOMBUF: 7,
  REORDERED: 8,
  DELAYED: 9,
  FLUSHED: 10,
} as const;

/** Counter names as ethFaultStats reports them, in FaultStat order. */
export const FAULT_STAT_NAMES = [
  'seen', // frames that entered the fault path
  'dropped_loss',
  'dropped_gilbert',
  'dropped_rate',
  'duplicated',
  'dup_nombuf', // a dup skipped: no mbuf free, or the frame does not fit one mbuf
  'corrupted',
  'corrupt_nombuf', // a corruption skipped: the mbuf is shared (refcnt > 1) and no copy was free
  'reordered', // frames held back by reorder=
  'delayed', // frames that went through the delay FIFO
  'flushed', // held frames freed when the port stopped or its instance closed
] as const;

const FAULT_STATS = FAULT_STAT_NAMES.length;
const LANE_STATS = FAULT_STATS; // per queue and direction
const ZONE_BYTES = MAX_QUEUES * 2 * LANE_STATS * 8;
const statsZone = (portName: string) => `${portName}_faults`;

export interface GilbertElliott {
  /** P(good -> bad) per frame. */
  p: number;
  /** P(bad -> good) per frame. */
  r: number;
  /** P(a frame survives) in the bad state. */
  h: number;
  /** P(a frame survives) in the good state. */
  k: number;
}

/** The parsed vdev arguments; defaults in parseFaultArgs. */
export interface FaultOptions {
  port: string;
  rx: boolean;
  tx: boolean;
  seed: number;
  loss: number;
  gilbert: GilbertElliott | undefined;
  rateMbps: number;
  burstBytes: number;
  corrupt: number;
  dup: number;
  reorder: number;
  reorderDepth: number;
  delayMs: number;
  jitterMs: number;
  /** 0: the queue's descriptor count. */
  hold: number;
}

const KEYS = [
  'port',
  'dir',
  'seed',
  'loss',
  'gilbert',
  'rate_mbps',
  'burst_bytes',
  'corrupt',
  'dup',
  'reorder',
  'reorder_depth',
  'delay_ms',
  'jitter_ms',
  'hold',
  'mac',
];

function numberOf(v: string): number {
  return v.trim() === '' ? Number.NaN : Number(v);
}

function probability(dev: string, key: string, v: string | undefined): number {
  if (v === undefined) return 0;
  const p = numberOf(v);
  if (!(p >= 0 && p <= 1)) throw new OptionError(`${dev} ${key}`, v, 'a probability in [0, 1]');
  return p;
}

function nonNegative(dev: string, key: string, v: string | undefined, what: string): number {
  if (v === undefined) return 0;
  const x = numberOf(v);
  if (!(x >= 0 && Number.isFinite(x))) throw new OptionError(`${dev} ${key}`, v, what);
  return x;
}

function gilbertOf(dev: string, v: string | undefined): GilbertElliott | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(':');
  const ps = parts.map(numberOf);
  if (parts.length !== 2 && parts.length !== 4) {
    throw new OptionError(
      `${dev} gilbert`,
      v,
      'p:r or p:r:h:k (probabilities; colons, as commas separate vdev arguments)',
    );
  }
  ps.forEach((x, i) => {
    if (!(x >= 0 && x <= 1))
      throw new OptionError(`${dev} gilbert`, v, `probabilities in [0, 1] (${'prhk'[i]} is not)`);
  });
  return { p: ps[0], r: ps[1], h: ps[2] ?? 0, k: ps[3] ?? 1 };
}

/** Validates the vdev arguments of a net_fault port and fills in the defaults. */
export function parseFaultArgs(dev: string, a: Record<string, string>): FaultOptions {
  checkArgNames(dev, a, KEYS);
  if (a.port === undefined || a.port === '') {
    throw new EthDevError(
      `${dev}: port= must name the port to wrap, e.g. --vdev ${dev},port=net_ring0`,
    );
  }
  if (a.port === dev) throw new EthDevError(`${dev}: port=${a.port} cannot wrap itself`);
  const dir = a.dir ?? 'both';
  if (dir !== 'rx' && dir !== 'tx' && dir !== 'both')
    throw new OptionError(`${dev} dir`, dir, 'rx, tx or both');
  const reorderDepth = intArg(dev, 'reorder_depth', a.reorder_depth, 1, 1, 1024);
  let hold = 0;
  if (a.hold !== undefined) {
    hold = intArg(dev, 'hold', a.hold, 0, 2, 1 << 20);
    if ((hold & (hold - 1)) !== 0 || hold < 2 * reorderDepth + 4) {
      throw new OptionError(
        `${dev} hold`,
        a.hold,
        `a power of two in [${2 * reorderDepth + 4}, ${1 << 20}] (at least 2 * reorder_depth + 4)`,
      );
    }
  }
  const rateMbps = nonNegative(dev, 'rate_mbps', a.rate_mbps, 'a rate in Mbit/s, > 0');
  if (a.rate_mbps !== undefined && rateMbps === 0)
    throw new OptionError(`${dev} rate_mbps`, a.rate_mbps, 'a rate in Mbit/s, > 0');
  return {
    port: a.port,
    rx: dir !== 'tx',
    tx: dir !== 'rx',
    seed: intArg(dev, 'seed', a.seed, 0, 0, 0xffffffff),
    loss: probability(dev, 'loss', a.loss),
    gilbert: gilbertOf(dev, a.gilbert),
    rateMbps,
    burstBytes: intArg(dev, 'burst_bytes', a.burst_bytes, 15000, 1, 1 << 30),
    corrupt: probability(dev, 'corrupt', a.corrupt),
    dup: probability(dev, 'dup', a.dup),
    reorder: probability(dev, 'reorder', a.reorder),
    reorderDepth,
    delayMs: nonNegative(dev, 'delay_ms', a.delay_ms, 'a delay in milliseconds, >= 0'),
    jitterMs: nonNegative(dev, 'jitter_ms', a.jitter_ms, 'a jitter in milliseconds, >= 0'),
    hold,
  };
}

/**
 * One queue in one direction: its generator, its link state (Gilbert state, token bucket), the
 * frames it holds, and its counters. Owned by the one lcore that polls the queue.
 */
class Lane {
  readonly rng: Xoshiro128;
  /** The port's counter array (bound at the first burst) and this lane's first index in it. */
  stats: Float64Array;
  sb = 0;

  private readonly loss: number;
  private readonly ge: boolean;
  private readonly geP: number;
  private readonly geR: number;
  private readonly geLossBad: number;
  private readonly geLossGood: number;
  private bad = false;

  private readonly rate: boolean;
  private readonly bytesPerMs: number;
  private readonly burstBytes: number;
  private tokens: number;
  private lastRefill = -1;

  private readonly corrupt: number;
  private readonly dup: number;
  /** Where rx copies come from (the fault port's rx queue pool); tx copies use the frame's. */
  private readonly dupPool: PktmbufPool | undefined;

  private readonly reorder: number;
  private readonly depth: number;
  /** Frames held by reorder= (a ring of `depth`), each with the `seen` count that frees it. */
  private readonly held: Uint32Array;
  private readonly heldUntil: Float64Array;
  private heldHead = 0;
  private heldCount = 0;
  /** Frames this lane has seen: reorder counts frames, not time. */
  private seen = 0;

  readonly delay: boolean;
  private readonly delayMs: number;
  private readonly jitterMs: number;
  /** The delay FIFO (a ring of `cap`), each frame with the time it is due. */
  private readonly fifo: Uint32Array;
  private readonly due: Float64Array;
  private readonly mask: number;
  private fifoHead = 0;
  private fifoCount = 0;
  private lastDue = 0;

  /** Frames ready to leave, oldest first (rx: for the caller; tx: for the wrapped port). */
  ready: Uint32Array;
  readyCount = 0;
  /** Worst-case entries one admitted frame adds (itself and a copy). */
  private readonly perFrame: number;
  /** Entries kept free for reordered frames that are released into the FIFO or ready. */
  private readonly reserve: number;
  readonly cap: number;

  /** The last pool looked up, and its id (frames of one burst mostly share one). */
  private pool: PktmbufPool | undefined;
  private poolId = -1;
  private wide: Uint8Array<ArrayBufferLike> = new Uint8Array(0);

  constructor(o: FaultOptions, queue: number, dir: number, cap: number, dupPool?: PktmbufPool) {
    this.rng = laneRng(o.seed, queue, dir);
    this.stats = new Float64Array(LANE_STATS); // until bind: the port has not started
    this.loss = o.loss;
    const g = o.gilbert;
    this.ge = g !== undefined;
    this.geP = g?.p ?? 0;
    this.geR = g?.r ?? 0;
    this.geLossBad = 1 - (g?.h ?? 0);
    this.geLossGood = 1 - (g?.k ?? 1);
    this.rate = o.rateMbps > 0;
    this.bytesPerMs = o.rateMbps * 125; // Mbit/s = 125 bytes per ms
    this.burstBytes = o.burstBytes;
    this.tokens = o.burstBytes;
    this.corrupt = o.corrupt;
    this.dup = o.dup;
    this.dupPool = dupPool;
    this.reorder = o.reorder;
    this.depth = o.reorderDepth;
    this.held = new Uint32Array(this.depth);
    this.heldUntil = new Float64Array(this.depth);
    this.delay = o.delayMs > 0 || o.jitterMs > 0;
    this.delayMs = o.delayMs;
    this.jitterMs = o.jitterMs;
    this.cap = cap;
    this.fifo = new Uint32Array(this.delay ? cap : 0);
    this.due = new Float64Array(this.delay ? cap : 0);
    this.mask = cap - 1;
    this.ready = new Uint32Array(cap);
    this.perFrame = o.dup > 0 ? 2 : 1;
    this.reserve = o.reorder > 0 ? this.depth : 0;
  }

  bind(stats: Float64Array, base: number): void {
    this.stats = stats;
    this.sb = base;
  }

  /** Adds the tokens earned since the last burst (one clock reading per burst). */
  refill(t: number): void {
    if (!this.rate) return;
    if (this.lastRefill >= 0) {
      const tokens = this.tokens + (t - this.lastRefill) * this.bytesPerMs;
      this.tokens = Math.min(tokens, this.burstBytes);
    }
    this.lastRefill = t;
  }

  /** How many more frames can be admitted now without overflowing the FIFO (delay) or, on tx,
   * `ready`: each may add a copy, and the reordered frames still come. */
  room(): number {
    const used = this.delay ? this.fifoCount : this.readyCount;
    const r = Math.floor((this.cap - used - this.reserve) / this.perFrame);
    return Math.max(r, 0);
  }

  /** rx only: makes `ready` hold a burst of `max` plus what processing it can add. */
  growReady(max: number): void {
    const need = 2 * max + this.depth + 1;
    if (this.ready.length >= need) return;
    const r = new Uint32Array(need);
    r.set(this.ready.subarray(0, this.readyCount));
    this.ready = r;
  }

  private poolOf(m: number): PktmbufPool {
    if (m >>> 24 !== this.poolId) {
      this.pool = mbufPoolOf(m);
      this.poolId = m >>> 24;
    }
    return this.pool!;
  }

  /** Runs one frame (which the lane now owns) through the faults, at time `t`. */
  process(m: number, t: number): void {
    const s = this.stats;
    const sb = this.sb;
    const rng = this.rng;
    this.seen++;
    s[sb + FaultStat.SEEN]++;
    let frame = m;
    if (this.loss > 0 && rng.next() < this.loss) {
      this.drop(frame, FaultStat.DROPPED_LOSS, t);
      return;
    }
    if (this.ge) {
      // netem's gemodel: the state the frame finds decides its fate; then the chain moves.
      const lossP = this.bad ? this.geLossBad : this.geLossGood;
      if (this.bad) {
        if (rng.next() < this.geR) this.bad = false;
      } else if (rng.next() < this.geP) this.bad = true;
      if (lossP >= 1 || (lossP > 0 && rng.next() < lossP)) {
        this.drop(frame, FaultStat.DROPPED_GILBERT, t);
        return;
      }
    }
    if (this.rate) {
      const len = this.poolOf(frame).pktLen(frame);
      if (this.tokens < len) {
        this.drop(frame, FaultStat.DROPPED_RATE, t);
        return;
      }
      this.tokens -= len;
    }
    if (this.corrupt > 0 && rng.next() < this.corrupt) frame = this.flipBit(frame);
    let copy = -1;
    if (this.dup > 0 && rng.next() < this.dup) {
      copy = this.copyOf(frame, this.dupPool ?? this.poolOf(frame));
      s[sb + (copy < 0 ? FaultStat.DUP_NOMBUF : FaultStat.DUPLICATED)]++;
    }
    if (this.reorder > 0 && this.heldCount < this.depth && rng.next() < this.reorder) {
      const at = (this.heldHead + this.heldCount) % this.depth;
      this.held[at] = frame;
      this.heldUntil[at] = this.seen + this.depth;
      this.heldCount++;
      s[sb + FaultStat.REORDERED]++;
    } else {
      this.emit(frame, t);
    }
    if (copy >= 0) this.emit(copy, t);
    this.releaseHeld(t, false);
  }

  private drop(m: number, stat: number, t: number): void {
    this.poolOf(m).free(m);
    this.stats[this.sb + stat]++;
    this.releaseHeld(t, false);
  }

  /** Releases reordered frames whose `depth` successors have gone by (all of them if `all`). */
  releaseHeld(t: number, all: boolean): void {
    while (this.heldCount > 0 && (all || this.heldUntil[this.heldHead] <= this.seen)) {
      const m = this.held[this.heldHead];
      this.heldHead = (this.heldHead + 1) % this.depth;
      this.heldCount--;
      this.emit(m, t);
    }
  }

  /** A frame that passed every fault: into the delay FIFO, or ready to leave. */
  private emit(m: number, t: number): void {
    if (!this.delay) {
      this.ready[this.readyCount++] = m;
      return;
    }
    let due = t + this.delayMs;
    if (this.jitterMs > 0) due += (2 * this.rng.next() - 1) * this.jitterMs;
    if (due < this.lastDue) due = this.lastDue; // in order: never before the frame ahead
    this.lastDue = due;
    const at = (this.fifoHead + this.fifoCount) & this.mask;
    this.fifo[at] = m;
    this.due[at] = due;
    this.fifoCount++;
    this.stats[this.sb + FaultStat.DELAYED]++;
  }

  /** Moves delayed frames due by `t` to `ready`, while it holds fewer than `limit`. */
  releaseDue(t: number, limit: number): void {
    while (this.fifoCount > 0 && this.readyCount < limit && this.due[this.fifoHead] <= t) {
      this.ready[this.readyCount++] = this.fifo[this.fifoHead];
      this.fifoHead = (this.fifoHead + 1) & this.mask;
      this.fifoCount--;
    }
  }

  /** Drops the first `k` ready frames from the list (they left). */
  shiftReady(k: number): void {
    if (k === 0) return;
    if (k < this.readyCount) this.ready.copyWithin(0, k, this.readyCount);
    this.readyCount -= k;
  }

  /**
   * Flips one random bit of the frame. A frame with a shared segment (refcnt > 1: someone keeps
   * it, to resend it say) is copied first, so that only this transmission is damaged. Returns
   * the frame to go on with.
   */
  private flipBit(m: number): number {
    const s = this.stats;
    let frame = m;
    const pool = this.poolOf(m);
    const len = pool.pktLen(m);
    if (len === 0) return m;
    for (let seg = m; seg !== MBUF_NONE; seg = mbufPoolOf(seg).next(seg)) {
      if (mbufPoolOf(seg).refcnt(seg) > 1) {
        frame = this.copyOf(m, pool);
        if (frame < 0) {
          s[this.sb + FaultStat.CORRUPT_NOMBUF]++;
          return m;
        }
        pool.free(m);
        break;
      }
    }
    const bit = this.rng.nextInt(len * 8);
    let off = bit >>> 3;
    let seg = frame;
    let sp = mbufPoolOf(seg);
    while (off >= sp.dataLen(seg)) {
      off -= sp.dataLen(seg);
      seg = sp.next(seg);
      sp = mbufPoolOf(seg);
    }
    sp.data[sp.mtod(seg) + off] ^= 1 << (bit & 7);
    s[this.sb + FaultStat.CORRUPTED]++;
    return frame;
  }

  /** A flat copy of frame `m` (all its segments) in one new mbuf of `pool`, or -1. */
  private copyOf(m: number, pool: PktmbufPool): number {
    const src = this.poolOf(m);
    const len = src.pktLen(m);
    const c = pool.alloc();
    if (c < 0) return -1;
    if (len > pool.tailroom(c)) {
      pool.free(c);
      return -1;
    }
    const dst = pool.data;
    let at = pool.mtod(c);
    for (let seg = m; seg !== MBUF_NONE; ) {
      const sp = seg >>> 24 === m >>> 24 ? src : mbufPoolOf(seg);
      const sd = sp.data;
      const from = sp.mtod(seg);
      const n = sp.dataLen(seg);
      if (sd.buffer === dst.buffer) {
        // Pools of one EAL share its memory: one memmove over a view of all of it.
        const all = this.memory(dst.buffer);
        all.copyWithin(dst.byteOffset + at, sd.byteOffset + from, sd.byteOffset + from + n);
      } else {
        for (let i = 0; i < n; i++) dst[at + i] = sd[from + i];
      }
      at += n;
      seg = sp.next(seg);
    }
    pool.setDataLen(c, len);
    pool.setPktLen(c, len);
    pool.setPort(c, src.port(m));
    pool.setOlFlags(c, src.olFlags(m));
    pool.setPacketType(c, src.packetType(m));
    pool.setRssHash(c, src.rssHash(m));
    pool.setTimestamp(c, src.timestamp(m));
    return c;
  }

  /** A byte view of a whole buffer, made once per buffer. */
  private memory(buffer: ArrayBufferLike): Uint8Array<ArrayBufferLike> {
    if (this.wide.buffer !== buffer) this.wide = new Uint8Array(buffer);
    return this.wide;
  }

  /** Frees every frame the lane holds (the port stops or this instance closes). */
  flush(): void {
    let n = 0;
    for (; this.heldCount > 0; this.heldCount--, n++) {
      this.free(this.held[this.heldHead]);
      this.heldHead = (this.heldHead + 1) % this.depth;
    }
    for (; this.fifoCount > 0; this.fifoCount--, n++) {
      this.free(this.fifo[this.fifoHead]);
      this.fifoHead = (this.fifoHead + 1) & this.mask;
    }
    for (let i = 0; i < this.readyCount; i++, n++) this.free(this.ready[i]);
    this.readyCount = 0;
    this.lastDue = 0;
    this.stats[this.sb + FaultStat.FLUSHED] += n;
  }

  private free(m: number): void {
    this.poolOf(m).free(m);
  }
}

/** This thread's instance of each fault port, so ethDevStop can free what it holds. */
const instances: (FaultDriver | undefined)[] = [];

class FaultDriver implements EthDriver {
  private readonly inner: number;
  private readonly rx: (Lane | undefined)[];
  private readonly tx: (Lane | undefined)[];
  private bound = false;
  /** rx: what the wrapped port hands over, before the faults. */
  private input = new Uint32Array(64);
  private pool: PktmbufPool | undefined;
  private poolId = -1;

  constructor(private readonly ctx: PortContext) {
    const conf = ctx.conf;
    const o = parseFaultArgs(conf.name, conf.args);
    this.inner = resolveInner(ctx.table, conf, o);
    const lanes = (n: number, dir: number, on: boolean, sizeOf: (q: number) => number) =>
      Array.from({ length: n }, (_, q) =>
        on
          ? new Lane(
              o,
              q,
              dir,
              capacity(o, sizeOf(q)),
              dir === FaultDir.RX ? ctx.rxPools[q] : undefined,
            )
          : undefined,
      );
    this.rx = lanes(conf.rxq.length, FaultDir.RX, o.rx, (q) => conf.rxq[q].size);
    this.tx = lanes(conf.txq.length, FaultDir.TX, o.tx, (q) => conf.txq[q].size);
    instances[ctx.port] = this;
  }

  /** Binds the lanes to the shared counters, which the main thread reserves at ethDevStart. */
  private bind(): void {
    const z = memzoneLookup(statsZone(this.ctx.conf.name));
    if (z === undefined)
      throw new EthDevError(`${this.ctx.conf.name}: no fault counters; start the port first`);
    const stats = new Float64Array(z.sab, z.byteOffset, ZONE_BYTES / 8);
    for (let q = 0; q < this.rx.length; q++) this.rx[q]?.bind(stats, laneBase(q, FaultDir.RX));
    for (let q = 0; q < this.tx.length; q++) this.tx[q]?.bind(stats, laneBase(q, FaultDir.TX));
    this.bound = true;
  }

  rxBurst(q: number, handles: Uint32Array, max: number): number {
    const lane = this.rx[q];
    if (lane === undefined) {
      const n = ethRxBurst(this.inner, q, handles, max);
      this.stampPort(handles, n);
      return n;
    }
    if (!this.bound) this.bind();
    const t = now();
    lane.refill(t);
    lane.growReady(max);
    if (lane.delay) lane.releaseDue(t, max);
    if (lane.readyCount < max) {
      // `ready` grows with the burst; only the delay FIFO limits what may be pulled.
      let want = max - lane.readyCount;
      if (lane.delay) {
        const room = lane.room();
        if (want > room) want = room;
      }
      if (want > 0) {
        if (this.input.length < want) this.input = new Uint32Array(max);
        const input = this.input;
        const got = ethRxBurst(this.inner, q, input, want);
        for (let i = 0; i < got; i++) lane.process(input[i], t);
        if (got === 0) lane.releaseHeld(t, true); // the wire is idle: nothing to reorder with
        if (lane.delay) lane.releaseDue(t, max);
      }
    }
    const n = Math.min(lane.readyCount, max);
    const ready = lane.ready;
    for (let i = 0; i < n; i++) handles[i] = ready[i];
    lane.shiftReady(n);
    this.stampPort(handles, n);
    return n;
  }

  txBurst(q: number, handles: Uint32Array, n: number): number {
    const lane = this.tx[q];
    if (lane === undefined) return ethTxBurst(this.inner, q, handles, n);
    if (!this.bound) this.bind();
    const t = now();
    lane.refill(t);
    const room = lane.room();
    const k = Math.min(n, room);
    for (let i = 0; i < k; i++) lane.process(handles[i], t);
    if (n === 0) lane.releaseHeld(t, true);
    if (lane.delay) lane.releaseDue(t, lane.cap);
    if (lane.readyCount > 0)
      lane.shiftReady(ethTxBurst(this.inner, q, lane.ready, lane.readyCount));
    return k;
  }

  /** Received frames carry the fault port's id, as if it were the NIC. */
  private stampPort(handles: Uint32Array, n: number): void {
    const port = this.ctx.port;
    for (let i = 0; i < n; i++) {
      const m = handles[i];
      if (m >>> 24 !== this.poolId) {
        this.pool = mbufPoolOf(m);
        this.poolId = m >>> 24;
      }
      this.pool!.setPort(m, port);
    }
  }

  /** Frees every frame this instance holds, counting them as flushed. */
  flush(): void {
    if (!this.bound && memzoneLookup(statsZone(this.ctx.conf.name)) !== undefined) this.bind();
    for (const l of this.rx) l?.flush();
    for (const l of this.tx) l?.flush();
  }

  close(): void {
    this.flush();
    if (instances[this.ctx.port] === this) instances[this.ctx.port] = undefined;
  }
}

const laneBase = (q: number, dir: number) => (q * 2 + dir) * LANE_STATS;

/** The power-of-two frame capacity of a queue's lane. */
function capacity(o: FaultOptions, queueSize: number): number {
  if (o.hold > 0) return o.hold;
  let cap = Math.max(queueSize, 64);
  while (cap < 2 * o.reorderDepth + 4) cap *= 2;
  return cap;
}

/**
 * The wrapped port's id, checked: it exists, is configured with at least the fault port's queue
 * counts (queue q maps to queue q), and no chain of fault ports loops back.
 */
function resolveInner(t: PortTable, conf: PortConf, o: FaultOptions): number {
  const byName = (name: string) => {
    for (let p = 0; p < t.count(); p++) if (t.readConf(p).name === name) return p;
    return -1;
  };
  const inner = byName(o.port);
  if (inner < 0) {
    throw new EthDevError(
      `${conf.name}: port=${o.port} is not a port; add it (--vdev ${o.port}) and start it before ${conf.name}`,
    );
  }
  const chain = new Set([conf.name]);
  for (let c = t.readConf(inner); c.driver === 'net_fault'; ) {
    if (chain.has(c.name))
      throw new EthDevError(`${conf.name}: fault ports wrap each other in a loop`);
    chain.add(c.name);
    const next = byName(c.args.port ?? '');
    if (next < 0) break;
    c = t.readConf(next);
  }
  const ic = t.readConf(inner);
  if (ic.rxq.length < conf.rxq.length || ic.txq.length < conf.txq.length) {
    throw new EthDevError(
      `${conf.name}: has ${conf.rxq.length} rx / ${conf.txq.length} tx queues but ${o.port} has ${ic.rxq.length} / ${ic.txq.length}; configure ${o.port} with as many (queue q of one is queue q of the other)`,
    );
  }
  return inner;
}

export const faultDriver: DriverFactory = {
  probe(name, args) {
    parseFaultArgs(name, args);
  },
  setup(ctx) {
    resolveInner(ctx.table, ctx.conf, parseFaultArgs(ctx.conf.name, ctx.conf.args));
    const zone = statsZone(ctx.conf.name);
    if (memzoneLookup(zone) === undefined) memzoneReserve(zone, ZONE_BYTES);
  },
  teardown(ctx) {
    instances[ctx.port]?.flush();
  },
  attach: (ctx) => new FaultDriver(ctx),
};

function faultCounters(port: number, what: string): Float64Array {
  const info = ethDevInfo(port);
  if (info.driver !== 'net_fault')
    throw new EthDevError(`${what}: port ${port} (${info.name}) is not a net_fault port`);
  const z = memzoneLookup(statsZone(info.name));
  if (z === undefined)
    throw new EthDevError(`${what}: port ${port} (${info.name}) has no counters until it starts`);
  return new Float64Array(z.sab, z.byteOffset, ZONE_BYTES / 8);
}

/**
 * The fault counters of net_fault port `port`: each of FAULT_STAT_NAMES summed over queues and
 * directions, then per direction as rx_NAME and tx_NAME. Any thread; the values are live.
 */
export function ethFaultStats(port: number): Record<string, number> {
  const s = faultCounters(port, 'ethFaultStats');
  const out: Record<string, number> = {};
  const dirs: [string, number][] = [
    ['rx_', FaultDir.RX],
    ['tx_', FaultDir.TX],
  ];
  FAULT_STAT_NAMES.forEach((name, i) => {
    let total = 0;
    for (const [prefix, dir] of dirs) {
      let sum = 0;
      for (let q = 0; q < MAX_QUEUES; q++) sum += s[laneBase(q, dir) + i];
      out[prefix + name] = sum;
      total += sum;
    }
    out[name] = total;
  });
  return out;
}

/** Zeroes the fault counters of net_fault port `port`. */
export function ethFaultStatsReset(port: number): void {
  faultCounters(port, 'ethFaultStatsReset').fill(0);
}
