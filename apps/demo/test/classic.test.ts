import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { DemoOptionError, parseDemoArgs, pingPong, pktgenPart } from '../src/classic.js';

describe('classic demo (--classic)', () => {
  it('parses its options and names a bad one', () => {
    expect(
      parseDemoArgs(['--', '--round-trips', '50', '--mode', 'park', '--pktgen-seconds', '0']),
    ).toEqual({
      roundTrips: 50,
      modes: ['park'],
      pktgenSeconds: 0,
    });
    expect(() => parseDemoArgs(['--round-trips', '0'])).toThrow(DemoOptionError);
    expect(() => parseDemoArgs(['--mode', 'sleep'])).toThrow(
      '--mode must be spin, park or spin,park; got sleep',
    );
  });

  it('part 1: pktgen over back-to-back ring ports receives what it sends, with latency', async () => {
    const lines: string[] = [];
    const r = await pktgenPart(0.3, (l) => lines.push(l));
    expect(r.txPackets).toBeGreaterThan(1000);
    expect(r.rxPackets).toBeGreaterThan(0);
    expect(r.rxPackets).toBeLessThanOrEqual(r.txPackets);
    expect(r.latencyNs.count).toBe(r.rxPackets);
    expect(lines.at(-1)).toMatch(/^PKTGEN: latency us: p50 /);
  });

  for (const mode of ['spin', 'park'] as const) {
    it(`${mode}: two lcores complete every round trip and the histogram holds each one`, async () => {
      const r = await pingPong(mode, 2_000);
      expect(r.roundTrips).toBe(2_000);
      const h = hdr.decodeFromCompressedBase64(r.histogram);
      expect(h.totalCount).toBe(2_000);
      expect(r.percentilesNs.p50).toBeGreaterThan(0);
      expect(r.percentilesNs.max).toBeGreaterThanOrEqual(r.percentilesNs.p99);
    });
  }
});
