import { createHash, randomBytes } from 'node:crypto';
import { OptionError } from '@bypass/atomics-sync';
import { MbufOlFlag, mbufPoolOf, type PktmbufPool } from '@bypass/mempool';
import type { Reta, Toeplitz } from '@bypass/net';
import {
  ARP_HTYPE_ETHERNET,
  ARP_LEN,
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  arpCheck,
  arpHtype,
  arpOper,
  arpPtype,
  arpSha,
  arpSpa,
  arpTpa,
  checksumOf,
  ETH_HEADER_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ethRawType,
  FLG_ACK,
  FLG_RST,
  FLG_SYN,
  get16,
  get32,
  getMac,
  ICMP_HEADER_LEN,
  ICMP_TYPE_DEST_UNREACHABLE,
  ICMP_TYPE_ECHO_REQUEST,
  ICMP_TYPE_TIME_EXCEEDED,
  ICMP_UNREACH_PORT,
  ICMP_UNREACH_PROTOCOL,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  icmpEchoRequestToReply,
  icmpVerifyChecksum,
  ipv4Check,
  ipv4Dst,
  ipv4FragOffset,
  ipv4HeaderLen,
  ipv4IsFragment,
  ipv4Protocol,
  ipv4PseudoSum,
  ipv4Src,
  ipv4ToString,
  ipv4TotalLength,
  MAC_BROADCAST,
  macIsMulticast,
  parseCidr,
  parseIpv4,
  parseMac,
  seqAdd,
  seqGt,
  set16,
  set32,
  setMac,
  sum16,
  sum16View,
  TCP_HEADER_LEN,
  tcpCheckHeader,
  UDP_HEADER_LEN,
  udpCheck,
  udpDstPort,
  udpSrcPort,
} from '@bypass/net';
import { TimerWheel } from '@bypass/timer';
import { ARP_CACHE_DEFAULTS, ArpCache, type ArpCacheOptions } from './iface/arp-cache.js';
import { Ipv4Reassembler, type Ipv4ReassemblerOptions } from './iface/reassembly.js';
import { RouteTable } from './iface/routes.js';
import { ConnTable } from './socket/conn-table.js';
import { type ResolvedTcpOptions, resolveTcpOptions, type TcpOptions } from './socket/options.js';
import { Segment } from './socket/segment.js';
import {
  newTcpStats,
  type TcpHandlers,
  type TcpHost,
  TcpListener,
  type TcpListenerHandlers,
  TcpSocket,
  TcpSocketError,
  TcpState,
  type TcpStats,
} from './socket/tcp.js';
import { type UdpHandlers, UdpSocket } from './socket/udp.js';

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
 * Ownership: `input` (one frame) and `inputBurst` take the mbufs and free them before returning
 * (payload handed to onData is valid only during that call). Frames the stack sends are allocated from `pool` and sit in
 * `txQueue[0 .. txCount)` until `txDone(k)` says the first k left (the port now owns them).
 * `close()` frees everything the stack holds.
 */

export interface StackOptions {
  /** Mbufs for the frames the stack sends. */
  pool: PktmbufPool;
  /** This interface's MAC: a string like 02:00:00:00:00:01 or a 48-bit number. */
  mac: string | number;
  /** Address and prefix, like 10.0.0.2/24 (the connected route comes from the prefix). */
  ip: string;
  /** Default gateway, inside the connected subnet. */
  gateway?: string;
  /** IP MTU of the link (default 1500). */
  mtu?: number;
  arp?: ArpCacheOptions;
  reassembly?: Ipv4ReassemblerOptions;
  /** Defaults for every TCP socket of this stack. */
  tcp?: TcpOptions;
  /** Most TCP connections at once, TIME_WAIT included (default 16384). */
  maxConnections?: number;
  /** Frames the tx queue holds before the application must flush (default 4096). */
  txCapacity?: number;
  /**
   * The port's RSS: connections hash with its Toeplitz key, and outgoing connections pick a
   * source port whose replies the RETA maps to `queue` (this lcore's queue).
   */
  rss?: { toeplitz: Toeplitz; reta: Reta; queue: number };
  /**
   * Checksums: 'compute' (default) fills and verifies every one in software; 'offload' leaves
   * TCP/UDP checksums on transmit to the port (TX_*_CKSUM: a tap port's kernel, or an in-memory
   * link, which does not corrupt) and trusts frames so marked on receive, as Linux's veth and
   * loopback do.
   */
  checksum?: 'compute' | 'offload';
  /** The port segments TCP (TSO, a tap port with offload=tso): send up to this many payload bytes per frame (at most 65000). */
  tsoMaxBytes?: number;
  /** RFC 6528's secret key (16 bytes); default random. Fixed in tests for fixed ISNs. */
  isnSecret?: Uint8Array;
  /** Ephemeral source ports (default Linux's 32768-60999). */
  ephemeralPorts?: [number, number];
  /** Challenge ACKs per second for the whole stack (RFC 5961 7; default 1000, as Linux). */
  challengeAckLimit?: number;
  /** ICMP errors per second (Linux's icmp_ratelimit in spirit; default 1000). */
  icmpErrorLimit?: number;
  /** Time the stack starts at (ms), for its timer wheel: the first `now` it will see. */
  startMs?: number;
}

/** Interface counters, one set per stack (per lcore). */
export interface StackStats {
  rxFrames: number;
  txFrames: number;
  rxNotForUs: number;
  rxUnknownEthertype: number;
  rxMalformed: number;
  rxBadIpv4: number;
  rxBadChecksum: number;
  rxFragments: number;
  rxReassembled: number;
  rxUnknownProtocol: number;
  arpRequestsIn: number;
  arpRepliesIn: number;
  arpRequestsOut: number;
  arpRepliesOut: number;
  arpPendingDrops: number;
  icmpEchoIn: number;
  icmpErrorsOut: number;
  icmpErrorsIn: number;
  icmpRateLimited: number;
  udpIn: number;
  udpOut: number;
  udpNoPort: number;
  udpFragmentsOut: number;
  txNoRoute: number;
  txNoMbuf: number;
  txQueueFull: number;
}

function newStackStats(): StackStats {
  return {
    rxFrames: 0,
    txFrames: 0,
    rxNotForUs: 0,
    rxUnknownEthertype: 0,
    rxMalformed: 0,
    rxBadIpv4: 0,
    rxBadChecksum: 0,
    rxFragments: 0,
    rxReassembled: 0,
    rxUnknownProtocol: 0,
    arpRequestsIn: 0,
    arpRepliesIn: 0,
    arpRequestsOut: 0,
    arpRepliesOut: 0,
    arpPendingDrops: 0,
    icmpEchoIn: 0,
    icmpErrorsOut: 0,
    icmpErrorsIn: 0,
    icmpRateLimited: 0,
    udpIn: 0,
    udpOut: 0,
    udpNoPort: 0,
    udpFragmentsOut: 0,
    txNoRoute: 0,
    txNoMbuf: 0,
    txQueueFull: 0,
  };
}

const IPV4_HEADER = 20;
/** ARP ageing walks every second, and at every poll while an address is being resolved. */
const ARP_SWEEP_MS = 1000;
const FRAME_HEADERS = ETH_HEADER_LEN + IPV4_HEADER;
const TTL = 64;
/** Largest frame a chained rx mbuf is linearized into. */
const LINEAR_MAX = 65536 + 256;

