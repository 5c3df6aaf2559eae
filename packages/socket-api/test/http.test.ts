// node:http over the sockets, each scenario on real node:net (kernel loopback) and on our stack
// (sides.ts). Both sides are wired the same way, so only the sockets differ: an http.Server fed
// by the side's net server (`createServer(s => httpServer.emit('connection', s))`), and an
// http.Agent whose createConnection returns the side's client socket.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { pattern, SIDES, type Side, type Sock } from './sides.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  reused: boolean;
}

describe.each(SIDES)('$name', (def) => {
  let side: Side | undefined;
  const agents: http.Agent[] = [];
  afterEach(async () => {
    for (const a of agents.splice(0)) a.destroy();
    const s = side;
    side = undefined;
    // Every pair ends with its pools full again.
    if (s !== undefined) expect(await s.stop()).toBe(0);
  });

  /** An http.Server on the side's net server; `connections` counts the TCP connections. */
  async function serve(handler: http.RequestListener) {
    const n = await def.start();
    side = n;
    const hs = http.createServer(handler);
    const accepted: Sock[] = [];
    const server = n.createServer({}, (s) => {
      accepted.push(s);
      hs.emit('connection', s);
    });
    const port = await n.listen(server);
    return { n, port, accepted };
  }

  function agent(n: Side, o: http.AgentOptions = {}): http.Agent {
    const a = new http.Agent({ keepAlive: true, ...o });
    (a as unknown as { createConnection: (o: { port: number }) => Sock }).createConnection = (
      opts,
    ) => n.connect(opts.port);
    agents.push(a);
    return a;
  }

  /** One request; `body` is written in `chunk`-byte writes (chunked unless a length is set). */
  function request(
    n: Side,
    port: number,
    a: http.Agent,
    o: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders },
    body?: Buffer,
    chunk = 64 << 10,
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: n.host, port, agent: a, ...o }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts),
            reused: req.reusedSocket,
          }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      if (body === undefined) {
        req.end();
        return;
      }
      // Respect back-pressure: write, and wait for 'drain' when told to.
      let off = 0;
      const pump = () => {
        while (off < body.length) {
          const piece = body.subarray(off, off + chunk);
          off += piece.length;
          if (!req.write(piece)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
  }

  it('keep-alive: one connection serves several requests in turn', async () => {
    const sockets = new Set<unknown>();
    const { n, port, accepted } = await serve((req, res) => {
      sockets.add(req.socket);
      res.setHeader('content-type', 'text/plain');
      res.end(`${req.method} ${req.url}`);
    });
    const a = agent(n, { maxSockets: 1 });
    const reused: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await request(n, port, a, { path: `/item/${i}` });
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(`GET /item/${i}`);
      expect(r.headers.connection).toBe('keep-alive');
      reused.push(r.reused);
    }
    expect(reused).toEqual([false, true, true, true, true]);
    expect(accepted.length).toBe(1);
    expect(sockets.size).toBe(1);
  });

  it('keep-alive: parallel requests share maxSockets connections', async () => {
    const perSocket = new Map<unknown, number>();
    const { n, port, accepted } = await serve((req, res) => {
      perSocket.set(req.socket, (perSocket.get(req.socket) ?? 0) + 1);
      // Answer a little later, so requests pile up on the agent.
      setTimeout(() => res.end(req.url), 2);
    });
    const a = agent(n, { maxSockets: 2 });
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) => request(n, port, a, { path: `/p${i}` })),
    );
    expect(replies.map((r) => r.body.toString())).toEqual(
      Array.from({ length: 8 }, (_, i) => `/p${i}`),
    );
    // (node's agent sets reusedSocket only for a socket taken from its free list, not for a
    // request queued until one frees: the server's view is what counts.)
    expect(accepted.length).toBe(2);
    expect([...perSocket.values()].reduce((x, y) => x + y, 0)).toBe(8);
    expect(perSocket.size).toBe(2);
  });

  it('a chunked request body of several MB arrives whole (sha256)', async () => {
    const { n, port } = await serve((req, res) => {
      const h = createHash('sha256');
      let bytes = 0;
      req.on('data', (d: Buffer) => {
        h.update(d);
        bytes += d.length;
      });
      req.on('end', () =>
        res.end(
          JSON.stringify({ te: req.headers['transfer-encoding'], bytes, sha: h.digest('hex') }),
        ),
      );
    });
    const a = agent(n);
    const body = pattern(3 << 20, 11);
    // Odd-sized writes: chunk boundaries fall anywhere in segments.
    const r = await request(n, port, a, { method: 'POST', path: '/upload' }, body, 50_001);
    expect(JSON.parse(r.body.toString())).toEqual({
      te: 'chunked',
      bytes: body.length,
      sha: sha(body),
    });
  });

  it('a chunked response body of several MB arrives whole (sha256), then the connection is reused', async () => {
    const body = pattern(5 << 20, 13);
    const { n, port, accepted } = await serve((req, res) => {
      if (req.url === '/small') {
        res.end('small');
        return;
      }
      // Write with back-pressure, in uneven pieces, no content-length: chunked.
      let off = 0;
      const pump = () => {
        while (off < body.length) {
          const piece = body.subarray(off, off + 70_003);
          off += piece.length;
          if (!res.write(piece)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const a = agent(n, { maxSockets: 1 });
    const r = await request(n, port, a, { path: '/big' });
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.body.length).toBe(body.length);
    expect(sha(r.body)).toBe(sha(body));
    const r2 = await request(n, port, a, { path: '/small' });
    expect(r2.body.toString()).toBe('small');
    expect(r2.reused).toBe(true);
    expect(accepted.length).toBe(1);
  });

  it('a streamed echo: a chunked body piped back as a chunked response, both ways at once', async () => {
    const { n, port } = await serve((req, res) => {
      res.setHeader('content-type', 'application/octet-stream');
      req.pipe(res);
    });
    const a = agent(n);
    const body = pattern(2 << 20, 17);
    const r = await request(n, port, a, { method: 'PUT', path: '/echo' }, body, 32_768);
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(sha(r.body)).toBe(sha(body));
  });

  it('Connection: close: the server closes, the next request opens a new connection', async () => {
    const closedOnServer: boolean[] = [];
    const { n, port, accepted } = await serve((req, res) => {
      req.socket.once('close', (hadError: boolean) => closedOnServer.push(hadError));
      res.setHeader('connection', 'close');
      res.end('bye');
    });
    const a = agent(n, { maxSockets: 1 });
    for (let i = 0; i < 3; i++) {
      const r = await request(n, port, a, { path: `/c${i}` });
      expect(r.body.toString()).toBe('bye');
      expect(r.headers.connection).toBe('close');
      expect(r.reused).toBe(false);
    }
    expect(accepted.length).toBe(3);
    await new Promise((r) => setTimeout(r, 20));
    expect(closedOnServer).toEqual([false, false, false]);
  });
});

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
