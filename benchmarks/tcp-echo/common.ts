// What both sides of `pnpm bench tcp-echo` share: the options of one run, its result, and the
// closed-loop load itself (ClosedLoop), so the user-space stack's client lcore and node:net's
// client worker thread run the very same logic: N connections, each sending one MSG-byte
// request and waiting for the whole MSG-byte echo before sending the next.
import * as hdr from 'hdr-histogram-js';

export interface EchoOptions {
  /** Concurrent connections, each with one request outstanding (closed loop). */
  connections: number;
  /** Bytes per request and per response (default 64). */
  msgBytes?: number;
  /** Requests go out but are not counted for this long after every connection is up. */
  warmupMs: number;
  /** The measured window. */
  durationMs: number;
}

export interface EchoResult {
  connections: number;
  /** Responses completed in the measured window. */
  requests: number;
  /** Length of the measured window. */
  seconds: number;
  /** requests / seconds. */
  rps: number;
  /** Round-trip latency of every counted request, ns (HdrHistogram, compressed base64). */
  histogram: string;
  /** Requests completed over the whole run, warm-up included. */
  completed: number;
  /** Side-specific counters (the subject: segments and polls per request, both lcores). */
  diag?: Record<string, number>;
}

export const DEFAULT_MSG = 64;

/** Latency histograms: ns, 1 ns to 100 s, 3 significant digits (as @bypass/eal's). */
export function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 100e9,
    numberOfSignificantValueDigits: 3,
  });
}

export function checkOptions(o: EchoOptions): Required<EchoOptions> {
  const msgBytes = o.msgBytes ?? DEFAULT_MSG;
  const ok = (n: number, lo: number) => Number.isSafeInteger(n) && n >= lo;
  if (!ok(o.connections, 1) || o.connections > 4096) {
    throw new RangeError(`tcp-echo: connections must be 1..4096, got ${o.connections}`);
  }
  if (!ok(msgBytes, 1) || msgBytes > 65536) {
    throw new RangeError(`tcp-echo: msgBytes must be 1..65536, got ${msgBytes}`);
  }
  if (!ok(o.warmupMs, 0) || !ok(o.durationMs, 1)) {
    throw new RangeError(
      `tcp-echo: warmupMs >= 0 and durationMs >= 1, got ${o.warmupMs}, ${o.durationMs}`,
    );
  }
  return { connections: o.connections, msgBytes, warmupMs: o.warmupMs, durationMs: o.durationMs };
}

/** The request every connection sends: msgBytes of a fixed pattern. */
export function message(msgBytes: number): Buffer {
  const b = Buffer.allocUnsafe(msgBytes);
  for (let i = 0; i < msgBytes; i++) b[i] = (i * 7 + 1) & 0xff;
  return b;
}

const Phase = { CONNECTING: 0, WARMUP: 1, MEASURE: 2, DONE: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * The closed loop. The side calls connected(i) once connection i is up, received(i, n) for the
 * bytes connection i got, and tick() now and then (phases also move on completions); ClosedLoop
 * calls send(i) to put one request on connection i and onDone(result) once the window is over.
 * Clock: performance.now() in the calling thread (the EAL's now() on an lcore is the same).
 */
export class ClosedLoop {
  readonly #o: Required<EchoOptions>;
  readonly #send: (conn: number) => void;
  readonly #onDone: (r: EchoResult) => void;
  readonly #sentAt: Float64Array;
  readonly #got: Int32Array;
  readonly #h = newHistogram();
  #connected = 0;
  #phase: Phase = Phase.CONNECTING;
  #measureAt = 0;
  #endAt = 0;
  #tStart = 0;
  #requests = 0;
  #completed = 0;

  constructor(o: EchoOptions, send: (conn: number) => void, onDone: (r: EchoResult) => void) {
    this.#o = checkOptions(o);
    this.#send = send;
    this.#onDone = onDone;
    this.#sentAt = new Float64Array(this.#o.connections);
    this.#got = new Int32Array(this.#o.connections);
  }

  get done(): boolean {
    return this.#phase === Phase.DONE;
  }

  get connectedCount(): number {
    return this.#connected;
  }

  connected(_conn: number): void {
    if (++this.#connected < this.#o.connections || this.#phase !== Phase.CONNECTING) return;
    const t = performance.now();
    this.#phase = Phase.WARMUP;
    this.#measureAt = t + this.#o.warmupMs;
    this.#endAt = this.#measureAt + this.#o.durationMs;
    for (let i = 0; i < this.#o.connections; i++) this.#issue(i);
  }

  received(conn: number, bytes: number): void {
    let got = this.#got[conn] + bytes;
    const msg = this.#o.msgBytes;
    if (got > msg) {
      throw new Error(`tcp-echo: connection ${conn} got ${got} bytes for a ${msg}-byte request`);
    }
    if (got === msg) {
      got = 0;
      this.#completed++;
      const t = performance.now();
      if (this.#phase === Phase.MEASURE) {
        this.#h.recordValue(Math.round((t - this.#sentAt[conn]) * 1e6));
        this.#requests++;
      }
      this.#advance(t);
      if (this.#phase !== Phase.DONE) this.#issue(conn);
    }
    this.#got[conn] = got;
  }

  tick(): void {
    if (this.#phase === Phase.WARMUP || this.#phase === Phase.MEASURE) {
      this.#advance(performance.now());
    }
  }

  #issue(conn: number): void {
    this.#sentAt[conn] = performance.now();
    this.#send(conn);
  }

  #advance(t: number): void {
    if (this.#phase === Phase.WARMUP && t >= this.#measureAt) {
      this.#phase = Phase.MEASURE;
      this.#tStart = t;
    } else if (this.#phase === Phase.MEASURE && t >= this.#endAt) {
      this.#phase = Phase.DONE;
      const seconds = (t - this.#tStart) / 1000;
      this.#onDone({
        connections: this.#o.connections,
        requests: this.#requests,
        seconds,
        rps: this.#requests / seconds,
        histogram: hdr.encodeIntoCompressedBase64(this.#h),
        completed: this.#completed,
      });
    }
  }
}
