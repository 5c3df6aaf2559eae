import { describe, expect, it } from 'vitest';
import { type HttpLimits, HttpMethod, HttpRequestParser, ParseEvent } from './parser.js';

const enc = (s: string) => new TextEncoder().encode(s);

interface Seen {
  method: number;
  target: string;
  minor: number;
  keepAlive: boolean;
  contentLength: number;
  chunked: boolean;
}

interface Outcome {
  requests: Seen[];
  error?: { status: number; reason: string; at: number };
}

/**
 * Feeds `pieces` one after the other, each through a scratch copy that is wiped after the call
 * (the stack's views die after onData: the parser must keep nothing of them).
 */
function feed(pieces: Uint8Array[], limits?: HttpLimits): Outcome {
  const p = new HttpRequestParser(limits);
  const out: Outcome = { requests: [] };
  let offset = 0;
  for (const piece of pieces) {
    const scratch = new Uint8Array(piece.length + 8);
    scratch.set(piece, 4); // not at offset 0, as in an mbuf
    let at = 4;
    const end = 4 + piece.length;
    while (at < end) {
      at = p.execute(scratch, at, end);
      if (p.event === ParseEvent.HEAD) {
        out.requests.push({
          method: p.method,
          target: new TextDecoder().decode(p.target.subarray(0, p.targetLength)),
          minor: p.versionMinor,
          keepAlive: p.keepAlive,
          contentLength: p.contentLength,
          chunked: p.chunked,
        });
      } else if (p.event === ParseEvent.ERROR) {
        out.error = { status: p.errorStatus, reason: p.errorReason, at: offset + at - 4 };
        return out;
      } else break;
    }
    scratch.fill(0xee);
    offset += piece.length;
  }
  return out;
}

const PIPELINE = [
  'GET /index.html HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n',
  'HEAD /x?y=1 HTTP/1.1\r\nhOsT: a\r\nConnection: keep-alive\r\n\r\n',
  'POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world',
  'PUT /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n',
  '\r\nGET /ten HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
  'GET /plain10 HTTP/1.0\n\n',
  'GET http://a/abs HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n',
].join('');

const EXPECTED: Seen[] = [
  {
    method: HttpMethod.GET,
    target: '/index.html',
    minor: 1,
    keepAlive: true,
    contentLength: -1,
    chunked: false,
  },
  {
    method: HttpMethod.HEAD,
    target: '/x?y=1',
    minor: 1,
    keepAlive: true,
    contentLength: -1,
    chunked: false,
  },
  {
    method: HttpMethod.OTHER,
    target: '/form',
    minor: 1,
    keepAlive: true,
    contentLength: 11,
    chunked: false,
  },
  {
    method: HttpMethod.OTHER,
    target: '/up',
    minor: 1,
    keepAlive: true,
    contentLength: -1,
    chunked: true,
  },
  {
    method: HttpMethod.GET,
    target: '/ten',
    minor: 0,
    keepAlive: true,
    contentLength: -1,
    chunked: false,
  },
  {
    method: HttpMethod.GET,
    target: '/plain10',
    minor: 0,
    keepAlive: false,
    contentLength: -1,
    chunked: false,
  },
  {
    method: HttpMethod.GET,
    target: 'http://a/abs',
    minor: 1,
    keepAlive: false,
    contentLength: -1,
    chunked: false,
  },
];

