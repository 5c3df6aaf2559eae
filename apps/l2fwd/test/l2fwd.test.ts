import { cleanup, init, pktmbufPoolLookup } from '@bypass/eal';
import { afterEach, describe, expect, it } from 'vitest';
import { L2fwdOptionError, parseL2fwdArgs, runL2fwd } from '../src/l2fwd.js';

afterEach(async () => {
  await cleanup();
});

describe('l2fwd', () => {
  it('forwards between a port pair on one lcore; every packet is accounted for and every mbuf is back', async () => {
    await init(
      { lcores: [0, 1], pin: false, vdevs: ['net_null0,size=64', 'net_null1,size=128'] },
      { handleSignals: false },
    );
    const lines: string[] = [];
    const r = await runL2fwd({
      durationS: 0.3,
      periodS: 0,
      queuesPerLcore: 2,
      print: (l) => lines.push(l),
    });
    expect(r.lcores).toBe(1);
    expect(r.totalSent).toBeGreaterThan(10_000);
    const [p0, p1] = r.ports;
    // What port 0 received went out on port 1 (sent or dropped), and the other way round.
    expect(p0.received).toBe(p1.sent + p1.dropped);
    expect(p1.received).toBe(p0.sent + p0.dropped);
    expect(lines).toContain('Aggregate statistics ===============================');
    expect(lines.some((l) => /^Total packets sent: +\d+$/.test(l))).toBe(true);
    expect(pktmbufPoolLookup('l2fwd_pool').mempool.isFull()).toBe(true);
  });

  it('refuses an odd number of ports and too few lcores', async () => {
    await init(
      { lcores: [0, 1], pin: false, vdevs: ['net_null0', 'net_null1', 'net_null2'] },
      { handleSignals: false },
    );
    await expect(runL2fwd({ durationS: 0.1 })).rejects.toThrow(
      'l2fwd needs an even number of ports, got 3',
    );
    await expect(runL2fwd({ durationS: 0.1, portmask: 0x3, queuesPerLcore: 1 })).rejects.toThrow(
      '2 ports need 2 worker lcores at -q 1; have 1 (use -l or raise -q)',
    );
  });

  it('parses its arguments and names a bad one', () => {
    expect(
      parseL2fwdArgs(['-p', '0x3', '-q', '2', '-T', '1', '--duration', '5', '--no-mac-updating']),
    ).toEqual({
      portmask: 3,
      queuesPerLcore: 2,
      periodS: 1,
      durationS: 5,
      macUpdating: false,
    });
    expect(() => parseL2fwdArgs(['-p', 'zz'])).toThrow(L2fwdOptionError);
    expect(() => parseL2fwdArgs(['-q', '0'])).toThrow('-q must be an integer in [1, 16], got 0');
    expect(() => parseL2fwdArgs(['--fast'])).toThrow(/unknown l2fwd option --fast/);
  });
});
