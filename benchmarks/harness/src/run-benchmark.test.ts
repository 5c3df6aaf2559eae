import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RESULTS_DIR, runBenchmark } from './index.js';

afterEach(() => vi.restoreAllMocks());

describe('runBenchmark', () => {
  it('interleaves subject and baseline, reports medians, ends stdout with the JSON line', async () => {
    const order: string[] = [];
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      lines.push(a.join(' '));
    });
    let s = 0;
    let b = 0;
    const subjectValues = [99, 10, 30, 20, 50, 40];
    const baselineValues = [99, 2, 1, 3, 5, 4];
    const result = await runBenchmark(
      {
        bench: 'harness-selftest',
        metric: 'ops/s',
        params: { burst: 32 },
        warmup: 1,
        subject: {
          name: 'A',
          describe: 'subject',
          run: () => {
            order.push('A');
            return subjectValues[s++];
          },
        },
        baseline: {
          name: 'B',
          describe: 'baseline',
          run: () => {
            order.push('B');
            return baselineValues[b++];
          },
        },
      },
      ['--runs', '5'],
    );
    expect(order).toEqual(['A', 'B', 'A', 'B', 'A', 'B', 'A', 'B', 'A', 'B', 'A', 'B']);
    expect(result.value).toBe(30); // median of 10,30,20,50,40: the warm-up 99 is not counted
    expect(result.min).toBe(10);
    expect(result.max).toBe(50);
    expect(result.baseline).toMatchObject({ name: 'B', value: 3 });
    expect(result.ratio).toBe(10);
    expect(result.params).toEqual({ burst: 32, runs: 5 });
    const last = JSON.parse(lines[lines.length - 1]);
    expect(last).toEqual(JSON.parse(JSON.stringify(result)));
    expect(Object.keys(last).slice(0, 8)).toEqual([
      'bench',
      'metric',
      'value',
      'min',
      'max',
      'baseline',
      'ratio',
      'params',
    ]);
    const file = JSON.parse(readFileSync(join(RESULTS_DIR, 'harness-selftest.json'), 'utf8'));
    expect(file.value).toBe(30);
  });

  it('orients the ratio when smaller is better', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const r = await runBenchmark(
      {
        bench: 'harness-selftest-latency',
        metric: 'us',
        params: {},
        warmup: 0,
        higherIsBetter: false,
        subject: { name: 'A', describe: '', run: () => 2 },
        baseline: { name: 'B', describe: '', run: () => 10 },
      },
      ['--quick'],
    );
    expect(r.ratio).toBe(5);
    expect(r.quick).toBe(true);
    expect(r.params.runs).toBe(3);
  });

  it('says so, in the table and the JSON, where quick figures are a smoke test only', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((l: string) => lines.push(String(l)));
    const spec = {
      bench: 'harness-selftest-smoke',
      metric: 'x',
      params: {},
      warmup: 0,
      quickIsSmokeTest: 'too short to warm up',
      subject: { name: 'A', describe: '', run: () => 2 },
      baseline: { name: 'B', describe: '', run: () => 1 },
    };
    const quick = await runBenchmark(spec, ['--quick']);
    expect(quick.quickIsSmokeTest).toBe('too short to warm up');
    const note = '# --quick: a smoke test only, not a measurement: too short to warm up';
    expect(lines.filter((l) => l === note)).toHaveLength(2);
    lines.length = 0;
    const full = await runBenchmark(spec, ['--runs', '5']);
    expect(full.quickIsSmokeTest).toBeUndefined();
    expect(lines).not.toContain(note);
  });
});
