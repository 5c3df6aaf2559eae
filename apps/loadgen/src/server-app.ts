// The main thread of a server program (echo, httpd): the options every server takes, then
// either serve on a port (one queue per worker lcore, statistics lines until SIGINT or
// --duration), or, with `--loadgen ...`, run the load generator against the server over
// back-to-back net_ring ports and print its result.

import { OptionError } from '@bypass/atomics-sync';
import { lcoreList, remoteLaunch } from '@bypass/eal';
import { cidrToString, parseCidr } from '@bypass/net';
import { ethDevByName, ethDevCount, ethDevInfo, ethDevStop } from '@bypass/pmd';
import { type BackToBackResult, runBackToBack, type ServerLcoreArg } from './back-to-back.js';
import { appPool, portLabel, setupPort, workerLcores } from './net-app.js';
import { parseDuration, parseLoadgenArgs, parseNeighbour, unknownOptionError } from './options.js';
import { supervise } from './supervise.js';

export interface ServerArgs {
  /** Our address and prefix (default 10.0.0.2/24). */
  ip: string;
  /** The TCP port to listen on. */
  port: number;
  /** The ethdev port (default 0). */
  portId: number;
  gateway?: string;
  neighbours: Record<string, string>;
  /** Seconds between statistics lines (0: none; default 1). */
  periodS: number;
  /** Stop after this long (default: at SIGINT). */
  durationS?: number;
  /** The load generator's arguments (after --loadgen): run over back-to-back net_ring ports. */
  loadgen?: string[];
}

export const SERVER_USAGE = `  --ip A/N                our address on the port (default 10.0.0.2/24)
  --port N                TCP port to listen on
  --port-id N             the ethdev port (default 0)
  --gateway A             default route
  --neighbour IP=MAC      a static ARP entry (repeatable; needed with several lcores on tap)
  -T S                    seconds between statistics lines (0: none; default 1)
  --duration T            stop after T (5, 5s, 1m; default: at Ctrl-C)
  --loadgen ARGS...       the rest are loadgen's options: run it on back-to-back net_ring ports
                          (see @bypass/loadgen: -c N -d T -p N --mode ...)`;

/**
 * Parses the common server options; `own(flag, next)` takes the application's (returns false
 * for a flag it does not know; `next()` reads the flag's value). `usage` is the program's usage
 * text (see unknownOptionError). Throws OptionError naming a bad option.
 */
