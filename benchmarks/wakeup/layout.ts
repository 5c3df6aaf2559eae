// What bench.ts and workers.ts share: the SharedArrayBuffer layout and the messages between the
// main thread and the two worker threads. Kept apart from workers.ts, whose top level runs the
// worker, so that bench.ts can import it.
import type { MessagePort } from 'node:worker_threads';
import type { DoorbellDescriptor } from '@bypass/atomics-sync';

/** Byte offsets: each Doorbell and each mailbox word on its own 64-byte cache line. */
export const BELL_A_OFFSET = 0;
export const BELL_B_OFFSET = 64;
/** Int32 index of the word A writes (ping, k = 1, 2, ...; STOP ends B's loop). */
export const AB = 128 / 4;
/** Int32 index of the word B writes (pong: the k it saw). */
export const BA = 192 / 4;
export const SAB_BYTES = 256;
export const STOP = -1;

/** The measured series; 'clock' measures the cost of the timer itself. */
export type Mode =
  | 'doorbell'
  | 'postMessage'
  | 'spin'
  | 'yield-setImmediate'
  | 'yield-microtask'
  | 'yield-messageChannel'
  | 'clock';

export interface WakeupData {
  role: 'A' | 'B';
  sab: SharedArrayBuffer;
  bellA: DoorbellDescriptor;
  bellB: DoorbellDescriptor;
  /** A's and B's ends of the MessageChannel the postMessage series uses. */
  port: MessagePort;
}

export interface Command {
  mode: Mode;
  /** Timed iterations wanted. */
  count: number;
  /** Untimed iterations first (JIT, caches, B entering its loop); at most capMs / 4 of them. */
  warm: number;
  /** Stop timing early after this long (a loaded 2-core machine can make spinning very slow). */
  capMs: number;
}

export interface RunResult {
  mode: Mode;
  /** Iterations recorded (less than `count` when the cap stopped the run). */
  count: number;
  /** Median of this run, ns. */
  p50: number;
  /** This run's histogram, hdr.encodeIntoCompressedBase64. */
  histogram: string;
  capped: boolean;
}

/** Reply of B (when it ran a loop) and of both workers once loaded. */
export interface Ack {
  ack: 'ready' | 'done';
  role: 'A' | 'B';
}
