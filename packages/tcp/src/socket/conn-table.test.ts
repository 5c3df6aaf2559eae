import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnTable } from './conn-table.js';
import type { TcpSocket } from './tcp.js';

interface Key {
  remoteIp: number;
  remotePort: number;
  localPort: number;
  hash: number;
}

/** What ConnTable reads and writes of a socket. */
function fake(k: Key): TcpSocket {
  return { ...k, slot: -1 } as unknown as TcpSocket;
}

const keyOf = (k: Key) => `${k.remoteIp}:${k.remotePort}:${k.localPort}`;

/** Hashes whose home slot, in an empty table of `capacity`, is `slot`. */
function hashesHomingAt(capacity: number, slot: number, count: number): number[] {
  const out: number[] = [];
  for (let h = 0; out.length < count; h++) {
    const t = new ConnTable(capacity);
    const s = fake({ remoteIp: 1, remotePort: 1, localPort: 1, hash: h });
    t.insert(s);
    if (s.slot === slot) out.push(h);
  }
  return out;
}

describe('ConnTable', () => {
  it('finds by tuple, refuses a duplicate tuple and a full table', () => {
    const t = new ConnTable(2);
    const a = fake({ remoteIp: 0x0a000002, remotePort: 80, localPort: 40000, hash: 7 });
    const b = fake({ remoteIp: 0x0a000002, remotePort: 80, localPort: 40001, hash: 7 });
    const c = fake({ remoteIp: 0x0a000003, remotePort: 80, localPort: 40000, hash: 9 });
    expect(t.insert(a)).toBe(true);
    expect(
      t.insert(fake({ remoteIp: 0x0a000002, remotePort: 80, localPort: 40000, hash: 7 })),
    ).toBe(false);
    expect(t.insert(b)).toBe(true);
    expect(t.size).toBe(2);
    expect(t.insert(c)).toBe(false); // full
    expect(c.slot).toBe(-1);
    expect(t.lookup(7, 0x0a000002, 80, 40000)).toBe(a);
    expect(t.lookup(7, 0x0a000002, 80, 40001)).toBe(b);
    expect(t.lookup(7, 0x0a000002, 81, 40000)).toBeUndefined();
    expect(t.lookup(9, 0x0a000003, 80, 40000)).toBeUndefined();
    t.remove(a);
    expect(a.slot).toBe(-1);
    expect(t.insert(c)).toBe(true);
    expect([...t].sort((x, y) => x.localPort - y.localPort)).toHaveLength(2);
  });

  it('ignores remove of a socket it does not hold', () => {
    const t = new ConnTable(4);
    const a = fake({ remoteIp: 1, remotePort: 2, localPort: 3, hash: 0 });
    const stranger = fake({ remoteIp: 1, remotePort: 2, localPort: 3, hash: 0 });
    t.insert(a);
    stranger.slot = a.slot; // same slot, other object
    t.remove(stranger);
    t.remove(fake({ remoteIp: 9, remotePort: 9, localPort: 9, hash: 0 })); // slot -1
    expect(t.size).toBe(1);
    expect(t.lookup(0, 1, 2, 3)).toBe(a);
    t.remove(a);
    t.remove(a);
    expect(t.size).toBe(0);
  });

  it('a probe run that wraps past the last slot survives removals (backward shift)', () => {
    const cap = 8; // 16 slots
    const hs = hashesHomingAt(cap, 15, 3);
    const h0 = hashesHomingAt(cap, 0, 2);
    const t = new ConnTable(cap);
    const socks = [...hs, ...h0].map((hash, i) =>
      fake({ remoteIp: 0x0a000000 + i, remotePort: 80, localPort: 1000 + i, hash }),
    );
    for (const s of socks) expect(t.insert(s)).toBe(true);
    expect(socks.map((s) => s.slot)).toEqual([15, 0, 1, 2, 3]);
    t.remove(socks[0]);
    // Each later entry moves back one slot: none of their homes lies in the hole's way.
    expect(socks.slice(1).map((s) => s.slot)).toEqual([15, 0, 1, 2]);
    t.remove(socks[3]); // home 0, at slot 1: the other home-0 entry (slot 2) moves to 1
    expect([socks[1].slot, socks[2].slot, socks[4].slot]).toEqual([15, 0, 1]);
    for (const s of [socks[1], socks[2], socks[4]]) {
      expect(t.lookup(s.hash, s.remoteIp, s.remotePort, s.localPort)).toBe(s);
    }
    expect(t.lookup(socks[0].hash, socks[0].remoteIp, 80, socks[0].localPort)).toBeUndefined();
  });

  type Op = { op: 'insert' | 'remove' | 'lookup'; k: number };

  it('matches a Map under inserts and removes with colliding hashes (fast-check)', () => {
    const keyArb = fc.record({
      remoteIp: fc.constantFrom(0x0a000002, 0x0a000003, 0xffffffff, 0),
      remotePort: fc.constantFrom(80, 443, 65535),
      localPort: fc.integer({ min: 32768, max: 32775 }),
      // Mostly a handful of hashes, so that probe runs collide and cluster.
      hash: fc.oneof(fc.constantFrom(0, 1, 2, 0xffffffff), fc.nat({ max: 0xffffffff })),
    });
    const opArb: fc.Arbitrary<Op> = fc.record({
      op: fc.constantFrom('insert', 'insert', 'remove', 'lookup'),
      k: fc.nat(31),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(keyArb, { minLength: 1, maxLength: 32 }),
        fc.array(opArb, { maxLength: 120 }),
        (cap, rawKeys, ops) => {
          // One hash per tuple, as the stack computes it from the tuple.
          const byTuple = new Map<string, Key>();
          for (const k of rawKeys) if (!byTuple.has(keyOf(k))) byTuple.set(keyOf(k), k);
          const keys = [...byTuple.values()];
          const t = new ConnTable(cap);
          const model = new Map<string, TcpSocket>();
          for (const o of ops) {
            const k = keys[o.k % keys.length];
            const id = keyOf(k);
            if (o.op === 'insert') {
              const s = fake(k);
              const ok = model.size < cap && !model.has(id);
              expect(t.insert(s)).toBe(ok);
              if (ok) {
                model.set(id, s);
                expect(s.slot).toBeGreaterThanOrEqual(0);
              } else {
                expect(s.slot).toBe(-1);
              }
            } else if (o.op === 'remove') {
              const s = model.get(id);
              if (s !== undefined) {
                t.remove(s);
                model.delete(id);
                expect(s.slot).toBe(-1);
              }
            }
            expect(t.size).toBe(model.size);
            for (const kk of keys) {
              expect(t.lookup(kk.hash, kk.remoteIp, kk.remotePort, kk.localPort)).toBe(
                model.get(keyOf(kk)),
              );
            }
            const all = [...t];
            expect(new Set(all)).toEqual(new Set(model.values()));
            expect(all).toHaveLength(model.size);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
