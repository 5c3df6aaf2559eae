/**
 * The Internet checksum (RFC 1071) and the IPv4 pseudo-header sum (RFC 768, RFC 9293 3.1),
 * shared by IPv4, ICMP, UDP and TCP. Sums are "folded": integers in 0..0xffff. The sums
 * themselves are in checksum-js.ts (JS) and checksum-wasm.ts (WebAssembly SIMD).
 */
import { fold, sum16Loop, sumWords, type WordViews, wordViewsOf } from './checksum-js.js';
import {
  registerChecksumMemory as registerWasmMemory,
  sharedWasmMemory,
  type WasmMemory,
  type WasmSum,
  wasmChecksumSupported,
  wasmSumFor,
  wasmSumOf,
} from './checksum-wasm.js';

// The byte loop and the previous DataView sum, for benchmarks and tests.
export { sum16DataView, sum16Loop } from './checksum-js.js';
export {
  sharedWasmMemory,
  WASM_PAGE_BYTES,
  type WasmMemory,
  wasmChecksumSupported,
} from './checksum-wasm.js';

/** Thrown by the wire layer's emit functions for a bad argument (a field out of range, a buffer too small). */
export class WireError extends Error {
  override readonly name = 'WireError';
}

/** Throws WireError unless `v` is an integer in 0..max, naming the field. Shared by the emitters. */
export function checkInt(field: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new WireError(`${field} must be an integer from 0 to ${max}; got ${v}`);
  }
}

/** Throws WireError unless b[off .. off+len) lies inside `b`. */
export function checkRoom(what: string, b: Uint8Array, off: number, len: number): void {
  if (!Number.isInteger(off) || off < 0 || off + len > b.length) {
    throw new WireError(`${what} needs ${len} bytes at offset ${off}; the buffer has ${b.length}`);
  }
}

/** Byte offset of the source address in an IPv4 header; the destination follows it (RFC 791). */
const IPV4_SRC = 12;

/** Below this many bytes the byte loop beats finding the buffer's word views or wasm sum. */
const LOOP_MAX = 32;

/** From this many bytes, a buffer outside wasm memory is copied into it for the SIMD sum. */
const COPY_MIN = 512;
/** Bytes copied at a time: the scratch memory holds one chunk at any offset mod 8. */
const COPY_CHUNK = 65536;

// The last buffer summed and how (the stack sums from one or two pools, over and over).
let lastBuffer: ArrayBufferLike | null = null;
let lastWasm: WasmSum | undefined;
let lastWords: WordViews | null = null;

// Where bytes outside wasm memory are copied for the SIMD sum, made on first use: V8 copies a
// SharedArrayBuffer's bytes word by word only into the same offset mod 8 (byte by byte
// otherwise, 4-8 times slower), so each chunk goes to its source's offset mod 8.
let scratch: Uint8Array | null = null;
let scratchSum: WasmSum | null = null;

/** The SIMD sum of bytes [start, start+len) of `u8` through the scratch memory (checksum-wasm.ts: LE, unfolded). */
function copyAndSum(u8: Uint8Array, start: number, len: number): number {
  if (scratch === null) {
    const memory = sharedWasmMemory(COPY_CHUNK + 8);
    scratchSum = memory === null ? null : wasmSumFor(memory);
    scratch = new Uint8Array(memory === null ? new ArrayBuffer(0) : memory.buffer);
  }
  const sum = scratchSum as WasmSum;
  let s = 0;
  // Chunks of an even length keep every later byte at its parity in the range.
  for (let at = start, end = start + len; at < end; at += COPY_CHUNK) {
    const n = Math.min(COPY_CHUNK, end - at);
    const to = at & 7;
    scratch.set(u8.subarray(at, at + n), to);
    s += sum(to, n);
  }
  return s;
}

