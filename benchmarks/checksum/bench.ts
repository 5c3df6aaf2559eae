// pnpm bench checksum: GB/s of the RFC 1071 sum as the stack runs it (sum16View over a pool's
// bytes, packages/net/src/wire/checksum.ts) against TypedArray.set of the same bytes (a memory
// copy: what "memory speed" means in JS). The bytes are the L4 payloads of the mbufs of a real
// PktmbufPool, at the offset the stack sums (mtod + 34: Ethernet and IPv4 headers before), in
// 1460-byte segments, 9000-byte jumbo frames and 64 KiB GSO frames, plus an odd offset and odd
// lengths. Each implementation is its own series:
//   wasm      sum16View over a pool whose SharedArrayBuffer is a shared WebAssembly.Memory's
//             buffer, registered with registerChecksumMemory: the SIMD sum in place.
//   js        sum16ViewJs over a pool in a plain SharedArrayBuffer: 32-bit words through a
//             Uint32Array, carries folded once (what sum16View does where wasm SIMD is missing).
//   dataview  the previous sum16View: big-endian DataView.getUint32 per 4 bytes.
//   loop      the byte loop (sum16 below 32 bytes).
//   wasmcopy  sum16View over a pool in a plain SharedArrayBuffer (today's EAL memory): from 512
//             bytes it copies them into wasm memory (same offset mod 8) for the SIMD sum.
//   set       the baseline: Uint8Array.set of the same bytes into an ArrayBuffer at the same
//             offset mod 8 (V8 copies out of a SharedArrayBuffer with relaxed atomics: word by
//             word when source and target are mutually aligned, else byte by byte).
//   setmis    the same copy to offset 0, not word-aligned with the source: V8's byte path.
//   setab     the same bytes copied between plain ArrayBuffers: memcpy, for reference.
import { availableParallelism } from 'node:os';
import { runBenchmark, type Series } from '@bypass/bench-harness';
import { PktmbufPool } from '@bypass/mempool';
import {
  ETH_HEADER_LEN,
  IPV4_MIN_HEADER_LEN,
  registerChecksumMemory,
  sharedWasmMemory,
  sum16,
  sum16DataView,
  sum16Loop,
  sum16View,
  sum16ViewJs,
  wasmChecksumSupported,
} from '@bypass/net';

const quickMode = process.argv.includes('--quick');
const durationMs = (quick: boolean) => (quick ? 40 : 250);

/** Mbufs cycled through per case: the working set is MBUFS * len (146 KB to 4 MiB). */
const MBUFS = 64;
/** Ethernet + IPv4 headers: the stack sums the TCP segment at mtod + 34 (2 mod 4). */
const L4_OFFSET = ETH_HEADER_LEN + IPV4_MIN_HEADER_LEN;

interface Case {
  name: string;
  len: number;
  /** Added to the L4 offset: 1 makes the start odd. */
  skew: number;
}
const CASES: Case[] = [
  { name: '1460', len: 1460, skew: 0 },
  { name: '1461-odd', len: 1461, skew: 1 },
  { name: '9000', len: 9000, skew: 0 },
  { name: '64k', len: 65536, skew: 0 },
  { name: '64k-odd', len: 65535, skew: 1 },
];
const HEADLINE = CASES[0];

interface Pool {
  pool: PktmbufPool;
  view: DataView;
  /** Where each mbuf's L4 bytes start in pool.data. */
  starts: number[];
}

let poolIds = 1;
/** A pool of MBUFS mbufs with room for `len` bytes after the headers, filled with noise. */
function makePool(len: number, skew: number, inWasm: boolean): Pool {
  const options = { n: MBUFS, cacheSize: 0, dataRoomSize: len + 128, poolId: poolIds++ };
  const bytes = PktmbufPool.bytesFor(options);
  let sab: SharedArrayBuffer;
  if (inWasm) {
    const memory = sharedWasmMemory(bytes);
    if (memory === null || !registerChecksumMemory(memory)) {
      throw new Error('WebAssembly SIMD is unavailable');
    }
    sab = memory.buffer as SharedArrayBuffer;
  } else {
    sab = new SharedArrayBuffer(bytes);
  }
  const pool = PktmbufPool.create(sab, 0, options);
  const starts: number[] = [];
  for (let i = 0; i < MBUFS; i++) starts.push(pool.mtod(pool.alloc()) + L4_OFFSET + skew);
  let x = 0x12345678;
  for (const s of starts) {
    for (let i = 0; i < len; i++) {
      x = (Math.imul(x, 1103515245) + 12345) | 0;
      pool.data[s + i] = x >>> 24;
    }
  }
  const view = new DataView(pool.data.buffer, pool.data.byteOffset, pool.data.byteLength);
  return { pool, view, starts };
}

