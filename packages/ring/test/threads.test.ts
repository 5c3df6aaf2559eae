// Real threads through real rings. MPMC runs 8 threads on this 2-core machine on purpose: the
// bounded-spin-then-sleep wait must cope with claimers that the OS has descheduled.
import { runWorker } from '@bypass/atomics-sync';
import { describe, expect, it } from 'vitest';
import { Ring, type RingOptions } from '../src/index.js';

const WORKER = new URL('./fixtures/ring-worker.js', import.meta.url);

function makeRing(options: RingOptions): Ring {
  return Ring.create(new SharedArrayBuffer(Ring.bytesFor(options)), 0, options);
}

describe('Ring across threads', () => {
  it('SPSC: 10M items arrive complete and in order', async () => {
    const ring = makeRing({ count: 1024, name: 'spsc' });
    const items = 10_000_000;
    const [sent, got] = await Promise.all([
      runWorker<number>(WORKER, {
        workerData: { role: 'produce', ring: ring.descriptor, items, producerId: 0, burst: 32 },
      }),
      runWorker<{ received: number; outOfOrder: number }>(WORKER, {
        workerData: { role: 'consumeInOrder', ring: ring.descriptor, items, burst: 32 },
      }),
    ]);
    expect(sent).toBe(items);
    expect(got).toEqual({ received: items, outOfOrder: 0 });
    expect(ring.isEmpty()).toBe(true);
  });

  it('MPMC 4x4: every item is delivered exactly once', async () => {
    const ring = makeRing({ count: 512, producer: 'multi', consumer: 'multi', name: 'mpmc' });
    const producers = 4;
    const perProducer = 200_000;
    const total = producers * perProducer;
    const seen = new SharedArrayBuffer(total);
    const done = new SharedArrayBuffer(4);
    const common = { ring: ring.descriptor, itemsPerProducer: perProducer, seen, done };
    const results = await Promise.all([
      ...Array.from({ length: producers }, (_, p) =>
        runWorker<number>(WORKER, {
          workerData: { ...common, role: 'produce', items: perProducer, producerId: p, burst: 16 },
        }),
      ),
      ...Array.from({ length: 4 }, () =>
        runWorker<number>(WORKER, {
          workerData: { ...common, role: 'consumeTally', items: total, burst: 16 },
        }),
      ),
    ]);
    expect(results.slice(0, 4)).toEqual([perProducer, perProducer, perProducer, perProducer]);
    expect(results.slice(4).reduce((a, b) => a + b, 0)).toBe(total);
    const tally = new Uint8Array(seen);
    let wrong = 0;
    for (let i = 0; i < total; i++) if (tally[i] !== 1) wrong++;
    expect(wrong).toBe(0);
    expect(ring.isEmpty()).toBe(true);
  });
});