export interface TcpListenOptions {
  /** Half-open connections (default 128, Linux's tcp_max_syn_backlog floor). */
  synBacklog?: number;
  /** Established connections waiting for accept() (default 128, somaxconn). */
  backlog?: number;
  /** Options for the accepted connections (over the stack's defaults). */
  tcp?: TcpOptions;
}

export class Stack implements TcpHost {
  readonly pool: PktmbufPool;
  readonly data: Uint8Array;
  readonly mac: number;
  readonly localIp: number;
  readonly prefixLen: number;
  readonly mtu: number;
  readonly ifaceMss: number;
  readonly tsoMax: number;
  readonly offload: boolean;
  readonly routes = new RouteTable();
  readonly arp: ArpCache;
  readonly reassembler: Ipv4Reassembler;
  readonly stats: StackStats = newStackStats();
  readonly tcpStats: TcpStats = newTcpStats();
  readonly timers: TimerWheel<TcpSocket>;
  readonly connections: ConnTable;
  readonly tcpDefaults: ResolvedTcpOptions;
  /** Frames to send: `txQueue[0 .. txCount)`. */
  readonly txQueue: Uint32Array;
  txCount = 0;
  l4Off = 0;

  /** Listeners and bound UDP sockets by port: an index, not a Map lookup per segment. */
  readonly #listeners: (TcpListener | undefined)[] = new Array(65536).fill(undefined);
  readonly #udp: (UdpSocket | undefined)[] = new Array(65536).fill(undefined);
  readonly #seg = new Segment();
  readonly #rss: StackOptions['rss'];
  readonly #secret: Uint8Array;
  readonly #ephemeralLow: number;
  readonly #ephemeralHigh: number;
  #ephemeralNext: number;
  readonly #broadcast: number;
  readonly #netmask: number;
  #ipIdent: number;
  readonly #deferred: TcpSocket[] = [];
  /** Sockets owing an ACK at the next poll (the end of the receive burst): `[0 .. count)`. */
  readonly #acksAtPoll: (TcpSocket | null)[] = [];
  #acksAtPollCount = 0;
  readonly #scratch = new Uint32Array(64);
  #linear: Uint8Array | null = null;
  readonly #challengeLimit: number;
  #challengeSecond = -1;
  #challengeCount = 0;
  readonly #icmpLimit: number;
  #icmpSecond = -1;
  #icmpCount = 0;
  #lastNow: number;
  #closed = false;
  #arpSweepAt = 0;
  /** The frame being processed was sent to the Ethernet broadcast address. */
  #rxLinkBroadcast = false;
  /** DataViews over each pool's bytes, by pool id, for the fast checksum (sum16View). */
  readonly #views: (DataView | undefined)[] = new Array(256).fill(undefined);
  /** The view over the bytes of the frame being processed, or null (a copy: use sum16). */
  #rxView: DataView | null = null;
  /**
   * The last resolved destination (its next hop's MAC as 16 + 32 bits), good for the same `now`
   * and route and ARP versions: `nextHop` and `lookup` answer the same then, and the frames of a
   * burst go to one peer. Likewise the last source known to ARP (learnNeighbour).
   */
  #hopDst = -1;
  #hopNow = Number.NaN;
  #hopVersions = -1;
  #hopMacHi = 0;
  #hopMacLo = 0;
  #knownSrc = -1;
  #knownNow = Number.NaN;
  #knownVersion = -1;
  /** The pool of the last frame received and its view: consecutive frames share a pool. */
  #rxViewPool: PktmbufPool | null = null;
  #rxViewOfPool: DataView | null = null;
  /** A DataView over `data` (the pool's bytes): one big-endian store per header field. */
  readonly txView: DataView;
  /** This interface's MAC as its high 16 and low 32 bits (compared per frame without a 48-bit double). */
  readonly #macHi: number;
  readonly #macLo: number;
  /** Ones' complement sum of our address's two 16-bit halves (IPv4 header and pseudo-header). */
  readonly #srcSum: number;

