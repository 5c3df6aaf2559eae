import { isIPv4, isIPv6 } from 'node:net';
import { type Cidr, inSubnet, prefixMask, tryParseIpv4 } from '@bypass/net';

/**
 * Transparent mode's routing decisions: which listen() and connect() calls go to the user-space
 * stack and which to the kernel, from the arguments node:net was given. Pure functions: nothing
 * here patches node:net or starts anything; transparent.ts applies them.
 */

/** Wildcard listens: on the stack and the kernel ('both', Onload's rule), or the stack only. */
export type WildcardMode = 'both' | 'stack';

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

/** Where a listen() ended up, once listening. */
export interface ListenInfo {
  route: ListenRoute;
  /** ADDRESS:PORT on the stack (routes 'stack' and 'both'). */
  stack?: string;
  /** HOST:PORT (`*` for no host) or the pipe's path, on the kernel (routes 'kernel' and 'both'). */
  kernel?: string;
}

/**
 * The IPv4 address a node:net host gives: an IPv4 literal as node:net reads one (so not
 * 010.0.0.1, which the resolver would read as octal), also in brackets or IPv4-mapped IPv6
 * (::ffff:10.0.0.2); undefined for anything else (a name, IPv6, no string).
 */
export function hostIpv4(host: unknown): number | undefined {
  if (typeof host !== 'string') return undefined;
  let h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(h);
  if (mapped !== null) h = mapped[1];
  return isIPv4(h) ? tryParseIpv4(h) : undefined;
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
  address: Cidr,
  wildcard: WildcardMode = 'both',
): ListenRoute {
  if (target.path != null || target.fd != null || target.handle != null || target._handle != null)
    return 'kernel';
  if (isWildcardHost(target.host)) return wildcard === 'both' ? 'both' : 'stack';
  return hostIpv4(target.host) === address.ip ? 'stack' : 'kernel';
}

/**
 * Where connect(`target`) goes: an IPv4 literal inside the bypass subnet (or one of `routes`) to
 * the stack, except the stack's own address and the subnet's network and broadcast addresses;
 * everything else (host names, localhost, loopback, IPv6, pipes, a localAddress that is not
 * the bypass address) to the kernel.
 */
export function connectRoute(
  target: ConnectTarget,
  address: Cidr,
  routes: readonly Cidr[] = [],
): ConnectRoute {
  if (target.path != null) return 'kernel';
  const dst = hostIpv4(target.host);
  if (dst === undefined) return 'kernel';
  if (target.localAddress != null && hostIpv4(target.localAddress) !== address.ip) return 'kernel';
  if (dst === address.ip) return 'kernel';
  if (inSubnet(dst, address)) {
    // RFC 3021: a /31 has no network or broadcast address (nor has a /32).
    if (address.prefixLen <= 30) {
      const m = prefixMask(address.prefixLen);
      const network = (address.ip & m) >>> 0;
      if (dst === network || dst === (network | ~m) >>> 0) return 'kernel';
    }
    return 'stack';
  }
  return routes.some((r) => inSubnet(dst, r)) ? 'stack' : 'kernel';
}

// ---------------------------------------------------------------------------------------------
// node:net's arguments, as node:net reads them

export type Callback = (...args: unknown[]) => void;

/** node:net's normalizeArgs (listen and connect): [options, callback]. */
export function normalizeArgs(
  args: readonly unknown[],
): [Record<string, unknown>, Callback | undefined] {
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
export function validPort(p: unknown, allowZero: boolean): number | undefined {
  if (typeof p !== 'number' && typeof p !== 'string') return undefined;
  if (typeof p === 'string' && p.trim() === '') return undefined;
  const n = +p;
  if (n !== n >>> 0 || n > 0xffff || (n === 0 && !allowZero)) return undefined;
  return n;
}

/** A server.listen(...args) call, read as node:net reads it, and where it goes. */
export interface ListenPlan {
  /** node:net's normalized options. */
  options: Record<string, unknown>;
  /** The callback given last, if any. */
  callback: Callback | undefined;
  route: ListenRoute;
  /** The port (0: any), or undefined when node:net would reject it (node:net's path throws). */
  port: number | undefined;
  /** The host as a URL writes it: '*' for no host, an IPv6 address in brackets ([::]). */
  host: string;
  /** From `backlog` in the options, or listen(port, [host,] backlog). */
  backlog: number | undefined;
  /**
   * On the kernel only because of its host (localhost, a name, loopback, another address), not
   * because it is a pipe, a handle or an fd: worth a notice that says how to reach the stack.
   */
  byHost: boolean;
}

/** Reads server.listen(...`args`) for the stack at `address` (see listenRoute). */
export function planListen(
  args: readonly unknown[],
  address: Cidr,
  wildcard: WildcardMode,
): ListenPlan {
  const [o, callback] = normalizeArgs(args);
  const target = o._handle ?? o.handle ?? o;
  const route = target === o ? listenRoute(o, address, wildcard) : 'kernel';
  const noPort = args.length === 0 || typeof args[0] === 'function' || o.port == null;
  const host =
    typeof o.host !== 'string' || o.host === '' ? '*' : isIPv6(o.host) ? `[${o.host}]` : o.host;
  return {
    options: o,
    callback,
    route,
    port: noPort ? 0 : validPort(o.port, true),
    host,
    backlog:
      Number(o.backlog) ||
      toNumber(args.length > 1 && args[1]) ||
      toNumber(args.length > 2 && args[2]) ||
      undefined,
    byHost: route === 'kernel' && target === o && o.path == null && o.fd == null && host !== '*',
  };
}

/**
 * Where a connect with node:net's normalized `options` goes: connectRoute's answer, except that
 * a port node:net would reject goes to the kernel (so node:net throws its own error).
 */
export function connectOptionsRoute(
  options: Record<string, unknown>,
  address: Cidr,
  routes: readonly Cidr[],
): ConnectRoute {
  const route = connectRoute(options, address, routes);
  return route === 'stack' && validPort(options.port, false) !== undefined ? 'stack' : 'kernel';
}
