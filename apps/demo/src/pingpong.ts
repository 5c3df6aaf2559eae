// One side of the ping-pong. Runs on a worker thread ("lcore"). The pinger stamps the ball,
// hands it over and waits for it back; the ponger returns it. Waiting is either busy polling
// (spin on the shared word, as a DPDK lcore does) or parking on a Doorbell (adaptive polling's
// idle state), so the histograms show what parking costs in wake-up latency.
import { parentPort, workerData } from 'node:worker_threads';
import {
  Barrier,
  type BarrierDescriptor,
  Doorbell,
  type DoorbellDescriptor,
} from '@bypass/atomics-sync';
import * as hdr from 'hdr-histogram-js';

export type WaitMode = 'spin' | 'park';

export interface PingPongData {
  side: 'ping' | 'pong';
  mode: WaitMode;
  roundTrips: number;
  warmup: number;
  /** words[0]: the ball, odd = with the ponger, even = with the pinger. */
  ball: SharedArrayBuffer;
  bells: [DoorbellDescriptor, DoorbellDescriptor];
  start: BarrierDescriptor;
}

export interface PingResult {
  /** Round-trip times in nanoseconds, HdrHistogram compressed base64. */
  histogram: string;
  elapsedMs: number;
}

const d = workerData as PingPongData;
const ball = new Int32Array(d.ball);
const mine = Doorbell.attach(d.bells[d.side === 'ping' ? 0 : 1]);
const theirs = Doorbell.attach(d.bells[d.side === 'ping' ? 1 : 0]);
const total = d.warmup + d.roundTrips;

/** Waits until the ball holds `value`. */
function await_(value: number): void {
  if (d.mode === 'spin') {
    while (Atomics.load(ball, 0) !== value) {}
    return;
  }
  for (;;) {
    const ticket = mine.ticket();
    if (Atomics.load(ball, 0) === value) return;
    mine.park(ticket);
  }
}

function pass(value: number): void {
  Atomics.store(ball, 0, value);
  if (d.mode === 'park') theirs.ring();
}

Barrier.attach(d.start).arriveAndWait();
if (d.side === 'pong') {
  for (let i = 0; i < total; i++) {
    await_(2 * i + 1);
    pass(2 * i + 2);
  }
  parentPort!.postMessage(null);
} else {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 10e9,
    numberOfSignificantValueDigits: 3,
  });
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const sent = process.hrtime.bigint();
    pass(2 * i + 1);
    await_(2 * i + 2);
    if (i >= d.warmup) h.recordValue(Number(process.hrtime.bigint() - sent));
  }
  const result: PingResult = {
    histogram: hdr.encodeIntoCompressedBase64(h),
    elapsedMs: performance.now() - t0,
  };
  parentPort!.postMessage(result);
}
