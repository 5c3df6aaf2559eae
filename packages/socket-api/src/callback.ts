import { OptionError } from '@bypass/atomics-sync';
import { ipv4ToString } from '@bypass/net';
import {
  type TcpErrorCode,
  type TcpOptions,
  type TcpSocket,
  TcpSocketError,
  TcpState,
} from '@bypass/tcp';
import { NetRuntime } from './runtime.js';

/**
 * Callback sockets: the zero-copy API (Seastar's and F-Stack's style). Data arrives as a view into
 * packet memory, valid only during `onData`; `write` copies into the connection's send buffer and
 * says whether it took everything; `onDrain` says when to write again. Everything runs on the
 * thread's NetRuntime, synchronously from its poll loop.
 */

/** Node's error codes, so code written for node:net reads the same. */
export type SocketErrorCode =
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'ETIMEDOUT'
  | 'ECONNABORTED'
  | 'EADDRINUSE'
  | 'EADDRNOTAVAIL'
  | 'ENETUNREACH'
  | 'EPIPE'
  | 'EINVAL'
  | 'ENOTCONN';

export class SocketError extends Error {
  override readonly name = 'SocketError';
  readonly errno: number;
  /** The peer, on errors of a connection attempt (as node:net puts them on connect errors). */
  address?: string;
  port?: number;
  constructor(
    readonly code: SocketErrorCode,
    message: string,
    readonly syscall = 'write',
  ) {
    super(`${code}: ${message}`);
    this.errno = ERRNO[code];
  }
}

/** Linux's errno values, negative as libuv reports them. */
const ERRNO: Record<SocketErrorCode, number> = {
  ECONNREFUSED: -111,
  ECONNRESET: -104,
  ETIMEDOUT: -110,
  ECONNABORTED: -103,
  EADDRINUSE: -98,
  EADDRNOTAVAIL: -99,
  ENETUNREACH: -101,
  EPIPE: -32,
  EINVAL: -22,
  ENOTCONN: -107,
};

export interface SocketHandlers {
  /** The connection is established (connect), or was accepted (listen: before onConnection returns). */
  onConnect?(socket: CallbackSocket): void;
  /** In-order bytes `bytes[offset .. offset + length)`: a view valid only during the call. */
  onData?(socket: CallbackSocket, bytes: Uint8Array, offset: number, length: number): void;
  /** The peer finished sending. Call `end()` to finish too (or keep writing: half-close). */
  onEnd?(socket: CallbackSocket): void;
  /** Everything `write` queued beyond the send buffer has gone into it: write again. */
  onDrain?(socket: CallbackSocket): void;
  /**
   * The peer marked urgent data ending at stream offset `mark` (bytes since the connection
   * began); the bytes come inline through onData (TcpHandlers.onUrgent, SO_OOBINLINE).
   */
  onUrgent?(socket: CallbackSocket, mark: number): void;
  /** The connection failed (reset, refused, timed out) or a call was invalid (EPIPE). */
  onError?(socket: CallbackSocket, error: SocketError): void;
  /** The connection is over; `hadError` after onError. */
  onClose?(socket: CallbackSocket, hadError: boolean): void;
}

export interface ConnectOptions {
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveIdleMs?: number;
  sendBuffer?: number;
  recvBuffer?: number;
  /** Any other TCP option (see @bypass/tcp TcpOptions). */
  tcp?: TcpOptions;
}

function tcpOptions(o: ConnectOptions | undefined): TcpOptions | undefined {
  if (o === undefined) return undefined;
  const t: TcpOptions = { ...o.tcp };
  if (o.noDelay !== undefined) t.noDelay = o.noDelay;
  if (o.keepAlive !== undefined) t.keepAlive = o.keepAlive;
  if (o.keepAliveIdleMs !== undefined) t.keepAliveIdleMs = o.keepAliveIdleMs;
  if (o.sendBuffer !== undefined) t.sendBuffer = o.sendBuffer;
  if (o.recvBuffer !== undefined) t.recvBuffer = o.recvBuffer;
  return t;
}

