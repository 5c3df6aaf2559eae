/**
 * The Internet checksum (RFC 1071) in WebAssembly SIMD: 16-byte v128 loads, pairs of 16-bit
 * lanes added into 32-bit lanes (i32x4.extadd_pairwise_i16x8_u), widened to 64-bit lanes every
 * 256 KiB, carries folded once at the end. The module is assembled by hand below (no toolchain,
 * no dependency) and compiled synchronously at import; `wasmChecksumSupported` is false where
 * WebAssembly, SIMD or shared memories are missing, and the callers then use the JS sum.
 *
 * A wasm module reads only its own linear memory, so it sums a buffer only when that buffer IS
 * a WebAssembly.Memory's (`registerChecksumMemory`): a pool carved from a shared
 * WebAssembly.Memory (whose .buffer is a SharedArrayBuffer) is summed in place (21-46 GB/s in
 * `pnpm bench checksum`); bytes anywhere else are copied into a scratch wasm memory first
 * (checksum.ts: 8-16 GB/s, still 1.6-2.4 times the JS sum).
 *
 * The function sums little-endian 16-bit words from `p` (so the first byte weighs 1, not 256 as
 * in RFC 1071) and returns that sum folded to at most 0x10000 (0 only when every byte is 0); the
 * caller folds once more and swaps its bytes (RFC 1071 section 2: byte order independence).
 *
 * (module
 *   (import "e" "m" (memory 0 65536 shared))
 *   (func (export "sum") (param $p i32) (param $n i32) (result i32)
 *     (local $end i32) (local $stop i32) (local $a v128) (local $b v128) (local $w v128)
 *     (local $s i64)
 *     (local.set $end (i32.add (local.get $p) (local.get $n)))
 *     ;; 64-byte blocks, in chunks of at most 256 KiB: a 32-bit lane gains at most
 *     ;; 2 * 0x1fffe per block, so 4096 blocks stay below 2^31.
 *     (block $done64
 *       (loop $chunk
 *         (br_if $done64 (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 64)))
 *         (local.set $stop (i32.add (local.get $p)
 *           (i32.and
 *             (select (i32.const 262144) (i32.sub (local.get $end) (local.get $p))
 *               (i32.gt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 262144)))
 *             (i32.const -64))))
 *         (local.set $a (v128.const i64x2 0 0))
 *         (local.set $b (v128.const i64x2 0 0))
 *         (loop $block
 *           (local.set $a (i32x4.add (local.get $a)
 *             (i32x4.extadd_pairwise_i16x8_u (v128.load offset=0 align=1 (local.get $p)))))
 *           (local.set $b (i32x4.add (local.get $b)
 *             (i32x4.extadd_pairwise_i16x8_u (v128.load offset=16 align=1 (local.get $p)))))
 *           (local.set $a (i32x4.add (local.get $a)
 *             (i32x4.extadd_pairwise_i16x8_u (v128.load offset=32 align=1 (local.get $p)))))
 *           (local.set $b (i32x4.add (local.get $b)
 *             (i32x4.extadd_pairwise_i16x8_u (v128.load offset=48 align=1 (local.get $p)))))
 *           (br_if $block (i32.lt_u
 *             (local.tee $p (i32.add (local.get $p) (i32.const 64))) (local.get $stop))))
 *         (local.set $w (i64x2.add (i64x2.add (i64x2.add (i64x2.add (local.get $w)
 *           (i64x2.extend_low_i32x4_u (local.get $a))) (i64x2.extend_high_i32x4_u (local.get $a)))
 *           (i64x2.extend_low_i32x4_u (local.get $b))) (i64x2.extend_high_i32x4_u (local.get $b))))
 *         (br $chunk)))
 *     ;; 16-byte blocks (at most 3).
 *     (local.set $a (v128.const i64x2 0 0))
 *     (block $done16
 *       (loop $l16
 *         (br_if $done16 (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 16)))
 *         (local.set $a (i32x4.add (local.get $a)
 *           (i32x4.extadd_pairwise_i16x8_u (v128.load align=1 (local.get $p)))))
 *         (local.set $p (i32.add (local.get $p) (i32.const 16)))
 *         (br $l16)))
 *     (local.set $w (i64x2.add (i64x2.add (local.get $w)
 *       (i64x2.extend_low_i32x4_u (local.get $a))) (i64x2.extend_high_i32x4_u (local.get $a))))
 *     (local.set $s (i64.add (i64x2.extract_lane 0 (local.get $w))
 *       (i64x2.extract_lane 1 (local.get $w))))
 *     ;; 16-bit words (at most 7), then an odd last byte.
 *     (block $done2
 *       (loop $l2
 *         (br_if $done2 (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 2)))
 *         (local.set $s (i64.add (local.get $s) (i64.load16_u align=1 (local.get $p))))
 *         (local.set $p (i32.add (local.get $p) (i32.const 2)))
 *         (br $l2)))
 *     (if (i32.lt_u (local.get $p) (local.get $end))
 *       (then (local.set $s (i64.add (local.get $s) (i64.load8_u (local.get $p))))))
 *     ;; Four folds take any 64-bit sum to at most 0x10000.
 *     (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff))
 *       (i64.shr_u (local.get $s) (i64.const 16))))          ;; three more times
 *     (i32.wrap_i64 (local.get $s))))
 */

