// bypass run: an unmodified node:net / node:http program on every worker lcore, its bypass
// traffic on the user-space stack (transparent mode, @bypass/socket-api transparent.ts).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import { type StaleBuild, staleBuilds } from '@bypass/atomics-sync';
import {
  cleanup,
  EalArgError,
  init,
  LcoreError,
  mpWaitLcore,
  parseEalArgs,
  parseVdev,
  pktmbufPoolCreate,
  remoteLaunch,
  STARTUP_INTERRUPTED,
  startupInterrupted,
} from '@bypass/eal';
import { parseCidr, tryParseIpv4 } from '@bypass/net';
import {
  type EthStats,
  ethDevByName,
  ethDevConfigure,
  ethDevCount,
  ethDevInfo,
  ethDevStart,
  ethDevStop,
  ethRxQueueSetup,
  ethStats,
  ethTxQueueSetup,
  tapOffload,
} from '@bypass/pmd';
import {
  type ListenInfo,
  TRANSPARENT_LCORE_MODULE,
  type TransparentLcoreArg,
  type TransparentLcoreReport,
  type TransparentLcoreResult,
  type WildcardMode,
} from '@bypass/socket-api';
import { formatLoadError, locationInStack } from './program-error.js';

export const RUN_USAGE = `usage: bypass run [EAL options] --ip ADDR/PREFIX [run options] [--] APP [app args]

Runs APP (an unmodified node:net / node:http program, .js/.mjs/.ts) on every worker lcore (every
lcore but the main one), each with its own user-space TCP/IP stack on its own queue of the port
(RSS spreads connections over them). Listens on the bypass address, and on the wildcard, go
through the stack; connections to the bypass subnet go through the stack; everything else uses
the kernel's sockets. APP and relative paths are taken from the current folder. Once APP has
loaded and listened on every lcore, a line says where it listens. Runs until SIGINT or SIGTERM;
if APP dies (an exception nobody catches), its stack connections are reset (RST) and bypass run
exits 1.

EAL options (see --help of any EAL app): -l LIST | --lcores LIST, --vdev NAME[,k=v...],
  -m MB, --log-level L, --no-pin, --poll busy|adaptive, --spin-polls N, --slice-us N,
  --heap-mb N

run options:
  --ip ADDR/PREFIX       the stack's address, e.g. 10.0.0.2/24 (required)
  --gateway ADDR         the stack's default gateway (inside its subnet)
  --route CIDR           also connect to CIDR through the stack (via --gateway); repeatable
  --port NAME|ID         the port to use (default: port 0, the first --vdev)
  --wildcard both|stack  wildcard listens: stack and kernel (default; the kernel listener is on
                         the first worker lcore only), or the stack only
  --mtu N                the stack's IP MTU (default 1500)
                         (a net_tap port gets offload=tso unless its --vdev says offload=)
  --mbufs N              mbufs in the pool (default 4096 per queue, at least 8192)
  --trace                print each listen/connect routing decision on stderr
  --code auto|built|source  what the worker lcores run: the packages' built JavaScript (dist/,
                         plain node) or their TypeScript sources through tsx; auto (default):
                         built when every dist/ is current and APP is JavaScript, else source
                         with a notice (\`pnpm build\` in the bypass clone makes the builds)

listen hosts: none, '0.0.0.0', '::' (the wildcard) and the --ip address go to the stack (the
wildcard also to the kernel, with --wildcard both); 'localhost', names, loopback and other
addresses go to the kernel only, with a notice on stderr.

example:
  bypass run --lcores 0-1 --vdev net_tap0,iface=bp0 --ip 10.0.0.2/24 app.js
  ip addr add 10.0.0.1/24 dev bp0 && curl http://10.0.0.2:8080/
`;

export class RunUsageError extends Error {
  override name = 'RunUsageError';
}

