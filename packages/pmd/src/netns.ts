/**
 * @bypass/pmd/netns: network namespaces, veth pairs and processes run inside them, for the tests
 * and benchmarks that put a net_tap port's kernel side (or the kernel's own stack) on the far end
 * of a link. Test and benchmark tooling beside the drivers, as DPDK's testpmd is: not part of
 * `@bypass/pmd`'s main entry.
 *
 * The project's rule (CONTRIBUTING.md): traffic goes only to interfaces inside namespaces the
 * caller creates and removes, and removal happens even on failure. So a `Netns` is removed by
 * `remove()` (idempotent: call it in `finally`), and also at process exit (uncaught errors
 * included) and on SIGINT/SIGTERM, whichever comes first; `removeStale()` removes what a run
 * killed outright (SIGKILL) left behind. Addresses are the caller's: 10.x private space on
 * interfaces created here. The only interface left in the root namespace is the root end of
 * `addVeth()`, on a /30 that overlaps no root route (`freeSubnet()`), deleted by `remove()`.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { loadNative, type NativeAddon, nativeUnavailableReason } from '@bypass/eal';
import { inSubnet, ipv4ToString, parseIpv4, parseMac, tryParseIpv4 } from '@bypass/net';

/** Why network namespaces cannot be made here (not Linux, not root, no iproute2), or undefined. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux')
    return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'not root: creating network namespaces, veth pairs and tap interfaces needs CAP_NET_ADMIN';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed';
  return undefined;
}

/** Why tap ports in namespaces cannot be used here (netnsUnavailable, no /dev/net/tun, no native
 * addon with tap support), or undefined. */
export function tapUnavailable(): string | undefined {
  const netns = netnsUnavailable();
  if (netns !== undefined) return netns;
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (modprobe tun)';
  const n = loadNative();
  if (n === null || typeof (n as Partial<NativeAddon>).tapOpen !== 'function') {
    const why = nativeUnavailableReason();
    return `the native addon with tap support (tapOpen) is not built${why ? `: ${why}` : ''}`;
  }
  return undefined;
}

/** Undefined when `cmd versionArgs` can be started (whatever its exit status: `wrk -v` exits 1),
 * else `CMD is not installed (package PKG)`. */
export function commandMissing(cmd: string, versionArgs: string[], pkg = cmd): string | undefined {
  return spawnSync(cmd, versionArgs).error === undefined
    ? undefined
    : `${cmd} is not installed (package ${pkg})`;
}

/** Runs `cmd args` to completion and returns its stdout; throws an Error naming the command and
 * carrying its stderr when it fails or runs past `timeoutMs`. */
export function runCommand(cmd: string, args: string[], timeoutMs = 10_000): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: 'pipe' });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Cleanup: one set of hooks for every namespace of this process, installed while any exists.

const cleanups = new Set<() => void>();

