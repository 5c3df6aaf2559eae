import { EalArgError } from './errors.js';

/**
 * DPDK-style EAL arguments (rte_eal_init's), and the typed options they map to.
 *
 *   -l 0-3 | -l 0,2,4          lcores to use (ids are also the CPUs they are pinned to)
 *   --lcores 0-3@0,4@1         lcores with an explicit CPU each (lcore@cpu, ranges allowed)
 *   --main-lcore N             the lcore that runs on the main thread (default: the first)
 *   --vdev NAME[,k=v...]       a virtual device, repeatable: net_ring0, net_pcap0,rx_pcap=a.pcap
 *   -m MB                      shared memory to reserve for memzones (default 64)
 *   --log-level LEVEL          emerg alert crit err warning notice info debug, or 1-8
 *   --no-pin                   do not pin lcore threads to CPUs
 *   --poll busy|adaptive       busy polling (default) or spin-then-park on a doorbell
 *   --spin-polls N             adaptive: empty polls before parking (default 1024)
 *   --slice-us N               lcore loop slice before yielding to the event loop (default 1000)
 *   --heap-mb N                initial old generation of each lcore's JS heap (default 128)
 *   --help                     print this and exit
 *
 * Arguments after `--` are the application's and come back in `rest`.
 */

export type PollMode = 'busy' | 'adaptive';

export interface VdevSpec {
  /** The whole name, e.g. net_pcap0. */
  name: string;
  /** The driver part, e.g. net_pcap. */
  driver: string;
  args: Record<string, string>;
}

export interface EalOptions {
  /** Lcore ids (`-l`): a list, or a DPDK list string like "0-3" or "0,2,4". Default: [0]. */
  lcores?: number[] | string;
  /** CPU per lcore (`--lcores 0@1`); lcores not listed run on the CPU of their own id. */
  lcoreCpus?: Record<number, number>;
  mainLcore?: number;
  vdevs?: (string | VdevSpec)[];
  memoryMb?: number;
  logLevel?: LogLevelName | number;
  pin?: boolean;
  poll?: PollMode;
  spinPolls?: number;
  sliceUs?: number;
  /** Initial old-generation size of each lcore thread's JS heap, MiB (0: V8's default). */
  heapMb?: number;
}

export const LOG_LEVELS = [
  'emerg',
  'alert',
  'crit',
  'err',
  'warning',
  'notice',
  'info',
  'debug',
] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** The validated configuration every lcore sees. Plain data: it travels in workerData. */
export interface EalConfig {
  lcores: number[];
  cpuOf: Record<number, number>;
  mainLcore: number;
  vdevs: VdevSpec[];
  memoryMb: number;
  /** 1 (emerg) .. 8 (debug), as RTE_LOG levels. */
  logLevel: number;
  pin: boolean;
  poll: PollMode;
  spinPolls: number;
  sliceUs: number;
  /**
   * Initial old-generation size of each worker lcore's JS heap in MiB (V8's
   * --initial-old-space-size for the lcore isolates; 0 leaves V8's default). An lcore that hands
   * received bytes to streams makes a Buffer per burst; with V8's default, whose limit shrinks
   * to a small multiple of the live heap after the first full GC, those Buffers' memory set off
   * a full GC every 30 ms or so at 1 GB/s (measured in `pnpm bench apps`' POST echo); a heap that
   * starts at 128 MiB had none in the same run.
   */
  heapMb: number;
}

export const MAX_LCORES = 128;

export const USAGE = `EAL options:
  -l LIST                lcores to use: 0-3, 0,2,4 (each pinned to the CPU of its id)
  --lcores LIST          lcores with CPUs: 0-3@0,4@1 (lcore@cpu; ranges allowed)
  --main-lcore N         lcore run by the main thread (default: the first listed)
  --vdev NAME[,k=v...]   add a virtual device (repeatable), e.g. net_ring0, net_null0,size=64
  -m MB                  shared memory for memzones, in MiB (default 64)
  --log-level LEVEL      emerg alert crit err warning notice info debug, or 1-8 (default notice)
  --no-pin               do not pin lcore threads to CPUs
  --poll busy|adaptive   busy polling (default), or spin then park until rung
  --spin-polls N         adaptive polling: empty polls before parking (default 1024)
  --slice-us N           lcore loop slice before yielding to Node's event loop (default 1000)
  --heap-mb N            initial old generation of each lcore's JS heap, MiB (default 128; 0: V8's)
  --help                 print this help and exit
Arguments after -- belong to the application.`;