const MESSAGES: Record<Exclude<TcpErrorCode, null>, string> = {
  ECONNREFUSED: 'connection refused by the peer (RST to our SYN)',
  ECONNRESET: 'connection reset by the peer',
  ETIMEDOUT: 'connection timed out (no answer after the retransmissions allowed)',
  ECONNABORTED: 'connection aborted locally',
};

export class CallbackSocket {
  readonly tcp: TcpSocket;
  readonly runtime: NetRuntime;
  handlers: SocketHandlers;
  /** For the application. */
  userData: unknown = undefined;
  /** Bytes `write` took beyond the send buffer, oldest first (copies). */
  /**
   * What `write` accepted beyond the send buffer, in order: chunk i is
   * `#pendBuf[i][#pendAt[i] .. #pendEnd[i])`, and chunks before `#pendHead` are sent. An index
   * queue: a partial send moves `#pendAt`, no subarray and no shift() per chunk.
   */
  readonly #pendBuf: Uint8Array[] = [];
  readonly #pendAt: number[] = [];
  readonly #pendEnd: number[] = [];
  #pendHead = 0;
  #pendingBytes = 0;
  #endAfterPending = false;
  #closeAfterPending = false;
  #hadError = false;
  /** The handshake completed (a failure before it is a failed connect, not a failed read). */
  #established: boolean;

