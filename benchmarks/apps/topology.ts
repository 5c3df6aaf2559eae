// The network of `pnpm bench apps`: a client namespace (wrk and client.mjs run there) and a server
// namespace (the kernel's app, and `bypass run`, run there), joined by a veth pair. bypass's tap
// interface is created in the server namespace by `bypass run` and moved into the client
// namespace, so the client reaches the app over the veth (kernel) or the tap (bypass) and nothing
// else: no interface or route of the root namespace is touched.
//
// Names carry our pid: namespaces bpac<pid> (client) and bpas<pid> (server), veth ends bpavc<pid>
// and bpavs<pid>, tap interfaces bpat<pid>x<n>. The namespaces are @bypass/pmd/netns's: removed
// by remove(), and also at process exit (uncaught errors included) and on SIGINT/SIGTERM;
// namespaces left by a run killed outright (SIGKILL) are removed at the next start.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { commandMissing, Netns, removeStale, tapUnavailable } from '@bypass/pmd/netns';

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
  return (
    tapUnavailable() ??
    commandMissing('wrk', ['-v']) ??
    commandMissing('taskset', ['-V'], 'util-linux') ??
    (availableParallelism() < 2 ? 'one CPU: the client needs one besides the server' : undefined) ??
    commandMissing('openssl', ['version'])
  );
}

/** The two namespaces and the veth pair; children started in them die with them. */
export class Topology {
  readonly client: Netns;
  readonly server: Netns;
  readonly vethClient = `bpavc${process.pid}`.slice(0, 15);
  readonly vethServer = `bpavs${process.pid}`.slice(0, 15);
  private taps = 0;

  constructor() {
    removeStale('bpac');
    removeStale('bpas');
    this.client = new Netns(`bpac${process.pid}`);
    try {
      this.server = new Netns(`bpas${process.pid}`);
    } catch (e) {
      this.client.remove();
      throw e;
    }
    try {
      this.client.addVethTo(this.server, this.vethClient, this.vethServer);
      this.client.configure(this.vethClient, `${VETH_CLIENT_IP}/${PREFIX}`);
      this.steer(this.client, this.vethClient, clientRpsMask());
      this.steer(this.server, this.vethServer, serverRpsMask());
      this.server.configure(this.vethServer, `${VETH_SERVER_IP}/${PREFIX}`);
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
    while (spawnSync('ip', ['-n', this.server.name, 'link', 'show', ifname]).status !== 0) {
      if (!alive()) throw new Error(`bypass run ended before it created ${ifname}`);
      if (performance.now() > end) throw new Error(`no interface ${ifname} after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.client.adopt(ifname, `${TAP_CLIENT_IP}/${PREFIX}`, this.server);
    this.steer(this.client, ifname, clientRpsMask());
  }

  /** Sets `ifname`'s receive queues in `ns` to RPS `mask` (sysfs as `ip netns exec` mounts it for
   * the namespace). Throws when the kernel has no RPS (the figures would not compare). */
  private steer(ns: Netns, ifname: string, mask: string): void {
    const dir = `/sys/class/net/${ifname}/queues`;
    const script = `for q in ${dir}/rx-*; do echo ${mask} > $q/rps_cpus || exit 1; done; cat ${dir}/rx-0/rps_cpus`;
    const got = ns.exec('sh', ['-c', script]).trim();
    if (Number.parseInt(got.replace(/,/g, ''), 16) !== Number.parseInt(mask, 16))
      throw new Error(`apps: ${ifname}: rps_cpus reads ${got}, not ${mask}`);
  }

  /** Kills the children still running, deletes both namespaces (and so every interface in them).
   * Idempotent. */
  remove(): void {
    this.server.remove();
    this.client.remove();
  }
}
