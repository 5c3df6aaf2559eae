import { OptionError } from '@bypass/atomics-sync';
import {
  ealWasmMemory,
  now,
  type PollLoopResult,
  pktmbufPoolLookup,
  runPollLoop,
} from '@bypass/eal';
import type { PktmbufPool } from '@bypass/mempool';
import {
  getMac,
  parseIpv4,
  parseMac,
  Reta,
  registerChecksumMemory,
  rssKeyFromHex,
  Toeplitz,
} from '@bypass/net';
import { ethDevByName, ethDevInfo, ethMacAddr, ethRssRetaQuery } from '@bypass/pmd';
import { Stack, type StackOptions, type TcpOptions } from '@bypass/tcp';
import { StackPort } from './stack-port.js';

/**
 * One lcore's network: a Stack bound to one queue of a port, and the poll loop that drives it.
 * Everything in socket-api runs on a NetRuntime: the callback sockets, the node:net-compatible
 * Server and Socket, transparent mode. One runtime per thread (`NetRuntime.current()`), as DPDK
 * applications keep one stack per lcore.
 *
 * Application code runs in the same thread, from the runtime's callbacks (synchronously, while a
 * frame is processed) or from the event loop between poll slices (timers, promises, streams).
 * What it sends is queued in the stack and leaves on the next poll.
 */
export interface NetRuntimeOptions {
  /** The ethdev port (id or name). Started by the main thread before the runtime is created. */
  port: number | string;
  /** This runtime's rx/tx queue (default 0). */
  queue?: number;
  /** The pool for frames the stack sends (a pool, or the name of one; default 'mbuf_pool'). */
  pool?: string | PktmbufPool;
  /** Address and prefix, like 10.0.0.2/24. */
  ip: string;
  gateway?: string;
  /** Default: the port's own MAC. */
  mac?: string;
  mtu?: number;
  checksum?: StackOptions['checksum'];
  tsoMaxBytes?: number;
  tcp?: TcpOptions;
  maxConnections?: number;
  /**
   * Choose outgoing ports so replies come back to this queue (Seastar, F-Stack, mTCP). Default:
   * on when the port has more than one rx queue.
   */
  rss?: boolean;
  /** Static neighbours: IPv4 address -> MAC. */
  neighbours?: Record<string, string>;
}

let current: NetRuntime | undefined;

export class NetRuntime {
  readonly stack: Stack;
  readonly stackPort: StackPort<Stack>;
  readonly port: number;
  readonly queue: number;
  #running = false;
  /** Callbacks run after every poll (the socket layers flush what they owe). */
  readonly #afterPoll: ((now: number) => void)[] = [];

  /** The runtime of this thread. Throws when there is none. */
  static current(): NetRuntime {
    if (current === undefined) {
      throw new Error(
        'no NetRuntime in this thread: create one with NetRuntime.create({ port, ip }) on the lcore (or run the program with `bypass run`)',
      );
    }
    return current;
  }

  static maybeCurrent(): NetRuntime | undefined {
    return current;
  }

  /** Creates this thread's runtime (replacing none: one per thread). */
  static create(options: NetRuntimeOptions): NetRuntime {
    if (current !== undefined) {
      throw new Error('this thread already has a NetRuntime; close() it before creating another');
    }
    current = new NetRuntime(options);
    return current;
  }

  /** A runtime that is not this thread's current one (tests: several stacks in one thread). */
  static detached(options: NetRuntimeOptions): NetRuntime {
    return new NetRuntime(options);
  }

  private constructor(o: NetRuntimeOptions) {
    const port = typeof o.port === 'string' ? ethDevByName(o.port) : o.port;
    const info = ethDevInfo(port);
    const queue = o.queue ?? 0;
    if (!Number.isInteger(queue) || queue < 0 || queue >= info.rxQueues) {
      throw new OptionError(
        'queue',
        queue,
        `a queue of port ${info.name}, 0 to ${info.rxQueues - 1}`,
      );
    }
    const pool = typeof o.pool === 'object' ? o.pool : pktmbufPoolLookup(o.pool ?? 'mbuf_pool');
    // Pools in the EAL's WebAssembly memory: software checksums run in place (SIMD).
    const wasm = ealWasmMemory();
    if (wasm !== null) registerChecksumMemory(wasm);
    const useRss = o.rss ?? info.rxQueues > 1;
    let rss: StackOptions['rss'];
    if (useRss) {
      const key = info.rss?.key;
      const toeplitz = new Toeplitz(rssKeyFromHex(key));
      const entries = ethRssRetaQuery(port);
      const size = 1 << Math.ceil(Math.log2(Math.max(64, Math.min(512, entries.length))));
      const reta = new Reta({ queues: info.rxQueues, size });
      reta.update(entries.slice(0, size));
      rss = { toeplitz, reta, queue };
    }
    const mac = o.mac ?? getMac(ethMacAddr(port), 0);
    this.stack = new Stack({
      pool,
      mac,
      ip: o.ip,
      gateway: o.gateway,
      mtu: o.mtu,
      checksum: o.checksum,
      tsoMaxBytes: o.tsoMaxBytes,
      tcp: o.tcp,
      maxConnections: o.maxConnections,
      rss,
      startMs: now(),
    });
    for (const [ip, m] of Object.entries(o.neighbours ?? {})) {
      this.stack.arp.addStatic(parseIpv4(ip), parseMac(m));
    }
    this.port = port;
    this.queue = queue;
    this.stackPort = new StackPort(this.stack, port, queue, 32);
    this.stack.announce();
  }

  /** Milliseconds on the runtime's clock (the EAL clock). */
  now(): number {
    return now();
  }

  /** Runs `fn` after every poll (until the returned function is called). */
  onAfterPoll(fn: (now: number) => void): () => void {
    this.#afterPoll.push(fn);
    return () => {
      const i = this.#afterPoll.indexOf(fn);
      if (i >= 0) this.#afterPoll.splice(i, 1);
    };
  }

  /** One iteration: rx burst, stack, timers, tx burst. Returns the frames moved. */
  poll(t: number = now()): number {
    let n = this.stackPort.poll(t);
    const after = this.#afterPoll;
    for (let i = 0; i < after.length; i++) after[i](t);
    if (this.stack.txCount > 0) n += this.stackPort.flush();
    return n;
  }

  /**
   * The lcore's poll loop, until the EAL stops (busy or adaptive, sliced so the event loop runs
   * between slices: application timers, promises and streams keep working).
   */
  async run(): Promise<PollLoopResult> {
    if (this.#running) throw new Error('NetRuntime.run() is already running');
    this.#running = true;
    try {
      return await runPollLoop((t) => this.poll(t), { nextDue: () => this.stack.nextDeadline() });
    } finally {
      this.#running = false;
    }
  }

  /** Drops every connection and frees the stack's mbufs. */
  close(): void {
    this.stack.close();
    if (current === this) current = undefined;
  }

  /**
   * Resets every connection (an RST to each peer, Stack.resetAll) and sends the RSTs now, before
   * the port goes away: what the kernel does for a process that dies with sockets open. The
   * application's sockets see ECONNABORTED. Stops early if the port takes no more frames.
   */
  resetAll(): void {
    const t = now();
    let before = Number.POSITIVE_INFINITY;
    for (;;) {
      const left = this.stack.resetAll(t);
      this.stackPort.flush();
      if (left === 0 || left >= before || this.stack.txCount > 0) return;
      before = left;
    }
  }
}