  /** Throws OptionError naming a bad option and its value. */
  constructor(options: StackOptions) {
    const o = options;
    if (o === null || typeof o !== 'object' || o.pool === undefined) {
      throw new OptionError('pool', o?.pool, 'a PktmbufPool for the frames the stack sends');
    }
    this.pool = o.pool;
    this.data = o.pool.data;
    this.txView = this.viewOf(o.pool);
    try {
      this.mac = typeof o.mac === 'number' ? o.mac : parseMac(o.mac);
    } catch {
      throw new OptionError('mac', o.mac, 'a MAC address like 02:00:00:00:00:01');
    }
    if (
      !Number.isInteger(this.mac) ||
      this.mac < 0 ||
      this.mac > 0xffff_ffff_ffff ||
      macIsMulticast(this.mac)
    ) {
      throw new OptionError('mac', o.mac, 'a unicast MAC address like 02:00:00:00:00:01');
    }
    this.#macHi = Math.floor(this.mac / 0x1_0000_0000);
    this.#macLo = this.mac >>> 0;
    const { ip, prefixLen } = parseCidr(String(o.ip), 'ip');
    this.localIp = ip;
    this.#srcSum = (ip >>> 16) + (ip & 0xffff);
    this.prefixLen = prefixLen;
    this.#netmask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
    // RFC 3021 2.2: a /31 (and a /32) has no directed broadcast, only 255.255.255.255.
    this.#broadcast = prefixLen >= 31 ? 0xffffffff : ((ip & this.#netmask) | ~this.#netmask) >>> 0;
    this.routes.add({ dest: ip, prefixLen, gateway: 0 });
    if (o.gateway !== undefined) {
      let gw: number;
      try {
        gw = parseIpv4(o.gateway);
      } catch {
        throw new OptionError('gateway', o.gateway, 'an IPv4 address');
      }
      if ((gw & this.#netmask) >>> 0 !== (ip & this.#netmask) >>> 0) {
        throw new OptionError('gateway', o.gateway, `an address inside ${o.ip}`);
      }
      this.routes.add({ dest: 0, prefixLen: 0, gateway: gw });
    }
    this.mtu = o.mtu ?? 1500;
    // Every frame starts after the pool's headroom (mbuf 0 may never have been allocated).
    const room = o.pool.mempool.eltSize - o.pool.headroom; // (no mbuf read: debug pools check use)
    if (!Number.isInteger(this.mtu) || this.mtu < 576 || this.mtu > 65535) {
      throw new OptionError('mtu', o.mtu, 'an integer from 576 to 65535');
    }
    if (this.mtu + ETH_HEADER_LEN > room) {
      throw new OptionError(
        'mtu',
        this.mtu,
        `at most ${room - ETH_HEADER_LEN}: the pool's mbufs hold ${room} bytes of frame; use a pool with a larger dataRoomSize`,
      );
    }
    this.ifaceMss = this.mtu - 40;
    const tso = o.tsoMaxBytes ?? 0;
    if (!Number.isInteger(tso) || tso < 0 || tso > 65000) {
      throw new OptionError('tsoMaxBytes', tso, 'an integer from 0 (off) to 65000');
    }
    if (tso > 0 && tso + FRAME_HEADERS + 60 > room) {
      throw new OptionError(
        'tsoMaxBytes',
        tso,
        `at most ${room - FRAME_HEADERS - 60} for this pool's mbufs`,
      );
    }
    this.tsoMax = tso;
    const cs = o.checksum ?? 'compute';
    if (cs !== 'compute' && cs !== 'offload')
      throw new OptionError('checksum', cs, "'compute' or 'offload'");
    this.offload = cs === 'offload';
    this.arp = new ArpCache({ ...ARP_CACHE_DEFAULTS, ...o.arp });
    this.reassembler = new Ipv4Reassembler(o.reassembly);
    this.tcpDefaults = resolveTcpOptions(o.tcp);
    const maxConn = o.maxConnections ?? 16384;
    if (!Number.isInteger(maxConn) || maxConn < 1 || maxConn > 1 << 22) {
      throw new OptionError('maxConnections', maxConn, 'an integer from 1 to 4194304');
    }
    this.connections = new ConnTable(maxConn);
    this.#lastNow = o.startMs ?? 0;
    this.timers = new TimerWheel<TcpSocket>({
      capacity: maxConn,
      startMs: this.#lastNow,
      name: 'tcp',
    });
    const txCap = o.txCapacity ?? 4096;
    if (!Number.isInteger(txCap) || txCap < 1)
      throw new OptionError('txCapacity', txCap, 'an integer >= 1');
    this.txQueue = new Uint32Array(txCap);
    this.#rss = o.rss;
    if (o.rss !== undefined) {
      const q = o.rss.queue;
      if (!Number.isInteger(q) || q < 0 || q >= o.rss.reta.queues) {
        throw new OptionError('rss.queue', q, `a queue of the RETA, 0 to ${o.rss.reta.queues - 1}`);
      }
    }
    this.#secret = o.isnSecret ?? randomBytes(16);
    const [lo, hi] = o.ephemeralPorts ?? [32768, 60999];
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1024 || hi > 65535 || lo > hi) {
      throw new OptionError('ephemeralPorts', `${lo}-${hi}`, 'a range within 1024-65535');
    }
    this.#ephemeralLow = lo;
    this.#ephemeralHigh = hi;
    this.#ephemeralNext = lo + (((this.#secret[0] << 8) | this.#secret[1]) % (hi - lo + 1));
    this.#ipIdent = (this.#secret[2] << 8) | this.#secret[3];
    this.#challengeLimit = o.challengeAckLimit ?? 1000;
    this.#icmpLimit = o.icmpErrorLimit ?? 1000;
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
    const pool = m >>> 24 === this.pool.mempool.poolId ? this.pool : mbufPoolOf(m);
    this.#lastNow = now;
    if (pool !== this.#rxViewPool) {
      this.#rxViewPool = pool;
      this.#rxViewOfPool = this.viewOf(pool);
    }
    this.#rxView = this.#rxViewOfPool;
    if (pool.nbSegs(m) > 1) {
      this.#rxView = null;
      const len = pool.pktLen(m);
      if (len <= LINEAR_MAX) {
        if (this.#linear === null) this.#linear = new Uint8Array(LINEAR_MAX);
        pool.read(m, 0, len, this.#linear);
        this.frame(this.#linear, 0, len, pool.olFlags(m), -1, now);
      } else {
        this.stats.rxMalformed++;
      }
    } else {
      const ol = pool.olFlags(m);
      const hash =
        (ol & MbufOlFlag.RX_RSS_HASH) !== 0 && this.#rss !== undefined ? pool.rssHash(m) : -1;
      this.frame(pool.data, pool.mtod(m), pool.dataLen(m), ol, hash, now);
    }
    return pool;
  }

  /** Processes a frame given as bytes (tests, captures). The bytes are not kept. */
  inputBytes(frame: Uint8Array, now: number): void {
    this.#lastNow = now;
    this.#rxView = null;
    this.frame(frame, 0, frame.length, 0, -1, now);
  }

  /** Timers, ARP retries and timeouts, reassembly timeouts, deferred output. Call every loop. */
  poll(now: number): void {
    this.#lastNow = now;
    if (this.#acksAtPollCount > 0) this.flushAcksAtPoll(now);
    this.timers.manage(now);
    const ips = this.#scratch;
    // The ARP cache walks all its slots for retries and ageing: at every poll only while
    // something waits for an answer, otherwise once a second (a walk per poll cost 4 us on every
    // iteration of a busy loop; a reachable entry then lives up to a second past its ttl).
    const resolving = this.arp.pendingTotal > 0;
    if (resolving) {
      for (let i = 0, n = this.arp.dueRequests(now, ips); i < n; i++)
        this.sendArp(ARP_OP_REQUEST, 0, ips[i]);
    }
    if (resolving || (now >= this.#arpSweepAt && this.arp.size > 0)) {
      this.#arpSweepAt = now + ARP_SWEEP_MS;
      for (let i = 0, n = this.arp.expire(now, ips); i < n; i++) {
        this.pool.free(ips[i]);
        this.stats.arpPendingDrops++;
      }
    }
    if (this.reassembler.pending > 0) this.reassembler.expire(now);
    if (this.#deferred.length > 0) this.runDeferred(now);
  }

  /**
   * The earliest time `poll` has work (ms): an adaptive loop may sleep until then, and a
   * simulation may jump virtual time to it. Infinity when idle.
   */
  nextDeadline(): number {
    let t = this.timers.nextExpiry();
    if (this.arp.pendingTotal > 0) t = Math.min(t, this.#lastNow + Math.min(this.arp.retryMs, 100));
    if (this.reassembler.pending > 0) t = Math.min(t, this.#lastNow + 1000);
    if (this.#deferred.length > 0 || this.#acksAtPollCount > 0 || this.txCount > 0)
      t = Math.min(t, this.#lastNow);
    return t;
  }

  /** The first `k` frames of txQueue left through the port; the rest move to the front. */
  txDone(k: number): void {
    if (k <= 0) return;
    const rest = this.txCount - k;
    if (rest > 0) this.txQueue.copyWithin(0, k, this.txCount);
    this.txCount = Math.max(rest, 0);
  }

  /** Slow path for tests: the frames queued for sending as bytes (their mbufs freed). */
  takeTxBytes(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < this.txCount; i++) {
      out.push(this.pool.toBytes(this.txQueue[i]));
      this.pool.free(this.txQueue[i]);
    }
    this.txCount = 0;
    return out;
  }

  /** Sends a gratuitous ARP (RFC 5227 announcement): neighbours update their caches. */
  announce(): void {
    this.sendArp(ARP_OP_REQUEST, 0, this.localIp);
  }

  /** Frees every mbuf the stack holds and drops every connection (no segments sent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#acksAtPoll.fill(null);
    this.#acksAtPollCount = 0;
    for (const s of [...this.connections]) {
      s.state = TcpState.CLOSED;
      this.release(s);
    }
    for (let i = 0; i < this.txCount; i++) this.pool.free(this.txQueue[i]);
    this.txCount = 0;
    // Every entry is dead at the end of time: expire hands back what waits for resolution.
    const dropped = new Uint32Array(Math.max(1, this.arp.pendingTotal));
    const n = this.arp.expire(Number.MAX_SAFE_INTEGER, dropped);
    for (let i = 0; i < n; i++) this.pool.free(dropped[i]);
  }

  private viewOf(pool: PktmbufPool): DataView {
    const id = pool.mempool.poolId;
    let v = this.#views[id];
    if (v === undefined || v.buffer !== pool.data.buffer || v.byteOffset !== pool.data.byteOffset) {
      v = new DataView(pool.data.buffer, pool.data.byteOffset, pool.data.byteLength);
      this.#views[id] = v;
    }
    return v;
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
    checkPort('port', port);
    if (this.#listeners[port] !== undefined) {
      throw new TcpSocketError(
        'EADDRINUSE',
        `port ${port} already has a listener on this stack; close it first or use another port`,
      );
    }
    const syn = options.synBacklog ?? 128;
    const backlog = options.backlog ?? 128;
    if (!Number.isInteger(syn) || syn < 1)
      throw new OptionError('synBacklog', syn, 'an integer >= 1');
    if (!Number.isInteger(backlog) || backlog < 1)
      throw new OptionError('backlog', backlog, 'an integer >= 1');
    const l = new TcpListener(
      port,
      handlers,
      resolveTcpOptions(options.tcp, this.tcpDefaults),
      syn,
      backlog,
    );
    this.#listeners[port] = l;
    return l;
  }

  /** Stops listening; connections already accepted are not affected, pending ones are reset. */
  tcpUnlisten(listener: TcpListener, now: number): void {
    if (this.#listeners[listener.port] !== listener) return;
    this.#listeners[listener.port] = undefined;
    listener.closed = true;
    for (const s of [...listener.acceptQueue]) s.abort(now);
    for (const s of [...this.connections]) if (s.listener === listener) s.abort(now);
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
    const rip = typeof remoteIp === 'number' ? remoteIp >>> 0 : parseIpv4(remoteIp);
    checkPort('remotePort', remotePort);
    if (this.routes.nextHop(rip) < 0) {
      throw new TcpSocketError(
        'ENETUNREACH',
        `no route to ${ipv4ToString(rip)}; add a route or a gateway`,
      );
    }
    const port = this.pickPort(rip, remotePort);
    if (port < 0) {
      throw new TcpSocketError(
        'EADDRNOTAVAIL',
        `no free ephemeral port towards ${ipv4ToString(rip)}:${remotePort}`,
      );
    }
    const opts =
      options === undefined
        ? { ...this.tcpDefaults }
        : resolveTcpOptions(options, this.tcpDefaults);
    const s = new TcpSocket(this, opts, handlers, port, rip, remotePort);
    if (!this.admit(s)) {
      throw new TcpSocketError(
        'EADDRNOTAVAIL',
        `the connection table is full (${this.connections.capacity}); raise maxConnections`,
      );
    }
    const { iss, tsOffset } = this.isn(port, rip, remotePort, now);
    s.openActive(iss, tsOffset, now);
    return s;
  }

  /** Binds a UDP port. Throws TcpSocketError EADDRINUSE when taken. */
  udpBind(port: number, handlers: UdpHandlers): UdpSocket {
    checkPort('port', port);
    if (this.#udp[port] !== undefined) {
      throw new TcpSocketError('EADDRINUSE', `UDP port ${port} is already bound on this stack`);
    }
    const s = new UdpSocket(this, port, handlers);
    this.#udp[port] = s;
    return s;
  }

  /** @internal UdpSocket.close */
  udpUnbind(s: UdpSocket): void {
    if (this.#udp[s.port] === s) this.#udp[s.port] = undefined;
  }

  private pickPort(rip: number, rport: number): number {
    const lo = this.#ephemeralLow;
    const span = this.#ephemeralHigh - lo + 1;
    const rss = this.#rss;
    for (let i = 0; i < span; i++) {
      const port = lo + ((this.#ephemeralNext - lo + i) % span);
      if (rss !== undefined) {
        // The reply travels remote -> local: that is the tuple the NIC hashes.
        const h = rss.toeplitz.hashV4Tuple(rip, this.localIp, rport, port);
        if (rss.reta.queueOf(h) !== rss.queue) continue;
      }
      if (this.connections.lookup(this.flowHash(rip, rport, port), rip, rport, port) !== undefined)
        continue;
      this.#ephemeralNext = lo + ((port - lo + 1) % span);
      return port;
    }
    return -1;
  }

  /** The connection-table hash of a flow: the RSS hash when the stack knows the port's key. */
  flowHash(rip: number, rport: number, lport: number): number {
    const rss = this.#rss;
    if (rss !== undefined) return rss.toeplitz.hashV4Tuple(rip, this.localIp, rport, lport);
    let h = Math.imul(rip ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ ((rport << 16) | lport), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** RFC 6528: ISN = M + F(local ip, local port, remote ip, remote port, secret), M a 4 us clock. */
  private isn(
    lport: number,
    rip: number,
    rport: number,
    now: number,
  ): { iss: number; tsOffset: number } {
    const h = createHash('md5');
    h.update(this.#secret);
    const t = Buffer.allocUnsafe(12);
    t.writeUInt32BE(this.localIp, 0);
    t.writeUInt16BE(lport, 4);
    t.writeUInt32BE(rip, 6);
    t.writeUInt16BE(rport, 10);
    h.update(t);
    const d = h.digest();
    return {
      iss: (d.readUInt32BE(0) + Math.floor(now * 250)) >>> 0,
      tsOffset: d.readUInt32BE(4),
    };
  }

  private admit(s: TcpSocket): boolean {
    s.hash = this.flowHash(s.remoteIp, s.remotePort, s.localPort);
    if (!this.connections.insert(s)) return false;
    s.timer = this.timers.create(onTcpTimer, s);
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // TcpHost

  ipAlloc(l4Align = -1): number {
    if (this.txCount >= this.txQueue.length) {
      this.stats.txQueueFull++;
      return -1;
    }
    const pool = this.pool;
    const m = pool.alloc();
    if (m < 0) {
      this.stats.txNoMbuf++;
      return -1;
    }
    let l4 = pool.mtod(m) + FRAME_HEADERS;
    if (l4Align >= 0 && pool.headroom >= 64) {
      // Start the frame up to 7 bytes early, in the headroom (rte_pktmbuf_prepend's room); at
      // least 57 bytes stay for a driver's own header (tap's 12-byte virtio-net header).
      const back = (this.data.byteOffset + l4 - l4Align) & 7;
      if (back !== 0) {
        pool.setDataOff(m, pool.dataOff(m) - back);
        l4 -= back;
      }
    }
    this.l4Off = l4;
    return m;
  }

  ipSend(
    m: number,
    dst: number,
    proto: number,
    l4Len: number,
    now: number,
    tsoSegsz: number,
  ): void {
    const pool = this.pool;
    const v = this.txView;
    const eth = pool.mtod(m);
    const ip = eth + ETH_HEADER_LEN;
    const l4 = ip + IPV4_HEADER;
    const total = IPV4_HEADER + l4Len;
    // TCP sets DF: the path MTU is the link MTU here, and DF is what Linux sends.
    this.writeIpv4(ip, total, proto, dst, proto === IP_PROTO_TCP ? IPV4_FLAG_DF : 0);
    // RFC 793 3.1 pseudo-header (source, destination, protocol, L4 length), from the values.
    let pseudo = this.#srcSum + (dst >>> 16) + (dst & 0xffff) + proto + l4Len;
    pseudo = (pseudo & 0xffff) + (pseudo >>> 16);
    pseudo = (pseudo & 0xffff) + (pseudo >>> 16);
    let ol = 0;
    if (this.offload && (proto === IP_PROTO_TCP || proto === IP_PROTO_UDP)) {
      // The device completes the checksum from the pseudo-header sum left in the field.
      v.setUint16(l4 + (proto === IP_PROTO_TCP ? 16 : 6), pseudo);
      ol = proto === IP_PROTO_TCP ? MbufOlFlag.TX_TCP_CKSUM : MbufOlFlag.TX_UDP_CKSUM;
    } else if (proto === IP_PROTO_TCP) {
      v.setUint16(l4 + 16, 0);
      v.setUint16(l4 + 16, checksumOf(sum16View(v, l4, l4Len, pseudo)));
    } else if (proto === IP_PROTO_UDP) {
      v.setUint16(l4 + 6, 0);
      const c = checksumOf(sum16View(v, l4, l4Len, pseudo));
      v.setUint16(l4 + 6, c === 0 ? 0xffff : c);
    }
    if (tsoSegsz > 0 && total > this.mtu) {
      ol |= MbufOlFlag.TX_TCP_SEG | MbufOlFlag.TX_TCP_CKSUM;
      pool.setTsoSegsz(m, tsoSegsz);
      if (!this.offload) v.setUint16(l4 + 16, pseudo);
    }
    pool.setOlFlags(m, ol);
    const frameLen = ETH_HEADER_LEN + total;
    pool.setDataLen(m, frameLen);
    pool.setPktLen(m, frameLen);
    v.setUint16(eth + 6, this.#macHi);
    v.setUint32(eth + 8, this.#macLo);
    v.setUint16(eth + 12, ETHERTYPE_IPV4);
    this.resolveAndQueue(m, eth, dst, now);
  }

  /**
   * A 20-byte IPv4 header at data[ip ..], in `txView`'s bytes. The checksum is summed from the
   * field values (RFC 1071), without reading the header back.
   */
  private writeIpv4(ip: number, total: number, proto: number, dst: number, flags: number): void {
    const v = this.txView;
    const ident = this.#ipIdent;
    this.#ipIdent = (ident + 1) & 0xffff;
    let sum =
      0x4500 +
      total +
      ident +
      flags +
      ((TTL << 8) | proto) +
      this.#srcSum +
      (dst >>> 16) +
      (dst & 0xffff);
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    v.setUint32(ip, 0x4500_0000 | total);
    v.setUint32(ip + 4, ((ident << 16) | flags) >>> 0);
    v.setUint32(ip + 8, (((TTL << 24) | (proto << 16)) >>> 0) + (~sum & 0xffff));
    v.setUint32(ip + 12, this.localIp);
    v.setUint32(ip + 16, dst);
  }

  /** Ethernet destination for `dst`, then into the tx queue (or behind ARP). Owns `m`. */
  private resolveAndQueue(m: number, eth: number, dst: number, now: number): void {
    const d = this.data;
    if (dst === this.#broadcast || dst === 0xffffffff) {
      setMac(d, eth, MAC_BROADCAST);
      this.queue(m);
      return;
    }
    // Both versions only grow, so their sum changes whenever either does.
    const versions = this.routes.version + this.arp.version;
    if (dst === this.#hopDst && now === this.#hopNow && versions === this.#hopVersions) {
      this.txView.setUint16(eth, this.#hopMacHi);
      this.txView.setUint32(eth + 2, this.#hopMacLo);
      this.queue(m);
      return;
    }
    const hop = this.routes.nextHop(dst);
    if (hop < 0) {
      this.stats.txNoRoute++;
      this.pool.free(m);
      return;
    }
    const mac = this.arp.lookup(hop, now);
    if (mac >= 0) {
      this.#hopDst = dst;
      this.#hopNow = now;
      this.#hopVersions = versions;
      this.#hopMacHi = Math.floor(mac / 0x1_0000_0000);
      this.#hopMacLo = mac >>> 0;
      this.txView.setUint16(eth, this.#hopMacHi);
      this.txView.setUint32(eth + 2, this.#hopMacLo);
      this.queue(m);
      return;
    }
    if (!this.arp.enqueuePending(hop, m, now)) {
      this.stats.arpPendingDrops++;
      this.pool.free(m);
    }
    if (this.arp.needsRequest(hop, now)) this.sendArp(ARP_OP_REQUEST, 0, hop);
  }

  private queue(m: number): void {
    if (this.txCount >= this.txQueue.length) {
      this.stats.txQueueFull++;
      this.pool.free(m);
      return;
    }
    this.txQueue[this.txCount++] = m;
    this.stats.txFrames++;
  }

  ackAtPoll(s: TcpSocket): void {
    this.#acksAtPoll[this.#acksAtPollCount++] = s;
  }

  private flushAcksAtPoll(now: number): void {
    const list = this.#acksAtPoll;
    // The list is kept (not emptied with length = 0): no array to grow again at the next burst.
    for (let i = 0; i < this.#acksAtPollCount; i++) {
      const s = list[i] as TcpSocket;
      list[i] = null;
      if (s.state !== TcpState.CLOSED) s.flushAckAtPoll(now);
      else s.ackAtPoll = false;
    }
    this.#acksAtPollCount = 0;
  }

  deferOutput(s: TcpSocket): void {
    if (s.deferred) return;
    s.deferred = true;
    this.#deferred.push(s);
  }

  private runDeferred(now: number): void {
    const list = this.#deferred;
    const n = list.length;
    // In order, while the tx queue has room; sockets deferred meanwhile (appended) wait for the
    // next poll. The ones served leave the front of the list in one pass, with no shift() each.
    let i = 0;
    while (i < n && this.txCount < this.txQueue.length) {
      const s = list[i++];
      s.deferred = false;
      if (s.state !== TcpState.CLOSED) {
        s.output(now);
        s.flushAck(now);
      }
    }
    if (i === 0) return;
    const len = list.length;
    for (let j = i; j < len; j++) list[j - i] = list[j];
    list.length = len - i;
  }

  release(s: TcpSocket): void {
    this.connections.remove(s);
    if (s.timer >= 0) {
      this.timers.free(s.timer);
      s.timer = -1;
    }
  }

  challengeAckAllowed(now: number): boolean {
    const sec = Math.floor(now / 1000);
    if (sec !== this.#challengeSecond) {
      this.#challengeSecond = sec;
      this.#challengeCount = 0;
    }
    return this.#challengeCount++ < this.#challengeLimit;
  }

  established(s: TcpSocket, now: number): void {
    const l = s.listener;
    if (l === null) return;
    l.halfOpen--;
    if (l.closed) {
      s.listener = null;
      s.abort(now);
      return;
    }
    if (l.handlers.onConnection !== undefined) {
      s.listener = null;
      l.handlers.onConnection(s);
    } else {
      l.acceptQueue.push(s);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Input

  private frame(
    b: Uint8Array,
    off: number,
    len: number,
    ol: number,
    rssHash: number,
    now: number,
  ): void {
    const st = this.stats;
    st.rxFrames++;
    if (len < ETH_HEADER_LEN) {
      st.rxMalformed++;
      return;
    }
    // The destination MAC as 16 + 32 bits: no 48-bit number per frame.
    const dstHi = get16(b, off);
    const dstLo = get32(b, off + 2);
    const broadcast = dstHi === 0xffff && dstLo === 0xffffffff;
    if (!broadcast && (dstHi !== this.#macHi || dstLo !== this.#macLo)) {
      st.rxNotForUs++;
      return;
    }
    this.#rxLinkBroadcast = broadcast;
    const type = ethRawType(b, off);
    if (type === ETHERTYPE_IPV4)
      this.ipv4(b, off + ETH_HEADER_LEN, len - ETH_HEADER_LEN, ol, rssHash, now);
    else if (type === ETHERTYPE_ARP) this.arpIn(b, off + ETH_HEADER_LEN, len - ETH_HEADER_LEN, now);
    else st.rxUnknownEthertype++;
  }

  private arpIn(b: Uint8Array, off: number, len: number, now: number): void {
    const st = this.stats;
    if (
      arpCheck(b, off, len) !== 0 ||
      arpHtype(b, off) !== ARP_HTYPE_ETHERNET ||
      arpPtype(b, off) !== ETHERTYPE_IPV4
    ) {
      st.rxMalformed++;
      return;
    }
    const op = arpOper(b, off);
    const spa = arpSpa(b, off);
    const sha = arpSha(b, off);
    const tpa = arpTpa(b, off);
    if (op === ARP_OP_REQUEST) st.arpRequestsIn++;
    else if (op === ARP_OP_REPLY) st.arpRepliesIn++;
    if (spa === 0) {
      // An RFC 5227 probe: learn nothing, but defend our address (as Linux's arp_process does).
      if (op === ARP_OP_REQUEST && tpa === this.localIp) this.sendArp(ARP_OP_REPLY, sha, 0);
      return;
    }
    if (spa === this.localIp) return; // our own echo
    // RFC 826: merge the sender's pair; learn it when we are the target.
    if (this.arp.update(spa, sha, now, tpa === this.localIp)) this.flushPending(spa, sha);
    if (op === ARP_OP_REQUEST && tpa === this.localIp) this.sendArp(ARP_OP_REPLY, sha, spa);
  }

  private flushPending(ip: number, mac: number): void {
    const out = this.#scratch;
    for (;;) {
      const n = this.arp.takePending(ip, out);
      if (n === 0) return;
      for (let i = 0; i < n; i++) {
        const m = out[i];
        setMac(this.data, this.pool.mtod(m), mac);
        this.queue(m);
      }
    }
  }

  private sendArp(op: number, targetMac: number, targetIp: number): void {
    if (this.txCount >= this.txQueue.length) {
      this.stats.txQueueFull++;
      return;
    }
    const m = this.pool.alloc();
    if (m < 0) {
      this.stats.txNoMbuf++;
      return;
    }
    const d = this.data;
    const e = this.pool.mtod(m);
    setMac(d, e, op === ARP_OP_REPLY ? targetMac : MAC_BROADCAST);
    setMac(d, e + 6, this.mac);
    set16(d, e + 12, ETHERTYPE_ARP);
    const a = e + ETH_HEADER_LEN;
    set16(d, a, ARP_HTYPE_ETHERNET);
    set16(d, a + 2, ETHERTYPE_IPV4);
    d[a + 4] = 6;
    d[a + 5] = 4;
    set16(d, a + 6, op);
    setMac(d, a + 8, this.mac);
    set32(d, a + 14, this.localIp);
    setMac(d, a + 18, targetMac);
    set32(d, a + 24, targetIp);
    // Pad to the 60-byte Ethernet minimum.
    const len = ETH_HEADER_LEN + ARP_LEN;
    d.fill(0, e + len, e + 60);
    this.pool.setDataLen(m, 60);
    this.pool.setPktLen(m, 60);
    this.queue(m);
    if (op === ARP_OP_REPLY) this.stats.arpRepliesOut++;
    else this.stats.arpRequestsOut++;
  }

  private ipv4(
    b: Uint8Array,
    ip: number,
    len: number,
    ol: number,
    rssHash: number,
    now: number,
  ): void {
    const st = this.stats;
    if (ipv4Check(b, ip, len) !== 0) {
      st.rxBadIpv4++;
      return;
    }
    const dst = ipv4Dst(b, ip);
    if (dst !== this.localIp && dst !== this.#broadcast && dst !== 0xffffffff) {
      st.rxNotForUs++;
      return;
    }
    if (dst === this.localIp) this.learnNeighbour(b, ip, now);
    if (ipv4IsFragment(b, ip)) {
      st.rxFragments++;
      const whole = this.reassembler.add(b, ip, now);
      if (whole === null) return;
      st.rxReassembled++;
      this.#rxView = null;
      // A reassembled datagram had no RSS hash and its L4 checksum is always checked.
      this.l4(whole, 0, 0, -1, now);
      return;
    }
    this.l4(b, ip, ol, rssHash, now);
  }

  /**
   * smoltcp's habit: a unicast datagram from an on-link host tells us the host's MAC. With one
   * stack per queue, an ARP reply reaches one queue only; the neighbour's first segment (its SYN)
   * reaching this lcore is then enough to answer it, instead of an ARP retry a second later.
   * Only unknown or unresolved neighbours are learned: a known entry changes through ARP alone.
   */
  private learnNeighbour(b: Uint8Array, ip: number, now: number): void {
    const src = ipv4Src(b, ip);
    if (((src ^ this.localIp) & this.#netmask) !== 0 || src === this.localIp) return;
    const version = this.arp.version;
    if (src === this.#knownSrc && now === this.#knownNow && version === this.#knownVersion) return;
    if (!isUnicastSource(src, this.#broadcast)) return;
    if (this.arp.lookup(src, now) >= 0) {
      this.#knownSrc = src;
      this.#knownNow = now;
      this.#knownVersion = version;
      return;
    }
    const mac = getMac(b, ip - ETH_HEADER_LEN + 6);
    if (macIsMulticast(mac)) return;
    if (this.arp.update(src, mac, now, true)) this.flushPending(src, mac);
  }

  private l4(b: Uint8Array, ip: number, ol: number, rssHash: number, now: number): void {
    const proto = ipv4Protocol(b, ip);
    const hl = ipv4HeaderLen(b, ip);
    const l4 = ip + hl;
    const l4Len = ipv4TotalLength(b, ip) - hl;
    // RX_L4_CKSUM_NONE: the sender left the checksum to offload and the data is good (virtio's
    // NEEDS_CSUM); TX_*_CKSUM: the frame came straight from an offloading sender over memory.
    const trusted =
      (ol & MbufOlFlag.RX_L4_CKSUM_NONE) === MbufOlFlag.RX_L4_CKSUM_NONE ||
      (this.offload && (ol & (MbufOlFlag.TX_TCP_CKSUM | MbufOlFlag.TX_UDP_CKSUM)) !== 0);
    if (proto === IP_PROTO_TCP) this.tcpIn(b, ip, l4, l4Len, trusted, rssHash, now);
    else if (proto === IP_PROTO_UDP) this.udpIn(b, ip, l4, l4Len, trusted);
    else if (proto === IP_PROTO_ICMP) this.icmpIn(b, ip, l4, l4Len);
    else {
      this.stats.rxUnknownProtocol++;
      this.icmpError(b, ip, ICMP_TYPE_DEST_UNREACHABLE, ICMP_UNREACH_PROTOCOL, now);
    }
  }

  private tcpIn(
    b: Uint8Array,
    ip: number,
    off: number,
    len: number,
    trusted: boolean,
    rssHash: number,
    now: number,
  ): void {
    const ts = this.tcpStats;
    const hdr = tcpCheckHeader(b, off, len);
    if (hdr < 0) {
      ts.badSegs++;
      return;
    }
    const pseudo = trusted ? 0 : ipv4PseudoSum(b, ip, IP_PROTO_TCP, len);
    const view = this.#rxView;
    if (
      !trusted &&
      checksumOf(view !== null ? sum16View(view, off, len, pseudo) : sum16(b, off, len, pseudo)) !==
        0
    ) {
      this.stats.rxBadChecksum++;
      ts.badSegs++;
      return;
    }
    const seg = this.#seg;
    if (!seg.parse(b, off, hdr, len)) {
      ts.badSegs++;
      return;
    }
    const src = ipv4Src(b, ip);
    seg.srcIp = src;
    seg.dstIp = ipv4Dst(b, ip);
    // TCP is unicast only (RFC 1122 4.2.3.10): nothing to or from a broadcast or multicast
    // address (or sent as a link-layer broadcast) is answered, not even with an RST.
    if (
      seg.dstIp !== this.localIp ||
      this.#rxLinkBroadcast ||
      !isUnicastSource(src, this.#broadcast)
    ) {
      ts.badSegs++;
      return;
    }
    const hash = rssHash >= 0 ? rssHash : this.flowHash(src, seg.srcPort, seg.dstPort);
    const s = this.connections.lookup(hash, src, seg.srcPort, seg.dstPort);
    const flags = seg.flags;
    if (s !== undefined) {
      // RFC 6191 in spirit (Linux's tcp_timewait_state_process): a new SYN above the old
      // connection's sequence space reopens a TIME_WAIT pair at once.
      if (
        s.state === TcpState.TIME_WAIT &&
        this.#listeners[seg.dstPort] !== undefined &&
        (flags & (FLG_SYN | FLG_ACK | FLG_RST)) === FLG_SYN &&
        seqGt(seg.seq, s.rcvNxt)
      ) {
        s.state = TcpState.CLOSED;
        this.release(s);
      } else {
        s.input(seg, now);
        return;
      }
    }
    const l = this.#listeners[seg.dstPort];
    if (l !== undefined && (flags & (FLG_SYN | FLG_ACK | FLG_RST)) === FLG_SYN) {
      this.passiveOpen(l, seg, now);
      return;
    }
    if (l !== undefined && (flags & FLG_ACK) !== 0 && (flags & FLG_RST) === 0) {
      // RFC 9293 3.10.7.2: an ACK to a listener is answered with <SEQ=SEG.ACK><CTL=RST>.
      this.sendRst(seg, now);
      return;
    }
    if ((flags & FLG_RST) !== 0) return;
    // RFC 9293 3.10.7.2, LISTEN, fourth: anything else (a FIN, data without ACK) is dropped.
    if (l !== undefined) return;
    ts.noPortRsts++;
    this.sendRst(seg, now);
  }

  private passiveOpen(l: TcpListener, seg: Segment, now: number): void {
    const ts = this.tcpStats;
    if (l.halfOpen >= l.synBacklog) {
      ts.synBacklogDrops++;
      return;
    }
    if (l.acceptQueue.length >= l.acceptBacklog) {
      ts.acceptBacklogDrops++;
      return;
    }
    const s = new TcpSocket(this, { ...l.options }, {}, seg.dstPort, seg.srcIp, seg.srcPort);
    if (!this.admit(s)) {
      ts.synBacklogDrops++;
      return;
    }
    s.listener = l;
    l.halfOpen++;
    const { iss, tsOffset } = this.isn(seg.dstPort, seg.srcIp, seg.srcPort, now);
    s.openPassive(seg, iss, tsOffset, now);
  }

  /** RFC 9293 3.10.7.1: the reset for a segment that belongs to no connection. */
  private sendRst(seg: Segment, now: number): void {
    const m = this.ipAlloc();
    if (m < 0) return;
    const d = this.data;
    const o = this.l4Off;
    set16(d, o, seg.dstPort);
    set16(d, o + 2, seg.srcPort);
    let flags: number;
    if ((seg.flags & FLG_ACK) !== 0) {
      set32(d, o + 4, seg.ack);
      set32(d, o + 8, 0);
      flags = FLG_RST;
    } else {
      const segLen = seg.len + ((seg.flags & FLG_SYN) !== 0 ? 1 : 0) + (seg.flags & 1);
      set32(d, o + 4, 0);
      set32(d, o + 8, seqAdd(seg.seq, segLen));
      flags = FLG_RST | FLG_ACK;
    }
    d[o + 12] = (TCP_HEADER_LEN >>> 2) << 4;
    d[o + 13] = flags;
    set16(d, o + 14, 0);
    set32(d, o + 16, 0);
    this.tcpStats.rstsSent++;
    this.tcpStats.segsOut++;
    this.ipSend(m, seg.srcIp, IP_PROTO_TCP, TCP_HEADER_LEN, now, 0);
  }

  private udpIn(b: Uint8Array, ip: number, off: number, len: number, trusted: boolean): void {
    const st = this.stats;
    const err = udpCheck(b, off, len, trusted ? -1 : ip);
    if (err !== 0) {
      if (err === 3) st.rxBadChecksum++;
      else st.rxMalformed++;
      return;
    }
    st.udpIn++;
    const s = this.#udp[udpDstPort(b, off)];
    if (s === undefined) {
      st.udpNoPort++;
      if (ipv4Dst(b, ip) === this.localIp)
        this.icmpError(b, ip, ICMP_TYPE_DEST_UNREACHABLE, ICMP_UNREACH_PORT, this.#lastNow);
      return;
    }
    const ulen = get16(b, off + 4);
    s.handlers.onMessage?.(
      s,
      b,
      off + UDP_HEADER_LEN,
      ulen - UDP_HEADER_LEN,
      ipv4Src(b, ip),
      udpSrcPort(b, off),
    );
  }

  private icmpIn(b: Uint8Array, ip: number, off: number, len: number): void {
    const st = this.stats;
    if (len < ICMP_HEADER_LEN) {
      st.rxMalformed++;
      return;
    }
    if (!icmpVerifyChecksum(b, off, len)) {
      st.rxBadChecksum++;
      return;
    }
    const type = b[off];
    if (type === ICMP_TYPE_ECHO_REQUEST) {
      st.icmpEchoIn++;
      // RFC 1122 3.2.2.6: echo the data back; a reply to a broadcast comes from our address.
      const m = this.ipAlloc();
      if (m < 0) return;
      const d = this.data;
      const o = this.l4Off;
      if (len > this.mtu - IPV4_HEADER) {
        this.pool.free(m);
        return; // a reassembled jumbo echo: replying would need fragmentation; Linux does, we do not
      }
      d.set(b.subarray(off, off + len), o);
      icmpEchoRequestToReply(d, o);
      this.ipSend(m, ipv4Src(b, ip), IP_PROTO_ICMP, len, this.#lastNow, 0);
      return;
    }
    if (type === ICMP_TYPE_DEST_UNREACHABLE || type === ICMP_TYPE_TIME_EXCEEDED) st.icmpErrorsIn++;
  }

  /**
   * An ICMP error about the datagram at b[ip..] (RFC 1122 3.2.2: never about an ICMP error, an
   * IP or link-layer broadcast, a non-first fragment, or a source that is not one host),
   * rate-limited.
   */
  private icmpError(b: Uint8Array, ip: number, type: number, code: number, now: number): void {
    const st = this.stats;
    const dst = ipv4Dst(b, ip);
    if (dst !== this.localIp || ipv4FragOffset(b, ip) !== 0 || this.#rxLinkBroadcast) return;
    // 0.0.0.0, 127/8, 224/4 multicast, 240/4 (limited broadcast included), our subnet broadcast.
    if (!isUnicastSource(ipv4Src(b, ip), this.#broadcast)) return;
    if (ipv4Protocol(b, ip) === IP_PROTO_ICMP) {
      const t = b[ip + ipv4HeaderLen(b, ip)];
      if (t !== 0 && t !== 8 && t !== 13 && t !== 14) return;
    }
    const sec = Math.floor(now / 1000);
    if (sec !== this.#icmpSecond) {
      this.#icmpSecond = sec;
      this.#icmpCount = 0;
    }
    if (this.#icmpCount++ >= this.#icmpLimit) {
      st.icmpRateLimited++;
      return;
    }
    const m = this.ipAlloc();
    if (m < 0) return;
    const d = this.data;
    const o = this.l4Off;
    const hl = ipv4HeaderLen(b, ip);
    // RFC 1812 4.3.2.3: quote as much as fits in 576 bytes.
    const quote = Math.min(ipv4TotalLength(b, ip), 576 - IPV4_HEADER - ICMP_HEADER_LEN);
    void hl;
    d[o] = type;
    d[o + 1] = code;
    set32(d, o + 4, 0);
    d.set(b.subarray(ip, ip + quote), o + ICMP_HEADER_LEN);
    set16(d, o + 2, 0);
    set16(d, o + 2, checksumOf(sum16(d, o, ICMP_HEADER_LEN + quote)));
    st.icmpErrorsOut++;
    this.ipSend(m, ipv4Src(b, ip), IP_PROTO_ICMP, ICMP_HEADER_LEN + quote, now, 0);
  }

  /**
   * @internal UdpSocket.sendTo: one datagram, fragmented when it exceeds the MTU (RFC 791).
   * Returns false when it could not be queued (no mbuf, full tx queue, no route).
   */
  udpSend(
    srcPort: number,
    dst: number,
    dstPort: number,
    src: Uint8Array,
    off: number,
    len: number,
    now: number,
  ): boolean {
    const st = this.stats;
    const udpLen = UDP_HEADER_LEN + len;
    if (udpLen > 65535 - IPV4_HEADER) {
      throw new TcpSocketError(
        'EINVAL',
        `a UDP datagram holds at most ${65535 - IPV4_HEADER - UDP_HEADER_LEN} bytes, got ${len}`,
      );
    }
    if (this.routes.nextHop(dst) < 0 && dst !== 0xffffffff) {
      st.txNoRoute++;
      return false;
    }
    if (IPV4_HEADER + udpLen <= this.mtu) {
      const m = this.ipAlloc();
      if (m < 0) return false;
      const d = this.data;
      const o = this.l4Off;
      set16(d, o, srcPort);
      set16(d, o + 2, dstPort);
      set16(d, o + 4, udpLen);
      set16(d, o + 6, 0);
      d.set(src.subarray(off, off + len), o + UDP_HEADER_LEN);
      this.ipSend(m, dst, IP_PROTO_UDP, udpLen, now, 0);
      st.udpOut++;
      return true;
    }
    // Fragmentation: build the whole datagram (header with its checksum) once, then cut it into
    // fragments of the largest multiple of 8 bytes that fits the MTU.
    const whole = new Uint8Array(udpLen);
    set16(whole, 0, srcPort);
    set16(whole, 2, dstPort);
    set16(whole, 4, udpLen);
    whole.set(src.subarray(off, off + len), UDP_HEADER_LEN);
    const pseudo = new Uint8Array(IPV4_HEADER);
    set32(pseudo, 12, this.localIp);
    set32(pseudo, 16, dst);
    const c = checksumOf(sum16(whole, 0, udpLen, ipv4PseudoSum(pseudo, 0, IP_PROTO_UDP, udpLen)));
    set16(whole, 6, c === 0 ? 0xffff : c);
    const per = (this.mtu - IPV4_HEADER) & ~7;
    const count = Math.ceil(udpLen / per);
    if (this.txQueue.length - this.txCount < count) {
      st.txQueueFull++;
      return false;
    }
    const ident = this.#ipIdent;
    for (let at = 0; at < udpLen; at += per) {
      const m = this.pool.alloc();
      if (m < 0) {
        st.txNoMbuf++;
        return false;
      }
      const chunk = Math.min(per, udpLen - at);
      const d = this.data;
      const eth = this.pool.mtod(m);
      const ip = eth + ETH_HEADER_LEN;
      d.set(whole.subarray(at, at + chunk), ip + IPV4_HEADER);
      const more = at + chunk < udpLen ? IPV4_FLAG_MF : 0;
      this.#ipIdent = ident;
      this.writeIpv4(ip, IPV4_HEADER + chunk, IP_PROTO_UDP, dst, more | (at >>> 3));
      setMac(d, eth + 6, this.mac);
      set16(d, eth + 12, ETHERTYPE_IPV4);
      this.pool.setDataLen(m, ETH_HEADER_LEN + IPV4_HEADER + chunk);
      this.pool.setPktLen(m, ETH_HEADER_LEN + IPV4_HEADER + chunk);
      this.resolveAndQueue(m, eth, dst, now);
      st.udpFragmentsOut++;
    }
    this.#ipIdent = (ident + 1) & 0xffff;
    st.udpOut++;
    return true;
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
    for (const s of [...this.connections]) {
      if (this.txCount >= this.txQueue.length) break;
      s.abort(now);
    }
    return this.connections.size;
  }
}

function onTcpTimer(_timer: number, now: number, s: TcpSocket): void {
  s.onTimer(now);
}

/** Whether `src` can be a host's own address: not 0, loopback, multicast, reserved or a broadcast. */
function isUnicastSource(src: number, subnetBroadcast: number): boolean {
  return src !== 0 && src >>> 24 !== 127 && src >>> 28 < 0xe && src !== subnetBroadcast;
}

function checkPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new OptionError(name, port, 'an integer from 1 to 65535');
  }
}
