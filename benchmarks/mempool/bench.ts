// pnpm bench mempool: objects cycled per second (get a burst of 32, put it back) per lcore.
// Subject: Mempool with a per-lcore cache, on one lcore and on two lcores sharing the pool.
// Baselines, each on one worker thread: a plain JS array used as a free list (pop/push), and
// what a Node program does without a pool: a fresh Uint8Array(2048) per packet, left to the GC.
import { availableParallelism } from 'node:os';
import { Barrier, runWorker } from '@bypass/atomics-sync';
import { runBenchmark } from '@bypass/bench-harness';
import { Mempool } from '@bypass/mempool';
import type { Count, Kind, WorkerData } from './workers.js';

const WORKERS = new URL('./workers.js', import.meta.url);
const BURST = 32;
const N = 8192;
const CACHE = 512;
const quick = process.argv.includes('--quick');
const durationMs = quick ? 150 : 1000;

async function measure(kind: Kind, lcores: number): Promise<number> {
  const o = { n: N, eltSize: 2048, cacheSize: CACHE, name: `bench-${kind}` };
  const pool = Mempool.create(new SharedArrayBuffer(Mempool.bytesFor(o)), 0, o);
  const start = Barrier.create(new SharedArrayBuffer(16), 0, lcores);
  const counts = await Promise.all(
    Array.from({ length: lcores }, (_, i) =>
      runWorker<Count>(WORKERS, {
        workerData: {
          kind,
          pool: pool.descriptor,
          cacheId: i,
          start: start.descriptor,
          durationMs,
          burst: BURST,
          n: N,
        } satisfies WorkerData,
      }),
    ),
  );
  if (!pool.isFull())
    throw new Error(`mempool bench ${kind}: ${pool.inUse()} objects never came back`);
  // Per-lcore rate: each lcore's objects over its own time, averaged over lcores.
  return counts.reduce((s, c) => s + c.objects / c.ms / 1e3, 0) / lcores;
}

const twoLcoresNote = availableParallelism() < 2 ? ' (fewer than 2 CPUs here: oversubscribed)' : '';

await runBenchmark({
  bench: 'mempool',
  metric: 'M obj/s per lcore',
  params: { burst: BURST, n: N, cacheSize: CACHE, eltSize: 2048, durationMs },
  subject: {
    name: 'cached-1lcore',
    describe: `Mempool get+put of ${BURST}, per-lcore cache of ${CACHE}, one worker thread`,
    run: () => measure('cached', 1),
  },
  baseline: {
    name: 'array-freelist',
    describe: `JS array free list: ${BURST} pop() then ${BURST} push(), one worker thread`,
    run: () => measure('array-freelist', 1),
  },
  others: [
    {
      name: 'cached-2lcores',
      describe: `as cached-1lcore on 2 worker threads, one pool, own caches; per lcore${twoLcoresNote}`,
      run: () => measure('cached', 2),
    },
    {
      name: 'uncached-1lcore',
      describe: `Mempool without a cache: every get/put on the shared MP/MC ring`,
      run: () => measure('uncached', 1),
    },
    {
      name: 'alloc-uint8array',
      describe: 'new Uint8Array(2048) per packet, garbage-collected, one worker thread',
      run: () => measure('alloc-uint8array', 1),
    },
  ],
});
