import { cleanup, init, pktmbufPoolLookup } from '@bypass/eal';
import { fillTcpChecksumIpv4, parseIpv4, sum16, verifyTcpIpv4 } from '@bypass/net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTemplates, type FlowSpec, flowTuple } from '../src/frames.js';
import { flowSpecOf, PktgenOptionError, parsePktgenArgs, runPktgen } from '../src/pktgen.js';

afterEach(async () => {
  await cleanup();
});

const spec = (o: Partial<FlowSpec> = {}): FlowSpec => ({
  proto: 'udp',
  size: 64,
  flows: 6,
  srcMac: [2, 0, 0, 0, 0, 1],
  dstMac: [2, 0, 0, 0, 0, 2],
  srcIp: [parseIpv4('10.0.0.1'), parseIpv4('10.0.0.2')],
  dstIp: [parseIpv4('10.1.0.1'), parseIpv4('10.1.0.1')],
  srcPort: [1000, 1002],
  dstPort: [53, 53],
  ...o,
});

describe('pktgen frames', () => {
  it('enumerates flows source port first, then source address', () => {
    const s = spec();
    const tuples = [0, 1, 2, 3, 6].map((n) => flowTuple(s, n));
    expect(tuples.map((t) => t.sport)).toEqual([1000, 1001, 1002, 1000, 1000]);
    expect(tuples.map((t) => t.sip & 0xff)).toEqual([1, 1, 1, 2, 1]);
  });

  it('builds frames with valid IPv4 and TCP checksums', () => {
    for (const proto of ['udp', 'tcp'] as const) {
      const s = spec({ proto, size: 90 });
      const t = buildTemplates(s);
      for (let f = 0; f < s.flows; f++) {
        const at = f * s.size;
        expect((t[at + 12] << 8) | t[at + 13]).toBe(0x0800);
        expect(sum16(t, at + 14, 20)).toBe(0xffff); // a correct header sums to all ones
        expect(t[at + 23]).toBe(proto === 'udp' ? 17 : 6);
        if (proto === 'tcp') {
          const frame = t.slice(at, at + s.size);
          fillTcpChecksumIpv4(frame, 14, 34, s.size - 34);
          expect(verifyTcpIpv4(frame, 14, 34, s.size - 34)).toBe(true);
          frame[60] ^= 1;
          expect(verifyTcpIpv4(frame, 14, 34, s.size - 34)).toBe(false);
        }
      }
    }
  });

  it('validates its options, naming the bad one', () => {
    expect(() => flowSpecOf({ size: 50 }, [], [])).toThrow(
      '--size must be a frame size in [60, 1514] bytes for udp (without FCS), got 50',
    );
    expect(() => flowSpecOf({ srcPort: '9-3' }, [], [])).toThrow(
      '--src-port must be a value or a range low-high, got 9-3',
    );
    expect(() => flowSpecOf({ dstIp: '300.1.1.1' }, [], [])).toThrow(PktgenOptionError);
    expect(() => parsePktgenArgs(['--rate-mpps', '-1'])).toThrow(
      '--rate-mpps must be a number >= 0, got -1',
    );
    expect(parsePktgenArgs(['--flows', '8', '--proto', 'tcp', '--size', '128'])).toEqual({
      flows: 8,
      proto: 'tcp',
      size: 128,
    });
  });
});

describe('pktgen over back-to-back ring ports', () => {
  it('receives every packet it sent at a set rate, with a latency sample for each', async () => {
    await init(
      {
        lcores: [0, 1],
        pin: false,
        vdevs: ['net_ring0,peer=net_ring1', 'net_ring1,peer=net_ring0'],
      },
      { handleSignals: false },
    );
    const lines: string[] = [];
    const r = await runPktgen({
      flows: 16,
      size: 128,
      proto: 'tcp',
      rateMpps: 0.05,
      durationS: 0.4,
      periodS: 0,
      print: (l) => lines.push(l),
    });
    // 0.05 Mpps for 0.4 s is 20,000 frames; a loaded machine can take the lcore's CPU for most
    // of the run (a fresh-clone run saw 2,204), so the floor only proves that the pacing sends,
    // and the ceiling that it never sends faster than the rate.
    expect(r.txPackets).toBeGreaterThan(1_000);
    expect(r.txPackets).toBeLessThanOrEqual(0.05e6 * (r.seconds + 0.05));
    expect(r.txDropped).toBe(0);
    expect(r.rxPackets).toBe(r.txPackets);
    expect(r.rxOther).toBe(0);
    expect(r.latencyNs.count).toBe(r.rxPackets);
    expect(r.latencyNs.p50).toBeGreaterThan(0);
    expect(lines[0]).toBe(
      'PKTGEN: tcp 128-byte frames, 16 flow(s), 0.05 Mpps, port 0 -> port 1, tx and rx on one lcore',
    );
    expect(pktmbufPoolLookup('pktgen_pool').mempool.isFull()).toBe(true);
  });

  it('at full rate, stopping leaves every mbuf back in the pool', async () => {
    await init(
      {
        lcores: [0, 1],
        pin: false,
        vdevs: ['net_ring0,peer=net_ring1', 'net_ring1,peer=net_ring0'],
      },
      { handleSignals: false },
    );
    const r = await runPktgen({ flows: 4, durationS: 0.3, periodS: 0, print: () => {} });
    expect(r.txPackets).toBeGreaterThan(10_000);
    expect(r.latencyNs.count).toBe(r.rxPackets);
    expect(pktmbufPoolLookup('pktgen_pool').mempool.isFull()).toBe(true);
  });
});
