import { createHash, randomBytes } from 'node:crypto';
import { OptionError } from '@bypass/atomics-sync';
import { MbufOlFlag, mbufPoolOf, type PktmbufPool } from '@bypass/mempool';
import type { TimerWheel } from '@bypass/timer';
import type { ArpCache } from './iface/arp-cache.js';
import type { Ipv4Reassembler } from './iface/reassembly.js';
import type { RouteTable } from './iface/routes.js';
import type { ConnTable } from './socket/conn-table.js';
import type { TcpListener, TcpListenerHandlers } from './socket/listener.js';
import type { ResolvedTcpOptions, TcpOptions } from './socket/options.js';
import type { TcpHandlers, TcpSocket, TcpStats } from './socket/tcp.js';
import type { UdpHandlers, UdpSocket } from './socket/udp.js';
import { EthernetLayer } from './stack/ethernet.js';
import { Interface, type StackStats } from './stack/interface.js';
import { Ipv4Layer } from './stack/ipv4.js';
import type { StackOptions, TcpListenOptions } from './stack/options.js';
import { TcpLayer } from './stack/tcp.js';
import { UdpLayer } from './stack/udp.js';

export type { StackStats } from './stack/interface.js';
export type { StackOptions, TcpListenOptions } from './stack/options.js';

/** Largest frame a chained rx mbuf is linearized into. */
const LINEAR_MAX = 65536 + 256;

/**
 * One lcore's network stack (the interface of smoltcp's iface/ with its sockets): Ethernet, ARP,
 * IPv4 with routes, reassembly and fragmentation, ICMP echo and errors, UDP and TCP sockets.
 *
 * Sans-IO: the stack never touches a device or reads a clock. The lcore's loop drives it:
 *
 * ```ts
 * const n = rxBurst(port, queue, rx, 32);
 * stack.inputBurst(rx, n, now); // every frame in order, then the stack frees the burst's mbufs
 * stack.poll(now);              // the burst's ACKs, timers, ARP, deferred output
 * const k = txBurst(port, queue, stack.txQueue, stack.txCount);
 * stack.txDone(k);              // the stack keeps what the port refused
 * ```
 *
 * `poll` after the frames of a burst is part of the protocol: the ACK that in-order data owes
 * (every second full-sized segment) leaves then, one for the whole burst (StackPort does this).
 *
 * Inside, one layer per file under stack/ (as smoltcp splits iface/interface/): the shared
 * state (interface.ts), Ethernet and ARP (ethernet.ts), IPv4 and ICMP (ipv4.ts), TCP
 * demultiplexing and opens (tcp.ts), UDP (udp.ts); this class assembles them and is the API.
 *
 * Ownership: `input` (one frame) and `inputBurst` take the mbufs and free them before returning
 * (payload handed to onData is valid only during that call). Frames the stack sends are allocated from `pool` and sit in
 * `txQueue[0 .. txCount)` until `txDone(k)` says the first k left (the port now owns them).
 * `close()` frees everything the stack holds.
 */

export class Stack {
  readonly pool: PktmbufPool;
  readonly data: Uint8Array;
  readonly mac: number;
  readonly localIp: number;
  readonly prefixLen: number;
  readonly mtu: number;
  readonly ifaceMss: number;
  readonly tsoMax: number;
  readonly offload: boolean;
  readonly routes: RouteTable;
  readonly stats: StackStats;
  /** Frames to send: `txQueue[0 .. txCount)`. */
  readonly txQueue: Uint32Array;
  /** The layers, for tests and tools that look inside; the methods below are the API. */
  readonly iface: Interface;
  readonly ethernet: EthernetLayer;
  readonly ipv4: Ipv4Layer;
  readonly tcp: TcpLayer;
  readonly udp: UdpLayer;
  /** The stack knows the port's RSS (its key): the port's hashes index the connection table. */
  readonly #rss: boolean;
  #closed = false;
  #linear: Uint8Array | null = null;
  /** The pool of the last frame received and its view: consecutive frames share a pool. */
  #rxPool: PktmbufPool | null = null;
  #rxPoolView: DataView | null = null;

