import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseHttpdArgs } from './httpd.js';

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
    expect(parseHttpdArgs(['--size', '64', '--loadgen', '-c', '8', '-p', '4']).loadgen).toEqual([
      '-c',
      '8',
      '-p',
      '4',
    ]);
    expect(() => parseHttpdArgs(['--size', '1k'])).toThrow(
      '--size must be a number of bytes in [0, 2^30], got 1k',
    );
    expect(() => parseHttpdArgs(['--root', '/no/such/dir'])).toThrow(
      '--root must be an existing folder, got /no/such/dir',
    );
    expect(() => parseHttpdArgs(['--root', tmpdir(), '--size', '5'])).toThrow(/not both/);
    expect(() => parseHttpdArgs(['--verbose'])).toThrow(/^unknown option --verbose\nhttpd options/);
  });
});
