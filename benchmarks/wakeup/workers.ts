// Worker side of the wakeup benchmark: two long-lived threads, A (pinger, measures) and B
// (ponger), used by every series, so all of them run between the same two threads.
//
// Clock: process.hrtime.bigint(). Both Node 20 clocks read the same uv_hrtime nanoseconds;
// hrtime.bigint gives them as an exact integer (performance.now converts to float ms relative to
// timeOrigin), and costs a little less per call here (~37 vs ~45 ns). Neither is allocation-free
// in Node 20: hrtime.bigint boxes one BigInt per read, performance.now builds a [s, ns] array, so
// the timestamp reads are the only allocation in the timed loops below (and equal for every
// series). The 'clock' mode measures a back-to-back pair of reads: the floor of every value.
import { MessageChannel, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { Doorbell } from '@bypass/atomics-sync';
import * as hdr from 'hdr-histogram-js';
import {
  AB,
  type Ack,
  BA,
  type Command,
  type Mode,
  type RunResult,
  STOP,
  type WakeupData,
} from './layout.js';

const data = workerData as WakeupData;
const box = new Int32Array(data.sab);
const bellA = Doorbell.attach(data.bellA);
const bellB = Doorbell.attach(data.bellB);
const port: MessagePort = data.port;
const parent = parentPort!;
const now = process.hrtime.bigint;

function reply(m: RunResult | Ack): void {
  parent.postMessage(m);
}

// ---------------------------------------------------------------------------------------------
// B: answers pings. Between series it sits idle in its event loop.

/** Doorbell pong loop: ticket, look for a new ping, park if none; answer and ring A. */
function pongDoorbell(): void {
  let last = 0;
  for (;;) {
    let v = 0;
    for (;;) {
      const t = bellB.ticket();
      v = Atomics.load(box, AB);
      if (v !== last) break;
      bellB.park(t);
    }
    if (v === STOP) return;
    last = v;
    Atomics.store(box, BA, v);
    bellA.ring();
  }
}

/** Busy-poll pong loop: spin on the ping word, answer. Holds a core at 100% while it runs. */
function pongSpin(): void {
  let last = 0;
  for (;;) {
    let v = Atomics.load(box, AB);
    while (v === last) v = Atomics.load(box, AB);
    if (v === STOP) return;
    last = v;
    Atomics.store(box, BA, v);
  }
}

function runB(): void {
  // postMessage series: echo every ping. Always on; idle while A sends nothing.
  port.on('message', (v: number) => port.postMessage(v));
  parent.on('message', (c: Command) => {
    if (c.mode === 'doorbell') pongDoorbell();
    else if (c.mode === 'spin') pongSpin();
    else throw new Error(`wakeup worker B: no loop for ${c.mode}`);
    reply({ ack: 'done', role: 'B' });
  });
}

// ---------------------------------------------------------------------------------------------
// A: pings and measures. One preallocated histogram per mode, reset at every run.

const histograms = new Map<Mode, hdr.Histogram>();
function histogramFor(mode: Mode): hdr.Histogram {
  let h = histograms.get(mode);
  if (h === undefined) {
    h = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 1e10,
      numberOfSignificantValueDigits: 3,
    });
    histograms.set(mode, h);
  }
  h.reset();
  return h;
}

/**
 * One run's laps: `warm` unrecorded laps (cut short after a quarter of the cap), then up to
 * `count` recorded ones, cut short at `capMs` (a 2-core machine busy with other work can make a
 * spin round trip cost a scheduler tick). At least one lap is always recorded. Per lap it
 * allocates nothing beyond the clock's BigInts and the t1 - t0 BigInt it records.
 */
class Laps {
  capped = false;
  #n = 0;
  #recording = false;
  readonly #capNs: bigint;
  #end: bigint;

  constructor(
    readonly c: Command,
    readonly h: hdr.Histogram,
  ) {
    this.#capNs = BigInt(Math.round(c.capMs * 1e6));
    this.#end = now() + this.#capNs / 4n;
  }

