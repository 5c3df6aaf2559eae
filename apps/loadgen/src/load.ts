// The load generator's core, on one NetRuntime: keeps `connections` connections open to the
// server, each with `pipeline` requests in flight (HTTP GETs with keep-alive, or fixed-size echo
// messages), for `durationS` seconds, recording every response's latency in an HDR histogram.
// Requests are written from one repeated buffer with partial writes (writeSome), so nothing is
// copied or allocated per request. Counters go to the lcore's shared statistics row as they
// change, so the main thread can print rates while the run goes on.
import { lcoreId, lcoreStats, newLatencyHistogram, quitRequested } from '@bypass/eal';
import { type CallbackSocket, connect, NetRuntime, type SocketError } from '@bypass/socket-api';
import * as hdr from 'hdr-histogram-js';
import { type Accounting, EchoAccounting, HttpAccounting, LoadCounters } from './accounting.js';
import { writeSome } from './net-app.js';
import { type LoadOptions, type ResolvedLoadOptions, resolveLoadOptions } from './options.js';

/** One runtime's (one lcore's) share of a run. */
export interface LoadLcoreResult {
  /** The lcore it ran on (-1 outside the EAL's lcores). */
  lcore: number;
  connections: number;
  /** Responses completed within the measurement window. */
  requests: number;
  non2xx: number;
  errors: { connect: number; read: number; write: number; timeout: number };
  /** Connections established (the initial ones and every reconnection). */
  connects: number;
  bytesRx: number;
  bytesTx: number;
  /** The measurement window, in seconds. */
  seconds: number;
  /** Latency in ns, HdrHistogram compressed base64 (merge with mergeHistograms). */
  histogram: string;
  /**
   * The cumulative histogram once a second (`t`: seconds since the start), so that the main
   * thread can cut the run into per-second intervals (HdrHistogram's interval log).
   */
  snapshots: { t: number; histogram: string }[];
}

/** Shared statistics counters (per lcore row, see @bypass/eal lcoreStats). */
export const LOADGEN_COUNTERS = [
  'loadgen_requests',
  'loadgen_bytes_rx',
  'loadgen_bytes_tx',
  'loadgen_errors',
] as const;

/**
 * A gauge in the same row (set, not added): this lcore's p99 latency so far in ns, refreshed
 * every P99_PERIOD_MS while the load runs (0 until the first response), for live progress.
 */
export const LOADGEN_P99_GAUGE = 'loadgen_p99_ns';
const P99_PERIOD_MS = 250;
const SNAPSHOT_PERIOD_MS = 1000;

const TICK_MS = 5;
const RECONNECT_DELAY_MS = 50;
const CLOSE_GRACE_MS = 500;

interface Conn {
  index: number;
  sock: CallbackSocket | null;
  acct: Accounting;
  established: boolean;
  /** Request bytes owed to the send buffer (written as room frees). */
  owed: number;
  /** Request bytes written on this connection, ever (the phase in the request pattern). */
  written: number;
  reconnectAt: number;
  /** The request (by its sequence number) already counted as a timeout. */
  timedOutSeq: number;
}

/**
 * Runs the load from this thread's runtime (or `runtime`) and resolves when the measurement
 * window is over and the connections are closed (or dropped after a short grace). The runtime's
 * poll loop must be running meanwhile: `runtime.run()` on an lcore, or a test's pump. Ends early
 * when `stopped()` says so (default: when the EAL is asked to stop).
 */
export async function runLoad(
  options: LoadOptions,
  runtime: NetRuntime = NetRuntime.current(),
  stopped: () => boolean = quitSafe,
): Promise<LoadLcoreResult> {
  const o = resolveLoadOptions(options);
  return await new Promise((resolve) => {
    new LoadRun(o, runtime, resolve, stopped);
  });
}

/** The bytes one request (or echo message) is. */
export function requestBytes(o: ResolvedLoadOptions): Uint8Array {
  if (o.mode === 'http')
    return new TextEncoder().encode(`GET ${o.path} HTTP/1.1\r\nHost: ${o.host}\r\n\r\n`);
  const m = new Uint8Array(o.size);
  for (let i = 0; i < m.length; i++) m[i] = 0x61 + (i % 26);
  return m;
}

class LoadRun {
  readonly counters = new LoadCounters();
  readonly histogram = newLatencyHistogram();
  readonly conns: Conn[] = [];
  /** The request repeated: a write at phase `written % unit` never runs off its end. */
  readonly pattern: Uint8Array;
  readonly unit: number;
  /** When the measurement starts: after the warm-up. */
  start: number;
  readonly deadline: number;
  #warming: boolean;
  #stopping = false;
  #stoppedAt = 0;
  #nextTick = 0;
  #nextTimeoutCheck = 0;
  #nextP99 = 0;
  #p99Id = -1;
  #detach: () => void;
  #open = 0;
  readonly #row: Float64Array | undefined;
  readonly #ids: number[] = [];
  readonly #lcore: number;

