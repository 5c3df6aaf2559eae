// The network namespace of `pnpm bench tap` and the processes the benchmark runs in it. All
// traffic of the benchmark stays inside this namespace; it is removed at the end, on an error,
// on SIGINT/SIGTERM and at process exit, whichever comes first.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadNative } from '@bypass/eal';

/** Why the benchmark cannot run here, or undefined when it can. */
export function unavailable(): string | undefined {
  if (process.platform !== 'linux') return `tap ports need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'not root: creating tap interfaces and network namespaces needs CAP_NET_ADMIN';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (modprobe tun)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed';
  if (spawnSync('python3', ['-c', 'import ctypes, select, socket']).status !== 0)
    return 'python3 (with ctypes) is not installed: the kernel-side flood and port-9 sink use it';
  const n = loadNative() as unknown as Record<string, unknown> | null;
  if (n === null || typeof n.tapOpen !== 'function')
    return 'the native addon with tap support (tapOpen) is not built';
  return undefined;
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: 'pipe' });
}

/** Datagram counters of the namespace's UDP stack (/proc/PID/net/snmp of a process in it). */
export interface UdpCounters {
  inDatagrams: number;
  noPorts: number;
  rcvbufErrors: number;
}

/** Counters of one interface as the namespace's kernel sees them (/proc/PID/net/dev). */
export interface DevCounters {
  rxPackets: number;
  rxDropped: number;
  txPackets: number;
  txDropped: number;
}

export interface PeerResult {
  sent: number;
  seconds: number;
  method: string;
}

/** A process running inside the namespace, whose stdout lines we read. */
export class Peer {
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    let buf = '';
    let err = '';
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
      err += d;
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        if (code !== 0 && code !== null && err) console.error(err.trim());
        for (const w of this.waiters.splice(0)) w();
        resolve(code);
      }),
    );
    child.once('error', (e) => {
      console.error(`bench tap: ${e.message}`);
    });
  }

  /** The next stdout line (undefined if the process ended first or `ms` passed). */
  async line(ms = 10_000): Promise<string | undefined> {
    const end = performance.now() + ms;
    while (this.lines.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return undefined;
      const left = end - performance.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.lines.shift();
  }

  /** Waits for the "go" line. */
  async started(): Promise<void> {
    const l = await this.line();
    if (l !== 'go') throw new Error(`bench tap: a peer did not start (said ${JSON.stringify(l)})`);
  }

  /** Waits for its JSON result line and its exit. */
  async result(): Promise<PeerResult> {
    const l = await this.line();
    await this.exited;
    if (l === undefined) throw new Error('bench tap: a peer ended without a result');
    return JSON.parse(l) as PeerResult;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** The namespace bpbench<pid>: created by the constructor, removed by remove() (idempotent). */
export class Netns {
  readonly name = `bpbench${process.pid}`;
  readonly children = new Set<ChildProcess>();
  private removed = false;
  /** A `cat` in the namespace reading our stdin pipe: its /proc/PID/net shows the namespace's
   * counters, and it ends by itself if this process dies without cleaning up. */
  private readonly watcher: ChildProcess;

  constructor() {
    sh('ip', ['netns', 'add', this.name]);
    const remove = () => this.remove();
    process.once('exit', remove);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        console.error(`bench tap: ${sig}: removing namespace ${this.name}`);
        remove();
        process.exit(sig === 'SIGINT' ? 130 : 143);
      });
    }
    try {
      sh('ip', ['-n', this.name, 'link', 'set', 'lo', 'up']);
      this.watcher = this.spawn('cat', []);
    } catch (e) {
      this.remove();
      throw e;
    }
  }

  /** Moves `ifname` in, gives it `cidr`, brings it up, turns IPv6 off on it (no router
   * solicitations or MLD reports in the counts) and adds a permanent neighbour entry. */
  adopt(ifname: string, cidr: string, neighbour: { ip: string; mac: string }): void {
    sh('ip', ['link', 'set', ifname, 'netns', this.name]);
    this.exec('sysctl', ['-qw', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
    sh('ip', ['-n', this.name, 'addr', 'add', cidr, 'dev', ifname]);
    sh('ip', ['-n', this.name, 'link', 'set', ifname, 'up']);
    sh('ip', [
      '-n',
      this.name,
      'neigh',
      'replace',
      neighbour.ip,
      'lladdr',
      neighbour.mac,
      'dev',
      ifname,
      'nud',
      'permanent',
    ]);
  }

  /** The MAC address of `ifname` inside the namespace, as bytes. */
  mac(ifname: string): number[] {
    return this.exec('cat', [`/sys/class/net/${ifname}/address`])
      .trim()
      .split(':')
      .map((x) => Number.parseInt(x, 16));
  }

  exec(cmd: string, args: string[]): string {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args]);
  }

  /** Starts `cmd` in the namespace (`ip netns exec` execs it: the child's pid is the command's). */
  spawn(cmd: string, args: string[], cwd?: string): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd,
    });
    this.children.add(c);
    c.once('exit', () => this.children.delete(c));
    return c;
  }

  peer(cmd: string, args: string[], cwd?: string): Peer {
    return new Peer(this.spawn(cmd, args, cwd));
  }

  private proc(file: string): string {
    return readFileSync(`/proc/${this.watcher.pid}/net/${file}`, 'utf8');
  }

  udp(): UdpCounters {
    const lines = this.proc('snmp')
      .split('\n')
      .filter((l) => l.startsWith('Udp:'));
    const names = lines[0].split(/\s+/).slice(1);
    const values = lines[1].split(/\s+/).slice(1).map(Number);
    const get = (n: string) => values[names.indexOf(n)] ?? 0;
    return {
      inDatagrams: get('InDatagrams'),
      noPorts: get('NoPorts'),
      rcvbufErrors: get('RcvbufErrors'),
    };
  }

  dev(ifname: string): DevCounters {
    const line = this.proc('dev')
      .split('\n')
      .find((l) => l.trim().startsWith(`${ifname}:`));
    if (line === undefined) throw new Error(`bench tap: no interface ${ifname} in ${this.name}`);
    const v = line.split(':')[1].trim().split(/\s+/).map(Number);
    return { rxPackets: v[1], rxDropped: v[3], txPackets: v[9], txDropped: v[11] };
  }

  remove(): void {
    if (this.removed) return;
    this.removed = true;
    for (const c of this.children) {
      if (c.exitCode === null) c.kill('SIGKILL');
    }
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}
