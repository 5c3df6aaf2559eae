import { OptionError } from '@bypass/atomics-sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mempool, MempoolError, type MempoolOptions } from './mempool.js';

function make(o: MempoolOptions, cacheId?: number): Mempool {
  const sab = new SharedArrayBuffer(Mempool.bytesFor(o));
  const created = Mempool.create(sab, 0, o);
  return cacheId === undefined ? created : Mempool.attach(created.descriptor, { cacheId });
}

describe('Mempool options', () => {
  it('names each bad option and its value', () => {
    expect(() => make({ n: 0, eltSize: 8 })).toThrow(
      'n must be an integer in [1, 16777216], got 0',
    );
    expect(() => make({ n: 8, eltSize: -1 })).toThrow(
      'eltSize must be an integer >= 0 (bytes per object), got -1',
    );
    expect(() => make({ n: 4096, eltSize: 8, cacheSize: 513 })).toThrow(
      'cacheSize must be an integer in [0, 512], got 513',
    );
    expect(() => make({ n: 100, eltSize: 8, cacheSize: 80 })).toThrow(
      'cacheSize must be at most n / 1.5 = 66 for n = 100 (so the caches cannot hide the whole pool), got 80',
    );
    expect(() => make({ n: 8, eltSize: 8, poolId: 256 })).toThrow(OptionError);
    expect(() => make({ n: 64, eltSize: 8, cacheSize: 8, cacheSlots: 4 }, 4)).toThrow(
      'cacheId must be an integer in [0, 3] (this pool has 4 cache slots), got 4',
    );
  });

  it('an undersized region says what to allocate', () => {
    const o = { n: 16, eltSize: 64, name: 'tiny' };
    const need = Mempool.bytesFor(o);
    expect(() => Mempool.create(new SharedArrayBuffer(need - 8), 0, o)).toThrow(
      `Mempool tiny: needs ${need} bytes at offset 0, but the SharedArrayBuffer has only ${need - 8} bytes; allocate at least ${need}`,
    );
  });
});

describe('Mempool without a cache', () => {
  it('get is all or nothing; handles carry the pool id; objects do not overlap', () => {
    const p = make({ n: 10, eltSize: 20, poolId: 7 });
    expect(p.eltStride).toBe(24);
    const h = new Uint32Array(16);
    expect(p.get(h, 11)).toBe(0);
    expect(p.available()).toBe(10);
    expect(p.get(h, 10)).toBe(10);
    expect([...h.subarray(0, 10)].map((x) => x >>> 24)).toEqual(new Array(10).fill(7));
    expect(new Set([...h.subarray(0, 10)].map((x) => p.objOffset(x))).size).toBe(10);
    expect(p.inUse()).toBe(10);
    expect(p.getOne()).toBe(-1);
    p.put(h, 10);
    expect(p.audit()).toEqual({
      full: true,
      n: 10,
      available: 10,
      inUse: 0,
      inRing: 10,
      cached: {},
    });
  });
});

