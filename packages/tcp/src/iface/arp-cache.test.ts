import { OptionError } from '@bypass/atomics-sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArpCache, type ArpCacheOptions, arpCacheHash } from './arp-cache.js';

const IP_A = 0x0a00_0001; // 10.0.0.1
const IP_B = 0x0a00_0002;
const MAC_A = 0x0200_0000_00aa;
const MAC_B = 0x0200_0000_00bb;

/** Addresses whose home slot is `home` in a table of `slots` slots (a power of two). */
function colliding(count: number, slots: number, home: number): number[] {
  const bits = Math.log2(slots);
  const out: number[] = [];
  for (let ip = 1; out.length < count; ip++) {
    if (arpCacheHash(ip) >>> (32 - bits) === home) out.push(ip >>> 0);
  }
  return out;
}

describe('ArpCache options', () => {
  it('has the documented defaults', () => {
    const c = new ArpCache();
    expect([c.capacity, c.ttlMs, c.pendingPerEntry, c.retries, c.retryMs]).toEqual([
      1024, 60_000, 100, 3, 1000,
    ]);
  });

  it.each<[keyof ArpCacheOptions, unknown]>([
    ['capacity', 0],
    ['capacity', 1.5],
    ['capacity', 2 ** 21],
    ['ttlMs', 0],
    ['ttlMs', Number.NaN],
    ['pendingPerEntry', -1],
    ['retries', 0],
    ['retries', 256],
    ['retryMs', -5],
    ['retryMs', Number.POSITIVE_INFINITY],
  ])('rejects %s = %s with an error naming both', (option, value) => {
    const make = () => new ArpCache({ [option]: value } as ArpCacheOptions);
    expect(make).toThrow(OptionError);
    expect(make).toThrow(new RegExp(`^${option} must be .*got ${String(value)}$`));
  });

  it('rejects a bad static address or MAC', () => {
    const c = new ArpCache();
    expect(() => c.addStatic(-1, MAC_A)).toThrow(OptionError);
    expect(() => c.addStatic(2 ** 32, MAC_A)).toThrow(/^ip must be/);
    expect(() => c.addStatic(IP_A, 2 ** 48)).toThrow(/^mac must be/);
  });
});

describe('ArpCache lookup, update and expiry', () => {
  it('learns only when told to and updates existing entries (RFC 826)', () => {
    const c = new ArpCache();
    expect(c.update(IP_A, MAC_A, 0)).toBe(false);
    expect(c.lookup(IP_A, 0)).toBe(-1);
    expect(c.update(IP_A, MAC_A, 0, true)).toBe(true);
    expect(c.lookup(IP_A, 0)).toBe(MAC_A);
    expect(c.update(IP_A, MAC_B, 10)).toBe(true);
    expect(c.lookup(IP_A, 10)).toBe(MAC_B);
  });

  it('keeps a reachable entry until exactly ttl after the last confirmation', () => {
    const c = new ArpCache({ ttlMs: 60_000 });
    c.update(IP_A, MAC_A, 1000, true);
    expect(c.lookup(IP_A, 1000 + 60_000 - 1)).toBe(MAC_A);
    expect(c.lookup(IP_A, 1000 + 60_000)).toBe(-1);
    // A confirmation restarts the clock, even for an entry already past its ttl.
    c.update(IP_A, MAC_A, 70_000);
    expect(c.lookup(IP_A, 129_999)).toBe(MAC_A);
    expect(c.lookup(IP_A, 130_000)).toBe(-1);
    const dropped = new Uint32Array(4);
    expect(c.expire(129_999, dropped)).toBe(0);
    expect(c.size).toBe(1);
    expect(c.expire(130_000, dropped)).toBe(0);
    expect(c.size).toBe(0);
    expect(c.update(IP_A, MAC_A, 130_000)).toBe(false);
  });

  it('never expires a static entry and never lets received ARP replace it', () => {
    const c = new ArpCache({ ttlMs: 10 });
    expect(c.addStatic(IP_A, MAC_A)).toBe(true);
    expect(c.update(IP_A, MAC_B, 5, true)).toBe(false);
    expect(c.expire(1e12, new Uint32Array(0))).toBe(0);
    expect(c.lookup(IP_A, 1e12)).toBe(MAC_A);
    expect(c.needsRequest(IP_A, 1e12)).toBe(false);
    expect(c.remove(IP_A)).toBe(0);
    expect(c.lookup(IP_A, 0)).toBe(-1);
    expect(c.remove(IP_A)).toBe(-1);
  });

  it('handles address 0 and 255.255.255.255 and the largest MAC', () => {
    const c = new ArpCache();
    c.addStatic(0, 0);
    c.addStatic(0xffff_ffff, 0xffff_ffff_ffff);
    expect(c.lookup(0, 0)).toBe(0);
    expect(c.lookup(0xffff_ffff, 0)).toBe(0xffff_ffff_ffff);
  });
});

