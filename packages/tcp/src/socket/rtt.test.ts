import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RttEstimator } from './rtt.js';

describe('RttEstimator (RFC 6298)', () => {
  it('first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4 RTTVAR)', () => {
    const e = new RttEstimator(1000, 200, 120_000);
    expect(e.measured).toBe(false);
    expect(e.rto).toBe(1000);
    e.sample(100);
    expect(e.measured).toBe(true);
    expect([e.srtt, e.rttvar, e.rto]).toEqual([100, 50, 300]);
  });

  it('later samples: alpha 1/8, beta 1/4, with the RTTVAR update before SRTT', () => {
    const e = new RttEstimator(1000, 1, 120_000);
    e.sample(100);
    e.sample(180);
    // RTTVAR = 3/4 * 50 + 1/4 * |100 - 180| = 57.5; SRTT = 7/8 * 100 + 1/8 * 180 = 110.
    expect([e.srtt, e.rttvar, e.rto]).toEqual([110, 57.5, 340]);
  });

  it('the minimum bounds the variation term (RTO = SRTT + max(G, 4 RTTVAR, min)), the maximum the whole', () => {
    const e = new RttEstimator(1000, 200, 500);
    for (let i = 0; i < 50; i++) e.sample(5);
    expect(e.rto).toBeCloseTo(205, 6);
    const slow = new RttEstimator(1000, 200, 120_000);
    for (let i = 0; i < 100; i++) slow.sample(150);
    // A steady 150 ms path: 350 ms, not max(150 + 4 RTTVAR, 200) = 200 ms.
    expect(slow.rto).toBeCloseTo(350, 6);
    const f = new RttEstimator(1000, 1, 500);
    for (let i = 0; i < 200; i++) f.sample(5);
    expect(f.rto).toBeCloseTo(6, 6);
    f.sample(10_000);
    expect(f.rto).toBe(500);
  });

  it('backoff doubles up to the maximum; atLeast raises, never lowers', () => {
    const e = new RttEstimator(1000, 200, 5000);
    e.backoff();
    e.backoff();
    expect(e.rto).toBe(4000);
    e.backoff();
    expect(e.rto).toBe(5000);
    e.atLeast(3000);
    expect(e.rto).toBe(5000);
    const g = new RttEstimator(1000, 200, 60_000);
    g.atLeast(3000);
    expect(g.rto).toBe(3000);
  });

  it('a zero sample still marks the estimator measured; a negative one counts as 0', () => {
    const e = new RttEstimator(1000, 200, 120_000);
    e.sample(-5);
    expect(e.measured).toBe(true);
    expect(e.srtt).toBe(0);
    expect(e.rto).toBe(200);
  });

  it('RTO stays within [min, max] for any sample sequence', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -10, max: 200_000 }), { maxLength: 64 }), (xs) => {
        const e = new RttEstimator(1000, 200, 120_000);
        for (const x of xs) {
          e.sample(x);
          expect(e.rto).toBeGreaterThanOrEqual(200);
          expect(e.rto).toBeLessThanOrEqual(120_000);
        }
      }),
    );
  });
});
