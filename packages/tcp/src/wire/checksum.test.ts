import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checksumOf, ipv4PseudoSum, sum16, sum16View } from './checksum.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('sum16', () => {
  it('matches the RFC 1071 section 3 example', () => {
    // 0001 + f203 + f4f5 + f6f7 = 2ddf0, folded ddf2.
    expect(sum16(hex('0001 f203 f4f5 f6f7'), 0, 8)).toBe(0xddf2);
    expect(checksumOf(0xddf2)).toBe(0x220d);
  });

  it('pads an odd last byte with zero and honours off and len', () => {
    const b = hex('ff ff 12 34 56 ff');
    expect(sum16(b, 2, 3)).toBe(0x1234 + 0x5600);
    expect(sum16(b, 2, 0)).toBe(0);
    expect(sum16(b, 2, 0, 0x1234)).toBe(0x1234);
  });

  it('chains through `initial` as if the ranges were one', () => {
    const b = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
    expect(sum16(b, 8, 12, sum16(b, 0, 8))).toBe(sum16(b, 0, 20));
  });

  it('folds large inputs (64 KiB of 0xff is 0xffff)', () => {
    const b = new Uint8Array(65536).fill(0xff);
    expect(sum16(b, 0, b.length)).toBe(0xffff);
    // Odd length across the 32 KiB fold boundary, against a naive reference.
    const c = Uint8Array.from({ length: 100_001 }, (_, i) => (i * 7919) & 0xff);
    let ref = 0;
    for (let i = 0; i < c.length; i += 2) ref += (c[i] << 8) | (c[i + 1] ?? 0);
    while (ref > 0xffff) ref = (ref & 0xffff) + (ref >>> 16);
    expect(sum16(c, 0, c.length)).toBe(ref);
  });

  it('checksumOf is the ones complement of the folded sum', () => {
    expect(checksumOf(0)).toBe(0xffff);
    expect(checksumOf(0xffff)).toBe(0);
    expect(checksumOf(0x479e)).toBe(0xb861);
  });
});

describe('ipv4PseudoSum', () => {
  it('sums source, destination, protocol and length', () => {
    // IPv4 header 10.0.0.1 -> 10.0.0.2 at offset 4.
    const b = new Uint8Array(24);
    b.set(hex('0a000001 0a000002'), 4 + 12);
    expect(ipv4PseudoSum(b, 4, 17, 8)).toBe(0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 8);
    // Folds: 255.255.255.255 both ways.
    b.fill(0xff, 16, 24);
    // ffff*4 folds to ffff; + 6 + ffff = 0x20004, folded 0x0006.
    expect(ipv4PseudoSum(b, 4, 6, 0xffff)).toBe(6);
  });
});

describe('sum16View', () => {
  it('equals sum16 for every offset, length and initial sum (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffff }),
        (bytes, a, b, initial) => {
          const off = bytes.length === 0 ? 0 : a % bytes.length;
          const len = bytes.length - off === 0 ? 0 : b % (bytes.length - off + 1);
          const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          expect(sum16View(view, off, len, initial)).toBe(sum16(bytes, off, len, initial));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('matches the RFC 1071 example through a view at a non-zero byteOffset', () => {
    const backing = hex('aa 0001 f203 f4f5 f6f7');
    const view = new DataView(backing.buffer, 1, 8);
    expect(sum16View(view, 0, 8)).toBe(0xddf2);
  });
});
