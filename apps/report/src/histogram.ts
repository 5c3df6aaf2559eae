import * as hdr from 'hdr-histogram-js';

export type HistUnit = 'ns' | 'us';

export function decode(encoded: string): hdr.Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

/** Divisor that turns a recorded value into microseconds. */
export function toUsRatio(unit: HistUnit): number {
  return unit === 'ns' ? 1000 : 1;
}

/**
 * HdrHistogram's percentile distribution text (the format of Java's
 * outputPercentileDistribution, 5 ticks per half distance). Values are printed in the
 * histogram's own unit, or in microseconds with `outputUnit: 'us'`.
 */
export function percentileText(encoded: string, unit: HistUnit, outputUnit?: 'us'): string {
  const h = decode(encoded);
  const ratio = outputUnit === 'us' ? toUsRatio(unit) : 1;
  return h.outputPercentileDistribution(5, ratio);
}

/**
 * An HdrHistogram interval log (format version 1.3, as written by Java's HistogramLogWriter
 * and read by HistogramLogAnalyzer): one line per interval, `start,length,max,histogram`.
 * Interval_Max is in milliseconds (values recorded in ns are divided by 1e6, in µs by 1e3,
 * matching the Java writer's default for nanosecond histograms).
 */
export function intervalLog(
  histograms: { startS: number; endS: number; encoded: string }[],
  unit: HistUnit,
): string {
  let out = '';
  const writer = new hdr.HistogramLogWriter((s) => {
    out += s;
  });
  writer.outputLogFormatVersion();
  writer.outputComment(`[Values recorded in ${unit === 'ns' ? 'nanoseconds' : 'microseconds'}]`);
  writer.outputLegend();
  const maxRatio = unit === 'ns' ? 1e6 : 1e3;
  for (const { startS, endS, encoded } of histograms) {
    writer.outputIntervalHistogram(decode(encoded), startS, endS, maxRatio);
  }
  return out;
}

/** Percentiles for the HTML/Markdown tables. */
export const TABLE_PERCENTILES = [50, 75, 90, 99, 99.9, 99.99, 99.999] as const;

export interface PercentileRow {
  label: string;
  valueUs: number;
}

export interface LatencyStats {
  count: number;
  meanUs: number;
  maxUs: number;
  rows: PercentileRow[];
  /** Points for the 1/(1-p) chart: x = 1/(1-p), y = value in µs. */
  curve: { x: number; y: number }[];
}

export function latencyStats(encoded: string, unit: HistUnit): LatencyStats {
  const h = decode(encoded);
  const r = toUsRatio(unit);
  const count = h.totalCount;
  const rows: PercentileRow[] = TABLE_PERCENTILES.map((p) => ({
    label: `p${p}`,
    valueUs: h.getValueAtPercentile(p) / r,
  }));
  rows.push({ label: 'max', valueUs: h.maxValue / r });
  const curve: { x: number; y: number }[] = [];
  if (count > 0) {
    // Up to 1/(1-p) = count (beyond that, every percentile is the max), 20 points a decade.
    const top = Math.max(1, Math.log10(count));
    for (let k = 0; k <= top * 20; k++) {
      const x = 10 ** (k / 20);
      curve.push({ x, y: h.getValueAtPercentile(100 - 100 / x) / r });
    }
    curve.push({ x: 10 ** Math.ceil(top), y: h.maxValue / r });
  }
  return { count, meanUs: h.mean / r, maxUs: h.maxValue / r, rows, curve };
}
