// Real worker threads against the primitives (more threads than this machine's 2 cores, on
// purpose: preemption inside critical sections is the interesting case).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  Barrier,
  Condition,
  Doorbell,
  Latch,
  Mutex,
  runWorker,
  Semaphore,
  WaitGroup,
} from '../src/index.js';

const SCENARIOS = new URL('./fixtures/scenarios.js', import.meta.url);

function runAll(n: number, workerData: (index: number) => Record<string, unknown>) {
  return Promise.all(
    Array.from({ length: n }, (_, index) =>
      runWorker(SCENARIOS, { workerData: workerData(index) }),
    ),
  );
}

describe('Mutex', () => {
  it('4 threads x 100k non-atomic increments give the exact total', async () => {
    const sab = new SharedArrayBuffer(64);
    const shared = new SharedArrayBuffer(8);
    const mutex = Mutex.create(sab, 0);
    await runAll(4, (index) => ({
      scenario: 'mutexIncrement',
      index,
      iterations: 100_000,
      mutex: mutex.descriptor,
      shared,
    }));
    expect(new Int32Array(shared)[0]).toBe(400_000);
    expect(mutex.isLocked()).toBe(false);
  });

  it('a timed lock times out while another thread holds it, then succeeds once released', async () => {
    const sab = new SharedArrayBuffer(64);
    const shared = new SharedArrayBuffer(8);
    const flags = new Int32Array(shared);
    const mutex = Mutex.create(sab, 0);
    const release = Latch.create(sab, 16, 1);
    const done = runWorker(SCENARIOS, {
      workerData: {
        scenario: 'holdMutex',
        index: 0,
        iterations: 0,
        mutex: mutex.descriptor,
        latch: release.descriptor,
        shared,
      },
    });
    await waitUntil(() => Atomics.load(flags, 0) === 1);
    expect(mutex.tryLock()).toBe(false);
    const t0 = performance.now();
    expect(mutex.lock(50)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(49);
    expect(await mutex.lockAsync(20)).toBe(false);
    // Only the owner may unlock.
    expect(() => mutex.unlock()).toThrow(/does not own this mutex/);
    release.countDown();
    expect(await mutex.lockAsync(10_000)).toBe(true);
    expect(mutex.isHeldByCurrentThread()).toBe(true);
    mutex.unlock();
    await done;
  });
});

describe('Barrier', () => {
  it('8 threads x 1000 generations: nobody passes early, one serial thread per generation', async () => {
    const parties = 8;
    const generations = 1000;
    const sab = new SharedArrayBuffer(64);
    const shared = new SharedArrayBuffer(4 * parties);
    const barrier = Barrier.create(sab, 0, parties);
    const results = (await runAll(parties, (index) => ({
      scenario: 'barrierGenerations',
      index,
      iterations: generations,
      barrier: barrier.descriptor,
      shared,
    }))) as { serial: number; violations: number }[];
    expect(results.map((r) => r.violations)).toEqual(new Array(parties).fill(0));
    expect(results.reduce((s, r) => s + r.serial, 0)).toBe(generations);
    expect(barrier.generation()).toBe(generations);
  });
});

describe('Semaphore', () => {
  it('a semaphore of 3 never admits a 4th (6 threads contending)', async () => {
    const sab = new SharedArrayBuffer(128);
    const shared = new SharedArrayBuffer(8);
    const sem = Semaphore.create(sab, 0, 3);
    // All six start contending together: a worker that started late (a loaded machine) would
    // otherwise find the others done, and 3 holders at once would never be seen.
    const start = Barrier.create(sab, 64, 6);
    await runAll(6, (index) => ({
      scenario: 'semaphoreAdmission',
      index,
      iterations: 100,
      semaphore: sem.descriptor,
      barrier: start.descriptor,
      shared,
    }));
    const s = new Int32Array(shared);
    expect(s[0]).toBe(0);
    expect(s[1]).toBe(3);
    expect(sem.available()).toBe(3);
  });
});

describe('Condition', () => {
  it('ping-pongs 20k turns between two threads without losing a notify', async () => {
    const sab = new SharedArrayBuffer(64);
    const shared = new SharedArrayBuffer(8);
    const mutex = Mutex.create(sab, 0);
    const cond = Condition.create(sab, 8);
    await runAll(2, (index) => ({
      scenario: 'conditionPingPong',
      index,
      iterations: 10_000,
      mutex: mutex.descriptor,
      condition: cond.descriptor,
      shared,
    }));
    expect(new Int32Array(shared)[1]).toBe(20_000);
  });

  it('a notify between the waiter reading the sequence and parking is not lost', async () => {
    // The main thread plays the waiter with waitAsync: it reads the sequence and unlocks
    // synchronously, so a notify issued right after the call (before the park settles) lands
    // exactly in the window that loses signals in a naive implementation.
    const sab = new SharedArrayBuffer(64);
    const mutex = Mutex.create(sab, 0);
    const cond = Condition.create(sab, 8);
    mutex.lock();
    const woken = cond.waitAsync(mutex, 2_000);
    cond.notify();
    expect(await woken).toBe(true);
    expect(mutex.isHeldByCurrentThread()).toBe(true);
    mutex.unlock();
  });

  it('a wait with nobody notifying times out and still re-takes the mutex', () => {
    const sab = new SharedArrayBuffer(64);
    const mutex = Mutex.create(sab, 0);
    const cond = Condition.create(sab, 8);
    mutex.lock();
    expect(cond.wait(mutex, 10)).toBe(false);
    expect(mutex.isHeldByCurrentThread()).toBe(true);
    mutex.unlock();
  });
});

describe('Doorbell', () => {
  it('a parked poller wakes on every ring, 1000 times', async () => {
    const sab = new SharedArrayBuffer(64);
    const shared = new SharedArrayBuffer(8);
    const s = new Int32Array(shared);
    const bell = Doorbell.create(sab, 0);
    const done = runWorker(SCENARIOS, {
      workerData: {
        scenario: 'doorbellWaiter',
        index: 0,
        iterations: 1000,
        doorbell: bell.descriptor,
        shared,
      },
    });
    const end = performance.now() + 20_000;
    for (let i = 1; i <= 1000; i++) {
      Atomics.store(s, 1, i); // publish work item i, then ring
      bell.ring();
      while (Atomics.load(s, 0) < i) {
        if (performance.now() > end) throw new Error(`the poller never woke for ring ${i}`);
        await Promise.resolve();
      }
    }
    await done;
    expect(Atomics.load(s, 0)).toBe(1000);
  });

  it('a ring after the ticket and before park makes park return at once', () => {
    const bell = Doorbell.create(new SharedArrayBuffer(8), 0);
    const t = bell.ticket();
    bell.ring();
    const t0 = performance.now();
    expect(bell.park(t, 5_000)).toBe('rung');
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(bell.park(bell.ticket(), 5)).toBe('timed-out');
  });

  it('parkAsync keeps the Node 20 event loop alive until the ring', () => {
    const main = fileURLToPath(new URL('./fixtures/keepalive-main.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', main], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('rung');
    expect(r.status).toBe(0);
  });
});

describe('Latch and WaitGroup', () => {
  it('a latch of 4 opens after 4 threads count down, not before', async () => {
    const sab = new SharedArrayBuffer(64);
    const shared = new SharedArrayBuffer(8);
    const latch = Latch.create(sab, 0, 4);
    const all = runAll(4, (index) => ({
      scenario: 'latchCountDown',
      index,
      iterations: 0,
      latch: latch.descriptor,
      shared,
    }));
    expect(await latch.waitAsync(20_000)).toBe(true);
    expect(Atomics.load(new Int32Array(shared), 0)).toBe(4);
    expect(latch.count()).toBe(0);
    await all;
  });

  it('a wait group counts up and down and can be reused', async () => {
    const g = WaitGroup.create(new SharedArrayBuffer(4), 0);
    expect(g.wait(0)).toBe(true);
    g.add(2);
    expect(g.wait(5)).toBe(false);
    g.done();
    const waiting = g.waitAsync(1_000);
    g.done();
    expect(await waiting).toBe(true);
    g.add();
    expect(g.count()).toBe(1);
    g.done();
    expect(g.wait(0)).toBe(true);
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error('waitUntil: condition never became true');
    await new Promise((r) => setTimeout(r, 1));
  }
}