  /** Throws OptionError naming a bad option and its value. */
  constructor(options: StackOptions) {
    const o = options;
    if (o === null || typeof o !== 'object' || o.pool === undefined) {
      throw new OptionError('pool', o?.pool, 'a PktmbufPool for the frames the stack sends');
    }
    const iface = new Interface(o);
    const secret = o.isnSecret ?? randomBytes(16);
    const ethernet = new EthernetLayer(iface, o.arp);
    // Each use of the secret gets its own key, so that what one shows (an Identification, a
    // challenge-ACK budget) tells nothing about another (an ISN, an ephemeral port).
    const ipv4 = new Ipv4Layer(
      iface,
      ethernet,
      o.reassembly,
      subkey(secret, 'ipv4 identification'),
      o.icmpErrorLimit ?? 1000,
    );
    const tcp = new TcpLayer(iface, ipv4, o, secret, subkey(secret, 'challenge ack budget'));
    const udp = new UdpLayer(iface, ipv4);
    ethernet.attach(ipv4);
    ipv4.attach(tcp, udp);
    this.#rss = o.rss !== undefined;
    this.iface = iface;
    this.ethernet = ethernet;
    this.ipv4 = ipv4;
    this.tcp = tcp;
    this.udp = udp;
    this.pool = iface.pool;
    this.data = iface.data;
    this.mac = iface.mac;
    this.localIp = iface.localIp;
    this.prefixLen = iface.prefixLen;
    this.mtu = iface.mtu;
    this.ifaceMss = iface.ifaceMss;
    this.tsoMax = iface.tsoMax;
    this.offload = iface.offload;
    this.routes = iface.routes;
    this.stats = iface.stats;
    this.txQueue = iface.txQueue;
  }

  /** Frames waiting in `txQueue`. */
  get txCount(): number {
    return this.iface.txCount;
  }
  get arp(): ArpCache {
    return this.ethernet.arp;
  }
  get reassembler(): Ipv4Reassembler {
    return this.ipv4.reassembler;
  }
  get tcpStats(): TcpStats {
    return this.tcp.tcpStats;
  }
  get timers(): TimerWheel<TcpSocket> {
    return this.tcp.timers;
  }
  get connections(): ConnTable {
    return this.tcp.connections;
  }
  get tcpDefaults(): ResolvedTcpOptions {
    return this.tcp.defaults;
  }

  // -------------------------------------------------------------------------------------------
  // The poll loop's side

  /**
   * Processes one received frame and frees its mbuf (any pool). Malformed frames are counted in
   * `stats` and dropped; nothing thrown by a bad frame.
   */
  input(m: number, now: number): void {
    this.inputNoFree(m, now).free(m);
  }

  /**
   * `input` for a burst: `handles[0 .. n)` in order, then every mbuf freed at once (one return
   * to the pool's cache, not one per frame). `handles` is scratch afterwards.
   */
  inputBurst(handles: Uint32Array, n: number, now: number): void {
    if (n <= 0) return;
    let pool = this.pool;
    for (let i = 0; i < n; i++) pool = this.inputNoFree(handles[i], now);
    // The burst's frames come from the peer's pool as a rule: free through that pool, so one
    // put returns them all (freeBulk frees any other pool's mbufs one by one).
    pool.freeBulk(handles, n);
  }

