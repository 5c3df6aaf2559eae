// What `pnpm bench tap` adds to @bypass/pmd/netns: its extra requirement (python3), the kernel
// counters of its namespace, and the "go" / JSON-result protocol of its peers (flood.py, sink.py,
// peer.mjs). The namespace itself, and the rule that all traffic stays inside it and that it is
// removed at the end, on an error, on SIGINT/SIGTERM and at exit, are netns.ts's.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type Netns, type Peer, tapUnavailable } from '@bypass/pmd/netns';

/** Why the benchmark cannot run here, or undefined when it can. */
export function unavailable(): string | undefined {
  const tap = tapUnavailable();
  if (tap !== undefined) return tap;
  if (spawnSync('python3', ['-c', 'import ctypes, select, socket']).status !== 0)
    return 'python3 (with ctypes) is not installed: the kernel-side flood and port-9 sink use it';
  return undefined;
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

/** The namespace's kernel counters, read through /proc/PID/net of a `cat` that runs inside it
 * reading our stdin pipe (so it ends by itself if this process dies without cleaning up). */
export class NetnsCounters {
  private readonly watcher: ChildProcess;

  constructor(private readonly ns: Netns) {
    this.watcher = ns.spawn('cat', []);
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
    if (line === undefined) throw new Error(`bench tap: no interface ${ifname} in ${this.ns.name}`);
    const v = line.split(':')[1].trim().split(/\s+/).map(Number);
    return { rxPackets: v[1], rxDropped: v[3], txPackets: v[9], txDropped: v[11] };
  }
}

/** What a sender or receiver peer reports when it ends. */
export interface PeerResult {
  sent: number;
  seconds: number;
  method: string;
}

/** Waits for the peer's "go" line. */
export async function peerStarted(peer: Peer): Promise<void> {
  const l = await peer.line();
  if (l !== 'go') throw new Error(`bench tap: a peer did not start (said ${JSON.stringify(l)})`);
}

/** Waits for the peer's JSON result line and its exit (its stderr printed if it failed). */
export async function peerResult(peer: Peer): Promise<PeerResult> {
  const l = await peer.line();
  const code = await peer.exited;
  if (code !== 0 && code !== null && peer.stderr) console.error(peer.stderr);
  return JSON.parse(l) as PeerResult;
}
