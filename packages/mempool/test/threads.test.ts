import { runWorker } from '@bypass/atomics-sync';
import { Ring } from '@bypass/ring';
import { describe, expect, it } from 'vitest';
import { Mempool, PktmbufPool } from '../src/index.js';

const WORKER = new URL('./fixtures/mbuf-worker.js', import.meta.url);

describe('mbufs across threads', () => {
  it('1M mbufs allocated on one thread and freed on another leave the pool full', async () => {
    const o = { n: 2048, cacheSize: 256, poolId: 3, name: 'xthread' };
    const sab = new SharedArrayBuffer(PktmbufPool.bytesFor(o));
    const pool = PktmbufPool.create(sab, 0, o);
    const ringOpts = { count: 1024, name: 'a2f' };
    const ring = Ring.create(new SharedArrayBuffer(Ring.bytesFor(ringOpts)), 0, ringOpts);
    const total = 1_000_000;
    const common = { pool: pool.descriptor, ring: ring.descriptor, total, burst: 32 };
    const [a, f] = await Promise.all([
      runWorker<{ moved: number; mismatches: number }>(WORKER, {
        workerData: { ...common, role: 'alloc', cacheId: 1 },
      }),
      runWorker<{ moved: number; mismatches: number }>(WORKER, {
        workerData: { ...common, role: 'free', cacheId: 2 },
      }),
    ]);
    expect(a).toEqual({ moved: total, mismatches: 0 });
    expect(f).toEqual({ moved: total, mismatches: 0 });
    expect(ring.isEmpty()).toBe(true);
    expect(pool.mempool.audit()).toEqual({
      full: true,
      n: 2048,
      available: 2048,
      inUse: 0,
      inRing: 2048,
      cached: {},
    });
  });

  it('a cache slot held by one thread cannot be claimed by another until released', async () => {
    const o = { n: 64, eltSize: 0, cacheSize: 8, name: 'claims' };
    const created = Mempool.create(new SharedArrayBuffer(Mempool.bytesFor(o)), 0, o);
    const mine = Mempool.attach(created.descriptor, { cacheId: 5 });
    const claim = new URL('./fixtures/claim-worker.js', import.meta.url);
    const workerData = { pool: created.descriptor, cacheId: 5 };
    expect(await runWorker<string>(claim, { workerData })).toMatch(
      /^SyncMisuseError: Mempool claims: cache 5 belongs to thread 0; each lcore needs its own cacheId$/,
    );
    mine.release();
    expect(await runWorker<string>(claim, { workerData })).toBe('claimed');
  });
});
