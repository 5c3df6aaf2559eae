// Software RSS: a single-queue port's frames spread over worker rings exactly as hardware RSS
// with the same key and RETA would spread them over rx queues.
import { cleanup, init, pktmbufPoolCreate, ringCreate } from '@bypass/eal';
import type { PktmbufPool } from '@bypass/mempool';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ethDevConfigure,
  ethDevStart,
  ethRxQueueSetup,
  ethTxQueueSetup,
  RSS_DEFAULT_KEY,
  RssDispatcher,
  toeplitzHash,
  txBurst,
  udpTemplate,
} from '../src/index.js';

let pool: PktmbufPool;

afterEach(async () => {
  await cleanup();
});

describe('RssDispatcher', () => {
  it('hashes each frame like a NIC and hands it to the worker the RETA names', async () => {
    await init({ lcores: [0], pin: false, vdevs: ['net_ring0'] }, { handleSignals: false });
    pool = pktmbufPoolCreate('pool', { n: 4096, cacheSize: 64 });
    ethDevConfigure(0, { rxQueues: 1, txQueues: 1 });
    ethRxQueueSetup(0, 0, { size: 4096, mempool: 'pool' });
    ethTxQueueSetup(0, 0, { size: 256 });
    ethDevStart(0);
    const rings = [0, 1, 2].map((w) => ringCreate(`worker${w}`, { count: 4096 }));
    const d = new RssDispatcher({ port: 0, rings });
    const flows = 3000;
    const h = new Uint32Array(flows + 1);
    for (let i = 0; i < flows; i++) {
      const f = udpTemplate(64, [2, 0, 0, 0, 0, 0]).slice();
      f[34] = (20000 + i) >> 8;
      f[35] = (20000 + i) & 0xff;
      h[i] = pool.fromBytes(f);
    }
    h[flows] = pool.fromBytes(new Uint8Array(60)); // not IP
    let sent = 0;
    while (sent < flows + 1)
      sent += txBurst(0, 0, h.subarray(sent), Math.min(32, flows + 1 - sent));
    while (d.poll() > 0) {}
    expect([d.received, d.dispatched, d.dropped, d.unhashed]).toEqual([flows + 1, flows + 1, 0, 1]);
    const counts = rings.map((r) => r.count());
    expect(counts.reduce((a, b) => a + b)).toBe(flows + 1);
    for (const c of counts) expect(Math.abs(c - flows / 3)).toBeLessThan(flows * 0.06);
    const out = new Uint32Array(4096);
    for (let w = 0; w < 3; w++) {
      const n = rings[w].dequeueBurst(out, 4096);
      for (let i = 0; i < n; i++) {
        const m = out[i];
        const at = pool.mtod(m);
        if (pool.pktLen(m) === 60) {
          expect(w).toBe(0);
        } else {
          const sport = (pool.data[at + 34] << 8) | pool.data[at + 35];
          const expected = toeplitzHash(
            RSS_DEFAULT_KEY,
            Uint8Array.of(10, 0, 0, 2, 10, 0, 0, 1, sport >> 8, sport & 0xff, 4, 0),
          );
          expect(pool.rssHash(m)).toBe(expected);
          expect(d.reta.queueOf(expected)).toBe(w);
        }
      }
      pool.freeBulk(out, n);
    }
    expect(pool.mempool.isFull()).toBe(true);
  });
});
