import { checkCount, checkDescriptor, int32Region, type SyncDescriptor } from './region.js';
import { parkAsync } from './wait.js';

const ARRIVED = 0;
const GENERATION = 1;
const PARTIES = 2;

export type BarrierDescriptor = SyncDescriptor<'barrier'>;

/**
 * A reusable barrier for a fixed number of parties, in 12 bytes of a SharedArrayBuffer.
 * Each round is a generation: nobody leaves generation g until all parties have arrived in g,
 * and the last to arrive opens it by advancing the generation counter (which is what the
 * others park on, so a fast thread that re-arrives for g+1 cannot release anyone from g).
 */
export class Barrier {
  static readonly BYTES = 12;

  readonly descriptor: BarrierDescriptor;
  readonly parties: number;
  readonly #w: Int32Array;

  private constructor(desc: BarrierDescriptor) {
    this.#w = int32Region('Barrier', desc.sab, desc.byteOffset, Barrier.BYTES);
    this.descriptor = desc;
    this.parties = Atomics.load(this.#w, PARTIES);
  }

  /** Initialises a barrier for `parties` threads (>= 1). */
  static create(sab: SharedArrayBuffer, byteOffset: number, parties: number): Barrier {
    checkCount('parties', parties, 1);
    const w = int32Region('Barrier', sab, byteOffset, Barrier.BYTES);
    Atomics.store(w, ARRIVED, 0);
    Atomics.store(w, GENERATION, 0);
    Atomics.store(w, PARTIES, parties);
    return new Barrier({ kind: 'barrier', sab, byteOffset });
  }

  static attach(desc: BarrierDescriptor): Barrier {
    checkDescriptor('barrier', desc);
    return new Barrier(desc);
  }

  /** The number of generations completed so far. */
  generation(): number {
    return Atomics.load(this.#w, GENERATION);
  }

  /**
   * Arrives and blocks until every party has arrived in this generation. Returns true in
   * exactly one party per generation (the last to arrive, as PTHREAD_BARRIER_SERIAL_THREAD).
   */
  arriveAndWait(): boolean {
    const w = this.#w;
    const gen = Atomics.load(w, GENERATION);
    if (this.#arrive(gen)) return true;
    while (Atomics.load(w, GENERATION) === gen) Atomics.wait(w, GENERATION, gen);
    return false;
  }

  /** As `arriveAndWait`, waiting with Atomics.waitAsync so the event loop keeps running. */
  async arriveAndWaitAsync(): Promise<boolean> {
    const w = this.#w;
    const gen = Atomics.load(w, GENERATION);
    if (this.#arrive(gen)) return true;
    while (Atomics.load(w, GENERATION) === gen) {
      await parkAsync(w, GENERATION, gen, Number.POSITIVE_INFINITY);
    }
    return false;
  }

  /** Counts this arrival; the last party resets the count and opens the generation. */
  #arrive(gen: number): boolean {
    const w = this.#w;
    if (Atomics.add(w, ARRIVED, 1) + 1 < this.parties) return false;
    // Reset before advancing: parties of the next generation only arrive after seeing the
    // new generation number, so they always count from zero.
    Atomics.store(w, ARRIVED, 0);
    Atomics.store(w, GENERATION, (gen + 1) | 0);
    Atomics.notify(w, GENERATION);
    return true;
  }
}
