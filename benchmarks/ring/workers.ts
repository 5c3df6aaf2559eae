// Worker side of the ring benchmark. workerData.role picks what this thread does.
//
// Every series has the same shape: producers and consumers meet at a start Barrier, then each
// consumer runs a warm-up window (moved objects not counted), then a measured window of
// durationMs, counting the objects it received, and reports {objs, ms}. When every consumer is
// done (ctl[DONE] reaches the consumer count) the producers stop and report what they sent.
// The ring hot loops allocate nothing: one preallocated Uint32Array per thread, counters in
// locals, the clock read once per `polls` operations. (MessagePort allocates per message by
// its nature: the clone on the receiving side and receiveMessageOnPort's result object.)
import {
  type MessagePort,
  parentPort,
  receiveMessageOnPort,
  workerData,
} from 'node:worker_threads';
import { Barrier, type BarrierDescriptor } from '@bypass/atomics-sync';
import { Ring, type RingDescriptor } from '@bypass/ring';
import { RingBuffer } from 'ringbuf.js';

/** ctl (bench.ts allocates it): Int32Array control words, off the data path. ctl[DONE] counts
 * consumers that have finished their window; producers stop when it reaches the consumer count. */
const DONE = 0;

interface Common {
  start: BarrierDescriptor;
  ctl: SharedArrayBuffer;
  /** Objects per operation (ring burst, ringbuf.js push/pop length, message batch). */
  burst: number;
}
interface Timed {
  warmupMs: number;
  durationMs: number;
}
export interface RingProducerData extends Common {
  role: 'ring-producer';
  ring: RingDescriptor;
  consumers: number;
}
export interface RingConsumerData extends Common, Timed {
  role: 'ring-consumer';
  ring: RingDescriptor;
}
export interface RingbufProducerData extends Common {
  role: 'ringbuf-producer';
  sab: SharedArrayBuffer;
}
export interface RingbufConsumerData extends Common, Timed {
  role: 'ringbuf-consumer';
  sab: SharedArrayBuffer;
}
export interface PortProducerData extends Common {
  role: 'port-producer';
  port: MessagePort;
  /** Messages the producer may have in flight before it waits for credit. */
  window: number;
}
export interface PortConsumerData extends Common, Timed {
  role: 'port-consumer';
  port: MessagePort;
  /** The consumer returns this many messages of credit at a time. */
  creditEvery: number;
}
export type WorkerData =
  | RingProducerData
  | RingConsumerData
  | RingbufProducerData
  | RingbufConsumerData
  | PortProducerData
  | PortConsumerData;

/** What a consumer reports: objects received in the measured window, and its length. */
export interface Received {
  objs: number;
  ms: number;
}
/** What a producer reports: objects it handed over from the start until it was told to stop. */
export interface Sent {
  objs: number;
}

/** Operations between two looks at the clock (or at the stop word): about 2048 objects' worth. */
function pollsFor(burst: number): number {
  return Math.max(8, Math.ceil(2048 / burst));
}

/** A burst buffer of handles, filled once (the handles' values do not matter to a ring). */
function handles(burst: number): Uint32Array {
  const buf = new Uint32Array(burst);
  for (let i = 0; i < burst; i++) buf[i] = i + 1;
  return buf;
}

function ringProducer(d: RingProducerData): Sent {
  const ring = Ring.attach(d.ring);
  const ctl = new Int32Array(d.ctl);
  const burst = d.burst;
  const buf = handles(burst);
  const polls = pollsFor(burst);
  const consumers = d.consumers;
  let objs = 0;
  Barrier.attach(d.start).arriveAndWait();
  while (Atomics.load(ctl, DONE) < consumers) {
    for (let i = 0; i < polls; i++) objs += ring.enqueueBurst(buf, burst, 0);
  }
  return { objs };
}

function ringConsumer(d: RingConsumerData): Received {
  const ring = Ring.attach(d.ring);
  const ctl = new Int32Array(d.ctl);
  const burst = d.burst;
  const buf = new Uint32Array(burst);
  const polls = pollsFor(burst);
  Barrier.attach(d.start).arriveAndWait();
  let t = performance.now();
  let t0 = t;
  const warmEnd = t + d.warmupMs;
  let measuring = false;
  let objs = 0;
  for (;;) {
    for (let i = 0; i < polls; i++) objs += ring.dequeueBurst(buf, burst, 0);
    t = performance.now();
    if (measuring) {
      if (t - t0 >= d.durationMs) break;
    } else if (t >= warmEnd) {
      measuring = true;
      objs = 0;
      t0 = t;
    }
  }
  Atomics.add(ctl, DONE, 1);
  return { objs, ms: t - t0 };
}

