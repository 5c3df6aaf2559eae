import { OptionError } from '@bypass/atomics-sync';
import { cleanup, init, pktmbufPoolLookup } from '@bypass/eal';
import { afterEach, describe, expect, it } from 'vitest';
import { parseL2fwdArgs, runL2fwd } from '../src/l2fwd.js';

/** `f` throws an OptionError naming `option` and `value`, with exactly `message`. */
function expectOptionError(f: () => unknown, option: string, value: unknown, message: string) {
  expect(f).toThrow(OptionError);
  expect(f).toThrow(expect.objectContaining({ option, value, message }));
}

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
    const odd = runL2fwd({ durationS: 0.1 });
    await expect(odd).rejects.toBeInstanceOf(OptionError);
    await expect(odd).rejects.toMatchObject({
      option: '-p',
      value: '0x7',
      message:
        '-p must be a mask of an even number of existing ports (there are 3; l2fwd forwards 0<->1, 2<->3, ...: add --vdev ports or fix -p), got 0x7',
    });
    const few = runL2fwd({ durationS: 0.1, portmask: 0x3, queuesPerLcore: 1 });
    await expect(few).rejects.toBeInstanceOf(OptionError);
    await expect(few).rejects.toMatchObject({
      option: '-l',
      value: '0,1',
      message:
        '-l must be the main lcore and 2 worker lcores for 2 ports at -q 1 (or raise -q), got 0,1',
    });
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
    expectOptionError(
      () => parseL2fwdArgs(['-p', 'zz']),
      '-p',
      'zz',
      '-p must be a non-zero hex port mask like 0x3, got zz',
    );
    expectOptionError(
      () => parseL2fwdArgs(['-q', '0']),
      '-q',
      '0',
      '-q must be an integer in [1, 16], got 0',
    );
    expectOptionError(
      () => parseL2fwdArgs(['-T', '-1']),
      '-T',
      '-1',
      '-T must be seconds >= 0, got -1',
    );
    expectOptionError(
      () => parseL2fwdArgs(['--duration']),
      '--duration',
      'nothing',
      '--duration must be followed by a value, got nothing',
    );
    expectOptionError(
      () => parseL2fwdArgs(['--fast']),
      'l2fwd option',
      '--fast',
      'l2fwd option must be one of -p PORTMASK, -q N, -T PERIOD, --duration S, --no-mac-updating, got --fast',
    );
  });
});
