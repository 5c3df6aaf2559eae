// A Stack on a net_tap port whose kernel side lives in a network namespace the rig creates:
// the stack runs in this thread (a poll loop on real time that yields to the event loop), and
// programs run inside the namespace (ping, python, dumpcap) as child processes. Everything the
// rig creates (namespace, interface, children, temporary files) goes away in `close()`, which is
// safe to call after any failure and more than once. Traffic goes only to addresses inside the
// namespace the rig creates.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { cleanup, init, now, pktmbufPoolCreate } from '@bypass/eal';
import type { PktmbufPool } from '@bypass/mempool';
import {
  ethDevConfigure,
  ethDevStart,
  ethDevStop,
  ethRxQueueSetup,
  ethTxQueueSetup,
} from '@bypass/pmd';
import { Netns, tapUnavailable } from '@bypass/pmd/netns';
import { Stack, type StackOptions } from '@bypass/tcp';
import { StackPort } from '../src/stack-port.js';

/** Why these tests cannot run here (tap support, root, python3, tshark), or undefined. */
export function interopUnavailable(): string | undefined {
  const tap = tapUnavailable();
  if (tap !== undefined) return tap;
  for (const [cmd, arg, pkg] of [
    ['python3', '--version', 'python3'],
    ['tshark', '--version', 'tshark'],
    ['dumpcap', '--version', 'tshark (dumpcap)'],
  ]) {
    if (spawnSync(cmd, [arg]).status !== 0) return `${cmd} is not installed (package ${pkg})`;
  }
  return undefined;
}

export const OUR_MAC = '02:00:00:00:00:aa';