function runCleanups(): void {
  for (const c of [...cleanups].reverse()) {
    try {
      c();
    } catch {
      // keep going: remove as much as we can
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  console.error(`netns: ${sig}: removing the network namespaces this process created`);
  runCleanups();
  process.exit(sig === 'SIGINT' ? 130 : 143);
}

function hook(fn: () => void): () => void {
  if (cleanups.size === 0) {
    process.on('exit', runCleanups);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  cleanups.add(fn);
  return () => {
    if (!cleanups.delete(fn) || cleanups.size > 0) return;
    process.off('exit', runCleanups);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/**
 * Removes the namespaces named `<prefix><pid>` whose process is gone (a run killed outright),
 * and the root-namespace links `<rootLinkPrefix><pid>` of each; returns the namespaces removed.
 */
export function removeStale(prefix: string, rootLinkPrefixes: string[] = []): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  const removed: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^(\S+)/.exec(line.trim());
    if (m === null || !m[1].startsWith(prefix)) continue;
    const pid = m[1].slice(prefix.length);
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      process.kill(Number(pid), 0);
      continue; // still running: not ours to touch
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    spawnSync('ip', ['netns', 'del', m[1]]);
    for (const l of rootLinkPrefixes) spawnSync('ip', ['link', 'del', `${l}${pid}`]);
    removed.push(m[1]);
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------
// Addresses for a veth pair to the root namespace.

const ROUTE_TYPES = new Set([
  'unicast',
  'local',
  'broadcast',
  'multicast',
  'anycast',
  'unreachable',
  'blackhole',
  'prohibit',
  'throw',
  'nat',
]);

/** The IPv4 prefixes of every route in every table of the root namespace ('default' left out). */
function rootPrefixes(): { ip: number; prefixLen: number }[] {
  const out = runCommand('ip', ['-4', '-o', 'route', 'show', 'table', 'all']);
  const prefixes: { ip: number; prefixLen: number }[] = [];
  for (const line of out.split('\n')) {
    const t = line.trim().split(/\s+/);
    const dst = ROUTE_TYPES.has(t[0]) ? t[1] : t[0];
    if (dst === undefined || dst === '' || dst === 'default') continue;
    const [addr, len] = dst.split('/');
    const ip = tryParseIpv4(addr);
    if (ip !== undefined) prefixes.push({ ip, prefixLen: len === undefined ? 32 : Number(len) });
  }
  return prefixes;
}

/** A /30 in 10.99.128.0/17 that no route of the root namespace overlaps (so a veth pair on it
 * shadows nothing): `rootIp` is its .1, `nsIp` its .2. Throws when every one is taken. */
export function freeSubnet(): { rootIp: string; nsIp: string; prefix: number } {
  const used = rootPrefixes();
  for (let k = 0; k < 128 * 64; k++) {
    const i = (process.pid + k) % (128 * 64);
    const base = parseIpv4(`10.99.${128 + (i >> 6)}.${(i & 63) * 4}`);
    // Two prefixes overlap when the shorter one contains the other's address.
    if (used.some((r) => inSubnet(base, { ip: r.ip, prefixLen: Math.min(30, r.prefixLen) })))
      continue;
    return { rootIp: ipv4ToString(base + 1), nsIp: ipv4ToString(base + 2), prefix: 30 };
  }
  throw new Error('netns: every /30 of 10.99.128.0/17 overlaps a route of the root namespace');
}

// ---------------------------------------------------------------------------------------------
// A process in a namespace.

/** A process started in a namespace (Netns.peer), whose stdout we read line by line. */
export class Peer {
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  private err = '';
  /** Its exit code (null after a signal), once its output is all in. */
  readonly exited: Promise<number | null>;

  /** `what` names it in errors ("python3 in namespace bpt123x0"). */
  constructor(
    readonly child: ChildProcess,
    readonly what = 'a process',
  ) {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      let i = buf.indexOf('\n');
      while (i >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
      }
      for (const w of this.waiters.splice(0)) w();
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      this.err += d;
    });
    this.exited = new Promise((resolve) =>
      child.once('close', (code) => {
        for (const w of this.waiters.splice(0)) w();
        resolve(code);
      }),
    );
    child.once('error', (e) => {
      this.err += e.message;
    });
  }

  /** What the process wrote to stderr so far. */
  get stderr(): string {
    return this.err.trim();
  }

  /** The next stdout line; throws (with its stderr) if the process ended first or `ms` passed. */
  async line(ms = 10_000): Promise<string> {
    const end = performance.now() + ms;
    while (this.lines.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        await this.exited; // its last output is in
        if (this.lines.length > 0) break;
        throw new Error(
          `${this.what} ended (${this.child.exitCode ?? this.child.signalCode}) without a line${this.err ? `: ${this.stderr}` : ''}`,
        );
      }
      const left = end - performance.now();
      if (left <= 0) throw new Error(`${this.what} said nothing for ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.lines.shift()!;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** 'pipe' (default): the child sees end-of-file on stdin when this process goes away, so a
   * peer that reads it ends with us; 'ignore' for programs that must not see a pipe. */
  stdin?: 'pipe' | 'ignore';
}

/** What a command run to completion (Netns.run) left. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** It ran past its time and was killed. */
  timedOut: boolean;
}

/** Both ends of a veth pair between the root namespace and a Netns (Netns.addVeth). */
export interface Veth {
  rootIf: string;
  nsIf: string;
  /** The root end's address and the namespace end's, in one /prefix. */
  rootIp: string;
  nsIp: string;
  prefix: number;
}

// ---------------------------------------------------------------------------------------------
// The namespace.

let created = 0;

/**
 * A network namespace (default name bpt<pid>x<n>), created by the constructor with its loopback
 * up and removed by remove(), which kills the processes started in it, deletes it (and with it
 * every interface inside) and the root-side links it made. Idempotent; also runs at exit and on
 * SIGINT/SIGTERM.
 */
export class Netns {
  /** Processes started with spawn() that are still running. */
  readonly children = new Set<ChildProcess>();
  /** Root-namespace interfaces we created (veth ends), deleted on remove() if still there. */
  private readonly rootLinks = new Set<string>();
  private removed = false;
  private readonly unhook: () => void;

  constructor(readonly name = `bpt${process.pid}x${created++}`) {
    runCommand('ip', ['netns', 'add', name]);
    this.unhook = hook(() => this.remove());
    try {
      runCommand('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    } catch (e) {
      this.remove();
      throw e;
    }
  }

  /** Runs `cmd` inside the namespace to completion (`ip netns exec`) and returns its stdout;
   * throws as runCommand does. */
  exec(cmd: string, args: string[], timeoutMs = 10_000): string {
    return runCommand('ip', ['netns', 'exec', this.name, cmd, ...args], timeoutMs);
  }

  /** exec() that never throws: the exit status (null when killed) and both outputs. */
  execStatus(
    cmd: string,
    args: string[],
    timeoutMs = 10_000,
  ): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('ip', ['netns', 'exec', this.name, cmd, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** Starts `cmd` inside the namespace (`ip netns exec` execs it: the child's pid is the
   * command's), stdout and stderr piped. Killed by remove(). */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      stdio: [opts.stdin ?? 'pipe', 'pipe', 'pipe'],
      cwd: opts.cwd,
      env: opts.env,
    });
    this.children.add(c);
    c.once('exit', () => this.children.delete(c));
    return c;
  }

  /** spawn(), with its stdout read line by line. */
  peer(cmd: string, args: string[], cwd?: string): Peer {
    return new Peer(this.spawn(cmd, args, { cwd }), `${basename(cmd)} in namespace ${this.name}`);
  }

  /** Runs `cmd` inside the namespace without blocking this thread, collecting its output;
   * SIGKILLs it after `timeoutMs`. Never rejects. */
  run(
    cmd: string,
    args: string[],
    timeoutMs = 10_000,
    opts: Omit<SpawnOptions, 'stdin'> = {},
  ): Promise<RunResult> {
    const child = this.spawn(cmd, args, { ...opts, stdin: 'ignore' });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', (e) => {
      stderr += e.message;
    });
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    return new Promise((resolve) => {
      child.once('close', (code, signal) => {
        clearTimeout(t);
        resolve({ code, signal, stdout, stderr, timedOut });
      });
    });
  }

  /** Moves interface `ifname` in (from the root namespace, or from namespace `from`), then
   * configure()s it. */
  adopt(ifname: string, cidr: string, from?: Netns): void {
    runCommand('ip', [
      ...(from ? ['-n', from.name] : []),
      'link',
      'set',
      ifname,
      'netns',
      this.name,
    ]);
    if (from === undefined) this.rootLinks.delete(ifname);
    this.configure(ifname, cidr);
  }

  /** Gives interface `ifname` (already inside) `cidr`, turns IPv6 off on it (no router
   * solicitations or MLD reports in captures and counters) and brings it up. */
  configure(ifname: string, cidr: string): void {
    // A kernel without IPv6 has nothing to turn off.
    this.execStatus('sysctl', ['-qw', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
    runCommand('ip', ['-n', this.name, 'addr', 'add', cidr, 'dev', ifname]);
    runCommand('ip', ['-n', this.name, 'link', 'set', ifname, 'up']);
  }

  /** A permanent neighbour entry on `ifname`: `ip` is at `mac` (no ARP needed to reach it). */
  neighbour(ifname: string, ip: string, mac: string): void {
    runCommand('ip', [
      '-n',
      this.name,
      'neigh',
      'replace',
      ip,
      'lladdr',
      mac,
      'dev',
      ifname,
      'nud',
      'permanent',
    ]);
  }

  /** The MAC address of `ifname` inside the namespace, as @bypass/net's 48-bit number. */
  mac(ifname: string): number {
    return parseMac(this.exec('cat', [`/sys/class/net/${ifname}/address`]).trim());
  }

  /**
   * Creates a veth pair `rootIf` (root namespace, subnet.rootIp) and `nsIf` (in here,
   * subnet.nsIp), both up with IPv6 off. Kernel defaults otherwise: MTU 1500, offloads
   * (TSO/GSO/GRO) as the veth driver sets them. Names are at most 15 characters.
   */
  addVeth(rootIf: string, nsIf: string, subnet = freeSubnet()): Veth {
    runCommand('ip', ['link', 'add', rootIf, 'type', 'veth', 'peer', 'name', nsIf]);
    this.rootLinks.add(rootIf);
    this.rootLinks.add(nsIf);
    this.adopt(nsIf, `${subnet.nsIp}/${subnet.prefix}`);
    spawnSync('sysctl', ['-qw', `net.ipv6.conf.${rootIf}.disable_ipv6=1`]);
    runCommand('ip', ['addr', 'add', `${subnet.rootIp}/${subnet.prefix}`, 'dev', rootIf]);
    runCommand('ip', ['link', 'set', rootIf, 'up']);
    return { rootIf, nsIf, ...subnet };
  }

  /** Creates a veth pair between this namespace (`here`) and `other` (`there`), both down and
   * unaddressed: configure() each end. */
  addVethTo(other: Netns, here: string, there: string): void {
    runCommand('ip', [
      '-n',
      this.name,
      'link',
      'add',
      here,
      'type',
      'veth',
      'peer',
      'name',
      there,
      'netns',
      other.name,
    ]);
  }

  remove(): void {
    if (this.removed) return;
    this.removed = true;
    this.unhook();
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    spawnSync('ip', ['netns', 'del', this.name]);
    for (const l of this.rootLinks) spawnSync('ip', ['link', 'del', l], { stdio: 'ignore' });
  }
}
