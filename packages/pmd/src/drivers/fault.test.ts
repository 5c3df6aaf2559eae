// net_fault over a loopback net_ring: every fault counted, replayed from its seed, and every
// mbuf back in its pool at the end.
import { OptionError } from '@bypass/atomics-sync';
import { cleanup, init, now, pktmbufPoolCreate } from '@bypass/eal';
import { mbufPoolOf, type PktmbufPool } from '@bypass/mempool';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerDriver } from '../driver.js';
import { EthDevError } from '../errors.js';
import {
  ethDevConfigure,
  ethDevCreate,
  ethDevStart,
  ethDevStop,
  ethRxQueueSetup,
  ethStats,
  ethTxQueueSetup,
  rxBurst,
  txBurst,
} from '../ethdev.js';
import '../index.js'; // net_null, net_ring
import { ethFaultStats, ethFaultStatsReset, faultDriver } from './fault.js';
import { udpTemplate } from './null.js';
import { FaultDir, laneRng, Xoshiro128 } from './prng.js';

registerDriver('net_fault', faultDriver);

let pool: PktmbufPool;
let faults = 0;

beforeEach(async () => {
  await init(
    { lcores: [0], pin: false, vdevs: ['net_ring0', 'net_ring1'], memoryMb: 128 },
    { handleSignals: false },
  );
  pool = pktmbufPoolCreate('pool', { n: 8192, cacheSize: 64 });
  startPort(0, 4096); // the loopback wire most tests wrap
});

afterEach(async () => {
  await cleanup();
});

function startPort(port: number, rxSize = 1024, o: { rxPool?: string; txSize?: number } = {}) {
  ethDevConfigure(port, { rxQueues: 1, txQueues: 1 });
  ethRxQueueSetup(port, 0, { size: rxSize, mempool: o.rxPool ?? 'pool' });
  ethTxQueueSetup(port, 0, { size: o.txSize ?? 1024 });
  ethDevStart(port);
}

/** A started net_fault port over net_ring0 (or `args` naming another port=). */
function faultPort(args: string, o: { rxPool?: string; txSize?: number } = {}): number {
  const wraps = args.includes('port=') ? '' : 'port=net_ring0,';
  const port = ethDevCreate(`net_fault${++faults},${wraps}${args}`);
  startPort(port, 1024, o);
  return port;
}

// Frames: a 64-byte UDP frame whose payload carries its sequence number three times, so that a
// frame with one flipped bit still tells which frame it was (majority of three).
const SEQ_AT = [42, 46, 50];
const template = udpTemplate(64, [2, 0, 0, 0, 0, 0]).slice();

function expected(seq: number, size = 64): Uint8Array {
  const f = new Uint8Array(size);
  f.set(template);
  for (const at of SEQ_AT) new DataView(f.buffer).setUint32(at, seq);
  return f;
}

function makeFrame(seq: number, size = 64): number {
  const m = pool.alloc();
  expect(m).toBeGreaterThanOrEqual(0);
  const at = pool.mtod(m);
  pool.data.set(template, at);
  pool.data.fill(0, at + 64, at + size);
  for (const a of SEQ_AT) {
    pool.data[at + a] = seq >>> 24;
    pool.data[at + a + 1] = (seq >>> 16) & 0xff;
    pool.data[at + a + 2] = (seq >>> 8) & 0xff;
    pool.data[at + a + 3] = seq & 0xff;
  }
  pool.setDataLen(m, size);
  pool.setPktLen(m, size);
  return m;
}

function seqOf(p: PktmbufPool, m: number): number {
  const d = p.data;
  const at = p.mtod(m);
  const [a, b, c] = SEQ_AT.map(
    (o) => ((d[at + o] << 24) | (d[at + o + 1] << 16) | (d[at + o + 2] << 8) | d[at + o + 3]) >>> 0,
  );
  return a === b || a === c ? a : b;
}

interface Received {
  seqs: number[];
  times: number[];
}

/** Receives everything `port` has now, recording sequence numbers (and `keep` decides). */
function drain(port: number, got: Received, keep?: (m: number, p: PktmbufPool) => void): number {
  const r = new Uint32Array(64);
  let total = 0;
  for (let n = rxBurst(port, 0, r, 64); n > 0; n = rxBurst(port, 0, r, 64)) {
    const t = now();
    for (let i = 0; i < n; i++) {
      const p = mbufPoolOf(r[i]);
      got.seqs.push(seqOf(p, r[i]));
      got.times.push(t);
      if (keep) keep(r[i], p);
      else p.free(r[i]);
    }
    total += n;
  }
  return total;
}

