import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Assembler } from './assembler.js';

function rangesOf(a: Assembler): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < a.ranges; i++) out.push([a.startOf(i), a.endOf(i)]);
  return out;
}

/** The maximal runs of true in `got`, as [start, end) pairs. */
function runsOf(got: boolean[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < got.length; i++) {
    if (!got[i]) continue;
    const s = i;
    while (i < got.length && got[i]) i++;
    out.push([s, i]);
  }
  return out;
}

describe('Assembler', () => {
  it('merges overlapping and adjacent ranges and keeps them sorted', () => {
    const a = new Assembler(4);
    expect(a.isEmpty).toBe(true);
    expect(a.add(10, 20)).toBe(true);
    expect(a.add(30, 40)).toBe(true);
    expect(a.add(0, 5)).toBe(true);
    expect(rangesOf(a)).toEqual([
      [0, 5],
      [10, 20],
      [30, 40],
    ]);
    expect(a.add(20, 30)).toBe(true); // adjacent on both sides: one range
    expect(rangesOf(a)).toEqual([
      [0, 5],
      [10, 40],
    ]);
    expect(a.add(3, 12)).toBe(true); // overlaps both
    expect(rangesOf(a)).toEqual([[0, 40]]);
    expect(a.add(15, 25)).toBe(true); // inside
    expect(rangesOf(a)).toEqual([[0, 40]]);
    expect(a.highest).toBe(40);
  });

  it('refuses a range that would need one more than maxRanges, changing nothing', () => {
    const a = new Assembler(2);
    expect(a.add(10, 20)).toBe(true);
    expect(a.add(30, 40)).toBe(true);
    expect(a.add(50, 60)).toBe(false);
    expect(a.add(0, 5)).toBe(false);
    expect(a.add(22, 28)).toBe(false);
    expect(rangesOf(a)).toEqual([
      [10, 20],
      [30, 40],
    ]);
    // Merging needs no new range: allowed when full.
    expect(a.add(40, 45)).toBe(true);
    expect(a.add(5, 10)).toBe(true);
    expect(a.add(20, 30)).toBe(true);
    expect(rangesOf(a)).toEqual([[5, 45]]);
  });

  it('takeFront hands over the first range once the gap before it is filled', () => {
    const a = new Assembler(4);
    a.add(5, 10);
    a.add(20, 25);
    expect(a.takeFront()).toBe(0);
    // RCV.NXT moves by 5 (the in-order bytes 0..5 arrived): offsets drop by 5.
    a.advance(5);
    expect(rangesOf(a)).toEqual([
      [0, 5],
      [15, 20],
    ]);
    expect(a.takeFront()).toBe(5);
    expect(rangesOf(a)).toEqual([[10, 15]]);
    expect(a.highest).toBe(15);
  });

  it('advance drops ranges wholly passed and clips one that straddles 0', () => {
    const a = new Assembler(4);
    a.add(2, 4);
    a.add(6, 12);
    a.add(20, 22);
    a.advance(8);
    expect(rangesOf(a)).toEqual([
      [0, 4],
      [12, 14],
    ]);
    a.advance(100);
    expect(a.isEmpty).toBe(true);
    expect(a.highest).toBe(0);
    a.add(1, 2);
    a.clear();
    expect(a.ranges).toBe(0);
  });

  type Op =
    | { op: 'add'; start: number; len: number }
    | { op: 'advance'; n: number }
    | { op: 'takeFront' };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant('add'),
        start: fc.integer({ min: 0, max: 60 }),
        len: fc.integer({ min: 1, max: 12 }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('advance'), n: fc.nat(16) }) },
    { weight: 2, arbitrary: fc.constant({ op: 'takeFront' as const }) },
  );

  it('matches a boolean-array model of received offsets (fast-check)', () => {
    const SPAN = 80;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(opArb, { maxLength: 80 }),
        (max, ops) => {
          const a = new Assembler(max);
          let got: boolean[] = new Array(SPAN).fill(false);
          const shift = (n: number) => {
            got = [...got.slice(n), ...new Array(n).fill(false)];
          };
          for (const o of ops) {
            if (o.op === 'add') {
              const next = got.slice();
              for (let i = o.start; i < o.start + o.len; i++) next[i] = true;
              const fits = runsOf(next).length <= max;
              expect(a.add(o.start, o.start + o.len)).toBe(fits);
              if (fits) got = next;
            } else if (o.op === 'advance') {
              a.advance(o.n);
              shift(o.n);
            } else {
              let run = 0;
              while (got[run]) run++;
              expect(a.takeFront()).toBe(run);
              shift(run);
            }
            const runs = runsOf(got);
            expect(rangesOf(a)).toEqual(runs);
            expect(a.isEmpty).toBe(runs.length === 0);
            expect(a.highest).toBe(runs.length === 0 ? 0 : runs[runs.length - 1][1]);
            expect(a.ranges).toBeLessThanOrEqual(max);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