// Opcodes (WebAssembly core spec 5.4; SIMD after the 0xfd prefix, LEB128-encoded).
const BLOCK = 0x02;
const LOOP = 0x03;
const IF = 0x04;
const VOID = 0x40;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const SELECT = 0x1b;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I64_LOAD8_U = 0x31;
const I64_LOAD16_U = 0x33;
const I32_CONST = 0x41;
const I64_CONST = 0x42;
const I32_LT_U = 0x49;
const I32_GT_U = 0x4b;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_AND = 0x71;
const I64_ADD = 0x7c;
const I64_AND = 0x83;
const I64_SHR_U = 0x88;
const I32_WRAP_I64 = 0xa7;
const SIMD = 0xfd;
const V128_LOAD = 0x00;
const V128_CONST = 0x0c;
const I64X2_EXTRACT_LANE = 0x1d;
const I32X4_EXTADD_PAIRWISE_I16X8_U = 0x7f;
const I32X4_ADD = 0xae;
const I64X2_EXTEND_LOW_I32X4_U = 0xc9;
const I64X2_EXTEND_HIGH_I32X4_U = 0xca;
const I64X2_ADD = 0xce;
const T_I32 = 0x7f;
const T_I64 = 0x7e;
const T_V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const simd = (op: number) => [SIMD, ...uleb(op)];
const get = (l: number) => [LOCAL_GET, l];
const set = (l: number) => [LOCAL_SET, l];
const i32 = (v: number) => [I32_CONST, ...sleb(v)];
const i64 = (v: number) => [I64_CONST, ...sleb(v)];
/** memarg: alignment exponent 0 (any address), then the offset. */
const load = (offset: number) => [...simd(V128_LOAD), 0, ...uleb(offset)];
const zero = [...simd(V128_CONST), ...new Array(16).fill(0)];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

// Locals: the two parameters, then $end $stop (i32), $a $b $w (v128), $s (i64).
const P = 0;
const N = 1;
const E = 2;
const STOP = 3;
const A = 4;
const B = 5;
const W = 6;
const S = 7;
const CHUNK_BYTES = 262144;

/** (i32.sub (local.get $end) (local.get $p)): the bytes left. */
const left = [...get(E), ...get(P), I32_SUB];
/** acc = i32x4.add(acc, extadd_pairwise_u(v128.load offset=o ($p))). */
const addBlock = (acc: number, o: number) => [
  ...get(acc),
  ...get(P),
  ...load(o),
  ...simd(I32X4_EXTADD_PAIRWISE_I16X8_U),
  ...simd(I32X4_ADD),
  ...set(acc),
];
/** $w += both halves of `acc`, widened to 64-bit lanes. */
const widen = (acc: number) => [
  ...get(acc),
  ...simd(I64X2_EXTEND_LOW_I32X4_U),
  ...simd(I64X2_ADD),
  ...get(acc),
  ...simd(I64X2_EXTEND_HIGH_I32X4_U),
  ...simd(I64X2_ADD),
];
const fold16 = [...get(S), ...i64(0xffff), I64_AND, ...get(S), ...i64(16), I64_SHR_U, I64_ADD];

const body = [
  ...get(P),
  ...get(N),
  I32_ADD,
  ...set(E),
  // 64-byte blocks in chunks of at most CHUNK_BYTES.
  BLOCK,
  VOID,
  LOOP,
  VOID,
  ...left,
  ...i32(64),
  I32_LT_U,
  BR_IF,
  1,
  ...get(P),
  ...i32(CHUNK_BYTES),
  ...left,
  ...left,
  ...i32(CHUNK_BYTES),
  I32_GT_U,
  SELECT,
  ...i32(-64),
  I32_AND,
  I32_ADD,
  ...set(STOP),
  ...zero,
  ...set(A),
  ...zero,
  ...set(B),
  LOOP,
  VOID,
  ...addBlock(A, 0),
  ...addBlock(B, 16),
  ...addBlock(A, 32),
  ...addBlock(B, 48),
  ...get(P),
  ...i32(64),
  I32_ADD,
  LOCAL_TEE,
  P,
  ...get(STOP),
  I32_LT_U,
  BR_IF,
  0,
  END,
  ...get(W),
  ...widen(A),
  ...widen(B),
  ...set(W),
  BR,
  0,
  END,
  END,
  // 16-byte blocks.
  ...zero,
  ...set(A),
  BLOCK,
  VOID,
  LOOP,
  VOID,
  ...left,
  ...i32(16),
  I32_LT_U,
  BR_IF,
  1,
  ...addBlock(A, 0),
  ...get(P),
  ...i32(16),
  I32_ADD,
  ...set(P),
  BR,
  0,
  END,
  END,
  ...get(W),
  ...widen(A),
  ...set(W),
  ...get(W),
  ...simd(I64X2_EXTRACT_LANE),
  0,
  ...get(W),
  ...simd(I64X2_EXTRACT_LANE),
  1,
  I64_ADD,
  ...set(S),
  // 16-bit words, then the odd byte.
  BLOCK,
  VOID,
  LOOP,
  VOID,
  ...left,
  ...i32(2),
  I32_LT_U,
  BR_IF,
  1,
  ...get(S),
  ...get(P),
  I64_LOAD16_U,
  0,
  0,
  I64_ADD,
  ...set(S),
  ...get(P),
  ...i32(2),
  I32_ADD,
  ...set(P),
  BR,
  0,
  END,
  END,
  ...get(P),
  ...get(E),
  I32_LT_U,
  IF,
  VOID,
  ...get(S),
  ...get(P),
  I64_LOAD8_U,
  0,
  0,
  I64_ADD,
  ...set(S),
  END,
  ...fold16,
  ...set(S),
  ...fold16,
  ...set(S),
  ...fold16,
  ...set(S),
  ...fold16,
  I32_WRAP_I64,
  END,
];