/** The folded RFC 1071 sum of bytes [start, start+len) of `buffer` (absolute offsets, in range). */
function sumBuffer(buffer: ArrayBufferLike, start: number, len: number, initial: number): number {
  if (buffer !== lastBuffer) {
    lastBuffer = buffer;
    lastWasm = wasmSumOf(buffer);
    lastWords = lastWasm === undefined ? wordViewsOf(buffer) : null;
  }
  let r: number;
  if (lastWasm !== undefined) r = lastWasm(start, len);
  else if (len >= COPY_MIN && wasmChecksumSupported) {
    r = copyAndSum((lastWords as WordViews).u8, start, len);
  } else return fold(sumWords(lastWords as WordViews, start, start + len) + initial);
  // The SIMD sum is of little-endian words from `start`: fold, then swap its bytes.
  r = fold(r);
  return fold((((r & 0xff) << 8) | (r >>> 8)) + initial);
}

/** `sum16View` in JS words only, never wasm (for the benchmark and the tests). */
export function sum16ViewJs(view: DataView, off: number, len: number, initial = 0): number {
  const start = view.byteOffset + off;
  return fold(sumWords(wordViewsOf(view.buffer), start, start + len) + initial);
}

/**
 * Ones' complement sum of bytes[off .. off+len) as big-endian 16-bit words, folded to 16 bits,
 * added to `initial` (a folded sum). An odd last byte is padded with zero. RFC 1071.
 * Over a registered WebAssembly memory (`registerChecksumMemory`) the SIMD sum in place; from
 * 512 bytes elsewhere, a copy into wasm memory and the SIMD sum (still faster than JS); below that
 * 32-bit words in JS; a few bytes, or a range not inside `bytes` (those count 0), the byte loop.
 * Where WebAssembly SIMD is unavailable, JS words.
 */
export function sum16(bytes: Uint8Array, off: number, len: number, initial = 0): number {
  if (
    len < LOOP_MAX ||
    off < 0 ||
    off + len > bytes.length ||
    (off | 0) !== off ||
    (len | 0) !== len
  ) {
    return sum16Loop(bytes, off, len, initial);
  }
  return sumBuffer(bytes.buffer, bytes.byteOffset + off, len, initial);
}

/**
 * `sum16` of the bytes at `off` (relative to the view) of a DataView, as the stack calls it over
 * each pool's bytes. Throws RangeError when the range is not inside the view (or not in whole bytes).
 */
export function sum16View(view: DataView, off: number, len: number, initial = 0): number {
  if (len <= 0) return fold(initial);
  if (off < 0 || off + len > view.byteLength || (off | 0) !== off || (len | 0) !== len) {
    throw new RangeError(
      `sum16View: ${len} bytes at ${off} are outside a ${view.byteLength}-byte view`,
    );
  }
  return sumBuffer(view.buffer, view.byteOffset + off, len, initial);
}

/**
 * Makes `sum16` and `sum16View` over `memory.buffer` use the WebAssembly SIMD sum in this thread
 * (several times the JS sum, and faster than copying the bytes). `memory` must be a shared
 * WebAssembly.Memory (`sharedWasmMemory(bytes)` makes one): carve the pool from `memory.buffer`,
 * and post the memory (not only its buffer) to the threads that sum it, to register there too. Returns false, changing nothing, where
 * WebAssembly SIMD is unavailable; the JS sum is then used.
 */
export function registerChecksumMemory(memory: WasmMemory): boolean {
  lastBuffer = null;
  return registerWasmMemory(memory);
}

/** True when sums over views of `buffer` run in place in WebAssembly (a registered memory). */
export function checksumInPlace(buffer: ArrayBufferLike): boolean {
  return wasmSumOf(buffer) !== undefined;
}

/** The checksum field value for a folded sum: (~sum) & 0xffff. */
export function checksumOf(sum: number): number {
  return ~sum & 0xffff;
}

/** The folded sum of the IPv4 pseudo-header (RFC 768/9293: source, destination, zero, protocol, L4 length) for the IPv4 header at ipOff. */
export function ipv4PseudoSum(
  bytes: Uint8Array,
  ipOff: number,
  protocol: number,
  l4Length: number,
): number {
  return fold(sum16Loop(bytes, ipOff + IPV4_SRC, 8) + (protocol & 0xff) + (l4Length & 0xffff));
}
