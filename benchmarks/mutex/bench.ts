// pnpm bench mutex: atomics-sync Mutex lock+unlock pairs per second, uncontended (one thread)
// and contended (two threads hammering one lock), against the MessagePort alternative: a lock
// server thread that grants requests, one request/grant/release round trip per lock.
import { MessageChannel } from 'node:worker_threads';
import { Barrier, Mutex, runWorker, startWorker } from '@bypass/atomics-sync';
import { runBenchmark } from '@bypass/bench-harness';
import type { ClientData, Count, LockerData } from './workers.js';

const WORKERS = new URL('./workers.js', import.meta.url);
const durationMs = (quick: boolean) => (quick ? 150 : 1000);

function mops(counts: Count[]): number {
  const ops = counts.reduce((s, c) => s + c.ops, 0);
  const ms = Math.max(...counts.map((c) => c.ms));
  return ops / ms / 1e3;
}

function uncontended(quick: boolean): number {
  const m = Mutex.create(new SharedArrayBuffer(Mutex.BYTES), 0);
  const counter = new Int32Array(1);
  const t0 = performance.now();
  let ops = 0;
  let t = t0;
  while (t - t0 < durationMs(quick)) {
    for (let i = 0; i < 1024; i++) {
      m.lock();
      counter[0]++;
      m.unlock();
    }
    ops += 1024;
    t = performance.now();
  }
  return mops([{ ops, ms: t - t0 }]);
}

async function contended(quick: boolean): Promise<number> {
  const threads = 2;
  const sab = new SharedArrayBuffer(64);
  const counter = new SharedArrayBuffer(4);
  const mutex = Mutex.create(sab, 0);
  const start = Barrier.create(sab, 16, threads);
  const counts = await Promise.all(
    Array.from({ length: threads }, () =>
      runWorker<Count>(WORKERS, {
        workerData: {
          role: 'locker',
          mutex: mutex.descriptor,
          start: start.descriptor,
          durationMs: durationMs(quick),
          counter,
        } satisfies LockerData,
      }),
    ),
  );
  const total = counts.reduce((s, c) => s + c.ops, 0);
  if (new Int32Array(counter)[0] !== total) throw new Error('mutex let two threads in at once');
  return mops(counts);
}

async function messagePort(quick: boolean): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  const server = startWorker(WORKERS, {
    workerData: { role: 'mp-server', port: port1 },
    transferList: [port1],
  });
  const start = Barrier.create(new SharedArrayBuffer(16), 0, 1);
  try {
    const c = await runWorker<Count>(WORKERS, {
      workerData: {
        role: 'mp-client',
        port: port2,
        start: start.descriptor,
        durationMs: durationMs(quick),
      } satisfies ClientData,
      transferList: [port2],
    });
    return mops([c]);
  } finally {
    await server.terminate();
  }
}

await runBenchmark({
  bench: 'mutex',
  metric: 'Mops/s',
  params: {
    threads: 2,
    op: 'lock+unlock',
    durationMs: durationMs(process.argv.includes('--quick')),
  },
  subject: {
    name: 'contended',
    describe: 'Mutex lock+unlock, 2 worker threads on one lock (Atomics.wait when parked)',
    run: contended,
  },
  baseline: {
    name: 'messageport',
    describe: 'MessagePort lock server: acquire, await grant, release (1 client worker)',
    run: messagePort,
  },
  others: [
    {
      name: 'uncontended',
      describe: 'Mutex lock+unlock on one thread, nobody else touching it',
      run: uncontended,
    },
  ],
});