  /** @internal: listen() and connect() make these. */
  constructor(runtime: NetRuntime, tcp: TcpSocket, handlers: SocketHandlers) {
    this.runtime = runtime;
    this.tcp = tcp;
    this.handlers = handlers;
    this.#established = tcp.state >= TcpState.ESTABLISHED;
    tcp.userData = this;
    tcp.handlers = {
      onConnect: () => {
        this.#established = true;
        this.handlers.onConnect?.(this);
      },
      onData: (_t, b, o, l) => this.handlers.onData?.(this, b, o, l),
      onEnd: () => this.handlers.onEnd?.(this),
      onDrain: () => this.drain(),
      onUrgent: (_t, mark) => this.handlers.onUrgent?.(this, mark),
      onClose: (_t, error) => {
        if (error !== null && error !== 'ECONNABORTED') {
          this.#hadError = true;
          this.handlers.onError?.(this, this.closeError(error));
        }
        this.handlers.onClose?.(this, this.#hadError);
      },
    };
  }

  /** node:net's shape: a refused or timed-out attempt is a `connect` error naming the peer. */
  private closeError(code: Exclude<TcpErrorCode, null>): SocketError {
    if (this.#established) return new SocketError(code, MESSAGES[code], 'read');
    const e = new SocketError(
      code,
      `${MESSAGES[code]} (${this.remoteAddress}:${this.remotePort})`,
      'connect',
    );
    e.address = this.remoteAddress;
    e.port = this.remotePort;
    return e;
  }

  get remoteAddress(): string {
    return ipv4ToString(this.tcp.remoteIp);
  }
  get remotePort(): number {
    return this.tcp.remotePort;
  }
  get localAddress(): string {
    return ipv4ToString(this.runtime.stack.localIp);
  }
  get localPort(): number {
    return this.tcp.localPort;
  }
  /** RFC 9293's state name (ESTABLISHED, CLOSE_WAIT, ...). */
  get state(): string {
    return this.tcp.stateName;
  }
  /** Bytes accepted by `write` and not yet in the send buffer. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Sends `bytes[offset .. offset + length)`: copied into the send buffer, the rest into a queue.
   * Returns true when the send buffer took everything; false means wait for onDrain.
   * After end() or once the connection is closing, reports EPIPE through onError and returns false.
   *
   * `copy` false: what the send buffer cannot take now is queued by reference, not copied; the
   * caller leaves those bytes alone until onDrain (a stream's chunk until its write callback).
   */
  write(bytes: Uint8Array, offset = 0, length = bytes.length - offset, copy = true): boolean {
    const t = this.tcp;
    if (this.#endAfterPending || t.finQueued || !writable(t.state)) {
      this.fail(new SocketError('EPIPE', `write after the connection was ended (${t.stateName})`));
      return false;
    }
    if (this.#hasPending()) {
      this.queue(bytes, offset, length, copy);
      return false;
    }
    const n = t.write(bytes, offset, length, this.runtime.now());
    if (n === length) return true;
    this.queue(bytes, offset + n, length - n, copy);
    return false;
  }

  /**
   * Copies as much of `bytes[offset .. offset + length)` as the send buffer takes now and returns
   * how many bytes that was, queueing nothing (a non-blocking write(2)): 0 means full, wait for
   * onDrain. Behind bytes that `write` queued it takes none, so the order holds.
   * After end() or once the connection is closing, reports EPIPE through onError and returns 0.
   */
  writeSome(bytes: Uint8Array, offset = 0, length = bytes.length - offset): number {
    const t = this.tcp;
    if (this.#endAfterPending || t.finQueued || !writable(t.state)) {
      this.fail(new SocketError('EPIPE', `write after the connection was ended (${t.stateName})`));
      return 0;
    }
    if (this.#hasPending()) return 0;
    return t.write(bytes, offset, length, this.runtime.now());
  }

  /** Finishes our side (FIN after everything written). The peer may go on sending. */
  end(): void {
    if (this.#hasPending()) {
      this.#endAfterPending = true;
      return;
    }
    this.tcp.end(this.runtime.now());
  }

  /**
   * Both directions done: end(), and unread data or a later arrival resets (as Linux close()).
   * What `write` queued beyond the send buffer goes first, unless `discardQueued` (node:net's
   * destroy(): libuv cancels the writes it has not handed to the kernel; the kernel still sends
   * what it holds, as the send buffer here does).
   */
  close(discardQueued = false): void {
    if (discardQueued) {
      this.#clearPending();
      this.#endAfterPending = false;
    }
    if (this.#hasPending()) {
      this.#endAfterPending = true;
      this.#closeAfterPending = true;
      return;
    }
    this.tcp.close(this.runtime.now());
  }

  /** Resets the connection at once (RST). onClose follows. */
  abort(): void {
    this.#clearPending();
    this.tcp.abort(this.runtime.now());
  }

  setNoDelay(on = true): void {
    this.tcp.setNoDelay(on, this.runtime.now());
  }

  setKeepAlive(on: boolean, idleMs = 0): void {
    this.tcp.setKeepAlive(on, idleMs, this.runtime.now());
  }

  /**
   * Takes (copies out) what waits in the receive buffer, with no onData or onEnd for it: for
   * bytes a paused reader left when the connection closed (once CLOSED, resume() delivers
   * nothing).
   */
  takeBuffered(): Uint8Array {
    const rb = this.tcp.recvBuf;
    const out = new Uint8Array(rb.length);
    rb.read(out, 0, out.length);
    return out;
  }

  /** Stops onData; bytes wait in the receive buffer and the peer's window closes. */
  pause(): void {
    this.tcp.pause();
  }

  resume(): void {
    this.tcp.resume(this.runtime.now());
  }

  #hasPending(): boolean {
    return this.#pendHead < this.#pendBuf.length;
  }

  #clearPending(): void {
    this.#pendBuf.length = 0;
    this.#pendAt.length = 0;
    this.#pendEnd.length = 0;
    this.#pendHead = 0;
    this.#pendingBytes = 0;
  }

  private queue(bytes: Uint8Array, offset: number, length: number, copy: boolean): void {
    if (length <= 0) return;
    const end = offset + length;
    if (copy) {
      this.#pendBuf.push(bytes.slice(offset, end));
      this.#pendAt.push(0);
      this.#pendEnd.push(length);
    } else {
      this.#pendBuf.push(bytes);
      this.#pendAt.push(offset);
      this.#pendEnd.push(end);
    }
    this.#pendingBytes += length;
  }

  private drain(): void {
    const t = this.tcp;
    const now = this.runtime.now();
    const bufs = this.#pendBuf;
    const ats = this.#pendAt;
    const ends = this.#pendEnd;
    while (this.#pendHead < bufs.length) {
      const h = this.#pendHead;
      const at = ats[h];
      const n = t.write(bufs[h], at, ends[h] - at, now);
      this.#pendingBytes -= n;
      if (at + n < ends[h]) {
        ats[h] = at + n;
        if (h >= 256) this.#compactPending();
        return;
      }
      bufs[h] = EMPTY; // sent: let the chunk go
      this.#pendHead = h + 1;
    }
    this.#clearPending();
    if (this.#endAfterPending) {
      this.#endAfterPending = false;
      if (this.#closeAfterPending) t.close(now);
      else t.end(now);
      return;
    }
    this.handlers.onDrain?.(this);
  }

  /** Moves the unsent chunks to the front (a queue that never empties keeps its arrays small). */
  #compactPending(): void {
    const h = this.#pendHead;
    const bufs = this.#pendBuf;
    const len = bufs.length;
    for (let j = h; j < len; j++) {
      bufs[j - h] = bufs[j];
      this.#pendAt[j - h] = this.#pendAt[j];
      this.#pendEnd[j - h] = this.#pendEnd[j];
    }
    bufs.length = this.#pendAt.length = this.#pendEnd.length = len - h;
    this.#pendHead = 0;
  }

  private fail(e: SocketError): void {
    this.handlers.onError?.(this, e);
  }
}

const EMPTY = new Uint8Array(0);

function writable(state: number): boolean {
  return (
    state === TcpState.SYN_SENT ||
    state === TcpState.SYN_RECEIVED ||
    state === TcpState.ESTABLISHED ||
    state === TcpState.CLOSE_WAIT
  );
}

export interface ListenOptions extends ConnectOptions {
  /** Half-open connections (default 128). */
  synBacklog?: number;
  /** Established connections waiting (default 128). */
  backlog?: number;
}

export interface ListenHandlers {
  /** A new connection: return (or set on the socket) its handlers. */
  onConnection(socket: CallbackSocket): SocketHandlers | undefined;
}

export class CallbackListener {
  readonly port: number;
  readonly runtime: NetRuntime;
  readonly #tcp: ReturnType<NetRuntime['stack']['tcpListen']>;

