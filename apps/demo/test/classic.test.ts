import { OptionError } from '@bypass/atomics-sync';
import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { parseDemoArgs, pingPong, pktgenPart } from '../src/classic.js';

/** `f` throws an OptionError naming `option` and `value`, with exactly `message`. */
function expectOptionError(f: () => unknown, option: string, value: unknown, message: string) {
  expect(f).toThrow(OptionError);
  expect(f).toThrow(expect.objectContaining({ option, value, message }));
}

describe('classic demo (--classic)', () => {
  it('parses its options and names a bad one', () => {
    expect(
      parseDemoArgs(['--', '--round-trips', '50', '--mode', 'park', '--pktgen-seconds', '0']),
    ).toEqual({
      roundTrips: 50,
      modes: ['park'],
      pktgenSeconds: 0,
    });
    expectOptionError(
      () => parseDemoArgs(['--round-trips', '0']),
      '--round-trips',
      '0',
      '--round-trips must be a positive integer, got 0',
    );
    expectOptionError(
      () => parseDemoArgs(['--mode', 'spin,sleep']),
      '--mode',
      'spin,sleep',
      '--mode must be spin, park or spin,park, got spin,sleep',
    );
    expectOptionError(
      () => parseDemoArgs(['--pktgen-seconds=-1']),
      '--pktgen-seconds',
      '-1',
      '--pktgen-seconds must be a number of seconds >= 0 (0 skips pktgen), got -1',
    );
    expectOptionError(
      () => parseDemoArgs(['--rounds', '5']),
      'classic demo option',
      '--rounds',
      'classic demo option must be one of --round-trips, --pktgen-seconds, --mode, got --rounds',
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
