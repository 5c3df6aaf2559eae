import { OptionError, RegionError } from '@bypass/atomics-sync';
import { describe, expect, it } from 'vitest';
import { Ring, type RingOptions } from './ring.js';

function make(options: RingOptions): Ring {
  return Ring.create(new SharedArrayBuffer(Ring.bytesFor(options)), 0, options);
}

const seq = (n: number, from = 0) => Uint32Array.from({ length: n }, (_, i) => from + i);

describe('Ring options', () => {
  it('a count that is not a power of two names itself and the fix', () => {
    expect(() => make({ count: 100 })).toThrow(OptionError);
    expect(() => make({ count: 100 })).toThrow(
      'count must be a power of two in [2, 2^28] (the ring holds count - 1; pass exactSize: true to hold exactly 100), got 100',
    );
    expect(() => make({ count: 0 })).toThrow('count must be a positive integer, got 0');
    expect(() => make({ count: -8 })).toThrow('got -8');
    expect(() => make({ count: 8, elemWords: 3 as 1 })).toThrow(
      'elemWords must be 1, 2 or 4, got 3',
    );
    expect(() => make({ count: 8, producer: 'many' as 'multi' })).toThrow(
      "producer must be 'single' or 'multi', got many",
    );
  });

  it('an undersized or misaligned region says what to allocate', () => {
    const bytes = Ring.bytesFor({ count: 16 });
    expect(bytes).toBe(384 + 16 * 4);
    expect(() =>
      Ring.create(new SharedArrayBuffer(bytes - 4), 0, { count: 16, name: 'rx0' }),
    ).toThrow(
      `Ring rx0: needs ${bytes} bytes at offset 0, but the SharedArrayBuffer has only ${bytes - 4} bytes; allocate at least ${bytes}`,
    );
    expect(() => Ring.create(new SharedArrayBuffer(2 * bytes), 2, { count: 16 })).toThrow(
      /misaligned/,
    );
  });

  it('zero or negative counts and out-of-range offsets are errors, not silent no-ops', () => {
    const r = make({ count: 8 });
    const buf = new Uint32Array(4);
    expect(() => r.enqueueBurst(buf, 0)).toThrow(
      'n must be a positive integer (the number of elements to move), got 0',
    );
    expect(() => r.dequeueBulk(buf, -1)).toThrow('got -1');
    expect(() => r.enqueueBulk(buf, 3, 2)).toThrow(
      /offset must be an index such that offset \+ n \* 1 <= objs.length \(4\), for n = 3, got 2/,
    );
  });

  it('attach refuses what is not a ring', () => {
    const sab = new SharedArrayBuffer(1024);
    expect(() => Ring.attach({ kind: 'ring', sab, byteOffset: 0 })).toThrow(/no ring at byte 0/);
    expect(() => Ring.attach({ kind: 'mutex', sab, byteOffset: 0 } as never)).toThrow(RegionError);
  });
});

describe('Ring semantics', () => {
  it('a power-of-two ring holds count - 1; exactSize holds exactly count', () => {
    const r = make({ count: 8 });
    expect(r.capacity).toBe(7);
    expect(r.enqueueBurst(seq(10), 10)).toBe(7);
    expect(r.isFull()).toBe(true);
    expect(r.lastFreeSpace).toBe(0);
    const e = make({ count: 100, exactSize: true });
    expect(e.size).toBe(128);
    expect(e.capacity).toBe(100);
    expect(e.enqueueBurst(seq(128), 128)).toBe(100);
  });

  it('bulk is all or nothing, burst is as many as possible', () => {
    const r = make({ count: 16, name: 'bulkburst' });
    expect(r.name).toBe('bulkburst');
    expect(r.enqueueBulk(seq(10), 10)).toBe(10);
    expect(r.lastFreeSpace).toBe(5);
    expect(r.enqueueBulk(seq(6, 10), 6)).toBe(0);
    expect(r.lastFreeSpace).toBe(5);
    expect(r.enqueueBurst(seq(6, 10), 6)).toBe(5);
    expect(r.count()).toBe(15);
    const out = new Uint32Array(32);
    expect(r.dequeueBulk(out, 16)).toBe(0);
    expect(r.lastAvailable).toBe(15);
    expect(r.dequeueBulk(out, 4, 10)).toBe(4);
    expect([...out.subarray(10, 14)]).toEqual([0, 1, 2, 3]);
    expect(r.lastAvailable).toBe(11);
    expect(r.dequeueBurst(out, 32)).toBe(11);
    expect([...out.subarray(0, 11)]).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(r.isEmpty()).toBe(true);
    expect(r.dequeueBurst(out, 1)).toBe(0);
  });

  it('wraps the u32 indices past 2^32 in both modes', () => {
    for (const mode of ['single', 'multi'] as const) {
      const r = make({ count: 8, startIndex: 0xffff_fffd, producer: mode, consumer: mode });
      const out = new Uint32Array(8);
      for (let round = 0; round < 5; round++) {
        expect(r.enqueueBulk(seq(5, round * 5), 5)).toBe(5);
        expect(r.count()).toBe(5);
        expect(r.dequeueBulk(out, 5)).toBe(5);
        expect([...out.subarray(0, 5)]).toEqual([...seq(5, round * 5)]);
      }
    }
  });

  it('carries elements of 2 and 4 words intact across the wrap', () => {
    for (const w of [2, 4] as const) {
      const r = make({ count: 4, elemWords: w });
      const out = new Uint32Array(3 * w);
      for (let round = 0; round < 4; round++) {
        const items = seq(3 * w, 1000 * round);
        expect(r.enqueueBulk(items, 3)).toBe(3);
        expect(r.dequeueBulk(out, 3)).toBe(3);
        expect([...out]).toEqual([...items]);
      }
    }
  });

  it('single-element helpers and reset', () => {
    const r = make({ count: 4 });
    expect(r.dequeueOne()).toBe(-1);
    expect(r.enqueueOne(0xffff_ffff)).toBe(true);
    expect(r.enqueueOne(7)).toBe(true);
    expect(r.enqueueOne(8)).toBe(true);
    expect(r.enqueueOne(9)).toBe(false);
    expect(r.dequeueOne()).toBe(0xffff_ffff);
    r.reset();
    expect(r.isEmpty()).toBe(true);
    expect(r.freeCount()).toBe(3);
  });

  it('another handle attached from a cloned descriptor sees the same ring and modes', () => {
    const r = make({ count: 16, producer: 'multi', consumer: 'single', name: 'shared' });
    const twin = Ring.attach(structuredClone(r.descriptor));
    expect([twin.name, twin.producer, twin.consumer, twin.capacity]).toEqual([
      'shared',
      'multi',
      'single',
      15,
    ]);
    r.enqueueBulk(seq(3, 40), 3);
    const out = new Uint32Array(3);
    expect(twin.dequeueBulk(out, 3)).toBe(3);
    expect([...out]).toEqual([40, 41, 42]);
  });
});
