import { EventEmitter } from 'node:events';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { Duplex } from 'node:stream';
import {
  type CallbackListener,
  type CallbackSocket,
  connect as connectCallback,
  listen as listenCallback,
  SocketError,
  type SocketHandlers,
} from './callback.js';
import { NetRuntime } from './runtime.js';

/**
 * node:net on the user-space stack: `Server`, `Socket`, `createServer`, `connect` and
 * `createConnection` with node:net's events, methods and back-pressure, so stream code and
 * node:http run unchanged on bypass:
 *
 * ```ts
 * const server = http.createServer(handler);            // node:http, untouched
 * createServer((socket) => server.emit('connection', socket)).listen(8080);
 * http.get({ host: '10.0.0.2', port: 8080, createConnection: (o) => connect(o) });
 * ```
 *
 * A Socket is a Duplex: bytes from the stack are copied into Buffers (streams need them; the
 * zero-copy path is the callback API) and pushed; when push() says the reader is full the
 * connection pauses and the peer's window closes. Writes go into the connection's send buffer;
 * the write callback runs when the buffer took the chunk, so Writable's highWaterMark and
 * 'drain' behave as on node:net. Addresses are IPv4 literals (no DNS on the fast path).
 */

type ConnectListener = () => void;

export interface SocketConstructorOptions {
  allowHalfOpen?: boolean;
  /** The runtime to use (default: this thread's). */
  runtime?: NetRuntime;
}

export interface SocketConnectOpts {
  port: number;
  host?: string;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  timeout?: number;
}

export class Socket extends Duplex {
  readonly runtime: NetRuntime;
  connecting = false;
  bytesRead = 0;
  #bytesWritten = 0;
  #cb: CallbackSocket | null = null;
  /** The write callback waiting for room in the send buffer. */
  #writeDone: ((err?: Error | null) => void) | null = null;
  /** Writes issued before the connection was established. */
  #early: { chunk: Buffer; cb: (err?: Error | null) => void }[] = [];
  #finalDone: ((err?: Error | null) => void) | null = null;
  #timeoutMs = 0;
  #timer: NodeJS.Timeout | null = null;
  #noDelay = false;
  #keepAlive: [boolean, number] | null = null;
  #hadError = false;
  #closed = false;
  #remote: { address: string; port: number } | null = null;

  constructor(options: SocketConstructorOptions = {}) {
    super({ allowHalfOpen: options.allowHalfOpen ?? false, emitClose: false, autoDestroy: true });
    this.runtime = options.runtime ?? NetRuntime.current();
  }

  /** @internal: a Server wraps an accepted connection. */
  static accepted(cb: CallbackSocket, allowHalfOpen: boolean): Socket {
    const s = new Socket({ allowHalfOpen, runtime: cb.runtime });
    s.attach(cb);
    return s;
  }