  constructor(
    readonly o: ResolvedLoadOptions,
    readonly rt: NetRuntime,
    readonly resolve: (r: LoadLcoreResult) => void,
    readonly stopped: () => boolean,
  ) {
    const req = requestBytes(o);
    this.unit = req.length;
    const copies = Math.max(o.pipeline, Math.ceil(65536 / req.length)) + 1;
    this.pattern = new Uint8Array(req.length * copies);
    for (let i = 0; i < copies; i++) this.pattern.set(req, i * req.length);
    this.#lcore = lcoreIdOrMinus1();
    if (this.#lcore >= 0) {
      const st = lcoreStats();
      this.#row = st.row;
      for (const n of LOADGEN_COUNTERS) this.#ids.push(st.counterId(n));
      this.#p99Id = st.counterId(LOADGEN_P99_GAUGE);
      st.row[this.#p99Id] = 0;
    }
    const t0 = rt.now();
    this.start = t0 + o.warmupS * 1000;
    this.#warming = o.warmupS > 0;
    this.counters.recording = !this.#warming;
    this.#nextSnapshot = this.start + SNAPSHOT_PERIOD_MS;
    this.deadline = this.start + o.durationS * 1000;
    for (let i = 0; i < o.connections; i++) {
      const acct =
        o.mode === 'http'
          ? new HttpAccounting(this.counters, this.histogram, o.pipeline)
          : new EchoAccounting(this.counters, this.histogram, o.pipeline, o.size);
      this.conns.push({
        index: i,
        sock: null,
        acct,
        established: false,
        owed: 0,
        written: 0,
        reconnectAt: t0,
        timedOutSeq: -1,
      });
    }
    this.#detach = rt.onAfterPoll((t) => {
      if (t >= this.#nextTick) this.tick(t);
    });
    this.tick(t0);
  }