/** Parses a DPDK core list ("0-3,8,10-11") into sorted unique ids. */
export function parseCoreList(flag: string, text: string): number[] {
  const ids = new Set<number>();
  const bad = () =>
    new EalArgError(
      flag,
      JSON.stringify(text),
      `a list of lcore ids in [0, ${MAX_LCORES - 1}] such as 0-3 or 0,2,4`,
    );
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(text)) throw bad();
  for (const part of text.split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    if (a > b || b >= MAX_LCORES) throw bad();
    for (let i = a; i <= b; i++) ids.add(i);
  }
  return [...ids].sort((x, y) => x - y);
}

/** Parses `--lcores` ("0-3@0,4@1,5"): lcore ids, and a CPU for those given one. */
export function parseLcoresMap(text: string): { lcores: number[]; cpuOf: Record<number, number> } {
  const lcores: number[] = [];
  const cpuOf: Record<number, number> = {};
  for (const item of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?(?:@(\d+))?$/.exec(item);
    if (!m) {
      throw new EalArgError(
        '--lcores',
        JSON.stringify(text),
        'a list like 0-3 or 0-3@0,4@1 (lcore or range, optionally @cpu)',
      );
    }
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a > b || b >= MAX_LCORES) {
      throw new EalArgError(
        '--lcores',
        JSON.stringify(text),
        `lcore ids in [0, ${MAX_LCORES - 1}], ranges low-high`,
      );
    }
    for (let i = a; i <= b; i++) {
      lcores.push(i);
      if (m[3] !== undefined) cpuOf[i] = Number(m[3]);
    }
  }
  return { lcores: [...new Set(lcores)].sort((x, y) => x - y), cpuOf };
}

export function parseVdev(text: string): VdevSpec {
  const [name, ...pairs] = text.split(',');
  const m = /^([a-z][a-z0-9_]*?)(\d+)$/.exec(name ?? '');
  if (!m) {
    throw new EalArgError(
      '--vdev',
      JSON.stringify(text),
      'NAME[,key=value...] where NAME is a driver and an index, e.g. net_ring0',
    );
  }
  const args: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0)
      throw new EalArgError(
        '--vdev',
        JSON.stringify(text),
        `key=value pairs after the name; "${p}" has no key=`,
      );
    args[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return { name, driver: m[1], args };
}

function intArg(
  flag: string,
  v: string | number | undefined,
  min: number,
  max: number,
  what: string,
): number {
  const n = typeof v === 'number' ? v : v === undefined || v === '' ? Number.NaN : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new EalArgError(
      flag,
      typeof v === 'string' ? JSON.stringify(v) : v,
      `${what}, an integer in [${min}, ${max}]`,
    );
  }
  return n;
}

function logLevelArg(flag: string, v: string | number): number {
  if (typeof v === 'number' || /^\d+$/.test(v)) return intArg(flag, Number(v), 1, 8, 'a log level');
  const i = LOG_LEVELS.indexOf(v.toLowerCase() as LogLevelName);
  if (i < 0)
    throw new EalArgError(flag, JSON.stringify(v), `one of ${LOG_LEVELS.join(' ')} or 1-8`);
  return i + 1;
}

/** What each typed option is called on the command line, for errors about parsed arguments. */
export const FLAG_NAMES: Partial<Record<keyof EalOptions, string>> = {
  lcores: '-l',
  lcoreCpus: '--lcores',
  mainLcore: '--main-lcore',
  vdevs: '--vdev',
  memoryMb: '-m',
  logLevel: '--log-level',
  poll: '--poll',
  spinPolls: '--spin-polls',
  sliceUs: '--slice-us',
  heapMb: '--heap-mb',
};

/**
 * Validates typed options into a configuration. Errors name the option (or, with
 * `names = FLAG_NAMES`, the command-line flag it came from) and the bad value.
 */
