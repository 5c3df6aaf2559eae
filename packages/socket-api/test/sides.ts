// The same scenario on two sides: real node:net on the kernel loopback (127.0.0.1), and our
// Server/Socket on the user-space stack over back-to-back net_ring ports (pair.ts: the client
// runtime is 10.0.0.1, the server runtime 10.0.0.2). A scenario gets a Side and must pass on both.
import type { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { TcpOptions } from '@bypass/tcp';
import { Server as BypassServer, Socket as BypassSocket } from '../src/net.js';
import { type Pair, startPair } from './pair.js';

/** What the scenarios use of a socket: both node:net's Socket and ours must have it. */
export interface Sock extends Duplex {
  readonly connecting: boolean;
  readonly pending: boolean;
  readonly readyState: string;
  readonly timeout?: number | undefined;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly remoteFamily?: string | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
  address(): { address?: string; family?: string; port?: number } | object;
  setNoDelay(noDelay?: boolean): this;
  setKeepAlive(enable?: boolean, initialDelay?: number): this;
  setTimeout(ms: number, callback?: () => void): this;
  resetAndDestroy(): this;
}

/** What the scenarios use of a server. */
export interface Srv extends EventEmitter {
  readonly listening: boolean;
  close(callback?: (err?: Error) => void): this;
  address(): { address: string; family: string; port: number } | string | null;
  getConnections(callback: (err: Error | null, count: number) => void): this;
}

export interface ServerOpts {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
}

export interface Side {
  readonly name: 'node:net' | 'bypass';
  /** Where clients connect (the server's address). */
  readonly host: string;
  /** The client's address, as the server sees it. */
  readonly clientHost: string;
  /** The pair under the bypass side (stack counters); undefined on node:net. */
  readonly pair: Pair | undefined;
  createServer(opts?: ServerOpts, onConnection?: (s: Sock) => void): Srv;
  /** An unconnected client socket. */
  socket(opts?: { allowHalfOpen?: boolean }): Sock;
  /** A client socket connecting to host:port. */
  connect(port: number, opts?: { allowHalfOpen?: boolean }): Sock;
  /** listen(port) on the server's address; resolves the port, rejects with 'error'. */
  listen(server: Srv, port?: number): Promise<number>;
  /** A port nothing listens on. */
  closedPort(): Promise<number>;
  /** Destroys what is left, closes servers; for bypass, stops the pair: returns the mbufs leaked. */
  stop(): Promise<number>;
}

export interface SideDef {
  readonly name: Side['name'];
  /** `tcp`: the stack's TCP options (bypass only; the kernel's are what they are). */
  start(o?: { tcp?: TcpOptions }): Promise<Side>;
}

const closes = new WeakMap<Sock, Promise<boolean>>();
const ends = new WeakMap<Sock, Promise<void>>();

function settled<T>(p: Promise<T> | undefined, what: string, ms: number): Promise<T> {
  if (p === undefined) throw new Error(`${what}: not a socket from a Side`);
  return Promise.race([
    p,
    sleep(ms).then(() => {
      throw new Error(`no '${what}' within ${ms} ms`);
    }),
  ]);
}

/** Resolves hadError once `s` emitted 'close' (also when it already did). */
export function closed(s: Sock, ms = 2000): Promise<boolean> {
  return settled(closes.get(s), 'close', ms);
}

/** Resolves once `s` emitted 'end' (also when it already did). */
export function ended(s: Sock, ms = 2000): Promise<void> {
  return settled(ends.get(s), 'end', ms);
}

function track(s: Sock): Sock {
  closes.set(s, new Promise((r) => s.once('close', r)));
  ends.set(s, new Promise((r) => s.once('end', r)));
  return s;
}

function tracking(
  name: Side['name'],
  host: string,
  clientHost: string,
  pair: Pair | undefined,
  make: {
    server(opts: ServerOpts): Srv;
    socket(opts: { allowHalfOpen?: boolean }): Sock;
    listen(server: Srv, port: number, cb: () => void): void;
  },
): Side {
  const sockets: Sock[] = [];
  const servers: Srv[] = [];
  const side: Side = {
    name,
    host,
    clientHost,
    pair,
    createServer(opts = {}, onConnection) {
      const s = make.server(opts);
      s.on('connection', (c: Sock) => sockets.push(track(c)));
      if (onConnection !== undefined) s.on('connection', onConnection);
      servers.push(s);
      return s;
    },
    socket(opts = {}) {
      const s = track(make.socket(opts));
      sockets.push(s);
      return s;
    },
    connect(port, opts = {}) {
      const s = side.socket(opts) as Sock & { connect(port: number, host: string): void };
      s.connect(port, host);
      return s;
    },
    listen(server, port = 0) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        make.listen(server, port, () => {
          server.off('error', reject);
          const a = server.address();
          resolve(typeof a === 'object' && a !== null ? a.port : -1);
        });
      });
    },
    async closedPort() {
      const s = make.server({});
      const port = await side.listen(s, 0);
      await new Promise((r) => s.close(r));
      return port;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      for (const s of servers) if (s.listening) s.close();
      // Let close events and the stack's last segments go.
      await new Promise((r) => setTimeout(r, 5));
      if (pair === undefined) return 0;
      const { leaked } = await pair.close();
      return leaked;
    },
  };
  return side;
}

