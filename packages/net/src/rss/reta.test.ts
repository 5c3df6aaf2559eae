import { OptionError } from '@bypass/atomics-sync';
import { describe, expect, it } from 'vitest';
import { Reta } from './reta.js';
import { RSS_SYMMETRIC_KEY, Toeplitz } from './toeplitz.js';

/** mulberry32: a small seeded PRNG, so the spread counts are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Queue counts for `flows` random IPv4 4-tuples hashed with `toeplitz` through `reta`. */
function spread(reta: Reta, toeplitz: Toeplitz, flows: number, seed: number): number[] {
  const next = prng(seed);
  const counts = new Array<number>(reta.queues).fill(0);
  for (let i = 0; i < flows; i++) {
    const r = next();
    const hash = toeplitz.hashV4Tuple(next(), next(), r >>> 16, r & 0xffff);
    counts[reta.queueOf(hash)]++;
  }
  return counts;
}

/** Each queue's count against its share of the table, within `tolerance` (0.02 = 2%). */
function expectFair(reta: Reta, counts: number[], flows: number, tolerance: number): void {
  const entries = reta.toArray();
  for (let q = 0; q < reta.queues; q++) {
    const share = entries.filter((e) => e === q).length / reta.size;
    const expected = flows * share;
    expect(Math.abs(counts[q] - expected)).toBeLessThanOrEqual(expected * tolerance);
  }
}

describe('Reta', () => {
  it('defaults to 128 entries, round robin over the queues', () => {
    const reta = new Reta({ queues: 3 });
    expect(reta.size).toBe(128);
    expect(reta.mask).toBe(127);
    expect(reta.toArray()).toEqual(Array.from({ length: 128 }, (_, i) => i % 3));
    expect(reta.entries.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('takes every power of two from 64 to 512', () => {
    for (const size of [64, 128, 256, 512]) {
      const reta = new Reta({ queues: 4, size });
      expect(reta.size).toBe(size);
      expect(reta.entries.length).toBe(size);
    }
  });

  it('picks the entry with the low bits of the hash', () => {
    const reta = new Reta({ queues: 16, size: 64 });
    expect(reta.queueOf(0)).toBe(0);
    expect(reta.queueOf(0x12345)).toBe(0x05 % 16); // 0x12345 & 63 = 5
    expect(reta.queueOf(0xffffffff)).toBe(63 % 16);
    expect(reta.queueOf(0x80000041)).toBe(1);
    reta.set(5, 9);
    expect(reta.queueOf(0xabcdef05)).toBe(9); // 0x05 = 5
  });

  it('set, update and get change and read entries', () => {
    const reta = new Reta({ queues: 4, size: 64 });
    reta.set(0, 3);
    expect(reta.get(0)).toBe(3);
    reta.update([2, 2, 2], 10);
    expect(reta.toArray().slice(9, 14)).toEqual([1, 2, 2, 2, 1]);
    reta.update(new Array(64).fill(1));
    expect(new Set(reta.toArray())).toEqual(new Set([1]));
  });

  it('update checks every value before writing any', () => {
    const reta = new Reta({ queues: 4, size: 64 });
    const before = reta.toArray();
    expect(() => reta.update([0, 1, 4, 2])).toThrow(
      'queues[2] must be a queue id, an integer in [0, 3], got 4',
    );
    expect(reta.toArray()).toEqual(before);
    expect(() => reta.update([0, 1], 63)).toThrow(OptionError);
    expect(() => reta.update([0, 1], 63)).toThrow(
      'start must be an integer with start + 2 entries <= size (64), got 63',
    );
  });

  it('rejects bad sizes, naming the value', () => {
    for (const size of [0, 32, 63, 96, 100, 1024, 64.5, Number.NaN, -64]) {
      expect(() => new Reta({ queues: 4, size })).toThrow(OptionError);
      expect(() => new Reta({ queues: 4, size })).toThrow(
        `size must be a power of two in [64, 512] (RETA entries), got ${size}`,
      );
    }
  });

  it('rejects bad queue counts, naming the value', () => {
    for (const queues of [0, -1, 2.5, 65536, Number.NaN]) {
      expect(() => new Reta({ queues })).toThrow(OptionError);
      expect(() => new Reta({ queues })).toThrow(
        `queues must be an integer in [1, 65535], got ${queues}`,
      );
    }
  });

  it('rejects bad entries and indexes, naming the value', () => {
    const reta = new Reta({ queues: 2, size: 64 });
    expect(() => reta.set(64, 0)).toThrow(
      'index must be an integer in [0, 63] (a RETA entry), got 64',
    );
    expect(() => reta.set(-1, 0)).toThrow(
      'index must be an integer in [0, 63] (a RETA entry), got -1',
    );
    expect(() => reta.set(0, 2)).toThrow('queue must be a queue id, an integer in [0, 1], got 2');
    expect(() => reta.set(0, 0.5)).toThrow(
      'queue must be a queue id, an integer in [0, 1], got 0.5',
    );
    expect(() => reta.get(1.5)).toThrow(
      'index must be an integer in [0, 63] (a RETA entry), got 1.5',
    );
    expect(() => new Reta({ queues: 2, size: 128, entries: new Uint32Array(64) })).toThrow(
      'entries must be a Uint32Array of at least size (128) entries, got a Uint32Array of length 64',
    );
  });

  it('lives in memory it is given, and a second view over it sees updates (fill: false)', () => {
    // As a port record's RETA words: 512 u32s, of which the table uses the first `size`.
    const words = new Uint32Array(new SharedArrayBuffer(4096), 256, 512);
    const owner = new Reta({ queues: 4, size: 128, entries: words });
    const reader = new Reta({ queues: 4, size: 128, entries: words, fill: false });
    expect(reader.toArray()).toEqual(owner.toArray());
    expect(words[127]).toBe(3);
    expect(words[128]).toBe(0);
    owner.set(7, 0);
    expect(reader.queueOf(7)).toBe(0);
    owner.update(new Array(128).fill(2));
    expect(reader.queueOf(0xdeadbeef)).toBe(2);
  });
});

describe('Reta spread over random flows (seeded)', () => {
  const flows = 100_000;
  const toeplitz = new Toeplitz();

  it('over 4 queues: within 2% of uniform', () => {
    const reta = new Reta({ queues: 4 });
    const counts = spread(reta, toeplitz, flows, 0x5eed);
    expect(counts.reduce((a, b) => a + b)).toBe(flows);
    expectFair(reta, counts, flows, 0.02);
    for (const c of counts) expect(Math.abs(c - flows / 4)).toBeLessThanOrEqual((flows / 4) * 0.05);
  });

  it('over 3 queues: within 2% of each queue’s share of the table, 5% of uniform', () => {
    for (const size of [128, 512]) {
      const reta = new Reta({ queues: 3, size });
      const counts = spread(reta, toeplitz, flows, 0xc0ffee);
      expectFair(reta, counts, flows, 0.02);
      for (const c of counts)
        expect(Math.abs(c - flows / 3)).toBeLessThanOrEqual((flows / 3) * 0.05);
    }
  });

  it('with the symmetric key too', () => {
    const reta = new Reta({ queues: 4 });
    const counts = spread(reta, new Toeplitz(RSS_SYMMETRIC_KEY), flows, 7);
    expectFair(reta, counts, flows, 0.05);
  });
});
