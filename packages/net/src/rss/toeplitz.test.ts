import { OptionError } from '@bypass/atomics-sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RSS_DEFAULT_KEY, RSS_SYMMETRIC_KEY, Toeplitz, toeplitzHash } from './toeplitz.js';
import {
  RSS_VERIFICATION_IPV4 as IPV4_VECTORS,
  RSS_VERIFICATION_IPV6 as IPV6_VECTORS,
} from './vectors.js';

const fast = new Toeplitz();

/** The hash input: addresses, then (when given) the two ports big-endian. */
function tuple(src: Uint8Array, dst: Uint8Array, sport?: number, dport?: number): Uint8Array {
  const n = src.length + dst.length;
  const out = new Uint8Array(sport === undefined ? n : n + 4);
  out.set(src, 0);
  out.set(dst, src.length);
  if (sport !== undefined && dport !== undefined) {
    out[n] = sport >>> 8;
    out[n + 1] = sport & 0xff;
    out[n + 2] = dport >>> 8;
    out[n + 3] = dport & 0xff;
  }
  return out;
}

/** A buffer shaped like a packet: IPv4/IPv6 addresses at their header offsets, ports after. */
function packetLike(family: 4 | 6, src: Uint8Array, dst: Uint8Array, sport: number, dport: number) {
  const ipOffset = 7; // deliberately odd: nothing may assume alignment
  const srcAt = ipOffset + (family === 4 ? 12 : 8);
  const l4Offset = srcAt + src.length * 2 + 3;
  const bytes = new Uint8Array(l4Offset + 8).fill(0xee);
  bytes.set(src, srcAt);
  bytes.set(dst, srcAt + src.length);
  bytes[l4Offset] = sport >>> 8;
  bytes[l4Offset + 1] = sport & 0xff;
  bytes[l4Offset + 2] = dport >>> 8;
  bytes[l4Offset + 3] = dport & 0xff;
  return { bytes, ipOffset, l4Offset };
}

describe('RSS_DEFAULT_KEY and RSS_SYMMETRIC_KEY', () => {
  it('are the 40-byte keys of the verification suite and of symmetric RSS', () => {
    expect(RSS_DEFAULT_KEY.length).toBe(40);
    expect(Buffer.from(RSS_DEFAULT_KEY).toString('hex')).toBe(
      '6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa',
    );
    expect(Buffer.from(RSS_SYMMETRIC_KEY).toString('hex')).toBe('6d5a'.repeat(20));
  });
});

describe('toeplitzHash (the definition) on the published vectors', () => {
  it.each(IPV4_VECTORS)('IPv4 $src:$sport -> $dst:$dport', (v) => {
    expect(toeplitzHash(RSS_DEFAULT_KEY, tuple(v.srcBytes, v.dstBytes))).toBe(v.hash2);
    expect(toeplitzHash(RSS_DEFAULT_KEY, tuple(v.srcBytes, v.dstBytes, v.sport, v.dport))).toBe(
      v.hash4,
    );
  });

  it.each(IPV6_VECTORS)('IPv6 [$src]:$sport -> [$dst]:$dport', (v) => {
    expect(toeplitzHash(RSS_DEFAULT_KEY, tuple(v.srcBytes, v.dstBytes))).toBe(v.hash2);
    expect(toeplitzHash(RSS_DEFAULT_KEY, tuple(v.srcBytes, v.dstBytes, v.sport, v.dport))).toBe(
      v.hash4,
    );
  });

  it('rejects a key too short for the input, naming both lengths', () => {
    expect(() => toeplitzHash(new Uint8Array(15), new Uint8Array(12))).toThrow(
      'a 12-byte input needs a key of at least 16 bytes, got 15',
    );
  });
});

