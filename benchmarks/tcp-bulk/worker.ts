// The two threads of tcp-bulk's node:net baseline (baseline.ts starts them with startWorker).
// workerData.role picks the side:
// - sink: listens on HOST:0, posts {type:'listening', port}, accepts one connection, counts the
//   bytes (and hashes them when asked); it reads the clock when it holds the warm-up's last byte
//   (t0w) and when it holds all of them, then posts {type:'done', t0w, t1, bytes, sha}. It
//   checks the sender then ends the stream with nothing extra.
// - source: connects to HOST:PORT; on 'connect' it reads the clock, posts {type:'connected', t0}
//   and writes the stream in `chunk`-byte writes, respecting back-pressure (write() returned
//   false: wait for 'drain'), then end()s and posts {type:'sent', bytes}.
// Clocks are process.hrtime.bigint(): CLOCK_MONOTONIC, the same clock in every thread.
import { createHash } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { patternBuffer } from './common.js';

export interface SinkData {
  role: 'sink';
  host: string;
  /** Warm-up and measured bytes together. */
  bytes: number;
  warmupBytes: number;
  sha: boolean;
}

export interface SourceData {
  role: 'source';
  host: string;
  port: number;
  bytes: number;
  chunk: number;
}

export type SinkMessage =
  | { type: 'listening'; port: number }
  | { type: 'done'; t0w: bigint; t1: bigint; bytes: number; sha?: string };

export type SourceMessage = { type: 'connected'; t0: bigint } | { type: 'sent'; bytes: number };

function fail(sock: Socket, message: string): never {
  sock.destroy();
  throw new Error(`tcp-bulk ${(workerData as SinkData | SourceData).role}: ${message}`);
}

function sink(d: SinkData): void {
  const post = (m: SinkMessage) => parentPort!.postMessage(m);
  const server = createServer((sock) => {
    server.close(); // one connection only
    const hash = d.sha ? createHash('sha256') : undefined;
    let got = 0;
    let done = false;
    let t0w = 0n;
    sock.on('data', (b: Buffer) => {
      got += b.length;
      hash?.update(b);
      if (t0w === 0n && got >= d.warmupBytes) t0w = process.hrtime.bigint();
      if (got >= d.bytes && !done) {
        const t1 = process.hrtime.bigint();
        done = true;
        if (got > d.bytes) fail(sock, `received ${got} bytes, more than the ${d.bytes} expected`);
        post({ type: 'done', t0w, t1, bytes: got, sha: hash?.digest('hex') });
      } else if (done) {
        fail(sock, `received ${got} bytes, more than the ${d.bytes} expected`);
      }
    });
    sock.on('end', () => {
      if (!done) fail(sock, `the sender ended after ${got} of ${d.bytes} bytes`);
      sock.end();
    });
    sock.on('error', (e) => fail(sock, e.message));
  });
  server.on('error', (e) => {
    throw e;
  });
  server.listen(0, d.host, () => {
    const a = server.address();
    if (a === null || typeof a === 'string') throw new Error('tcp-bulk sink: no port');
    post({ type: 'listening', port: a.port });
  });
}

function source(d: SourceData): void {
  const post = (m: SourceMessage) => parentPort!.postMessage(m);
  const buf = patternBuffer(d.chunk);
  let sent = 0;
  const sock = connect({ host: d.host, port: d.port }, () => {
    post({ type: 'connected', t0: process.hrtime.bigint() });
    pump();
  });
  function pump(): void {
    while (sent < d.bytes) {
      const n = Math.min(d.chunk, d.bytes - sent);
      const s = sent & 0xff;
      sent += n;
      if (!sock.write(buf.subarray(s, s + n))) {
        sock.once('drain', pump);
        return;
      }
    }
    sock.end(() => post({ type: 'sent', bytes: sent }));
  }
  sock.on('error', (e) => fail(sock, e.message));
}

const data = workerData as SinkData | SourceData | undefined;
if (parentPort !== null && data?.role === 'sink') sink(data);
else if (parentPort !== null && data?.role === 'source') source(data);