export interface RunArgs {
  /** EAL arguments, passed to init(). */
  eal: string[];
  ip: string;
  gateway?: string;
  routes: string[];
  port?: string;
  wildcard: WildcardMode;
  mtu?: number;
  mbufs?: number;
  trace: boolean;
  /** What the worker lcores run (--code): see lcoreCodeFor(). */
  code: 'auto' | 'built' | 'source';
  help: boolean;
  /** The program, as given, and its arguments. */
  app?: string;
  appArgs: string[];
}

/** EAL flags that take no value (every other EAL flag takes one, unless written --flag=value). */
const EAL_BARE_FLAGS = new Set(['--no-pin', '-h', '--help']);

function intOption(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new RunUsageError(
      `${flag} needs an integer in [${min}, ${max}], got ${JSON.stringify(v)}`,
    );
  return n;
}

/**
 * Splits `bypass run`'s arguments: run options, EAL options (validated later by the EAL), the
 * program (the first argument that is not an option, or the one after `--`) and its arguments.
 */
export function parseRunArgs(argv: readonly string[]): RunArgs {
  const out: RunArgs = {
    eal: [],
    ip: '',
    routes: [],
    wildcard: 'both',
    trace: false,
    code: 'auto',
    help: false,
    appArgs: [],
  };
  let i = 0;
  const value = (flag: string): string => {
    const a = argv[i];
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
    const v = argv[++i];
    if (v === undefined) throw new RunUsageError(`${flag} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    const flag = a.startsWith('--') && a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    switch (flag) {
      case '--ip':
        out.ip = value(flag);
        break;
      case '--gateway':
        out.gateway = value(flag);
        break;
      case '--route':
        out.routes.push(value(flag));
        break;
      case '--port':
        out.port = value(flag);
        break;
      case '--wildcard': {
        const v = value(flag);
        if (v !== 'both' && v !== 'stack')
          throw new RunUsageError(`--wildcard is both or stack, got ${JSON.stringify(v)}`);
        out.wildcard = v;
        break;
      }
      case '--mtu':
        out.mtu = intOption(flag, value(flag), 576, 9000);
        break;
      case '--mbufs':
        out.mbufs = intOption(flag, value(flag), 1024, 1 << 22);
        break;
      case '--trace':
        out.trace = true;
        break;
      case '--code': {
        const v = value(flag);
        if (v !== 'auto' && v !== 'built' && v !== 'source')
          throw new RunUsageError(`--code is auto, built or source, got ${JSON.stringify(v)}`);
        out.code = v;
        break;
      }
      case '-h':
      case '--help':
        out.help = true;
        break;
      default:
        out.eal.push(a);
        if (!EAL_BARE_FLAGS.has(flag) && !(a.startsWith('--') && a.includes('='))) {
          const v = argv[++i];
          if (v === undefined) throw new RunUsageError(`${flag} needs a value`);
          out.eal.push(v);
        }
    }
  }
  if (out.help) return out;
  out.app = argv[i];
  out.appArgs = argv.slice(i + 1);
  if (out.app === undefined) throw new RunUsageError('no program given (bypass run [options] APP)');
  if (out.ip === '') throw new RunUsageError('--ip ADDR/PREFIX is required, e.g. --ip 10.0.0.2/24');
  try {
    parseCidr(out.ip, '--ip');
    for (const r of out.routes) parseCidr(r, '--route');
  } catch (e) {
    throw new RunUsageError((e as Error).message);
  }
  if (out.gateway !== undefined && tryParseIpv4(out.gateway) === undefined)
    throw new RunUsageError(`--gateway needs an IPv4 address, got ${JSON.stringify(out.gateway)}`);
  if (out.routes.length > 0 && out.gateway === undefined)
    throw new RunUsageError('--route needs --gateway (the stack sends other subnets to it)');
  return out;
}

/**
 * The EAL arguments with `offload=tso` added to every net_tap --vdev that does not say
 * offload=: checksums and segmentation left to the kernel's side of the tap (virtio-net
 * header), as a VM's NIC does; `pnpm bench apps` measured 10 MB downloads at about twice the
 * rate of plain frames.
 */
export function withTapOffload(eal: readonly string[]): string[] {
  const add = (v: string) =>
    /^net_tap\d*(,|$)/.test(v) && !/(^|,)offload=/.test(v) ? `${v},offload=tso` : v;
  return eal.map((a, i) => {
    if (a.startsWith('--vdev=')) return `--vdev=${add(a.slice(7))}`;
    return i > 0 && eal[i - 1] === '--vdev' ? add(a) : a;
  });
}

/** This package's folder: its @bypass dependencies are what the lcores load. */
const CLI_PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/**
 * What the worker lcores run for `--code MODE` and the program `app`: 'built' (the packages'
 * dist/, plain node) or 'source' (TypeScript through tsx), and a notice when auto chose source
 * for a reason a user can change. A TypeScript program needs tsx, so it runs on the sources.
 * `stale` is staleBuilds() of this package (given for tests).
 */
export function lcoreCodeFor(
  mode: RunArgs['code'],
  app: string,
  stale: readonly StaleBuild[] = staleBuilds(CLI_PACKAGE_DIR),
): { code: 'built' | 'source'; notice?: string } {
  if (mode === 'source') return { code: 'source' };
  const tsApp = /\.[mc]?tsx?$/.test(app);
  if (mode === 'built') {
    if (tsApp)
      throw new RunUsageError(
        `--code built runs no TypeScript loader, and ${app} is TypeScript: compile it, or use --code source`,
      );
    if (stale.length > 0)
      throw new RunUsageError(
        `--code built: ${stale[0].name} has no current build (${stale[0].reason}): run \`pnpm build\` in ${bypassRoot(stale[0].dir)}`,
      );
    return { code: 'built' };
  }
  if (tsApp) return { code: 'source' };
  if (stale.length > 0) {
    return {
      code: 'source',
      notice:
        `the lcores run bypass's TypeScript sources through tsx, because ${stale[0].name} has no current build (${stale[0].reason}); ` +
        `\`pnpm build\` in ${bypassRoot(stale[0].dir)} makes them run the built JavaScript, faster for event-loop programs`,
    };
  }
  return { code: 'built' };
}

