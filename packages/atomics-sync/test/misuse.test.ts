import { describe, expect, it } from 'vitest';
import {
  Barrier,
  Condition,
  Doorbell,
  Latch,
  Mutex,
  OptionError,
  RegionError,
  Semaphore,
  SyncMisuseError,
  WaitGroup,
} from '../src/index.js';

describe('regions', () => {
  it('rejects a region too small, naming the size to allocate', () => {
    expect(() => Mutex.create(new SharedArrayBuffer(4), 0)).toThrow(RegionError);
    expect(() => Mutex.create(new SharedArrayBuffer(16), 12)).toThrow(
      'Mutex: needs 8 bytes at offset 12, but the SharedArrayBuffer has only 16 bytes; allocate at least 20',
    );
    expect(() => Barrier.create(new SharedArrayBuffer(8), 0, 2)).toThrow(/allocate at least 12/);
  });

  it('rejects a misaligned offset, suggesting the next aligned one', () => {
    expect(() => Semaphore.create(new SharedArrayBuffer(64), 6, 1)).toThrow(
      'Semaphore: byteOffset 6 is misaligned; Atomics needs a multiple of 4 (try 8)',
    );
    expect(() => Doorbell.create(new SharedArrayBuffer(64), -4)).toThrow(RegionError);
  });

  it('rejects a plain ArrayBuffer', () => {
    const notShared = new ArrayBuffer(64) as unknown as SharedArrayBuffer;
    expect(() => Latch.create(notShared, 0, 1)).toThrow(/must be a SharedArrayBuffer/);
  });

  it('refuses to attach a descriptor of another kind', () => {
    const m = Mutex.create(new SharedArrayBuffer(8), 0);
    expect(() => Semaphore.attach(m.descriptor as never)).toThrow(
      /cannot attach a semaphore to a descriptor of kind mutex/,
    );
  });

  it('packs several primitives side by side in one buffer', () => {
    const sab = new SharedArrayBuffer(64);
    const m = Mutex.create(sab, 0);
    const s = Semaphore.create(sab, Mutex.BYTES, 2);
    const b = Barrier.create(sab, Mutex.BYTES + Semaphore.BYTES, 1);
    expect(m.tryLock()).toBe(true);
    expect(s.tryAcquire()).toBe(true);
    expect(b.arriveAndWait()).toBe(true);
    expect(s.available()).toBe(1);
    expect(Mutex.attach(m.descriptor).isHeldByCurrentThread()).toBe(true);
    m.unlock();
    // A descriptor survives structured cloning (what postMessage and workerData do).
    const clone = structuredClone(s.descriptor);
    expect(clone.sab).toBe(sab === clone.sab ? sab : clone.sab);
    expect(Semaphore.attach(clone).available()).toBe(1);
  });
});

describe('misuse', () => {
  it('unlocking a mutex nobody holds is an error', () => {
    const m = Mutex.create(new SharedArrayBuffer(8), 0);
    expect(() => m.unlock()).toThrow(SyncMisuseError);
    expect(() => m.unlock()).toThrow(/not locked/);
  });

  it('locking a mutex this thread already holds is an error, not a deadlock', () => {
    const m = Mutex.create(new SharedArrayBuffer(8), 0);
    m.lock();
    expect(m.tryLock()).toBe(false);
    expect(() => m.lock()).toThrow(/already holds this mutex and it is not recursive/);
    m.unlock();
    expect(m.withLock(() => 7)).toBe(7);
    expect(m.isLocked()).toBe(false);
  });

  it('a latch or wait group cannot go below zero', () => {
    const l = Latch.create(new SharedArrayBuffer(4), 0, 1);
    expect(() => l.countDown(2)).toThrow(/count is 1, so it cannot go down by 2/);
    l.countDown();
    expect(() => l.countDown()).toThrow(SyncMisuseError);
    const g = WaitGroup.create(new SharedArrayBuffer(4), 0);
    expect(() => g.done()).toThrow(/WaitGroup.done: the count is 0/);
  });

  it('bad options name themselves and their value', () => {
    const sab = new SharedArrayBuffer(64);
    expect(() => Barrier.create(sab, 0, 0)).toThrow(OptionError);
    expect(() => Barrier.create(sab, 0, 0)).toThrow(
      'parties must be an integer in [1, 2^31-1], got 0',
    );
    expect(() => Semaphore.create(sab, 0, 1.5)).toThrow('permits must be an integer');
    const m = Mutex.create(sab, 0);
    expect(() => m.lock(-1)).not.toThrow(); // free: taken before the timeout is looked at
    m.unlock();
    const c = Condition.create(sab, 16);
    m.lock();
    expect(() => c.wait(m, Number.NaN)).toThrow('timeoutMs must be a number >= 0');
    expect(m.isHeldByCurrentThread()).toBe(true);
    m.unlock();
    expect(() => c.wait(m)).toThrow(/not locked/); // waiting without holding the mutex
    expect(() => c.notify(0)).toThrow('n must be an integer in [1, 2^31-1], got 0');
  });
});
