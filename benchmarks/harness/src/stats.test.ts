import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from './args.js';
import { median, round3, summarise } from './stats.js';

describe('stats', () => {
  it('median of odd and even counts, unsorted input left as it was', () => {
    const xs = [5, 1, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });

  it('summarise gives median, min and max', () => {
    expect(summarise([3, 9, 1, 7, 5])).toEqual({ value: 5, min: 1, max: 9, runs: [3, 9, 1, 7, 5] });
  });

  it('round3 keeps three significant digits', () => {
    expect(round3(61.2345)).toBe(61.2);
    expect(round3(0.61234)).toBe(0.612);
    expect(round3(1234.5)).toBe(1235);
    expect(round3(0)).toBe(0);
  });
});

describe('parseBenchArgs', () => {
  it('reads --quick and --runs', () => {
    expect(parseBenchArgs(['--quick', '--runs', '9'])).toEqual({ quick: true, runs: 9 });
    expect(parseBenchArgs(['--', '--runs=5'])).toEqual({ quick: false, runs: 5 });
  });

  it('names a bad option and its value', () => {
    expect(() => parseBenchArgs(['--runs', 'x'])).toThrow(
      '--runs must be a positive integer, got x',
    );
    expect(() => parseBenchArgs(['--fast'])).toThrow('unknown option --fast');
  });
});
