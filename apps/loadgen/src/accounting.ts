// Request/response accounting for one connection of the load generator: requests go out with a
// timestamp (a ring of `pipeline` slots), bytes come back, and each response that completes
// takes the oldest timestamp, records its latency in the lcore's histogram and counts. Pure (no
// sockets, time is an argument), so the unit tests drive it byte by byte.
import type { Histogram } from 'hdr-histogram-js';
import { HttpResponseParser } from './http-response.js';

/** One lcore's totals. Completions count only while `recording` (the measurement window). */
export class LoadCounters {
  recording = true;
  requests = 0;
  /** Responses whose status is not 2xx or 3xx (wrk's "Non-2xx or 3xx responses"). */
  non2xx = 0;
  bytesRx = 0;
  bytesTx = 0;
  errConnect = 0;
  errRead = 0;
  errWrite = 0;
  errTimeout = 0;
  /** Connections opened (connect() that reached ESTABLISHED). */
  connects = 0;
}

/** Send times of the requests in flight on a connection, oldest first. */
export class Outstanding {
  readonly #t: Float64Array;
  #head = 0;
  #count = 0;
  /** Requests sent and completed on this connection, ever: the oldest in flight is `completed`. */
  sent = 0;
  completed = 0;

  constructor(capacity: number) {
    this.#t = new Float64Array(capacity);
  }

  get count(): number {
    return this.#count;
  }

  get capacity(): number {
    return this.#t.length;
  }

  push(t: number): void {
    if (this.#count === this.#t.length)
      throw new Error('more requests in flight than the pipeline depth');
    this.#t[(this.#head + this.#count) % this.#t.length] = t;
    this.#count++;
    this.sent++;
  }

  /** The send time of the oldest request, removed. */
  shift(): number {
    const t = this.#t[this.#head];
    this.#head = (this.#head + 1) % this.#t.length;
    this.#count--;
    this.completed++;
    return t;
  }

  /** The send time of the oldest request (NaN when none is in flight). */
  oldest(): number {
    return this.#count > 0 ? this.#t[this.#head] : Number.NaN;
  }

  clear(): void {
    this.#head = 0;
    this.#count = 0;
    this.sent = 0;
    this.completed = 0;
  }
}

/** What a connection's accounting must do; `received` returns the responses it completed. */
export interface Accounting {
  readonly outstanding: Outstanding;
  /** `n` requests went out at `now`. */
  sent(n: number, now: number): void;
  /**
   * Bytes `b[off .. off + len)` arrived at `now`. Returns the requests they completed (each
   * recorded), or -1 when the stream is malformed (the caller counts a read error and drops
   * the connection).
   */
  received(b: Uint8Array, off: number, len: number, now: number): number;
  /** The server ended the stream: 1 when that completed a response (close-delimited), else 0. */
  ended(now: number): number;
  /** After the last completion: the server closes the connection (send nothing more). */
  readonly willClose: boolean;
  /** A new connection: forget the old one's state. */
  reset(): void;
}

function record(h: Histogram, sentAt: number, now: number): void {
  const ns = Math.round((now - sentAt) * 1e6);
  h.recordValue(Math.max(ns, 1));
}

/** HTTP: each complete response (any framing) completes the oldest request. */
export class HttpAccounting implements Accounting {
  readonly outstanding: Outstanding;
  readonly parser = new HttpResponseParser();
  willClose = false;

  constructor(
    readonly counters: LoadCounters,
    readonly histogram: Histogram,
    pipeline: number,
  ) {
    this.outstanding = new Outstanding(pipeline);
  }

  sent(n: number, now: number): void {
    for (let i = 0; i < n; i++) this.outstanding.push(now);
  }

  received(b: Uint8Array, off: number, len: number, now: number): number {
    const c = this.counters;
    if (c.recording) c.bytesRx += len;
    const end = off + len;
    const parser = this.parser;
    let done = 0;
    let p = off;
    while (p < end) {
      p = parser.execute(b, p, end);
      if (parser.error !== '') return -1;
      if (!parser.complete) break;
      if (!this.#complete(now)) return -1;
      done++;
      if (parser.willClose) {
        this.willClose = true;
        break; // anything after a response that closes the connection is not ours to read
      }
    }
    return done;
  }

  ended(now: number): number {
    if (!this.parser.finish()) return 0;
    return this.#complete(now) ? 1 : 0;
  }

  #complete(now: number): boolean {
    if (this.outstanding.count === 0) return false; // a response nobody asked for
    const sentAt = this.outstanding.shift();
    const c = this.counters;
    if (c.recording) {
      c.requests++;
      const s = this.parser.statusCode;
      if (s < 200 || s > 399) c.non2xx++;
      record(this.histogram, sentAt, now);
    }
    return true;
  }

  reset(): void {
    this.parser.reset();
    this.outstanding.clear();
    this.willClose = false;
  }
}

/** Echo: every `size` bytes that come back complete the oldest message. */
export class EchoAccounting implements Accounting {
  readonly outstanding: Outstanding;
  readonly willClose = false;
  /** Bytes of the oldest message received so far. */
  #partial = 0;

  constructor(
    readonly counters: LoadCounters,
    readonly histogram: Histogram,
    pipeline: number,
    readonly size: number,
  ) {
    this.outstanding = new Outstanding(pipeline);
  }

  sent(n: number, now: number): void {
    for (let i = 0; i < n; i++) this.outstanding.push(now);
  }

  received(_b: Uint8Array, _off: number, len: number, now: number): number {
    const c = this.counters;
    if (c.recording) c.bytesRx += len;
    let partial = this.#partial + len;
    let done = 0;
    const out = this.outstanding;
    while (partial >= this.size) {
      if (out.count === 0) return -1; // more bytes back than were sent
      partial -= this.size;
      const sentAt = out.shift();
      if (c.recording) {
        c.requests++;
        record(this.histogram, sentAt, now);
      }
      done++;
    }
    if (partial > 0 && out.count === 0) return -1;
    this.#partial = partial;
    return done;
  }

  ended(): number {
    return 0;
  }

  reset(): void {
    this.#partial = 0;
    this.outstanding.clear();
  }
}
