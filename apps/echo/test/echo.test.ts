// The echo service over socket-api's test pair (two stacks on back-to-back net_ring ports in
// this thread): 8 MB each way on two connections at once, through a small send buffer so that
// writes come up short and the stash, pause and onDrain all run; the bytes come back in order.
import { createHash } from 'node:crypto';
import { OptionError } from '@bypass/atomics-sync';
import { connect } from '@bypass/socket-api';
import { afterEach, describe, expect, it } from 'vitest';
import { type Pair, startPair } from '../../../packages/socket-api/test/pair.js';
import { parseEchoArgs } from '../src/echo.js';
import { type EchoStats, listenEcho } from '../src/server.js';

let pair: Pair | undefined;
afterEach(async () => {
  if (pair !== undefined) {
    const { leaked } = await pair.close();
    pair = undefined;
    expect(leaked).toBe(0);
  }
});

/** `f` throws an OptionError naming `option` and `value`, with exactly `message`. */
function expectOptionError(f: () => unknown, option: string, value: unknown, message: string) {
  expect(f).toThrow(OptionError);
  expect(f).toThrow(expect.objectContaining({ option, value, message }));
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed) & 0xff;
  return b;
}

describe('echo', () => {
  it('echoes 8 MB on each of two connections, in order, through back-pressure', async () => {
    pair = await startPair({ tcp: { sendBuffer: 16 * 1024, recvBuffer: 64 * 1024 } });
    const p = pair;
    const stats: EchoStats = { connections: 0, bytes: 0, errors: 0, stalls: 0 };
    listenEcho(7, p.server, stats);
    const size = 8 << 20;
    const one = (seed: number) =>
      new Promise<string>((resolve, reject) => {
        const data = pattern(size, seed);
        const h = createHash('sha256');
        let sent = 0;
        const pump = (s: import('@bypass/socket-api').CallbackSocket) => {
          while (sent < size) {
            const n = Math.min(65536, size - sent);
            const all = s.write(data, sent, n);
            sent += n;
            if (!all) return;
          }
          s.end();
        };
        connect(
          '10.0.0.2',
          7,
          {
            onConnect: (s) => {
              // Read nothing for a while: the server's send buffer fills and it must hold back.
              s.pause();
              setTimeout(() => s.resume(), 100);
              pump(s);
            },
            onDrain: pump,
            onData: (_s, b, o, l) => void h.update(b.subarray(o, o + l)),
            onClose: () => resolve(h.digest('hex')),
            onError: (_s, e) => reject(e),
          },
          {},
          p.client,
        );
      });
    const [a, b] = await Promise.all([one(1), one(2)]);
    const sha = (seed: number) => createHash('sha256').update(pattern(size, seed)).digest('hex');
    expect(a).toBe(sha(1));
    expect(b).toBe(sha(2));
    expect(stats).toMatchObject({ connections: 2, bytes: 2 * size, errors: 0 });
    expect(stats.stalls).toBeGreaterThan(0);
  });

  it('parses its arguments and names a bad one', () => {
    const a = parseEchoArgs([
      '--ip',
      '10.1.0.2/16',
      '--port',
      '9007',
      '-T',
      '0',
      '--neighbour',
      '10.1.0.1=02:AA:00:00:00:01',
    ]);
    expect(a).toMatchObject({
      ip: '10.1.0.2/16',
      port: 9007,
      periodS: 0,
      neighbours: { '10.1.0.1': '02:aa:00:00:00:01' },
    });
    expect(parseEchoArgs(['--loadgen', '-c', '4', '--size', '100']).loadgen).toEqual([
      '-c',
      '4',
      '--size',
      '100',
    ]);
    expectOptionError(
      () => parseEchoArgs(['--port', '70000']),
      '--port',
      '70000',
      '--port must be an integer in [1, 65535], got 70000',
    );
    expectOptionError(
      () => parseEchoArgs(['--ip', '10.0.0.2']),
      '--ip',
      '10.0.0.2',
      '--ip must be an IPv4 address with a prefix length, like 10.0.0.2/24, got 10.0.0.2',
    );
    expectOptionError(
      () => parseEchoArgs(['-T', 'x']),
      '-T',
      'x',
      '-T must be seconds >= 0, got x',
    );
    expectOptionError(
      () => parseEchoArgs(['--duration', '5h']),
      '--duration',
      '5h',
      '--duration must be a duration like 5, 5s, 500ms or 1m, got 5h',
    );
    expectOptionError(
      () => parseEchoArgs(['--fast']),
      'echo option',
      '--fast',
      'echo option must be one of --ip, --port, --port-id, --gateway, --neighbour, -T, --duration, --loadgen, got --fast',
    );
  });
});
