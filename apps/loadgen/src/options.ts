// The load generator's options: typed, defaulted in one place (resolveLoadOptions), and parsed
// from wrk-like command-line flags (parseLoadgenArgs). Errors are OptionErrors: they name the
// option, the bad value and what fits.
import { OptionError } from '@bypass/atomics-sync';
import { tryParseIpv4 } from '@bypass/net';

export type LoadMode = 'http' | 'echo';

export interface LoadOptions {
  /** The server's IPv4 address. */
  target: string;
  /** The server's TCP port. */
  port: number;
  /** 'http': GET `path` with keep-alive; 'echo': `size`-byte messages echoed back. Default http. */
  mode?: LoadMode;
  /** Connections this runtime keeps open (default 16). */
  connections?: number;
  /** Seconds of measurement (default 5). */
  durationS?: number;
  /** Seconds of load before the measurement, not counted: connections open, V8 compiles the
   * hot paths (default 0, as wrk). Errors in it are still counted. */
  warmupS?: number;
  /** Requests (or messages) outstanding on each connection (default 1: no pipelining). */
  pipeline?: number;
  /** http: the request-target (default '/'). */
  path?: string;
  /** http: the Host header (default target:port). */
  host?: string;
  /** echo: bytes per message (default 64). */
  size?: number;
  /** A request unanswered this long counts once as a timeout error (default 2000 ms, as wrk). */
  timeoutMs?: number;
  /** TCP_NODELAY on every connection (default true: requests leave at once). */
  noDelay?: boolean;
}

export type ResolvedLoadOptions = Required<LoadOptions>;

export const LOAD_DEFAULTS = {
  mode: 'http',
  connections: 16,
  durationS: 5,
  warmupS: 0,
  pipeline: 1,
  path: '/',
  size: 64,
  timeoutMs: 2000,
  noDelay: true,
} as const;

function intIn(option: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw new OptionError(option, v, `an integer in [${lo}, ${hi}]`);
}

/** Fills the defaults and checks every value; throws OptionError naming the option. */
export function resolveLoadOptions(o: LoadOptions): ResolvedLoadOptions {
  const r = {
    ...LOAD_DEFAULTS,
    host: `${o.target}:${o.port}`,
    ...stripUndefined(o),
  } as ResolvedLoadOptions;
  if (typeof r.target !== 'string' || tryParseIpv4(r.target) === undefined)
    throw new OptionError('target', r.target, 'an IPv4 address like 10.0.0.2');
  intIn('port', r.port, 1, 65535);
  if (r.mode !== 'http' && r.mode !== 'echo') throw new OptionError('mode', r.mode, 'http or echo');
  intIn('connections', r.connections, 1, 65536);
  if (!Number.isFinite(r.durationS) || r.durationS <= 0)
    throw new OptionError('durationS', r.durationS, 'a number of seconds > 0');
  if (!Number.isFinite(r.warmupS) || r.warmupS < 0)
    throw new OptionError('warmupS', r.warmupS, 'a number of seconds >= 0');
  intIn('pipeline', r.pipeline, 1, 1024);
  intIn('size', r.size, 1, 16 << 20);
  if (!Number.isFinite(r.timeoutMs) || r.timeoutMs <= 0)
    throw new OptionError('timeoutMs', r.timeoutMs, 'a number of ms > 0');
  // RFC 9112 3.2: origin-form, visible ASCII only (no spaces, no control characters).
  if (!/^\/[\x21-\x7e]*$/.test(r.path))
    throw new OptionError('path', r.path, 'visible ASCII starting with /');
  if (!/^[\x21-\x7e]+$/.test(r.host)) throw new OptionError('host', r.host, 'visible ASCII');
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o))
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** A duration: seconds as a number, or with a unit as wrk takes it (500ms, 5s, 2m). */
export function parseDuration(option: string, text: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text ?? '');
  if (m === null)
    throw new OptionError(option, text ?? 'nothing', 'a duration like 5, 5s, 500ms or 1m');
  const v = Number(m[1]);
  return m[2] === 'ms' ? v / 1000 : m[2] === 'm' ? v * 60 : v;
}

/**
 * `IP:PORT` or a URL `http://IP:PORT/path` (wrk's positional argument, or `option`'s value);
 * throws OptionError naming `option`.
 */
export function parseTarget(
  text: string,
  option = 'target',
): {
  target: string;
  port: number;
  path?: string;
  mode?: LoadMode;
} {
  const url = /^(http|tcp):\/\/([^/:]+):(\d+)(\/.*)?$/.exec(text);
  const plain = /^([^/:]+):(\d+)$/.exec(text);
  if (url === null && plain === null)
    throw new OptionError(option, text, 'IP:PORT, http://IP:PORT/PATH or tcp://IP:PORT');
  if (url !== null) {
    return {
      target: url[2],
      port: Number(url[3]),
      path: url[1] === 'http' ? (url[4] ?? '/') : undefined,
      mode: url[1] === 'http' ? 'http' : 'echo',
    };
  }
  return { target: plain![1], port: Number(plain![2]) };
}

