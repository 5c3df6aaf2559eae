// Worker side of the mempool benchmark: one "lcore" cycling objects for durationMs.
import { parentPort, workerData } from 'node:worker_threads';
import { Barrier, type BarrierDescriptor } from '@bypass/atomics-sync';
import { Mempool, type MempoolDescriptor } from '@bypass/mempool';

export type Kind = 'cached' | 'uncached' | 'array-freelist' | 'alloc-uint8array';

export interface WorkerData {
  kind: Kind;
  pool?: MempoolDescriptor;
  cacheId?: number;
  start: BarrierDescriptor;
  durationMs: number;
  burst: number;
  /** array-freelist: objects in the list. */
  n: number;
}

export interface Count {
  objects: number;
  ms: number;
}

const d = workerData as WorkerData;
const burst = d.burst;
const handles = new Uint32Array(burst);

/** One burst: take `burst` objects and give them back. Returns the objects cycled. */
let step: () => number;

if (d.kind === 'cached' || d.kind === 'uncached') {
  const pool = Mempool.attach(d.pool!, d.kind === 'cached' ? { cacheId: d.cacheId } : {});
  step = () => {
    if (pool.get(handles, burst) === 0) return 0;
    handles[0] ^= 0; // touch, as a user would
    pool.put(handles, burst);
    return burst;
  };
} else if (d.kind === 'array-freelist') {
  const free: number[] = [];
  for (let i = 0; i < d.n; i++) free.push(i);
  step = () => {
    for (let i = 0; i < burst; i++) handles[i] = free.pop()!;
    for (let i = 0; i < burst; i++) free.push(handles[i]);
    return burst;
  };
} else {
  let sink = 0;
  step = () => {
    for (let i = 0; i < burst; i++) {
      const b = new Uint8Array(2048);
      b[0] = i;
      sink += b[0];
    }
    return burst + (sink & 0);
  };
}

Barrier.attach(d.start).arriveAndWait();
const t0 = performance.now();
let t = t0;
let objects = 0;
while (t - t0 < d.durationMs) {
  for (let i = 0; i < 256; i++) objects += step();
  t = performance.now();
}
parentPort!.postMessage({ objects, ms: t - t0 } satisfies Count);
