import { OptionError } from '@bypass/atomics-sync';
import { describe, expect, it } from 'vitest';
import {
  LOADGEN_USAGE,
  parseDuration,
  parseLoadgenArgs,
  parseNeighbour,
  parseTarget,
  resolveLoadOptions,
  unknownOptionError,
} from './options.js';

/** `f` throws an OptionError naming `option` and `value`, with exactly `message`. */
function expectOptionError(f: () => unknown, option: string, value: unknown, message: string) {
  expect(f).toThrow(OptionError);
  expect(f).toThrow(expect.objectContaining({ option, value, message }));
}

describe('loadgen options', () => {
  it('parses wrk-like flags and a URL', () => {
    const a = parseLoadgenArgs([
      '-c',
      '64',
      '-d',
      '500ms',
      '--warmup',
      '1s',
      '-p',
      '4',
      '--ip',
      '10.9.0.1/24',
      '--port-id',
      '1',
      '--neighbour',
      '10.9.0.2=02:00:00:00:00:02',
      '-T',
      '0',
      'http://10.9.0.2:8080/x?y',
    ]);
    expect(a).toEqual({
      load: {
        connections: 64,
        durationS: 0.5,
        warmupS: 1,
        pipeline: 4,
        target: '10.9.0.2',
        port: 8080,
        path: '/x?y',
        mode: 'http',
      },
      ip: '10.9.0.1/24',
      portId: 1,
      neighbours: { '10.9.0.2': '02:00:00:00:00:02' },
      periodS: 0,
    });
    expect(parseLoadgenArgs(['tcp://10.9.0.2:7', '--size', '1000']).load).toEqual({
      target: '10.9.0.2',
      port: 7,
      path: undefined,
      mode: 'echo',
      size: 1000,
    });
    expect(parseTarget('10.0.0.2:80')).toEqual({ target: '10.0.0.2', port: 80 });
    expect([
      parseDuration('-d', '2m'),
      parseDuration('-d', '1.5'),
      parseDuration('-d', '5s'),
    ]).toEqual([120, 1.5, 5]);
  });

  it('fills the defaults and names a bad value', () => {
    expect(resolveLoadOptions({ target: '10.0.0.2', port: 80 })).toEqual({
      target: '10.0.0.2',
      port: 80,
      mode: 'http',
      connections: 16,
      durationS: 5,
      warmupS: 0,
      pipeline: 1,
      path: '/',
      host: '10.0.0.2:80',
      size: 64,
      timeoutMs: 2000,
      noDelay: true,
    });
    expectOptionError(
      () => parseLoadgenArgs(['-d', 'soon']),
      '-d',
      'soon',
      '-d must be a duration like 5, 5s, 500ms or 1m, got soon',
    );
    expectOptionError(
      () => parseLoadgenArgs(['--warmup']),
      '--warmup',
      'nothing',
      '--warmup must be a duration like 5, 5s, 500ms or 1m, got nothing',
    );
    expectOptionError(
      () => parseLoadgenArgs(['-c', 'many']),
      '-c',
      'many',
      '-c must be a number, got many',
    );
    expectOptionError(
      () => parseLoadgenArgs(['--bogus']),
      'loadgen option',
      '--bogus',
      'loadgen option must be one of -c, --connections, -d, --duration, --warmup, -p, --pipeline, --mode, --path, --host, --size, --timeout, --ip, --gateway, --port-id, --neighbour, -T, got --bogus',
    );
    expectOptionError(
      () => parseLoadgenArgs(['ftp://x']),
      'target',
      'ftp://x',
      'target must be IP:PORT, http://IP:PORT/PATH or tcp://IP:PORT, got ftp://x',
    );
    expectOptionError(
      () => parseLoadgenArgs(['--target', '10.0.0.2']),
      '--target',
      '10.0.0.2',
      '--target must be IP:PORT, http://IP:PORT/PATH or tcp://IP:PORT, got 10.0.0.2',
    );
    expectOptionError(
      () => parseNeighbour('10.0.0.1=02:00'),
      '--neighbour',
      '10.0.0.1=02:00',
      '--neighbour must be IP=MAC like 10.0.0.1=02:00:00:00:00:01, got 10.0.0.1=02:00',
    );
    expectOptionError(
      () => resolveLoadOptions({ target: '10.0.0.2', port: 80, mode: 'udp' as 'http' }),
      'mode',
      'udp',
      'mode must be http or echo, got udp',
    );
    expectOptionError(
      () => resolveLoadOptions({ target: '10.0.0.2', port: 80, path: 'x y' }),
      'path',
      'x y',
      'path must be visible ASCII starting with /, got x y',
    );
    expectOptionError(
      () => resolveLoadOptions({ target: '10.0.0.2', port: 0 }),
      'port',
      0,
      'port must be an integer in [1, 65535], got 0',
    );
    expectOptionError(
      () => resolveLoadOptions({ target: '10.0.0', port: 80 }),
      'target',
      '10.0.0',
      'target must be an IPv4 address like 10.0.0.2, got 10.0.0',
    );
  });

  it('names the program and lists the flags of its usage text for an unknown flag', () => {
    const e = unknownOptionError('-x', 'demo options:\n  -a, --all  every one\n  --bee N    b\n');
    expect(e).toBeInstanceOf(OptionError);
    expect(e).toMatchObject({
      option: 'demo option',
      value: '-x',
      message: 'demo option must be one of -a, --all, --bee, got -x',
    });
    expect(unknownOptionError('--z', LOADGEN_USAGE).option).toBe('loadgen option');
  });
});
