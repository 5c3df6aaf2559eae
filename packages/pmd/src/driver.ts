import type { PktmbufPool } from '@bypass/mempool';
import type { PortConf, PortTable } from './port-table.js';

/**
 * What a poll-mode driver implements. A driver is registered by name (net_null, net_ring, ...)
 * and instantiated per thread: `probe` and `setup` run on the main thread (validate the vdev
 * arguments; create shared resources such as rings or files when the port starts), `attach`
 * runs in each thread that touches the port and returns that thread's burst functions.
 *
 * Burst ownership (DPDK's rule): rxBurst writes up to `max` mbuf handles into `handles` and the
 * caller owns them. txBurst takes the first k of the n handles (returns k); the driver owns (and
 * eventually frees) those, the caller still owns handles[k..n).
 */
export interface EthDriver {
  rxBurst(queue: number, handles: Uint32Array, max: number): number;
  txBurst(queue: number, handles: Uint32Array, n: number): number;
  /** Releases this thread's resources (files, attachments). */
  close?(): void;
}

/** Everything a driver learns about its port. */
export interface PortContext {
  readonly port: number;
  readonly conf: PortConf;
  readonly table: PortTable;
  /** This thread's handle on each rx queue's mbuf pool (undefined before queue setup). */
  readonly rxPools: (PktmbufPool | undefined)[];
  /** The port's counters (see port-table.ts: rxStatBase, txStatBase). */
  readonly stats: Float64Array;
}

export interface DriverFactory {
  /** Main thread, when the vdev is probed: check `args`, throwing EthDevError naming a bad one. */
  probe(name: string, args: Record<string, string>): void;
  /** Main thread, at ethDevStart: create what the queues share (rings, files). */
  setup?(ctx: PortContext): void;
  /** Main thread, at ethDevStop. */
  teardown?(ctx: PortContext): void;
  /** Any thread: this thread's driver instance. */
  attach(ctx: PortContext): EthDriver;
}

const drivers = new Map<string, DriverFactory>();

/** Registers a driver under its vdev prefix (e.g. 'net_null' for net_null0, net_null1 ...). */
export function registerDriver(name: string, factory: DriverFactory): void {
  drivers.set(name, factory);
}

export function driverFactory(name: string): DriverFactory | undefined {
  return drivers.get(name);
}

export function driverNames(): string[] {
  return [...drivers.keys()].sort();
}
