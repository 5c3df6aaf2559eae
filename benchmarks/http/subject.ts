// The stack's side of `pnpm bench http`: an HTTP server on lcore 1 and apps/loadgen's load
// generator on lcore 2, over back-to-back net_ring ports, run in-process by apps/loadgen's
// runner: apps/httpd through runHttpdLoad (the headline), or node:http's server on socket-api's
// node:net-compatible sockets through runBackToBack. Two busy-polling lcores, one NetRuntime
// each. A fresh EAL per run (as the baseline starts fresh threads per run); starting it is not
// timed, the load generator's window starts with its connections.
import { fileURLToPath } from 'node:url';
import { cleanup, init } from '@bypass/eal';
import { runHttpdLoad } from '@bypass/httpd';
import { type BackToBackResult, runBackToBack } from '@bypass/loadgen';
import {
  HOST,
  HTTP_PORT,
  HTTPD_SIZE,
  type HttpLoad,
  type HttpRunResult,
  NODE_BODY_BYTES,
  PATH,
} from './common.js';

export type StackServer = 'httpd' | 'node-http';

/** Rejects when `p` has not settled after `ms` (the caller's cleanup() then ends the lcores). */
async function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`http: ${what} did not finish in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function bypassHttp(server: StackServer, load: HttpLoad): Promise<HttpRunResult> {
  await init(
    // 'crit': not the "3 lcores on 2 CPUs" line for every run; the bench's params say so.
    { lcores: '0-2', pin: false, memoryMb: 256, logLevel: 'crit' },
    { handleSignals: false },
  );
  try {
    const common = {
      load: {
        mode: 'http' as const,
        connections: load.connections,
        warmupS: load.warmupS,
        durationS: load.durationS,
        path: PATH,
        host: HOST,
        noDelay: true,
      },
      serverLcores: [1],
      clientLcores: [2],
      print: () => {},
    };
    // The runner gives up on a load after its duration + 30 s; this also covers an lcore that
    // never comes back after it.
    const limitMs = (load.warmupS + load.durationS) * 1000 + 60_000;
    let r: BackToBackResult;
    if (server === 'httpd') {
      r = await deadline(
        runHttpdLoad({ ...common, httpd: { port: HTTP_PORT, size: HTTPD_SIZE } }),
        limitMs,
        'runHttpdLoad',
      );
    } else {
      const run = runBackToBack({
        ...common,
        server: {
          module: fileURLToPath(new URL('./node-http-server.ts', import.meta.url)),
          exportName: 'nodeHttpServerLcore',
          app: { bodyBytes: NODE_BODY_BYTES, port: HTTP_PORT },
          port: HTTP_PORT,
        },
      });
      r = await deadline(run, limitMs, 'runBackToBack (node:http on the stack)');
    }
    const errors = r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;
    return {
      requests: r.requests,
      seconds: r.seconds,
      rps: r.requestsPerSec,
      responseBytes: r.requests > 0 ? r.bytesRx / r.requests : 0,
      non2xx: r.non2xx,
      errors,
      histogram: r.histogram,
    };
  } finally {
    await cleanup();
  }
}
