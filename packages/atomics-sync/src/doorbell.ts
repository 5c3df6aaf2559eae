import { checkDescriptor, int32Region, type SyncDescriptor } from './region.js';
import { parkAsync, type WaitResult } from './wait.js';

const SEQ = 0;
const SLEEPERS = 1;

export type DoorbellDescriptor = SyncDescriptor<'doorbell'>;

/** What `park` saw: a ring (before or during the park), or the timeout. */
export type ParkResult = 'rung' | 'timed-out';

function parkResult(r: WaitResult): ParkResult {
  return r === 'timed-out' ? 'timed-out' : 'rung';
}

/**
 * A doorbell for adaptive polling, in 8 bytes: a poller that found no work parks until a
 * producer rings. No ring is lost: the poller takes a `ticket()` *before* its last look for
 * work, and `park(ticket)` returns at once if anyone rang since that ticket.
 *
 *     const t = bell.ticket();
 *     if (ring.count() === 0) bell.park(t, 1);   // producer: enqueue, then bell.ring()
 *
 * `ring()` costs one atomic add and one load while nobody sleeps; it only enters the kernel
 * (Atomics.notify) when a poller is parked.
 */
export class Doorbell {
  static readonly BYTES = 8;

  readonly descriptor: DoorbellDescriptor;
  readonly #w: Int32Array;

  private constructor(desc: DoorbellDescriptor) {
    this.#w = int32Region('Doorbell', desc.sab, desc.byteOffset, Doorbell.BYTES);
    this.descriptor = desc;
  }

  static create(sab: SharedArrayBuffer, byteOffset = 0): Doorbell {
    const d = new Doorbell({ kind: 'doorbell', sab, byteOffset });
    Atomics.store(d.#w, SEQ, 0);
    Atomics.store(d.#w, SLEEPERS, 0);
    return d;
  }

  static attach(desc: DoorbellDescriptor): Doorbell {
    checkDescriptor('doorbell', desc);
    return new Doorbell(desc);
  }

  /** The ring count now. Take it before the last check for work, then pass it to `park`. */
  ticket(): number {
    return Atomics.load(this.#w, SEQ);
  }

  /** Rings: every poller parked (or about to park) on an older ticket wakes. */
  ring(): void {
    const w = this.#w;
    Atomics.add(w, SEQ, 1);
    // Dekker pairing with park(): both sides write then read with seq-cst Atomics, so either we
    // see the sleeper and notify, or the sleeper sees the new SEQ and does not sleep.
    if (Atomics.load(w, SLEEPERS) !== 0) Atomics.notify(w, SEQ);
  }

  /** Parks until a ring newer than `ticket`, or `timeoutMs` (default forever). */
  park(ticket: number, timeoutMs = Number.POSITIVE_INFINITY): ParkResult {
    const w = this.#w;
    Atomics.add(w, SLEEPERS, 1);
    const r = Atomics.wait(w, SEQ, ticket, timeoutMs);
    Atomics.sub(w, SLEEPERS, 1);
    return parkResult(r);
  }

  /** As `park`, with Atomics.waitAsync for the main thread. */
  async parkAsync(ticket: number, timeoutMs = Number.POSITIVE_INFINITY): Promise<ParkResult> {
    const w = this.#w;
    Atomics.add(w, SLEEPERS, 1);
    try {
      return parkResult(await parkAsync(w, SEQ, ticket, timeoutMs));
    } finally {
      Atomics.sub(w, SLEEPERS, 1);
    }
  }
}