  connect(options: SocketConnectOpts, listener?: ConnectListener): this;
  connect(port: number, host?: string, listener?: ConnectListener): this;
  connect(port: number, listener?: ConnectListener): this;
  connect(a: number | SocketConnectOpts, b?: string | ConnectListener, c?: ConnectListener): this {
    const o: SocketConnectOpts = typeof a === 'object' ? { ...a } : { port: a };
    let listener: ConnectListener | undefined;
    if (typeof b === 'function') listener = b;
    else {
      if (typeof b === 'string') o.host = b;
      listener = c;
    }
    if (listener !== undefined) this.once('connect', listener);
    if (o.noDelay) this.#noDelay = true;
    if (o.keepAlive) this.#keepAlive = [true, o.keepAliveInitialDelay ?? 0];
    if (o.timeout !== undefined) this.setTimeout(o.timeout);
    const host = o.host === undefined || o.host === 'localhost' ? undefined : o.host;
    if (host === undefined || isIPv4(host) === false) {
      const e = new SocketError(
        'EINVAL',
        `connect needs an IPv4 address on the bypass network, got ${String(o.host)} (no DNS on the user-space stack)`,
        'connect',
      );
      process.nextTick(() => this.destroy(e));
      return this;
    }
    this.connecting = true;
    try {
      const cb = connectCallback(host, o.port, {}, { noDelay: this.#noDelay }, this.runtime);
      this.#remote = { address: host, port: o.port };
      this.attach(cb);
    } catch (e) {
      this.connecting = false;
      process.nextTick(() => this.destroy(e as Error));
    }
    return this;
  }

  private attach(cb: CallbackSocket): void {
    this.#cb = cb;
    cb.userData = this;
    const handlers: SocketHandlers = {
      onConnect: () => {
        this.connecting = false;
        if (this.#noDelay) cb.setNoDelay(true);
        if (this.#keepAlive !== null) cb.setKeepAlive(...this.#keepAlive);
        this.touch();
        const early = this.#early;
        this.#early = [];
        for (const w of early) this._write(w.chunk, 'binary', w.cb);
        if (this.#finalDone !== null) {
          const f = this.#finalDone;
          this.#finalDone = null;
          this._final(f);
        }
        this.emit('connect');
        this.emit('ready');
      },
      onData: (_s, bytes, offset, length) => {
        this.bytesRead += length;
        this.touch();
        // A copy: the view is valid only during this call, and streams keep Buffers.
        const buf = Buffer.from(bytes.subarray(offset, offset + length));
        if (!this.push(buf)) cb.pause();
      },
      onEnd: () => {
        this.touch();
        this.push(null);
      },
      onDrain: () => {
        const done = this.#writeDone;
        this.#writeDone = null;
        done?.();
        if (this.#finalDone !== null && this.#writeDone === null) {
          const f = this.#finalDone;
          this.#finalDone = null;
          cb.end();
          f();
        }
      },
      onError: (_s, error) => {
        this.#hadError = true;
        this.destroy(error);
      },
      onClose: () => {
        this.#closed = true;
        this.connecting = false;
        if (!this.destroyed) {
          // The connection ended under us (an orderly close both ways, or an abort): finish the
          // stream the way node:net does when its handle closes.
          if (!this.readableEnded) this.push(null);
          this.destroy();
        }
      },
    };
    cb.handlers = handlers;
    if (cb.tcp.state >= 4 /* ESTABLISHED */)
      this.#remote = { address: cb.remoteAddress, port: cb.remotePort };
  }

  override _read(): void {
    const cb = this.#cb;
    if (cb?.tcp.paused && !cb.tcp.isClosed()) cb.resume();
  }

  override _write(
    chunk: Buffer,
    _enc: BufferEncoding,
    callback: (err?: Error | null) => void,
  ): void {
    const cb = this.#cb;
    if (cb === null || this.connecting) {
      this.#early.push({ chunk, cb: callback });
      return;
    }
    this.#bytesWritten += chunk.length;
    this.touch();
    if (cb.write(chunk, 0, chunk.length)) callback();
    else if (cb.pendingBytes > 0) this.#writeDone = callback;
    // else: write refused (EPIPE reported through onError, which destroys the stream)
  }

  override _final(callback: (err?: Error | null) => void): void {
    const cb = this.#cb;
    if (cb === null || this.connecting || this.#writeDone !== null) {
      this.#finalDone = callback;
      return;
    }
    cb.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.clearTimer();
    const cb = this.#cb;
    if (cb !== null && !this.#closed) {
      // node:net closes the handle: a FIN, or an RST when unread data is left (Linux close()).
      cb.handlers = { onClose: () => {} };
      if (err !== null) cb.abort();
      else cb.close();
    }
    this.connecting = false;
    for (const w of this.#early)
      w.cb(err ?? new SocketError('EPIPE', 'socket destroyed before it connected'));
    this.#early = [];
    callback(err);
    const hadError = err !== null || this.#hadError;
    process.nextTick(() => this.emit('close', hadError));
  }

  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    if (this.#cb !== null && !this.connecting) this.#cb.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = [enable, initialDelay];
    if (this.#cb !== null && !this.connecting) this.#cb.setKeepAlive(enable, initialDelay);
    return this;
  }

  /** node:net's idle timeout: 'timeout' after `ms` without reads or writes (0 turns it off). */
  setTimeout(ms: number, callback?: () => void): this {
    this.#timeoutMs = ms;
    if (callback !== undefined) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.clearTimer();
    if (ms > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.emit('timeout');
      }, ms);
      this.#timer.unref();
    }
    return this;
  }

  get timeout(): number | undefined {
    return this.#timeoutMs === 0 ? undefined : this.#timeoutMs;
  }

  private touch(): void {
    this.#timer?.refresh();
  }

  private clearTimer(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    const cb = this.#cb;
    if (cb === null) return {};
    return { address: cb.localAddress, family: 'IPv4', port: cb.localPort };
  }

  get remoteAddress(): string | undefined {
    return this.#remote?.address;
  }
  get remotePort(): number | undefined {
    return this.#remote?.port;
  }
  get remoteFamily(): string | undefined {
    return this.#remote === null ? undefined : 'IPv4';
  }
  get localAddress(): string | undefined {
    return this.#cb?.localAddress;
  }
  get localPort(): number | undefined {
    return this.#cb?.localPort;
  }
  get localFamily(): string | undefined {
    return this.#cb === null ? undefined : 'IPv4';
  }
  get bytesWritten(): number {
    return this.#bytesWritten;
  }
  get pending(): boolean {
    return this.#cb === null || this.connecting;
  }
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.#cb === null || this.destroyed) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  /** The callback socket underneath (the zero-copy API), or null before connect(). */
  get callbackSocket(): CallbackSocket | null {
    return this.#cb;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  resetAndDestroy(): this {
    this.#cb?.abort();
    return this.destroy();
  }
}

export interface ServerOptions {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  runtime?: NetRuntime;
}

export interface ListenOptions {
  port?: number;
  host?: string;
  backlog?: number;
}

type ConnectionListener = (socket: Socket) => void;

export class Server extends EventEmitter {
  readonly runtime: NetRuntime;
  maxConnections = Number.POSITIVE_INFINITY;
  #options: ServerOptions;
  #listener: CallbackListener | null = null;
  #port = 0;
  #connections = new Set<Socket>();
  #closing = false;

  constructor(options?: ServerOptions | ConnectionListener, listener?: ConnectionListener) {
    super();
    const o = typeof options === 'object' ? options : {};
    const l = typeof options === 'function' ? options : listener;
    this.#options = o;
    this.runtime = o.runtime ?? NetRuntime.current();
    if (l !== undefined) this.on('connection', l);
  }

  get listening(): boolean {
    return this.#listener !== null;
  }

  listen(options: ListenOptions, callback?: () => void): this;
  listen(port?: number, host?: string, backlog?: number, callback?: () => void): this;
  listen(port?: number, host?: string, callback?: () => void): this;
  listen(port?: number, callback?: () => void): this;
  listen(...args: unknown[]): this {
    let o: ListenOptions = {};
    let callback: (() => void) | undefined;
    if (typeof args[0] === 'object' && args[0] !== null) {
      o = args[0] as ListenOptions;
      callback = args[1] as (() => void) | undefined;
    } else {
      const rest = args.slice();
      if (typeof rest[rest.length - 1] === 'function') callback = rest.pop() as () => void;
      o = {
        port: rest[0] as number | undefined,
        host: rest[1] as string | undefined,
        backlog: rest[2] as number | undefined,
      };
    }
    if (callback !== undefined) this.once('listening', callback);
    const stack = this.runtime.stack;
    const ours =
      o.host === undefined || o.host === '0.0.0.0' || o.host === '::' || o.host === this.address0();
    if (!ours) {
      process.nextTick(() =>
        this.emit(
          'error',
          new SocketError(
            'EADDRNOTAVAIL',
            `${o.host} is not this stack's address (${this.address0()})`,
            'listen',
          ),
        ),
      );
      return this;
    }
    const wanted = o.port ?? 0;
    const ports = wanted === 0 ? ephemeralPorts() : [wanted];
    let lastError: unknown;
    for (const port of ports) {
      try {
        this.#listener = listenCallback(
          port,
          { onConnection: (cb) => this.accept(cb) },
          { backlog: o.backlog, noDelay: this.#options.noDelay },
          this.runtime,
        );
        this.#port = port;
        break;
      } catch (e) {
        lastError = e;
      }
    }
    void stack;
    if (this.#listener === null) {
      process.nextTick(() => this.emit('error', lastError));
      return this;
    }
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  private address0(): string {
    const ip = this.runtime.stack.localIp;
    return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
  }

  private accept(cb: CallbackSocket): undefined {
    if (this.#connections.size >= this.maxConnections) {
      cb.abort();
      return undefined;
    }
    const s = Socket.accepted(cb, this.#options.allowHalfOpen ?? false);
    if (this.#options.noDelay) s.setNoDelay(true);
    if (this.#options.keepAlive) s.setKeepAlive(true, this.#options.keepAliveInitialDelay ?? 0);
    this.#connections.add(s);
    s.once('close', () => {
      this.#connections.delete(s);
      if (this.#closing && this.#connections.size === 0) this.emit('close');
    });
    if (this.#options.pauseOnConnect) s.pause();
    this.emit('connection', s);
    return undefined;
  }

  /** Stops accepting; 'close' once every connection has closed (node:net's rule). */
  close(callback?: (err?: Error) => void): this {
    if (this.#listener === null) {
      const e = new Error('Server is not running.') as Error & { code: string };
      e.code = 'ERR_SERVER_NOT_RUNNING';
      if (callback !== undefined) process.nextTick(() => callback(e));
      return this;
    }
    this.#listener.close();
    this.#listener = null;
    this.#closing = true;
    if (callback !== undefined) this.once('close', callback);
    if (this.#connections.size === 0) process.nextTick(() => this.emit('close'));
    return this;
  }

  address(): { address: string; family: string; port: number } | null {
    if (this.#listener === null) return null;
    return { address: this.address0(), family: 'IPv4', port: this.#port };
  }

  getConnections(callback: (err: Error | null, count: number) => void): this {
    const n = this.#connections.size;
    process.nextTick(() => callback(null, n));
    return this;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

function* ephemeralPorts(): Iterable<number> {
  const start = 32768 + Math.floor(Math.random() * 28000);
  for (let i = 0; i < 28232; i++) yield 32768 + ((start - 32768 + i) % 28232);
}

export function createServer(
  options?: ServerOptions | ConnectionListener,
  listener?: ConnectionListener,
): Server {
  return new Server(options, listener);
}

export function connect(
  options: SocketConnectOpts & SocketConstructorOptions,
  listener?: ConnectListener,
): Socket;
export function connect(port: number, host?: string, listener?: ConnectListener): Socket;
export function connect(a: unknown, b?: unknown, c?: unknown): Socket {
  if (typeof a === 'object' && a !== null) {
    const o = a as SocketConnectOpts & SocketConstructorOptions;
    return new Socket(o).connect(o, b as ConnectListener | undefined);
  }
  const s = new Socket();
  return typeof b === 'function'
    ? s.connect(a as number, b as ConnectListener)
    : s.connect(a as number, b as string | undefined, c as ConnectListener | undefined);
}

export const createConnection = connect;

export { isIP, isIPv4, isIPv6 };
