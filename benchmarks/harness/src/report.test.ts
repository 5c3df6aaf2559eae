import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  latencySummary,
  latencyTable,
  type PercentileSource,
  pad,
  RESULTS_DIR,
  tableRow,
  writeSkipped,
} from './report.js';

afterEach(() => vi.restoreAllMocks());

describe('pad and tableRow', () => {
  it('pads on the right, or on the left for numbers; leaves a longer string as it is', () => {
    expect(pad('ab', 5)).toBe('ab   ');
    expect(pad('12', 5, true)).toBe('   12');
    expect(pad('abcdef', 3)).toBe('abcdef');
    expect(pad('abc', 3, true)).toBe('abc');
  });

  it('puts the name column left-aligned and the numbers right-aligned, two spaces apart', () => {
    expect(tableRow(['series', 'p50', 'max'], [8, 5, 6])).toBe('series      p50     max');
    expect(tableRow(['bypass-c1', '12.5', '1000'], [8, 5, 6])).toBe('bypass-c1   12.5    1000');
  });
});

describe('latencySummary', () => {
  // A histogram of the values 1000..100000 ns step 1000: percentile p is the value at rank p%.
  const values = Array.from({ length: 100 }, (_, i) => (i + 1) * 1000);
  const h: PercentileSource = {
    getValueAtPercentile: (p) => values[Math.max(0, Math.ceil((p / 100) * values.length) - 1)],
    maxValue: 100_000,
    mean: 50_500,
    totalCount: 100,
  };

  it('reads p50, p90, p99, p99.9, max, mean and the count', () => {
    expect(latencySummary(h)).toEqual({
      p50: 50_000,
      p90: 90_000,
      p99: 99_000,
      p99_9: 100_000,
      max: 100_000,
      mean: 50_500,
      count: 100,
    });
  });

  it('divides by the divisor (ns to µs) and rounds to 3 significant digits', () => {
    const us = latencySummary({ ...h, mean: 50_555, maxValue: 123_456 }, 1000);
    expect(us).toEqual({
      p50: 50,
      p90: 90,
      p99: 99,
      p99_9: 100,
      max: 123,
      mean: 50.6,
      count: 100,
    });
  });
});

describe('latencyTable', () => {
  it('prints the header and one row per series, values divided for display, count as it is', () => {
    const s = {
      p50: 42143,
      p90: 46879,
      p99: 66623,
      p99_9: 105535,
      max: 298239,
      mean: 1,
      count: 6000,
    };
    expect(latencyTable({ doorbell: s }, [10, 6, 6, 6, 6, 6, 6], 1e3)).toEqual([
      'series         p50     p90     p99   p99.9     max   count',
      'doorbell      42.1    46.9    66.6     106     298    6000',
    ]);
    expect(latencyTable({ doorbell: s }, [10, 6, 6, 6, 6, 6, 6])[1]).toBe(
      'doorbell     42143   46879   66623  105535  298239    6000',
    );
  });
});

describe('writeSkipped', () => {
  it('prints why, then the result with null figures as the last line, and writes it', () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      lines.push(a.join(' '));
    });
    const r = writeSkipped(
      {
        bench: 'harness-selftest-skipped',
        metric: 'Mpps',
        baseline: 'kernel',
        params: { quick: true },
        quick: true,
      },
      'not root',
    );
    expect(lines[0]).toBe('# harness-selftest-skipped: skipped: not root');
    expect(lines).toHaveLength(2);
    const last = JSON.parse(lines[1]);
    expect(last).toEqual(r);
    expect(last).toMatchObject({
      bench: 'harness-selftest-skipped',
      metric: 'Mpps',
      value: null,
      min: null,
      max: null,
      baseline: { name: 'kernel', value: null },
      ratio: null,
      params: { quick: true },
      cases: [],
      quick: true,
      skipped: 'not root',
    });
    const file = join(RESULTS_DIR, 'harness-selftest-skipped.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(last);
  });
});