describe('HttpRequestParser', () => {
  it('parses pipelined requests (bodies, chunked, HTTP/1.0, bare LF) in one piece', () => {
    expect(feed([enc(PIPELINE)])).toEqual({ requests: EXPECTED });
  });

  it('finds the same requests when the stream is split at every byte boundary', () => {
    const all = enc(PIPELINE);
    for (let i = 1; i < all.length; i++) {
      const got = feed([all.subarray(0, i), all.subarray(i)]);
      expect(got, `split at ${i}`).toEqual({ requests: EXPECTED });
    }
  });

  it('finds the same requests fed one byte at a time, and in three pieces anywhere', () => {
    const all = enc(PIPELINE);
    expect(feed(Array.from(all, (b) => Uint8Array.of(b)))).toEqual({ requests: EXPECTED });
    for (let i = 1; i < all.length; i += 7) {
      for (let j = i + 1; j < all.length; j += 13) {
        const got = feed([all.subarray(0, i), all.subarray(i, j), all.subarray(j)]);
        expect(got, `split at ${i} and ${j}`).toEqual({ requests: EXPECTED });
      }
    }
  });

  it('reuses its buffers: thousands of requests allocate nothing new', () => {
    const p = new HttpRequestParser();
    const one = enc('GET /a HTTP/1.1\r\nHost: h\r\n\r\n');
    const target = p.target;
    for (let i = 0; i < 5000; i++) {
      expect(p.execute(one, 0, one.length)).toBe(one.length);
      expect(p.event).toBe(ParseEvent.HEAD);
    }
    expect(p.target).toBe(target);
    expect(p.requests).toBe(5000);
  });

  it('enforces its limits: header section and field count (431), target length (414)', () => {
    const limits = { maxHeaderBytes: 256, maxHeaders: 4, maxTargetBytes: 32 };
    const big = `GET / HTTP/1.1\r\nHost: a\r\nX-Long: ${'v'.repeat(300)}\r\n\r\n`;
    expect(feed([enc(big)], limits).error?.status).toBe(431);
    // The limit counts across pieces, however the bytes are split.
    const all = enc(big);
    for (let i = 1; i < all.length; i += 17)
      expect(feed([all.subarray(0, i), all.subarray(i)], limits).error?.status).toBe(431);
    const many = `GET / HTTP/1.1\r\nHost: a\r\n${'A: 1\r\n'.repeat(4)}\r\n`;
    expect(feed([enc(many)], limits).error?.status).toBe(431);
    const four = `GET / HTTP/1.1\r\nHost: a\r\n${'A: 1\r\n'.repeat(3)}\r\n`;
    expect(feed([enc(four)], limits).requests).toHaveLength(1);
    const long = `GET /${'x'.repeat(40)} HTTP/1.1\r\nHost: a\r\n\r\n`;
    expect(feed([enc(long)], limits).error?.status).toBe(414);
    const fits = `GET /${'x'.repeat(31)} HTTP/1.1\r\nHost: a\r\n\r\n`;
    expect(feed([enc(fits)], limits).requests[0].target).toBe(`/${'x'.repeat(31)}`);
  });

  it('answers malformed requests with 400 (and the others it cannot serve with 501 or 505)', () => {
    // The request, the status, the reason and where the parser stopped.
    const cases: [string, number, string, number][] = [
      [' GET / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad method', 0], // no method
      ['GE(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad method', 2], // not a token
      ['GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'empty request-target', 4], // empty target
      ['GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad character in request-target', 6],
      ['GET / http/1.1\r\nHost: a\r\n\r\n', 400, 'bad HTTP version', 6], // the version is case-sensitive
      ['GET / HTTP/1.1x\r\nHost: a\r\n\r\n', 400, 'bad request line', 14],
      ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505, 'HTTP major version not supported', 11],
      ['GET / HTTP/1.1\rHost: a\r\n\r\n', 400, 'CR without LF', 15], // bare CR
      ['GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400, 'bad header field name', 20], // space before the colon (RFC 9112 5.1)
      ['GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n', 400, 'obsolete line folding', 25], // obs-fold
      [
        'GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n',
        400,
        'control character in a header field',
        29,
      ],
      ['GET / HTTP/1.1\r\nX: y\r\n\r\n', 400, 'missing or repeated Host', 24], // no Host in 1.1
      ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'missing or repeated Host', 36],
      ['GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n', 400, 'bad Content-Length', 42],
      ['GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n', 400, 'bad Content-Length', 43],
      [
        'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n',
        400,
        'bad header field value',
        61,
      ],
      [
        'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
        400,
        'both Transfer-Encoding and Content-Length',
        75,
      ],
      [
        'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n',
        400,
        'Transfer-Encoding in HTTP/1.0',
        47,
      ],
      [
        'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n',
        501,
        'bad header field value',
        49,
      ],
      [
        'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
        400,
        'bad chunk size',
        56,
      ],
      [
        'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n',
        400,
        'chunk data longer than its size',
        61,
      ],
      ['GET / HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n', 400, 'bad header field name', 27],
    ];
    for (const [text, status, reason, at] of cases) {
      const got = feed([enc(text)]);
      expect(got.error, JSON.stringify(text)).toEqual({ status, reason, at });
      // and split anywhere, the same verdict at the same byte
      const all = enc(text);
      for (let i = 1; i < all.length; i++) {
        const split = feed([all.subarray(0, i), all.subarray(i)]);
        expect(split.error, `${JSON.stringify(text)} split at ${i}`).toEqual({
          status,
          reason,
          at,
        });
      }
    }
  });

  it('reads nothing after an error, and requests before it still count', () => {
    const p = new HttpRequestParser();
    const b = enc(
      'GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/9.9\r\n\r\nGET /x HTTP/1.1\r\n',
    );
    let at = p.execute(b, 0, b.length);
    expect(p.event).toBe(ParseEvent.HEAD);
    at = p.execute(b, at, b.length);
    expect(p.event).toBe(ParseEvent.ERROR);
    expect(p.errorStatus).toBe(505);
    expect(p.keepAlive).toBe(false);
    expect(p.dead).toBe(true);
    expect(p.execute(b, at, b.length)).toBe(b.length);
    expect(p.event).toBe(ParseEvent.NONE);
  });

  it('marks a body behind Expect: 100-continue, and a partial request as in progress', () => {
    const p = new HttpRequestParser();
    const b = enc(
      'PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n',
    );
    p.execute(b, 0, b.length);
    expect(p.event).toBe(ParseEvent.HEAD);
    expect(p.expectContinue).toBe(true);
    expect(p.inRequest).toBe(true); // the body is still to come
    const body = enc('abcde');
    expect(p.execute(body, 0, 5)).toBe(5);
    expect(p.inRequest).toBe(false);
  });
});
