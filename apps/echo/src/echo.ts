// The echo program on the initialised EAL: serve on a port (one queue and one NetRuntime per
// worker lcore), or run the load generator in echo mode against it over back-to-back net_ring
// ports (`--loadgen ...`).
import {
  type BackToBackResult,
  parseServerArgs,
  runServer,
  SERVER_USAGE,
  type ServerArgs,
} from '@bypass/loadgen';
import type { EchoApp, EchoLcoreResult } from './lcore.js';

export const ECHO_USAGE = `echo options (after the EAL's --):\n${SERVER_USAGE}`;

export function parseEchoArgs(argv: readonly string[]): ServerArgs {
  return parseServerArgs(argv, { port: 7 }, () => false, ECHO_USAGE);
}

export function runEcho(
  args: ServerArgs,
  print: (line: string) => void = console.log,
): Promise<BackToBackResult | undefined> {
  const app: EchoApp = { port: args.port };
  return runServer(
    args,
    {
      name: 'ECHO',
      module: new URL('./lcore.js', import.meta.url),
      exportName: 'echoLcore',
      app,
      mode: 'echo',
      rates: [
        ['connections/s', 'echo_connections'],
        ['bytes/s echoed', 'echo_bytes'],
      ],
      summary(values, p) {
        for (const v of Object.values(values) as EchoLcoreResult[]) {
          if (v === undefined) continue;
          p(
            `ECHO: lcore ${v.lcore} (queue ${v.queue}): ${v.connections} connections, ${v.bytes} bytes echoed, ${v.stalls} stalls, ${v.errors} errors`,
          );
        }
      },
    },
    print,
  );
}
