// HttpServer on one stack, a raw callback client on another, joined by back-to-back net_ring
// ports and polled from this thread (socket-api's test pair): what goes over the wire for
// pipelining, keep-alive, HEAD, 405, bad requests, HTTP/1.0, Connection: close, back-pressure
// with large responses, and files; every mbuf is back in its pool at the end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpResponseParser } from '@bypass/loadgen';
import { connect } from '@bypass/socket-api';
import { afterEach, describe, expect, it } from 'vitest';
import { type Pair, startPair } from '../../../packages/socket-api/test/pair.js';
import { type HttpdConfig, HttpServer } from '../src/server.js';

let pair: Pair | undefined;
let server: HttpServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  server?.close();
  server = undefined;
  if (pair !== undefined) {
    const { leaked } = await pair.close();
    pair = undefined;
    expect(leaked).toBe(0);
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

interface Exchange {
  text: string;
  /** The server finished its side (FIN). */
  ended: boolean;
  closed: boolean;
}

/**
 * Sends the pieces and collects what comes back until the server ends, `count` responses have
 * come (no HEAD among them), or `ms` pass.
 */
async function exchange(p: Pair, pieces: string[], ms = 1500, count = 0): Promise<Exchange> {
  const got: Buffer[] = [];
  const out: Exchange = { text: '', ended: false, closed: false };
  const framer = new HttpResponseParser();
  let complete = 0;
  let mine = false; // we closed first
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      s.close();
      resolve();
    }, ms);
    const s = connect(
      '10.0.0.2',
      8080,
      {
        onConnect: (sock) => {
          for (const piece of pieces) sock.write(Buffer.from(piece, 'latin1'));
        },
        onData: (sock, b, off, len) => {
          got.push(Buffer.from(b.subarray(off, off + len)));
          for (let at = off; at < off + len; ) {
            at = framer.execute(b, at, off + len);
            if (!framer.complete) break;
            if (++complete === count) {
              mine = true;
              sock.close();
            }
          }
        },
        onEnd: (sock) => {
          out.ended = !mine;
          sock.end();
        },
        onClose: () => {
          out.closed = true;
          clearTimeout(timer);
          resolve();
        },
        onError: (_s, e) => reject(e),
      },
      {},
      p.client,
    );
  });
  out.text = Buffer.concat(got).toString('latin1');
  return out;
}

interface Response {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits a byte stream of responses (Content-Length framing; HEAD answers marked by `heads`). */
function responses(text: string, heads: Set<number> = new Set()): Response[] {
  const out: Response[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) throw new Error(`incomplete head: ${JSON.stringify(text.slice(at, at + 80))}`);
    const [line, ...fields] = text.slice(at, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const f of fields) {
      const i = f.indexOf(':');
      headers[f.slice(0, i).toLowerCase()] = f.slice(i + 1).trim();
    }
    const len = heads.has(out.length) ? 0 : Number(headers['content-length']);
    out.push({
      status: Number(line.split(' ')[1]),
      headers,
      body: text.slice(end + 4, end + 4 + len),
    });
    at = end + 4 + len;
  }
  return out;
}

async function start(config: Partial<HttpdConfig> = {}): Promise<Pair> {
  pair = await startPair();
  server = new HttpServer({ port: 8080, ...config }, pair.server);
  return pair;
}