const locals = vec([
  [2, T_I32],
  [3, T_V128],
  [1, T_I64],
]);
const code = [...locals, ...body];

/** The module's bytes (exported for the tests, which check that it validates). */
export const CHECKSUM_WASM = Uint8Array.from([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  // type 0: (func (param i32 i32) (result i32))
  ...section(1, vec([[0x60, ...vec([[T_I32], [T_I32]]), ...vec([[T_I32]])]])),
  // import "e" "m": memory, limits flags 3 (maximum given, shared), 0 to 65536 pages
  ...section(2, vec([[...name('e'), ...name('m'), 0x02, 0x03, ...uleb(0), ...uleb(65536)]])),
  ...section(3, vec([[0]])),
  ...section(7, vec([[...name('sum'), 0x00, 0]])),
  ...section(10, vec([[...uleb(code.length), ...code]])),
]);

/** Sums `n` bytes at `p` of one wasm memory as described at the top; see `wasmSumFor`. */
export type WasmSum = (p: number, n: number) => number;

/** A WebAssembly.Memory, as far as this file uses one. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}

/** The parts of the WebAssembly JS API used here: Node has them; TypeScript's ES libs do not. */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}

const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

function compile(): object | null {
  try {
    return api === undefined ? null : new api.Module(CHECKSUM_WASM);
  } catch {
    // No SIMD (or no threads): WebAssembly.Module rejects the v128 opcodes or the shared memory.
    return null;
  }
}

const module = compile();

/** True where this runtime compiles the SIMD checksum (Node 16.4+ does). */
export const wasmChecksumSupported = module !== null;

/** Bytes in a WebAssembly page, and the most pages a 32-bit memory has. */
export const WASM_PAGE_BYTES = 65536;
const MAX_PAGES = 65536;

/**
 * A shared WebAssembly.Memory of at least `bytes` (rounded up to 64 KiB pages, at most 4 GiB),
 * whose `.buffer` is a SharedArrayBuffer to carve pools from (the EAL's memzones live in one).
 * Null where wasm SIMD is unavailable, `bytes` is out of range or the address space cannot be
 * had: use a plain SharedArrayBuffer then. Not registered (see registerChecksumMemory in
 * checksum.ts).
 */
export function sharedWasmMemory(bytes: number): WasmMemory | null {
  const pages = Math.ceil(bytes / WASM_PAGE_BYTES);
  if (api === undefined || module === null || !(pages >= 1 && pages <= MAX_PAGES)) return null;
  try {
    const m = new api.Memory({ initial: pages, maximum: pages, shared: true });
    return m.buffer instanceof SharedArrayBuffer ? m : null;
  } catch {
    return null; // RangeError: no room for that much address space
  }
}

const sums = new WeakMap<ArrayBufferLike, WasmSum>();

/**
 * The SIMD sum over `memory` (a shared WebAssembly.Memory), or null where wasm is unsupported.
 * Throws WebAssembly.LinkError for a memory that is not shared.
 */
export function wasmSumFor(memory: WasmMemory): WasmSum | null {
  if (api === undefined || module === null) return null;
  const instance = new api.Instance(module, { e: { m: memory } });
  return instance.exports.sum as WasmSum;
}

/**
 * Makes the checksum functions sum views over `memory.buffer` with the SIMD module, in this
 * thread. `memory` must be shared (created with `shared: true`, or received from another
 * thread). Returns false, and changes nothing, where wasm SIMD is unsupported. A memory that
 * grows gets a new buffer: register it again.
 */
export function registerChecksumMemory(memory: WasmMemory): boolean {
  const buffer = memory.buffer;
  if (sums.has(buffer)) return true;
  const sum = wasmSumFor(memory);
  if (sum === null) return false;
  sums.set(buffer, sum);
  return true;
}

/** The registered SIMD sum for views over `buffer`, or undefined. */
export function wasmSumOf(buffer: ArrayBufferLike): WasmSum | undefined {
  return sums.get(buffer);
}
