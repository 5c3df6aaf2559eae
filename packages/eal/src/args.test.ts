import { describe, expect, it } from 'vitest';
import {
  FLAG_NAMES,
  parseCoreList,
  parseEalArgs,
  parseVdev,
  resolveOptions,
  USAGE,
} from './args.js';
import { EalArgError } from './errors.js';

const fromArgv = (argv: string[]) => resolveOptions(parseEalArgs(argv).options, FLAG_NAMES);

describe('EAL arguments', () => {
  it('parses the DPDK flags into a configuration', () => {
    const p = parseEalArgs([
      '-l',
      '0-2,5',
      '--main-lcore',
      '1',
      '--vdev',
      'net_ring0',
      '--vdev=net_pcap0,rx_pcap=in.pcap,infinite_rx=1',
      '-m',
      '16',
      '--log-level',
      'debug',
      '--no-pin',
      '--poll',
      'adaptive',
      '--spin-polls',
      '50',
      '--slice-us',
      '200',
      '--heap-mb',
      '64',
      '--',
      '--app-flag',
      'x',
    ]);
    expect(p.rest).toEqual(['--app-flag', 'x']);
    expect(p.help).toBe(false);
    const c = resolveOptions(p.options, FLAG_NAMES);
    expect(c).toEqual({
      lcores: [0, 1, 2, 5],
      cpuOf: { 0: 0, 1: 1, 2: 2, 5: 5 },
      mainLcore: 1,
      vdevs: [
        { name: 'net_ring0', driver: 'net_ring', args: {} },
        { name: 'net_pcap0', driver: 'net_pcap', args: { rx_pcap: 'in.pcap', infinite_rx: '1' } },
      ],
      memoryMb: 16,
      logLevel: 8,
      pin: false,
      poll: 'adaptive',
      spinPolls: 50,
      sliceUs: 200,
      heapMb: 64,
    });
  });

  it('defaults: lcore 0, busy polling, pinning on, notice', () => {
    expect(resolveOptions()).toMatchObject({
      lcores: [0],
      mainLcore: 0,
      poll: 'busy',
      pin: true,
      logLevel: 6,
      memoryMb: 64,
      heapMb: 128,
    });
  });

  it('--lcores maps lcores to CPUs', () => {
    expect(fromArgv(['--lcores', '0-1@0,4@1,7'])).toMatchObject({
      lcores: [0, 1, 4, 7],
      cpuOf: { 0: 0, 1: 0, 4: 1, 7: 7 },
    });
  });

  it('--help is recognised and the usage names every flag', () => {
    expect(parseEalArgs(['--help']).help).toBe(true);
    for (const f of [
      '-l',
      '--lcores',
      '--main-lcore',
      '--vdev',
      '-m',
      '--log-level',
      '--no-pin',
      '--poll',
      '--spin-polls',
      '--slice-us',
    ]) {
      expect(USAGE).toContain(f);
    }
  });

  it('every bad argument is rejected with its flag and its value', () => {
    const cases: [string[], string][] = [
      [['-l', 'x'], '-l must be a list of lcore ids in [0, 127] such as 0-3 or 0,2,4, got "x"'],
      [['-l', '3-1'], '-l must be a list of lcore ids in [0, 127] such as 0-3 or 0,2,4, got "3-1"'],
      [['-l', '0-200'], 'got "0-200"'],
      [
        ['--lcores', '0@x'],
        '--lcores must be a list like 0-3 or 0-3@0,4@1 (lcore or range, optionally @cpu), got "0@x"',
      ],
      [
        ['-l', '0-1', '--main-lcore', '5'],
        '--main-lcore must be one of the lcores in use (0,1), got 5',
      ],
      [
        ['--main-lcore', 'one'],
        '--main-lcore must be an lcore id, an integer in [0, 127], got "one"',
      ],
      [
        ['--vdev', 'ring'],
        '--vdev must be NAME[,key=value...] where NAME is a driver and an index, e.g. net_ring0, got "ring"',
      ],
      [['--vdev', 'net_pcap0,rx_pcap'], 'got "net_pcap0,rx_pcap"'],
      [
        ['--vdev', 'net_ring0', '--vdev', 'net_ring0'],
        '--vdev must be a device name used once, got net_ring0',
      ],
      [['-m', '0'], '-m must be shared memory in MiB, an integer in [1, 4095], got "0"'],
      [
        ['--log-level', 'loud'],
        '--log-level must be one of emerg alert crit err warning notice info debug or 1-8, got "loud"',
      ],
      [['--log-level', '9'], '--log-level must be a log level, an integer in [1, 8], got 9'],
      [['--poll', 'sometimes'], '--poll must be busy or adaptive, got "sometimes"'],
      [
        ['--spin-polls', '-3'],
        '--spin-polls must be empty polls before parking, an integer in [0, 1073741824], got "-3"',
      ],
      [
        ['--slice-us', '0'],
        '--slice-us must be microseconds per loop slice, an integer in [1, 10000000], got "0"',
      ],
      [
        ['--heap-mb', 'lots'],
        '--heap-mb must be MiB of initial old generation, an integer in [0, 65536], got "lots"',
      ],
      [['-l'], '-l must be followed by a value, got nothing'],
      [
        ['--frobnicate'],
        'argument must be an EAL option (see --help), or put application arguments after --, got "--frobnicate"',
      ],
    ];
    for (const [argv, message] of cases) {
      let err: unknown;
      try {
        fromArgv(argv);
      } catch (e) {
        err = e;
      }
      expect(err, argv.join(' ')).toBeInstanceOf(EalArgError);
      expect((err as Error).message, argv.join(' ')).toContain(message);
    }
  });

  it('typed options are checked the same way, naming the option', () => {
    expect(() => resolveOptions({ lcores: [0, 300] })).toThrow(
      'lcores must be each lcore id, an integer in [0, 127], got 300',
    );
    expect(() => resolveOptions({ poll: 'fast' as 'busy' })).toThrow(
      'poll must be busy or adaptive, got "fast"',
    );
    expect(() => resolveOptions({ lcores: '0-1', lcoreCpus: { 4: 0 } })).toThrow(
      'lcoreCpus must be an lcore in the lcore list (0,1), got 4',
    );
    expect(() => resolveOptions({ sliceUs: 1.5 })).toThrow(
      'sliceUs must be microseconds per loop slice',
    );
  });

  it('core lists and vdev strings parse on their own', () => {
    expect(parseCoreList('-l', '3,1-2,1')).toEqual([1, 2, 3]);
    expect(parseVdev('net_null0,size=64')).toEqual({
      name: 'net_null0',
      driver: 'net_null',
      args: { size: '64' },
    });
  });
});
