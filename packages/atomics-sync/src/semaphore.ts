import { SyncMisuseError } from './errors.js';
import { checkCount, checkDescriptor, int32Region, type SyncDescriptor } from './region.js';
import { deadlineOf, parkAsync, remaining } from './wait.js';

const COUNT = 0;
const WAITERS = 1;

export type SemaphoreDescriptor = SyncDescriptor<'semaphore'>;

/**
 * A counting semaphore in 8 bytes of a SharedArrayBuffer: `acquire` takes one permit, blocking
 * while none is left; `release` returns permits. Any thread may release (unlike a Mutex).
 */
export class Semaphore {
  static readonly BYTES = 8;

  readonly descriptor: SemaphoreDescriptor;
  readonly #w: Int32Array;

  private constructor(desc: SemaphoreDescriptor) {
    this.#w = int32Region('Semaphore', desc.sab, desc.byteOffset, Semaphore.BYTES);
    this.descriptor = desc;
  }

  /** Initialises a semaphore holding `permits` permits. */
  static create(sab: SharedArrayBuffer, byteOffset: number, permits: number): Semaphore {
    checkCount('permits', permits, 0);
    const s = new Semaphore({ kind: 'semaphore', sab, byteOffset });
    Atomics.store(s.#w, COUNT, permits);
    Atomics.store(s.#w, WAITERS, 0);
    return s;
  }

  static attach(desc: SemaphoreDescriptor): Semaphore {
    checkDescriptor('semaphore', desc);
    return new Semaphore(desc);
  }

  /** Takes a permit if one is free. Never blocks. */
  tryAcquire(): boolean {
    const w = this.#w;
    for (;;) {
      const c = Atomics.load(w, COUNT);
      if (c === 0) return false;
      if (Atomics.compareExchange(w, COUNT, c, c - 1) === c) return true;
    }
  }

  /** Takes a permit, blocking for at most `timeoutMs`. Returns false on timeout. */
  acquire(timeoutMs = Number.POSITIVE_INFINITY): boolean {
    if (this.tryAcquire()) return true;
    const w = this.#w;
    const deadline = deadlineOf(timeoutMs);
    for (;;) {
      const left = remaining(deadline);
      if (left === 0) return false;
      // Announce ourselves before the final check, so a release that follows sees a waiter
      // and notifies (store-load ordering: both sides use sequentially consistent Atomics).
      Atomics.add(w, WAITERS, 1);
      Atomics.wait(w, COUNT, 0, left);
      Atomics.sub(w, WAITERS, 1);
      if (this.tryAcquire()) return true;
    }
  }

  /** As `acquire`, waiting with Atomics.waitAsync so the event loop keeps running. */
  async acquireAsync(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (this.tryAcquire()) return true;
    const w = this.#w;
    const deadline = deadlineOf(timeoutMs);
    for (;;) {
      const left = remaining(deadline);
      if (left === 0) return false;
      Atomics.add(w, WAITERS, 1);
      try {
        await parkAsync(w, COUNT, 0, left);
      } finally {
        Atomics.sub(w, WAITERS, 1);
      }
      if (this.tryAcquire()) return true;
    }
  }

  /** Returns `n` permits (default 1) and wakes up to `n` waiters. */
  release(n = 1): void {
    checkCount('n', n, 1);
    const before = Atomics.add(this.#w, COUNT, n);
    if (before + n > 0x7fffffff || before + n < before) {
      Atomics.sub(this.#w, COUNT, n);
      throw new SyncMisuseError(
        `Semaphore.release(${n}): the count would pass 2^31-1; release only permits you acquired`,
      );
    }
    if (Atomics.load(this.#w, WAITERS) > 0) Atomics.notify(this.#w, COUNT, n);
  }

  /** Permits free right now (a snapshot). */
  available(): number {
    return Atomics.load(this.#w, COUNT);
  }
}
