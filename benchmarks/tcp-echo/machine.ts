// How busy the rest of the machine was while a run took place. On a 2-core machine a third
// runnable thread takes a core from a busy-polling lcore (or wakes a sleeping node:net thread
// late), so a run's numbers mean little unless the machine was otherwise quiet. This measures,
// per run, the CPU that everything outside this process used: non-idle time from /proc/stat
// minus this process's own (process.cpuUsage(): every thread, workers included), per second of
// wall time (cores). Linux only; elsewhere it reports NaN.
import { readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { round3 } from '@bypass/bench-harness';

export interface CpuSample {
  /** ms, performance.now(). */
  wall: number;
  /** Non-idle time of every CPU since boot, ms (NaN without /proc/stat). */
  busyMs: number;
  /** This process's user + system CPU, ms. */
  selfMs: number;
}

/** USER_HZ: /proc/stat counts in 1/100 s on every Linux that Node supports. */
const TICK_MS = 10;

function busyMs(): number {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0];
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * TICK_MS;
  } catch {
    return Number.NaN;
  }
}

export function sampleCpu(): CpuSample {
  const u = process.cpuUsage();
  return { wall: performance.now(), busyMs: busyMs(), selfMs: (u.user + u.system) / 1000 };
}

/** Cores used on average by everything but this process between two samples (>= 0). */
export function otherCores(a: CpuSample, b: CpuSample): number {
  const wall = b.wall - a.wall;
  if (!(wall > 0)) return Number.NaN;
  const other = b.busyMs - a.busyMs - (b.selfMs - a.selfMs);
  return Math.max(0, other / wall);
}

/**
 * Per series, the mean and the largest of otherCores() over its measured runs (round3), and the
 * largest of all: what a result reports of the rest of the machine.
 */
export function otherCoresBySeries(runs: ReadonlyMap<string, readonly number[]>): {
  bySeries: Record<string, { mean: number; max: number }>;
  worst: number;
} {
  const bySeries: Record<string, { mean: number; max: number }> = {};
  let worst = 0;
  for (const [name, v] of runs) {
    const mean = v.reduce((a, x) => a + x, 0) / Math.max(1, v.length);
    const max = Math.max(0, ...v);
    worst = Math.max(worst, max);
    bySeries[name] = { mean: round3(mean), max: round3(max) };
  }
  return { bySeries, worst };
}

/**
 * This process's scheduling priority: its nice value and, where the kernel groups sessions
 * (autogroup), its session group's nice, which is what counts against other sessions'
 * processes. A run started with `nice -n -20` in a session whose autogroup nice is -20 takes the
 * CPUs ahead of other sessions' processes (both sides alike); the results should say so.
 */
export function schedulingInfo(): { nice: number; autogroupNice?: number } {
  const nice = getPriority();
  try {
    const m = /nice\s+(-?\d+)/.exec(readFileSync('/proc/self/autogroup', 'latin1'));
    return m === null ? { nice } : { nice, autogroupNice: Number(m[1]) };
  } catch {
    return { nice };
  }
}
