// `bypass run` over net_tap for tests (root and /dev/net/tun): the tap's kernel side is moved
// into a network namespace the rig creates and removes, clients run inside that namespace.
// Used by transparent.test.ts (the node:http fixture) and frameworks.test.ts (Express, Fastify).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Netns, tapUnavailable } from '@bypass/pmd/netns';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** The installed command's entry (what `npx bypass` runs). */
export const BYPASS_BIN = fileURLToPath(
  new URL('../../../apps/cli/bin/bypass.mjs', import.meta.url),
);

/** Why `bypass run` over tap cannot be tested here, or undefined. */
export function tapRunUnavailable(): string | undefined {
  const tap = tapUnavailable();
  if (tap !== undefined) return tap;
  if (spawnSync('curl', ['--version']).status !== 0) return 'curl is not installed';
  return undefined;
}

export interface Proc {
  proc: ChildProcess;
  out: string;
  err: string;
  exited: Promise<number | null>;
  code?: number | null;
}

/** Signals the whole process group of a child started by start(). */
export function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (proc.pid !== undefined) process.kill(-proc.pid, signal);
  } catch {
    proc.kill(signal); // the group is gone already
  }
}

export function start(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  cwd: string = ROOT,
): Proc {
  // Its own process group, as a terminal's job: a stop signals the group, and a failed test's
  // SIGKILL reaches every process the command started.
  const proc = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const p: Proc = { proc, out: '', err: '', exited: Promise.resolve(null) };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    p.out += d;
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    p.err += d;
  });
  p.exited = new Promise((resolve) =>
    proc.on('close', (code) => {
      p.code = code;
      resolve(code);
    }),
  );
  return p;
}

