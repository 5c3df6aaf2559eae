import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { EchoAccounting, HttpAccounting, LoadCounters, Outstanding } from './accounting.js';
import { HttpResponseParser } from './http-response.js';

const enc = (s: string) => new TextEncoder().encode(s);
const histogram = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 100e9,
    numberOfSignificantValueDigits: 3,
  });

const OK = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\nServer: t\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`;

/** Responses of every framing, pipelined: what the accounting must split into 7 completions. */
const STREAM = [
  OK('hello'),
  'HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n',
  'HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n', // 204: no body whatever it says
  'HTTP/1.1 503 Busy\r\ncontent-length:2\r\n\r\n:(',
  OK('x'.repeat(3000)),
].join('');
const STATUSES = [200, 404, 200, 200, 204, 503, 200];

describe('HttpResponseParser', () => {
  it('frames pipelined responses of every kind, split at every byte boundary', () => {
    const all = enc(STREAM);
    for (let cut = 0; cut < all.length; cut++) {
      const p = new HttpResponseParser();
      const seen: number[] = [];
      for (const piece of [all.subarray(0, cut), all.subarray(cut)]) {
        for (let at = 0; at < piece.length; ) {
          at = p.execute(piece, at, piece.length);
          expect(p.error).toBe('');
          if (!p.complete) break;
          seen.push(p.statusCode);
        }
      }
      expect(seen, `cut at ${cut}`).toEqual(STATUSES);
      expect(p.inResponse).toBe(false);
    }
  });

  it('knows when the server will close: Connection: close, HTTP/1.0, a body until the end', () => {
    const p = new HttpResponseParser();
    const close = enc(OK('a', 'Connection: keep-alive, Close\r\n'));
    expect(p.execute(close, 0, close.length)).toBe(close.length);
    expect(p.complete && p.willClose).toBe(true);
    const ten = enc('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb');
    p.execute(ten, 0, ten.length);
    expect(p.complete && p.willClose).toBe(true);
    const tenKeep = enc('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nb');
    p.execute(tenKeep, 0, tenKeep.length);
    expect(p.complete && !p.willClose).toBe(true);
    const eof = enc('HTTP/1.1 200 OK\r\n\r\nuntil the end');
    expect(p.execute(eof, 0, eof.length)).toBe(eof.length);
    expect(p.complete).toBe(false);
    expect(p.finish()).toBe(true);
    expect(p.statusCode).toBe(200);
  });

  it('reports a malformed stream: why, and at which byte', () => {
    for (const [bad, error, at] of [
      ['HTTX/1.1 200 OK\r\n\r\n', 'the status line does not start with HTTP/', 3],
      ['HTTP/2 200 OK\r\n\r\n', 'not HTTP/1.x', 5],
      ['HTTP/1.1 2x0 OK\r\n\r\n', 'the status code is not 3 digits', 10],
      ['HTTP/1.1 200 OK\r\nContent-Length: 1z\r\n\r\n', 'a bad Content-Length', 34],
      ['HTTP/1.1 200 OK\r\nno colon\n\r\n', 'a header line without a colon', 25],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n', 'a bad chunk size', 47],
      [
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n',
        'chunk data longer than its size',
        51,
      ],
    ] as const) {
      const p = new HttpResponseParser();
      const b = enc(bad);
      expect(p.execute(b, 0, b.length), bad).toBe(at);
      expect(p.error, bad).toBe(error);
    }
  });
});

describe('HttpAccounting', () => {
  it('completes the oldest request per response, counts non-2xx/3xx, records each latency', () => {
    const c = new LoadCounters();
    const h = histogram();
    const a = new HttpAccounting(c, h, 8);
    a.sent(7, 1000);
    const all = enc(STREAM);
    // Two pieces, arriving 1 ms and 3 ms after the requests went out.
    const cut = STREAM.indexOf('HTTP/1.1 100') + 5; // after two responses, inside the third
    expect(a.received(all, 0, cut, 1001)).toBe(2);
    expect(a.received(all, cut, all.length - cut, 1003)).toBe(5);
    expect(c.requests).toBe(7);
    expect(c.non2xx).toBe(2); // 404 and 503 (100 Continue is not a response to count)
    expect(c.bytesRx).toBe(all.length);
    expect(a.outstanding.count).toBe(0);
    expect(h.totalCount).toBe(7);
    expect(h.minNonZeroValue).toBeGreaterThanOrEqual(999_000);
    expect(h.maxValue).toBeLessThanOrEqual(3_010_000);
    expect(h.getValueAtPercentile(50)).toBeGreaterThan(2_900_000);
  });

  it('refuses a response nobody asked for, and a malformed one', () => {
    const a = new HttpAccounting(new LoadCounters(), histogram(), 2);
    const one = enc(OK('a'));
    a.sent(1, 0);
    expect(a.received(one, 0, one.length, 1)).toBe(1);
    expect(a.received(one, 0, one.length, 2)).toBe(-1);
    const b = new HttpAccounting(new LoadCounters(), histogram(), 2);
    b.sent(1, 0);
    expect(b.received(enc('garbage\r\n'), 0, 9, 1)).toBe(-1);
  });

  it('stops at a response that closes; a close-delimited body completes at the end', () => {
    const c = new LoadCounters();
    const a = new HttpAccounting(c, histogram(), 4);
    a.sent(3, 0);
    const s = enc(OK('a') + OK('b', 'Connection: close\r\n') + OK('c'));
    expect(a.received(s, 0, s.length, 1)).toBe(2);
    expect(a.willClose).toBe(true);
    a.reset();
    expect(a.willClose).toBe(false);
    expect(a.outstanding.count).toBe(0);
    a.sent(1, 10);
    const eof = enc('HTTP/1.1 200 OK\r\n\r\nbody');
    expect(a.received(eof, 0, eof.length, 11)).toBe(0);
    expect(a.ended(12)).toBe(1);
    expect(c.requests).toBe(3);
  });

  it('counts nothing outside the measurement window', () => {
    const c = new LoadCounters();
    const h = histogram();
    const a = new HttpAccounting(c, h, 2);
    a.sent(2, 0);
    const s = enc(OK('a'));
    a.received(s, 0, s.length, 1);
    c.recording = false;
    a.received(s, 0, s.length, 2);
    expect([c.requests, h.totalCount, c.bytesRx]).toEqual([1, 1, s.length]);
    expect(a.outstanding.count).toBe(0); // still tracked, so the stream stays in step
  });
});

describe('EchoAccounting', () => {
  it('completes a message per `size` bytes, however they arrive', () => {
    const c = new LoadCounters();
    const h = histogram();
    const a = new EchoAccounting(c, h, 4, 10);
    a.sent(4, 0);
    const b = new Uint8Array(40);
    expect(a.received(b, 0, 3, 1)).toBe(0);
    expect(a.received(b, 0, 7, 2)).toBe(1);
    expect(a.received(b, 0, 25, 3)).toBe(2);
    expect(a.received(b, 0, 5, 4)).toBe(1);
    expect(c.requests).toBe(4);
    expect(c.bytesRx).toBe(40);
    expect(a.outstanding.count).toBe(0);
    expect(h.totalCount).toBe(4);
  });

  it('refuses more bytes back than were sent', () => {
    const a = new EchoAccounting(new LoadCounters(), histogram(), 2, 10);
    a.sent(1, 0);
    expect(a.received(new Uint8Array(11), 0, 11, 1)).toBe(-1);
  });
});

describe('Outstanding', () => {
  it('is a ring of send times that keeps the sequence numbers', () => {
    const o = new Outstanding(3);
    o.push(1);
    o.push(2);
    expect(o.shift()).toBe(1);
    o.push(3);
    o.push(4);
    expect(() => o.push(5)).toThrow(/pipeline depth/);
    expect([o.shift(), o.shift(), o.oldest()]).toEqual([2, 3, 4]);
    expect([o.sent, o.completed, o.count]).toEqual([4, 3, 1]);
  });
});
