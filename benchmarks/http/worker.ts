// The two threads of the http bench's kernel baseline (baseline.ts starts them):
// - server: node:http's http.createServer with the shared handler (common.ts), on HOST:0, its
//   defaults otherwise (keep-alive, TCP_NODELAY on accepted sockets); posts {type:'listening', port}.
// - client: apps/loadgen's load-generator logic on node:net sockets: the same request bytes
//   (requestBytes), the same per-connection accounting and HTTP response framing
//   (HttpAccounting, LoadCounters), the same clock (performance.now()), the same window (from the
//   load's start, connecting included, to the first 5 ms tick past the duration) and the same
//   closed loop (one request in flight per connection; the next goes out from the handler that
//   completed the last); TCP_NODELAY. Posts {type:'done', result}.
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { HttpAccounting, LoadCounters, requestBytes, resolveLoadOptions } from '@bypass/loadgen';
import * as hdr from 'hdr-histogram-js';
import { HOST, type HttpLoad, type HttpRunResult, nodeHttpHandler, PATH } from './common.js';

export interface ServerData {
  role: 'server';
  host: string;
}

export interface ClientData {
  role: 'client';
  host: string;
  port: number;
  load: HttpLoad;
}

export type ServerMessage = { type: 'listening'; port: number };
export type ClientMessage = { type: 'done'; result: HttpRunResult };

const TICK_MS = 5;

function server(d: ServerData): void {
  const srv = http.createServer(nodeHttpHandler());
  srv.on('error', (e) => {
    throw e;
  });
  srv.listen({ port: 0, host: d.host, backlog: 1024 }, () => {
    const a = srv.address();
    if (a === null || typeof a === 'string') throw new Error('http server: no port');
    const m: ServerMessage = { type: 'listening', port: a.port };
    parentPort!.postMessage(m);
  });
}

function client(d: ClientData): void {
  const o = resolveLoadOptions({
    target: d.host,
    port: d.port,
    mode: 'http',
    connections: d.load.connections,
    warmupS: d.load.warmupS,
    durationS: d.load.durationS,
    path: PATH,
    host: HOST,
    noDelay: true,
  });
  const req = Buffer.from(requestBytes(o));
  const counters = new LoadCounters();
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 100e9,
    numberOfSignificantValueDigits: 3,
  });
  const now = () => performance.now();
  // As apps/loadgen: nothing completed in the warm-up is counted; the window starts after it.
  let start = now() + o.warmupS * 1000;
  let warming = o.warmupS > 0;
  counters.recording = !warming;
  const deadline = start + o.durationS * 1000;
  const socks: Socket[] = [];
  let stopped = false;
  const send = (s: Socket, acct: HttpAccounting, n: number) => {
    acct.sent(n, now());
    for (let i = 0; i < n; i++) s.write(req);
    if (counters.recording) counters.bytesTx += n * req.length;
  };
  for (let i = 0; i < o.connections; i++) {
    const acct = new HttpAccounting(counters, histogram, o.pipeline);
    const s = connect({ host: o.target, port: o.port, noDelay: o.noDelay }, () => {
      counters.connects++;
      send(s, acct, o.pipeline);
    });
    s.setNoDelay(o.noDelay);
    s.on('data', (b: Buffer) => {
      if (stopped) return;
      const done = acct.received(b, 0, b.length, now());
      if (done < 0) {
        counters.errRead++;
        s.destroy();
        return;
      }
      if (done > 0) send(s, acct, done);
    });
    s.on('error', () => {
      if (!stopped) counters.errRead++;
    });
    socks.push(s);
  }
  const ticker = setInterval(() => {
    const t = now();
    if (warming && t >= start) {
      warming = false;
      counters.recording = true;
      start = t;
    }
    if (t < deadline) return;
    stopped = true;
    counters.recording = false;
    clearInterval(ticker);
    const seconds = (t - start) / 1000;
    const k = counters;
    const result: HttpRunResult = {
      requests: k.requests,
      seconds,
      rps: k.requests / seconds,
      responseBytes: k.requests > 0 ? k.bytesRx / k.requests : 0,
      non2xx: k.non2xx,
      errors: k.errConnect + k.errRead + k.errWrite + k.errTimeout,
      histogram: hdr.encodeIntoCompressedBase64(histogram),
    };
    const m: ClientMessage = { type: 'done', result };
    parentPort!.postMessage(m);
    for (const s of socks) s.destroy();
  }, TICK_MS);
}

const data = workerData as ServerData | ClientData | undefined;
if (parentPort !== null && data?.role === 'server') server(data);
else if (parentPort !== null && data?.role === 'client') client(data);