/**
 * Sends frames 0..n-1 on `txPort` in bursts of 32 (retrying what a burst leaves with us) and
 * receives on `rxPort` as it goes; then polls (tx flush and rx) until the pool is full again.
 */
function pump(
  txPort: number,
  rxPort: number,
  n: number,
  o: { size?: number; keep?: (m: number, p: PktmbufPool) => void; sendTimes?: number[] } = {},
): Received {
  const got: Received = { seqs: [], times: [] };
  const h = new Uint32Array(32);
  for (let sent = 0; sent < n; ) {
    const b = Math.min(32, n - sent);
    for (let i = 0; i < b; i++) h[i] = makeFrame(sent + i, o.size);
    for (let off = 0; off < b; ) {
      const t = now();
      const k = txBurst(txPort, 0, h.subarray(off), b - off);
      for (let i = 0; i < k; i++) o.sendTimes?.push(t);
      off += k;
      drain(rxPort, got, o.keep);
    }
    sent += b;
  }
  settle(txPort, rxPort, got, o.keep);
  return got;
}

/** Polls until nothing is held anywhere (the pool is full), or 2 s pass. */
function settle(
  txPort: number,
  rxPort: number,
  got: Received,
  keep?: (m: number, p: PktmbufPool) => void,
): void {
  const none = new Uint32Array(1);
  const deadline = now() + 2000;
  let idle = 0;
  while (now() < deadline && idle < 3) {
    txBurst(txPort, 0, none, 0);
    const n = drain(rxPort, got, keep);
    if (keep === undefined) idle = pool.mempool.isFull() ? idle + 1 : 0;
    else idle = n === 0 ? idle + 1 : 0;
  }
}

/** Lengths of the runs of missing sequence numbers in 0..n-1. */
function lossBursts(seqs: number[], n: number): number[] {
  const have = new Uint8Array(n);
  for (const s of seqs) have[s] = 1;
  const bursts: number[] = [];
  let run = 0;
  for (let i = 0; i < n; i++) {
    if (have[i] === 0) run++;
    else if (run > 0) {
      bursts.push(run);
      run = 0;
    }
  }
  if (run > 0) bursts.push(run);
  return bursts;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function within(actual: number, want: number, tolerance: number): void {
  expect(Math.abs(actual - want)).toBeLessThanOrEqual(want * tolerance);
}

describe('xoshiro128**', () => {
  it('matches the reference implementation from state {1, 2, 3, 4}', () => {
    const g = Xoshiro128.fromState(1, 2, 3, 4);
    const out = Array.from({ length: 8 }, () => g.nextU32());
    expect(out).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849,
    ]);
  });

  it('gives each (seed, queue, direction) its own stream, the same every time', () => {
    const first = (seed: number, q: number, dir: number) => {
      const g = laneRng(seed, q, dir);
      return [g.nextU32(), g.nextU32(), g.nextU32()];
    };
    expect(first(7, 0, FaultDir.TX)).toEqual(first(7, 0, FaultDir.TX));
    const streams = new Set(
      [
        [7, 0, 0],
        [7, 0, 1],
        [7, 1, 0],
        [8, 0, 0],
        [0, 0, 0],
      ].map(([s, q, d]) => first(s, q, d).join()),
    );
    expect(streams.size).toBe(5);
    const g = new Xoshiro128(1);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) sum += g.next();
    within(sum / 100_000, 0.5, 0.01);
  });
});