export interface RigOptions {
  /** The third octet of 10.77.X.0/24: the kernel is .1, our stack .2. */
  subnet: number;
  /** The tap port's offload= argument (a virtio-net header on every frame). */
  offload?: 'csum' | 'tso';
  /** Stack options over the rig's (pool, mac, ip). */
  stack?: Partial<StackOptions>;
  /** The pool's data room (default 2048; 64 KB + 64 for offload=tso). */
  dataRoomSize?: number;
  /** Mbufs in the pool (rx and tx share it). */
  mbufs?: number;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A program running inside the namespace. */
export interface NsChild {
  readonly proc: ChildProcess;
  readonly done: Promise<ChildResult>;
  /** Set once it exited. */
  result: ChildResult | undefined;
  stdout: string;
  stderr: string;
}

const immediate = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class TapRig {
  readonly iface = `bpti${1000 + Math.floor(Math.random() * 9000)}`;
  readonly kernelIp: string;
  readonly ourIp: string;
  readonly dir = mkdtempSync(join(tmpdir(), 'bypass-tap-interop-'));
  ns: Netns | undefined;
  pool!: PktmbufPool;
  stack!: Stack;
  sp!: StackPort;
  /** Poll loop iterations and the ones that moved frames. */
  polls = 0;
  busyPolls = 0;
  #started = false;
  #children: NsChild[] = [];
  #closed = false;

  private constructor(readonly options: RigOptions) {
    this.kernelIp = `10.77.${options.subnet}.1`;
    this.ourIp = `10.77.${options.subnet}.2`;
  }

  /** Starts the tap port, moves its kernel side into a fresh namespace, builds the stack. */
  static async open(options: RigOptions): Promise<TapRig> {
    const rig = new TapRig(options);
    try {
      await rig.start();
    } catch (e) {
      await rig.close();
      throw e;
    }
    return rig;
  }

  private async start(): Promise<void> {
    const o = this.options;
    const offload = o.offload === undefined ? '' : `,offload=${o.offload}`;
    const room = o.dataRoomSize ?? 2048;
    const mbufs = o.mbufs ?? 4096;
    await init(
      {
        lcores: [0],
        pin: false,
        memoryMb: Math.max(64, Math.ceil(((room + 512) * mbufs) / 2 ** 20) + 32),
        vdevs: [`net_tap0,iface=${this.iface},mac=${OUR_MAC}${offload}`],
      },
      { handleSignals: false },
    );
    this.#started = true;
    this.pool = pktmbufPoolCreate('interop', {
      n: mbufs,
      cacheSize: 64,
      dataRoomSize: room,
    });
    ethDevConfigure(0, { rxQueues: 1, txQueues: 1 });
    ethRxQueueSetup(0, 0, { size: 1024, mempool: 'interop' });
    ethTxQueueSetup(0, 0, { size: 1024 });
    ethDevStart(0); // creates the interface in this (the root) namespace
    this.ns = new Netns();
    // Also turns IPv6 off on it: no router solicitations or MLD in the capture.
    this.ns.adopt(this.iface, `${this.kernelIp}/24`);
    this.stack = new Stack({
      pool: this.pool,
      mac: OUR_MAC,
      ip: `${this.ourIp}/24`,
      startMs: now(),
      ...o.stack,
    });
    this.sp = new StackPort(this.stack, 0);
  }

  /** The kernel side's MAC. */
  kernelMac(): string {
    return this.ns!.exec('cat', [`/sys/class/net/${this.iface}/address`]).trim();
  }

  /** Runs `cmd args` inside the namespace; its output is collected. */
  spawn(cmd: string, args: string[]): NsChild {
    const proc = this.ns!.spawn(cmd, args, { stdin: 'ignore' });
    const child: NsChild = {
      proc,
      result: undefined,
      stdout: '',
      stderr: '',
      done: undefined as unknown as Promise<ChildResult>,
    };
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      child.stdout += d;
    });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      child.stderr += d;
    });
    (child as { done: Promise<ChildResult> }).done = new Promise((resolve) => {
      proc.on('error', (e) => {
        child.stderr += String(e);
      });
      proc.on('close', (code, signal) => {
        child.result = { code, signal, stdout: child.stdout, stderr: child.stderr };
        resolve(child.result);
      });
    });
    this.#children.push(child);
    return child;
  }

  /**
   * Polls the stack on real time until `until()` holds; throws after `ms` naming `what`. Yields
   * to the event loop every few busy iterations and on every idle one (child processes' pipes
   * and exits are handled there); after a run of idle iterations it sleeps 1 ms at a time.
   */
  async pump(until: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = now() + ms;
    let idle = 0;
    let busy = 0;
    for (;;) {
      if (until()) return;
      const t = now();
      if (t > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      const moved = this.sp.poll(t);
      this.polls++;
      if (moved > 0) {
        this.busyPolls++;
        idle = 0;
        if (++busy % 8 === 0) await immediate();
      } else if (++idle < 200) await immediate();
      else await sleep(1);
    }
  }

  /**
   * The namespace's kernel TCP counters (nstat, absolute, history untouched): what Linux's side
   * saw of the connections, retransmissions and resets included.
   */
  kernelTcpCounters(): Record<string, number> {
    const names = [
      'TcpRetransSegs',
      'TcpOutRsts',
      'TcpExtTCPFastRetrans',
      'TcpExtTCPLossProbes',
      'TcpExtTCPTimeouts',
      'TcpExtTCPRenoRecovery',
      'TcpExtTCPSackRecovery',
      'TcpExtTCPSpuriousRTOs',
      'TcpExtTCPAbortOnData',
      'TcpExtTCPAbortOnClose',
      'TcpExtTCPRcvQDrop',
      'TcpExtTCPZeroWindowDrop',
      'TcpExtTCPWantZeroWindowAdv',
    ];
    const out = this.ns!.exec('nstat', ['-asz', '--json', ...names]);
    return (JSON.parse(out) as { kernel: Record<string, number> }).kernel;
  }

  /** Keeps polling for `ms`. */
  async idle(ms: number): Promise<void> {
    const end = now() + ms;
    await this.pump(() => now() >= end, ms + 1000, 'time to pass');
  }

  /** Pumps until the child exits; returns its result. */
  async waitChild(c: NsChild, ms: number, what: string): Promise<ChildResult> {
    await this.pump(() => c.result !== undefined, ms, what);
    return c.result!;
  }

  /**
   * Starts dumpcap on the namespace's side of the interface, writing libpcap `name` in the
   * rig's directory; stops by itself after `maxKb` kilobytes. Resolves once it captures.
   */
  async startCapture(name: string, maxKb: number): Promise<Capture> {
    const file = join(this.dir, name);
    const c = this.spawn('dumpcap', [
      '-i',
      this.iface,
      '-P',
      '-q',
      '-a',
      `filesize:${maxKb}`,
      '-w',
      file,
    ]);
    await this.pump(
      () => c.stderr.includes('Capturing on') || c.result !== undefined,
      10_000,
      'dumpcap to start',
    );
    if (c.result !== undefined) throw new Error(`dumpcap failed: ${c.stderr}`);
    // "Capturing on" comes a little before frames are really captured.
    await this.idle(300);
    return new Capture(this, c, file);
  }

  /** Kills what the rig started, stops the port, removes the namespace and the files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#children) {
      if (c.result === undefined) {
        c.proc.kill('SIGKILL');
        await c.done;
      }
    }
    this.#children = [];
    if (this.#started) {
      this.stack?.close();
      try {
        ethDevStop(0); // closes the tap fds: the interface goes away
      } catch {
        // never started
      }
      await cleanup();
    }
    this.ns?.remove();
    this.ns = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface TsharkReport {
  frames: number;
  /** `frame.number source info expert-messages ip-checksum tcp-checksum` of each flagged frame. */
  bad: string[];
}

