// The load generator's options: typed, defaulted in one place (resolveLoadOptions), and parsed
// from wrk-like command-line flags (parseLoadgenArgs). Errors name the option and the bad value.

export class LoadgenOptionError extends Error {
  override readonly name = 'LoadgenOptionError';
}

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

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function intIn(option: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw new LoadgenOptionError(`${option} must be an integer in [${lo}, ${hi}], got ${v}`);
}

/** Fills the defaults and checks every value; throws LoadgenOptionError naming the option. */
export function resolveLoadOptions(o: LoadOptions): ResolvedLoadOptions {
  const r = {
    ...LOAD_DEFAULTS,
    host: `${o.target}:${o.port}`,
    ...stripUndefined(o),
  } as ResolvedLoadOptions;
  if (typeof r.target !== 'string' || !IPV4.test(r.target))
    throw new LoadgenOptionError(`target must be an IPv4 address, got ${r.target}`);
  intIn('port', r.port, 1, 65535);
  if (r.mode !== 'http' && r.mode !== 'echo')
    throw new LoadgenOptionError(`mode must be http or echo, got ${r.mode}`);
  intIn('connections', r.connections, 1, 65536);
  if (!Number.isFinite(r.durationS) || r.durationS <= 0)
    throw new LoadgenOptionError(`durationS must be a number of seconds > 0, got ${r.durationS}`);
  if (!Number.isFinite(r.warmupS) || r.warmupS < 0)
    throw new LoadgenOptionError(`warmupS must be a number of seconds >= 0, got ${r.warmupS}`);
  intIn('pipeline', r.pipeline, 1, 1024);
  intIn('size', r.size, 1, 16 << 20);
  if (!Number.isFinite(r.timeoutMs) || r.timeoutMs <= 0)
    throw new LoadgenOptionError(`timeoutMs must be a number of ms > 0, got ${r.timeoutMs}`);
  // RFC 9112 3.2: origin-form, visible ASCII only (no spaces, no control characters).
  if (!/^\/[\x21-\x7e]*$/.test(r.path))
    throw new LoadgenOptionError(`path must start with / and be visible ASCII, got ${r.path}`);
  if (!/^[\x21-\x7e]+$/.test(r.host))
    throw new LoadgenOptionError(`host must be visible ASCII, got ${r.host}`);
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
    throw new LoadgenOptionError(
      `${option} must be a duration like 5, 5s, 500ms or 1m, got ${text}`,
    );
  const v = Number(m[1]);
  return m[2] === 'ms' ? v / 1000 : m[2] === 'm' ? v * 60 : v;
}

/** `IP:PORT` or a URL `http://IP:PORT/path` (wrk's positional argument). */
export function parseTarget(text: string): {
  target: string;
  port: number;
  path?: string;
  mode?: LoadMode;
} {
  const url = /^(http|tcp):\/\/([^/:]+):(\d+)(\/.*)?$/.exec(text);
  const plain = /^([^/:]+):(\d+)$/.exec(text);
  if (url === null && plain === null)
    throw new LoadgenOptionError(
      `the target must be IP:PORT, http://IP:PORT/PATH or tcp://IP:PORT, got ${text}`,
    );
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

/** Parses the arguments after the EAL's `--`. Throws LoadgenOptionError naming a bad one. */
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
      throw new LoadgenOptionError(`${flag} must be a number, got ${s}`);
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
        Object.assign(load, parseTarget(v() ?? ''));
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
        throw new LoadgenOptionError(`unknown loadgen option ${a}\n${LOADGEN_USAGE}`);
    }
  }
  return out;
}

/** `IP=MAC` into `{ IP: MAC }`. */
export function parseNeighbour(text: string | undefined): Record<string, string> {
  const m = /^([\d.]+)=([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})$/.exec(text ?? '');
  if (m === null || !IPV4.test(m[1]))
    throw new LoadgenOptionError(
      `--neighbour must be IP=MAC like 10.0.0.1=02:00:00:00:00:01, got ${text}`,
    );
  return { [m[1]]: m[2].toLowerCase() };
}
