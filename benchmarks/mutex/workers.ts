// Worker side of the mutex benchmark. workerData.role picks what this thread does.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { Barrier, type BarrierDescriptor, Mutex, type MutexDescriptor } from '@bypass/atomics-sync';

export interface LockerData {
  role: 'locker';
  mutex: MutexDescriptor;
  start: BarrierDescriptor;
  durationMs: number;
  counter: SharedArrayBuffer;
}
export interface ServerData {
  role: 'mp-server';
  port: MessagePort;
}
export interface ClientData {
  role: 'mp-client';
  port: MessagePort;
  start: BarrierDescriptor;
  durationMs: number;
}
export interface Count {
  ops: number;
  ms: number;
}

const ACQUIRE = 1;
const RELEASE = 2;
const GRANT = 3;

/** Lock/unlock in a loop for durationMs, incrementing a shared counter non-atomically inside. */
function locker(d: LockerData): Count {
  const m = Mutex.attach(d.mutex);
  const counter = new Int32Array(d.counter);
  Barrier.attach(d.start).arriveAndWait();
  const t0 = performance.now();
  let ops = 0;
  let t = t0;
  while (t - t0 < d.durationMs) {
    for (let i = 0; i < 256; i++) {
      m.lock();
      counter[0]++;
      m.unlock();
    }
    ops += 256;
    t = performance.now();
  }
  return { ops, ms: t - t0 };
}

/** A lock server: grants the lock to one requester at a time, queueing the rest (FIFO). */
function server(d: ServerData): void {
  let held = false;
  let waiting = 0;
  d.port.on('message', (m: number) => {
    if (m === ACQUIRE) {
      if (held) waiting++;
      else {
        held = true;
        d.port.postMessage(GRANT);
      }
    } else if (m === RELEASE) {
      if (waiting > 0) {
        waiting--;
        d.port.postMessage(GRANT);
      } else held = false;
    }
  });
}

/** Request, await the grant, release: one lock round trip over a MessagePort. */
async function client(d: ClientData): Promise<Count> {
  let grant: (() => void) | undefined;
  d.port.on('message', () => grant?.());
  const granted = () =>
    new Promise<void>((resolve) => {
      grant = resolve;
    });
  Barrier.attach(d.start).arriveAndWait();
  const t0 = performance.now();
  let ops = 0;
  let t = t0;
  while (t - t0 < d.durationMs) {
    for (let i = 0; i < 64; i++) {
      const g = granted();
      d.port.postMessage(ACQUIRE);
      await g;
      d.port.postMessage(RELEASE);
    }
    ops += 64;
    t = performance.now();
  }
  d.port.close();
  return { ops, ms: t - t0 };
}

const data = workerData as LockerData | ServerData | ClientData;
if (data.role === 'locker') parentPort!.postMessage(locker(data));
else if (data.role === 'mp-server') server(data);
else parentPort!.postMessage(await client(data));