export const NODE: SideDef = {
  name: 'node:net',
  async start() {
    return tracking('node:net', '127.0.0.1', '127.0.0.1', undefined, {
      server: (opts) => net.createServer(opts),
      socket: (opts) => new net.Socket(opts),
      listen: (server, port, cb) => (server as net.Server).listen(port, '127.0.0.1', cb),
    });
  },
};

export const BYPASS: SideDef = {
  name: 'bypass',
  async start(o = {}) {
    const pair = await startPair(o);
    return tracking('bypass', '10.0.0.2', '10.0.0.1', pair, {
      server: (opts) => new BypassServer({ ...opts, runtime: pair.server }),
      socket: (opts) => new BypassSocket({ ...opts, runtime: pair.client }),
      listen: (server, port, cb) => (server as BypassServer).listen(port, cb),
    });
  },
};

export const SIDES: readonly SideDef[] = [NODE, BYPASS];

// ---------------------------------------------------------------------------------------------
// Small helpers for event-driven scenarios.

/** Resolves on `event` (its arguments), rejects after `ms` naming what was awaited. */
export function next<T extends unknown[] = unknown[]>(
  em: EventEmitter,
  event: string,
  ms = 2000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      em.off(event, on);
      reject(new Error(`no '${event}' within ${ms} ms`));
    }, ms);
    const on = (...args: unknown[]) => {
      clearTimeout(t);
      resolve(args as T);
    };
    em.once(event, on);
  });
}

/** Whether `event` comes within `ms` (false: it did not). */
export function within(em: EventEmitter, event: string, ms: number): Promise<boolean> {
  return next(em, event, ms).then(
    () => true,
    () => false,
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Records a socket's events as strings: 'connect', 'data:<bytes>' (consecutive data merged),
 * 'end', 'finish', 'error:<code>', 'close:<hadError>', 'timeout', 'drain'. Reading starts
 * (flowing mode) unless `flowing` is false.
 */
export function record(s: Sock, flowing = true): string[] {
  const log: string[] = [];
  for (const ev of ['connect', 'ready', 'end', 'finish', 'timeout']) s.on(ev, () => log.push(ev));
  s.on('error', (e: NodeJS.ErrnoException) => log.push(`error:${e.code ?? e.message}`));
  s.on('close', (hadError: boolean) => log.push(`close:${hadError}`));
  if (flowing) {
    // Consecutive chunks go into one entry (the first 200 bytes of them: bulk scenarios check
    // their bytes otherwise).
    let at = -1;
    s.on('data', (d: Buffer) => {
      if (at < 0 || at !== log.length - 1) {
        at = log.length;
        log.push('data:');
      }
      if (log[at].length < 205) log[at] += d.subarray(0, 205 - log[at].length).toString('latin1');
    });
  }
  return log;
}

/** Everything read until 'end' (attaching a 'data' listener: flowing unless paused). */
export function collect(s: Sock, ms = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const t = setTimeout(() => reject(new Error(`no 'end' within ${ms} ms`)), ms);
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => {
      clearTimeout(t);
      resolve(Buffer.concat(parts));
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** Bytes that differ at every position (so a lost or reordered chunk shows). */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
