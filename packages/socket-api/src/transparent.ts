import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { type Cidr, ipv4ToString, parseCidr } from '@bypass/net';
import { type CallbackSocket, listen as stackListen } from './callback.js';
import { NET_SOCKET_BUFFERS, Socket as StackSocket } from './net.js';
import { NetRuntime } from './runtime.js';
import {
  type Callback,
  connectOptionsRoute,
  hostIpv4,
  type ListenInfo,
  type ListenPlan,
  normalizeArgs,
  planListen,
  validPort,
  type WildcardMode,
} from './transparent-route.js';

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
 * Which call goes where is decided in transparent-route.ts. `bypass run` (apps/cli) does all of
 * this on every worker lcore: see transparent-lcore.ts.
 */

export interface TransparentOptions {
  /** The runtime whose stack takes the bypass traffic (default: this thread's). */
  runtime?: NetRuntime;
  /**
   * Wildcard listens (no host, 0.0.0.0, ::): 'both' (default) also listens on the kernel,
   * 'stack' only on the stack. With several lcores only one can also listen on the kernel
   * (Node 20 has no SO_REUSEPORT): `bypass run` gives 'both' to the first and 'stack' to the rest.
   */
  wildcard?: WildcardMode;
  /**
   * More destinations (CIDRs) to connect to through the stack (they need its gateway). One
   * that is not ADDRESS/PREFIX throws OptionError (option 'routes').
   */
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

export interface Transparent {
  readonly runtime: NetRuntime;
  /** The stack's address, dotted. */
  readonly ip: string;
  /** Puts node:net and node:http back as they were (and syncs the ESM exports). */
  uninstall(): void;
}

type Fn = (this: unknown, ...args: unknown[]) => unknown;

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

/** The node:net and node:http functions the patches replace (and hand kernel calls to). */
interface Originals {
  listen: Fn;
  socketConnect: Fn;
  socketDestroy: Fn;
  connect: Fn;
  createConnection: Fn;
  agentCreateConnection: Fn;
}

/** One installation: its settings, node:net's originals, and the state the patches share. */
interface Installation {
  readonly runtime: NetRuntime;
  readonly address: Cidr;
  /** The stack's address, dotted. */
  readonly ip: string;
  readonly routes: readonly Cidr[];
  readonly wildcard: WildcardMode;
  readonly trace: ((line: string) => void) | undefined;
  readonly notice: (line: string) => void;
  readonly onListening: ((info: ListenInfo) => void) | undefined;
  readonly orig: Originals;
  /**
   * Each server's latest listen() call: a 'listening' listener left from an earlier call (whose
   * lookup or bind failed) sees a newer number and does nothing.
   */
  readonly listenCalls: WeakMap<net.Server, number>;
  /** Set while a patched function hands a call to node:net (which comes back through socketConnect). */
  delegating: boolean;
}

let installed: Transparent | undefined;

/**
 * Installs transparent mode in this thread (see the top of this file). One installation per
 * thread; `uninstall()` restores node:net and node:http.
 */
export function installTransparent(options: TransparentOptions = {}): Transparent {
  if (installed !== undefined) {
    throw new Error('transparent mode is already installed in this thread; uninstall() it first');
  }
  const runtime = options.runtime ?? NetRuntime.current();
  const address: Cidr = { ip: runtime.stack.localIp, prefixLen: runtime.stack.prefixLen };
  const Server = net.Server.prototype as unknown as Record<string, unknown>;
  const SocketProto = net.Socket.prototype as unknown as Record<string, unknown>;
  const Agent = http.Agent.prototype as unknown as Record<string, unknown>;
  const netExports = net as unknown as Record<string, unknown>;
  const inst: Installation = {
    runtime,
    address,
    ip: ipv4ToString(address.ip),
    routes: (options.routes ?? []).map((r) => parseCidr(r, 'routes')),
    wildcard: options.wildcard ?? 'both',
    trace: options.trace,
    notice: options.notice ?? ((line: string) => process.stderr.write(`${line}\n`)),
    onListening: options.onListening,
    orig: {
      listen: Server.listen as Fn,
      socketConnect: SocketProto.connect as Fn,
      socketDestroy: SocketProto._destroy as Fn,
      connect: netExports.connect as Fn,
      createConnection: netExports.createConnection as Fn,
      agentCreateConnection: Agent.createConnection as Fn,
    },
    listenCalls: new WeakMap(),
    delegating: false,
  };
  // Methods, so that each patch has a name in stack traces (node:net's own names).
  const patched = {
    listen(this: ServerInternals, ...args: unknown[]): unknown {
      return listenPatch(inst, this, args);
    },
    socketConnect(this: net.Socket, ...args: unknown[]): unknown {
      return socketConnectPatch(inst, this, args);
    },
    connect(this: unknown, ...args: unknown[]): unknown {
      return connectPatch(inst, inst.orig.connect, this, args);
    },
    createConnection(this: unknown, ...args: unknown[]): unknown {
      return connectPatch(inst, inst.orig.createConnection, this, args);
    },
    agentCreateConnection(this: unknown, ...args: unknown[]): unknown {
      return agentCreateConnectionPatch(inst, this, args);
    },
  };
  Server.listen = patched.listen;
  SocketProto.connect = patched.socketConnect;
  netExports.connect = patched.connect;
  netExports.createConnection = patched.createConnection;
  Agent.createConnection = patched.agentCreateConnection;
  syncBuiltinESMExports();

  const t: Transparent = {
    runtime,
    ip: inst.ip,
    uninstall() {
      if (installed !== t) return;
      Server.listen = inst.orig.listen;
      SocketProto.connect = inst.orig.socketConnect;
      netExports.connect = inst.orig.connect;
      netExports.createConnection = inst.orig.createConnection;
      Agent.createConnection = inst.orig.agentCreateConnection;
      syncBuiltinESMExports();
      installed = undefined;
    },
  };
  installed = t;
  return t;
}

// ---------------------------------------------------------------------------------------------
// net.Server.prototype.listen

/** Server.prototype.listen: node:net's own (the kernel), the stack, or both (see planListen). */
function listenPatch(inst: Installation, server: ServerInternals, args: unknown[]): unknown {
  const plan = planListen(args, inst.address, inst.wildcard);
  const call = (inst.listenCalls.get(server) ?? 0) + 1;
  inst.listenCalls.set(server, call);
  const { route, port } = plan;
  if (route === 'kernel' || port === undefined || server._handle) {
    return listenOnKernel(inst, server, args, plan, call);
  }
  if (route === 'both') listenOnBoth(inst, server, args, plan, call);
  else listenOnStackOnly(inst, server, plan, port);
  return server;
}

/** node:net's own path (and its errors: a bad port, ERR_SERVER_ALREADY_LISTEN). */
function listenOnKernel(
  inst: Installation,
  server: ServerInternals,
  args: unknown[],
  plan: ListenPlan,
  call: number,
): unknown {
  const { options: o, host } = plan;
  const what = o.path != null ? String(o.path) : `${host}:${String(o.port ?? '')}`;
  inst.trace?.(`listen ${what} -> kernel`);
  if (plan.byHost && !server._handle && plan.port !== undefined) {
    inst.notice(
      `bypass: listen ${host}:${plan.port} is on the kernel only, not on the bypass stack: to ` +
        `serve it through bypass, listen on the wildcard (no host, '0.0.0.0' or '::') or on ${inst.ip}`,
    );
  }
  const r = inst.orig.listen.apply(server, args);
  const onListening = inst.onListening;
  if (onListening !== undefined) {
    server.once('listening', () => {
      if (inst.listenCalls.get(server) !== call) return;
      const a = server.address();
      const kernel = typeof a === 'string' ? a : `${host}:${a?.port ?? ''}`;
      onListening({ route: 'kernel', kernel });
    });
  }
  return r;
}

/** The wildcard with `wildcard: 'both'`: the kernel first, then the stack on the kernel's port. */
function listenOnBoth(
  inst: Installation,
  server: ServerInternals,
  args: unknown[],
  plan: ListenPlan,
  call: number,
): void {
  inst.orig.listen.apply(server, args);
  if (server._handle) {
    // No host: node:net bound synchronously; it emits 'listening' on the next tick.
    attachStack(inst, server, plan.host, plan.backlog);
  } else {
    // A host (even '0.0.0.0' or '::'): node:net looks it up (dns.lookup) and binds later, then
    // emits 'listening'. The stack listens before the program's 'listening' callbacks run.
    // (No handle and no lookup: node:net reports its error on the next tick; this listener
    // then waits for a later listen() call, which makes it stale.)
    server.prependOnceListener('listening', () => {
      if (inst.listenCalls.get(server) === call) attachStack(inst, server, plan.host, plan.backlog);
    });
  }
}

/**
 * A wildcard listen() with `wildcard: 'both'`, once the kernel is listening: the stack listens
 * on the kernel's port too, and closing the kernel's handle closes both. If the stack cannot,
 * the kernel's handle is closed again and the server emits the error.
 */
function attachStack(
  inst: Installation,
  server: ServerInternals,
  host: string,
  backlog: number | undefined,
): void {
  const handle = server._handle as ServerHandle | null;
  if (handle === null) return;
  const kernelPort = (server.address() as net.AddressInfo).port;
  let listener: ReturnType<typeof listenOnStack>;
  try {
    listener = listenOnStack(inst.runtime, server, kernelPort, backlog);
  } catch (e) {
    inst.trace?.(`listen ${host}:${kernelPort} -> stack failed (${(e as Error).message})`);
    handle.close();
    server._handle = null;
    process.nextTick(() => server.emit('error', e));
    return;
  }
  inst.trace?.(`listen ${host}:${kernelPort} -> stack ${inst.ip} + kernel`);
  const closeKernel = handle.close;
  handle.close = function (this: ServerHandle, ...a: unknown[]) {
    listener.close();
    return (closeKernel as Fn).apply(this, a) as undefined;
  };
  inst.onListening?.({
    route: 'both',
    stack: `${inst.ip}:${kernelPort}`,
    kernel: `${host}:${kernelPort}`,
  });
}

/**
 * The stack only: a handle for node:net's Server, so listening, address(), close(), ref() and
 * the 'close' accounting (_connections) are node:net's own.
 */
function listenOnStackOnly(
  inst: Installation,
  server: ServerInternals,
  plan: ListenPlan,
  port: number,
): void {
  const { ip, trace } = inst;
  const { host } = plan;
  if (plan.callback !== undefined) server.once('listening', plan.callback);
  let listener: ReturnType<typeof listenOnStack>;
  try {
    listener = listenOnStack(inst.runtime, server, port, plan.backlog);
  } catch (e) {
    trace?.(`listen ${host}:${port} -> stack failed (${(e as Error).message})`);
    process.nextTick(() => server.emit('error', e));
    return;
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
  server._handle = handle;
  process.nextTick(() => {
    if (server._handle !== handle) return;
    inst.onListening?.({ route: 'stack', stack: `${ip}:${bound}` });
    server.emit('listening');
  });
  const signal = plan.options.signal as AbortSignal | undefined;
  if (signal !== undefined) {
    const onAbort = () => {
      if (server._handle === handle) server.close();
    };
    if (signal.aborted) process.nextTick(onAbort);
    else signal.addEventListener('abort', onAbort, { once: true });
  }
}

/** Listens on `runtime`'s stack for `server`; connections go to server.emit('connection'). */
function listenOnStack(
  runtime: NetRuntime,
  server: ServerInternals,
  port: number,
  backlog: number | undefined,
) {
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

/** A stack connection for `server`: node:net's maxConnections, options and accounting. */
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

// ---------------------------------------------------------------------------------------------
// net.connect, net.createConnection, net.Socket.prototype.connect, http.Agent

/** net.connect or net.createConnection (`original`): a stack Socket, or node:net's. */
function connectPatch(inst: Installation, original: Fn, self: unknown, args: unknown[]): unknown {
  const [o, cb] = normalizeArgs(args);
  if (connectOptionsRoute(o, inst.address, inst.routes) === 'stack') {
    return connectOnStack(inst, o, cb);
  }
  return callKernel(inst, original, self, args, o);
}

/** http.Agent.prototype.createConnection(options, oncreate). */
function agentCreateConnectionPatch(inst: Installation, self: unknown, args: unknown[]): unknown {
  const o = (args[0] ?? {}) as Record<string, unknown>;
  // http.Agent calls back through its own oncreate when a socket is returned.
  if (connectOptionsRoute(o, inst.address, inst.routes) === 'stack') return connectOnStack(inst, o);
  return callKernel(inst, inst.orig.agentCreateConnection, self, args, o);
}

/** net.Socket.prototype.connect: `socket` bridged to a stack socket, or node:net's. */
function socketConnectPatch(inst: Installation, socket: net.Socket, args: unknown[]): unknown {
  const [o, cb] = normalizeArgs(args);
  const { _handle } = socket as unknown as { _handle: unknown };
  // A socket with a handle (a TLSSocket, a reconnect) stays with node:net.
  if (
    !inst.delegating &&
    _handle == null &&
    connectOptionsRoute(o, inst.address, inst.routes) === 'stack'
  ) {
    bridge(socket, connectOnStack(inst, o), cb, inst.orig.socketDestroy);
    return socket;
  }
  return callKernel(inst, inst.orig.socketConnect, socket, args, o);
}

/** A stack connection for net.connect(options, cb) (and http.Agent). */
function connectOnStack(
  inst: Installation,
  o: Record<string, unknown>,
  cb?: Callback,
): StackSocket {
  const port = validPort(o.port, false) as number;
  const host = ipv4ToString(hostIpv4(o.host) as number);
  inst.trace?.(`connect ${host}:${port} -> stack`);
  const s = new StackSocket({ runtime: inst.runtime, allowHalfOpen: Boolean(o.allowHalfOpen) });
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

/** Hands a connect to node:net's `fn`; node:net's own calls back into the patches stay its own. */
function callKernel(
  inst: Installation,
  fn: Fn,
  self: unknown,
  args: unknown[],
  o: Record<string, unknown>,
): unknown {
  if (!inst.delegating) {
    inst.trace?.(
      `connect ${String(o.host ?? o.path ?? 'localhost')}:${String(o.port ?? '')} -> kernel`,
    );
  }
  const outer = inst.delegating;
  inst.delegating = true;
  try {
    return fn.apply(self, args);
  } finally {
    inst.delegating = outer;
  }
}

/**
 * Makes node:net Socket `k` (no handle, being connected) the front of stack socket `inner`:
 * its stream methods move bytes to and from `inner`, its address getters read `inner`'s, and
 * its events follow `inner`'s. Timers (setTimeout) stay `k`'s own; `socketDestroy` is
 * node:net's own _destroy.
 */
function bridge(
  k: net.Socket,
  inner: StackSocket,
  cb: Callback | undefined,
  socketDestroy: Fn,
): void {
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
    socketDestroy.call(k, err, done);
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
