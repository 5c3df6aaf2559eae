import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import net, { isIPv4, isIPv6 } from 'node:net';
import { type CallbackSocket, listen as stackListen } from './callback.js';
import { NET_SOCKET_BUFFERS, Socket as StackSocket } from './net.js';
import { NetRuntime } from './runtime.js';

/**
 * Transparent mode (Onload's and VMA's idea): an unmodified node:net / node:http program runs on
 * the user-space stack. `installTransparent()` patches node:net and node:http in this thread (one
 * lcore, one NetRuntime) so that
 *
 * - `server.listen()` (net.Server, hence http.Server) on the bypass address listens on the
 *   stack; on the wildcard (no host, 0.0.0.0, ::) it listens on the stack and, with
 *   `wildcard: 'both'` (the default, Onload's rule), on the kernel too. Connections from the
 *   stack reach the program as `server.emit('connection', socket)`; `address()`, `listening`,
 *   'listening', `close()`, `getConnections()` and `maxConnections` behave as node:net's.
 *   With a host, node:net looks it up before it binds (even '0.0.0.0'), so the stack listens
 *   when the kernel's 'listening' comes, before the program's own 'listening' callbacks run.
 *   Any other host (localhost, a name, 127.0.0.1, another address) goes to the kernel unchanged,
 *   with a one-line notice that says how to reach the stack instead (`notice`); a pipe, a
 *   handle or an fd goes to the kernel silently;
 * - `net.connect` / `net.createConnection`, `new net.Socket().connect()` and http.Agent
 *   (`http.get`, `http.request`) to an IPv4 literal inside the bypass subnet (or in `routes`)
 *   connect through the stack; every other destination uses the kernel's sockets unchanged.
 *
 * `module.syncBuiltinESMExports()` runs after patching, so `import { createServer } from
 * 'node:net'` sees the patched functions; import the program after installing.
 *
 * The program's stack sockets are `@bypass/socket-api` net Sockets (Duplex streams with
 * node:net's methods and events), except for `new net.Socket()` followed by `connect()`: that
 * object already exists, so it stays a net.Socket whose stream is bridged to a stack socket.
 *
 * `bypass run` (apps/cli) does all of this on every worker lcore: see transparent-lcore.ts.
 */

/** Wildcard listens: on the stack and the kernel ('both', Onload's rule), or the stack only. */
export type WildcardMode = 'both' | 'stack';

export interface TransparentOptions {
  /** The runtime whose stack takes the bypass traffic (default: this thread's). */
  runtime?: NetRuntime;
  /**
   * Wildcard listens (no host, 0.0.0.0, ::): 'both' (default) also listens on the kernel,
   * 'stack' only on the stack. With several lcores only one can also listen on the kernel
   * (Node 20 has no SO_REUSEPORT): `bypass run` gives 'both' to the first and 'stack' to the rest.
   */
  wildcard?: WildcardMode;
  /** More destinations (CIDRs) to connect to through the stack (they need its gateway). */
  routes?: string[];
  /** Called with a line for each routing decision (listen and connect), for --trace. */
  trace?: (line: string) => void;
  /**
   * Called once per listen() that goes to the kernel only because of its host (localhost, a
   * name, loopback, another address), with a line that says so and how to serve it through the
   * stack. Default: the line on stderr. Pass `() => {}` to keep quiet.
   */
  notice?: (line: string) => void;
  /** Called when a listen() has succeeded: where it listens (for `bypass run`'s ready line). */
  onListening?: (info: ListenInfo) => void;
}

/** Where a listen() ended up, once listening. */
export interface ListenInfo {
  route: ListenRoute;
  /** ADDRESS:PORT on the stack (routes 'stack' and 'both'). */
  stack?: string;
  /** HOST:PORT (`*` for no host) or the pipe's path, on the kernel (routes 'kernel' and 'both'). */
  kernel?: string;
}

export interface Transparent {
  readonly runtime: NetRuntime;
  /** The stack's address, dotted. */
  readonly ip: string;
  /** Puts node:net and node:http back as they were (and syncs the ESM exports). */
  uninstall(): void;
}

/** The bypass address: the stack's IPv4 address and its prefix. */
export interface BypassAddress {
  ip: number;
  prefixLen: number;
}

/** Where a listen goes: the stack, the kernel, or both (a wildcard with `wildcard: 'both'`). */
export type ListenRoute = 'stack' | 'kernel' | 'both';
export type ConnectRoute = 'stack' | 'kernel';