/** The clone a package folder belongs to (…/packages/x -> …), for the `pnpm build` hint. */
function bypassRoot(dir: string): string {
  return resolve(dir, '..', '..');
}

/** The pool: mbufs and their data room (64 KB for a tap port with offload=tso). */
function poolShape(
  args: RunArgs,
  queues: number,
  offload: string | undefined,
): { n: number; dataRoomSize: number } {
  if (offload === 'tso')
    return { n: args.mbufs ?? Math.max(1024, 512 * queues), dataRoomSize: 65536 + 64 };
  return { n: args.mbufs ?? Math.max(8192, 4096 * queues), dataRoomSize: 2048 };
}

/** What `bypass run` prints once its lcores stopped: the port's and each lcore's counters. */
export function runSummary(
  seconds: number,
  portName: string,
  port: EthStats,
  lcores: readonly TransparentLcoreResult[],
): string {
  const lines = [
    `bypass run: stopped after ${seconds.toFixed(1)} s`,
    `  port ${portName}: rx ${port.ipackets} packets (${port.ibytes} bytes), tx ${port.opackets} packets (${port.obytes} bytes), ${port.imissed} missed, ${port.ierrors + port.oerrors} errors`,
  ];
  for (const l of [...lcores].sort((a, b) => a.lcore - b.lcore))
    lines.push(
      `  lcore ${l.lcore} (queue ${l.queue}): ${l.rxFrames} frames in, ${l.txFrames} out, ${l.polls} polls (${l.work} with work)`,
    );
  return `${lines.join('\n')}\n`;
}

/** Where one listen() listens, for the ready line. */
export function describeListen(l: ListenInfo): string {
  if (l.route === 'kernel') return `${l.kernel} (kernel only)`;
  if (l.route === 'stack') return `${l.stack} (stack)`;
  return `${l.stack} (stack) and ${l.kernel} (kernel)`;
}

/**
 * Collects the lcores' reports (TransparentLcoreReport) and says when the program is ready:
 * loaded and listening on every worker lcore. `ready()` is called once, with the first listen of
 * the first worker lcore.
 */