describe('ArpCache pending queue', () => {
  it('holds up to pendingPerEntry handles and drains them FIFO', () => {
    const c = new ArpCache({ pendingPerEntry: 3 });
    expect(c.enqueuePending(IP_A, 11, 0)).toBe(true);
    expect(c.enqueuePending(IP_A, 12, 0)).toBe(true);
    expect(c.enqueuePending(IP_A, 13, 0)).toBe(true);
    expect(c.enqueuePending(IP_A, 14, 0)).toBe(false);
    expect(c.pendingTotal).toBe(3);
    expect(c.lookup(IP_A, 0)).toBe(-1);
    c.update(IP_A, MAC_A, 5);
    const out = new Uint32Array(2);
    expect(c.takePending(IP_A, out)).toBe(2);
    expect([...out]).toEqual([11, 12]);
    // The ring wraps: queue more behind the one left.
    expect(c.enqueuePending(IP_A, 15, 6)).toBe(true);
    expect(c.enqueuePending(IP_A, 16, 6)).toBe(true);
    const all = new Uint32Array(8);
    expect(c.takePending(IP_A, all)).toBe(3);
    expect([...all.subarray(0, 3)]).toEqual([13, 15, 16]);
    expect(c.takePending(IP_A, all)).toBe(0);
    expect(c.takePending(IP_B, all)).toBe(0);
    expect(c.pendingTotal).toBe(0);
  });

  it('returns the handles on remove, and refuses when they would not fit', () => {
    const c = new ArpCache();
    c.enqueuePending(IP_A, 1, 0);
    c.enqueuePending(IP_A, 2, 0);
    expect(() => c.remove(IP_A, new Uint32Array(1))).toThrow(RangeError);
    expect(c.pendingTotal).toBe(2);
    const out = new Uint32Array(2);
    expect(c.remove(IP_A, out)).toBe(2);
    expect([...out]).toEqual([1, 2]);
    expect(c.size).toBe(0);
  });
});