describe('net_fault arguments', () => {
  it('refuses bad values in probe, naming the argument and the value', () => {
    const bad: [string, string][] = [
      ['loss=2', 'net_fault9 loss must be a probability in [0, 1], got 2'],
      ['dup=-0.1', 'net_fault9 dup must be a probability in [0, 1], got -0.1'],
      ['corrupt=x', 'net_fault9 corrupt must be a probability in [0, 1], got x'],
      ['reorder=', 'net_fault9 reorder must be a probability in [0, 1], got '],
      ['dir=up', 'net_fault9 dir must be rx, tx or both, got up'],
      ['seed=-1', 'net_fault9 seed must be an integer in [0, 4294967295], got -1'],
      ['reorder_depth=0', 'net_fault9 reorder_depth must be an integer in [1, 1024], got 0'],
      ['delay_ms=-5', 'net_fault9 delay_ms must be a delay in milliseconds, >= 0, got -5'],
      ['rate_mbps=0', 'net_fault9 rate_mbps must be a rate in Mbit/s, > 0, got 0'],
      ['hold=100', 'net_fault9 hold must be a power of two in [6, 1048576]'],
      ['gilbert=0.1', 'net_fault9 gilbert must be p:r or p:r:h:k'],
      ['gilbert=0.1:2', 'net_fault9 gilbert must be probabilities in [0, 1] (r is not), got 0.1:2'],
      ['speed=9', 'net_fault9 argument must be one of port, dir, seed'],
    ];
    for (const [arg, message] of bad) {
      const f = () => ethDevCreate(`net_fault9,port=net_ring0,${arg}`);
      expect(f).toThrow(OptionError);
      expect(f).toThrow(message);
    }
  });

  it('needs port= naming an existing port with as many queues, and no loops', () => {
    expect(() => ethDevCreate('net_fault9,loss=0.1')).toThrow(EthDevError);
    expect(() => ethDevCreate('net_fault9,loss=0.1')).toThrow(
      'net_fault9: port= must name the port to wrap, e.g. --vdev net_fault9,port=net_ring0',
    );
    expect(() => ethDevCreate('net_fault9,port=net_fault9')).toThrow(/cannot wrap itself/);
    const ghost = ethDevCreate('net_fault9,port=net_ring7');
    ethDevConfigure(ghost, { rxQueues: 1, txQueues: 1 });
    ethRxQueueSetup(ghost, 0, { size: 64, mempool: 'pool' });
    ethTxQueueSetup(ghost, 0, { size: 64 });
    expect(() => ethDevStart(ghost)).toThrow(EthDevError);
    expect(() => ethDevStart(ghost)).toThrow(/net_fault9: port=net_ring7 is not a port/);
    const wide = ethDevCreate('net_fault10,port=net_ring0');
    ethDevConfigure(wide, { rxQueues: 2, txQueues: 1 });
    ethRxQueueSetup(wide, 0, { size: 64, mempool: 'pool' });
    ethRxQueueSetup(wide, 1, { size: 64, mempool: 'pool' });
    ethTxQueueSetup(wide, 0, { size: 64 });
    expect(() => ethDevStart(wide)).toThrow(/has 2 rx \/ 1 tx queues but net_ring0 has 1 \/ 1/);
    const a = ethDevCreate('net_fault11,port=net_fault12');
    ethDevCreate('net_fault12,port=net_fault11');
    ethDevConfigure(a, { rxQueues: 1, txQueues: 1 });
    ethRxQueueSetup(a, 0, { size: 64, mempool: 'pool' });
    ethTxQueueSetup(a, 0, { size: 64 });
    expect(() => ethDevStart(a)).toThrow(/wrap each other in a loop/);
    expect(() => ethFaultStats(0)).toThrow(/port 0 \(net_ring0\) is not a net_fault port/);
    expect(pool.mempool.isFull()).toBe(true);
  });
});

