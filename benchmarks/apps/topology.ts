// The network of `pnpm bench apps`: a client namespace (wrk and client.mjs run there) and a server
// namespace (the kernel's app, and `bypass run`, run there), joined by a veth pair. bypass's tap
// interface is created in the server namespace by `bypass run` and moved into the client
// namespace, so the client reaches the app over the veth (kernel) or the tap (bypass) and nothing
// else: no interface or route of the root namespace is touched.
//
// Names carry our pid: namespaces bpac<pid> (client) and bpas<pid> (server), veth ends bpavc<pid>
// and bpavs<pid>, tap interfaces bpat<pid>x<n>. Everything is removed by remove(), which also
// runs at process exit (uncaught errors included) and on SIGINT/SIGTERM; namespaces left by a
// run killed outright (SIGKILL) are removed by removeStale() at the next start.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** Addresses, all inside the two namespaces. */
export const VETH_CLIENT_IP = '10.97.1.1';
export const VETH_SERVER_IP = '10.97.1.2';
export const TAP_CLIENT_IP = '10.97.2.1';
export const TAP_STACK_IP = '10.97.2.2';
export const PREFIX = 24;

/** The CPU that bypass's busy-polling worker lcore is pinned to (lcore 1 of --lcores 0-1). */
export const SERVER_CPU = 1;

/**
 * Each side's receive processing stays on its own CPUs, as on two machines (RPS on both ends,
 * in both setups): the client namespace's interfaces (the veth end, the tap) steer theirs to
 * every CPU but SERVER_CPU, the server's veth end to SERVER_CPU. Without it the kernel runs one
 * side's TCP receive path inside the other side's send (in write(2) on the tap, in the veth's
 * transmit): the server would pay for its client's receives, and the kernel's app would get its
 * own receives done on the client's CPU for free. Measured here (2026-12-06), client side
 * only: bypass's node:http GET 68 k -> 84 k req/s, the kernel's 57 k -> 54 k.
 */
export function clientRpsMask(): string {
  const cpus = availableParallelism();
  const mask = (cpus >= 31 ? 0x7fffffff : (1 << cpus) - 1) & ~(1 << SERVER_CPU);
  return mask.toString(16);
}

/** The server's receive queues' RPS mask: SERVER_CPU only (see clientRpsMask). */
export function serverRpsMask(): string {
  return (1 << SERVER_CPU).toString(16);
}

/**
 * The CPUs the client (wrk, client.mjs) runs on: every CPU but SERVER_CPU, in both setups, as
 * `taskset -c` takes them. A client left to the scheduler lands on the busy-polling lcore's CPU
 * now and then and takes time slices from it (the kernel's app, which sleeps when idle, hardly
 * notices); pinned, the client is the other machine it stands for.
 */
export function clientCpuList(): string {
  const cpus = availableParallelism();
  const list: string[] = [];
  if (SERVER_CPU > 0) list.push(SERVER_CPU === 1 ? '0' : `0-${SERVER_CPU - 1}`);
  if (cpus - 1 > SERVER_CPU)
    list.push(cpus - 1 === SERVER_CPU + 1 ? `${cpus - 1}` : `${SERVER_CPU + 1}-${cpus - 1}`);
  return list.join(',');
}

/** Why the benchmark cannot run here, or undefined when it can. */
export function unavailable(): string | undefined {
  if (process.platform !== 'linux')
    return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'not root: network namespaces, veth pairs and tap devices need CAP_NET_ADMIN';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed';
  if (spawnSync('wrk', ['-v']).error !== undefined) return 'wrk is not installed';
  if (spawnSync('taskset', ['-V']).status !== 0) return 'taskset (util-linux) is not installed';
  if (availableParallelism() < 2) return 'one CPU: the client needs one besides the server';
  if (spawnSync('openssl', ['version']).status !== 0) return 'openssl is not installed';
  return undefined;
}

