import { describe, expect, it } from 'vitest';
import { parseExperimentArgs } from './args.js';
import {
  coreRemark,
  efficiency,
  formatTable,
  oversubscribed,
  parseLcoreRange,
  scalingPoints,
} from './scaling.js';

describe('parseLcoreRange', () => {
  it('reads ranges, lists and mixes, sorted without duplicates', () => {
    expect(parseLcoreRange('1-4')).toEqual([1, 2, 3, 4]);
    expect(parseLcoreRange('1,2,4')).toEqual([1, 2, 4]);
    expect(parseLcoreRange('4,1-2,2')).toEqual([1, 2, 4]);
    expect(parseLcoreRange('3')).toEqual([3]);
  });
  it('names the bad value', () => {
    expect(() => parseLcoreRange('1-x')).toThrow(/"x" in "1-x" is not a count/);
    expect(() => parseLcoreRange('0-2')).toThrow(/0 in "0-2" must be in \[1, 64\]/);
    expect(() => parseLcoreRange('1,,2')).toThrow(/"" in "1,,2"/);
    expect(() => parseLcoreRange('4-2')).toThrow(/"4-2" in "4-2" runs backwards/);
    expect(() => parseLcoreRange('1-99')).toThrow(/99/);
    expect(() => parseLcoreRange('')).toThrow(/--lcores needs a value/);
  });
});

describe('efficiency', () => {
  it('is throughput(N) / (N * throughput(1))', () => {
    expect(efficiency(10, 1, 10)).toBe(1);
    expect(efficiency(20, 2, 10)).toBe(1);
    expect(efficiency(15, 2, 10)).toBe(0.75);
    expect(efficiency(40, 4, 8)).toBe(1.25);
  });
  it('is NaN without a usable 1-lcore throughput', () => {
    expect(efficiency(10, 2, 0)).toBeNaN();
    expect(efficiency(10, 2, Number.NaN)).toBeNaN();
  });
});

describe('oversubscription', () => {
  it('is more busy threads than cores', () => {
    expect(oversubscribed(2, 2)).toBe(false);
    expect(oversubscribed(3, 2)).toBe(true);
    expect(oversubscribed(1, 1)).toBe(false);
  });
  it('marks the points and says so in the table', () => {
    const points = scalingPoints(
      [
        { lcores: 1, busyThreads: 2, throughput: 100, runs: [100] },
        { lcores: 2, busyThreads: 4, throughput: 150, runs: [150] },
      ],
      2,
    );
    expect(points.map((p) => [p.perLcore, p.efficiency, p.oversubscribed])).toEqual([
      [100, 1, false],
      [75, 0.75, true],
    ]);
    const table = formatTable(points, 'req/s', 2);
    expect(table[1]).not.toMatch(/oversubscribed/);
    expect(table[1]).toMatch(/all 2 cores busy/);
    expect(table[2]).toMatch(
      /oversubscribed: 4 busy lcores on 2 cores, numbers show the scheduler/,
    );
  });
  it('says nothing when there is a core to spare', () => {
    expect(coreRemark(1, 2)).toBe('');
    expect(coreRemark(2, 2)).toMatch(/all 2 cores busy/);
    expect(coreRemark(3, 2)).toBe(
      'oversubscribed: 3 busy lcores on 2 cores, numbers show the scheduler',
    );
  });
  it('has no efficiency without a 1-lcore point', () => {
    const [p] = scalingPoints([{ lcores: 2, busyThreads: 2, throughput: 5, runs: [5] }], 2);
    expect(p.efficiency).toBeNaN();
  });
});

describe('parseExperimentArgs', () => {
  it('reads the options', () => {
    expect(
      parseExperimentArgs(['scaling', '--workload', 'http', '--lcores', '1-2', '--quick']),
    ).toEqual({ experiment: 'scaling', workload: 'http', lcores: [1, 2], quick: true });
  });
  it('names bad values', () => {
    expect(() => parseExperimentArgs(['scaling', '--workload', 'dns', '--lcores', '1'])).toThrow(
      /got dns/,
    );
    expect(() => parseExperimentArgs(['scale'])).toThrow(/unknown experiment "scale"/);
    expect(() => parseExperimentArgs(['scaling', '--workload', 'echo'])).toThrow(
      /--lcores is required/,
    );
  });
});
