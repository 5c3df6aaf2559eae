// The HTTP/1.1 server on the callback API. Each connection has a parser (its buffers allocated
// once) and an output queue of (buffer, from, to) slices of prebuilt responses: a response is
// written straight from the shared prebuilt buffer, and only what the send buffer cannot take
// yet waits in the queue, by reference, for onDrain. While output waits, the connection stops
// reading (pause), so a pipelining client cannot make the queue grow past one receive chunk's
// worth of requests. Responses go out in request order (RFC 9112 9.3.2).
import { lcoreStats } from '@bypass/eal';
import { writeSome } from '@bypass/loadgen';
import {
  type CallbackListener,
  type CallbackSocket,
  listen,
  type NetRuntime,
  type SocketHandlers,
} from '@bypass/socket-api';
import { FileCache, type FileCacheOptions } from './files.js';
import { type HttpLimits, HttpMethod, HttpRequestParser, ParseEvent } from './parser.js';
import {
  errorResponses,
  fixedResponse,
  HttpDate,
  Persist,
  type PrebuiltResponse,
  type ResponseSet,
} from './responses.js';

export interface HttpdConfig {
  /** TCP port to listen on. */
  port: number;
  /** Serve files from this folder (GET and HEAD; index.html for a folder). */
  root?: string;
  /** Without `root`: every GET answers with this many bytes (default 64). */
  size?: number;
  limits?: HttpLimits;
  files?: FileCacheOptions;
  /** Close a connection idle this long (default 60 s). */
  keepAliveTimeoutS?: number;
  /**
   * A request head must arrive whole within this many seconds of its first byte, however the
   * bytes trickle in (default 30; Node's headersTimeout, nginx's client_header_timeout): else 408
   * and close. Slowloris keeps a connection busy with a byte every few seconds.
   */
  headersTimeoutS?: number;
  /**
   * A request body must keep coming at this many bytes per second on average, once it has run
   * for headersTimeoutS (default 1024): else 408 and close.
   */
  bodyMinBytesPerS?: number;
}

export interface HttpdStats {
  connections: number;
  requests: number;
  /** Responses by class. */
  status2xx: number;
  status4xx: number;
  status5xx: number;
  /** Requests refused by the parser (400, 414, 431, 501, 505; the connection then closes). */
  badRequests: number;
  /** Response bytes queued for sending. */
  bytesOut: number;
  /** Connections that ended in an error (reset, timeout). */
  errors: number;
  /** Requests answered 408: a head past its deadline, or a body below its minimum rate. */
  timeouts: number;
}

export function newHttpdStats(): HttpdStats {
  return {
    connections: 0,
    requests: 0,
    status2xx: 0,
    status4xx: 0,
    status5xx: 0,
    badRequests: 0,
    bytesOut: 0,
    errors: 0,
    timeouts: 0,
  };
}

/** Shared statistics counters (per lcore row). */
export const HTTPD_COUNTERS = ['httpd_requests', 'httpd_connections', 'httpd_bytes_out'] as const;

class HttpConn {
  readonly parser: HttpRequestParser;
  readonly qBuf: Uint8Array[] = [];
  readonly qFrom: number[] = [];
  readonly qTo: number[] = [];
  qHead = 0;
  /** No more requests are read (a response that closes is queued, or the peer ended). */
  closing = false;
  /** end() once the queue is empty. */
  endAfterFlush = false;
  paused = false;
  lastActive = 0;
  /** When the request head being read began, or -1. */
  headSince = -1;
  /** When the request body being read began, or -1; and its bytes so far. */
  bodySince = -1;
  bodyBytes = 0;

  constructor(
    readonly sock: CallbackSocket,
    limits: HttpLimits | undefined,
  ) {
    this.parser = new HttpRequestParser(limits);
  }

  get queued(): number {
    return this.qBuf.length - this.qHead;
  }
}

