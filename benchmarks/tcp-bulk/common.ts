// What every side of `pnpm bench tcp-bulk` shares: the shape of one transfer (options in, result
// out), the byte stream both sides send, and checks of a result. The subject (our TCP stack) and
// the baseline (node:net) are both functions of type BulkFn, so the bench can interleave them.
import { createHash } from 'node:crypto';

export interface BulkOptions {
  /** Bytes to move over the one connection, after the warm-up. */
  bytes: number;
  /** Bytes moved first over the same connection and not timed (default 0): each transfer runs
   * on fresh threads, so without it a short transfer measures V8 compiling the hot paths. */
  warmupBytes?: number;
  /** Bytes per write() call on the sending side (default DEFAULT_CHUNK). */
  chunk?: number;
  /** Also hash what the receiver got (sha256, hex): off by default, as hashing costs CPU on the
   * receiving thread that the timing would include. */
  sha?: boolean;
}

export interface BulkResult {
  /** From the receiver holding the warm-up's last byte (without a warm-up: the sender's
   * 'connect') to the receiver holding the last byte. */
  seconds: number;
  /** bytes * 8 / seconds / 1e9. */
  gbps: number;
  /** Bytes the receiver counted (equal to the bytes asked for). */
  bytes: number;
  /** sha256 (hex) of the received stream, when asked for. */
  sha?: string;
}

/** One transfer: what the subject and the baseline both are. */
export type BulkFn = (opts: BulkOptions) => Promise<BulkResult>;

/** 1 MiB per write. node:net's best on this machine (1 GiB over loopback, 5 runs each, median
 * Gbit/s: 64 KiB 12.5, 256 KiB 18.1, 1 MiB 22.3, 4 MiB 21.1): the baseline is not tuned down. */
export const DEFAULT_CHUNK = 1 << 20;

/**
 * The stream: byte at offset i is i & 0xff. patternBuffer(chunk) holds chunk + 255 such bytes,
 * so the write starting at stream offset `off` is buf.subarray(off & 0xff, (off & 0xff) + n) for
 * any n <= chunk: one buffer, built once, for the whole stream, whatever the chunk size.
 */
export function patternBuffer(chunk: number): Buffer {
  const b = Buffer.allocUnsafe(chunk + 255);
  for (let i = 0; i < b.length; i++) b[i] = i & 0xff;
  return b;
}

/** sha256 (hex) of the first `bytes` bytes of the stream, to check a result's `sha`. */
export function expectedSha256(bytes: number, chunk = 1 << 20): string {
  const h = createHash('sha256');
  const buf = patternBuffer(chunk);
  for (let off = 0; off < bytes; ) {
    const n = Math.min(chunk, bytes - off);
    const s = off & 0xff;
    h.update(buf.subarray(s, s + n));
    off += n;
  }
  return h.digest('hex');
}

export function checkOptions(opts: BulkOptions): { bytes: number; chunk: number; warmup: number } {
  const bytes = opts.bytes;
  const chunk = opts.chunk ?? DEFAULT_CHUNK;
  const warmup = opts.warmupBytes ?? 0;
  if (!Number.isSafeInteger(warmup) || warmup < 0) {
    throw new RangeError(`tcp-bulk: warmupBytes must be an integer >= 0, got ${warmup}`);
  }
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new RangeError(`tcp-bulk: bytes must be a positive integer, got ${bytes}`);
  }
  if (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > 1 << 30) {
    throw new RangeError(`tcp-bulk: chunk must be an integer in 1..2^30, got ${chunk}`);
  }
  return { bytes, chunk, warmup };
}

export function resultOf(bytes: number, seconds: number, sha?: string): BulkResult {
  if (!(seconds > 0)) throw new Error(`tcp-bulk: a transfer took ${seconds} s`);
  const r: BulkResult = { seconds, gbps: (bytes * 8) / seconds / 1e9, bytes };
  if (sha !== undefined) r.sha = sha;
  return r;
}
