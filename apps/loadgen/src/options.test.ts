import { describe, expect, it } from 'vitest';
import {
  LoadgenOptionError,
  parseDuration,
  parseLoadgenArgs,
  parseTarget,
  resolveLoadOptions,
} from './options.js';

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
    expect(() => parseLoadgenArgs(['-d', 'soon'])).toThrow(
      '-d must be a duration like 5, 5s, 500ms or 1m, got soon',
    );
    expect(() => parseLoadgenArgs(['--bogus'])).toThrow(LoadgenOptionError);
    expect(() => parseLoadgenArgs(['ftp://x'])).toThrow(/the target must be/);
    expect(() =>
      resolveLoadOptions({ target: '10.0.0.2', port: 80, mode: 'udp' as 'http' }),
    ).toThrow('mode must be http or echo, got udp');
    expect(() => resolveLoadOptions({ target: '10.0.0.2', port: 80, path: 'x y' })).toThrow(
      /path must start with \//,
    );
    expect(() => resolveLoadOptions({ target: '10.0.0.2', port: 0 })).toThrow(
      'port must be an integer in [1, 65535], got 0',
    );
  });
});