export function resolveOptions(
  o: EalOptions = {},
  names: Partial<Record<keyof EalOptions, string>> = {},
): EalConfig {
  const n = (k: keyof EalOptions): string => names[k] ?? k;
  const lcores =
    o.lcores === undefined
      ? [0]
      : typeof o.lcores === 'string'
        ? parseCoreList(n('lcores'), o.lcores)
        : [
            ...new Set(
              o.lcores.map((id) => intArg(n('lcores'), id, 0, MAX_LCORES - 1, 'each lcore id')),
            ),
          ].sort((a, b) => a - b);
  if (lcores.length === 0) throw new EalArgError(n('lcores'), '[]', 'at least one lcore id');
  const cpuOf: Record<number, number> = {};
  for (const id of lcores) cpuOf[id] = id;
  for (const [k, cpu] of Object.entries(o.lcoreCpus ?? {})) {
    const id = Number(k);
    if (!lcores.includes(id))
      throw new EalArgError(n('lcoreCpus'), k, `an lcore in the lcore list (${lcores.join(',')})`);
    cpuOf[id] = intArg(n('lcoreCpus'), cpu, 0, 4095, `the CPU of lcore ${id}`);
  }
  const mainLcore = o.mainLcore ?? lcores[0];
  if (!lcores.includes(mainLcore)) {
    throw new EalArgError(
      n('mainLcore'),
      mainLcore,
      `one of the lcores in use (${lcores.join(',')})`,
    );
  }
  const vdevs = (o.vdevs ?? []).map((v) => (typeof v === 'string' ? parseVdev(v) : v));
  const seen = new Set<string>();
  for (const v of vdevs) {
    if (seen.has(v.name)) throw new EalArgError(n('vdevs'), v.name, 'a device name used once');
    seen.add(v.name);
  }
  const poll = o.poll ?? 'busy';
  if (poll !== 'busy' && poll !== 'adaptive')
    throw new EalArgError(n('poll'), JSON.stringify(poll), 'busy or adaptive');
  return {
    lcores,
    cpuOf,
    mainLcore,
    vdevs,
    memoryMb: intArg(n('memoryMb'), o.memoryMb ?? 64, 1, 4095, 'shared memory in MiB'),
    logLevel: logLevelArg(n('logLevel'), o.logLevel ?? 'notice'),
    pin: o.pin ?? true,
    poll,
    spinPolls: intArg(
      n('spinPolls'),
      o.spinPolls ?? 1024,
      0,
      1 << 30,
      'empty polls before parking',
    ),
    sliceUs: intArg(n('sliceUs'), o.sliceUs ?? 1000, 1, 10_000_000, 'microseconds per loop slice'),
    heapMb: intArg(n('heapMb'), o.heapMb ?? 128, 0, 65536, 'MiB of initial old generation'),
  };
}

export interface ParsedArgs {
  options: EalOptions;
  help: boolean;
  /** Arguments after `--`, for the application. */
  rest: string[];
}

/** Parses EAL arguments into typed options. Unknown flags and bad values throw EalArgError. */
export function parseEalArgs(argv: readonly string[]): ParsedArgs {
  const options: EalOptions = {};
  const vdevs: VdevSpec[] = [];
  let help = false;
  let i = 0;
  const value = (flag: string): string => {
    const inline = argv[i].indexOf('=');
    if (argv[i].startsWith('--') && inline > 0) return argv[i].slice(inline + 1);
    const v = argv[++i];
    if (v === undefined || (v.startsWith('-') && v.length > 1 && !/^-\d/.test(v))) {
      throw new EalArgError(
        flag,
        v === undefined ? 'nothing' : JSON.stringify(v),
        'followed by a value',
      );
    }
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return { options, help, rest: argv.slice(i + 1) };
    const flag = a.startsWith('--') && a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    switch (flag) {
      case '-l':
        options.lcores = parseCoreList('-l', value('-l'));
        break;
      case '--lcores': {
        const m = parseLcoresMap(value('--lcores'));
        options.lcores = m.lcores;
        options.lcoreCpus = m.cpuOf;
        break;
      }
      case '--main-lcore':
        options.mainLcore = intArg(
          '--main-lcore',
          value('--main-lcore'),
          0,
          MAX_LCORES - 1,
          'an lcore id',
        );
        break;
      case '--vdev':
        vdevs.push(parseVdev(value('--vdev')));
        options.vdevs = vdevs;
        break;
      case '-m':
        options.memoryMb = intArg('-m', value('-m'), 1, 4095, 'shared memory in MiB');
        break;
      case '--log-level':
        options.logLevel = logLevelArg('--log-level', value('--log-level'));
        break;
      case '--no-pin':
        options.pin = false;
        break;
      case '--poll': {
        const v = value('--poll');
        if (v !== 'busy' && v !== 'adaptive')
          throw new EalArgError('--poll', JSON.stringify(v), 'busy or adaptive');
        options.poll = v;
        break;
      }
      case '--spin-polls':
        options.spinPolls = intArg(
          '--spin-polls',
          value('--spin-polls'),
          0,
          1 << 30,
          'empty polls before parking',
        );
        break;
      case '--slice-us':
        options.sliceUs = intArg(
          '--slice-us',
          value('--slice-us'),
          1,
          10_000_000,
          'microseconds per loop slice',
        );
        break;
      case '--heap-mb':
        options.heapMb = intArg(
          '--heap-mb',
          value('--heap-mb'),
          0,
          65536,
          'MiB of initial old generation',
        );
        break;
      case '-h':
      case '--help':
        help = true;
        break;
      default:
        throw new EalArgError(
          'argument',
          JSON.stringify(a),
          'an EAL option (see --help), or put application arguments after --',
        );
    }
  }
  return { options, help, rest: [] };
}
