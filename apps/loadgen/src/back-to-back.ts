// A server and the load generator on two net_ring ports wired back to back, in one process:
// server lcores on one port (a queue each), client lcores on the other, static ARP entries both
// ways (the ports' MACs are known), then the merged results, the servers' own results and a
// check that every mbuf is back in its pool. Benchmarks, tests and the apps' in-memory mode
// call this on an initialised EAL; the server is any lcore function that takes ServerLcoreArg.
import { OptionError } from '@bypass/atomics-sync';
import { lcoreList, onCleanup, remoteLaunch } from '@bypass/eal';
import { ethDevByName, ethDevCreate, ethDevInfo, ethDevStop } from '@bypass/pmd';
import type { ClientLcoreArg } from './lcore.js';
import { LOADGEN_P99_GAUGE, type LoadLcoreResult } from './load.js';
import {
  appPool,
  type LcoreNet,
  portLabel,
  readyWordOf,
  SharedWord,
  setupPort,
  workerLcores,
} from './net-app.js';
import { type LoadOptions, resolveLoadOptions } from './options.js';
import { type LoadResult, mergeLoadResults, printLoadResult } from './report.js';
import { supervise, waitLcores } from './supervise.js';

/** What a server lcore function receives. */
export interface ServerLcoreArg<A = unknown> {
  net: LcoreNet;
  app: A;
}

export interface ServerSpec<A = unknown> {
  /** The module with the server's lcore function, and its export name. */
  module: URL | string;
  exportName: string;
  /** The server's own options (passed as ServerLcoreArg.app). */
  app: A;
  /** The TCP port it listens on. */
  port: number;
}

export interface BackToBackOptions<A = unknown> {
  server: ServerSpec<A>;
  /** The load; `connections` is the total, shared among the client lcores. */
  load: Omit<LoadOptions, 'target' | 'port'>;
  /** Default: the first half of the worker lcores (rounded up). */
  serverLcores?: number[];
  /** Default: the other worker lcores. */
  clientLcores?: number[];
  /**
   * Existing back-to-back net_ring ports (configured for this run's queue counts); default: a
   * pair made for this lcore split (net_ring90 and net_ring91 for the first).
   */
  ports?: { server: number; client: number };
  /** Default 10.0.0.2/24 and 10.0.0.1/24. */
  serverIp?: string;
  clientIp?: string;
  /** Mbufs per port's pool (default 8192). */
  mbufs?: number;
  /** Seconds between statistics lines (default 0: none). */
  periodS?: number;
  /** The line printer (default console.log); used for the statistics lines and, with `report`, the result. */
  print?: (line: string) => void;
  /** Print the wrk-style result at the end (default false). */
  report?: boolean;
  /** Called every `progressS` seconds while the load runs, from the client lcores' counters. */
  onProgress?: (p: LoadProgress) => void;
  /** Seconds between onProgress calls (default: periodS when > 0, else 1). */
  progressS?: number;
}

/** The load so far, as onProgress sees it (counters from shared memory, no messages). */
export interface LoadProgress {
  /** Seconds since the lcores were launched. */
  elapsedS: number;
  /** Seconds since the previous call. */
  dt: number;
  /** Responses, response bytes and errors in the last `dt` seconds. */
  requests: number;
  bytesRx: number;
  errors: number;
  /** Since the start. */
  totalRequests: number;
  totalBytesRx: number;
  /**
   * p99 latency so far (microseconds): the highest of the client lcores' own p99s (an upper
   * bound of the merged p99; the exact one comes with the result). Undefined before a response.
   */
  p99Us?: number;
}

export interface BackToBackResult extends LoadResult {
  serverLcores: number[];
  clientLcores: number[];
  /** What each server lcore returned, by lcore id. */
  server: Record<number, unknown>;
  /** Mbufs not back in the two pools once the ports stopped (0 when nothing leaked). */
  leaked: number;
}

export const DONE_COUNTER = 'loadgen_done';
/** The run's own stop flag (see LcoreNet stopWord). */
export const STOP_WORD = 'loadgen_stop';

