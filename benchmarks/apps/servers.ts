// Starting and stopping one app, on the kernel or on bypass, in the benchmark's server namespace,
// and running a command in the client namespace. Both sides start the same file with the same
// environment (PORT, TLS_KEY, TLS_CERT):
// - kernel: `node APP` in the server namespace, reached over the veth pair;
// - bypass: `node --import tsx apps/cli/src/main.ts run --lcores 0-1 --vdev net_tap0,iface=TAP
//   --ip 10.97.2.2/24 APP` (what `pnpm bypass run` runs) in the server namespace, its tap
//   interface moved into the client namespace.
// An app is ready once it printed a line with "listening" and the client namespace got a 200
// for GET / (the same check for both sides); anything else is a StartError with what it said.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  PREFIX,
  SERVER_CPU,
  TAP_CLIENT_IP,
  TAP_STACK_IP,
  type Topology,
  VETH_SERVER_IP,
} from './topology.js';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..', '..');
const CLI = join(ROOT, 'apps', 'cli', 'src', 'main.ts');
export const CLIENT = join(HERE, 'client.mjs');

export type Side = 'kernel' | 'bypass';

export interface AppSpec {
  name: string;
  /** The app file, relative to benchmarks/apps. */
  file: string;
  port: number;
  tls: boolean;
}

/**
 * Builds every package's dist/ (tsc -p tsconfig.build.json, a few seconds): bypass run is started
 * with `--code built`, so its lcores run the built JavaScript on plain node, as a user's do after
 * `pnpm build`, and it refuses to start on a stale build rather than measure the tsx loader.
 */
export function buildPackages(): string[] {
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  const built: string[] = [];
  for (const name of readdirSync(join(ROOT, 'packages')).sort()) {
    const project = join(ROOT, 'packages', name, 'tsconfig.build.json');
    if (!existsSync(project)) continue;
    execFileSync(tsc, ['-p', project], { stdio: 'pipe', timeout: 120_000 });
    built.push(name);
  }
  return built;
}

/** bypass's lcores: the main lcore (supervises, sleeps) and one worker lcore that busy-polls. */
export const BYPASS_LCORES = '0-1';

/** Time allowed for an app to say it listens (bypass run loads tsx, the EAL and a worker). */
const START_MS = 30_000;
/** Time allowed after "listening" for GET / to answer 200 from the client namespace. */
const PROBE_MS = 5_000;
const STOP_MS = 10_000;

/** The app could not be started or reached; the message says what it printed. */
export class StartError extends Error {
  override name = 'StartError';
}

