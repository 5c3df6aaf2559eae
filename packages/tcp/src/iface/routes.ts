import { OptionError } from '@bypass/atomics-sync';
import { ipv4ToString, prefixMask } from '@bypass/net';

/** A route: destinations `dest/prefixLen` go to `gateway` (0: directly connected). */
export interface Route {
  dest: number;
  prefixLen: number;
  gateway: number;
}

/**
 * The routing table: longest prefix wins (RFC 1812 5.2.4.3). A handful of routes per interface,
 * so a sorted array scanned from the longest prefix is the fastest structure there is; the stack
 * also caches the last answer, since a lcore talks to few next hops.
 */
export class RouteTable {
  readonly #routes: Route[] = [];
  #version = 0;

  /** Changes whenever a route is added or removed (a cached answer of `nextHop` is stale). */
  get version(): number {
    return this.#version;
  }

  add(route: Route): void {
    if (!Number.isInteger(route.prefixLen) || route.prefixLen < 0 || route.prefixLen > 32) {
      throw new OptionError('route prefixLen', route.prefixLen, 'an integer from 0 to 32');
    }
    const dest = (route.dest & prefixMask(route.prefixLen)) >>> 0;
    const i = this.#routes.findIndex((r) => r.dest === dest && r.prefixLen === route.prefixLen);
    const r = { dest, prefixLen: route.prefixLen, gateway: route.gateway >>> 0 };
    if (i >= 0) this.#routes[i] = r;
    else this.#routes.push(r);
    this.#routes.sort((a, b) => b.prefixLen - a.prefixLen);
    this.#version++;
  }

  remove(dest: number, prefixLen: number): boolean {
    const d = (dest & prefixMask(prefixLen)) >>> 0;
    const i = this.#routes.findIndex((r) => r.dest === d && r.prefixLen === prefixLen);
    if (i >= 0) {
      this.#routes.splice(i, 1);
      this.#version++;
    }
    return i >= 0;
  }

  /** The next hop for `dst`: the gateway, `dst` itself when connected, or -1 with no route. */
  nextHop(dst: number): number {
    const routes = this.#routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i];
      if ((dst & prefixMask(r.prefixLen)) >>> 0 === r.dest)
        return r.gateway === 0 ? dst : r.gateway;
    }
    return -1;
  }

  get routes(): readonly Route[] {
    return this.#routes;
  }

  toString(): string {
    return this.#routes
      .map(
        (r) =>
          `${ipv4ToString(r.dest)}/${r.prefixLen} ${r.gateway === 0 ? 'connected' : `via ${ipv4ToString(r.gateway)}`}`,
      )
      .join('\n');
  }
}