function splitLcores(o: BackToBackOptions): { servers: number[]; clients: number[] } {
  const workers = workerLcores();
  const servers = o.serverLcores ?? workers.slice(0, Math.ceil(workers.length / 2));
  const clients = o.clientLcores ?? workers.filter((w) => !servers.includes(w));
  if (servers.length === 0 || clients.length === 0) {
    throw new OptionError(
      '-l',
      lcoreList().join(','),
      'the main lcore and at least two worker lcores (a server and a client), like 0-2',
    );
  }
  for (const l of [...servers, ...clients]) {
    if (!workers.includes(l)) {
      throw new OptionError(
        servers.includes(l) ? 'serverLcores' : 'clientLcores',
        l,
        `a worker lcore (${workers.join(',')})`,
      );
    }
  }
  if (servers.some((s) => clients.includes(s))) {
    throw new OptionError(
      'clientLcores',
      clients.join(','),
      `lcores apart from serverLcores (${servers.join(',')})`,
    );
  }
  return { servers, clients };
}

/**
 * A back-to-back net_ring pair for `servers` x `clients` queues: net_ring90/91 for the first
 * split a process asks for, the next free pair for each other split. A split keeps its pair:
 * a thread that used a port keeps that port's first configuration (see drainRxQueue), so a port is
 * never reconfigured with other queue counts.
 */
function ringPair(servers: number, clients: number): { server: number; client: number } {
  const key = `${servers}x${clients}`;
  const known = pairs.get(key);
  if (known !== undefined) return known;
  let i = 90;
  while (ethDevByName(`net_ring${i}`) >= 0 || ethDevByName(`net_ring${i + 1}`) >= 0) i += 2;
  const mac = (k: number) => `02:00:00:00:${(k % 100).toString().padStart(2, '0')}:01`;
  const client = ethDevCreate(`net_ring${i},peer=net_ring${i + 1},mac=${mac(i)}`);
  const server = ethDevCreate(`net_ring${i + 1},peer=net_ring${i},mac=${mac(i + 1)}`);
  const pair = { server, client };
  pairs.set(key, pair);
  return pair;
}

const pairs = new Map<string, { server: number; client: number }>();
onCleanup(() => pairs.clear());

function ipOnly(cidr: string): string {
  return cidr.split('/')[0];
}

/**
 * Runs `server` and the load generator over back-to-back net_ring ports on the initialised EAL
 * (main thread; the lcores must be waiting). Resolves when the load is over and every lcore has
 * stopped; the ports are stopped again. The lcores stop on the run's own flag, not the EAL's
 * stop(), so the same EAL can run this again (benchmarks repeat it).
 */