  tick(now: number): void {
    this.#nextTick = now + TICK_MS;
    if (!this.#stopping) {
      if (this.#warming && now >= this.start) {
        // The warm-up is over: count from here (responses still in flight count when they come).
        this.#warming = false;
        this.counters.recording = true;
        this.start = now;
        this.#nextSnapshot = now + SNAPSHOT_PERIOD_MS;
      }
      if (now >= this.deadline || this.stopped()) {
        this.stop(now);
        return;
      }
      for (const c of this.conns) if (c.sock === null && now >= c.reconnectAt) this.open(c);
      if (now >= this.#nextTimeoutCheck) {
        this.#nextTimeoutCheck = now + 50;
        this.checkTimeouts(now);
      }
      this.publish();
      if (now >= this.#nextP99) {
        this.#nextP99 = now + P99_PERIOD_MS;
        this.publishP99();
      }
      if (now >= this.#nextSnapshot) {
        // Once a second, off the per-response path: one encoding of the histogram so far.
        this.#nextSnapshot += SNAPSHOT_PERIOD_MS;
        this.#snapshots.push({
          t: (now - this.start) / 1000,
          histogram: hdr.encodeIntoCompressedBase64(this.histogram),
        });
      }
    } else if (this.#open === 0 || now >= this.#stoppedAt + CLOSE_GRACE_MS) {
      for (const c of this.conns) c.sock?.abort();
      this.finish();
    }
  }

  open(c: Conn): void {
    c.acct.reset();
    c.established = false;
    c.owed = 0;
    c.written = 0;
    c.timedOutSeq = -1;
    try {
      c.sock = connect(
        this.o.target,
        this.o.port,
        {
          onConnect: (s) => this.onConnect(c, s),
          onData: (s, b, off, len) => this.onData(c, s, b, off, len),
          onDrain: (s) => this.flush(c, s),
          onEnd: (s) => this.onEnd(c, s),
          onError: (_s, e) => this.onError(c, e),
          onClose: () => this.onClose(c),
        },
        { noDelay: this.o.noDelay },
        this.rt,
      );
      this.#open++;
    } catch (e) {
      // No route, no free port: count it and try again later (as wrk does with connect errors).
      this.counters.errConnect++;
      c.sock = null;
      c.reconnectAt = this.rt.now() + RECONNECT_DELAY_MS;
      if ((e as SocketError).code === undefined) throw e;
    }
  }

  onConnect(c: Conn, s: CallbackSocket): void {
    c.established = true;
    this.counters.connects++;
    if (this.#stopping) {
      s.end();
      return;
    }
    this.send(c, s, this.o.pipeline);
  }

  /** Queues `n` more requests on `c` and writes what fits. */
  send(c: Conn, s: CallbackSocket, n: number): void {
    c.acct.sent(n, this.rt.now());
    c.owed += n * this.unit;
    this.flush(c, s);
  }

  flush(c: Conn, s: CallbackSocket): void {
    while (c.owed > 0) {
      const phase = c.written % this.unit;
      const len = Math.min(c.owed, this.pattern.length - phase);
      const k = writeSome(s, this.pattern, phase, len);
      if (k === 0) return; // onDrain follows
      c.owed -= k;
      c.written += k;
      if (this.counters.recording) this.counters.bytesTx += k;
      if (k < len) return;
    }
  }

  onData(c: Conn, s: CallbackSocket, b: Uint8Array, off: number, len: number): void {
    if (this.#stopping) return;
    const done = c.acct.received(b, off, len, this.rt.now());
    if (done < 0) {
      this.counters.errRead++; // a malformed response: the stream is out of step
      s.abort();
      return;
    }
    if (c.acct.willClose) {
      // The server closes after this response: what is still in flight will not be answered.
      s.end();
      return;
    }
    if (done > 0) this.send(c, s, done);
  }

  onEnd(c: Conn, s: CallbackSocket): void {
    if (!this.#stopping) c.acct.ended(this.rt.now());
    s.end();
  }

  onError(c: Conn, e: SocketError): void {
    if (this.#stopping) return;
    const k = this.counters;
    if (!c.established) k.errConnect++;
    else if (e.code === 'EPIPE') k.errWrite++;
    else if (e.code === 'ETIMEDOUT') k.errTimeout++;
    else k.errRead++;
  }

  onClose(c: Conn): void {
    this.#open--;
    c.sock = null;
    c.reconnectAt = this.rt.now() + (c.established ? 0 : RECONNECT_DELAY_MS);
    if (this.#stopping && this.#open === 0) this.finish();
  }

  checkTimeouts(now: number): void {
    const limit = this.o.timeoutMs;
    for (const c of this.conns) {
      const out = c.acct.outstanding;
      if (out.count > 0 && out.completed !== c.timedOutSeq && now - out.oldest() > limit) {
        c.timedOutSeq = out.completed;
        this.counters.errTimeout++;
      }
    }
  }

  stop(now: number): void {
    this.#stopping = true;
    this.#stoppedAt = now;
    this.counters.recording = false;
    this.publish();
    this.publishP99();
    for (const c of this.conns) {
      if (c.sock === null) continue;
      if (c.established) c.sock.end();
      else c.sock.abort();
    }
    if (this.#open === 0) this.finish();
  }

  #finished = false;
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#detach();
    const k = this.counters;
    this.resolve({
      lcore: this.#lcore,
      connections: this.o.connections,
      requests: k.requests,
      non2xx: k.non2xx,
      errors: {
        connect: k.errConnect,
        read: k.errRead,
        write: k.errWrite,
        timeout: k.errTimeout,
      },
      connects: k.connects,
      bytesRx: k.bytesRx,
      bytesTx: k.bytesTx,
      seconds: Math.max(0, (this.#stoppedAt || this.rt.now()) - this.start) / 1000,
      histogram: hdr.encodeIntoCompressedBase64(this.histogram),
      snapshots: [
        ...this.#snapshots,
        {
          t: Math.max(0, (this.#stoppedAt || this.rt.now()) - this.start) / 1000,
          histogram: hdr.encodeIntoCompressedBase64(this.histogram),
        },
      ],
    });
  }

  readonly #snapshots: { t: number; histogram: string }[] = [];
  #nextSnapshot = Number.POSITIVE_INFINITY;

  readonly #published = new Float64Array(4);
  /** Adds what changed since the last call to the lcore's shared counters. */
  publish(): void {
    const row = this.#row;
    if (row === undefined) return;
    const k = this.counters;
    this.#add(row, 0, k.requests);
    this.#add(row, 1, k.bytesRx);
    this.#add(row, 2, k.bytesTx);
    this.#add(row, 3, k.errConnect + k.errRead + k.errWrite + k.errTimeout);
  }

  /** Sets this lcore's p99-so-far gauge (ns) from its histogram. */
  publishP99(): void {
    if (this.#row === undefined || this.histogram.totalCount === 0) return;
    this.#row[this.#p99Id] = this.histogram.getValueAtPercentile(99);
  }

  #add(row: Float64Array, i: number, value: number): void {
    row[this.#ids[i]] += value - this.#published[i];
    this.#published[i] = value;
  }
}

function lcoreIdOrMinus1(): number {
  try {
    return lcoreId();
  } catch {
    return -1;
  }
}

function quitSafe(): boolean {
  try {
    return quitRequested();
  } catch {
    return false;
  }
}