export class ReadyWatch {
  readonly #loaded = new Set<number>();
  readonly #listening = new Map<number, ListenInfo>();
  #done = false;

  constructor(
    readonly workers: readonly number[],
    readonly ready: (first: ListenInfo) => void,
  ) {}

  report(r: TransparentLcoreReport): void {
    if (r.type === 'loaded') this.#loaded.add(r.lcore);
    else if (!this.#listening.has(r.lcore)) this.#listening.set(r.lcore, r.listen);
    if (this.#done) return;
    if (this.workers.every((l) => this.#loaded.has(l) && this.#listening.has(l))) {
      this.#done = true;
      this.ready(this.#listening.get(this.workers[0]) as ListenInfo);
    }
  }
}

/**
 * `bypass run ...`: exit status 0 after SIGINT/SIGTERM, 1 when the program or an lcore failed (or
 * the setup did), 2 on bad usage.
 */
export async function run(argv: readonly string[]): Promise<number> {
  let args: RunArgs;
  try {
    args = parseRunArgs(argv[0] === '--' ? argv.slice(1) : argv);
  } catch (e) {
    if (!(e instanceof RunUsageError)) throw e;
    process.stderr.write(`bypass run: ${e.message}\n\n${RUN_USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  const app = resolve(args.app!);
  if (!existsSync(app)) {
    process.stderr.write(`bypass run: ${app}: no such file\n`);
    return 1;
  }
  let lcoreCode: 'built' | 'source';
  try {
    const chosen = lcoreCodeFor(args.code, app);
    lcoreCode = chosen.code;
    if (chosen.notice !== undefined) process.stderr.write(`bypass run: ${chosen.notice}\n`);
  } catch (e) {
    if (!(e instanceof RunUsageError)) throw e;
    process.stderr.write(`bypass run: ${e.message}\n`);
    return 2;
  }
  // A tap port moves TCP in 64 KB frames both ways unless told otherwise (offload=none|csum).
  let eal = withTapOffload(args.eal);
  try {
    // A pool of 64 KB mbufs (offload=tso) needs more than the default 64 MiB of memzones.
    const parsed = parseEalArgs(eal);
    const vdevs = (parsed.options.vdevs ?? []).map((v) =>
      typeof v === 'string' ? parseVdev(v) : v,
    );
    const chosen =
      args.port === undefined
        ? vdevs[0]
        : (vdevs.find((v) => v.name === args.port) ?? vdevs[Number(args.port)]);
    const lcores = parsed.options.lcores;
    const queues = Math.max(1, (Array.isArray(lcores) ? lcores.length : 1) - 1);
    const shape = poolShape(
      args,
      queues,
      chosen?.driver === 'net_tap' ? tapOffload(chosen.args) : undefined,
    );
    const needMb = Math.ceil(((shape.dataRoomSize + 512) * shape.n) / 2 ** 20) + 32;
    if (parsed.options.memoryMb === undefined && needMb > 64) eal = [...eal, '-m', String(needMb)];
  } catch (e) {
    if (!(e instanceof EalArgError)) throw e;
    // init() reports it below.
  }

  let code = 0;
  let port = -1;
  let channel: BroadcastChannel | undefined;
  try {
    const { config } = await init(eal, { lcoreCode });
    const workers = config.lcores.filter((id) => id !== config.mainLcore);
    if (workers.length === 0) {
      throw new RunUsageError(
        `no worker lcores: the main lcore (${config.mainLcore}) only supervises; give two or more, e.g. --lcores 0-1`,
      );
    }
    if (ethDevCount() === 0)
      throw new RunUsageError('no port: add one with --vdev, e.g. --vdev net_tap0,iface=bp0');
    port = args.port === undefined ? 0 : ethDevByName(args.port);
    if (port < 0 && /^\d+$/.test(args.port ?? '')) port = Number(args.port);
    if (port < 0 || port >= ethDevCount())
      throw new RunUsageError(`--port ${args.port}: no such port (${ethDevCount()} ports)`);
    const info = ethDevInfo(port);
    const offload = info.driver === 'net_tap' ? tapOffload(info.args) : undefined;
    const shape = poolShape(args, workers.length, offload);
    const pool = 'bypass_run_pool';
    pktmbufPoolCreate(pool, { n: shape.n, cacheSize: 128, dataRoomSize: shape.dataRoomSize });
    ethDevConfigure(port, { rxQueues: workers.length, txQueues: workers.length });
    for (let q = 0; q < workers.length; q++) {
      ethRxQueueSetup(port, q, { size: 1024, mempool: pool });
      ethTxQueueSetup(port, q, { size: 1024 });
    }
    ethDevStart(port);
    const iface = info.driver === 'net_tap' ? ` (interface ${info.args.iface ?? `bp${port}`})` : '';
    const lcoreList = `lcore${workers.length > 1 ? 's' : ''} ${workers.join(',')}`;
    const watch = new ReadyWatch(workers, (first) =>
      process.stderr.write(
        `bypass run: ${args.app} listening on ${describeListen(first)}, ${lcoreList}, ` +
          `port ${info.name}${iface} with ${workers.length} queue${workers.length > 1 ? 's' : ''}, ` +
          `${args.ip}; SIGINT or SIGTERM stops\n`,
      ),
    );
    const channelName = `bypass-run-${process.pid}-${Date.now()}`;
    channel = new BroadcastChannel(channelName);
    channel.onmessage = (e) => watch.report((e as { data: TransparentLcoreReport }).data);
    const absApp = app;
    workers.forEach((lcore, queue) => {
      const arg: TransparentLcoreArg = {
        port,
        queue,
        pool,
        ip: args.ip,
        gateway: args.gateway,
        mtu: args.mtu,
        checksum: offload === undefined ? undefined : 'offload',
        tsoMaxBytes: offload === 'tso' ? 64000 : undefined,
        wildcard: queue === 0 ? args.wildcard : 'stack',
        routes: args.routes,
        trace: args.trace,
        app: absApp,
        args: args.appArgs,
        channel: channelName,
        // The same program runs on every lcore: one notice is enough.
        notices: queue === 0,
      };
      remoteLaunch(lcore, TRANSPARENT_LCORE_MODULE, 'transparentLcore', arg);
    });
    const started = performance.now();
    const results = await mpWaitLcore();
    process.stderr.write(
      runSummary(
        (performance.now() - started) / 1000,
        info.name,
        ethStats(port),
        Object.values(results) as TransparentLcoreResult[],
      ),
    );
  } catch (e) {
    const err = e as Error;
    const loadFailure =
      err instanceof LcoreError
        ? new RegExp(`^lcore ${err.lcoreId}: ProgramLoadError: `).exec(err.message)
        : null;
    if (startupInterrupted(err)) process.stderr.write(`bypass run: ${STARTUP_INTERRUPTED}\n`);
    else if (loadFailure !== null) {
      // The program did not load: where in it, as node would say, not the lcore's internals.
      const headline = err.message.slice(loadFailure[0].length);
      const stack = (err as LcoreError).lcoreStack ?? '';
      process.stderr.write(
        `bypass run: ${args.app} failed to load: ${formatLoadError(app, headline, stack)}\n`,
      );
      code = 1;
    } else {
      // The program died (an exception nobody caught): where, before the lcore's whole stack.
      const at = err instanceof LcoreError ? locationInStack(err.lcoreStack ?? '') : undefined;
      if (at !== undefined) {
        const headline = err.message.replace(/^lcore \d+: /, '');
        process.stderr.write(
          `bypass run: ${args.app} died at ${at.file}:${at.line}:${at.column}: ${headline}\n`,
        );
      }
      process.stderr.write(
        `bypass run: ${err instanceof LcoreError ? (err.stack ?? err.message) : `${err.name}: ${err.message}`}\n`,
      );
      code = err instanceof RunUsageError || err instanceof EalArgError ? 2 : 1;
    }
  }
  channel?.close();
  if (port >= 0) {
    try {
      ethDevStop(port);
    } catch {
      // never started
    }
  }
  await cleanup();
  return code;
}
