import { EventEmitter } from 'node:events';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { Duplex } from 'node:stream';
import { requestYield } from '@bypass/eal';
import { ipv4ToString } from '@bypass/net';
import {
  type CallbackListener,
  type CallbackSocket,
  connect as connectCallback,
  listen as listenCallback,
  SocketError,
  type SocketHandlers,
} from './callback.js';
import { NetRuntime } from './runtime.js';
import { RxStage, RxStaged } from './rx-stage.js';

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
 * zero-copy path is the callback API), one Buffer per socket and poll (RxStage: what one read(2)
 * gives node:net), and pushed; when push() says the reader is full the connection pauses and the
 * peer's window closes. Writes go into the connection's send buffer (corked and writev'd chunks
 * together, so node:http's head and body leave in one segment); a chunk larger than the room
 * left waits by reference, not copied, and the write callback runs when the buffer took it all,
 * so Writable's highWaterMark and 'drain' behave as on node:net. Addresses are IPv4 literals (no
 * DNS on the fast path).
 *
 * Whatever a poll hands to the stream side (data, end, drain, connect, close) asks the lcore's
 * poll loop to yield (requestYield): stream and node:http work continues in nextTicks and
 * promises, which run only when Node's event loop does.
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
  /** undefined until setTimeout() is called, as node:net's `timeout`. */
  #timeoutMs: number | undefined = undefined;
  #timer: NodeJS.Timeout | null = null;
  #noDelay = false;
  #keepAlive: [boolean, number] | null = null;
  #hadError = false;
  /** The connection underneath is over (onClose came). */
  #closed = false;
  /** resetAndDestroy(): _destroy sends an RST instead of closing. */
  #reset = false;
  /** The end of the stream was pushed. */
  #eof = false;
  /** Known once connected: node:net reports no remote address while connecting. */
  #remote: { address: string; port: number } | null = null;
  /** This poll's received bytes, not yet pushed (see RxStage). */
  readonly #staged: RxStaged;
  readonly #stage: RxStage;

  constructor(options: SocketConstructorOptions = {}) {
    super({ allowHalfOpen: options.allowHalfOpen ?? false, emitClose: false, autoDestroy: true });
    this.runtime = options.runtime ?? NetRuntime.current();
    this.#stage = RxStage.of(this.runtime);
    this.#staged = new RxStaged(this);
  }

  /** @internal (RxStage): this poll's bytes for the reader. */
  takeStaged(slab: Buffer, start: number, end: number): void {
    if (this.destroyed || this.#eof) return;
    if (!this.push(slab.subarray(start, end))) this.#cb?.pause();
  }

  /** @internal: a Server wraps an accepted connection. */
  static accepted(cb: CallbackSocket, allowHalfOpen: boolean, pauseOnConnect = false): Socket {
    const s = new Socket({ allowHalfOpen, runtime: cb.runtime });
    s.attach(cb, false);
    if (pauseOnConnect) {
      // node:net does not read from the handle until resume() or read(): the bytes stay in the
      // stack's receive buffer (the peer's window closes), and a destroy() with unread data
      // resets the connection as Linux does.
      cb.pause();
      s.pause();
    }
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
      const cb = connectCallback(
        host,
        o.port,
        {},
        { noDelay: this.#noDelay, ...NET_SOCKET_BUFFERS },
        this.runtime,
      );
      this.attach(cb, true);
    } catch (e) {
      this.connecting = false;
      process.nextTick(() => this.destroy(e as Error));
    }
    return this;
  }

  /** `active`: our connect() (an accepted socket is connected already, and emits no 'connect'). */
  private attach(cb: CallbackSocket, active: boolean): void {
    this.#cb = cb;
    cb.userData = this;
    const onConnect = () => {
      this.connecting = false;
      this.#remote = { address: cb.remoteAddress, port: cb.remotePort };
      if (this.#noDelay) cb.setNoDelay(true);
      if (this.#keepAlive !== null) cb.setKeepAlive(...this.#keepAlive);
      this.touch();
      requestYield();
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
    };
    const handlers: SocketHandlers = {
      onConnect: active ? onConnect : undefined,
      onData: (_s, bytes, offset, length) => {
        this.bytesRead += length;
        this.touch();
        // A copy (the view is valid only during this call), pushed after the poll.
        this.#stage.add(this.#staged, bytes, offset, length);
      },
      onEnd: () => {
        this.touch();
        this.#stage.handOver(this.#staged);
        this.endOfStream();
      },
      onDrain: () => {
        requestYield();
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
        requestYield();
        this.#hadError = true;
        this.destroy(error);
      },
      onClose: () => {
        requestYield();
        this.#stage.handOver(this.#staged);
        this.#closed = true;
        this.connecting = false;
        if (this.destroyed) return;
        if (cb.tcp.error !== null) {
          // Aborted under us (callbackSocket.abort()): gone, as a reset handle.
          this.destroy();
          return;
        }
        // An orderly close, both FINs (so our end() ran: 'finish' follows). node:net keeps the
        // socket until its reader has had everything, then autoDestroy closes it; destroying
        // now would drop what the reader has not taken yet and, often, the 'end' event. What
        // the stack still holds (a paused reader) is taken now: it cannot be delivered later.
        const left = cb.takeBuffered();
        if (left.length > 0) this.push(Buffer.from(left.buffer, left.byteOffset, left.length));
        this.endOfStream();
      },
    };
    cb.handlers = handlers;
    if (!active) this.#remote = { address: cb.remoteAddress, port: cb.remotePort };
  }

  private endOfStream(): void {
    if (this.#eof) return;
    this.#eof = true;
    this.push(null);
    // As node:net: read(0) emits 'end' now when nothing is buffered, even with no reader, so
    // a socket nobody reads from still closes (autoDestroy needs 'end').
    this.read(0);
  }

  override _read(): void {
    requestYield();
    const cb = this.#cb;
    if (cb?.tcp.paused && !this.#closed) {
      // What the stack held comes through onData now: hand it over now too.
      cb.resume();
      this.#stage.handOver(this.#staged);
    }
  }

  /**
   * node:net's writeAfterFIN: once the peer ended a socket that does not allow half-open, the
   * socket ended too, and a write fails with EPIPE (destroying it), not with a stream error.
   */
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | ((err?: Error | null) => void),
    callback?: (err?: Error | null) => void,
  ): boolean {
    if (!this.readableEnded || this.allowHalfOpen || !this.writableEnded) {
      return super.write(chunk, encoding as BufferEncoding, callback);
    }
    const cb = typeof encoding === 'function' ? encoding : callback;
    const e = new SocketError('EPIPE', 'This socket has been ended by the other party');
    if (cb !== undefined) process.nextTick(cb, e);
    this.destroy(e);
    return false;
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
    // The program is at work in the event loop: what its write completes (the callback's
    // nextTick, a TLS layer's setImmediate) must not wait for a whole poll slice.
    requestYield();
    // By reference: the stream keeps the chunk until its callback.
    if (cb.write(chunk, 0, chunk.length, false)) callback();
    else if (cb.pendingBytes > 0) this.#writeDone = callback;
    // else: write refused (EPIPE reported through onError, which destroys the stream)
  }

  /**
   * Corked or queued chunks in one go: small ones joined, so they reach the send buffer (and the
   * wire) together, as node:net's writev does.
   */
  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (err?: Error | null) => void,
  ): void {
    let total = 0;
    for (let i = 0; i < chunks.length; i++) total += chunks[i].chunk.length;
    const cb = this.#cb;
    if (total <= WRITEV_JOIN_BYTES || cb === null || this.connecting) {
      const joined = Buffer.allocUnsafe(total);
      let at = 0;
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i].chunk;
        joined.set(c, at);
        at += c.length;
      }
      this._write(joined, 'binary', callback);
      return;
    }
    // Large: each chunk by reference; the callback once the send buffer took the last one.
    this.touch();
    requestYield();
    this.#bytesWritten += total;
    let took = true;
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i].chunk;
      if (!cb.write(c, 0, c.length, false)) {
        if (cb.pendingBytes === 0) return; // refused: EPIPE through onError, which destroys
        took = false;
      }
    }
    if (took) callback();
    else this.#writeDone = callback;
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
      // node:net closes the handle, with or without an error: a FIN after what the send buffer
      // holds, or an RST when unread data is left (Linux close()); resetAndDestroy() resets.
      // Writes not yet in the send buffer are dropped, as libuv cancels the writes it has not
      // handed to the kernel.
      cb.handlers = { onClose: () => {} };
      if (this.#reset) cb.abort();
      else cb.close(true);
    }
    this.connecting = false;
    // The write and the end() waiting for room complete without an error, as node:net's do
    // once the handle is closed; without that the writes queued behind them would never get
    // their callbacks (ERR_STREAM_DESTROYED).
    const done = this.#writeDone;
    const final = this.#finalDone;
    this.#writeDone = null;
    this.#finalDone = null;
    done?.();
    final?.();
    const early = this.#early;
    this.#early = [];
    callback(err);
    const hadError = err !== null || this.#hadError;
    process.nextTick(() => {
      this.emit('close', hadError);
      // Writes issued while connecting fail once the socket closed, as on node:net.
      for (const w of early) w.cb(closedBeforeConnection());
    });
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

  /**
   * node:net's idle timeout: one 'timeout' after `ms` without reads or writes (0 turns it off);
   * the socket stays open.
   */
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
    return this.#timeoutMs;
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
  /** Closes with an RST (the peer gets ECONNRESET); 'close' without an error here. */
  resetAndDestroy(): this {
    if (this.#cb === null) return this.destroy(socketClosed());
    if (this.connecting) {
      this.once('connect', () => this.resetAndDestroy());
      return this;
    }
    this.#reset = true;
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
          { backlog: o.backlog, noDelay: this.#options.noDelay, ...NET_SOCKET_BUFFERS },
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
    return ipv4ToString(this.runtime.stack.localIp);
  }

  private accept(cb: CallbackSocket): undefined {
    if (this.#connections.size >= this.maxConnections) {
      cb.abort();
      return undefined;
    }
    const s = Socket.accepted(
      cb,
      this.#options.allowHalfOpen ?? false,
      this.#options.pauseOnConnect ?? false,
    );
    if (this.#options.noDelay) s.setNoDelay(true);
    if (this.#options.keepAlive) s.setKeepAlive(true, this.#options.keepAliveInitialDelay ?? 0);
    this.#connections.add(s);
    s.once('close', () => {
      this.#connections.delete(s);
      if (this.#closing && this.#connections.size === 0) this.emit('close');
    });
    this.emit('connection', s);
    return undefined;
  }

  /** Stops accepting; 'close' once every connection has closed (node:net's rule). */
  close(callback?: (err?: Error) => void): this {
    if (this.#listener === null) {
      const e = nodeError('ERR_SERVER_NOT_RUNNING', 'Server is not running.');
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

/**
 * Send and receive buffers of node:net-compatible sockets (the callback API's default is 128 KiB
 * each): node:net programs write and read in large chunks and expect the kernel's autotuned
 * buffers (Linux grows them to MiBs); over tap, 128 KiB held 10 MB downloads and 1 MB echoes at
 * 0.8x the kernel's rate, 512 KiB at par. A ring's memory is committed only where written, and
 * an emptied ring starts over at its first bytes, so a connection that moves little costs little.
 */
export const NET_SOCKET_BUFFERS = { sendBuffer: 512 * 1024, recvBuffer: 512 * 1024 } as const;

/** Corked chunks up to this many bytes in total are joined into one write (one segment). */
const WRITEV_JOIN_BYTES = 64 * 1024;

/** node:net's errors that carry only a code (no errno): streams and sockets raise them. */
function nodeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function closedBeforeConnection(): Error {
  return nodeError(
    'ERR_SOCKET_CLOSED_BEFORE_CONNECTION',
    'Socket closed before the connection was established',
  );
}

function socketClosed(): Error {
  return nodeError('ERR_SOCKET_CLOSED', 'Socket is closed');
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