describe('HttpServer', () => {
  it('answers pipelined requests in order on one keep-alive connection, whatever the split', async () => {
    const p = await start({ size: 100 });
    const req =
      'GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n';
    for (const pieces of [[req], [req.slice(0, 20), req.slice(20, 61), req.slice(61)], [...req]]) {
      const x = await exchange(p, pieces, 300);
      expect(x.ended).toBe(false); // keep-alive: the server did not close
      const r = responses(x.text, new Set([1]));
      expect(r.map((q) => q.status)).toEqual([200, 200, 200]);
      expect(r[0].body).toHaveLength(100);
      expect(r[0].headers['content-length']).toBe('100');
      expect(r[0].headers.date).toMatch(/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
      expect(r[0].headers.connection).toBeUndefined();
      expect(r[1].headers['content-length']).toBe('100'); // HEAD: the length, no body
      expect(r[2].body).toBe(r[0].body);
    }
    expect(server!.stats.requests).toBe(9);
  });

  it('answers a bad request with 400 and Connection: close, then closes', async () => {
    const p = await start();
    const x = await exchange(p, [
      'GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /bad HTTP/1.1\r\nHost : x\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n',
    ]);
    const r = responses(x.text);
    expect(r.map((q) => q.status)).toEqual([200, 400]);
    expect(r[1].headers.connection).toBe('close');
    expect(x.ended).toBe(true);
    expect(server!.stats.badRequests).toBe(1);
  });

  it('ignores a few empty lines before a request; a stream of them gets 400 and close', async () => {
    const p = await start();
    const ok = await exchange(p, [`${'\r\n'.repeat(8)}GET / HTTP/1.1\r\nHost: x\r\n\r\n`], 1500, 1);
    expect(responses(ok.text).map((q) => q.status)).toEqual([200]);
    const x = await exchange(p, [`${'\r\n'.repeat(50)}GET / HTTP/1.1\r\nHost: x\r\n\r\n`]);
    const r = responses(x.text);
    expect(r.map((q) => q.status)).toEqual([400]);
    expect(r[0].headers.connection).toBe('close');
    expect(x.ended).toBe(true);
  });

  it('a head still incomplete headersTimeoutS after its first byte gets 408 and close', async () => {
    const p = await start({ headersTimeoutS: 0.2 });
    const x = await exchange(p, ['GET / HTTP/1.1\r\nHost: x\r\n'], 4000);
    const r = responses(x.text);
    expect(r.map((q) => q.status)).toEqual([408]);
    expect(r[0].headers.connection).toBe('close');
    expect(x.ended).toBe(true);
    expect(server!.stats.timeouts).toBe(1);
  });

  it('a body arriving below bodyMinBytesPerS gets 408 and close once it has run headersTimeoutS', async () => {
    const p = await start({ headersTimeoutS: 0.2, bodyMinBytesPerS: 1000 });
    // POST is answered 405 at once and its body skipped; 10 of its 100 000 bytes ever come.
    const x = await exchange(
      p,
      [`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'b'.repeat(10)}`],
      4000,
    );
    const r = responses(x.text);
    expect(r.map((q) => q.status)).toEqual([405, 408]);
    expect(r[1].headers.connection).toBe('close');
    expect(x.ended).toBe(true);
    expect(server!.stats.timeouts).toBe(1);
  });

  it('answers 431, 414, 505 and 501, each with close', async () => {
    const p = await start({ limits: { maxHeaderBytes: 512, maxTargetBytes: 64 } });
    const cases: [string, number][] = [
      [`GET / HTTP/1.1\r\nHost: x\r\nX: ${'y'.repeat(600)}\r\n\r\n`, 431],
      [`GET /${'a'.repeat(100)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
      ['GET / HTTP/3.0\r\nHost: x\r\n\r\n', 505],
      ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br\r\n\r\n', 501],
    ];
    for (const [req, status] of cases) {
      const x = await exchange(p, [req]);
      const r = responses(x.text);
      expect(
        r.map((q) => q.status),
        req.slice(0, 30),
      ).toEqual([status]);
      expect(r[0].headers.connection).toBe('close');
      expect(x.ended).toBe(true);
    }
  });

  it('answers other methods with 405 and Allow, skips their bodies and keeps the connection', async () => {
    const p = await start({ size: 5 });
    const x = await exchange(
      p,
      [
        'POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nGET / Hx',
        'DELETE /g HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
        'GET /after HTTP/1.1\r\nHost: x\r\n\r\n',
      ],
      2000,
      3,
    );
    const r = responses(x.text);
    expect(r.map((q) => q.status)).toEqual([405, 405, 200]);
    expect(r[0].headers.allow).toBe('GET, HEAD');
    expect(x.ended).toBe(false);
  });

  it('honours Connection: close and HTTP/1.0 (closes unless keep-alive was asked)', async () => {
    const p = await start();
    let x = await exchange(p, [
      'GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n',
    ]);
    let r = responses(x.text);
    expect(r.map((q) => q.status)).toEqual([200]); // nothing after the request that closes
    expect(r[0].headers.connection).toBe('close');
    expect(x.ended).toBe(true);

    x = await exchange(p, ['GET / HTTP/1.0\r\n\r\n']);
    r = responses(x.text);
    expect(r[0].headers.connection).toBe('close');
    expect(x.ended).toBe(true);

    x = await exchange(p, [
      'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n',
    ]);
    r = responses(x.text);
    expect(r.map((q) => q.headers.connection)).toEqual(['keep-alive', 'close']);
    expect(x.ended).toBe(true);
  });

  it('streams large pipelined responses through back-pressure, in order and whole', async () => {
    const size = 700_000; // over five send buffers: the queue, pause and onDrain all run
    const p = await start({ size });
    const req = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
    const x = await exchange(p, [req.repeat(3)], 10_000, 3);
    const r = responses(x.text);
    expect(r.map((q) => q.body.length)).toEqual([size, size, size]);
    expect(new Set(r.map((q) => q.body)).size).toBe(1);
  });

  it('serves files from a folder: contents, 404 and traversal refused', async () => {
    dir = mkdtempSync(join(tmpdir(), 'httpd-root-'));
    const bytes = Buffer.alloc(300_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
    writeFileSync(join(dir, 'data.bin'), bytes);
    writeFileSync(join(dir, 'index.html'), 'hi\n');
    const p = await start({ root: dir });
    const x = await exchange(
      p,
      [
        'GET /data.bin HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n',
        'GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n',
      ],
      5000,
      4,
    );
    const r = responses(x.text);
    expect(r.map((q) => q.status)).toEqual([200, 200, 404, 400]);
    expect(Buffer.from(r[0].body, 'latin1').equals(bytes)).toBe(true);
    expect(r[0].headers['content-type']).toBe('application/octet-stream');
    expect(r[1].body).toBe('hi\n');
  });
});
