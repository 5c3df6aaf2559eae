import { Mutex } from '@bypass/atomics-sync';
import * as hdr from 'hdr-histogram-js';
import { MAX_LCORES } from './args.js';
import { context } from './context.js';
import { EalError } from './errors.js';
import { type EalMemory, MemzoneKind } from './memory.js';

/**
 * Per-lcore statistics. Counters are float64 slots in shared memory, one row per lcore, so the
 * main thread reads every lcore's counters at any time without a message; a counter is
 * registered by name once (slow path) and bumped by index (hot path: one add, no lookup).
 * Latency goes into this lcore's own HDR histogram (hdr-histogram-js; histograms cannot live in
 * shared memory), which the lcore hands over encoded when it finishes or when asked between
 * loop slices, and the main thread merges.
 */

export const MAX_COUNTERS = 64;
const NAME_BYTES = 32;
const ZONE = 'eal_stats';
// Zone layout: [Mutex 8][count 4][pad] names at 64, counters at 64 + 64 * 32.
const COUNT_WORD = 2;
const NAMES_OFF = 64;
const COUNTERS_OFF = NAMES_OFF + MAX_COUNTERS * NAME_BYTES;
const ZONE_BYTES = COUNTERS_OFF + MAX_LCORES * MAX_COUNTERS * 8;

/** Counters every lcore loop keeps. */
export const LOOP_COUNTERS = [
  'loop_polls',
  'loop_idle_polls',
  'loop_work',
  'loop_parks',
  'loop_slices',
  'loop_early_yields',
] as const;

export function reserveStatsZone(memory: EalMemory): void {
  const z = memory.reserve(ZONE, ZONE_BYTES, MemzoneKind.RAW);
  Mutex.create(z.sab, z.byteOffset);
  const stats = new StatsTable(memory);
  for (const name of LOOP_COUNTERS) stats.counterId(name);
}

export class StatsTable {
  private readonly words: Uint32Array;
  private readonly lock: Mutex;
  readonly counters: Float64Array;

  constructor(memory: EalMemory) {
    const z = memory.lookup(ZONE);
    if (z === undefined) throw new EalError('the EAL stats memzone is missing; was init() called?');
    this.words = new Uint32Array(z.sab, z.byteOffset, COUNTERS_OFF / 4);
    this.lock = Mutex.attach({ kind: 'mutex', sab: z.sab, byteOffset: z.byteOffset });
    this.counters = new Float64Array(z.sab, z.byteOffset + COUNTERS_OFF, MAX_LCORES * MAX_COUNTERS);
  }

  /** The index of counter `name`, registering it on first use (the same index on every lcore). */
  counterId(name: string): number {
    if (name.length === 0 || name.length > NAME_BYTES)
      throw new EalError(`counter name ${JSON.stringify(name)} must be 1-32 characters`);
    const i = this.find(name);
    if (i >= 0) return i;
    this.lock.lock();
    try {
      const again = this.find(name);
      if (again >= 0) return again;
      const n = Atomics.load(this.words, COUNT_WORD);
      if (n >= MAX_COUNTERS)
        throw new EalError(`counter ${name}: all ${MAX_COUNTERS} counters are registered`);
      const base = NAMES_OFF / 4 + n * (NAME_BYTES / 4);
      for (let k = 0; k < name.length; k++)
        this.words[base + (k >> 2)] |= name.charCodeAt(k) << ((k & 3) * 8);
      Atomics.store(this.words, COUNT_WORD, n + 1);
      return n;
    } finally {
      this.lock.unlock();
    }
  }

  names(): string[] {
    const n = Atomics.load(this.words, COUNT_WORD);
    return Array.from({ length: n }, (_, i) => this.nameAt(i));
  }

  /** Every registered counter of lcore `id`, by name. */
  snapshot(id: number): Record<string, number> {
    const out: Record<string, number> = {};
    const names = this.names();
    for (let i = 0; i < names.length; i++) out[names[i]] = this.counters[id * MAX_COUNTERS + i];
    return out;
  }

  private find(name: string): number {
    const n = Atomics.load(this.words, COUNT_WORD);
    for (let i = 0; i < n; i++) if (this.nameAt(i) === name) return i;
    return -1;
  }

  private nameAt(i: number): string {
    const base = NAMES_OFF / 4 + i * (NAME_BYTES / 4);
    let s = '';
    for (let k = 0; k < NAME_BYTES; k++) {
      const c = (this.words[base + (k >> 2)] >>> ((k & 3) * 8)) & 0xff;
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s;
  }
}

/** This thread's view: its row of counters and its histogram. */
export class LcoreStats {
  readonly table: StatsTable;
  /** This lcore's counters: `row[counterId] += n`. */
  readonly row: Float64Array;
  /** Latency in nanoseconds, 1 ns to 100 s, 3 significant digits. */
  readonly latency: hdr.Histogram;

  constructor(memory: EalMemory, lcoreId: number) {
    this.table = new StatsTable(memory);
    this.row = this.table.counters.subarray(lcoreId * MAX_COUNTERS, (lcoreId + 1) * MAX_COUNTERS);
    this.latency = newLatencyHistogram();
  }

  counterId(name: string): number {
    return this.table.counterId(name);
  }
}

export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 100e9,
    numberOfSignificantValueDigits: 3,
  });
}

let mine: LcoreStats | undefined;

/** This lcore's statistics (counters and latency histogram). */
export function lcoreStats(): LcoreStats {
  if (mine === undefined) {
    const ctx = context();
    mine = new LcoreStats(ctx.memory, ctx.lcoreId);
  }
  return mine;
}

export function resetLcoreStats(): void {
  mine = undefined;
}

/** Merges encoded histograms (HdrHistogram compressed base64) into one. */
export function mergeHistograms(encoded: readonly string[]): hdr.Histogram {
  const merged = newLatencyHistogram();
  for (const e of encoded) if (e) merged.add(hdr.decodeFromCompressedBase64(e));
  return merged;
}
