// The httpd program on the initialised EAL: serve on a port (one queue and one NetRuntime per
// worker lcore), or, with `--loadgen ...`, run the load generator against it over back-to-back
// net_ring ports. runHttpdLoad() is the same back-to-back run as a library call.
import { existsSync, statSync } from 'node:fs';
import { OptionError } from '@bypass/atomics-sync';
import {
  type BackToBackOptions,
  type BackToBackResult,
  parseServerArgs,
  runBackToBack,
  runServer,
  SERVER_USAGE,
  type ServerArgs,
} from '@bypass/loadgen';
import type { HttpdLcoreResult } from './lcore.js';
import type { HttpdConfig } from './server.js';

export const HTTPD_USAGE = `httpd options (after the EAL's --):
  --size N                answer every GET with N bytes (default 64)
  --root DIR              serve the files in DIR instead (GET and HEAD; DIR/index.html for /)
  --keepalive-timeout T   close connections idle this long (default 60s)
  --headers-timeout T     408 for a request head not whole this long after its first byte
                          (default 30s; slowloris)
  --body-min-rate N       408 for a request body slower than N bytes/s once it has run the
                          headers timeout (default 1024)
${SERVER_USAGE}`;

export interface HttpdArgs extends ServerArgs {
  app: HttpdConfig;
}

const LCORE_MODULE = new URL('./lcore.js', import.meta.url);

/** "60", "60s" or "500ms" as seconds; OptionError naming `flag` otherwise. */
function seconds(flag: string, v: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(s|ms)?$/.exec(v ?? '');
  if (m === null) throw new OptionError(flag, v ?? 'nothing', 'seconds like 60, 60s or 500ms');
  return m[2] === 'ms' ? Number(m[1]) / 1000 : Number(m[1]);
}

export function parseHttpdArgs(argv: readonly string[]): HttpdArgs {
  const app: HttpdConfig = { port: 8080 };
  const args = parseServerArgs(
    argv,
    { port: 8080 },
    (flag, next) => {
      if (flag === '--size') {
        const v = next();
        const n = Number(v);
        if (v === undefined || !/^\d+$/.test(v) || n > 1 << 30)
          throw new OptionError('--size', v ?? 'nothing', 'a number of bytes in [0, 2^30]');
        app.size = n;
        return true;
      }
      if (flag === '--root') {
        const dir = next();
        if (dir === undefined || !existsSync(dir) || !statSync(dir).isDirectory())
          throw new OptionError('--root', dir ?? 'nothing', 'an existing folder');
        app.root = dir;
        return true;
      }
      if (flag === '--keepalive-timeout') {
        app.keepAliveTimeoutS = seconds(flag, next());
        return true;
      }
      if (flag === '--headers-timeout') {
        app.headersTimeoutS = seconds(flag, next());
        return true;
      }
      if (flag === '--body-min-rate') {
        const v = next();
        if (v === undefined || !/^\d+$/.test(v))
          throw new OptionError(flag, v ?? 'nothing', 'bytes per second, a whole number');
        app.bodyMinBytesPerS = Number(v);
        return true;
      }
      return false;
    },
    HTTPD_USAGE,
  );
  if (app.root !== undefined && app.size !== undefined) {
    throw new OptionError(
      '--size',
      app.size,
      'left out with --root (serve a fixed response or files, not both)',
    );
  }
  app.port = args.port;
  return { ...args, app };
}

function summary(values: Record<number, unknown>, print: (line: string) => void): void {
  for (const v of Object.values(values) as (HttpdLcoreResult | undefined)[]) {
    if (v === undefined) continue;
    print(
      `HTTPD: lcore ${v.lcore} (queue ${v.queue}): ${v.connections} connections, ${v.requests} requests (2xx ${v.status2xx}, 4xx ${v.status4xx}, 5xx ${v.status5xx}), ${v.badRequests} bad, ${v.errors} errors`,
    );
  }
}

export function runHttpd(
  args: HttpdArgs,
  print: (line: string) => void = console.log,
): Promise<BackToBackResult | undefined> {
  return runServer(
    args,
    {
      name: 'HTTPD',
      module: LCORE_MODULE,
      exportName: 'httpdLcore',
      app: args.app,
      mode: 'http',
      rates: [
        ['req/s', 'httpd_requests'],
        ['conn/s', 'httpd_connections'],
      ],
      summary,
    },
    print,
  );
}

/**
 * httpd and the load generator over back-to-back net_ring ports (on the initialised EAL, main
 * thread): server lcores, client lcores, the merged result (requests, req/s, Gbit/s, latency,
 * per-lcore counts, the encoded histogram) and what each httpd lcore counted (`server`).
 */
export function runHttpdLoad(
  o: Omit<BackToBackOptions<HttpdConfig>, 'server'> & { httpd?: Partial<HttpdConfig> },
): Promise<BackToBackResult> {
  const app: HttpdConfig = { port: 8080, ...o.httpd };
  return runBackToBack({
    ...o,
    server: { module: LCORE_MODULE, exportName: 'httpdLcore', app, port: app.port },
    load: { mode: 'http', ...o.load },
  });
}
