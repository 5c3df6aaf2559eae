import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteRing } from './byte-ring.js';

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 37 + i * 11 + 1) & 0xff;
  return b;
}

function peekAll(r: ByteRing): number[] {
  const out = new Uint8Array(r.length);
  expect(r.peek(0, out, 0, r.length)).toBe(r.length);
  return [...out];
}

describe('ByteRing', () => {
  it('writes what fits, reads in order across the wrap-around', () => {
    const r = new ByteRing(8);
    expect(r.write(bytes(6, 1), 0, 6)).toBe(6);
    const out = new Uint8Array(8);
    expect(r.read(out, 0, 4)).toBe(4);
    expect([...out.subarray(0, 4)]).toEqual([...bytes(6, 1).subarray(0, 4)]);
    // 2 readable at indices 4..5; 6 more wrap from index 6 to index 3.
    expect(r.write(bytes(10, 2), 0, 10)).toBe(6);
    expect([r.length, r.free]).toEqual([8, 0]);
    expect(r.write(bytes(1, 3), 0, 1)).toBe(0);
    expect(peekAll(r)).toEqual([...bytes(6, 1).subarray(4), ...bytes(6, 2)]);
    expect(r.indexOf(0)).toBe(4);
    expect(r.contiguous()).toBe(4);
    expect(r.read(out, 0, 100)).toBe(8);
    expect([...out]).toEqual([...bytes(6, 1).subarray(4), ...bytes(6, 2)]);
    expect([r.length, r.free, r.contiguous()]).toEqual([0, 8, 0]);
  });

  it('peek copies from an offset without consuming, into dst at dstOff', () => {
    const r = new ByteRing(5);
    r.write(bytes(3, 1), 0, 3);
    r.discard(3);
    r.write(bytes(5, 2), 0, 5); // wraps: indices 3, 4, 0, 1, 2
    const dst = new Uint8Array(6).fill(0xee);
    expect(r.peek(1, dst, 2, 3)).toBe(3);
    expect([...dst]).toEqual([0xee, 0xee, ...bytes(5, 2).subarray(1, 4), 0xee]);
    expect(r.peek(4, dst, 0, 10)).toBe(1);
    expect(r.peek(5, dst, 0, 10)).toBe(0);
    expect(r.peek(7, dst, 0, 10)).toBe(0);
    expect(r.length).toBe(5);
  });

  it('writeAt puts bytes past the readable ones; commit publishes them', () => {
    const r = new ByteRing(8);
    r.write(bytes(6, 1), 0, 6);
    r.discard(5); // head at index 5, one readable byte
    r.writeAt(3, bytes(4, 2), 0, 4); // offsets 3..6: indices 0..3, across the wrap
    expect(r.length).toBe(1);
    r.writeAt(1, bytes(2, 3), 0, 2); // fills the gap at offsets 1..2
    r.commit(6);
    expect(peekAll(r)).toEqual([bytes(6, 1)[5], ...bytes(2, 3), ...bytes(4, 2)]);
  });

  // The receive buffer keeps out-of-order bytes past `length`; reading every in-order byte
  // must not move them (TCP reads its in-order bytes while later segments wait).
  it('out-of-order bytes keep their offsets when every readable byte is consumed', () => {
    const r = new ByteRing(16);
    r.write(bytes(3, 1), 0, 3);
    r.discard(1); // head at index 1, two readable bytes
    r.writeAt(4, bytes(2, 2), 0, 2); // offsets 4..5
    r.discard(2); // nothing readable: the bytes at offsets 4..5 are now at offsets 2..3
    r.writeAt(0, bytes(2, 3), 0, 2);
    r.commit(4);
    expect(peekAll(r)).toEqual([...bytes(2, 3), ...bytes(2, 2)]);
  });

  it('alignEmpty moves an empty ring to an address modulo 8; bytes then wrap and read back exact', () => {
    for (let mod8 = 0; mod8 < 8; mod8++) {
      const r = new ByteRing(64);
      r.alignEmpty(mod8);
      expect((r.buf.byteOffset + r.indexOf(0)) % 8).toBe(mod8);
      expect([r.length, r.free]).toEqual([0, 64]);
      expect(r.write(bytes(64, mod8), 0, 64)).toBe(64);
      expect(peekAll(r)).toEqual([...bytes(64, mod8)]);
      // Not empty: stays where it is.
      const at = r.indexOf(0);
      r.alignEmpty((mod8 + 3) & 7);
      expect(r.indexOf(0)).toBe(at);
    }
  });

  it('clear empties it', () => {
    const r = new ByteRing(4);
    r.write(bytes(3, 1), 0, 3);
    r.clear();
    expect([r.length, r.free, r.indexOf(0)]).toEqual([0, 4, 0]);
  });

  type Op =
    | { op: 'write'; len: number; seed: number }
    | { op: 'writeAt'; gap: number; len: number; seed: number }
    | { op: 'commit'; n: number }
    | { op: 'peek'; offset: number; len: number }
    | { op: 'read'; len: number }
    | { op: 'discard'; n: number }
    | { op: 'clear' };

  const len = fc.integer({ min: 0, max: 40 });
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('write'), len, seed: fc.nat(255) }) },
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constant('writeAt'), gap: len, len, seed: fc.nat(255) }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('commit'), n: len }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('peek'), offset: len, len }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('read'), len }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('discard'), n: len }) },
    { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  );

  it('matches an array model under any sequence of operations (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.array(opArb, { maxLength: 60 }),
        (cap, ops) => {
          const r = new ByteRing(cap);
          // win[i]: the byte at offset i from the read position; readable below `length`,
          // written by writeAt (or undefined: unknown) from `length` on.
          let win: (number | undefined)[] = new Array(cap).fill(undefined);
          let length = 0;
          const put = (at: number, src: Uint8Array, off: number, n: number) => {
            for (let i = 0; i < n; i++) win[at + i] = src[off + i];
          };
          const drop = (n: number) => {
            win = [...win.slice(n), ...new Array(n).fill(undefined)];
            length -= n;
          };
          for (const o of ops) {
            switch (o.op) {
              case 'write': {
                const src = bytes(o.len + 1, o.seed);
                const n = r.write(src, 1, o.len);
                expect(n).toBe(Math.min(o.len, cap - length));
                put(length, src, 1, n);
                length += n;
                break;
              }
              case 'writeAt': {
                const offset = length + o.gap;
                if (offset > cap) break;
                const n = Math.min(o.len, cap - offset);
                const src = bytes(n + 2, o.seed);
                r.writeAt(offset, src, 2, n);
                put(offset, src, 2, n);
                break;
              }
              case 'commit': {
                // Only what writeAt put in place right after the readable bytes.
                let run = 0;
                while (length + run < cap && win[length + run] !== undefined) run++;
                const n = Math.min(o.n, run);
                r.commit(n);
                length += n;
                break;
              }
              case 'peek': {
                const dst = new Uint8Array(o.len + 2).fill(0xee);
                const n = r.peek(o.offset, dst, 1, o.len);
                const want = Math.max(0, Math.min(o.len, length - o.offset));
                expect(n).toBe(want);
                expect([...dst]).toEqual([
                  0xee,
                  ...win.slice(o.offset, o.offset + want),
                  ...new Array(o.len + 1 - want).fill(0xee),
                ]);
                break;
              }
              case 'read': {
                const dst = new Uint8Array(o.len);
                const n = r.read(dst, 0, o.len);
                const want = Math.min(o.len, length);
                expect(n).toBe(want);
                expect([...dst.subarray(0, n)]).toEqual(win.slice(0, want));
                drop(want);
                break;
              }
              case 'discard': {
                const n = Math.min(o.n, length);
                r.discard(n);
                drop(n);
                break;
              }
              case 'clear':
                r.clear();
                win = new Array(cap).fill(undefined);
                length = 0;
                break;
            }
            expect(r.length).toBe(length);
            expect(r.free).toBe(cap - length);
            expect(peekAll(r)).toEqual(win.slice(0, length));
            // contiguous(): the readable run at buf[indexOf(0) ..], up to the end of buf.
            const c = r.contiguous();
            const start = r.indexOf(0);
            expect(c === length || start + c === cap).toBe(true);
            expect([...r.buf.subarray(start, start + c)]).toEqual(win.slice(0, c));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