describe('Mempool cache (DPDK semantics)', () => {
  it('refills to half plus the request, flushes down to half, bypasses for large requests', () => {
    const p = make({ n: 1024, eltSize: 0, cacheSize: 64 }, 3);
    const a = new Uint32Array(64);
    const b = new Uint32Array(64);
    const c = new Uint32Array(64);
    expect(p.get(a, 1)).toBe(1);
    // The refill brought 32 + 1 into the cache and handed out 1.
    expect(p.audit().cached).toEqual({ 3: 32 });
    expect(p.audit().inRing).toBe(1024 - 33);
    expect(p.get(a, 32, 1)).toBe(32); // 32 <= half: served from the cache
    expect(p.audit().cached[3]).toBe(0);
    expect(p.audit().inRing).toBe(1024 - 33);
    expect(p.get(b, 33)).toBe(33); // 33 > half: straight from the ring
    expect(p.audit()).toMatchObject({ inRing: 1024 - 66, cached: { 3: 0 }, inUse: 66 });
    p.put(b, 33); // 33 > half: straight back to the ring
    expect(p.audit()).toMatchObject({ inRing: 1024 - 33, cached: { 3: 0 } });
    p.put(a, 32);
    p.put(a, 1, 32); // 33 in the cache: not past cacheSize
    expect(p.audit().cached[3]).toBe(33);
    expect(p.get(c, 64)).toBe(64);
    p.put(c, 32);
    expect(p.audit().cached[3]).toBe(32); // 33 + 32 = 65 > 64: flushed down to half
    p.put(c, 32, 32);
    expect(p.audit().cached[3]).toBe(64);
    expect(p.isFull()).toBe(true);
    p.flushCache();
    expect(p.audit()).toMatchObject({ inRing: 1024, cached: { 3: 0 }, full: true });
  });

  it('a large get that the ring cannot serve takes back what idles in its own cache', () => {
    const p = make({ n: 96, eltSize: 0, cacheSize: 64 }, 0);
    const h = new Uint32Array(96);
    expect(p.get(h, 32)).toBe(32); // cache now holds 32, the ring 32
    p.put(h, 32);
    expect(p.audit()).toMatchObject({ inRing: 32, cached: { 0: 64 } });
    expect(p.get(h, 96)).toBe(96);
    expect(p.get(h, 1, 95)).toBe(0);
    p.put(h, 96);
    expect(p.isFull()).toBe(true);
  });

  it('a cache slot belongs to one thread until released', () => {
    const sab = new SharedArrayBuffer(Mempool.bytesFor({ n: 64, eltSize: 0, cacheSize: 8 }));
    const p = Mempool.create(sab, 0, { n: 64, eltSize: 0, cacheSize: 8 });
    const a = Mempool.attach(p.descriptor, { cacheId: 1 });
    // The same thread may attach the same slot again; another thread may not (threads test).
    expect(Mempool.attach(p.descriptor, { cacheId: 1 }).cacheId).toBe(1);
    a.getOne();
    a.release();
    expect(a.audit().cached).toEqual({});
  });

  it('matches a model: no handle is ever out twice, and everything comes back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.array(fc.record({ get: fc.boolean(), n: fc.integer({ min: 1, max: 70 }) }), {
          maxLength: 150,
        }),
        (cacheSize, ops) => {
          const p = make(
            { n: 200, eltSize: 0, cacheSize, debug: true },
            cacheSize > 0 ? 0 : undefined,
          );
          const out: number[] = [];
          const buf = new Uint32Array(70);
          for (const { get, n } of ops) {
            if (get) {
              const got = p.get(buf, n);
              expect(got).toBe(n <= 200 - out.length ? n : 0);
              for (let i = 0; i < got; i++) out.push(buf[i]);
            } else {
              const k = Math.min(n, out.length);
              if (k === 0) continue;
              buf.set(out.splice(out.length - k, k));
              p.put(buf, k);
            }
            expect(new Set(out).size).toBe(out.length);
            expect(p.inUse()).toBe(out.length);
          }
          while (out.length > 0) p.putOne(out.pop()!);
          const audit = p.audit();
          expect(audit.full).toBe(true);
          expect(audit.outstanding).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('Mempool debug mode', () => {
  it('catches a double free and a foreign handle, and loses nothing', () => {
    const p = make({ n: 8, eltSize: 0, debug: true, name: 'dbg', poolId: 2 });
    const h = new Uint32Array(2);
    p.get(h, 2);
    p.putOne(h[0]);
    expect(() => p.put(h, 2)).toThrow(
      `mempool dbg: double free of object ${h[0]} (it is already in the pool)`,
    );
    expect(p.audit().outstanding).toEqual([h[1]]); // h[1] is still out: the failed put undid itself
    expect(() => p.putOne((5 << 24) | 1)).toThrow(MempoolError);
    expect(() => p.checkLive(h[0], 'read')).toThrow('is free (use after free)');
    p.checkLive(h[1], 'read');
    p.putOne(h[1]);
    expect(p.audit().full).toBe(true);
  });
});
