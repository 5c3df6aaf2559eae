// Reporting helpers the benchmarks share: table cells, latency summaries of HDR histograms, and
// the result of a benchmark that cannot run here.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round3 } from './stats.js';

/** Where results go: benchmarks/results/ at the repository root. */
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'results');

/** `s` padded with spaces to `n` characters: on the right, or on the left (`left`, for numbers);
 * a longer `s` is left as it is. */
export function pad(s: string, n: number, left = false): string {
  if (s.length >= n) return s;
  const fill = ' '.repeat(n - s.length);
  return left ? fill + s : s + fill;
}

/** One table line: the first cell (a name) padded on the right, the others (numbers) on the
 * left, to `widths`, two spaces apart. */
export function tableRow(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => pad(c, widths[i] ?? 0, i > 0)).join('  ');
}

/** What latencySummary reads of a histogram: hdr-histogram-js's Histogram has it. */
export interface PercentileSource {
  getValueAtPercentile(percentile: number): number;
  readonly maxValue: number;
  readonly mean: number;
  readonly totalCount: number;
}

/** Percentiles, max and mean of a latency histogram (in the unit latencySummary was asked for),
 * and how many values it holds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
  mean: number;
  count: number;
}

/** The summary of `h` with every value divided by `divisor` (1000: ns recorded, µs reported)
 * and rounded to 3 significant digits (round3). */
export function latencySummary(h: PercentileSource, divisor = 1): LatencySummary {
  const v = (x: number) => round3(x / divisor);
  return {
    p50: v(h.getValueAtPercentile(50)),
    p90: v(h.getValueAtPercentile(90)),
    p99: v(h.getValueAtPercentile(99)),
    p99_9: v(h.getValueAtPercentile(99.9)),
    max: v(h.maxValue),
    mean: v(h.mean),
    count: h.totalCount,
  };
}

/** The latency table every latency benchmark prints: a header (series, p50, p90, p99, p99.9,
 * max, count) and a row per series, values divided by `divisor` for display (1000: a summary in
 * ns shown in µs), columns `widths` wide. */
export function latencyTable(
  series: Readonly<Record<string, LatencySummary>>,
  widths: readonly number[],
  divisor = 1,
): string[] {
  const lines = [tableRow(['series', 'p50', 'p90', 'p99', 'p99.9', 'max', 'count'], widths)];
  for (const [name, s] of Object.entries(series)) {
    const values = [s.p50, s.p90, s.p99, s.p99_9, s.max].map((v) => String(round3(v / divisor)));
    lines.push(tableRow([name, ...values, String(s.count)], widths));
  }
  return lines;
}

/** The machine a result was measured on. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/**
 * Ends a benchmark per the contract: writes `result` to RESULTS_DIR/<bench>.json (a failure to
 * write is printed, not thrown) and prints it as the last line of stdout.
 */
export function writeResult(bench: string, result: Record<string, unknown>): void {
  try {
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, `${bench}.json`), `${JSON.stringify(result, null, 2)}\n`);
  } catch (e) {
    console.log(
      `# ${bench}: could not write ${RESULTS_DIR}/${bench}.json: ${(e as Error).message}`,
    );
  }
  console.log(JSON.stringify(result));
}

export interface SkippedSpec {
  bench: string;
  metric: string;
  /** The baseline series' name. */
  baseline: string;
  params: Record<string, unknown>;
  quick: boolean;
}

/**
 * A benchmark that cannot run here (no root, no tap support): says why, and ends with the result
 * the contract asks for, every figure null and `skipped` the reason. Returns that result.
 */
export function writeSkipped(spec: SkippedSpec, reason: string): Record<string, unknown> {
  console.log(`# ${spec.bench}: skipped: ${reason}`);
  const result = {
    bench: spec.bench,
    metric: spec.metric,
    value: null,
    min: null,
    max: null,
    baseline: { name: spec.baseline, value: null },
    ratio: null,
    params: spec.params,
    machine: machineInfo(),
    cases: [],
    date: new Date().toISOString(),
    quick: spec.quick,
    skipped: reason,
  };
  writeResult(spec.bench, result);
  return result;
}