/** One lcore's server: its responses, its file cache, its connections. */
export class HttpServer {
  readonly stats = newHttpdStats();
  readonly listener: CallbackListener;
  readonly date = new HttpDate();
  readonly errors = errorResponses();
  readonly fixed: ResponseSet | undefined;
  readonly files: FileCache | undefined;
  readonly conns = new Set<HttpConn>();
  readonly #handlers: SocketHandlers;
  readonly #row: Float64Array | undefined;
  readonly #ids: number[] = [];
  readonly #idleMs: number;
  readonly #headMs: number;
  readonly #bodyMinRate: number;
  #nextSweep = 0;
  readonly #detach: () => void;

  /** Listens on `config.port` of `runtime`; `shared` also counts into the lcore's shared row. */
  constructor(
    readonly config: HttpdConfig,
    readonly runtime: NetRuntime,
    shared = false,
  ) {
    if (config.root !== undefined) this.files = new FileCache(config.root, config.files);
    else this.fixed = fixedResponse(config.size ?? 64);
    if (shared) {
      const st = lcoreStats();
      this.#row = st.row;
      for (const n of HTTPD_COUNTERS) this.#ids.push(st.counterId(n));
    }
    this.#idleMs = (config.keepAliveTimeoutS ?? 60) * 1000;
    this.#headMs = (config.headersTimeoutS ?? 30) * 1000;
    this.#bodyMinRate = config.bodyMinBytesPerS ?? 1024;
    this.#handlers = {
      onData: (s, b, off, len) => this.#onData(s.userData as HttpConn, b, off, len),
      onDrain: (s) => this.#flush(s.userData as HttpConn),
      onEnd: (s) => this.#onEnd(s.userData as HttpConn),
      onError: () => {
        this.stats.errors++;
      },
      onClose: (s) => {
        this.conns.delete(s.userData as HttpConn);
      },
    };
    this.listener = listen(
      config.port,
      {
        onConnection: (sock) => {
          const c = new HttpConn(sock, config.limits);
          c.lastActive = runtime.now();
          sock.userData = c;
          this.conns.add(c);
          this.stats.connections++;
          if (this.#row !== undefined) this.#row[this.#ids[1]]++;
          return this.#handlers;
        },
      },
      { noDelay: true },
      runtime,
    );
    this.#detach = runtime.onAfterPoll((t) => {
      if (t >= this.#nextSweep) this.#sweep(t);
    });
  }

  /** Stops listening and closes every connection. */
  close(): void {
    this.#detach();
    this.listener.close();
    for (const c of this.conns) c.sock.abort();
    this.conns.clear();
  }

  #onData(c: HttpConn, b: Uint8Array, off: number, len: number): void {
    if (c.closing) return; // after a response that closes: the rest is not read
    c.lastActive = this.runtime.now();
    this.date.update(Date.now());
    const parser = c.parser;
    const end = off + len;
    let p = off;
    while (p < end) {
      p = parser.execute(b, p, end);
      const ev = parser.event;
      if (ev === ParseEvent.HEAD) {
        c.headSince = -1;
        c.bodySince = -1;
        this.#respond(c);
        if (c.closing) break;
      } else if (ev === ParseEvent.ERROR) {
        this.#refuse(c, parser.errorStatus);
        break;
      } else break;
    }
    // The deadlines (see #sweep): a head from its first byte, a body by its rate.
    const now = c.lastActive;
    if (parser.inHead) {
      if (c.headSince < 0) c.headSince = now;
    } else c.headSince = -1;
    if (parser.inBody) {
      if (c.bodySince < 0) {
        c.bodySince = now;
        c.bodyBytes = 0;
      }
      c.bodyBytes += len;
    } else c.bodySince = -1;
    if (c.endAfterFlush && c.queued === 0) c.sock.end();
  }

  /** A request too slow to arrive: 408 and close (RFC 9110 15.5.9). */
  #timeout(c: HttpConn): void {
    this.stats.timeouts++;
    this.#count(408);
    c.headSince = -1;
    c.bodySince = -1;
    const r = this.errors.get(408)!.get(Persist.CLOSE);
    r.stamp(this.date);
    this.#send(c, r, false);
    this.#closeAfter(c);
    if (c.queued === 0) c.sock.end();
  }

  /** Answers the request whose head the parser just finished. */
  #respond(c: HttpConn): void {
    const q = c.parser;
    this.stats.requests++;
    // A body we will not wait for (Expect: 100-continue) leaves the stream unreadable: close.
    const persist =
      !q.keepAlive || q.expectContinue
        ? Persist.CLOSE
        : q.versionMinor === 0
          ? Persist.KEEP_ALIVE_10
          : Persist.KEEP_ALIVE;
    let set: ResponseSet;
    if (q.method === HttpMethod.OTHER) set = this.errors.get(405)!;
    else if (this.files !== undefined) {
      const e = this.files.lookup(q.target, q.targetLength, this.runtime.now());
      set = e.status === 200 ? e.response! : this.errors.get(e.status)!;
    } else set = this.fixed!;
    this.#count(set.status);
    const r = set.get(persist);
    r.stamp(this.date);
    this.#send(c, r, q.method === HttpMethod.HEAD);
    if (persist === Persist.CLOSE) this.#closeAfter(c);
  }

  /** A request the parser refused: the error, then close (the stream cannot be trusted). */
  #refuse(c: HttpConn, status: number): void {
    this.stats.badRequests++;
    this.#count(status);
    const r = this.errors.get(status)!.get(Persist.CLOSE);
    r.stamp(this.date);
    this.#send(c, r, false);
    this.#closeAfter(c);
  }

  #count(status: number): void {
    const s = this.stats;
    if (status < 300) s.status2xx++;
    else if (status < 500) s.status4xx++;
    else s.status5xx++;
    if (this.#row !== undefined) this.#row[this.#ids[0]]++;
  }

  #closeAfter(c: HttpConn): void {
    c.closing = true;
    c.endAfterFlush = true;
    c.parser.stop();
  }

  #send(c: HttpConn, r: PrebuiltResponse, headOnly: boolean): void {
    const to = headOnly ? r.headLength : r.bytes.length;
    this.stats.bytesOut += to;
    if (this.#row !== undefined) this.#row[this.#ids[2]] += to;
    let from = 0;
    if (c.queued === 0) {
      from = writeSome(c.sock, r.bytes, 0, to);
      if (from === to) return;
    }
    c.qBuf.push(r.bytes);
    c.qFrom.push(from);
    c.qTo.push(to);
    if (!c.paused) {
      c.paused = true;
      c.sock.pause();
    }
  }

  #flush(c: HttpConn): void {
    c.lastActive = this.runtime.now();
    while (c.qHead < c.qBuf.length) {
      const i = c.qHead;
      const from = c.qFrom[i];
      const to = c.qTo[i];
      const k = writeSome(c.sock, c.qBuf[i], from, to - from);
      if (from + k < to) {
        c.qFrom[i] = from + k;
        return; // onDrain again
      }
      c.qHead++;
    }
    c.qBuf.length = 0;
    c.qFrom.length = 0;
    c.qTo.length = 0;
    c.qHead = 0;
    if (c.endAfterFlush) {
      c.sock.end();
      return;
    }
    if (c.paused) {
      c.paused = false;
      c.sock.resume(); // may deliver buffered requests at once
    }
  }

  #onEnd(c: HttpConn): void {
    // The client sent everything: answer what was asked, then finish our side too.
    c.closing = true;
    c.endAfterFlush = true;
    if (c.queued === 0) c.sock.end();
  }

  /**
   * Once a second: 408 for a head past its deadline or a body below its rate, and close
   * connections idle longer than the keep-alive timeout.
   */
  #sweep(now: number): void {
    this.#nextSweep = now + 1000;
    for (const c of this.conns) {
      if (!c.closing) {
        if (c.headSince >= 0 && now - c.headSince > this.#headMs) {
          this.#timeout(c);
          continue;
        }
        const body = now - c.bodySince;
        if (
          c.bodySince >= 0 &&
          body > this.#headMs &&
          c.bodyBytes < (this.#bodyMinRate * body) / 1000
        ) {
          this.#timeout(c);
          continue;
        }
      }
      if (now - c.lastActive > this.#idleMs) {
        if (c.endAfterFlush) c.sock.abort();
        else c.sock.close();
      }
    }
  }
}