/** A child's output: stdout as lines, the tail of stderr. */
class Output {
  readonly lines: string[] = [];
  private errText = '';
  private outBuf = '';
  private waiters: (() => void)[] = [];

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      this.outBuf += d;
      let i = this.outBuf.indexOf('\n');
      while (i >= 0) {
        this.lines.push(this.outBuf.slice(0, i));
        this.outBuf = this.outBuf.slice(i + 1);
        i = this.outBuf.indexOf('\n');
      }
      this.wake();
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      this.errText = (this.errText + d).slice(-4000);
    });
    child.once('exit', () => this.wake());
  }

  get stderr(): string {
    return this.errText.trim();
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when a stdout line matches `re`; throws when the child ends first or after `ms`. */
  async waitFor(re: RegExp, ms: number, what: string): Promise<string> {
    const end = performance.now() + ms;
    for (;;) {
      const hit = this.lines.find((l) => re.test(l));
      if (hit !== undefined) return hit;
      if (!this.alive) {
        throw new StartError(
          `${what} ended (${this.child.exitCode ?? this.child.signalCode}) before it listened: ${tail(this.stderr)}`,
        );
      }
      const left = end - performance.now();
      if (left <= 0) throw new StartError(`${what} did not say it listened within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  exited(ms: number): Promise<boolean> {
    if (!this.alive) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      this.child.once('exit', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }
}

function tail(s: string, n = 600): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `...${one.slice(-n)}` : one || '(nothing on stderr)';
}

export interface RunningApp {
  side: Side;
  /** http(s)://ADDR:PORT */
  base: string;
  /** Seconds from spawn to ready. */
  startS: number;
  /** Stops it; returns a note when it did not stop cleanly (exit status, stderr). */
  stop(): Promise<string | undefined>;
  /** bypass run's closing summary (port and lcore counters), once stopped; '' for the kernel. */
  summary(): string;
}

export interface StartOptions {
  env: NodeJS.ProcessEnv;
}

/** Starts `app` on `side` and waits until it answers from the client namespace. */
export async function startApp(
  topo: Topology,
  app: AppSpec,
  side: Side,
  opts: StartOptions,
): Promise<RunningApp> {
  const t0 = performance.now();
  const file = join(HERE, app.file);
  const env = { ...process.env, ...opts.env, PORT: String(app.port) };
  let child: ChildProcess;
  let addr: string;
  let tap: string | undefined;
  if (side === 'kernel') {
    // The kernel's app gets the server's CPU, as bypass's worker lcore does (taskset execs node:
    // the child is the app).
    child = topo.server.spawn('taskset', ['-c', String(SERVER_CPU), process.execPath, file], {
      cwd: HERE,
      env,
      stdin: 'ignore',
    });
    addr = VETH_SERVER_IP;
  } else {
    tap = topo.nextTapName();
    const args = [
      '--import',
      'tsx',
      CLI,
      'run',
      '--code',
      'built',
      '--lcores',
      BYPASS_LCORES,
      '--vdev',
      `net_tap0,iface=${tap}`,
      '--ip',
      `${TAP_STACK_IP}/${PREFIX}`,
      file,
    ];
    child = topo.server.spawn(process.execPath, args, { cwd: ROOT, env, stdin: 'ignore' });
    addr = TAP_STACK_IP;
  }
  const out = new Output(child);
  const what = side === 'kernel' ? `node ${app.file}` : `bypass run ${app.file}`;
  const stop = async (): Promise<string | undefined> => {
    if (!out.alive) {
      return `${what} had already ended (${child.exitCode ?? child.signalCode}): ${tail(out.stderr)}`;
    }
    child.kill('SIGTERM');
    if (await out.exited(STOP_MS)) {
      if (child.exitCode === 0 || (side === 'kernel' && child.signalCode === 'SIGTERM'))
        return undefined;
      return `${what} exited with ${child.exitCode ?? child.signalCode} after SIGTERM: ${tail(out.stderr)}`;
    }
    child.kill('SIGKILL');
    await out.exited(STOP_MS);
    return `${what} did not stop within ${STOP_MS} ms of SIGTERM (killed): ${tail(out.stderr)}`;
  };
  try {
    if (tap !== undefined) await topo.adoptTap(tap, START_MS, () => out.alive);
    await out.waitFor(/listening/, START_MS, what);
    const base = `${app.tls ? 'https' : 'http'}://${addr}:${app.port}`;
    const r = await topo.client.run(
      process.execPath,
      [CLIENT, 'probe', `${base}/`, String(PROBE_MS)],
      PROBE_MS + 5_000,
      { cwd: HERE },
    );
    const probe = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as {
      ok?: boolean;
      error?: string;
    };
    if (probe.ok !== true) {
      const from = side === 'kernel' ? '' : ` (client ${TAP_CLIENT_IP} over the tap)`;
      throw new StartError(
        `${what} said it listened, but GET ${base}/ from the client namespace${from} failed for ${PROBE_MS} ms: ${probe.error ?? (r.stderr.trim() || `client exited ${r.code}`)}`,
      );
    }
    const summary = () => {
      const at = out.stderr.indexOf('bypass run: stopped after');
      return at < 0 ? '' : out.stderr.slice(at).replace(/\s*\n\s*/g, '; ');
    };
    return { side, base, startS: (performance.now() - t0) / 1000, stop, summary };
  } catch (e) {
    const said = tail(out.stderr);
    const note = await stop();
    // A child that already ended has its stderr in the message once.
    if (note !== undefined && e instanceof Error && !e.message.includes(said))
      e.message += ` [stop: ${note}]`;
    throw e;
  }
}