export class Capture {
  constructor(
    private readonly rig: TapRig,
    private readonly child: NsChild,
    readonly file: string,
  ) {}

  /**
   * Stops dumpcap (SIGINT: it finishes the file), after a pause: libpcap hands over the last
   * frames a while after they were captured, and what is still in its ring buffer is lost.
   */
  async stop(): Promise<void> {
    if (this.child.result === undefined) {
      await this.rig.idle(400);
      this.child.proc.kill('SIGINT');
    }
    await this.rig.waitChild(this.child, 10_000, 'dumpcap to stop');
  }

  /**
   * tshark over the capture: frames that are malformed, carry an expert error, or (with
   * `checksums`) a bad IPv4 / TCP / UDP / ICMP checksum. TCP reassembly is off (speed; each
   * frame is still dissected in full). The TCP `dataPorts` carry test payload (random bytes,
   * partial HTTP bodies): decoded as plain data, so that no application dissector judges it.
   */
  analyze(checksums: boolean, dataPorts: number[] = []): TsharkReport {
    const bad = [
      '_ws.malformed',
      '_ws.expert.severity >= 8388608', // Error
      ...(checksums
        ? [
            'ip.checksum.status == 0',
            'tcp.checksum.status == 0',
            'udp.checksum.status == 0',
            'icmp.checksum.status == 0',
          ]
        : []),
    ].join(' || ');
    const prefs = checksums
      ? ['ip', 'tcp', 'udp'].flatMap((p) => ['-o', `${p}.check_checksum:TRUE`])
      : [];
    const r = spawnSync(
      'tshark',
      [
        '-r',
        this.file,
        '-n',
        '-o',
        'tcp.desegment_tcp_streams:FALSE',
        ...prefs,
        ...dataPorts.flatMap((p) => ['-d', `tcp.port==${p},data`]),
        '-Y',
        bad,
        '-T',
        'fields',
        '-e',
        'frame.number',
        '-e',
        'ip.src',
        '-e',
        '_ws.col.Info',
        '-e',
        '_ws.expert.message',
        '-e',
        'ip.checksum.status',
        '-e',
        'tcp.checksum.status',
      ],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 },
    );
    if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
    const keep = process.env.INTEROP_KEEP_CAPTURES;
    if (keep)
      copyFileSync(this.file, join(keep, `${basename(this.rig.dir)}-${basename(this.file)}`));
    const info = spawnSync('capinfos', ['-c', '-M', this.file], { encoding: 'utf8' });
    const m = /Number of packets:\s*(\d+)/.exec(info.stdout ?? '');
    const flagged = r.stdout.split('\n').filter((l) => l.trim() !== '');
    if (flagged.length > 0) {
      // Evidence: the first flagged frame dissected in full (same options).
      const v = spawnSync(
        'tshark',
        [
          '-r',
          this.file,
          '-n',
          '-o',
          'tcp.desegment_tcp_streams:FALSE',
          ...prefs,
          ...dataPorts.flatMap((p) => ['-d', `tcp.port==${p},data`]),
          '-V',
          '-Y',
          `frame.number == ${Number.parseInt(flagged[0], 10)}`,
        ],
        { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 },
      );
      console.log(v.stdout.split('\n').slice(0, 120).join('\n'));
    }
    return { frames: m ? Number(m[1]) : -1, bad: flagged };
  }

  /** tshark's one-line summaries of the frames matching `filter` (TCP analysis on). */
  matching(filter: string): string[] {
    const r = spawnSync('tshark', ['-r', this.file, '-n', '-Y', filter], {
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 64 << 20,
    });
    if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l.trim() !== '');
  }

  /** tshark's one-line summaries (of the first `max` frames read; filtered by `filter`). */
  summary(filter = '', max = 40): string {
    const r = spawnSync(
      'tshark',
      ['-r', this.file, '-n', ...(filter ? ['-Y', filter] : []), '-c', String(max)],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 },
    );
    return r.stdout;
  }
}
