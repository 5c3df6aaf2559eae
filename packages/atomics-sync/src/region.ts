import { OptionError, RegionError } from './errors.js';

/**
 * Where a primitive lives: a byte offset into a SharedArrayBuffer. Plain data, so it crosses
 * `postMessage` and `workerData` unchanged (the SharedArrayBuffer is shared, not copied).
 */
export interface SyncDescriptor<K extends string = string> {
  readonly kind: K;
  readonly sab: SharedArrayBuffer;
  readonly byteOffset: number;
}

/**
 * Checks that `[byteOffset, byteOffset + bytes)` lies inside `sab` at a 4-byte boundary and
 * returns an Int32Array over exactly those words. Called once per primitive, never per operation.
 */
export function int32Region(
  kind: string,
  sab: SharedArrayBuffer,
  byteOffset: number,
  bytes: number,
): Int32Array {
  checkRegion(kind, sab, byteOffset, bytes);
  return new Int32Array(sab, byteOffset, bytes / 4);
}

/**
 * Checks that `[byteOffset, byteOffset + bytes)` lies inside the SharedArrayBuffer `sab` and that
 * `byteOffset` is a multiple of 4, throwing a RegionError that says what to allocate otherwise.
 */
export function checkRegion(
  kind: string,
  sab: SharedArrayBuffer,
  byteOffset: number,
  bytes: number,
): void {
  if (!(sab instanceof SharedArrayBuffer)) {
    throw new RegionError(
      `${kind}: the region must be a SharedArrayBuffer (got ${Object.prototype.toString.call(sab)}); ` +
        'allocate one with new SharedArrayBuffer(n) so other threads can attach',
    );
  }
  if (!Number.isInteger(byteOffset) || byteOffset < 0) {
    throw new RegionError(
      `${kind}: byteOffset must be a non-negative integer, got ${String(byteOffset)}`,
    );
  }
  if (byteOffset % 4 !== 0) {
    throw new RegionError(
      `${kind}: byteOffset ${byteOffset} is misaligned; Atomics needs a multiple of 4 (try ${
        byteOffset + (4 - (byteOffset % 4))
      })`,
    );
  }
  if (byteOffset + bytes > sab.byteLength) {
    throw new RegionError(
      `${kind}: needs ${bytes} bytes at offset ${byteOffset}, but the SharedArrayBuffer has only ` +
        `${sab.byteLength} bytes; allocate at least ${byteOffset + bytes}`,
    );
  }
}

/** Checks that a descriptor names the expected kind of primitive before attaching to it. */
export function checkDescriptor(expected: string, desc: SyncDescriptor): void {
  if (desc === null || typeof desc !== 'object' || desc.kind !== expected) {
    throw new RegionError(
      `cannot attach a ${expected} to a descriptor of kind ${String(desc?.kind)}; ` +
        `pass the descriptor returned by ${expected}.create(...).descriptor`,
    );
  }
}

/** Validates a timeout in milliseconds: a finite non-negative number or Infinity. */
export function checkTimeout(timeoutMs: number): void {
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new OptionError('timeoutMs', timeoutMs, 'a number >= 0 (or Infinity to wait forever)');
  }
}

/** Validates a count argument (permits, parties, increments). */
export function checkCount(option: string, n: number, min: number): void {
  if (!Number.isInteger(n) || n < min || n > 0x7fffffff) {
    throw new OptionError(option, n, `an integer in [${min}, 2^31-1]`);
  }
}
