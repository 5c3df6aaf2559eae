// The three workloads of `pnpm experiment scaling`, one measurement each at N lcores, on a fresh
// EAL per point (starting it is not timed). How each one spends lcores is in `layout`, so the
// table can say which points are oversubscribed.
import { cleanup, init } from '@bypass/eal';
import { runHttpdLoad } from '@bypass/httpd';
import { runL2fwd } from '@bypass/l2fwd';
import { type BackToBackResult, runBackToBack } from '@bypass/loadgen';
import type { Workload } from './workloads-list.js';

export interface WorkloadInfo {
  unit: string;
  /** What one point does and how it spends lcores (printed and kept in the JSON). */
  describe: string;
  /** Busy-polling threads at N lcores (the main thread only sleeps on timers: not counted). */
  busyThreads: (n: number) => number;
}

/** Total connections at every point of echo and http (shared among the client lcores). */
export const CONNECTIONS = 64;
const HTTP_PORT = 8080;
const ECHO_PORT = 7;
const ECHO_SIZE = 64;
const HTTPD_SIZE = 64;

export const WORKLOAD_INFO: Record<Workload, WorkloadInfo> = {
  l2fwd: {
    unit: 'Mpps',
    describe:
      'apps/l2fwd runL2fwd, 64-byte frames over net_null ports: 2N ports, each of the N worker lcores forwards its own port pair (-q 2, MAC rewriting, burst 32), so every lcore does the same work at every point',
    busyThreads: (n) => n,
  },
  echo: {
    unit: 'msg/s',
    describe: `apps/echo server on N lcores (a queue each) and apps/loadgen echo mode on N more lcores over back-to-back net_ring ports (runBackToBack), ${CONNECTIONS} connections in total, ${ECHO_SIZE}-byte messages, 1 outstanding per connection; lcores = server lcores, busy = 2N`,
    busyThreads: (n) => 2 * n,
  },
  http: {
    unit: 'req/s',
    describe: `apps/httpd (runHttpdLoad) on N server lcores and apps/loadgen on N client lcores over back-to-back net_ring ports, ${CONNECTIONS} keep-alive connections in total, GET / answered with ${HTTPD_SIZE} bytes; lcores = server lcores, busy = 2N (the load grows with the servers so the load generator is not the fixed bottleneck)`,
    busyThreads: (n) => 2 * n,
  },
};

/** Rejects when `p` has not settled after `ms` (the caller's cleanup() then ends the lcores). */
async function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

async function l2fwdRuns(n: number, durationS: number, runs: number): Promise<number[]> {
  const out: number[] = [];
  // One EAL per run: runL2fwd creates its pool and ports' state by name, once per EAL.
  for (let i = 0; i < runs; i++) {
    await init(
      {
        lcores: `0-${n}`,
        pin: false,
        // runL2fwd's mbuf pool grows with the port count (2 ports fit the default 64 MiB).
        memoryMb: 64 + 64 * n,
        logLevel: 'crit',
        vdevs: range(0, 2 * n).map((p) => `net_null${p},size=64`),
      },
      { handleSignals: false },
    );
    try {
      const r = await runL2fwd({ durationS, periodS: 0, queuesPerLcore: 2, print: () => {} });
      out.push(r.mpps);
    } finally {
      await cleanup();
    }
  }
  return out;
}

function checked(r: BackToBackResult, what: string): number {
  const errors = r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;
  if (r.requests === 0) throw new Error(`${what}: no requests completed`);
  if (errors > 0 || r.leaked > 0)
    console.warn(`  ${what}: ${errors} errors, ${r.leaked} mbufs not back in their pools`);
  return r.requestsPerSec;
}

async function backToBackRuns(
  w: 'echo' | 'http',
  n: number,
  durationS: number,
  runs: number,
): Promise<number[]> {
  await init(
    { lcores: `0-${2 * n}`, pin: false, memoryMb: 256 + 64 * n, logLevel: 'crit' },
    { handleSignals: false },
  );
  try {
    const common = {
      serverLcores: range(1, n),
      clientLcores: range(n + 1, n),
      print: () => {},
    };
    const connections = Math.max(CONNECTIONS, n);
    const limitMs = durationS * 1000 + 60_000;
    const out: number[] = [];
    for (let i = 0; i < runs; i++) {
      if (w === 'http') {
        const r = await deadline(
          runHttpdLoad({
            ...common,
            load: { mode: 'http', connections, durationS, noDelay: true },
            httpd: { port: HTTP_PORT, size: HTTPD_SIZE },
          }),
          limitMs,
          'runHttpdLoad',
        );
        out.push(checked(r, `http at ${n} lcores`));
      } else {
        const r = await deadline(
          runBackToBack({
            ...common,
            server: {
              module: new URL('./lcore.js', import.meta.resolve('@bypass/echo')),
              exportName: 'echoLcore',
              app: { port: ECHO_PORT },
              port: ECHO_PORT,
            },
            load: { mode: 'echo', connections, durationS, size: ECHO_SIZE, noDelay: true },
          }),
          limitMs,
          'runBackToBack (echo)',
        );
        out.push(checked(r, `echo at ${n} lcores`));
      }
    }
    return out;
  } finally {
    await cleanup();
  }
}

/** `runs` measurements of `w` at `n` lcores, `durationS` each, on one fresh EAL. */
export function measure(
  w: Workload,
  n: number,
  durationS: number,
  runs: number,
): Promise<number[]> {
  return w === 'l2fwd' ? l2fwdRuns(n, durationS, runs) : backToBackRuns(w, n, durationS, runs);
}