describe('ArpCache request pacing and timeouts', () => {
  it('sends the first request at once, then every retryMs, up to retries', () => {
    const c = new ArpCache({ retries: 3, retryMs: 1000 });
    expect(c.needsRequest(IP_A, 100)).toBe(true);
    expect(c.needsRequest(IP_A, 100)).toBe(false);
    expect(c.needsRequest(IP_A, 1099)).toBe(false);
    expect(c.needsRequest(IP_A, 1100)).toBe(true);
    expect(c.needsRequest(IP_A, 2099)).toBe(false);
    expect(c.needsRequest(IP_A, 2100)).toBe(true);
    expect(c.needsRequest(IP_A, 3100)).toBe(false);
  });

  it('fails resolution retries × retryMs after the first request and returns every handle once', () => {
    const c = new ArpCache({ retries: 3, retryMs: 1000, pendingPerEntry: 4 });
    for (const h of [1, 2, 3]) c.enqueuePending(IP_A, h, 0);
    c.needsRequest(IP_A, 0);
    c.needsRequest(IP_A, 1000);
    c.needsRequest(IP_A, 2000);
    c.enqueuePending(IP_B, 9, 500);
    c.needsRequest(IP_B, 500);
    const dropped = new Uint32Array(16);
    expect(c.expire(2999, dropped)).toBe(0);
    expect(c.expire(3000, dropped)).toBe(3);
    expect([...dropped.subarray(0, 3)]).toEqual([1, 2, 3]);
    expect(c.expire(3000, dropped)).toBe(0);
    // B sent one request at 500 and was never polled again: it still fails at 500 + 3 × 1000.
    expect(c.expire(3499, dropped)).toBe(0);
    expect(c.expire(3500, dropped)).toBe(1);
    expect(dropped[0]).toBe(9);
    expect(c.size).toBe(0);
    expect(c.pendingTotal).toBe(0);
  });

  it('gives a late last request a full retryMs', () => {
    const c = new ArpCache({ retries: 2, retryMs: 1000 });
    c.needsRequest(IP_A, 0);
    expect(c.needsRequest(IP_A, 1700)).toBe(true);
    expect(c.expire(2699, new Uint32Array(0))).toBe(0);
    expect(c.expire(2700, new Uint32Array(0))).toBe(0);
    expect(c.size).toBe(0);
  });

  it('hands back timed-out handles over several calls when dropped is small', () => {
    const c = new ArpCache({ retries: 1, retryMs: 10, pendingPerEntry: 3 });
    const ips = [IP_A, IP_B, 0x0a00_0003];
    let h = 100;
    for (const ip of ips) for (let i = 0; i < 3; i++) c.enqueuePending(ip, h++, 0);
    for (const ip of ips) expect(c.lookup(ip, 0)).toBe(-1);
    const seen: number[] = [];
    const dropped = new Uint32Array(4);
    for (let round = 0; round < 5; round++) {
      const n = c.expire(20, dropped);
      seen.push(...dropped.subarray(0, n));
    }
    expect(seen.sort((a, b) => a - b)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108]);
    expect(c.pendingTotal).toBe(0);
    expect(c.size).toBe(0);
  });

  it('an entry holding more handles than dropped has room for still goes, over several calls', () => {
    const c = new ArpCache({ retries: 1, retryMs: 10, pendingPerEntry: 100 });
    for (let h = 0; h < 100; h++) expect(c.enqueuePending(IP_A, 1000 + h, 0)).toBe(true);
    expect(c.needsRequest(IP_A, 0)).toBe(true);
    const dropped = new Uint32Array(64);
    expect(c.expire(20, dropped)).toBe(64);
    const seen = [...dropped];
    expect(c.lookup(IP_A, 20)).toBe(-1);
    expect(c.expire(20, dropped)).toBe(36);
    seen.push(...dropped.subarray(0, 36));
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i));
    expect([c.pendingTotal, c.size]).toEqual([0, 0]);
    // Gone, not stuck with its retries spent: the next packet starts a new resolution.
    expect(c.needsRequest(IP_A, 30)).toBe(true);
  });

  it('lists due retransmissions for the poll loop', () => {
    const c = new ArpCache({ retries: 2, retryMs: 1000 });
    c.enqueuePending(IP_A, 1, 0); // no request yet: due now
    c.needsRequest(IP_B, 0);
    const out = new Uint32Array(4);
    expect(c.dueRequests(0, out)).toBe(1);
    expect(out[0]).toBe(IP_A);
    expect(c.dueRequests(999, out)).toBe(0);
    expect(c.dueRequests(1000, out)).toBe(2);
    expect([...out.subarray(0, 2)].sort()).toEqual([IP_A, IP_B].sort());
    expect(c.dueRequests(5000, out)).toBe(0);
  });

  it('re-resolves a reachable entry past its ttl', () => {
    const c = new ArpCache({ ttlMs: 100 });
    c.update(IP_A, MAC_A, 0, true);
    expect(c.needsRequest(IP_A, 99)).toBe(false);
    expect(c.needsRequest(IP_A, 100)).toBe(true);
    expect(c.lookup(IP_A, 100)).toBe(-1);
    c.update(IP_A, MAC_B, 150);
    expect(c.lookup(IP_A, 150)).toBe(MAC_B);
  });
});

