import type { Mutex } from './mutex.js';
import { checkCount, checkDescriptor, int32Region, type SyncDescriptor } from './region.js';
import { deadlineOf, parkAsync, remaining } from './wait.js';

const SEQ = 0;
const WAITERS = 1;

export type ConditionDescriptor = SyncDescriptor<'condition'>;

/**
 * A condition variable in 8 bytes, used with a Mutex. It parks on a sequence counter that every
 * notify advances, and the waiter reads that counter *while still holding the mutex*. A notify
 * that slips in between the waiter's unlock and its park therefore changes the counter, and the
 * park returns at once: no signal is lost. (A condition variable that parks on a fixed value,
 * or reads the counter after unlocking, sleeps through exactly that notify.)
 *
 * As with every condition variable, wake-ups may be spurious: always wait in a loop on the
 * predicate, `while (!ready) cond.wait(mutex)`.
 */
export class Condition {
  static readonly BYTES = 8;

  readonly descriptor: ConditionDescriptor;
  readonly #w: Int32Array;

  private constructor(desc: ConditionDescriptor) {
    this.#w = int32Region('Condition', desc.sab, desc.byteOffset, Condition.BYTES);
    this.descriptor = desc;
  }

  static create(sab: SharedArrayBuffer, byteOffset = 0): Condition {
    const c = new Condition({ kind: 'condition', sab, byteOffset });
    Atomics.store(c.#w, SEQ, 0);
    Atomics.store(c.#w, WAITERS, 0);
    return c;
  }

  static attach(desc: ConditionDescriptor): Condition {
    checkDescriptor('condition', desc);
    return new Condition(desc);
  }

  /**
   * Releases `mutex` (which the caller must hold), parks until notified or `timeoutMs` passes,
   * and takes `mutex` again before returning. Returns false only on timeout.
   */
  wait(mutex: Mutex, timeoutMs = Number.POSITIVE_INFINITY): boolean {
    const w = this.#w;
    const deadline = deadlineOf(timeoutMs);
    const seq = Atomics.load(w, SEQ);
    mutex.unlock();
    Atomics.add(w, WAITERS, 1);
    const r = Atomics.wait(w, SEQ, seq, remaining(deadline));
    Atomics.sub(w, WAITERS, 1);
    mutex.lock();
    return r !== 'timed-out';
  }

  /** As `wait`, parking with Atomics.waitAsync and re-locking with `lockAsync`. */
  async waitAsync(mutex: Mutex, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const w = this.#w;
    const deadline = deadlineOf(timeoutMs);
    const seq = Atomics.load(w, SEQ);
    mutex.unlock();
    Atomics.add(w, WAITERS, 1);
    let r: string;
    try {
      r = await parkAsync(w, SEQ, seq, remaining(deadline));
    } finally {
      Atomics.sub(w, WAITERS, 1);
      await mutex.lockAsync();
    }
    return r !== 'timed-out';
  }

  /** Wakes up to `n` waiters (default 1). */
  notify(n = 1): void {
    checkCount('n', n, 1);
    const w = this.#w;
    Atomics.add(w, SEQ, 1);
    if (Atomics.load(w, WAITERS) !== 0) Atomics.notify(w, SEQ, n);
  }

  /** Wakes every waiter. */
  notifyAll(): void {
    const w = this.#w;
    Atomics.add(w, SEQ, 1);
    if (Atomics.load(w, WAITERS) !== 0) Atomics.notify(w, SEQ);
  }
}