  /** Processes one frame and returns its pool; the caller frees the mbuf. */
  private inputNoFree(m: number, now: number): PktmbufPool {
    const iface = this.iface;
    const pool = m >>> 24 === this.pool.mempool.poolId ? this.pool : mbufPoolOf(m);
    iface.lastNow = now;
    if (pool !== this.#rxPool) {
      this.#rxPool = pool;
      this.#rxPoolView = iface.viewOf(pool);
    }
    iface.rxView = this.#rxPoolView;
    const ol = pool.olFlags(m);
    iface.rxSegSize = (ol & MbufOlFlag.RX_LRO) !== 0 ? pool.tsoSegsz(m) : 0;
    if (pool.nbSegs(m) > 1) {
      iface.rxView = null;
      const len = pool.pktLen(m);
      if (len <= LINEAR_MAX) {
        if (this.#linear === null) this.#linear = new Uint8Array(LINEAR_MAX);
        pool.read(m, 0, len, this.#linear);
        this.ethernet.input(this.#linear, 0, len, ol, -1, now);
      } else {
        iface.stats.rxMalformed++;
      }
    } else {
      // The port's hash is the connection table's only when the stack hashes flows the same way.
      const hash = (ol & MbufOlFlag.RX_RSS_HASH) !== 0 && this.#rss ? pool.rssHash(m) : -1;
      this.ethernet.input(pool.data, pool.mtod(m), pool.dataLen(m), ol, hash, now);
    }
    return pool;
  }

  /** Processes a frame given as bytes (tests, captures). The bytes are not kept. */
  inputBytes(frame: Uint8Array, now: number): void {
    this.iface.lastNow = now;
    this.iface.rxView = null;
    this.iface.rxSegSize = 0;
    this.ethernet.input(frame, 0, frame.length, 0, -1, now);
  }

  /** Timers, ARP retries and timeouts, reassembly timeouts, deferred output. Call every loop. */
  poll(now: number): void {
    this.iface.lastNow = now;
    this.tcp.poll(now);
    this.ethernet.poll(now);
    this.ipv4.poll(now);
    this.tcp.flushDeferred(now);
  }

  /**
   * The earliest time `poll` has work (ms): an adaptive loop may sleep until then, and a
   * simulation may jump virtual time to it. Infinity when idle.
   */
  nextDeadline(): number {
    const last = this.iface.lastNow;
    let t = this.tcp.timers.nextExpiry();
    t = Math.min(t, this.ethernet.nextDeadline(last), this.ipv4.nextDeadline(last));
    if (this.tcp.pending || this.iface.txCount > 0) t = Math.min(t, last);
    return t;
  }

  /** The first `k` frames of txQueue left through the port; the rest move to the front. */
  txDone(k: number): void {
    if (k <= 0) return;
    const iface = this.iface;
    const rest = iface.txCount - k;
    if (rest > 0) iface.txQueue.copyWithin(0, k, iface.txCount);
    iface.txCount = Math.max(rest, 0);
  }

  /** Slow path for tests: the frames queued for sending as bytes (their mbufs freed). */
  takeTxBytes(): Uint8Array[] {
    const iface = this.iface;
    const out: Uint8Array[] = [];
    for (let i = 0; i < iface.txCount; i++) {
      out.push(this.pool.toBytes(iface.txQueue[i]));
      this.pool.free(iface.txQueue[i]);
    }
    iface.txCount = 0;
    return out;
  }

  /** Sends a gratuitous ARP (RFC 5227 announcement): neighbours update their caches. */
  announce(): void {
    this.ethernet.announce();
  }

  /** Frees every mbuf the stack holds and drops every connection (no segments sent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.tcp.close();
    const iface = this.iface;
    for (let i = 0; i < iface.txCount; i++) this.pool.free(iface.txQueue[i]);
    iface.txCount = 0;
    this.ethernet.close();
  }

  // -------------------------------------------------------------------------------------------
  // Sockets

  /**
   * Listens on `port` (RFC 9293 LISTEN). Throws TcpSocketError EADDRINUSE when a listener has it.
   */
  tcpListen(
    port: number,
    handlers: TcpListenerHandlers = {},
    options: TcpListenOptions = {},
  ): TcpListener {
    return this.tcp.listen(port, handlers, options);
  }

  /** Stops listening; connections already accepted are not affected, pending ones are reset. */
  tcpUnlisten(listener: TcpListener, now: number): void {
    this.tcp.unlisten(listener, now);
  }

  /**
   * Opens a connection (RFC 9293 active OPEN) from an ephemeral port chosen so that, with RSS,
   * replies come back to this lcore's queue.
   * @throws TcpSocketError ENETUNREACH without a route, EADDRNOTAVAIL without a free port.
   */
  tcpConnect(
    remoteIp: string | number,
    remotePort: number,
    handlers: TcpHandlers,
    now: number,
    options?: TcpOptions,
  ): TcpSocket {
    return this.tcp.connect(remoteIp, remotePort, handlers, now, options);
  }

  /** Binds a UDP port. Throws TcpSocketError EADDRINUSE when taken. */
  udpBind(port: number, handlers: UdpHandlers): UdpSocket {
    return this.udp.bind(port, handlers);
  }

  /** The connection-table hash of a flow: the RSS hash when the stack knows the port's key. */
  flowHash(rip: number, rport: number, lport: number): number {
    return this.tcp.flowHash(rip, rport, lport);
  }

  /**
   * Aborts connections (RFC 9293 3.10.5: an RST to each peer that knows the connection, then
   * CLOSED) while the tx queue has room for their RSTs: for a program that died, so its peers
   * learn at once instead of waiting for a timeout. The application's onClose runs for each
   * (error ECONNABORTED). The caller sends the tx queue (StackPort.flush) and calls again while
   * this returns more than 0.
   * @returns the connections still open (those the full tx queue left for the next call).
   */
  resetAll(now: number): number {
    return this.tcp.resetAll(now);
  }
}

/** 32 bytes derived from the stack's secret for one `purpose`. */
function subkey(secret: Uint8Array, purpose: string): Uint8Array {
  return createHash('sha256').update(secret).update(purpose).digest();
}
