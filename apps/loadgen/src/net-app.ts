// What every socket application here does around its sockets: on the main thread, give a port
// one rx/tx queue per worker lcore (RSS on when there are several) and a pool; on each lcore,
// build that lcore's NetRuntime on its queue. Also the one write form the apps need that the
// callback API lacks: a partial write that copies nothing beyond the send buffer.
import { OptionError } from '@bypass/atomics-sync';
import {
  lcoreList,
  mainLcore,
  memzoneLookup,
  memzoneReserve,
  now,
  pktmbufPoolCreate,
  pktmbufPoolLookup,
  quitRequested,
  runPollLoop,
} from '@bypass/eal';
import { mbufPoolOf, type PktmbufPool } from '@bypass/mempool';
import {
  ethDevConfigure,
  ethDevCount,
  ethDevInfo,
  ethDevStart,
  ethDevStop,
  ethRxQueueSetup,
  ethTxQueueSetup,
  RssHf,
  rxBurst,
} from '@bypass/pmd';
import { type CallbackSocket, NetRuntime } from '@bypass/socket-api';
import { type TcpOptions, TcpState } from '@bypass/tcp';

/** One lcore's place on the network: sent to the lcore as its launch argument. */
export interface LcoreNet {
  /** The ethdev port id. */
  port: number;
  /** This lcore's rx/tx queue. */
  queue: number;
  /** The pktmbuf pool (name) for the frames the stack sends. */
  pool: string;
  /** Address and prefix, like 10.0.0.2/24. */
  ip: string;
  gateway?: string;
  /** Static ARP entries, IP -> MAC. */
  neighbours?: Record<string, string>;
  tcp?: TcpOptions;
  maxConnections?: number;
  /**
   * Other pools whose mbufs can reach this lcore (a back-to-back peer's: its frames arrive in
   * its own mbufs). A thread must attach a pool before it touches, or frees, its mbufs.
   */
  attach?: string[];
  /**
   * A SharedWord this lcore's loop also stops on (runUntilStopped), set by the main thread at
   * the end of a run: the EAL's stop() would end every later run of this EAL too (its quit
   * flag stays set until cleanup()).
   */
  stopWord?: string;
  /** How many lcores take part in the run (the ready barrier, waitForRun). */
  runLcores?: number;
}

/** The worker lcores (every lcore but the main one), in order. */
export function workerLcores(): number[] {
  return lcoreList().filter((l) => l !== mainLcore());
}

/** The pool named `name`, created with `n` mbufs (per-lcore caches of 256) if it does not exist. */
export function appPool(name: string, n: number): PktmbufPool {
  try {
    return pktmbufPoolLookup(name);
  } catch {
    return pktmbufPoolCreate(name, { n, cacheSize: 256 });
  }
}

export interface PortSetup {
  /** rx descriptors per queue (default 1024). */
  rxDesc?: number;
  /** tx descriptors per queue (default 1024). */
  txDesc?: number;
}

/**
 * Configures and starts `port` with `queues` rx and tx queues fed from `pool` (main thread,
 * before the lcores run). RSS on the TCP/IP 4-tuple when there is more than one queue, so each
 * connection stays on one lcore.
 */
export function setupPort(port: number, queues: number, pool: string, o: PortSetup = {}): void {
  if (!Number.isInteger(port) || port < 0 || port >= ethDevCount()) {
    throw new OptionError(
      '--port-id',
      port,
      `a port id below ${ethDevCount()}, the number of ports (add one with --vdev, e.g. --vdev net_tap0,iface=bp0)`,
    );
  }
  if (ethDevInfo(port).state === 'started') ethDevStop(port);
  ethDevConfigure(port, {
    rxQueues: queues,
    txQueues: queues,
    rss: queues > 1 ? { hf: RssHf.IP | RssHf.TCP } : undefined,
  });
  for (let q = 0; q < queues; q++) {
    ethRxQueueSetup(port, q, { size: o.rxDesc ?? 1024, mempool: pool });
    ethTxQueueSetup(port, q, { size: o.txDesc ?? 1024 });
  }
  ethDevStart(port);
}

/** The port's name and driver, for the banner lines. */
export function portLabel(port: number): string {
  const i = ethDevInfo(port);
  return `port ${port} (${i.name}, ${i.mac}, ${i.rxQueues} queue${i.rxQueues > 1 ? 's, RSS' : ''})`;
}

/** This lcore's NetRuntime on its queue (NetRuntime.current() afterwards). */
export function createRuntime(n: LcoreNet): NetRuntime {
  for (const name of n.attach ?? []) pktmbufPoolLookup(name);
  return NetRuntime.create({
    port: n.port,
    queue: n.queue,
    pool: n.pool,
    ip: n.ip,
    gateway: n.gateway,
    neighbours: n.neighbours,
    tcp: n.tcp,
    maxConnections: n.maxConnections,
  });
}