export async function runBackToBack<A>(o: BackToBackOptions<A>): Promise<BackToBackResult> {
  const print = o.print ?? console.log;
  const { servers, clients } = splitLcores(o);
  const ports = o.ports ?? ringPair(servers.length, clients.length);
  const serverCidr = o.serverIp ?? '10.0.0.2/24';
  const clientCidr = o.clientIp ?? '10.0.0.1/24';
  const load = resolveLoadOptions({
    ...o.load,
    target: ipOnly(serverCidr),
    port: o.server.port,
  });
  if (load.connections < clients.length) {
    throw new OptionError(
      'connections',
      load.connections,
      `at least ${clients.length}, a connection per client lcore`,
    );
  }
  const mbufs = o.mbufs ?? 8192;
  const serverPool = appPool('b2b_server_pool', mbufs);
  const clientPool = appPool('b2b_client_pool', mbufs);
  setupPort(ports.server, servers.length, 'b2b_server_pool');
  setupPort(ports.client, clients.length, 'b2b_client_pool');
  const serverMac = ethDevInfo(ports.server).mac;
  const clientMac = ethDevInfo(ports.client).mac;
  const done = new SharedWord(DONE_COUNTER);
  done.set(0);
  const stopWord = new SharedWord(STOP_WORD);
  stopWord.set(0);
  new SharedWord(readyWordOf(STOP_WORD)).set(0);
  const runLcores = servers.length + clients.length;

  servers.forEach((lcore, queue) => {
    const arg: ServerLcoreArg<A> = {
      net: {
        port: ports.server,
        queue,
        pool: 'b2b_server_pool',
        ip: serverCidr,
        neighbours: { [ipOnly(clientCidr)]: clientMac },
        attach: ['b2b_client_pool'],
        stopWord: STOP_WORD,
        runLcores,
      },
      app: o.server.app,
    };
    remoteLaunch(lcore, o.server.module, o.server.exportName, arg);
  });
  clients.forEach((lcore, queue) => {
    const share =
      Math.floor(load.connections / clients.length) +
      (queue < load.connections % clients.length ? 1 : 0);
    const arg: ClientLcoreArg = {
      net: {
        port: ports.client,
        queue,
        pool: 'b2b_client_pool',
        ip: clientCidr,
        neighbours: { [load.target]: serverMac },
        attach: ['b2b_server_pool'],
        stopWord: STOP_WORD,
        runLcores,
      },
      load: { ...load, connections: share },
      done: DONE_COUNTER,
    };
    remoteLaunch(lcore, new URL('./lcore.js', import.meta.url), 'loadgenLcore', arg);
  });
  if ((o.periodS ?? 0) > 0) {
    print(
      `LOADGEN: server lcore(s) ${servers.join(',')} on ${portLabel(ports.server)}; client lcore(s) ${clients.join(',')} on ${portLabel(ports.client)}`,
    );
  }
  let values: Record<number, unknown> = {};
  let failure: unknown;
  const periodS = o.periodS ?? 0;
  const onProgress = o.onProgress;
  const totals = { requests: 0, bytesRx: 0 };
  try {
    values = await supervise({
      done,
      clients: clients.length,
      limitMs: (load.warmupS + load.durationS) * 1000 + 30_000,
      periodS: onProgress === undefined ? periodS : (o.progressS ?? (periodS > 0 ? periodS : 1)),
      print,
      stop: () => stopWord.set(1),
      lcores: [...servers, ...clients],
      line:
        periodS > 0
          ? (delta, dt) =>
              `  ${(delta('loadgen_requests', clients) / dt).toFixed(0).padStart(9)} req/s  ${((delta('loadgen_bytes_rx', clients) * 8) / dt / 1e9).toFixed(3)} Gbit/s in  errors ${delta('loadgen_errors', clients)}`
          : undefined,
      progress:
        onProgress === undefined
          ? undefined
          : (delta, dt, elapsedS, current) => {
              const requests = delta('loadgen_requests', clients);
              const bytesRx = delta('loadgen_bytes_rx', clients);
              totals.requests += requests;
              totals.bytesRx += bytesRx;
              const p99Ns = Math.max(0, ...current(LOADGEN_P99_GAUGE, clients));
              onProgress({
                elapsedS,
                dt,
                requests,
                bytesRx,
                errors: delta('loadgen_errors', clients),
                totalRequests: totals.requests,
                totalBytesRx: totals.bytesRx,
                p99Us: p99Ns > 0 ? p99Ns / 1e3 : undefined,
              });
            },
    });
  } catch (e) {
    failure = e;
  }
  if (failure === undefined) {
    // Every lcore empties its own rx queue (see drainRxQueue), then the ports stop.
    const drain = new URL('./net-app.js', import.meta.url);
    for (const [lcores, port] of [
      [servers, ports.server],
      [clients, ports.client],
    ] as const) {
      lcores.forEach((l, queue) => {
        remoteLaunch(l, drain, 'drainRxQueue', { port, queue });
      });
    }
    try {
      await waitLcores([...servers, ...clients]);
    } catch (e) {
      failure = e;
    }
  }
  try {
    ethDevStop(ports.server);
    ethDevStop(ports.client);
  } catch (e) {
    failure ??= e; // the first failure is the one to report
  }
  if (failure !== undefined) throw failure;
  const leaked = [serverPool, clientPool].reduce(
    (a, p) => a + p.mempool.n - p.mempool.available(),
    0,
  );
  const merged = mergeLoadResults(
    load,
    clients.map((l) => values[l] as LoadLcoreResult),
  );
  const server: Record<number, unknown> = {};
  for (const l of servers) server[l] = values[l];
  const result: BackToBackResult = {
    ...merged,
    serverLcores: servers,
    clientLcores: clients,
    server,
    leaked,
  };
  if (o.report) printLoadResult(result, print);
  return result;
}