export async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** curl inside the namespace (async: the test's own kernel server must keep answering). */
export async function curl(
  ns: Netns,
  url: string,
  extra: string[] = [],
): Promise<{ code: number | null; body: string }> {
  const c = start('ip', [
    'netns',
    'exec',
    ns.name,
    'curl',
    '-sS',
    '--max-time',
    '8',
    ...extra,
    url,
  ]);
  const code = await c.exited;
  return { code, body: code === 0 ? c.out : c.err };
}

/**
 * A TCP client inside the namespace (node:net): sends `request` and keeps its side open (no FIN:
 * node:http drops a request whose client half-closes before an async handler answers, on the
 * kernel too), so the server ends the exchange (`Connection: close`). `result` resolves with
 * every byte that came back until the server closed (latin1), or `error CODE` if the connection
 * failed. `connected` resolves once it is established.
 */
export function rawClient(
  ns: Netns,
  host: string,
  port: number,
  request: string,
): { connected: Promise<void>; result: Promise<string> } {
  const script = `
    const s = require('node:net').connect(${port}, ${JSON.stringify(host)});
    const got = [];
    s.on('connect', () => process.stderr.write('connected\\n'));
    s.on('data', (d) => got.push(d));
    s.on('error', (e) => { process.stdout.write('error ' + e.code); process.exit(0); });
    s.on('close', () => process.stdout.write(Buffer.concat(got).toString('latin1')));
    s.setTimeout(8000, () => s.destroy(Object.assign(new Error('t'), { code: 'TIMEOUT' })));
    s.write(${JSON.stringify(request)});`;
  const c = start('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script]);
  const result = c.exited.then((code) => {
    if (code !== 0) throw new Error(`the client in ${ns.name} exited ${code}: ${c.err}`);
    return c.out;
  });
  const connected = until('the client to connect', 10_000, () => {
    if (c.code !== undefined) throw new Error(`the client ended first: ${c.out} ${c.err}`);
    return c.err.includes('connected\n');
  });
  connected.catch(() => {}); // awaited only by callers that ask
  return { connected, result };
}

/** rawClient's result: the bytes a request got back. */
export function rawExchange(
  ns: Netns,
  host: string,
  port: number,
  request: string,
): Promise<string> {
  return rawClient(ns, host, port, request).result;
}

export interface RunOptions {
  /** --lcores. */
  lcores: string;
  /** More `bypass run` options (before the program). */
  extra?: string[];
  /** The program, as given on the command line (relative to `cwd`, or absolute). */
  app: string;
  appArgs?: string[];
  env?: Record<string, string>;
  /** The folder `bypass run` starts in (default the repository). */
  cwd?: string;
  /** Start `bypass run` through the installed command's entry, bin/bypass.mjs (default: src/main.ts under node --import tsx, what `pnpm bypass` runs). */
  bin?: boolean;
  /**
   * The fixture's helpers: a kernel-only HTTP server (127.0.0.1 here: KERNEL_URL), and an HTTP
   * server (PEER_URL) and a TCP echo server (ECHO_HOST, ECHO_PORT) inside the namespace.
   */
  peers?: boolean;
  /** Once the namespace is set up, wait until a GET of this path through the stack answers. */
  waitPort?: number;
}

/**
 * `bypass run` on a tap port whose kernel side is moved into a fresh namespace (10.79.N.1 there,
 * the stack 10.79.N.2). Everything is removed by `close()`, after any failure too.
 */
export class RunRig {
  readonly n = 1 + Math.floor(Math.random() * 250);
  readonly iface = `bprun${1000 + Math.floor(Math.random() * 9000)}`;
  readonly stackIp = `10.79.${this.n}.2`;
  readonly peerIp = `10.79.${this.n}.1`;
  ns: Netns | undefined;
  run: Proc | undefined;
  peers: Proc | undefined;
  kernel: http.Server | undefined;
  kernelPort = 0;

  async open(o: RunOptions): Promise<void> {
    const env: Record<string, string> = { ...o.env };
    if (o.peers) {
      // The fallback: a server on 127.0.0.1 in this (the root) namespace, out of the stack's reach.
      this.kernel = http.createServer((_q, s) => s.end('kernel side says hi'));
      await new Promise<void>((r) => this.kernel!.listen(0, '127.0.0.1', r));
      this.kernelPort = (this.kernel.address() as AddressInfo).port;
      Object.assign(env, {
        KERNEL_URL: `http://127.0.0.1:${this.kernelPort}/`,
        PEER_URL: `http://${this.peerIp}:7001/`,
        ECHO_HOST: this.peerIp,
        ECHO_PORT: '7002',
      });
    }
    this.ns = new Netns();
    // bin: what a user's `npx bypass` runs. Otherwise what `pnpm bypass` runs (exec node --import
    // tsx): tsx's CLI would relay signals itself and SIGKILL a child that has not acknowledged one
    // within 60 ms, exiting 130.
    const entry = o.bin ? [BYPASS_BIN] : ['--import', 'tsx', `${ROOT}/apps/cli/src/main.ts`];
    this.run = start(
      process.execPath,
      [
        ...entry,
        'run',
        '--lcores',
        o.lcores,
        '--vdev',
        `net_tap0,iface=${this.iface}`,
        '--ip',
        `${this.stackIp}/24`,
        '--trace',
        ...(o.extra ?? []),
        o.app,
        ...(o.appArgs ?? []),
      ],
      env,
      o.cwd ?? ROOT,
    );
    const run = this.run;
    await until('bypass run to say the program is ready', 30_000, () => {
      if (run.code !== undefined) throw new Error(`bypass run exited ${run.code}: ${run.err}`);
      return run.err.includes('SIGINT or SIGTERM stops');
    });
    const ns = this.ns;
    ns.adopt(this.iface, `${this.peerIp}/24`);
    if (o.peers) {
      const peers = `
        const http = require('node:http'), net = require('node:net');
        let n = 0;
        const up = () => { if (++n === 2) console.log('peers ready'); };
        http.createServer((q, s) => s.end('peer says hi')).listen(7001, '${this.peerIp}', up);
        net.createServer((s) => s.pipe(s)).listen(7002, '${this.peerIp}', up);`;
      this.peers = start('ip', ['netns', 'exec', ns.name, process.execPath, '-e', peers]);
      const p = this.peers;
      await until('the peer servers', 10_000, () => {
        if (p.code !== undefined)
          throw new Error(
            `the peer servers exited ${p.code}: ${p.err}\n${spawnSync('ip', ['-n', ns.name, 'addr'], { encoding: 'utf8' }).stdout}\nbypass run: ${run.code} ${run.err}`,
          );
        return p.out.includes('peers ready');
      });
    }
    if (o.waitPort !== undefined) {
      // The first connection also resolves the stack's MAC (ARP) in the namespace.
      const end = Date.now() + 20_000;
      for (;;) {
        const r = await curl(ns, `http://${this.stackIp}:${o.waitPort}/`, ['-o', '/dev/null']);
        if (r.code === 0) break;
        if (Date.now() > end) throw new Error(`the program never answered: ${r.body}\n${run.err}`);
      }
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
    const run = this.run!;
    if (run.code === undefined) killGroup(run.proc, signal);
    const t = setTimeout(() => killGroup(run.proc, 'SIGKILL'), 15_000);
    const code = await run.exited;
    clearTimeout(t);
    return code;
  }

  async close(): Promise<void> {
    for (const p of [this.run, this.peers]) {
      if (p !== undefined && p.code === undefined) {
        killGroup(p.proc, 'SIGKILL');
        await p.exited;
      }
    }
    this.ns?.remove();
    this.ns = undefined;
    if (this.kernel !== undefined) {
      this.kernel.closeAllConnections();
      await new Promise<void>((r) => this.kernel!.close(() => r()));
      this.kernel = undefined;
    }
  }
}