/**
 * Writes as much of `bytes[off .. off + len)` as the send buffer takes and returns how much that
 * was (0 when the connection can no longer send). Unlike CallbackSocket.write, the rest is not
 * copied into a queue: the caller keeps its place and writes again from onDrain, which follows
 * a short write. Use it only while the socket's own queue is empty (it is, unless write() came
 * up short before).
 */
export function writeSome(s: CallbackSocket, bytes: Uint8Array, off: number, len: number): number {
  const t = s.tcp;
  const st = t.state;
  if (
    t.finQueued ||
    s.pendingBytes > 0 ||
    (st !== TcpState.ESTABLISHED && st !== TcpState.CLOSE_WAIT && st !== TcpState.SYN_RECEIVED)
  )
    return 0;
  return t.write(bytes, off, len, s.runtime.now());
}

/**
 * A word in shared memory (a memzone of its own, found by name from any lcore): a counter the
 * main thread polls (lcores that finished), or a flag it sets (stop).
 */
export class SharedWord {
  readonly words: Int32Array;
  constructor(readonly name: string) {
    const z = memzoneLookup(name) ?? memzoneReserve(name, 8);
    this.words = new Int32Array(z.sab, z.byteOffset, 2);
  }
  add(n = 1): void {
    Atomics.add(this.words, 0, n);
  }
  get value(): number {
    return Atomics.load(this.words, 0);
  }
  set(v: number): void {
    Atomics.store(this.words, 0, v);
  }
}

const STOPPED = new Error('stop word set');

/** The SharedWord where the lcores of a run stopped by `stopWord` count themselves ready. */
export function readyWordOf(stopWord: string): string {
  return `${stopWord}_ready`;
}

/**
 * The runtime's poll loop (what NetRuntime.run() does: runPollLoop over poll(), bounded by the
 * stack's next deadline) until the EAL stops or, when given, `stopWord` becomes non-zero. With
 * a stop word, the lcore first counts itself ready (adds 1 to readyWordOf(stopWord)): the load
 * generator's lcores start their load once every lcore of the run is polling (waitForRun).
 */
export async function runUntilStopped(rt: NetRuntime, stopWord?: string): Promise<void> {
  if (stopWord === undefined) {
    await rt.run();
    return;
  }
  const w = new SharedWord(stopWord).words;
  new SharedWord(readyWordOf(stopWord)).add();
  try {
    await runPollLoop(
      (t) => {
        // runPollLoop ends only on the EAL's quit flag; leaving it for our own flag is a throw.
        if (Atomics.load(w, 0) !== 0) throw STOPPED;
        return rt.poll(t);
      },
      { nextDue: () => rt.stack.nextDeadline() },
    );
  } catch (e) {
    if (e !== STOPPED) throw e;
  }
}

/**
 * An lcore function (remoteLaunch it with the port and queue the lcore used): frees what waits
 * on this lcore's rx queue; returns how many frames that was. The back-to-back runner launches
 * it on every lcore of a run once all have returned (nothing is sent any more), so the ports
 * stop with empty rings.
 *
 * Why not let ethDevStop free them: stopping a net_ring port frees what its rings hold from the
 * main thread, a second consumer; a thread that used the port keeps its port instance across a
 * restart (rxBurst looks at the configuration again only in a thread that never opened the
 * port), and that single-consumer ring handle's cached producer tail is then behind the
 * consumer tail the main thread moved: its next rxBurst reads stale slots (mbufs already freed,
 * a double free later). Emptied by their own consumer, the rings give the main thread nothing.
 */
export function drainRxQueue(arg: { port: number; queue: number }): number {
  const h = new Uint32Array(64);
  let total = 0;
  for (let n = rxBurst(arg.port, arg.queue, h, h.length); n > 0; ) {
    for (let i = 0; i < n; i++) mbufPoolOf(h[i]).free(h[i]);
    total += n;
    n = rxBurst(arg.port, arg.queue, h, h.length);
  }
  return total;
}

/**
 * Waits until every lcore of the run (`net.runLcores`) polls (see runUntilStopped), so a
 * measurement does not start while a server lcore is still loading its code; returns false if
 * the run was stopped (stop word, EAL stop) or `limitMs` passed first.
 */
export async function waitForRun(net: LcoreNet, limitMs = 30_000): Promise<boolean> {
  if (net.stopWord === undefined || net.runLcores === undefined) return true;
  const ready = new SharedWord(readyWordOf(net.stopWord));
  const stopped = new SharedWord(net.stopWord);
  const end = now() + limitMs;
  while (ready.value < net.runLcores) {
    if (stopped.value !== 0 || quitRequested() || now() > end) return false;
    await new Promise((r) => setTimeout(r, 1));
  }
  return true;
}