describe('ArpCache capacity, collisions and eviction', () => {
  it('fills to capacity with addresses that share one home slot', () => {
    const capacity = 64;
    const c = new ArpCache({ capacity });
    // Home is the last slot, so the probe run wraps around the end of the table.
    const ips = colliding(capacity + 1, 128, 127);
    for (let i = 0; i < capacity; i++) expect(c.addStatic(ips[i], i + 1)).toBe(true);
    expect(c.size).toBe(capacity);
    for (let i = 0; i < capacity; i++) expect(c.lookup(ips[i], 0)).toBe(i + 1);
    expect(c.lookup(ips[capacity], 0)).toBe(-1);
    // Full of static entries: nothing evictable, so it refuses.
    expect(c.addStatic(ips[capacity], 999)).toBe(false);
    expect(c.update(ips[capacity], 999, 0, true)).toBe(false);
    expect(c.enqueuePending(ips[capacity], 1, 0)).toBe(false);
    expect(c.needsRequest(ips[capacity], 0)).toBe(false);
    // Remove from the middle of the probe run: everything after it stays findable.
    for (let i = 0; i < capacity; i += 3) expect(c.remove(ips[i])).toBe(0);
    for (let i = 0; i < capacity; i++) expect(c.lookup(ips[i], 0)).toBe(i % 3 === 0 ? -1 : i + 1);
    expect(c.addStatic(ips[capacity], 999)).toBe(true);
    expect(c.lookup(ips[capacity], 0)).toBe(999);
  });

  it('evicts the oldest reachable entry without pending packets, never static or incomplete', () => {
    const c = new ArpCache({ capacity: 4 });
    c.addStatic(1, 0x11);
    c.update(2, 0x22, 10, true);
    c.update(3, 0x33, 20, true);
    c.update(4, 0x44, 30, true);
    c.update(2, 0x22, 40); // 2 is now the youngest
    expect(c.update(5, 0x55, 50, true)).toBe(true);
    expect(c.lookup(3, 50)).toBe(-1);
    expect([1, 2, 4, 5].map((ip) => c.lookup(ip, 50))).toEqual([0x11, 0x22, 0x44, 0x55]);
    // 4 (oldest) holds a pending packet, so 2 (confirmed at 40) goes next, then 5 (at 50).
    c.enqueuePending(4, 7, 60);
    expect(c.enqueuePending(6, 8, 60)).toBe(true);
    expect(c.lookup(2, 60)).toBe(-1);
    expect(c.lookup(5, 60)).toBe(0x55);
    expect(c.needsRequest(7, 60)).toBe(true);
    expect(c.lookup(5, 60)).toBe(-1);
    expect(c.lookup(4, 60)).toBe(0x44);
    // Left: static 1, reachable 4 with a packet, incomplete 6 and 7. Nothing to evict.
    expect(c.update(8, 0x88, 70, true)).toBe(false);
    expect(c.pendingTotal).toBe(2);
  });
});

// ---- Model test ------------------------------------------------------------------------------

interface ModelEntry {
  state: 'incomplete' | 'reachable' | 'static';
  mac: number;
  confirmedAt: number;
  requestedAt: number;
  requests: number;
  pending: number[];
}

/** The cache's documented behaviour, written plainly over a Map. */
class Model {
  readonly map = new Map<number, ModelEntry>();
  constructor(readonly o: Required<ArpCacheOptions>) {}

  #valid(e: ModelEntry, now: number): boolean {
    return e.state === 'static' || (e.state === 'reachable' && now < e.confirmedAt + this.o.ttlMs);
  }
  #insert(ip: number): ModelEntry | undefined {
    if (this.map.size >= this.o.capacity) {
      let victim: number | undefined;
      let oldest = Number.POSITIVE_INFINITY;
      for (const [k, e] of this.map) {
        if (e.state === 'reachable' && e.pending.length === 0 && e.confirmedAt < oldest) {
          oldest = e.confirmedAt;
          victim = k;
        }
      }
      if (victim === undefined) return undefined;
      this.map.delete(victim);
    }
    const e: ModelEntry = {
      state: 'incomplete',
      mac: -1,
      confirmedAt: 0,
      requestedAt: 0,
      requests: 0,
      pending: [],
    };
    this.map.set(ip, e);
    return e;
  }
  #resolving(ip: number, now: number): ModelEntry | undefined {
    let e = this.map.get(ip);
    if (e === undefined) {
      e = this.#insert(ip);
      if (e === undefined) return undefined;
    } else if (e.state !== 'reachable' || now < e.confirmedAt + this.o.ttlMs) {
      return e;
    }
    Object.assign(e, { state: 'incomplete', mac: -1, requests: 0, requestedAt: now });
    return e;
  }
  #due(e: ModelEntry, now: number): boolean {
    if (
      e.requests !== 0 &&
      (e.requests >= this.o.retries || now < e.requestedAt + this.o.retryMs)
    ) {
      return false;
    }
    e.requests++;
    e.requestedAt = now;
    return true;
  }

  lookup(ip: number, now: number): number {
    const e = this.map.get(ip);
    return e !== undefined && this.#valid(e, now) ? e.mac : -1;
  }
  update(ip: number, mac: number, now: number, learn: boolean): boolean {
    let e = this.map.get(ip);
    if (e === undefined) {
      if (!learn) return false;
      e = this.#insert(ip);
      if (e === undefined) return false;
    } else if (e.state === 'static') return false;
    Object.assign(e, { state: 'reachable', mac, confirmedAt: now, requests: 0 });
    return true;
  }
  addStatic(ip: number, mac: number): boolean {
    const e = this.map.get(ip) ?? this.#insert(ip);
    if (e === undefined) return false;
    Object.assign(e, { state: 'static', mac, requests: 0 });
    return true;
  }
  remove(ip: number): number[] | -1 {
    const e = this.map.get(ip);
    if (e === undefined) return -1;
    this.map.delete(ip);
    return e.pending;
  }
  enqueue(ip: number, h: number, now: number): boolean {
    const e = this.#resolving(ip, now);
    if (e === undefined || e.pending.length >= this.o.pendingPerEntry) return false;
    e.pending.push(h);
    return true;
  }
  take(ip: number, max: number): number[] {
    const e = this.map.get(ip);
    return e === undefined ? [] : e.pending.splice(0, max);
  }
  needsRequest(ip: number, now: number): boolean {
    const e = this.#resolving(ip, now);
    return e !== undefined && e.state === 'incomplete' && this.#due(e, now);
  }
  dueRequests(now: number): number[] {
    const out: number[] = [];
    for (const [ip, e] of this.map) if (e.state === 'incomplete' && this.#due(e, now)) out.push(ip);
    return out;
  }
  expire(now: number): number[] {
    const out: number[] = [];
    for (const [ip, e] of this.map) {
      const dead =
        e.state === 'reachable'
          ? now >= e.confirmedAt + this.o.ttlMs
          : e.state === 'incomplete' &&
            now >= e.requestedAt + (this.o.retries - e.requests + 1) * this.o.retryMs;
      if (dead) {
        out.push(...e.pending);
        this.map.delete(ip);
      }
    }
    return out;
  }
}

