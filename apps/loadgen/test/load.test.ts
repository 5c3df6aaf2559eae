// runLoad against small servers written here on the callback API, over socket-api's test pair
// (two stacks on back-to-back net_ring ports, polled from this thread): the request/response
// accounting as the server sees it (pipelining depth, non-2xx, reconnection after
// Connection: close), echo mode, and each kind of socket error. Every mbuf comes back.
import { OptionError } from '@bypass/atomics-sync';
import { listen } from '@bypass/socket-api';
import { afterEach, describe, expect, it } from 'vitest';
import { type Pair, startPair } from '../../../packages/socket-api/test/pair.js';
import { runLoad } from '../src/load.js';

let pair: Pair | undefined;
afterEach(async () => {
  if (pair !== undefined) {
    const { leaked } = await pair.close();
    pair = undefined;
    expect(leaked).toBe(0);
  }
});

const enc = (s: string) => new TextEncoder().encode(s);

describe('runLoad', () => {
  it('http: keeps `pipeline` requests in flight, counts non-2xx, reconnects after Connection: close', async () => {
    pair = await startPair();
    const ok = enc('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    const bad = enc('HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n');
    const last = enc('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    let answered = 0;
    let failed = 0;
    let maxInFlight = 0;
    let connections = 0;
    listen(
      8080,
      {
        onConnection: () => {
          connections++;
          let tail = 0; // bytes of "\r\n\r\n" matched so far
          let inFlight = 0;
          let mine = 0;
          return {
            onData: (s, b, off, len) => {
              if (mine >= 5) return; // closing: later requests are not answered
              for (let i = off; i < off + len; i++) {
                tail = b[i] === (tail % 2 === 0 ? 13 : 10) ? tail + 1 : b[i] === 13 ? 1 : 0;
                if (tail === 4) {
                  tail = 0;
                  inFlight++;
                }
              }
              maxInFlight = Math.max(maxInFlight, inFlight);
              while (inFlight > 0 && mine < 5) {
                inFlight--;
                mine++;
                answered++;
                if (mine === 5) {
                  s.write(last);
                  s.end();
                } else if (answered % 10 === 0) {
                  failed++;
                  s.write(bad);
                } else s.write(ok);
              }
            },
            onEnd: (s) => s.end(),
          };
        },
      },
      {},
      pair.server,
    );
    const r = await runLoad(
      { target: '10.0.0.2', port: 8080, connections: 4, pipeline: 3, durationS: 0.5 },
      pair.client,
    );
    expect(maxInFlight).toBe(3);
    expect(r.requests).toBeGreaterThan(20);
    // Everything counted was answered; what the server answered after the window is not counted.
    expect(r.requests).toBeLessThanOrEqual(answered);
    expect(r.requests).toBeGreaterThanOrEqual(answered - 4 * 3);
    expect(Math.abs(r.non2xx - failed)).toBeLessThanOrEqual(2);
    expect(r.connects).toBe(connections);
    expect(r.connects).toBeGreaterThan(4); // each connection closed after 5 responses
    expect(r.errors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
    expect(r.seconds).toBeCloseTo(0.5, 1);
  });

  it('echo: a message completes when its bytes are back', async () => {
    pair = await startPair();
    listen(
      7,
      {
        onConnection: () => ({
          onData: (s, b, o, l) => void s.write(b, o, l),
          onEnd: (s) => s.end(),
        }),
      },
      {},
      pair.server,
    );
    const r = await runLoad(
      {
        target: '10.0.0.2',
        port: 7,
        mode: 'echo',
        size: 1000,
        connections: 2,
        pipeline: 4,
        durationS: 0.4,
      },
      pair.client,
    );
    expect(r.requests).toBeGreaterThan(20);
    expect(r.bytesRx).toBeGreaterThanOrEqual(r.requests * 1000);
    expect(r.bytesRx).toBeLessThan((r.requests + 2 * 4) * 1000);
    expect(r.errors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
  });

  it('counts refused connections as connect errors and unanswered requests as timeouts', async () => {
    pair = await startPair();
    const refused = await runLoad(
      { target: '10.0.0.2', port: 9, connections: 2, durationS: 0.3 },
      pair.client,
    );
    expect(refused.requests).toBe(0);
    expect(refused.errors.connect).toBeGreaterThanOrEqual(2);

    listen(81, { onConnection: () => ({}) }, {}, pair.server); // never answers
    const silent = await runLoad(
      { target: '10.0.0.2', port: 81, connections: 3, durationS: 0.4, timeoutMs: 100 },
      pair.client,
    );
    expect(silent.requests).toBe(0);
    expect(silent.errors.timeout).toBe(3); // once per request, not once per check
    expect(silent.errors.connect + silent.errors.read).toBe(0);
  });

  it('counts a malformed response as a read error and reconnects', async () => {
    pair = await startPair();
    listen(
      82,
      { onConnection: () => ({ onData: (s) => void s.write(enc('SPDY/3 nope\r\n\r\n')) }) },
      {},
      pair.server,
    );
    const r = await runLoad(
      { target: '10.0.0.2', port: 82, connections: 1, durationS: 0.3 },
      pair.client,
    );
    expect(r.requests).toBe(0);
    expect(r.errors.read).toBeGreaterThan(1);
    expect(r.connects).toBeGreaterThanOrEqual(r.errors.read); // each one reconnected
  });

  it('a warm-up loads the server first and counts nothing of it', async () => {
    pair = await startPair();
    const ok = enc('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    let answered = 0;
    listen(
      8081,
      {
        onConnection: () => {
          let tail = 0;
          return {
            onData: (s, b, off, len) => {
              for (let i = off; i < off + len; i++) {
                tail = b[i] === (tail % 2 === 0 ? 13 : 10) ? tail + 1 : b[i] === 13 ? 1 : 0;
                if (tail === 4) {
                  tail = 0;
                  answered++;
                  s.write(ok);
                }
              }
            },
            onEnd: (s) => s.end(),
          };
        },
      },
      {},
      pair.server,
    );
    const r = await runLoad(
      { target: '10.0.0.2', port: 8081, connections: 2, warmupS: 0.4, durationS: 0.4 },
      pair.client,
    );
    // The server answered in the warm-up too; only the window's responses are counted.
    expect(r.requests).toBeGreaterThan(20);
    expect(answered - r.requests).toBeGreaterThan(r.requests / 4);
    expect(r.seconds).toBeCloseTo(0.4, 1);
    expect(r.connects).toBe(2);
    expect(r.errors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
    const bad = runLoad({ target: '10.0.0.2', port: 1, warmupS: -1 }, pair.client);
    await expect(bad).rejects.toBeInstanceOf(OptionError);
    await expect(bad).rejects.toMatchObject({
      option: 'warmupS',
      value: -1,
      message: 'warmupS must be a number of seconds >= 0, got -1',
    });
  });

  it('rejects bad options naming them', async () => {
    pair = await startPair();
    const target = runLoad({ target: '10.0.0', port: 1 }, pair.client);
    await expect(target).rejects.toBeInstanceOf(OptionError);
    await expect(target).rejects.toMatchObject({
      option: 'target',
      value: '10.0.0',
      message: 'target must be an IPv4 address like 10.0.0.2, got 10.0.0',
    });
    const pipeline = runLoad({ target: '10.0.0.2', port: 1, pipeline: 0 }, pair.client);
    await expect(pipeline).rejects.toBeInstanceOf(OptionError);
    await expect(pipeline).rejects.toMatchObject({
      option: 'pipeline',
      value: 0,
      message: 'pipeline must be an integer in [1, 1024], got 0',
    });
  });
});