/** What listen() was asked (node:net's normalized options; only these decide the route). */
export interface ListenTarget {
  host?: unknown;
  path?: unknown;
  fd?: unknown;
  handle?: unknown;
  _handle?: unknown;
}

/** What connect() was asked (node:net's normalized options; only these decide the route). */
export interface ConnectTarget {
  host?: unknown;
  path?: unknown;
  localAddress?: unknown;
}

/** The IPv4 address in `s` (dotted, or IPv4-mapped IPv6 like ::ffff:10.0.0.2), or undefined. */
export function parseIPv4(s: unknown): number | undefined {
  if (typeof s !== 'string') return undefined;
  let t = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(t);
  if (mapped !== null) t = mapped[1];
  if (!isIPv4(t)) return undefined;
  const p = t.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

export function ipv4String(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/** Parses ADDRESS/PREFIX (10.0.0.2/24); throws on anything else. */
export function parseCidr(cidr: string): BypassAddress {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  const ip = m === null ? undefined : parseIPv4(m[1]);
  const prefixLen = m === null ? Number.NaN : Number(m[2]);
  if (ip === undefined || !(prefixLen >= 0 && prefixLen <= 32)) {
    throw new Error(
      `${JSON.stringify(cidr)} is not an IPv4 address with a prefix, like 10.0.0.2/24`,
    );
  }
  return { ip, prefixLen };
}

function mask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

function inSubnet(ip: number, subnet: BypassAddress): boolean {
  const m = mask(subnet.prefixLen);
  return (ip & m) >>> 0 === (subnet.ip & m) >>> 0;
}

/** The unspecified address in any spelling: no host, '', 0.0.0.0, ::, ::0, [::], ::ffff:0.0.0.0. */
export function isWildcardHost(host: unknown): boolean {
  if (host === undefined || host === null || host === '') return true;
  if (typeof host !== 'string') return false;
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h === '0.0.0.0' || /^::ffff:0\.0\.0\.0$/i.test(h)) return true;
  return isIPv6(h) && /^[0:]+$/.test(h);
}

/**
 * Where listen(`target`) goes: the bypass address to the stack; the wildcard to the stack and
 * the kernel ('both') or the stack only, per `wildcard`; anything else (loopback, other
 * addresses, host names, pipes, handles, fds) to the kernel.
 */
export function listenRoute(
  target: ListenTarget,
  address: BypassAddress,
  wildcard: WildcardMode = 'both',
): ListenRoute {
  if (target.path != null || target.fd != null || target.handle != null || target._handle != null)
    return 'kernel';
  if (isWildcardHost(target.host)) return wildcard === 'both' ? 'both' : 'stack';
  return parseIPv4(target.host) === address.ip ? 'stack' : 'kernel';
}

/**
 * Where connect(`target`) goes: an IPv4 literal inside the bypass subnet (or one of `routes`) to
 * the stack, except the stack's own address and the subnet's network and broadcast addresses;
 * everything else (host names, localhost, loopback, IPv6, pipes, a localAddress that is not
 * the bypass address) to the kernel.
 */
export function connectRoute(
  target: ConnectTarget,
  address: BypassAddress,
  routes: readonly BypassAddress[] = [],
): ConnectRoute {
  if (target.path != null) return 'kernel';
  const dst = parseIPv4(target.host);
  if (dst === undefined) return 'kernel';
  if (target.localAddress != null && parseIPv4(target.localAddress) !== address.ip) return 'kernel';
  if (dst === address.ip) return 'kernel';
  if (inSubnet(dst, address)) {
    if (address.prefixLen <= 30) {
      const m = mask(address.prefixLen);
      const network = (address.ip & m) >>> 0;
      if (dst === network || dst === (network | ~m) >>> 0) return 'kernel';
    }
    return 'stack';
  }
  return routes.some((r) => inSubnet(dst, r)) ? 'stack' : 'kernel';
}

// ---------------------------------------------------------------------------------------------
// The patches

type Fn = (this: unknown, ...args: unknown[]) => unknown;
type Callback = (...args: unknown[]) => void;

/** node:net's Server internals that listen/close/getConnections go through. */
interface ServerInternals extends net.Server {
  _handle: unknown;
  _connections: number;
  _emitCloseIfDrained(): void;
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  /** Seconds (node:net keeps ~~(ms / 1000)). */
  keepAliveInitialDelay?: number;
}

/** A node:net server handle, as far as node:net's Server uses one. */
interface ServerHandle {
  close(cb?: () => void): void;
  getsockname(out: Record<string, unknown>): number;
  ref(): void;
  unref(): void;
}

interface Originals {
  listen: Fn;
  socketConnect: Fn;
  socketDestroy: Fn;
  connect: Fn;
  createConnection: Fn;
  agentCreateConnection: Fn;
}

let installed: Transparent | undefined;

/** node:net's normalizeArgs (listen and connect): [options, callback]. */
function normalizeArgs(args: unknown[]): [Record<string, unknown>, Callback | undefined] {
  if (Array.isArray(args[0])) {
    // net.connect() hands Socket.prototype.connect its already normalized [options, cb].
    const [o, cb] = args[0] as [Record<string, unknown>, Callback | null];
    return [o, cb ?? undefined];
  }
  const last = args[args.length - 1];
  const cb = typeof last === 'function' ? (last as Callback) : undefined;
  if (args.length === 0) return [{}, undefined];
  const a0 = args[0];
  if (typeof a0 === 'object' && a0 !== null) return [a0 as Record<string, unknown>, cb];
  if (isPipeName(a0)) return [{ path: a0 }, cb];
  const o: Record<string, unknown> = { port: a0 };
  if (args.length > 1 && typeof args[1] === 'string') o.host = args[1];
  return [o, cb];
}

function toNumber(x: unknown): number | false {
  const n = Number(x);
  return n >= 0 ? n : false;
}

function isPipeName(s: unknown): boolean {
  return typeof s === 'string' && toNumber(s) === false;
}

/** node:net's validatePort (allowZero): the port, or undefined for what it would reject. */
function validPort(p: unknown, allowZero: boolean): number | undefined {
  if (typeof p !== 'number' && typeof p !== 'string') return undefined;
  if (typeof p === 'string' && p.trim() === '') return undefined;
  const n = +p;
  if (n !== n >>> 0 || n > 0xffff || (n === 0 && !allowZero)) return undefined;
  return n;
}

/**
 * Installs transparent mode in this thread (see the top of this file). One installation per
 * thread; `uninstall()` restores node:net and node:http.
 */
export function installTransparent(options: TransparentOptions = {}): Transparent {
  if (installed !== undefined) {
    throw new Error('transparent mode is already installed in this thread; uninstall() it first');
  }
  const runtime = options.runtime ?? NetRuntime.current();
  const address: BypassAddress = {
    ip: runtime.stack.localIp,
    prefixLen: runtime.stack.prefixLen,
  };
  const ip = ipv4String(address.ip);
  const routes = (options.routes ?? []).map(parseCidr);
  const wildcard = options.wildcard ?? 'both';
  const trace = options.trace;
  const onListening = options.onListening;
  const notice = options.notice ?? ((line: string) => process.stderr.write(`${line}\n`));
  /**
   * Each server's latest listen() call: a 'listening' listener left from an earlier call (whose
   * lookup or bind failed) sees a newer number and does nothing.
   */
  const listenCalls = new WeakMap<net.Server, number>();
  const nextListenCall = (server: net.Server) => {
    const n = (listenCalls.get(server) ?? 0) + 1;
    listenCalls.set(server, n);
    return n;
  };

  const Server = net.Server.prototype as unknown as Record<string, unknown>;
  const SocketProto = net.Socket.prototype as unknown as Record<string, unknown>;
  const Agent = http.Agent.prototype as unknown as Record<string, unknown>;
  const netExports = net as unknown as Record<string, unknown>;
  const orig: Originals = {
    listen: Server.listen as Fn,
    socketConnect: SocketProto.connect as Fn,
    socketDestroy: SocketProto._destroy as Fn,
    connect: netExports.connect as Fn,
    createConnection: netExports.createConnection as Fn,
    agentCreateConnection: Agent.createConnection as Fn,
  };

  /** Listens on the stack for `server`; connections go to server.emit('connection'). */
  function listenOnStack(server: ServerInternals, port: number, backlog: number | undefined) {
    const tryPort = (p: number) =>
      stackListen(
        p,
        {
          onConnection: (cb) => {
            accept(server, cb);
            return undefined;
          },
        },
        { backlog, ...NET_SOCKET_BUFFERS },
        runtime,
      );
    if (port !== 0) return tryPort(port);
    // Port 0: an ephemeral port (each lcore picks its own; give a port to share one).
    const start = 32768 + Math.floor(Math.random() * 28232);
    let last: unknown;
    for (let i = 0; i < 28232; i++) {
      try {
        return tryPort(32768 + ((start - 32768 + i) % 28232));
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  function accept(server: ServerInternals, cb: CallbackSocket): void {
    const s = StackSocket.accepted(cb, server.allowHalfOpen ?? false);
    if (server.maxConnections && server._connections >= server.maxConnections) {
      const info = {
        localAddress: s.localAddress,
        localPort: s.localPort,
        localFamily: 'IPv4',
        remoteAddress: s.remoteAddress,
        remotePort: s.remotePort,
        remoteFamily: 'IPv4',
      };
      s.destroy();
      server.emit('drop', info);
      return;
    }
    if (server.noDelay) s.setNoDelay(true);
    if (server.keepAlive) s.setKeepAlive(true, (server.keepAliveInitialDelay ?? 0) * 1000);
    server._connections++;
    (s as unknown as { server: net.Server }).server = server;
    s.once('close', () => {
      server._connections--;
      server._emitCloseIfDrained();
    });
    if (server.pauseOnConnect) s.pause();
    server.emit('connection', s);
  }

  /**
   * A wildcard listen() with `wildcard: 'both'`, once the kernel is listening: the stack listens
   * on the kernel's port too, and closing the kernel's handle closes both. If the stack cannot,
   * the kernel's handle is closed again and the server emits the error.
   */
  function attachStack(server: ServerInternals, host: string, backlog: number | undefined): void {
    const handle = server._handle as ServerHandle | null;
    if (handle === null) return;
    const kernelPort = (server.address() as net.AddressInfo).port;
    let listener: ReturnType<typeof listenOnStack>;
    try {
      listener = listenOnStack(server, kernelPort, backlog);
    } catch (e) {
      trace?.(`listen ${host}:${kernelPort} -> stack failed (${(e as Error).message})`);
      handle.close();
      server._handle = null;
      process.nextTick(() => server.emit('error', e));
      return;
    }
    trace?.(`listen ${host}:${kernelPort} -> stack ${ip} + kernel`);
    const closeKernel = handle.close;
    handle.close = function (this: ServerHandle, ...a: unknown[]) {
      listener.close();
      return (closeKernel as Fn).apply(this, a) as undefined;
    };
    onListening?.({ route: 'both', stack: `${ip}:${kernelPort}`, kernel: `${host}:${kernelPort}` });
  }

  function listen(this: ServerInternals, ...args: unknown[]): unknown {
    const [o, cb] = normalizeArgs(args);
    const target = (o._handle ?? o.handle ?? o) as Record<string, unknown>;
    const route = target === o ? listenRoute(o, address, wildcard) : 'kernel';
    const noPort = args.length === 0 || typeof args[0] === 'function' || o.port == null;
    const port = noPort ? 0 : validPort(o.port, true);
    // As a URL writes it: an IPv6 host in brackets ([::]:3000).
    const host =
      typeof o.host !== 'string' || o.host === '' ? '*' : isIPv6(o.host) ? `[${o.host}]` : o.host;
    const call = nextListenCall(this);
    if (route === 'kernel' || port === undefined || this._handle) {
      // node:net's own path (and its errors: a bad port, ERR_SERVER_ALREADY_LISTEN).
      const what = o.path != null ? String(o.path) : `${host}:${String(o.port ?? '')}`;
      trace?.(`listen ${what} -> kernel`);
      const byHost =
        route === 'kernel' && target === o && o.path == null && o.fd == null && host !== '*';
      if (byHost && !this._handle && port !== undefined) {
        notice(
          `bypass: listen ${host}:${port} is on the kernel only, not on the bypass stack: to ` +
            `serve it through bypass, listen on the wildcard (no host, '0.0.0.0' or '::') or on ${ip}`,
        );
      }
      const r = orig.listen.apply(this, args);
      if (onListening !== undefined) {
        this.once('listening', () => {
          if (listenCalls.get(this) !== call) return;
          const a = this.address();
          const kernel = typeof a === 'string' ? a : `${host}:${a?.port ?? ''}`;
          onListening({ route: 'kernel', kernel });
        });
      }
      return r;
    }
    const backlog =
      Number(o.backlog) ||
      toNumber(args.length > 1 && args[1]) ||
      toNumber(args.length > 2 && args[2]) ||
      undefined;
    if (route === 'both') {
      // The kernel first, then the stack on the port the kernel chose.
      orig.listen.apply(this, args);
      if (this._handle) {
        // No host: node:net bound synchronously; it emits 'listening' on the next tick.
        attachStack(this, host, backlog);
      } else {
        // A host (even '0.0.0.0' or '::'): node:net looks it up (dns.lookup) and binds later, then
        // emits 'listening'. The stack listens before the program's 'listening' callbacks run.
        // (No handle and no lookup: node:net reports its error on the next tick; this listener
        // then waits for a later listen() call, which makes it stale.)
        this.prependOnceListener('listening', () => {
          if (listenCalls.get(this) === call) attachStack(this, host, backlog);
        });
      }
      return this;
    }
    // The stack only: a handle for node:net's Server, so listening, address(), close(), ref()
    // and the 'close' accounting (_connections) are node:net's own.
    if (cb !== undefined) this.once('listening', cb);
    let listener: ReturnType<typeof listenOnStack>;
    try {
      listener = listenOnStack(this, port, backlog);
    } catch (e) {
      trace?.(`listen ${host}:${port} -> stack failed (${(e as Error).message})`);
      process.nextTick(() => this.emit('error', e));
      return this;
    }
    const bound = listener.port;
    trace?.(`listen ${host}:${bound} -> stack ${ip}`);
    const handle: ServerHandle = {
      close(done?: () => void) {
        listener.close();
        if (done !== undefined) process.nextTick(done);
      },
      getsockname(out) {
        out.address = ip;
        out.family = 'IPv4';
        out.port = bound;
        return 0;
      },
      ref() {},
      unref() {},
    };
    this._handle = handle;
    process.nextTick(() => {
      if (this._handle !== handle) return;
      onListening?.({ route: 'stack', stack: `${ip}:${bound}` });
      this.emit('listening');
    });
    const signal = o.signal as AbortSignal | undefined;
    if (signal !== undefined) {
      const onAbort = () => {
        if (this._handle === handle) this.close();
      };
      if (signal.aborted) process.nextTick(onAbort);
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    return this;
  }

  /** A stack connection for net.connect(options, cb) (and http.Agent). */
  function connectOnStack(o: Record<string, unknown>, cb?: Callback): StackSocket {
    const port = validPort(o.port, false) as number;
    const host = ipv4String(parseIPv4(o.host) as number);
    trace?.(`connect ${host}:${port} -> stack`);
    const s = new StackSocket({ runtime, allowHalfOpen: Boolean(o.allowHalfOpen) });
    if (typeof o.timeout === 'number' && o.timeout > 0) s.setTimeout(o.timeout);
    s.connect(
      {
        port,
        host,
        noDelay: Boolean(o.noDelay),
        keepAlive: Boolean(o.keepAlive),
        keepAliveInitialDelay: Number(o.keepAliveInitialDelay ?? 0),
      },
      cb as (() => void) | undefined,
    );
    return s;
  }

  function routeConnect(o: Record<string, unknown>): ConnectRoute {
    const host = o.host ?? 'localhost';
    const r = connectRoute({ host, path: o.path, localAddress: o.localAddress }, address, routes);
    // A bad port: node:net's path throws node:net's error.
    return r === 'stack' && validPort(o.port, false) !== undefined ? 'stack' : 'kernel';
  }

  /** Set while a patched function hands a call to node:net (which comes back through socketConnect). */
  let delegating = false;

  function kernel(fn: Fn, self: unknown, args: unknown[], o: Record<string, unknown>): unknown {
    if (!delegating) {
      trace?.(
        `connect ${String(o.host ?? o.path ?? 'localhost')}:${String(o.port ?? '')} -> kernel`,
      );
    }
    const outer = delegating;
    delegating = true;
    try {
      return fn.apply(self, args);
    } finally {
      delegating = outer;
    }
  }

  function connect(this: unknown, ...args: unknown[]): unknown {
    const [o, cb] = normalizeArgs(args);
    if (routeConnect(o) === 'stack') return connectOnStack(o, cb);
    return kernel(orig.connect, this, args, o);
  }

  function createConnection(this: unknown, ...args: unknown[]): unknown {
    const [o, cb] = normalizeArgs(args);
    if (routeConnect(o) === 'stack') return connectOnStack(o, cb);
    return kernel(orig.createConnection, this, args, o);
  }

  function agentCreateConnection(this: unknown, ...args: unknown[]): unknown {
    const o = (args[0] ?? {}) as Record<string, unknown>;
    // http.Agent calls back through its own oncreate when a socket is returned.
    if (routeConnect(o) === 'stack') return connectOnStack(o);
    return kernel(orig.agentCreateConnection, this, args, o);
  }

  function socketConnect(this: net.Socket, ...args: unknown[]): unknown {
    const [o, cb] = normalizeArgs(args);
    const self = this as unknown as { _handle: unknown };
    // A socket with a handle (a TLSSocket, a reconnect) stays with node:net.
    if (!delegating && self._handle == null && routeConnect(o) === 'stack') {
      bridge(this, connectOnStack(o), cb);
      return this;
    }
    return kernel(orig.socketConnect, this, args, o);
  }

  /**
   * Makes node:net Socket `k` (no handle, being connected) the front of stack socket `inner`:
   * its stream methods move bytes to and from `inner`, its address getters read `inner`'s, and
   * its events follow `inner`'s. Timers (setTimeout) stay `k`'s own.
   */
  function bridge(k: net.Socket, inner: StackSocket, cb: Callback | undefined): void {
    const kk = k as unknown as Record<string, unknown> & {
      connecting: boolean;
      _unrefTimer(): void;
    };
    if (cb !== undefined) k.once('connect', cb);
    kk.connecting = true;
    const touch = () => kk._unrefTimer();
    touch();
    kk._read = () => {
      inner.resume();
    };
    kk._write = (chunk: unknown, enc: BufferEncoding, done: (e?: Error | null) => void) => {
      touch();
      inner.write(chunk, enc, done);
    };
    kk._writev = null;
    kk._final = (done: (e?: Error | null) => void) => {
      inner.end(() => done());
    };
    kk._destroy = (err: Error | null, done: (e?: Error | null) => void) => {
      if (!inner.destroyed) inner.destroy();
      orig.socketDestroy.call(k, err, done);
    };
    kk._getpeername = () =>
      inner.remoteAddress === undefined
        ? {}
        : { address: inner.remoteAddress, port: inner.remotePort, family: 'IPv4' };
    kk._getsockname = () => inner.address();
    kk.setNoDelay = (enable?: boolean) => {
      inner.setNoDelay(enable);
      return k;
    };
    kk.setKeepAlive = (enable?: boolean, delay?: number) => {
      inner.setKeepAlive(enable, delay);
      return k;
    };
    kk.ref = () => k;
    kk.unref = () => k;
    kk.resetAndDestroy = () => {
      inner.resetAndDestroy();
      return k.destroy();
    };
    for (const [name, get] of [
      ['pending', () => inner.pending],
      ['bytesRead', () => inner.bytesRead],
      ['bytesWritten', () => inner.bytesWritten],
    ] as const) {
      Object.defineProperty(k, name, { get, configurable: true });
    }
    inner.on('connect', () => {
      kk.connecting = false;
      touch();
      k.emit('connect');
      k.emit('ready');
    });
    inner.on('data', (d: Buffer) => {
      touch();
      if (!k.push(d)) inner.pause();
    });
    let ended = false;
    inner.on('end', () => {
      ended = true;
      k.push(null);
    });
    inner.on('error', (e: Error) => k.destroy(e));
    inner.on('close', () => {
      kk.connecting = false;
      // After 'end', k finishes by itself once its reader took everything (autoDestroy).
      if (!ended && !k.destroyed) k.destroy();
    });
  }

  Server.listen = listen;
  SocketProto.connect = socketConnect;
  netExports.connect = connect;
  netExports.createConnection = createConnection;
  Agent.createConnection = agentCreateConnection;
  syncBuiltinESMExports();

  const t: Transparent = {
    runtime,
    ip,
    uninstall() {
      if (installed !== t) return;
      Server.listen = orig.listen;
      SocketProto.connect = orig.socketConnect;
      netExports.connect = orig.connect;
      netExports.createConnection = orig.createConnection;
      Agent.createConnection = orig.agentCreateConnection;
      syncBuiltinESMExports();
      installed = undefined;
    },
  };
  installed = t;
  return t;
}

export type {
  TransparentLcoreArg,
  TransparentLcoreReport,
  TransparentLcoreResult,
} from './transparent-lcore.js';

/** The module `bypass run` launches on each worker lcore (export `transparentLcore`). */
export const TRANSPARENT_LCORE_MODULE: URL = new URL('./transparent-lcore.js', import.meta.url);