  /** Counts the lap t0..t1 (records it once warm); true when the run is over. */
  lap(t0: bigint, t1: bigint): boolean {
    if (this.#recording) {
      this.h.recordValue(Number(t1 - t0));
      if (++this.#n >= this.c.count) return true;
      if (t1 > this.#end) {
        this.capped = true;
        return true;
      }
      return false;
    }
    if (++this.#n >= this.c.warm || t1 > this.#end) {
      this.#recording = true;
      this.#n = 0;
      this.#end = t1 + this.#capNs;
    }
    return false;
  }
}

/** Doorbell ping loop: store k, ring B, park on A's own Doorbell until B's answer is k. */
function pingDoorbell(laps: Laps): void {
  for (let k = 1; ; k++) {
    const t0 = now();
    Atomics.store(box, AB, k);
    bellB.ring();
    for (;;) {
      const t = bellA.ticket();
      if (Atomics.load(box, BA) === k) break;
      bellA.park(t);
    }
    if (laps.lap(t0, now())) break;
  }
  Atomics.store(box, AB, STOP);
  bellB.ring();
}

/** Busy-poll ping loop: store k, spin until B's answer is k. */
function pingSpin(laps: Laps): void {
  for (let k = 1; ; k++) {
    const t0 = now();
    Atomics.store(box, AB, k);
    while (Atomics.load(box, BA) !== k) {}
    if (laps.lap(t0, now())) break;
  }
  Atomics.store(box, AB, STOP);
}

// postMessage ping loop, callback-driven (the fastest form: no promise per message): the
// 'message' handler times the round trip and sends the next ping. State lives in module
// variables so that the handler is one function allocated once.
let pmK = 0;
let pmT0 = 0n;
let pmLaps: Laps | undefined;
let pmDone: (() => void) | undefined;

function onPong(v: number): void {
  const t1 = now();
  if (v !== pmK) throw new Error(`wakeup: postMessage pong ${v}, expected ${pmK}`);
  if (pmLaps!.lap(pmT0, t1)) {
    pmDone!();
    return;
  }
  pmK++;
  pmT0 = now();
  port.postMessage(pmK);
}

function pingPostMessage(laps: Laps): Promise<void> {
  return new Promise((resolve) => {
    pmLaps = laps;
    pmDone = resolve;
    pmK = 1;
    pmT0 = now();
    port.postMessage(pmK);
  });
}

// Event-loop yields, timed one by one on A alone (B idles in its event loop). These allocate
// per iteration by nature: what is measured is the promise (and Immediate / message) machinery.
const viaImmediate = (resolve: () => void): void => {
  setImmediate(resolve);
};
let yieldChannel: MessageChannel | undefined; // A's own channel, made by runA
let resumeChannel: (() => void) | undefined;
const viaChannel = (resolve: () => void): void => {
  resumeChannel = resolve;
  yieldChannel!.port1.postMessage(0);
};

async function yields(laps: Laps): Promise<void> {
  const mode = laps.c.mode;
  for (;;) {
    const t0 = now();
    if (mode === 'yield-setImmediate') await new Promise<void>(viaImmediate);
    else if (mode === 'yield-microtask') await Promise.resolve();
    else await new Promise<void>(viaChannel);
    if (laps.lap(t0, now())) return;
  }
}

/** Two back-to-back clock reads: what every recorded value includes at least. */
function clockPairs(laps: Laps): void {
  for (;;) {
    const t0 = now();
    if (laps.lap(t0, now())) return;
  }
}

async function measure(c: Command): Promise<RunResult> {
  const h = histogramFor(c.mode);
  const laps = new Laps(c, h);
  switch (c.mode) {
    case 'doorbell':
      pingDoorbell(laps);
      break;
    case 'spin':
      pingSpin(laps);
      break;
    case 'postMessage':
      await pingPostMessage(laps);
      break;
    case 'clock':
      clockPairs(laps);
      break;
    default:
      await yields(laps);
  }
  return {
    mode: c.mode,
    count: h.totalCount,
    p50: h.getValueAtPercentile(50),
    histogram: hdr.encodeIntoCompressedBase64(h),
    capped: laps.capped,
  };
}

function runA(): void {
  port.on('message', onPong);
  yieldChannel = new MessageChannel();
  yieldChannel.port2.on('message', () => resumeChannel!());
  parent.on('message', async (c: Command) => {
    reply(await measure(c));
  });
}

if (data.role === 'A') runA();
else runB();
reply({ ack: 'ready', role: data.role });