describe('Toeplitz (the table) on the published vectors', () => {
  it.each(IPV4_VECTORS)('IPv4 $src:$sport -> $dst:$dport', (v) => {
    const t4 = tuple(v.srcBytes, v.dstBytes, v.sport, v.dport);
    expect(fast.hashBytes(t4, 0, 8)).toBe(v.hash2);
    expect(fast.hashBytes(t4, 0, 12)).toBe(v.hash4);
    const p = packetLike(4, v.srcBytes, v.dstBytes, v.sport, v.dport);
    expect(fast.hashV4(p.bytes, p.ipOffset, -1)).toBe(v.hash2);
    expect(fast.hashV4(p.bytes, p.ipOffset, p.l4Offset)).toBe(v.hash4);
    const word = (a: Uint8Array) => ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
    expect(fast.hashV4Tuple(word(v.srcBytes), word(v.dstBytes), v.sport, v.dport)).toBe(v.hash4);
  });

  it.each(IPV6_VECTORS)('IPv6 [$src]:$sport -> [$dst]:$dport', (v) => {
    const t6 = tuple(v.srcBytes, v.dstBytes, v.sport, v.dport);
    expect(fast.hashBytes(t6, 0, 32)).toBe(v.hash2);
    expect(fast.hashBytes(t6, 0, 36)).toBe(v.hash4);
    const p = packetLike(6, v.srcBytes, v.dstBytes, v.sport, v.dport);
    expect(fast.hashV6(p.bytes, p.ipOffset, -1)).toBe(v.hash2);
    expect(fast.hashV6(p.bytes, p.ipOffset, p.l4Offset)).toBe(v.hash4);
  });

  it('agrees with the definition for any key and input (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 40, maxLength: 52 }),
        fc.uint8Array({ maxLength: 48 }),
        fc.nat(16),
        (key, data, pad) => {
          const t = new Toeplitz(key);
          const input = data.subarray(0, Math.min(data.length, t.maxInputLength));
          const shifted = new Uint8Array(pad + input.length);
          shifted.set(input, pad);
          expect(t.hashBytes(shifted, pad, input.length)).toBe(toeplitzHash(key, input));
        },
      ),
    );
  });

  it('returns unsigned 32-bit numbers', () => {
    const ones = new Uint8Array(36).fill(0xff);
    const h = fast.hashBytes(ones, 0, 36);
    expect(h).toBe(toeplitzHash(RSS_DEFAULT_KEY, ones));
    expect(h >= 0 && h <= 0xffffffff && Number.isInteger(h)).toBe(true);
  });

  it('copies the key: later changes to the caller’s array do not change the hash', () => {
    const key = Uint8Array.from(RSS_DEFAULT_KEY);
    const t = new Toeplitz(key);
    key.fill(0);
    const v = IPV4_VECTORS[0];
    expect(t.hashBytes(tuple(v.srcBytes, v.dstBytes, v.sport, v.dport), 0, 12)).toBe(v.hash4);
  });

  it('rejects a key shorter than 40 bytes, naming the length', () => {
    expect(() => new Toeplitz(new Uint8Array(39))).toThrow(OptionError);
    expect(() => new Toeplitz(new Uint8Array(39))).toThrow(
      'key.length must be a Uint8Array of at least 40 bytes (the IPv6 4-tuple needs 36 bytes plus 4), got 39',
    );
  });

  it('rejects an input longer than the key allows', () => {
    expect(() => fast.hashBytes(new Uint8Array(37), 0, 37)).toThrow(
      '37 bytes is longer than the key allows (36)',
    );
  });
});

describe('RSS_SYMMETRIC_KEY', () => {
  const sym = new Toeplitz(RSS_SYMMETRIC_KEY);
  const port = fc.integer({ min: 0, max: 0xffff });

  it('hashes both directions of an IPv4 flow alike (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        port,
        port,
        (a, b, pa, pb) => {
          const there = tuple(a, b, pa, pb);
          const back = tuple(b, a, pb, pa);
          expect(toeplitzHash(RSS_SYMMETRIC_KEY, there)).toBe(
            toeplitzHash(RSS_SYMMETRIC_KEY, back),
          );
          expect(sym.hashBytes(there, 0, 12)).toBe(sym.hashBytes(back, 0, 12));
          expect(sym.hashBytes(there, 0, 8)).toBe(sym.hashBytes(back, 0, 8));
        },
      ),
    );
  });

  it('hashes both directions of an IPv6 flow alike (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        port,
        port,
        (a, b, pa, pb) => {
          const there = tuple(a, b, pa, pb);
          const back = tuple(b, a, pb, pa);
          expect(sym.hashBytes(there, 0, 36)).toBe(sym.hashBytes(back, 0, 36));
          expect(sym.hashBytes(there, 0, 36)).toBe(toeplitzHash(RSS_SYMMETRIC_KEY, back));
        },
      ),
    );
  });

  it('is a property of the key: the default key tells the directions apart', () => {
    const v = IPV4_VECTORS[0];
    const back = tuple(v.dstBytes, v.srcBytes, v.dport, v.sport);
    expect(fast.hashBytes(back, 0, 12)).not.toBe(v.hash4);
  });
});