export function parseServerArgs(
  argv: readonly string[],
  defaults: { port: number },
  own: (flag: string, next: () => string | undefined) => boolean,
  usage: string,
): ServerArgs {
  const out: ServerArgs = {
    ip: '10.0.0.2/24',
    port: defaults.port,
    portId: 0,
    neighbours: {},
    periodS: 1,
  };
  const int = (flag: string, s: string | undefined, lo: number, hi: number): number => {
    const n = Number(s);
    if (s === undefined || !/^\d+$/.test(s) || n < lo || n > hi)
      throw new OptionError(flag, s ?? 'nothing', `an integer in [${lo}, ${hi}]`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    switch (a) {
      case '--ip': {
        const ip = next();
        out.ip = cidrToString(parseCidr(ip ?? 'nothing', '--ip'));
        break;
      }
      case '--port':
        out.port = int(a, next(), 1, 65535);
        break;
      case '--port-id':
        out.portId = int(a, next(), 0, 1023);
        break;
      case '--gateway':
        out.gateway = next();
        break;
      case '--neighbour':
        Object.assign(out.neighbours, parseNeighbour(next()));
        break;
      case '-T':
        out.periodS = Number(next());
        if (!Number.isFinite(out.periodS) || out.periodS < 0)
          throw new OptionError('-T', argv[i] ?? 'nothing', 'seconds >= 0');
        break;
      case '--duration':
        out.durationS = parseDuration(a, next());
        break;
      case '--loadgen':
        out.loadgen = argv.slice(i + 1);
        i = argv.length;
        break;
      default:
        if (!own(a, next)) throw unknownOptionError(a, usage);
    }
  }
  return out;
}

export interface ServerProgram<A> {
  /** The program's name in its output (ECHO, HTTPD). */
  name: string;
  module: URL | string;
  exportName: string;
  app: A;
  /** Shared counters to print per period: [label, counter name, scale]. */
  rates: [label: string, counter: string][];
  /** Load mode for --loadgen (http or echo). */
  mode: 'http' | 'echo';
  /** Prints the totals of what the server lcores returned. */
  summary(values: Record<number, unknown>, print: (line: string) => void): void;
}

/** Runs a server program on the initialised EAL; see the file's comment. */
export async function runServer<A>(
  args: ServerArgs,
  prog: ServerProgram<A>,
  print: (line: string) => void = console.log,
): Promise<BackToBackResult | undefined> {
  if (args.loadgen !== undefined) return runWithLoadgen(args, prog, print);
  const workers = workerLcores();
  if (workers.length === 0)
    throw new OptionError(
      '-l',
      lcoreList().join(','),
      'the main lcore and at least one worker lcore, like 0-1',
    );
  const pool = `${prog.name.toLowerCase()}_pool`;
  appPool(pool, 8192 * workers.length);
  setupPort(args.portId, workers.length, pool);
  workers.forEach((lcore, queue) => {
    const arg: ServerLcoreArg<A> = {
      net: {
        port: args.portId,
        queue,
        pool,
        ip: args.ip,
        gateway: args.gateway,
        neighbours: args.neighbours,
      },
      app: prog.app,
    };
    remoteLaunch(lcore, prog.module, prog.exportName, arg);
  });
  print(
    `${prog.name}: listening on ${args.ip.split('/')[0]}:${args.port}, lcore(s) ${workers.join(',')} on ${portLabel(args.portId)}${args.durationS ? `, for ${args.durationS}s` : ', Ctrl-C stops'}`,
  );
  let values: Record<number, unknown>;
  try {
    values = await supervise({
      limitMs: args.durationS === undefined ? undefined : args.durationS * 1000,
      periodS: args.periodS,
      print,
      line: (delta, dt) =>
        `  ${prog.rates.map(([label, c]) => `${(delta(c) / dt).toFixed(0)} ${label}`).join('  ')}`,
    });
  } finally {
    ethDevStop(args.portId);
  }
  prog.summary(values, print);
  return undefined;
}

async function runWithLoadgen<A>(
  args: ServerArgs,
  prog: ServerProgram<A>,
  print: (line: string) => void,
): Promise<BackToBackResult> {
  const lg = parseLoadgenArgs(args.loadgen ?? []);
  let ports: { server: number; client: number } | undefined;
  if (ethDevCount() > 0) {
    const info = ethDevInfo(args.portId);
    const peer = info.driver === 'net_ring' ? info.args.peer : undefined;
    const client = peer === undefined ? -1 : ethDevByName(peer);
    if (client < 0) {
      throw new OptionError(
        '--port-id',
        `${args.portId} (${info.name})`,
        'a net_ring port with a peer for --loadgen, like --vdev net_ring0,peer=net_ring1 --vdev net_ring1,peer=net_ring0 -- --port-id 1 (or give no --vdev at all)',
      );
    }
    ports = { server: args.portId, client };
  }
  const { target: _t, port: _p, ...load } = lg.load;
  const r = await runBackToBack({
    server: { module: prog.module, exportName: prog.exportName, app: prog.app, port: args.port },
    load: { mode: prog.mode, ...load },
    ports,
    serverIp: args.ip,
    clientIp: lg.ip,
    periodS: lg.periodS,
    print,
    report: true,
  });
  prog.summary(r.server, print);
  if (r.leaked !== 0) print(`${prog.name}: ${r.leaked} mbufs did not come back to the pools`);
  return r;
}
