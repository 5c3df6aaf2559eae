import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type CallbackSocket, connect, createServer, listen, type Socket } from '../src/index.js';
import { type Pair, startPair } from './pair.js';

let pair: Pair | undefined;
afterEach(async () => {
  if (pair !== undefined) {
    const { leaked } = await pair.close();
    pair = undefined;
    expect(leaked).toBe(0);
  }
});

describe('socket-api smoke', () => {
  it('callback echo', async () => {
    pair = await startPair();
    const p = pair;
    listen(
      7,
      {
        onConnection: () => ({
          onData: (s, b, o, l) => void s.write(b, o, l),
          onEnd: (s) => s.end(),
        }),
      },
      {},
      p.server,
    );
    const got: number[] = [];
    await new Promise<void>((resolve, reject) => {
      connect(
        '10.0.0.2',
        7,
        {
          onConnect: (s) => {
            s.write(new TextEncoder().encode('hello'));
            s.end();
          },
          onData: (_s, b, o, l) => got.push(...b.subarray(o, o + l)),
          onClose: () => resolve(),
          onError: (_s, e) => reject(e),
        },
        {},
        p.client,
      );
    });
    expect(Buffer.from(got).toString()).toBe('hello');
  });

  it('writes queued past the send buffer (600 chunks, copied and by reference) arrive whole and in order', async () => {
    pair = await startPair({ tcp: { sendBuffer: 16 * 1024 } });
    const p = pair;
    const received: Buffer[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    listen(
      9,
      {
        onConnection: () => ({
          onData: (_s, b, o, l) => void received.push(Buffer.from(b.subarray(o, o + l))),
          onEnd: (s) => {
            s.end();
            done();
          },
        }),
      },
      {},
      p.server,
    );
    // 600 chunks of 1000 bytes (chunk i filled with i & 0xff), 600 KB against a 16 KiB send
    // buffer: most wait in the queue, and the queue compacts as it drains.
    const chunks = Array.from({ length: 600 }, (_, i) => new Uint8Array(1000).fill(i & 0xff));
    let queued = 0;
    connect(
      '10.0.0.2',
      9,
      {
        onConnect: (s) => {
          for (let i = 0; i < chunks.length; i++) {
            if (!s.write(chunks[i], 0, chunks[i].length, i % 2 === 0)) queued++;
          }
          expect(s.pendingBytes).toBeGreaterThan(500_000);
          s.end();
        },
      },
      {},
      p.client,
    );
    await finished;
    const all = Buffer.concat(received);
    expect(queued).toBeGreaterThan(580);
    expect(all.length).toBe(600_000);
    for (let i = 0; i < 600; i++) {
      const slice = all.subarray(i * 1000, (i + 1) * 1000);
      expect(
        slice.every((v) => v === (i & 0xff)),
        `chunk ${i}`,
      ).toBe(true);
    }
  });

  it('writeSome takes what the send buffer holds, queues nothing, and resumes on onDrain', async () => {
    pair = await startPair({ tcp: { sendBuffer: 16 * 1024 } });
    const p = pair;
    const hash = createHash('sha256');
    let bytes = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    listen(
      11,
      {
        onConnection: () => ({
          onData: (_s, b, o, l) => {
            hash.update(b.subarray(o, o + l));
            bytes += l;
          },
          onEnd: (s) => {
            s.end();
            done();
          },
        }),
      },
      {},
      p.server,
    );
    const data = new Uint8Array(300_000).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
    let at = 0;
    const takes: number[] = [];
    const pump = (s: CallbackSocket) => {
      for (;;) {
        const n = s.writeSome(data, at, data.length - at);
        takes.push(n);
        expect(s.pendingBytes).toBe(0);
        at += n;
        if (at === data.length) {
          s.end();
          return;
        }
        if (n === 0) return;
      }
    };
    connect('10.0.0.2', 11, { onConnect: pump, onDrain: pump }, {}, p.client);
    await finished;
    expect(bytes).toBe(data.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    // The first call fills the 16 KiB buffer exactly; later ones stop at 0 and wait for onDrain.
    expect(takes[0]).toBe(16 * 1024);
    expect(takes.filter((n) => n === 0).length).toBeGreaterThan(5);
  });

  it('node:net Socket and Server: 4 MB echo', async () => {
    pair = await startPair();
    const p = pair;
    const server = createServer({ runtime: p.server }, (s: Socket) => s.pipe(s));
    await new Promise<void>((r) => server.listen(9000, r));
    const data = Buffer.alloc(4 << 20, 7);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const h = createHash('sha256');
    let n = 0;
    await new Promise<void>((resolve, reject) => {
      const c = new (require_socket())({ runtime: p.client });
      c.connect(9000, '10.0.0.2', () => {
        c.end(data);
      });
      c.on('data', (b: Buffer) => {
        h.update(b);
        n += b.length;
      });
      c.on('error', reject);
      c.on('close', () => resolve());
    });
    expect(n).toBe(data.length);
    expect(h.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('node:http server and client on the stack', async () => {
    pair = await startPair();
    const p = pair;
    const hs = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => res.end(`you sent ${body.length} bytes to ${req.url}`));
    });
    const server = createServer({ runtime: p.server }, (s) => hs.emit('connection', s));
    await new Promise<void>((r) => server.listen(8080, r));
    const agent = new http.Agent({ keepAlive: true });
    (agent as unknown as { createConnection: unknown }).createConnection = (o: {
      port: number;
      host: string;
    }) => new (require_socket())({ runtime: p.client }).connect(o.port, o.host);
    for (let i = 0; i < 3; i++) {
      const text = await new Promise<string>((resolve, reject) => {
        const req = http.request(
          { host: '10.0.0.2', port: 8080, path: `/x${i}`, method: 'POST', agent },
          (res) => {
            let t = '';
            res.on('data', (d) => (t += d));
            res.on('end', () => resolve(t));
          },
        );
        req.on('error', reject);
        req.end('abc'.repeat(i + 1));
      });
      expect(text).toBe(`you sent ${3 * (i + 1)} bytes to /x${i}`);
    }
    agent.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
});

import { Socket as BypassSocket } from '../src/net.js';

function require_socket() {
  return BypassSocket;
}