type Op =
  | { k: 'lookup'; ip: number }
  | { k: 'update'; ip: number; mac: number; learn: boolean }
  | { k: 'static'; ip: number; mac: number }
  | { k: 'remove'; ip: number }
  | { k: 'enqueue'; ip: number }
  | { k: 'take'; ip: number; max: number }
  | { k: 'request'; ip: number }
  | { k: 'due' }
  | { k: 'expire' };

const sorted = (xs: Iterable<number>) => [...xs].sort((a, b) => a - b);

describe('ArpCache against a Map model', () => {
  it('gives the same answers and hands back the same handles', () => {
    // A few addresses that collide in the smallest tables, plus some that do not.
    const ipPool = [...colliding(4, 8, 7), ...colliding(3, 32, 31), 0, 0xffff_ffff];
    const ipArb = fc.constantFrom(...ipPool);
    const macArb = fc.integer({ min: 0, max: 0xffff_ffff_ffff });
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ k: fc.constant('lookup' as const), ip: ipArb }),
      fc.record({ k: fc.constant('update' as const), ip: ipArb, mac: macArb, learn: fc.boolean() }),
      fc.record({ k: fc.constant('static' as const), ip: ipArb, mac: macArb }),
      fc.record({ k: fc.constant('remove' as const), ip: ipArb }),
      fc.record({ k: fc.constant('enqueue' as const), ip: ipArb }),
      fc.record({
        k: fc.constant('take' as const),
        ip: ipArb,
        max: fc.integer({ min: 0, max: 5 }),
      }),
      fc.record({ k: fc.constant('request' as const), ip: ipArb }),
      fc.record({ k: fc.constant('due' as const) }),
      fc.record({ k: fc.constant('expire' as const) }),
    );
    // Steps that are multiples of the timers land exactly on deadlines often.
    const stepArb = fc.tuple(opArb, fc.constantFrom(1, 99, 100, 300, 500, 1000));
    const optsArb = fc.record({
      capacity: fc.constantFrom(1, 2, 4, 16),
      ttlMs: fc.constantFrom(500, 3000, 60_000),
      pendingPerEntry: fc.constantFrom(0, 1, 2, 4),
      retries: fc.constantFrom(1, 2, 3),
      retryMs: fc.constantFrom(300, 1000),
    });

    fc.assert(
      fc.property(optsArb, fc.array(stepArb, { maxLength: 200 }), (opts, steps) => {
        const cache = new ArpCache(opts);
        const model = new Model(opts);
        const big = new Uint32Array(opts.capacity * opts.pendingPerEntry + ipPool.length);
        let now = 0;
        let nextHandle = 1;
        const owned = new Set<number>(); // handles the cache holds
        const giveBack = (hs: Iterable<number>) => {
          for (const h of hs) expect(owned.delete(h)).toBe(true);
        };
        for (const [op, dt] of steps) {
          now += dt; // strictly increasing, so eviction never has to break a tie
          switch (op.k) {
            case 'lookup':
              expect(cache.lookup(op.ip, now)).toBe(model.lookup(op.ip, now));
              break;
            case 'update':
              expect(cache.update(op.ip, op.mac, now, op.learn)).toBe(
                model.update(op.ip, op.mac, now, op.learn),
              );
              break;
            case 'static':
              expect(cache.addStatic(op.ip, op.mac)).toBe(model.addStatic(op.ip, op.mac));
              break;
            case 'remove': {
              const want = model.remove(op.ip);
              const n = cache.remove(op.ip, big);
              if (want === -1) expect(n).toBe(-1);
              else {
                expect([...big.subarray(0, n)]).toEqual(want);
                giveBack(want);
              }
              break;
            }
            case 'enqueue': {
              const h = nextHandle++;
              const ok = cache.enqueuePending(op.ip, h, now);
              expect(ok).toBe(model.enqueue(op.ip, h, now));
              if (ok) owned.add(h);
              break;
            }
            case 'take': {
              const want = model.take(op.ip, op.max);
              const out = new Uint32Array(op.max);
              expect(cache.takePending(op.ip, out)).toBe(want.length);
              expect([...out.subarray(0, want.length)]).toEqual(want);
              giveBack(want);
              break;
            }
            case 'request':
              expect(cache.needsRequest(op.ip, now)).toBe(model.needsRequest(op.ip, now));
              break;
            case 'due': {
              const n = cache.dueRequests(now, big);
              expect(sorted(big.subarray(0, n))).toEqual(sorted(model.dueRequests(now)));
              break;
            }
            case 'expire': {
              const want = model.expire(now);
              const n = cache.expire(now, big);
              expect(sorted(big.subarray(0, n))).toEqual(sorted(want));
              giveBack(want);
              break;
            }
          }
          for (const ip of ipPool) expect(cache.lookup(ip, now)).toBe(model.lookup(ip, now));
          expect(cache.size).toBe(model.map.size);
          expect(cache.pendingTotal).toBe(owned.size);
        }
        for (const ip of ipPool) expect(cache.lookup(ip, now)).toBe(model.lookup(ip, now));
        // Far in the future every non-static entry is gone and every handle has come back.
        const later = now + 1e9;
        const want = model.expire(later);
        const n = cache.expire(later, big);
        expect(sorted(big.subarray(0, n))).toEqual(sorted(want));
        giveBack(want);
        // What is left waits on static entries (or the few that are not due yet): take it.
        for (const ip of ipPool) {
          const rest = model.take(ip, 1e9);
          const out = new Uint32Array(rest.length + 1);
          expect(cache.takePending(ip, out)).toBe(rest.length);
          expect([...out.subarray(0, rest.length)]).toEqual(rest);
          giveBack(rest);
        }
        expect(owned.size).toBe(0);
        expect(cache.pendingTotal).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('ArpCache version', () => {
  it('changes with every change a lookup could see, and not with lookups', () => {
    const c = new ArpCache({ capacity: 1, ttlMs: 100 });
    let v = c.version;
    const changed = () => {
      const was = v;
      v = c.version;
      return v !== was;
    };
    expect(c.lookup(IP_A, 0)).toBe(-1);
    expect(changed()).toBe(false);
    c.update(IP_A, MAC_A, 0, true);
    expect(changed()).toBe(true);
    c.lookup(IP_A, 50);
    expect(changed()).toBe(false);
    c.update(IP_A, MAC_B, 10); // a new MAC for a known entry
    expect(changed()).toBe(true);
    c.update(IP_B, MAC_B, 20, true); // evicts IP_A (capacity 1)
    expect(changed()).toBe(true);
    expect(c.lookup(IP_A, 20)).toBe(-1);
    expect(c.remove(IP_B)).toBe(0);
    expect(changed()).toBe(true);
    c.addStatic(IP_A, MAC_A);
    expect(changed()).toBe(true);
    c.update(IP_B, MAC_B, 40, true); // full of a static entry: refused, nothing changes
    expect(changed()).toBe(false);
    const dropped = new Uint32Array(4);
    expect(c.expire(1_000_000, dropped)).toBe(0); // static: stays
    expect(changed()).toBe(false);
  });
});