/** Runs `fn` over the mbufs for `ms` milliseconds; GB/s. `sink` keeps the results alive. */
let sink = 0;
function measure(p: Pool, len: number, ms: number, fn: (p: Pool, start: number) => number) {
  const starts = p.starts;
  let bytes = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    for (let i = 0; i < MBUFS; i++) sink += fn(p, starts[i]);
    bytes += MBUFS * len;
    t = performance.now();
  } while (t - t0 < ms);
  return bytes / ((t - t0) * 1e6);
}

const copyTarget = new Uint8Array(new ArrayBuffer(131072));

function seriesFor(c: Case): { set: Series; wasm: Series; others: Series[] } {
  const plain = makePool(c.len, c.skew, false);
  const wasm = makePool(c.len, c.skew, true);
  const len = c.len;
  const plainCopy = new Uint8Array(plain.pool.data);
  // Every implementation must agree on every mbuf before anything is timed.
  for (let i = 0; i < MBUFS; i++) {
    const s = plain.starts[i];
    const want = sum16Loop(plain.pool.data, s, len);
    const got = [
      sum16View(plain.view, s, len),
      sum16View(wasm.view, wasm.starts[i], len),
      sum16DataView(plain.view, s, len),
    ];
    got.push(sum16ViewJs(plain.view, s, len), sum16(plain.pool.data, s, len));
    if (got.some((g) => g !== want)) {
      throw new Error(`checksum ${c.name}: mbuf ${i}: ${got.join(', ')} against ${want}`);
    }
  }
  const at = `${len} B at mtod + ${L4_OFFSET + c.skew} of each of ${MBUFS} mbufs`;
  const one = (name: string, describe: string, fn: (p: Pool, s: number) => number, p = plain) => ({
    name: `${name}-${c.name}`,
    describe: `${describe}, ${at}`,
    run: (quick: boolean) => measure(p, len, durationMs(quick), fn),
  });
  return {
    set: one(
      'set',
      'Uint8Array.set of the bytes into an ArrayBuffer at the same offset mod 8 (V8 copies word by word)',
      (p, s) => {
        copyTarget.set(p.pool.data.subarray(s, s + len), s & 7);
        return 0;
      },
    ),
    wasm: one(
      'wasm',
      'sum16View, pool in a registered shared WebAssembly.Memory: SIMD sum in place',
      (p, s) => sum16View(p.view, s, len),
      wasm,
    ),
    others: [
      one(
        'setmis',
        'Uint8Array.set of the bytes into an ArrayBuffer at offset 0, not word-aligned with them (V8 copies from a SharedArrayBuffer byte by byte then)',
        (p, s) => {
          copyTarget.set(p.pool.data.subarray(s, s + len), 0);
          return 0;
        },
      ),
      one(
        'setab',
        'Uint8Array.set of the same bytes held in a plain ArrayBuffer into another, same offset mod 8 (memcpy)',
        (_p, s) => {
          copyTarget.set(plainCopy.subarray(s, s + len), s & 7);
          return 0;
        },
      ),
      one('js', 'sum16ViewJs, pool in a plain SharedArrayBuffer: JS 32-bit words', (p, s) =>
        sum16ViewJs(p.view, s, len),
      ),
      one('dataview', 'the previous sum16View: DataView.getUint32 per 4 bytes', (p, s) =>
        sum16DataView(p.view, s, len),
      ),
      one('loop', 'the byte loop (sum16Loop)', (p, s) => sum16Loop(p.pool.data, s, len)),
      one(
        'wasmcopy',
        'sum16View, pool in a plain SharedArrayBuffer: copied into wasm memory (same offset mod 8), SIMD sum there',
        (p, s) => sum16View(p.view, s, len),
      ),
    ],
  };
}

if (!wasmChecksumSupported) {
  console.log('# WebAssembly SIMD is unavailable here: the wasm series measure the JS fallback');
}
const all = CASES.map((c) => ({ c, s: seriesFor(c) }));
const headline = all.find((x) => x.c === HEADLINE);
if (headline === undefined) throw new Error('no headline case');

await runBenchmark({
  bench: 'checksum',
  metric: 'GB/s',
  params: {
    cases: CASES,
    headline: HEADLINE.name,
    mbufs: MBUFS,
    l4Offset: L4_OFFSET,
    durationMs: durationMs(quickMode),
    wasmChecksumSupported,
    cpus: availableParallelism(),
    counted: 'bytes summed (or copied) in the window / window length, one thread',
  },
  subject: headline.s.wasm,
  baseline: headline.s.set,
  others: all.flatMap(({ c, s }) => [...(c === HEADLINE ? [] : [s.wasm, s.set]), ...s.others]),
});
if (sink === -1) console.log(sink);