function ringbufProducer(d: RingbufProducerData): Sent {
  const rb = new RingBuffer(d.sab, Uint32Array);
  const ctl = new Int32Array(d.ctl);
  const burst = d.burst;
  // Exactly `burst` long: ringbuf.js then copies a whole push with TypedArray.set (its fast path).
  const buf = handles(burst);
  const polls = pollsFor(burst);
  let objs = 0;
  Barrier.attach(d.start).arriveAndWait();
  while (Atomics.load(ctl, DONE) < 1) {
    for (let i = 0; i < polls; i++) objs += rb.push(buf, burst, 0);
  }
  return { objs };
}

function ringbufConsumer(d: RingbufConsumerData): Received {
  const rb = new RingBuffer(d.sab, Uint32Array);
  const ctl = new Int32Array(d.ctl);
  const burst = d.burst;
  const buf = new Uint32Array(burst);
  const polls = pollsFor(burst);
  Barrier.attach(d.start).arriveAndWait();
  let t = performance.now();
  let t0 = t;
  const warmEnd = t + d.warmupMs;
  let measuring = false;
  let objs = 0;
  for (;;) {
    for (let i = 0; i < polls; i++) objs += rb.pop(buf, burst, 0);
    t = performance.now();
    if (measuring) {
      if (t - t0 >= d.durationMs) break;
    } else if (t >= warmEnd) {
      measuring = true;
      objs = 0;
      t0 = t;
    }
  }
  Atomics.add(ctl, DONE, 1);
  return { objs, ms: t - t0 };
}

/**
 * MessagePort producer: posts as fast as it can, one u32 per message (burst 1) or one
 * Uint32Array of `burst` handles per message (structured clone copies it), with credit-based
 * flow control so memory stays bounded: at most `window` messages in flight; the consumer hands
 * credit back over the same channel, read here with receiveMessageOnPort (no event loop turn).
 */
function portProducer(d: PortProducerData): Sent {
  const port = d.port;
  const ctl = new Int32Array(d.ctl);
  const burst = d.burst;
  const batch = burst === 1 ? undefined : handles(burst);
  let credit = d.window;
  let seq = 0;
  let msgs = 0;
  Barrier.attach(d.start).arriveAndWait();
  while (Atomics.load(ctl, DONE) < 1) {
    let k = Math.min(credit, 256);
    credit -= k;
    msgs += k;
    if (batch === undefined) {
      while (k-- > 0) port.postMessage(seq++ & 0x3fffffff);
    } else {
      while (k-- > 0) port.postMessage(batch);
    }
    for (;;) {
      const m = receiveMessageOnPort(port);
      if (m === undefined) break;
      credit += m.message as number;
    }
  }
  port.close();
  return { objs: msgs * burst };
}

/**
 * MessagePort consumer: polls its port with receiveMessageOnPort, like the ring consumers poll
 * their ring (measured faster here than a 'message' listener: about 1.5 vs 1.1 M msg/s for
 * numbers, 0.8 vs 0.6 M msg/s for arrays of 32), and returns credit every `creditEvery` messages.
 */
function portConsumer(d: PortConsumerData): Received {
  const port = d.port;
  const ctl = new Int32Array(d.ctl);
  const creditEvery = d.creditEvery;
  let msgs = 0;
  let sinceCredit = 0;
  Barrier.attach(d.start).arriveAndWait();
  let t = performance.now();
  let t0 = t;
  const warmEnd = t + d.warmupMs;
  let measuring = false;
  for (;;) {
    for (let i = 0; i < 64; i++) {
      if (receiveMessageOnPort(port) === undefined) continue;
      msgs++;
      if (++sinceCredit === creditEvery) {
        sinceCredit = 0;
        port.postMessage(creditEvery);
      }
    }
    t = performance.now();
    if (measuring) {
      if (t - t0 >= d.durationMs) break;
    } else if (t >= warmEnd) {
      measuring = true;
      msgs = 0;
      t0 = t;
    }
  }
  Atomics.add(ctl, DONE, 1);
  port.close();
  return { objs: msgs * d.burst, ms: t - t0 };
}

const data = workerData as WorkerData;
switch (data.role) {
  case 'ring-producer':
    parentPort!.postMessage(ringProducer(data));
    break;
  case 'ring-consumer':
    parentPort!.postMessage(ringConsumer(data));
    break;
  case 'ringbuf-producer':
    parentPort!.postMessage(ringbufProducer(data));
    break;
  case 'ringbuf-consumer':
    parentPort!.postMessage(ringbufConsumer(data));
    break;
  case 'port-producer':
    parentPort!.postMessage(portProducer(data));
    break;
  case 'port-consumer':
    parentPort!.postMessage(portConsumer(data));
    break;
}
