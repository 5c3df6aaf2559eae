// net_ring with RSS "in hardware": the sender hashes with the receiver's key and RETA.
import { cleanup, init, pktmbufPoolCreate } from '@bypass/eal';
import type { PktmbufPool } from '@bypass/mempool';
import { RSS_DEFAULT_KEY, toeplitzHash } from '@bypass/net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ethDevConfigure,
  ethDevStart,
  ethRssRetaQuery,
  ethRssRetaUpdate,
  ethRxQueueSetup,
  ethStats,
  ethTxQueueSetup,
  MbufOlFlag,
  rxBurst,
  txBurst,
  udpTemplate,
} from '../src/index.js';
import { RssHf } from '../src/rss/flow.js';

let pool: PktmbufPool;

beforeEach(async () => {
  await init({ lcores: [0], pin: false, vdevs: ['net_ring0'] }, { handleSignals: false });
  pool = pktmbufPoolCreate('pool', { n: 4096, cacheSize: 64 });
  ethDevConfigure(0, { rxQueues: 4, txQueues: 1, rss: { hf: RssHf.IP | RssHf.UDP } });
  for (let q = 0; q < 4; q++) ethRxQueueSetup(0, q, { size: 1024, mempool: 'pool' });
  ethTxQueueSetup(0, 0, { size: 256 });
  ethDevStart(0);
});

afterEach(async () => {
  await cleanup();
});

/** A UDP frame from 10.0.0.2:sport to 10.0.0.1:1024. */
function udpFrom(sport: number): number {
  const f = udpTemplate(64, [2, 0, 0, 0, 0, 0]).slice();
  f[34] = sport >> 8;
  f[35] = sport & 0xff;
  return pool.fromBytes(f);
}

function tupleHash(sport: number): number {
  // source address, destination address, source port, destination port (network order)
  return toeplitzHash(
    RSS_DEFAULT_KEY,
    Uint8Array.of(10, 0, 0, 2, 10, 0, 0, 1, sport >> 8, sport & 0xff, 4, 0),
  );
}

describe('net_ring RSS', () => {
  it('spreads flows over the rx queues by the RETA and stamps each mbuf with its hash', () => {
    const flows = 1000;
    const h = new Uint32Array(flows);
    for (let i = 0; i < flows; i++) h[i] = udpFrom(10_000 + i);
    let sent = 0;
    while (sent < flows) sent += txBurst(0, 0, h.subarray(sent), Math.min(32, flows - sent));
    const reta = ethRssRetaQuery(0);
    expect(reta.length).toBe(512);
    expect(reta.slice(0, 6)).toEqual([0, 1, 2, 3, 0, 1]);
    const perQueue = [0, 0, 0, 0];
    const r = new Uint32Array(64);
    for (let q = 0; q < 4; q++) {
      for (let n = rxBurst(0, q, r, 64); n > 0; n = rxBurst(0, q, r, 64)) {
        for (let i = 0; i < n; i++) {
          const m = r[i];
          const sport = (pool.data[pool.mtod(m) + 34] << 8) | pool.data[pool.mtod(m) + 35];
          const hash = tupleHash(sport);
          expect(pool.rssHash(m)).toBe(hash);
          expect(pool.olFlags(m) & MbufOlFlag.RX_RSS_HASH).toBe(MbufOlFlag.RX_RSS_HASH);
          expect(reta[hash & 511]).toBe(q);
          perQueue[q]++;
        }
        pool.freeBulk(r, n);
      }
    }
    expect(perQueue.reduce((a, b) => a + b)).toBe(flows);
    for (const c of perQueue) expect(Math.abs(c - flows / 4)).toBeLessThan(flows * 0.06);
    expect(ethStats(0).rxq.map((q) => q.packets)).toEqual(perQueue);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('a RETA update moves flows at once; non-IP frames go to queue 0', () => {
    ethRssRetaUpdate(0, new Array(64).fill(3));
    expect(ethRssRetaQuery(0)).toEqual(new Array(64).fill(3));
    const h = new Uint32Array([
      udpFrom(1),
      udpFrom(2),
      pool.fromBytes(new Uint8Array(60).fill(0xaa)),
    ]);
    expect(txBurst(0, 0, h, 3)).toBe(3);
    const r = new Uint32Array(8);
    expect(rxBurst(0, 3, r, 8)).toBe(2);
    pool.freeBulk(r, 2);
    expect(rxBurst(0, 0, r, 8)).toBe(1);
    expect(pool.olFlags(r[0]) & MbufOlFlag.RX_RSS_HASH).toBe(0);
    pool.free(r[0]);
    expect(() => ethRssRetaUpdate(0, [0, 1])).toThrow(
      'entries.length must be a power of two in [64, 512] (the RETA size), got 2',
    );
    expect(() => ethRssRetaUpdate(0, new Array(64).fill(4))).toThrow(
      'entries[0] must be an rx queue of port 0, 0 to 3, got 4',
    );
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('a full rx queue ends the burst there: the caller keeps the rest', () => {
    // Every flow to queue 2, whose ring holds 1023.
    ethRssRetaUpdate(0, new Array(64).fill(2));
    const h = new Uint32Array(1100);
    for (let i = 0; i < 1100; i++) h[i] = udpFrom(i);
    let taken = 0;
    for (let k = txBurst(0, 0, h, 1100); k > 0; k = txBurst(0, 0, h.subarray(taken), 1100 - taken))
      taken += k;
    expect(taken).toBe(1023);
    pool.freeBulk(h.subarray(1023), 77);
    const r = new Uint32Array(1024);
    expect(rxBurst(0, 2, r, 1024)).toBe(1023);
    pool.freeBulk(r, 1023);
    expect(pool.mempool.isFull()).toBe(true);
  });
});
