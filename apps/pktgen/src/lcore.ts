// pktgen's lcore functions: txMain generates, rxMain receives and measures. Either may run alone
// on an lcore, or both in one loop (`bothMain`) when there is a single worker lcore.
import { lcoreStats, memzoneLookup, nowNs, pktmbufPoolLookup, runPollLoop } from '@bypass/eal';
import type { PktmbufPool } from '@bypass/mempool';
import { ETH_HEADER_LEN, fillTcpChecksumIpv4, IPV4_MIN_HEADER_LEN } from '@bypass/net';
import { rxBurst, txBurst } from '@bypass/pmd';
import { buildTemplates, type FlowSpec, payloadOffset, STAMP_MAGIC } from './frames.js';

export const Stat = {
  TX_PKTS: 0,
  TX_BYTES: 1,
  TX_DROPPED: 2,
  RX_PKTS: 3,
  RX_BYTES: 4,
  RX_OTHER: 5,
} as const;
export const STAT_WORDS = 8;

export interface TxConf {
  spec: FlowSpec;
  port: number;
  pool: string;
  /** Packets per second; 0 = as fast as the port takes them. */
  ratePps: number;
}

export interface RxConf {
  port: number;
  proto: FlowSpec['proto'];
}

const BURST = 32;

function statsView(): Float64Array {
  const z = memzoneLookup('pktgen_stats')!;
  return new Float64Array(z.sab, z.byteOffset, STAT_WORDS);
}

/** One generator: returns a poll function (now) => packets sent. */
function generator(c: TxConf, stats: Float64Array): (now: number) => number {
  const pool: PktmbufPool = pktmbufPoolLookup(c.pool);
  const { spec } = c;
  const templates = buildTemplates(spec);
  const views = Array.from({ length: spec.flows }, (_, f) =>
    templates.subarray(f * spec.size, (f + 1) * spec.size),
  );
  const data = pool.data;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const h = new Uint32Array(BURST);
  const pay = payloadOffset(spec.proto);
  const tcp = spec.proto === 'tcp';
  const size = spec.size;
  const perMs = c.ratePps / 1000;
  let seq = 0;
  let t0 = -1;
  return (now) => {
    if (t0 < 0) t0 = now;
    let k = BURST;
    if (perMs > 0) {
      const due = Math.floor((now - t0) * perMs) - seq;
      if (due <= 0) return 0;
      if (due < k) k = due;
    }
    if (pool.allocBulk(h, k) === 0) return 0;
    const ts = nowNs();
    for (let i = 0; i < k; i++) {
      const m = h[i];
      const at = pool.mtod(m);
      data.set(views[(seq + i) % spec.flows], at);
      dv.setUint32(at + pay, STAMP_MAGIC);
      dv.setUint32(at + pay + 4, seq + i);
      dv.setFloat64(at + pay + 8, ts);
      if (tcp) {
        const ip = at + ETH_HEADER_LEN;
        const l4 = ip + IPV4_MIN_HEADER_LEN;
        dv.setUint32(l4 + 4, (seq + i) * (size - pay));
        fillTcpChecksumIpv4(data, ip, l4, at + size - l4);
      }
      pool.setDataLen(m, size);
      pool.setPktLen(m, size);
    }
    const sent = txBurst(c.port, 0, h, k);
    if (sent < k) {
      for (let i = sent; i < k; i++) pool.free(h[i]); // the caller owns what tx did not take
      stats[Stat.TX_DROPPED] += k - sent;
    }
    stats[Stat.TX_PKTS] += sent;
    stats[Stat.TX_BYTES] += sent * size;
    seq += k;
    return sent;
  };
}

/** One receiver: checks the stamp, records the one-way latency in this lcore's histogram. */
function receiver(c: RxConf, poolName: string, stats: Float64Array): (now: number) => number {
  const pool = pktmbufPoolLookup(poolName);
  const data = pool.data;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const h = new Uint32Array(BURST);
  const pay = payloadOffset(c.proto);
  const latency = lcoreStats().latency;
  return () => {
    const n = rxBurst(c.port, 0, h, BURST);
    if (n === 0) return 0;
    const t = nowNs();
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const m = h[i];
      const at = pool.mtod(m);
      const len = pool.pktLen(m);
      bytes += len;
      if (len >= pay + 16 && dv.getUint32(at + pay) === STAMP_MAGIC) {
        const d = t - dv.getFloat64(at + pay + 8);
        latency.recordValue(d > 1 ? Math.round(d) : 1);
      } else stats[Stat.RX_OTHER]++;
    }
    pool.freeBulk(h, n);
    stats[Stat.RX_PKTS] += n;
    stats[Stat.RX_BYTES] += bytes;
    return n;
  };
}

export function txMain(c: TxConf) {
  return runPollLoop(generator(c, statsView()));
}

export function rxMain(c: RxConf & { pool: string }) {
  return runPollLoop(receiver(c, c.pool, statsView()));
}

export function bothMain(c: { tx: TxConf; rx: RxConf }) {
  const stats = statsView();
  const gen = generator(c.tx, stats);
  const rec = receiver(c.rx, c.tx.pool, stats);
  return runPollLoop((now) => gen(now) + rec(now));
}
