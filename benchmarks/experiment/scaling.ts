// The pure parts of `pnpm experiment scaling`: the lcore range, the efficiency against linear
// scaling (BENCHMARKS.md "Scaling": throughput(N) / (N * throughput(1))), the oversubscription
// rule, and the table. No threads here, so the test can check all of it.

export class ExperimentArgError extends Error {
  override name = 'ExperimentArgError';
}

/** The most lcores one point may ask for (the EAL's lcore ids are small integers). */
export const MAX_LCORES = 64;

/**
 * Parses an lcore count list: `1-4` (1, 2, 3, 4), `1,2,4`, or a mix (`1-2,4`). Returns the
 * counts sorted, without duplicates. Throws ExperimentArgError naming the bad value.
 */
export function parseLcoreRange(spec: string): number[] {
  if (spec.trim() === '') throw new ExperimentArgError('--lcores needs a value like 1-4 or 1,2,4');
  const out = new Set<number>();
  const count = (s: string): number => {
    if (!/^\d+$/.test(s))
      throw new ExperimentArgError(`--lcores: ${JSON.stringify(s)} in "${spec}" is not a count`);
    const n = Number(s);
    if (n < 1 || n > MAX_LCORES)
      throw new ExperimentArgError(`--lcores: ${n} in "${spec}" must be in [1, ${MAX_LCORES}]`);
    return n;
  };
  for (const part of spec.split(',')) {
    const p = part.trim();
    const dash = p.indexOf('-');
    if (dash < 0) {
      out.add(count(p));
      continue;
    }
    const lo = count(p.slice(0, dash).trim());
    const hi = count(p.slice(dash + 1).trim());
    if (hi < lo) throw new ExperimentArgError(`--lcores: range "${p}" in "${spec}" runs backwards`);
    for (let n = lo; n <= hi; n++) out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * Efficiency against linear scaling: throughput(N) / (N * throughput(1)). 1 is linear, below 1
 * is sub-linear. NaN when there is no usable 1-lcore throughput (missing, zero or not finite).
 */
export function efficiency(throughputN: number, n: number, throughput1: number): number {
  if (!(throughput1 > 0) || !Number.isFinite(throughput1) || n < 1) return Number.NaN;
  return throughputN / (n * throughput1);
}

/**
 * The oversubscription rule: a point is oversubscribed when its busy-polling threads (the
 * workload's lcores plus any load-generator lcores; see `busyThreads`) outnumber the cores
 * present. Such a point measures the OS scheduler, not scaling.
 */
export function oversubscribed(busyThreads: number, cores: number): boolean {
  return busyThreads > cores;
}

export function oversubscribedNote(busyThreads: number, cores: number): string {
  return `oversubscribed: ${busyThreads} busy lcores on ${cores} cores, numbers show the scheduler`;
}

/**
 * Not oversubscribed, but no core left over: the main thread (idle on timers), the runtime's own
 * threads and anything else on the machine take their time from the lcores. Said in the table.
 */
export function coresFull(busyThreads: number, cores: number): boolean {
  return busyThreads === cores;
}

export function coresFullNote(cores: number): string {
  return `all ${cores} cores busy: the main thread and the rest of the machine share them`;
}

/** What the table (and the JSON) says about a point's use of the cores; '' when there is room. */
export function coreRemark(busyThreads: number, cores: number): string {
  if (oversubscribed(busyThreads, cores)) return oversubscribedNote(busyThreads, cores);
  if (coresFull(busyThreads, cores)) return coresFullNote(cores);
  return '';
}

export interface Measurement {
  lcores: number;
  /** Busy-polling threads at this point (workload lcores plus load-generator lcores). */
  busyThreads: number;
  /** Median over the runs. */
  throughput: number;
  runs: number[];
}

export interface ScalingPoint {
  lcores: number;
  busyThreads: number;
  throughput: number;
  perLcore: number;
  efficiency: number;
  oversubscribed: boolean;
  runs: number[];
}

/**
 * Per-lcore throughput and efficiency for each measurement. The reference is the 1-lcore point;
 * without one (e.g. `--lcores 2-4`) efficiency is NaN everywhere (reported as null in JSON).
 */
export function scalingPoints(ms: readonly Measurement[], cores: number): ScalingPoint[] {
  const one = ms.find((m) => m.lcores === 1)?.throughput ?? Number.NaN;
  return ms.map((m) => ({
    lcores: m.lcores,
    busyThreads: m.busyThreads,
    throughput: m.throughput,
    perLcore: m.throughput / m.lcores,
    efficiency: efficiency(m.throughput, m.lcores, one),
    oversubscribed: oversubscribed(m.busyThreads, cores),
    runs: m.runs,
  }));
}

/** 3 significant digits, plain notation ('-' for NaN). */
export function formatValue(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (x === 0) return '0';
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))));
  return x.toFixed(Math.min(digits, 6));
}

/** The printed table: one row per point; oversubscribed points say so in their last column. */
export function formatTable(
  points: readonly ScalingPoint[],
  unit: string,
  cores: number,
): string[] {
  const head = ['lcores', 'busy', `throughput (${unit})`, `per lcore (${unit})`, 'efficiency', ''];
  const rows = points.map((p) => [
    String(p.lcores),
    String(p.busyThreads),
    formatValue(p.throughput),
    formatValue(p.perLcore),
    formatValue(p.efficiency),
    coreRemark(p.busyThreads, cores),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}