/** What the loadgen command line says: the load, and where the client stack lives. */
export interface LoadgenArgs {
  load: LoadOptions;
  /** Our address and prefix on the port (default 10.0.0.1/24). */
  ip: string;
  /** The ethdev port (default 0). */
  portId: number;
  /** Static neighbours IP=MAC (needed with several client lcores; see README). */
  neighbours: Record<string, string>;
  /** Seconds between statistics lines (0: none; default 1). */
  periodS: number;
  gateway?: string;
}

export const LOADGEN_USAGE = `loadgen options (after the EAL's --):
  URL                     http://IP:PORT/PATH (http mode), tcp://IP:PORT (echo), or --target IP:PORT
  -c, --connections N     connections in total, shared among the worker lcores (default 16)
  -d, --duration T        measurement time: 5, 5s, 500ms, 1m (default 5s)
  --warmup T              load first for T, not counted (default 0)
  -p, --pipeline N        requests outstanding per connection (default 1)
  --mode http|echo        GET with keep-alive, or fixed-size echo messages (default http)
  --path P                request-target for http (default /)
  --host H                Host header (default IP:PORT)
  --size N                echo message size in bytes (default 64)
  --timeout T             a request unanswered this long counts as a timeout (default 2s)
  --ip A/N                our address on the port (default 10.0.0.1/24)
  --gateway A             default route
  --port-id N             the ethdev port (default 0)
  --neighbour IP=MAC      a static ARP entry (repeatable)
  -T S                    seconds between statistics lines (0: none; default 1)`;

/**
 * The error for a flag a program does not take. `usage` is the program's usage text: its first
 * line names the program ("httpd options ..."), and each flag's line starts with the flag.
 */
export function unknownOptionError(flag: string, usage: string): OptionError {
  const program = usage.slice(0, usage.indexOf(' '));
  const flags = [...usage.matchAll(/^ {2}(-[\w-]+(?:, -[\w-]+)?)/gm)].map((m) => m[1]);
  return new OptionError(`${program} option`, flag, `one of ${flags.join(', ')}`);
}

/** Parses the arguments after the EAL's `--`. Throws OptionError naming a bad one. */
export function parseLoadgenArgs(argv: readonly string[]): LoadgenArgs {
  const load: Partial<LoadOptions> = {};
  const out: LoadgenArgs = {
    load: load as LoadOptions,
    ip: '10.0.0.1/24',
    portId: 0,
    neighbours: {},
    periodS: 1,
  };
  const num = (flag: string, s: string | undefined): number => {
    const n = Number(s);
    if (s === undefined || s === '' || !Number.isFinite(n))
      throw new OptionError(flag, s ?? 'nothing', 'a number');
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    switch (a) {
      case '-c':
      case '--connections':
        load.connections = num(a, v());
        break;
      case '-d':
      case '--duration':
        load.durationS = parseDuration(a, v());
        break;
      case '--warmup':
        load.warmupS = parseDuration(a, v());
        break;
      case '-p':
      case '--pipeline':
        load.pipeline = num(a, v());
        break;
      case '--mode':
        load.mode = v() as LoadMode;
        break;
      case '--path':
        load.path = v();
        break;
      case '--host':
        load.host = v();
        break;
      case '--size':
        load.size = num(a, v());
        break;
      case '--timeout':
        load.timeoutMs = parseDuration(a, v()) * 1000;
        break;
      case '--target':
        Object.assign(load, parseTarget(v() ?? 'nothing', a));
        break;
      case '--ip':
        out.ip = v() ?? '';
        break;
      case '--gateway':
        out.gateway = v();
        break;
      case '--port-id':
        out.portId = num(a, v());
        break;
      case '--neighbour':
        Object.assign(out.neighbours, parseNeighbour(v()));
        break;
      case '-T':
        out.periodS = num(a, v());
        break;
      default:
        if (!a.startsWith('-')) {
          const t = parseTarget(a);
          Object.assign(load, t);
          break;
        }
        throw unknownOptionError(a, LOADGEN_USAGE);
    }
  }
  return out;
}

/** `IP=MAC` into `{ IP: MAC }`. */
export function parseNeighbour(text: string | undefined): Record<string, string> {
  const m = /^([\d.]+)=([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})$/.exec(text ?? '');
  if (m === null || tryParseIpv4(m[1]) === undefined)
    throw new OptionError(
      '--neighbour',
      text ?? 'nothing',
      'IP=MAC like 10.0.0.1=02:00:00:00:00:01',
    );
  return { [m[1]]: m[2].toLowerCase() };
}