describe('net_fault', () => {
  const N = 20_000;

  it('uniform loss: the exact count its seed gives, replayed by the same seed only', () => {
    const run = (seed: number) => {
      const f = faultPort(`dir=tx,seed=${seed},loss=0.1`);
      const got = pump(f, 0, N);
      const s = ethFaultStats(f);
      expect(got.seqs.length).toBe(N - s.dropped_loss);
      expect(s).toMatchObject({ seen: N, tx_seen: N, rx_seen: 0, dropped_gilbert: 0 });
      expect(pool.mempool.isFull()).toBe(true);
      return { dropped: s.dropped_loss, lost: lossBursts(got.seqs, N).join() };
    };
    // One draw per frame: the drops are the draws below 0.1 of (seed 7, queue 0, tx).
    const g = laneRng(7, 0, FaultDir.TX);
    let exact = 0;
    for (let i = 0; i < N; i++) if (g.next() < 0.1) exact++;
    const a = run(7);
    const b = run(7);
    const c = run(8);
    expect(a.dropped).toBe(exact);
    expect(b).toEqual(a);
    expect(c.dropped).not.toBe(a.dropped);
    within(a.dropped, N * 0.1, 0.1);
    within(c.dropped, N * 0.1, 0.1);
    console.log(`loss=0.1 over ${N}: seed 7 drops ${a.dropped} (twice), seed 8 drops ${c.dropped}`);
  });

  it('Gilbert-Elliott: mean loss p/(p+r), in bursts of about 1/r, far longer than uniform', () => {
    const n = 100_000;
    const p = 0.01;
    const r = 0.1;
    const rate = p / (p + r);
    const ge = faultPort(`dir=tx,seed=3,gilbert=${p}:${r}`);
    const geGot = pump(ge, 0, n);
    const geStats = ethFaultStats(ge);
    const uni = faultPort(`dir=tx,seed=3,loss=${rate}`);
    const uniGot = pump(uni, 0, n);
    const geBursts = lossBursts(geGot.seqs, n);
    const uniBursts = lossBursts(uniGot.seqs, n);
    expect(geStats.dropped_gilbert).toBe(n - geGot.seqs.length);
    within(geStats.dropped_gilbert / n, rate, 0.15); // bursts make it noisier than uniform
    within(mean(geBursts), 1 / r, 0.2);
    within(mean(uniBursts), 1 / (1 - rate), 0.1);
    expect(mean(geBursts)).toBeGreaterThan(5 * mean(uniBursts));
    console.log(
      `gilbert=${p}:${r} over ${n}: loss ${(geStats.dropped_gilbert / n).toFixed(4)} (p/(p+r) = ${rate.toFixed(4)}), mean burst ${mean(geBursts).toFixed(2)} (1/r = 10); uniform: loss ${(1 - uniGot.seqs.length / n).toFixed(4)}, mean burst ${mean(uniBursts).toFixed(2)}`,
    );
    // h and k: the bad state loses 1-h, the good one 1-k.
    const hk = faultPort(`dir=tx,seed=4,gilbert=${p}:${r}:0.5:0.99`);
    pump(hk, 0, n);
    const want = rate * 0.5 + (1 - rate) * 0.01;
    within(ethFaultStats(hk).dropped_gilbert / n, want, 0.15);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('corrupt: flips exactly one bit of each corrupted frame, and counts it', () => {
    const f = faultPort('dir=tx,seed=11,corrupt=0.05');
    let differing = 0;
    const got = pump(f, 0, N, {
      keep: (m, p) => {
        const bytes = p.toBytes(m);
        const want = expected(seqOf(p, m));
        let bits = 0;
        for (let i = 0; i < bytes.length; i++) {
          let x = bytes[i] ^ want[i];
          for (; x !== 0; x &= x - 1) bits++;
        }
        expect(bits).toBeLessThanOrEqual(1);
        differing += bits;
        p.free(m);
      },
    });
    const s = ethFaultStats(f);
    expect(got.seqs.length).toBe(N);
    expect(new Set(got.seqs).size).toBe(N);
    expect(differing).toBe(s.corrupted);
    within(s.corrupted, N * 0.05, 0.1);
    expect(pool.mempool.isFull()).toBe(true);
    console.log(`corrupt=0.05 over ${N}: ${s.corrupted} frames with one bit flipped`);
  });

  it('corrupt copies a shared mbuf first, so the sender keeps its clean bytes', () => {
    const f = faultPort('dir=tx,corrupt=1');
    const h = new Uint32Array(16);
    for (let i = 0; i < 16; i++) {
      h[i] = makeFrame(i);
      pool.refcntUpdate(h[i], 1); // kept for a "retransmission"
    }
    const kept = Array.from(h);
    expect(txBurst(f, 0, h, 16)).toBe(16);
    const got = { seqs: [], times: [] };
    drain(0, got);
    expect(got.seqs).toHaveLength(16);
    for (let i = 0; i < 16; i++) {
      expect(pool.toBytes(kept[i])).toEqual(expected(i));
      pool.free(kept[i]);
    }
    expect(ethFaultStats(f).corrupted).toBe(16);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('dup on rx: copies from the fault port rx pool follow their originals', () => {
    const rxPool = pktmbufPoolCreate('rxpool', { n: 2048, cacheSize: 32 });
    const f = faultPort('dir=rx,seed=5,dup=0.05', { rxPool: 'rxpool' });
    const fromRxPool: number[] = [];
    const got = pump(f, f, N, {
      keep: (m, p) => {
        if (m >>> 24 === rxPool.mempool.poolId) {
          fromRxPool.push(seqOf(rxPool, m));
          expect(rxPool.toBytes(m)).toEqual(expected(seqOf(rxPool, m)));
          expect(rxPool.port(m)).toBe(f);
          rxPool.free(m);
        } else {
          expect(p.port(m)).toBe(f);
          p.free(m);
        }
      },
    });
    const s = ethFaultStats(f);
    expect(s).toMatchObject({ rx_seen: N, tx_seen: 0, dup_nombuf: 0 });
    expect(got.seqs.length).toBe(N + s.duplicated);
    expect(fromRxPool.length).toBe(s.duplicated);
    // Each copy right after its original.
    const seqs = got.seqs;
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThanOrEqual(seqs[i - 1]);
    within(s.duplicated, N * 0.05, 0.1);
    expect(pool.mempool.isFull()).toBe(true);
    expect(rxPool.mempool.isFull()).toBe(true);
    console.log(`dup=0.05 over ${N}: ${s.duplicated} copies`);
  });

  it('dup on tx copies from the frame pool; with none free it counts dup_nombuf and goes on', () => {
    const f = faultPort('dir=tx,dup=1');
    const got = pump(f, 0, 100);
    expect(got.seqs).toEqual(Array.from({ length: 200 }, (_, i) => i >> 1));
    expect(ethFaultStats(f).duplicated).toBe(100);
    // Take every mbuf, give one back: the first frame's copy finds it, the second's none.
    const hoard = new Uint32Array(pool.mempool.n);
    let held = 0;
    for (let m = pool.alloc(); m >= 0; m = pool.alloc()) hoard[held++] = m;
    pool.free(hoard[--held]);
    const h = new Uint32Array([hoard[--held]]);
    pool.data.set(expected(0), pool.mtod(h[0]));
    pool.setDataLen(h[0], 64);
    pool.setPktLen(h[0], 64);
    expect(txBurst(f, 0, h, 1)).toBe(1);
    h[0] = hoard[--held];
    pool.setDataLen(h[0], 64);
    pool.setPktLen(h[0], 64);
    expect(txBurst(f, 0, h, 1)).toBe(1);
    expect(ethFaultStats(f)).toMatchObject({ duplicated: 101, dup_nombuf: 1 });
    pool.freeBulk(hoard, held);
    drain(0, { seqs: [], times: [] });
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('reorder: a held frame arrives right after the next one; deeper holds stay within depth', () => {
    const f = faultPort('dir=tx,seed=9,reorder=0.05');
    const got = pump(f, f, N);
    const s = ethFaultStats(f);
    let late = 0;
    let top = -1;
    for (const q of got.seqs) {
      if (q < top) {
        late++;
        expect(top - q).toBe(1);
      }
      top = Math.max(top, q);
    }
    expect(got.seqs.length).toBe(N);
    expect(Math.abs(late - s.reordered)).toBeLessThanOrEqual(1); // the last may leave in order
    // With depth 1 the frame after a held one cannot be held: P/(1+P) of the frames are.
    within(s.reordered, (N * 0.05) / 1.05, 0.1);
    console.log(`reorder=0.05 over ${N}: ${s.reordered} held back, ${late} arrived late`);

    const deep = faultPort('dir=rx,seed=9,reorder=0.2,reorder_depth=4');
    const g2 = pump(0, deep, N);
    top = -1;
    let maxLate = 0;
    for (const q of g2.seqs) {
      maxLate = Math.max(maxLate, top - q);
      top = Math.max(top, q);
    }
    expect([...g2.seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(maxLate).toBeLessThanOrEqual(4);
    expect(maxLate).toBeGreaterThan(1);
    expect(ethFaultStats(deep).reordered).toBeGreaterThan(N * 0.1);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('an idle rx poll releases a reordered frame at once', () => {
    const f = faultPort('dir=rx,reorder=1');
    const h = new Uint32Array([makeFrame(0)]);
    expect(txBurst(0, 0, h, 1)).toBe(1);
    const r = new Uint32Array(4);
    expect(rxBurst(f, 0, r, 4)).toBe(0); // held
    expect(rxBurst(f, 0, r, 4)).toBe(1); // the wire was idle: released
    pool.free(r[0]);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('delay holds tx frames until their time, in order', () => {
    const f = faultPort('dir=tx,delay_ms=5');
    const sendTimes: number[] = [];
    const got = pump(f, 0, 200, { sendTimes });
    expect(got.seqs).toEqual(Array.from({ length: 200 }, (_, i) => i));
    let minWait = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 200; i++) {
      const wait = got.times[i] - sendTimes[i];
      minWait = Math.min(minWait, wait);
      expect(wait).toBeGreaterThanOrEqual(5);
    }
    expect(ethFaultStats(f).delayed).toBe(200);
    expect(pool.mempool.isFull()).toBe(true);
    console.log(`delay_ms=5: shortest wait ${minWait.toFixed(3)} ms`);
  });

  it('delay with jitter on rx: each frame waits delay +- jitter, never overtaking', () => {
    const f = faultPort('dir=rx,seed=2,delay_ms=5,jitter_ms=2');
    const sendTimes: number[] = [];
    const got = pump(0, f, 500, { sendTimes });
    expect(got.seqs).toEqual(Array.from({ length: 500 }, (_, i) => i));
    const waits = got.seqs.map((q, i) => got.times[i] - sendTimes[q]);
    // The wire returns the frame at once; the fault port stamps its due time when it pulls it.
    for (const w of waits) expect(w).toBeGreaterThanOrEqual(3);
    for (const w of waits) expect(w).toBeLessThan(7 + 50); // generous for a loaded machine
    expect(ethFaultStats(f).delayed).toBe(500);
    expect(pool.mempool.isFull()).toBe(true);
    console.log(
      `delay_ms=5,jitter_ms=2: waits ${Math.min(...waits).toFixed(2)} to ${Math.max(...waits).toFixed(2)} ms, mean ${mean(waits).toFixed(2)}`,
    );
  });

  it('rate_mbps polices to about R bits per second plus the bucket', () => {
    const f = faultPort('dir=tx,rate_mbps=10');
    const h = new Uint32Array(32);
    let offered = 0;
    let bytes = 0;
    const r = new Uint32Array(64);
    const start = now();
    let end = start;
    while (end - start < 200) {
      for (let i = 0; i < 32; i++) h[i] = makeFrame(offered + i, 1000);
      expect(txBurst(f, 0, h, 32)).toBe(32);
      end = now();
      offered += 32;
      for (let n = rxBurst(0, 0, r, 64); n > 0; n = rxBurst(0, 0, r, 64)) {
        for (let i = 0; i < n; i++) bytes += pool.pktLen(r[i]);
        pool.freeBulk(r, n);
      }
    }
    const s = ethFaultStats(f);
    const want = 15_000 + (10e6 / 8 / 1000) * (end - start);
    expect(bytes / 1000 + s.dropped_rate).toBe(offered);
    expect(bytes).toBeLessThanOrEqual(want);
    within(bytes, want, 0.05);
    expect(pool.mempool.isFull()).toBe(true);
    console.log(
      `rate_mbps=10 for ${(end - start).toFixed(1)} ms: ${offered} frames offered, ${bytes / 1000} passed = ${((bytes * 8) / (end - start) / 1000).toFixed(2)} Mbit/s (${((bytes * 8) / (want * 8)).toFixed(3)} of bucket + rate)`,
    );
  });

  it('each queue draws from its own stream of the seed', () => {
    ethDevStop(1);
    ethDevConfigure(1, { rxQueues: 1, txQueues: 2 });
    ethRxQueueSetup(1, 0, { size: 2048, mempool: 'pool' });
    ethTxQueueSetup(1, 0, { size: 256 });
    ethTxQueueSetup(1, 1, { size: 256 });
    ethDevStart(1);
    const f = ethDevCreate('net_fault9,port=net_ring1,dir=tx,seed=1,loss=0.5');
    ethDevConfigure(f, { rxQueues: 1, txQueues: 2 });
    ethRxQueueSetup(f, 0, { size: 256, mempool: 'pool' });
    ethTxQueueSetup(f, 0, { size: 256 });
    ethTxQueueSetup(f, 1, { size: 256 });
    ethDevStart(f);
    const kept: string[] = [];
    for (const q of [0, 1]) {
      const h = new Uint32Array(1000);
      for (let i = 0; i < 1000; i++) h[i] = makeFrame(i);
      for (let off = 0; off < 1000; off += 100)
        expect(txBurst(f, q, h.subarray(off), 100)).toBe(100);
      const got: Received = { seqs: [], times: [] };
      drain(f, got);
      const g = laneRng(1, q, FaultDir.TX);
      const want: number[] = [];
      for (let i = 0; i < 1000; i++) if (!(g.next() < 0.5)) want.push(i);
      expect(got.seqs).toEqual(want);
      kept.push(want.join());
    }
    expect(kept[0]).not.toBe(kept[1]);
    expect(ethFaultStats(f).tx_dropped_loss).toBe(2000 - kept.join(',').split(',').length);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('txBurst: takes a prefix while its queue has room, the caller keeps the rest', () => {
    startPort(1, 8); // net_ring1: a loopback wire that holds 7 frames
    const f = faultPort('port=net_ring1,dir=tx,hold=16');
    const h = new Uint32Array(40);
    for (let i = 0; i < 40; i++) h[i] = makeFrame(i);
    const taken: number[] = [];
    let off = 0;
    for (let k = txBurst(f, 0, h, 40); k > 0; k = txBurst(f, 0, h.subarray(off), 40 - off)) {
      taken.push(k);
      off += k;
    }
    // 16 fill the queue and 7 of them go on the wire; then 7 more fill the queue again.
    expect(taken).toEqual([16, 7]);
    expect(off).toBe(23);
    for (let i = off; i < 40; i++) pool.free(h[i]); // still ours
    const got: Received = { seqs: [], times: [] };
    settle(f, 1, got);
    expect(got.seqs).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(ethStats(f).opackets).toBe(23);
    // dir=rx: tx passes straight through, as short as the wire's.
    const through = faultPort('port=net_ring1,dir=rx');
    for (let i = 0; i < 10; i++) h[i] = makeFrame(i);
    expect(txBurst(through, 0, h, 10)).toBe(7);
    for (let i = 7; i < 10; i++) pool.free(h[i]);
    settle(through, through, got);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('stopping the port frees what it holds (delayed and reordered), counted as flushed', () => {
    const f = faultPort('dir=both,delay_ms=60000,reorder=0.5,seed=1');
    const h = new Uint32Array(32);
    for (let i = 0; i < 32; i++) h[i] = makeFrame(i);
    expect(txBurst(f, 0, h, 32)).toBe(32);
    const r = new Uint32Array(32);
    expect(rxBurst(f, 0, r, 32)).toBe(0);
    expect(pool.mempool.isFull()).toBe(false);
    ethDevStop(f);
    expect(pool.mempool.isFull()).toBe(true);
    const s = ethFaultStats(f);
    expect(s.tx_flushed).toBe(32);
    expect(s.tx_reordered).toBeGreaterThan(0);
    // The EAL's cleanup closes the instance too.
    ethDevStart(f);
    for (let i = 0; i < 32; i++) h[i] = makeFrame(i);
    expect(txBurst(f, 0, h, 32)).toBe(32);
    expect(pool.mempool.isFull()).toBe(false);
    return cleanup().then(() => expect(pool.mempool.isFull()).toBe(true));
  });

  it('counts both directions, stamps the fault port on received frames, resets', () => {
    const f = faultPort('seed=21,loss=0.2');
    const got = pump(f, f, 5000, {
      keep: (m, p) => {
        expect(p.port(m)).toBe(f);
        p.free(m);
      },
    });
    const s = ethFaultStats(f);
    expect(s.tx_seen).toBe(5000);
    expect(s.rx_seen).toBe(5000 - s.tx_dropped_loss);
    expect(got.seqs.length).toBe(s.rx_seen - s.rx_dropped_loss);
    expect(s.dropped_loss).toBe(s.rx_dropped_loss + s.tx_dropped_loss);
    within(got.seqs.length, 5000 * 0.8 * 0.8, 0.05);
    ethFaultStatsReset(f);
    expect(ethFaultStats(f).seen).toBe(0);
    expect(pool.mempool.isFull()).toBe(true);
  });
});
