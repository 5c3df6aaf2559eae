import { threadId } from 'node:worker_threads';
import { SyncMisuseError } from './errors.js';
import { checkDescriptor, int32Region, type SyncDescriptor } from './region.js';
import { deadlineOf, parkAsync, remaining } from './wait.js';

// Word layout. STATE follows Drepper, "Futexes Are Tricky" (2011), mutex 3: 0 = unlocked,
// 1 = locked and nobody parked, 2 = locked and someone may be parked (unlock must notify).
const STATE = 0;
const OWNER = 1;
const UNLOCKED = 0;
const LOCKED = 1;
const CONTENDED = 2;

/** Spins on a contended lock before parking: a short critical section on another core usually
 * ends within this many loads, and a futex round trip costs microseconds. */
const SPIN_LIMIT = 100;

/** This thread's owner tag: worker_threads' threadId (0 on the main thread) plus one, so 0 means
 * "no owner". Distinct for every thread in the process. */
export const SELF = threadId + 1;

export type MutexDescriptor = SyncDescriptor<'mutex'>;

/**
 * A non-recursive mutual-exclusion lock in 8 bytes of a SharedArrayBuffer. The thread that
 * locks it owns it; only the owner may unlock. Blocking forms park on Atomics.wait (allowed on
 * Node's main thread, but it blocks the event loop there: prefer `lockAsync` on the main thread).
 */
export class Mutex {
  /** Bytes the mutex occupies in its region (offset must be a multiple of 4). */
  static readonly BYTES = 8;

  readonly descriptor: MutexDescriptor;
  readonly #w: Int32Array;

  private constructor(desc: MutexDescriptor) {
    this.#w = int32Region('Mutex', desc.sab, desc.byteOffset, Mutex.BYTES);
    this.descriptor = desc;
  }

  /** Initialises an unlocked mutex at `byteOffset` in `sab`. Call once, before sharing it. */
  static create(sab: SharedArrayBuffer, byteOffset = 0): Mutex {
    const m = new Mutex({ kind: 'mutex', sab, byteOffset });
    Atomics.store(m.#w, STATE, UNLOCKED);
    Atomics.store(m.#w, OWNER, 0);
    return m;
  }

  /** Attaches to a mutex created elsewhere (any thread) from its descriptor. */
  static attach(desc: MutexDescriptor): Mutex {
    checkDescriptor('mutex', desc);
    return new Mutex(desc);
  }

  /** Takes the lock if it is free. Returns true when this thread now owns it. Never blocks. */
  tryLock(): boolean {
    if (Atomics.compareExchange(this.#w, STATE, UNLOCKED, LOCKED) !== UNLOCKED) return false;
    Atomics.store(this.#w, OWNER, SELF);
    return true;
  }

  /**
   * Takes the lock, blocking this thread for at most `timeoutMs` (default: forever).
   * Returns true when this thread owns the lock, false when the timeout passed first.
   * Throws SyncMisuseError when this thread already holds it (it would deadlock).
   */
  lock(timeoutMs = Number.POSITIVE_INFINITY): boolean {
    const w = this.#w;
    if (Atomics.compareExchange(w, STATE, UNLOCKED, LOCKED) === UNLOCKED) {
      Atomics.store(w, OWNER, SELF);
      return true;
    }
    this.#checkNotHeldBySelf();
    const deadline = deadlineOf(timeoutMs);
    for (let i = 0; i < SPIN_LIMIT; i++) {
      if (Atomics.load(w, STATE) === UNLOCKED && this.tryLock()) return true;
    }
    // Mark the lock contended; if that exchange found it free, we now hold it (as CONTENDED,
    // which costs the next unlock one spare notify and nothing else).
    while (Atomics.exchange(w, STATE, CONTENDED) !== UNLOCKED) {
      const left = remaining(deadline);
      if (left === 0) return false;
      Atomics.wait(w, STATE, CONTENDED, left);
    }
    Atomics.store(w, OWNER, SELF);
    return true;
  }

  /** As `lock`, but waits with Atomics.waitAsync so the event loop keeps running. */
  async lockAsync(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const w = this.#w;
    if (this.tryLock()) return true;
    this.#checkNotHeldBySelf();
    const deadline = deadlineOf(timeoutMs);
    while (Atomics.exchange(w, STATE, CONTENDED) !== UNLOCKED) {
      const left = remaining(deadline);
      if (left === 0) return false;
      await parkAsync(w, STATE, CONTENDED, left);
    }
    Atomics.store(w, OWNER, SELF);
    return true;
  }

  /** Releases the lock. Throws SyncMisuseError unless this thread holds it. */
  unlock(): void {
    const w = this.#w;
    const owner = Atomics.load(w, OWNER);
    if (owner !== SELF) {
      throw new SyncMisuseError(
        owner === 0
          ? 'Mutex.unlock: the mutex is not locked; unlock only after a successful lock/tryLock'
          : `Mutex.unlock: thread ${SELF - 1} does not own this mutex (thread ${owner - 1} does); ` +
              'only the thread that locked it may unlock it',
      );
    }
    Atomics.store(w, OWNER, 0);
    if (Atomics.sub(w, STATE, 1) !== LOCKED) {
      // It was CONTENDED: someone may be parked. Free it fully and wake one.
      Atomics.store(w, STATE, UNLOCKED);
      Atomics.notify(w, STATE, 1);
    }
  }

  /** Runs `fn` holding the lock and releases it however `fn` ends. */
  withLock<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  /** True while some thread holds the lock (a snapshot: it may change at once). */
  isLocked(): boolean {
    return Atomics.load(this.#w, STATE) !== UNLOCKED;
  }

  /** True when the calling thread holds the lock. */
  isHeldByCurrentThread(): boolean {
    return Atomics.load(this.#w, OWNER) === SELF;
  }

  #checkNotHeldBySelf(): void {
    if (Atomics.load(this.#w, OWNER) === SELF) {
      throw new SyncMisuseError(
        `Mutex.lock: thread ${SELF - 1} already holds this mutex and it is not recursive; ` +
          'unlock it before locking again',
      );
    }
  }
}
