import { SyncMisuseError } from './errors.js';
import { checkCount, checkDescriptor, int32Region, type SyncDescriptor } from './region.js';
import { deadlineOf, parkAsync, remaining } from './wait.js';

const COUNT = 0;

/** Blocks until words[COUNT] is 0 or the deadline passes. */
function waitForZero(w: Int32Array, timeoutMs: number): boolean {
  const deadline = deadlineOf(timeoutMs);
  for (;;) {
    const c = Atomics.load(w, COUNT);
    if (c === 0) return true;
    const left = remaining(deadline);
    if (left === 0) return false;
    Atomics.wait(w, COUNT, c, left);
  }
}

async function waitForZeroAsync(w: Int32Array, timeoutMs: number): Promise<boolean> {
  const deadline = deadlineOf(timeoutMs);
  for (;;) {
    const c = Atomics.load(w, COUNT);
    if (c === 0) return true;
    const left = remaining(deadline);
    if (left === 0) return false;
    await parkAsync(w, COUNT, c, left);
  }
}

/** Subtracts n from the counter; wakes every waiter when it reaches 0. */
function countDown(w: Int32Array, n: number, who: string): void {
  for (;;) {
    const c = Atomics.load(w, COUNT);
    if (c - n < 0) {
      throw new SyncMisuseError(
        `${who}: the count is ${c}, so it cannot go down by ${n}; ` +
          'each party must count down exactly once per unit added',
      );
    }
    if (Atomics.compareExchange(w, COUNT, c, c - n) === c) {
      if (c - n === 0) Atomics.notify(w, COUNT);
      return;
    }
  }
}

export type LatchDescriptor = SyncDescriptor<'latch'>;

/**
 * A one-shot count-down latch in 4 bytes (java.util.concurrent.CountDownLatch): created with a
 * count, released for good when the count reaches zero.
 */
export class Latch {
  static readonly BYTES = 4;

  readonly descriptor: LatchDescriptor;
  readonly #w: Int32Array;

  private constructor(desc: LatchDescriptor) {
    this.#w = int32Region('Latch', desc.sab, desc.byteOffset, Latch.BYTES);
    this.descriptor = desc;
  }

  static create(sab: SharedArrayBuffer, byteOffset: number, count: number): Latch {
    checkCount('count', count, 0);
    const l = new Latch({ kind: 'latch', sab, byteOffset });
    Atomics.store(l.#w, COUNT, count);
    return l;
  }

  static attach(desc: LatchDescriptor): Latch {
    checkDescriptor('latch', desc);
    return new Latch(desc);
  }

  /** Counts down by `n` (default 1). Throws SyncMisuseError if that would pass zero. */
  countDown(n = 1): void {
    checkCount('n', n, 1);
    countDown(this.#w, n, 'Latch.countDown');
  }

  /** Blocks until the count is zero; false if `timeoutMs` passed first. */
  wait(timeoutMs = Number.POSITIVE_INFINITY): boolean {
    return waitForZero(this.#w, timeoutMs);
  }

  waitAsync(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    return waitForZeroAsync(this.#w, timeoutMs);
  }

  count(): number {
    return Atomics.load(this.#w, COUNT);
  }
}

export type WaitGroupDescriptor = SyncDescriptor<'waitgroup'>;

/**
 * A wait group in 4 bytes (Go's sync.WaitGroup): `add(n)` before starting work, `done()` when
 * each piece ends, `wait()` until the count is back to zero. Unlike a Latch it is reusable.
 */
export class WaitGroup {
  static readonly BYTES = 4;

  readonly descriptor: WaitGroupDescriptor;
  readonly #w: Int32Array;

  private constructor(desc: WaitGroupDescriptor) {
    this.#w = int32Region('WaitGroup', desc.sab, desc.byteOffset, WaitGroup.BYTES);
    this.descriptor = desc;
  }

  static create(sab: SharedArrayBuffer, byteOffset = 0): WaitGroup {
    const g = new WaitGroup({ kind: 'waitgroup', sab, byteOffset });
    Atomics.store(g.#w, COUNT, 0);
    return g;
  }

  static attach(desc: WaitGroupDescriptor): WaitGroup {
    checkDescriptor('waitgroup', desc);
    return new WaitGroup(desc);
  }

  /** Adds `n` outstanding pieces of work. */
  add(n = 1): void {
    checkCount('n', n, 1);
    const before = Atomics.add(this.#w, COUNT, n);
    if (before + n > 0x7fffffff) {
      Atomics.sub(this.#w, COUNT, n);
      throw new SyncMisuseError(`WaitGroup.add(${n}): the count would pass 2^31-1`);
    }
  }

  /** Marks one piece done. Throws SyncMisuseError when there is none outstanding. */
  done(): void {
    countDown(this.#w, 1, 'WaitGroup.done');
  }

  wait(timeoutMs = Number.POSITIVE_INFINITY): boolean {
    return waitForZero(this.#w, timeoutMs);
  }

  waitAsync(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    return waitForZeroAsync(this.#w, timeoutMs);
  }

  count(): number {
    return Atomics.load(this.#w, COUNT);
  }
}
