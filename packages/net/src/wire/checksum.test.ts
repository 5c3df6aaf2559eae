import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checksumOf,
  ipv4PseudoSum,
  registerChecksumMemory,
  sum16,
  sum16View,
  sum16ViewJs,
  wasmChecksumSupported,
} from './checksum.js';
import { sum16DataView, sum16Loop, sumWords, wordViewsOf } from './checksum-js.js';
import { CHECKSUM_WASM, sharedWasmMemory, type WasmMemory, wasmSumFor } from './checksum-wasm.js';

/** WebAssembly's JS API, which TypeScript's ES libs do not declare. */
const wasmApi = (
  globalThis as unknown as {
    WebAssembly: {
      validate(bytes: Uint8Array): boolean;
      Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
      LinkError: new () => Error;
    };
  }
).WebAssembly;

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** RFC 1071 as written: big-endian 16-bit words, an odd byte padded, carries folded at the end. */
function reference(b: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < len; i += 2) sum += (b[off + i] << 8) + (i + 1 < len ? b[off + i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** Room for the largest property case plus the misalignments tried. */
const ROOM = 70_000 + 64;

// Every implementation, given the bytes at some absolute offset (`base`) of its own buffer, so
// that each alignment of the start and the end is tried.
type Impl = (
  content: Uint8Array,
  base: number,
  off: number,
  len: number,
  initial: number,
) => number;

function inPlain(content: Uint8Array, base: number): Uint8Array {
  const b = new Uint8Array(new SharedArrayBuffer(ROOM), base, content.length);
  b.set(content);
  return b;
}

/** A shared memory of two pages (the tests need 70 KB). */
function twoPages(): WasmMemory {
  const m = sharedWasmMemory(2 * 65536);
  if (m === null) throw new Error('WebAssembly SIMD is unavailable');
  return m;
}
const wasmMemory = twoPages();
const registered = registerChecksumMemory(wasmMemory);
const wasmBytes = new Uint8Array(wasmMemory.buffer);
function inWasm(content: Uint8Array, base: number): Uint8Array {
  // Garbage around the range: a sum must never reach outside it.
  wasmBytes.fill(0xa5);
  const b = wasmBytes.subarray(base, base + content.length);
  b.set(content);
  return b;
}
/** The module alone, over a memory of its own (not registered). */
const rawMemory = twoPages();
const rawWasm = wasmSumFor(rawMemory);
const rawBytes = new Uint8Array(rawMemory.buffer);

const swapFold = (r: number) => {
  while (r > 0xffff) r = (r & 0xffff) + (r >>> 16);
  return ((r & 0xff) << 8) | (r >>> 8);
};
const addFold = (a: number, b: number) => {
  let s = a + b;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
};

const impls: [string, Impl][] = [
  ['sum16Loop', (c, _base, off, len, init) => sum16Loop(c, off, len, init)],
  ['sum16 (plain buffer)', (c, base, off, len, init) => sum16(inPlain(c, base), off, len, init)],
  [
    'sum16View (plain buffer)',
    (c, base, off, len, init) => {
      const b = inPlain(c, base);
      return sum16View(new DataView(b.buffer, b.byteOffset, b.byteLength), off, len, init);
    },
  ],
  [
    'sum16ViewJs',
    (c, base, off, len, init) => {
      const b = inPlain(c, base);
      return sum16ViewJs(new DataView(b.buffer, b.byteOffset, b.byteLength), off, len, init);
    },
  ],
  [
    'sumWords',
    (c, base, off, len, init) => {
      const b = inPlain(c, base);
      const start = base + off;
      return addFold(sumWords(wordViewsOf(b.buffer), start, start + len), init);
    },
  ],
  [
    'sum16DataView (previous)',
    (c, _base, off, len, init) =>
      sum16DataView(new DataView(c.buffer, c.byteOffset), off, len, init),
  ],
  ['sum16 (wasm memory)', (c, base, off, len, init) => sum16(inWasm(c, base), off, len, init)],
  [
    'sum16View (wasm memory)',
    (c, base, off, len, init) => {
      const b = inWasm(c, base);
      return sum16View(new DataView(b.buffer, b.byteOffset, b.byteLength), off, len, init);
    },
  ],
  [
    'wasm sum',
    (c, base, off, len, init) => {
      if (rawWasm === null) throw new Error('WebAssembly SIMD is unavailable');
      rawBytes.fill(0x5a);
      rawBytes.set(c, base);
      return addFold(swapFold(rawWasm(base + off, len)), init);
    },
  ],
];

describe('WebAssembly SIMD checksum', () => {
  it('compiles and registers on this Node (SIMD and shared memories are in Node >= 16.4)', () => {
    expect(wasmChecksumSupported).toBe(true);
    expect(wasmApi.validate(CHECKSUM_WASM)).toBe(true);
    expect(registered).toBe(true);
    expect(rawWasm).not.toBeNull();
  });

  it('links only to a shared memory', () => {
    const plain = new wasmApi.Memory({ initial: 1, maximum: 1 });
    expect(() => wasmSumFor(plain)).toThrow(wasmApi.LinkError);
  });
});

const RFC1071 = hex('0001 f203 f4f5 f6f7');
/** The IPv4 header of ipv4.test.ts, its checksum b861 in place. */
const IPV4_CLASSIC = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
/** A Linux-shaped SYN (script.test.ts): IPv4 header and TCP header with options, checksums zero. */
const SYN = hex(
  '4500 003c 0000 4000 40 06 0000 0a000002 0a000001' +
    '9c40 1f90 10000000 00000000 a0 02 ffff 0000 0000' +
    '020405b4 0402 080a0000006400000000 01 030307',
);
/** The checksums of SYN, from an independent (Python) RFC 1071 sum. */
const SYN_IP_CHECKSUM = 0x26ba;
const SYN_TCP_CHECKSUM = 0x67c9;

describe.each(impls)('%s', (_name, impl) => {
  const at = (c: Uint8Array, off = 0, len = c.length - off, init = 0, base = 0) =>
    impl(c, base, off, len, init);

  it('matches the RFC 1071 section 3 example at every alignment', () => {
    // 0001 + f203 + f4f5 + f6f7 = 2ddf0, folded ddf2.
    for (let base = 0; base < 8; base++) expect(at(RFC1071, 0, 8, 0, base)).toBe(0xddf2);
    expect(checksumOf(0xddf2)).toBe(0x220d);
  });

  it('verifies the classic IPv4 header and the SYN (IP and TCP checksums)', () => {
    for (let base = 0; base < 8; base++) {
      expect(at(IPV4_CLASSIC, 0, 20, 0, base)).toBe(0xffff);
      const syn = SYN.slice();
      expect(checksumOf(at(syn, 0, 20, 0, base))).toBe(SYN_IP_CHECKSUM);
      const pseudo = ipv4PseudoSum(syn, 0, 6, 40);
      expect(checksumOf(at(syn, 20, 40, pseudo, base))).toBe(SYN_TCP_CHECKSUM);
      syn[10] = SYN_IP_CHECKSUM >> 8;
      syn[11] = SYN_IP_CHECKSUM & 0xff;
      syn[36] = SYN_TCP_CHECKSUM >> 8;
      syn[37] = SYN_TCP_CHECKSUM & 0xff;
      expect(at(syn, 0, 20, 0, base)).toBe(0xffff);
      expect(at(syn, 20, 40, pseudo, base)).toBe(0xffff);
    }
  });

  it('pads an odd last byte with zero and honours off, len and initial', () => {
    const b = hex('ff ff 12 34 56 ff');
    expect(at(b, 2, 3)).toBe(0x1234 + 0x5600);
    expect(at(b, 2, 0)).toBe(0);
    expect(at(b, 2, 0, 0x1234)).toBe(0x1234);
    expect(at(b, 1, 1, 0, 3)).toBe(0xff00);
  });

  it('keeps 0 (all zero) apart from 0xffff (a nonzero multiple of 0xffff)', () => {
    expect(at(new Uint8Array(70_000))).toBe(0);
    expect(at(new Uint8Array(70_000).fill(0xff), 0, 70_000, 0, 1)).toBe(0xffff);
    expect(at(new Uint8Array(70_000).fill(0xff), 3, 69_996, 0, 2)).toBe(0xffff);
    expect(at(new Uint8Array(70_000).fill(0xff), 3, 69_997, 0, 2)).toBe(0xff00);
    expect(at(hex('ff ff'), 0, 2, 0xffff)).toBe(0xffff);
    expect(at(new Uint8Array(64), 0, 64, 0)).toBe(0);
  });

  it('folds large inputs: 64 KiB and odd lengths past the chunk boundaries', () => {
    const c = Uint8Array.from({ length: 70_001 }, (_, i) => (i * 7919) & 0xff);
    for (const len of [65_536, 65_535, 70_001, 9000, 1460, 1461]) {
      for (const base of [0, 1, 2, 3]) expect(at(c, 0, len, 0, base)).toBe(reference(c, 0, len));
    }
  });

  it('equals the reference for random bytes, lengths 0..70000, offsets, initial sums (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 70_000 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 63 }),
        (bytes, a, b, initial, base) => {
          const off = bytes.length === 0 ? 0 : a % bytes.length;
          const len = b % (bytes.length - off + 1);
          expect(at(bytes, off, len, initial, base)).toBe(reference(bytes, off, len, initial));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('equals the reference on short and packet-sized ranges at every alignment (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 15 }),
        (bytes, a, b, initial, base) => {
          const off = bytes.length === 0 ? 0 : a % bytes.length;
          const len = b % (bytes.length - off + 1);
          expect(at(bytes, off, len, initial, base)).toBe(reference(bytes, off, len, initial));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('sum16 and sum16View', () => {
  it('sum16 counts bytes outside the array as 0, as the byte loop always has', () => {
    const b = hex('12 34 56');
    expect(sum16(b, 1, 4)).toBe(0x3456);
    const big = new Uint8Array(100).fill(1);
    expect(sum16(big, 90, 20)).toBe(5 * 0x0101);
  });

  it('sum16View throws RangeError outside the view, returns the initial sum for nothing', () => {
    const v = new DataView(new ArrayBuffer(100), 10, 50);
    expect(() => sum16View(v, 40, 11)).toThrow(RangeError);
    expect(() => sum16View(v, -1, 4)).toThrow(RangeError);
    expect(sum16View(v, 60, 0, 0x1234)).toBe(0x1234);
  });

  it('a view at a non-zero byteOffset sums its own bytes, not the buffer start', () => {
    const backing = hex('aa 0001 f203 f4f5 f6f7');
    expect(sum16View(new DataView(backing.buffer, 1, 8), 0, 8)).toBe(0xddf2);
  });

  it('chains through `initial` as if the ranges were one', () => {
    const b = new Uint8Array(5000).map((_, i) => (i * 31) & 0xff);
    expect(sum16(b, 1000, 3000, sum16(b, 0, 1000))).toBe(sum16(b, 0, 4000));
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

describe('checksumOf', () => {
  it('is the ones complement of the folded sum', () => {
    expect(checksumOf(0)).toBe(0xffff);
    expect(checksumOf(0xffff)).toBe(0);
    expect(checksumOf(0x479e)).toBe(0xb861);
  });
});
