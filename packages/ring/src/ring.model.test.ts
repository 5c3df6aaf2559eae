// Model test: random sequences of bulk/burst enqueue/dequeue of random sizes, on rings of random
// shape and mode, starting near 2^32 so the indices wrap, against a plain array queue.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ring } from './ring.js';

type Op = { kind: 'enqBulk' | 'enqBurst' | 'deqBulk' | 'deqBurst'; n: number };

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('enqBulk', 'enqBurst', 'deqBulk', 'deqBurst'),
  n: fc.integer({ min: 1, max: 40 }),
});

describe('Ring against an array model', () => {
  it('agrees on every count, every element and every free-space report', () => {
    fc.assert(
      fc.property(
        fc.record({
          log2: fc.integer({ min: 1, max: 6 }),
          exact: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
          elemWords: fc.constantFrom(1, 2, 4) as fc.Arbitrary<1 | 2 | 4>,
          mode: fc.constantFrom('single', 'multi') as fc.Arbitrary<'single' | 'multi'>,
          start: fc.oneof(fc.constant(0), fc.integer({ min: 0xffff_ff00, max: 0xffff_ffff })),
        }),
        fc.array(opArb, { maxLength: 200 }),
        (shape, ops) => {
          const options = {
            count: shape.exact ?? 2 ** shape.log2,
            exactSize: shape.exact !== undefined,
            elemWords: shape.elemWords,
            producer: shape.mode,
            consumer: shape.mode,
            startIndex: shape.start,
          };
          const ring = Ring.create(new SharedArrayBuffer(Ring.bytesFor(options)), 0, options);
          const w = shape.elemWords;
          const model: number[] = []; // words
          let next = 1;
          const buf = new Uint32Array(40 * w);
          for (const { kind, n } of ops) {
            const queued = model.length / w;
            if (kind === 'enqBulk' || kind === 'enqBurst') {
              for (let i = 0; i < n * w; i++) buf[i] = next++;
              const free = ring.capacity - queued;
              const expected = kind === 'enqBulk' ? (n <= free ? n : 0) : Math.min(n, free);
              const got = kind === 'enqBulk' ? ring.enqueueBulk(buf, n) : ring.enqueueBurst(buf, n);
              expect(got).toBe(expected);
              // A lower bound: the handle re-reads the consumer tail only when it might block.
              expect(ring.lastFreeSpace).toBeLessThanOrEqual(free - got);
              if (got < n) expect(ring.lastFreeSpace).toBe(free - got);
              for (let i = 0; i < got * w; i++) model.push(buf[i]);
            } else {
              const expected = kind === 'deqBulk' ? (n <= queued ? n : 0) : Math.min(n, queued);
              buf.fill(0);
              const got = kind === 'deqBulk' ? ring.dequeueBulk(buf, n) : ring.dequeueBurst(buf, n);
              expect(got).toBe(expected);
              expect(ring.lastAvailable).toBeLessThanOrEqual(queued - got);
              if (got < n) expect(ring.lastAvailable).toBe(queued - got);
              expect([...buf.subarray(0, got * w)]).toEqual(model.splice(0, got * w));
            }
            expect(ring.count()).toBe(model.length / w);
            expect(ring.freeCount()).toBe(ring.capacity - model.length / w);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
