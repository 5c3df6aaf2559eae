import { tmpdir } from 'node:os';
import { OptionError } from '@bypass/atomics-sync';
import { describe, expect, it } from 'vitest';
import { parseHttpdArgs } from './httpd.js';

/** `f` throws an OptionError naming `option` and `value`, with exactly `message`. */
function expectOptionError(f: () => unknown, option: string, value: unknown, message: string) {
  expect(f).toThrow(OptionError);
  expect(f).toThrow(expect.objectContaining({ option, value, message }));
}

describe('httpd options', () => {
  it('parses its own options and the common ones, and names a bad one', () => {
    const a = parseHttpdArgs([
      '--ip',
      '10.5.0.2/24',
      '--port',
      '8081',
      '--size',
      '1024',
      '-T',
      '0',
    ]);
    expect(a).toMatchObject({
      ip: '10.5.0.2/24',
      port: 8081,
      periodS: 0,
      app: { port: 8081, size: 1024 },
    });
    expect(parseHttpdArgs(['--root', tmpdir(), '--keepalive-timeout', '500ms']).app).toEqual({
      port: 8080,
      root: tmpdir(),
      keepAliveTimeoutS: 0.5,
    });
    expect(parseHttpdArgs(['--headers-timeout', '10s', '--body-min-rate', '4096']).app).toEqual({
      port: 8080,
      headersTimeoutS: 10,
      bodyMinBytesPerS: 4096,
    });
    expectOptionError(
      () => parseHttpdArgs(['--headers-timeout', 'soon']),
      '--headers-timeout',
      'soon',
      '--headers-timeout must be seconds like 60, 60s or 500ms, got soon',
    );
    expectOptionError(
      () => parseHttpdArgs(['--body-min-rate', '1.5']),
      '--body-min-rate',
      '1.5',
      '--body-min-rate must be bytes per second, a whole number, got 1.5',
    );
    expect(parseHttpdArgs(['--size', '64', '--loadgen', '-c', '8', '-p', '4']).loadgen).toEqual([
      '-c',
      '8',
      '-p',
      '4',
    ]);
    expectOptionError(
      () => parseHttpdArgs(['--size', '1k']),
      '--size',
      '1k',
      '--size must be a number of bytes in [0, 2^30], got 1k',
    );
    expectOptionError(
      () => parseHttpdArgs(['--root', '/no/such/dir']),
      '--root',
      '/no/such/dir',
      '--root must be an existing folder, got /no/such/dir',
    );
    expectOptionError(
      () => parseHttpdArgs(['--keepalive-timeout', '1h']),
      '--keepalive-timeout',
      '1h',
      '--keepalive-timeout must be seconds like 60, 60s or 500ms, got 1h',
    );
    expectOptionError(
      () => parseHttpdArgs(['--root', tmpdir(), '--size', '5']),
      '--size',
      5,
      '--size must be left out with --root (serve a fixed response or files, not both), got 5',
    );
    expectOptionError(
      () => parseHttpdArgs(['--verbose']),
      'httpd option',
      '--verbose',
      'httpd option must be one of --size, --root, --keepalive-timeout, --headers-timeout, --body-min-rate, --ip, --port, --port-id, --gateway, --neighbour, -T, --duration, --loadgen, got --verbose',
    );
    expectOptionError(
      () => parseHttpdArgs(['--port']),
      '--port',
      'nothing',
      '--port must be an integer in [1, 65535], got nothing',
    );
  });
});
