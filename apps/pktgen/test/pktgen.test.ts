import { OptionError } from '@bypass/atomics-sync';
import { cleanup, init, pktmbufPoolLookup } from '@bypass/eal';
import { afterEach, describe, expect, it } from 'vitest';
import { flowSpecOf, parsePktgenArgs, runPktgen } from '../src/pktgen.js';

afterEach(async () => {
  await cleanup();
});

/** `f` throws an OptionError naming `option` and `value`, with exactly `message`. */
function expectOptionError(f: () => unknown, option: string, value: unknown, message: string) {
  expect(f).toThrow(OptionError);
  expect(f).toThrow(expect.objectContaining({ option, value, message }));
}

describe('pktgen options', () => {
  it('validates its options, naming the bad one', () => {
    expectOptionError(
      () => flowSpecOf({ size: 50 }, 0, 0),
      '--size',
      50,
      '--size must be a frame size in [60, 1514] bytes for udp (without FCS), got 50',
    );
    expectOptionError(
      () => flowSpecOf({ proto: 'sctp' as 'udp' }, 0, 0),
      '--proto',
      'sctp',
      '--proto must be udp or tcp, got sctp',
    );
    expectOptionError(
      () => flowSpecOf({ srcPort: '9-3' }, 0, 0),
      '--src-port',
      '9-3',
      '--src-port must be a port in [0, 65535] or a range low-high like 1024-65535, got 9-3',
    );
    expectOptionError(
      () => flowSpecOf({ dstPort: '1-2-3' }, 0, 0),
      '--dst-port',
      '1-2-3',
      '--dst-port must be a port in [0, 65535] or a range low-high like 1024-65535, got 1-2-3',
    );
    expectOptionError(
      () => flowSpecOf({ dstIp: '300.1.1.1' }, 0, 0),
      '--dst-ip',
      '300.1.1.1',
      '--dst-ip must be an IPv4 address or a range low-high like 198.18.0.1-198.18.0.9, got 300.1.1.1',
    );
    expect(flowSpecOf({ srcIp: '10.0.0.1-10.0.0.4', dstPort: '53' }, 1, 2)).toMatchObject({
      srcIp: [0x0a000001, 0x0a000004],
      dstPort: [53, 53],
      srcMac: 1,
      dstMac: 2,
    });
    expectOptionError(
      () => parsePktgenArgs(['--rate-mpps', '-1']),
      '--rate-mpps',
      '-1',
      '--rate-mpps must be a number >= 0, got -1',
    );
    expectOptionError(
      () => parsePktgenArgs(['--flows']),
      '--flows',
      'nothing',
      '--flows must be a number >= 1, got nothing',
    );
    expectOptionError(
      () => parsePktgenArgs(['--burst', '8']),
      'pktgen option',
      '--burst',
      'pktgen option must be one of --tx-port, --rx-port, --proto, --size, --flows, --rate-mpps, --src-ip, --dst-ip, --src-port, --dst-port, --duration, -T, got --burst',
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