  /** @internal */
  constructor(runtime: NetRuntime, port: number, handlers: ListenHandlers, o: ListenOptions) {
    this.runtime = runtime;
    this.port = port;
    try {
      this.#tcp = runtime.stack.tcpListen(
        port,
        {
          onConnection: (t) => {
            const s = new CallbackSocket(runtime, t, {});
            const h = handlers.onConnection(s);
            if (h !== undefined) s.handlers = h;
            s.handlers.onConnect?.(s);
          },
        },
        { synBacklog: o.synBacklog, backlog: o.backlog, tcp: tcpOptions(o) },
      );
    } catch (e) {
      throw toSocketError(e, 'listen');
    }
  }

  /** Stops accepting; established connections stay. */
  close(): void {
    this.runtime.stack.tcpUnlisten(this.#tcp, this.runtime.now());
  }
}

/**
 * Listens on `port` on this thread's stack. Call it on every lcore: each has its own stack and
 * RSS gives each its share of the connections. Throws SocketError EADDRINUSE.
 */
export function listen(
  port: number,
  handlers: ListenHandlers,
  options: ListenOptions = {},
  runtime: NetRuntime = NetRuntime.current(),
): CallbackListener {
  return new CallbackListener(runtime, port, handlers, options);
}

/**
 * Opens a connection from this thread's stack (a source port whose replies RSS maps back to this
 * lcore). Failures come as onError with ECONNREFUSED, ETIMEDOUT, ...; a bad address or no route
 * throws SocketError (ENETUNREACH, EADDRNOTAVAIL, EINVAL).
 */
export function connect(
  address: string,
  port: number,
  handlers: SocketHandlers,
  options?: ConnectOptions,
  runtime: NetRuntime = NetRuntime.current(),
): CallbackSocket {
  let t: TcpSocket;
  try {
    // No handlers yet: nothing can answer the SYN before tcpConnect returns.
    t = runtime.stack.tcpConnect(address, port, {}, runtime.now(), tcpOptions(options));
  } catch (e) {
    throw toSocketError(e, 'connect');
  }
  return new CallbackSocket(runtime, t, handlers);
}

function toSocketError(e: unknown, syscall: string): unknown {
  if (e instanceof TcpSocketError) {
    return new SocketError(e.code, e.message.replace(/^\w+: /, ''), syscall);
  }
  if (e instanceof OptionError) return new SocketError('EINVAL', e.message, syscall);
  return e;
}
