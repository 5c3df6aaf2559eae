// Network namespaces, veth pairs and the processes run inside them, for `pnpm bench tcp-tap`
// (baseline and subject alike). Everything created here is removed by remove(), which also runs
// on SIGINT/SIGTERM and at process exit (uncaught errors included), whichever comes first; a
// namespace left over by a run that was killed outright (SIGKILL) is removed by removeStale()
// at the next start. Names carry our pid: namespace bptcp<pid>, veth ends bptr<pid> (root side)
// and bptn<pid> (namespace side).
//
// Addresses: 10.x private space only, and only on interfaces this file creates. The veth's root
// end gets 10.99.N.1/30 and its namespace end 10.99.N.2/30, N in 128..255 picked so that the /30
// overlaps no route of the root namespace (so we shadow nothing). Interfaces moved into the
// namespace (a tap port's, for the subject) get whatever 10.x address the caller gives them;
// inside the namespace nothing else exists.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';

/** Why the benchmark cannot run here, or undefined when it can. */
export function unavailable(): string | undefined {
  if (process.platform !== 'linux')
    return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'not root: creating network namespaces and veth pairs needs CAP_NET_ADMIN';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed';
  return undefined;
}

/** Runs a command, returns its stdout; throws with its stderr when it fails. */
export function sh(cmd: string, args: string[], timeoutMs = 10_000): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: 'pipe' });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    const why = err.stderr?.trim() || err.message;
    throw new Error(`tcp-tap: ${cmd} ${args.join(' ')}: ${why}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Cleanup: one set of hooks for everything this process created.

const cleanups = new Set<() => void>();
let hooked = false;

function runCleanups(): void {
  for (const c of [...cleanups].reverse()) {
    try {
      c();
    } catch {
      // keep going: remove as much as we can
    }
  }
}

/** Registers `fn` to run at exit and on SIGINT/SIGTERM; returns the function that unregisters. */
export function onCleanup(fn: () => void): () => void {
  cleanups.add(fn);
  if (!hooked) {
    hooked = true;
    process.once('exit', runCleanups);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        console.error(`tcp-tap: ${sig}: removing what the benchmark created`);
        runCleanups();
        process.exit(sig === 'SIGINT' ? 130 : 143);
      });
    }
  }
  return () => cleanups.delete(fn);
}

/** Removes namespaces bptcp<pid> whose process is gone (a run killed outright); returns them. */
export function removeStale(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  const removed: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^bptcp(\d+)\b/.exec(line.trim());
    if (m === null || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // still running: not ours to touch
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    spawnSync('ip', ['netns', 'del', `bptcp${m[1]}`]);
    spawnSync('ip', ['link', 'del', `bptr${m[1]}`]);
    removed.push(`bptcp${m[1]}`);
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------
// IPv4 prefixes.

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) {
    throw new RangeError(`tcp-tap: not an IPv4 address: ${ip}`);
  }
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

function overlaps(a: string, aLen: number, b: string, bLen: number): boolean {
  const len = Math.min(aLen, bLen);
  if (len === 0) return true;
  const mask = len === 32 ? 0xffffffff : (~((1 << (32 - len)) - 1) >>> 0) >>> 0;
  return (ipToInt(a) & mask) >>> 0 === (ipToInt(b) & mask) >>> 0;
}

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
function rootPrefixes(): [string, number][] {
  const out = sh('ip', ['-4', '-o', 'route', 'show', 'table', 'all']);
  const prefixes: [string, number][] = [];
  for (const line of out.split('\n')) {
    const t = line.trim().split(/\s+/);
    const dst = ROUTE_TYPES.has(t[0]) ? t[1] : t[0];
    if (dst === undefined || dst === '' || dst === 'default') continue;
    const [ip, len] = dst.split('/');
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) continue;
    prefixes.push([ip, len === undefined ? 32 : Number(len)]);
  }
  return prefixes;
}

/** A /30 in 10.99.128.0/17 that no route of the root namespace overlaps: .1 root, .2 namespace. */
export function freeSubnet(): { rootIp: string; nsIp: string; prefix: number } {
  const used = rootPrefixes();
  for (let k = 0; k < 128 * 64; k++) {
    const i = (process.pid + k) % (128 * 64);
    const base = `10.99.${128 + (i >> 6)}.${(i & 63) * 4}`;
    if (used.some(([ip, len]) => overlaps(base, 30, ip, len))) continue;
    const b = ipToInt(base);
    const ip = (x: number) => [x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff].join('.');
    return { rootIp: ip(b + 1), nsIp: ip(b + 2), prefix: 30 };
  }
  throw new Error('tcp-tap: every /30 of 10.99.128.0/17 overlaps a route of the root namespace');
}

// ---------------------------------------------------------------------------------------------
// A process in the namespace.

/** A process whose stdout lines we read (the peers print "go ..." then one JSON line). */
export class Peer {
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  private err = '';
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
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

  /** The next stdout line; throws if the process ended first or `ms` passed. */
  async line(ms = 10_000): Promise<string> {
    const end = performance.now() + ms;
    while (this.lines.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        await this.exited; // its last output is in
        if (this.lines.length > 0) break;
        throw new Error(
          `tcp-tap: a peer ended (${this.child.exitCode ?? this.child.signalCode}) without a line${this.err ? `: ${this.stderr}` : ''}`,
        );
      }
      const left = end - performance.now();
      if (left <= 0) throw new Error(`tcp-tap: a peer said nothing for ${ms} ms`);
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

// ---------------------------------------------------------------------------------------------
// The namespace.

/** A network namespace (default name bptcp<pid>): created by the constructor with its loopback
 * up, removed by remove() (idempotent; also at exit and on SIGINT/SIGTERM). */
export class Netns {
  readonly children = new Set<ChildProcess>();
  /** Root-namespace interfaces we created (veth ends), deleted on remove() if still there. */
  readonly rootLinks = new Set<string>();
  private removed = false;
  private readonly unhook: () => void;

  constructor(readonly name = `bptcp${process.pid}`) {
    sh('ip', ['netns', 'add', name]);
    this.unhook = onCleanup(() => this.remove());
    try {
      sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    } catch (e) {
      this.remove();
      throw e;
    }
  }

  /** Runs `cmd` inside the namespace to completion (`ip netns exec`); returns its stdout. */
  exec(cmd: string, args: string[], timeoutMs = 10_000): string {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args], timeoutMs);
  }

  /** Starts `cmd` inside the namespace (`ip netns exec` execs it: the child's pid is the
   * command's). Killed by remove(). */
  spawn(cmd: string, args: string[], cwd?: string): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd,
    });
    this.children.add(c);
    c.once('exit', () => this.children.delete(c));
    return c;
  }

  /** spawn(), with its stdout read line by line. */
  peer(cmd: string, args: string[], cwd?: string): Peer {
    return new Peer(this.spawn(cmd, args, cwd));
  }

  /** Moves a root-namespace interface (a tap port's) in, gives it `cidr` (10.x), turns IPv6 off
   * on it and brings it up. */
  adopt(ifname: string, cidr: string): void {
    sh('ip', ['link', 'set', ifname, 'netns', this.name]);
    this.rootLinks.delete(ifname);
    this.configure(ifname, cidr);
  }

  /** Creates a veth pair bptr<pid> (root side, `rootIp`/30) and bptn<pid> (in the namespace,
   * `nsIp`/30), both up, IPv6 off (no router solicitations or MLD). Kernel defaults otherwise:
   * MTU 1500, offloads (TSO/GSO/GRO) as the veth driver sets them. */
  addVeth(subnet = freeSubnet()): Veth {
    const id = this.name.startsWith('bptcp') ? this.name.slice(5) : String(process.pid);
    const rootIf = `bptr${id}`.slice(0, 15);
    const nsIf = `bptn${id}`.slice(0, 15);
    sh('ip', ['link', 'add', rootIf, 'type', 'veth', 'peer', 'name', nsIf]);
    this.rootLinks.add(rootIf);
    this.rootLinks.add(nsIf);
    sh('ip', ['link', 'set', nsIf, 'netns', this.name]);
    this.rootLinks.delete(nsIf);
    this.configure(nsIf, `${subnet.nsIp}/${subnet.prefix}`);
    spawnSync('sysctl', ['-qw', `net.ipv6.conf.${rootIf}.disable_ipv6=1`]);
    sh('ip', ['addr', 'add', `${subnet.rootIp}/${subnet.prefix}`, 'dev', rootIf]);
    sh('ip', ['link', 'set', rootIf, 'up']);
    return { rootIf, nsIf, ...subnet };
  }

  private configure(ifname: string, cidr: string): void {
    try {
      this.exec('sysctl', ['-qw', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
    } catch {
      // no IPv6 in this kernel: nothing to turn off
    }
    sh('ip', ['-n', this.name, 'addr', 'add', cidr, 'dev', ifname]);
    sh('ip', ['-n', this.name, 'link', 'set', ifname, 'up']);
  }

  /** Kills its processes, deletes the namespace (and with it every interface inside, so the
   * veth pair) and any root-side link we made that is still there. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    this.unhook();
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    spawnSync('ip', ['netns', 'del', this.name]);
    for (const l of this.rootLinks) {
      spawnSync('ip', ['link', 'del', l], { stdio: 'ignore' });
    }
  }
}

export interface Veth {
  rootIf: string;
  nsIf: string;
  /** The root end's address and the namespace end's, in one /prefix. */
  rootIp: string;
  nsIp: string;
  prefix: number;
}

/** What the baseline runs over: a namespace joined to the root namespace by a veth pair. */
export interface VethTopology {
  ns: Netns;
  veth: Veth;
  /** Removes the namespace and the veth pair (idempotent). */
  remove(): void;
}

/** Creates namespace + veth pair (see Netns.addVeth); on any failure removes what it made. */
export function createVethTopology(name?: string): VethTopology {
  removeStale();
  const ns = new Netns(name);
  try {
    const veth = ns.addVeth();
    return { ns, veth, remove: () => ns.remove() };
  } catch (e) {
    ns.remove();
    throw e;
  }
}