/** Runs a command, returns its stdout; throws with its stderr when it fails. */
export function sh(cmd: string, args: string[], timeoutMs = 10_000): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: 'pipe' });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`apps: ${cmd} ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

/** Removes namespaces bpac<pid>/bpas<pid> whose process is gone; returns their names. */
export function removeStale(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  const removed: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^(bpa[cs])(\d+)\b/.exec(line.trim());
    if (m === null || Number(m[2]) === process.pid) continue;
    try {
      process.kill(Number(m[2]), 0);
      continue; // still running: not ours to touch
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    spawnSync('ip', ['netns', 'del', `${m[1]}${m[2]}`]);
    removed.push(`${m[1]}${m[2]}`);
  }
  return removed;
}

/** The two namespaces and the veth pair; children started with spawn() die with it. */
export class Topology {
  readonly client = `bpac${process.pid}`;
  readonly server = `bpas${process.pid}`;
  readonly vethClient = `bpavc${process.pid}`.slice(0, 15);
  readonly vethServer = `bpavs${process.pid}`.slice(0, 15);
  private readonly children = new Set<ChildProcess>();
  private taps = 0;
  private removed = false;
  private readonly onSignal = (sig: NodeJS.Signals) => {
    console.error(`apps: ${sig}: removing the namespaces the benchmark created`);
    this.remove();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  private readonly onExit = () => this.remove();

  constructor() {
    removeStale();
    process.once('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    try {
      for (const ns of [this.client, this.server]) {
        sh('ip', ['netns', 'add', ns]);
        sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      }
      sh('ip', [
        '-n',
        this.client,
        'link',
        'add',
        this.vethClient,
        'type',
        'veth',
        'peer',
        'name',
        this.vethServer,
        'netns',
        this.server,
      ]);
      this.configure(this.client, this.vethClient, `${VETH_CLIENT_IP}/${PREFIX}`);
      this.steer(this.client, this.vethClient, clientRpsMask());
      this.steer(this.server, this.vethServer, serverRpsMask());
      this.configure(this.server, this.vethServer, `${VETH_SERVER_IP}/${PREFIX}`);
    } catch (e) {
      this.remove();
      throw e;
    }
  }

  /** A new tap interface name (the kernel may still be tearing down the previous one). */
  nextTapName(): string {
    return `bpat${process.pid}x${this.taps++}`.slice(0, 15);
  }

  /** Waits for `ifname` to appear in the server namespace (bypass run creates it), then moves it
   * into the client namespace with TAP_CLIENT_IP. Throws after `ms`. */
  async adoptTap(ifname: string, ms: number, alive: () => boolean): Promise<void> {
    const end = performance.now() + ms;
    while (spawnSync('ip', ['-n', this.server, 'link', 'show', ifname]).status !== 0) {
      if (!alive()) throw new Error(`bypass run ended before it created ${ifname}`);
      if (performance.now() > end) throw new Error(`no interface ${ifname} after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    sh('ip', ['-n', this.server, 'link', 'set', ifname, 'netns', this.client]);
    this.configure(this.client, ifname, `${TAP_CLIENT_IP}/${PREFIX}`);
    this.steer(this.client, ifname, clientRpsMask());
  }

  /** Sets `ifname`'s receive queues in `ns` to RPS `mask` (sysfs as `ip netns exec` mounts it for
   * the namespace). Throws when the kernel has no RPS (the figures would not compare). */
  private steer(ns: string, ifname: string, mask: string): void {
    const dir = `/sys/class/net/${ifname}/queues`;
    const script = `for q in ${dir}/rx-*; do echo ${mask} > $q/rps_cpus || exit 1; done; cat ${dir}/rx-0/rps_cpus`;
    const got = sh('ip', ['netns', 'exec', ns, 'sh', '-c', script]).trim();
    if (Number.parseInt(got.replace(/,/g, ''), 16) !== Number.parseInt(mask, 16))
      throw new Error(`apps: ${ifname}: rps_cpus reads ${got}, not ${mask}`);
  }

  /** Starts `cmd` in namespace `ns` (`ip netns exec` execs it, so the child is the command). */
  spawn(ns: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }) {
    const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: opts.cwd,
      env: opts.env,
    });
    this.children.add(c);
    c.once('exit', () => this.children.delete(c));
    return c;
  }

  private configure(ns: string, ifname: string, cidr: string): void {
    spawnSync('ip', [
      'netns',
      'exec',
      ns,
      'sysctl',
      '-qw',
      `net.ipv6.conf.${ifname}.disable_ipv6=1`,
    ]);
    sh('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', ifname]);
    sh('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
  }

  /** Kills the children still running, deletes both namespaces (and so every interface in them).
   * Idempotent. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    for (const ns of [this.client, this.server]) spawnSync('ip', ['netns', 'del', ns]);
  }
}
