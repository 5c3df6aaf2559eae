import { createHash } from 'node:crypto';
import { OptionError } from '@bypass/atomics-sync';
import {
  checksumOf,
  FLG_ACK,
  FLG_FIN,
  FLG_RST,
  FLG_SYN,
  IP_PROTO_TCP,
  ipv4Dst,
  ipv4PseudoSum,
  ipv4Src,
  ipv4ToString,
  parseIpv4,
  seqAdd,
  seqGt,
  set16,
  set32,
  sum16,
  sum16View,
  TCP_HEADER_LEN,
  tcpCheckHeader,
} from '@bypass/net';
import { TimerWheel } from '@bypass/timer';
import { ConnTable } from '../socket/conn-table.js';
import { TcpListener, type TcpListenerHandlers } from '../socket/listener.js';
import { type ResolvedTcpOptions, resolveTcpOptions, type TcpOptions } from '../socket/options.js';
import { Segment } from '../socket/segment.js';
import {
  newTcpStats,
  type TcpHandlers,
  type TcpHost,
  TcpSocket,
  TcpSocketError,
  TcpState,
  type TcpStats,
} from '../socket/tcp.js';
import { type Interface, isUnicastSource } from './interface.js';
import type { Ipv4Layer } from './ipv4.js';
import type { StackOptions, TcpListenOptions } from './options.js';

/**
 * TCP's place in the stack (smoltcp's interface/tcp.rs with the socket set): the demultiplexer
 * (a segment to its connection, a SYN to its listener, anything else answered with RST per RFC
 * 9293 3.10.7), passive and active opens (the ephemeral port chosen so that RSS brings the
 * replies to this lcore, the ISN of RFC 6528), the connection table and timer wheel, and the
 * services a connection asks of its host (TcpHost): frames, output deferred while the tx queue
 * is full, the ACK owed at the end of a burst, the challenge-ACK budget.
 */
export class TcpLayer implements TcpHost {
  readonly localIp: number;
  readonly data: Uint8Array;
  readonly txView: DataView;
  readonly ifaceMss: number;
  readonly tsoMax: number;
  readonly tcpStats: TcpStats = newTcpStats();
  readonly timers: TimerWheel<TcpSocket>;
  readonly connections: ConnTable;
  /** Options every connection starts from. */
  readonly defaults: ResolvedTcpOptions;
  l4Off = 0;
  readonly #if: Interface;
  readonly #ip: Ipv4Layer;
  /** Listeners by port: an index, not a Map lookup per segment. */
  readonly #listeners: (TcpListener | undefined)[] = new Array(65536).fill(undefined);
  readonly #seg = new Segment();
  readonly #rss: StackOptions['rss'];
  readonly #secret: Uint8Array;
  readonly #ephemeralLow: number;
  readonly #ephemeralHigh: number;
  #ephemeralNext: number;
  readonly #challengeLimit: number;
  #challengeSecond = -1;
  #challengeCount = 0;
  #challengeBudget = 0;
  /** xorshift32 state for the challenge budget's draw (seeded from the secret). */
  #rand: number;
  /** Connections whose output waits for room in the tx queue, in order. */
  readonly #deferred: TcpSocket[] = [];
  /** Connections owing an ACK at the next poll (the end of the receive burst): `[0 .. count)`. */
  readonly #acksAtPoll: (TcpSocket | null)[] = [];
  #acksAtPollCount = 0;

  /**
   * Throws OptionError naming a bad option and its value.
   * @param secret RFC 6528's secret key (16 bytes), also the start of the ephemeral ports.
   * @param budgetKey 4 bytes or more seeding the challenge-ACK budget's draw.
   */
  constructor(
    iface: Interface,
    ip: Ipv4Layer,
    o: StackOptions,
    secret: Uint8Array,
    budgetKey: Uint8Array,
  ) {
    this.#if = iface;
    this.#ip = ip;
    this.localIp = iface.localIp;
    this.data = iface.data;
    this.txView = iface.txView;
    this.ifaceMss = iface.ifaceMss;
    this.tsoMax = iface.tsoMax;
    this.defaults = resolveTcpOptions(o.tcp);
    const maxConn = o.maxConnections ?? 16384;
    if (!Number.isInteger(maxConn) || maxConn < 1 || maxConn > 1 << 22) {
      throw new OptionError('maxConnections', maxConn, 'an integer from 1 to 4194304');
    }
    this.connections = new ConnTable(maxConn);
    this.timers = new TimerWheel<TcpSocket>({
      capacity: maxConn,
      startMs: iface.lastNow,
      name: 'tcp',
    });
    this.#rss = o.rss;
    if (o.rss !== undefined) {
      const q = o.rss.queue;
      if (!Number.isInteger(q) || q < 0 || q >= o.rss.reta.queues) {
        throw new OptionError('rss.queue', q, `a queue of the RETA, 0 to ${o.rss.reta.queues - 1}`);
      }
    }
    this.#secret = secret;
    const [lo, hi] = o.ephemeralPorts ?? [32768, 60999];
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1024 || hi > 65535 || lo > hi) {
      throw new OptionError('ephemeralPorts', `${lo}-${hi}`, 'a range within 1024-65535');
    }
    this.#ephemeralLow = lo;
    this.#ephemeralHigh = hi;
    this.#ephemeralNext = lo + (((this.#secret[0] << 8) | this.#secret[1]) % (hi - lo + 1));
    this.#challengeLimit = o.challengeAckLimit ?? 1000;
    if (!Number.isInteger(this.#challengeLimit) || this.#challengeLimit < 1)
      throw new OptionError('challengeAckLimit', this.#challengeLimit, 'an integer >= 1');
    this.#rand =
      (budgetKey[0] << 24) | (budgetKey[1] << 16) | (budgetKey[2] << 8) | budgetKey[3] | 1;
  }

  // -------------------------------------------------------------------------------------------
  // In

  /** The TCP segment at b[off .. off + len) of the IPv4 packet at b[ip ..]. */
  input(
    b: Uint8Array,
    ip: number,
    off: number,
    len: number,
    trusted: boolean,
    rssHash: number,
    now: number,
  ): void {
    const ts = this.tcpStats;
    const iface = this.#if;
    const hdr = tcpCheckHeader(b, off, len);
    if (hdr < 0) {
      ts.badSegs++;
      return;
    }
    const pseudo = trusted ? 0 : ipv4PseudoSum(b, ip, IP_PROTO_TCP, len);
    const view = iface.rxView;
    if (
      !trusted &&
      checksumOf(view !== null ? sum16View(view, off, len, pseudo) : sum16(b, off, len, pseudo)) !==
        0
    ) {
      iface.stats.rxBadChecksum++;
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
    seg.segSize = iface.rxSegSize;
    // TCP is unicast only (RFC 1122 4.2.3.10): nothing to or from a broadcast or multicast
    // address (or sent as a link-layer broadcast) is answered, not even with an RST.
    if (
      seg.dstIp !== iface.localIp ||
      iface.rxLinkBroadcast ||
      !isUnicastSource(src, iface.broadcast)
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
        s.drop();
      } else {
        s.input(seg, now);
        return;
      }
    }
    const l = this.#listeners[seg.dstPort];
    if (l !== undefined && (flags & (FLG_SYN | FLG_FIN)) === (FLG_SYN | FLG_FIN)) {
      // SYN and FIN together: no stack sends it, scanners and fingerprinting tools do; dropped
      // in LISTEN as Linux's tcp_rcv_state_process does.
      ts.badSegs++;
      return;
    }
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
    const hash = this.flowHash(seg.srcIp, seg.srcPort, seg.dstPort);
    const s = new TcpSocket(this, { ...l.options }, {}, seg.dstPort, seg.srcIp, seg.srcPort, hash);
    if (!this.connections.insert(s)) {
      ts.synBacklogDrops++;
      return;
    }
    const { iss, tsOffset } = this.isn(seg.dstPort, seg.srcIp, seg.srcPort, now);
    s.openPassive(l, seg, iss, tsOffset, now);
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

  /**
   * An ICMP error quoting a TCP segment of ours (its destination, ports and sequence number
   * read from the quote): handed to the connection, which checks that the quote is in flight
   * (RFC 5927) before it believes it.
   */
  icmpError(
    type: number,
    code: number,
    mtu: number,
    rip: number,
    lport: number,
    rport: number,
    seq: number,
    now: number,
  ): void {
    const s = this.connections.lookup(this.flowHash(rip, rport, lport), rip, rport, lport);
    if (s === undefined) {
      this.tcpStats.icmpIgnored++;
      return;
    }
    s.icmpError(type, code, mtu, seq, now);
  }

  // -------------------------------------------------------------------------------------------
  // Opening and closing

  /** Listens on `port` (RFC 9293 LISTEN). Throws TcpSocketError EADDRINUSE when a listener has it. */
  listen(port: number, handlers: TcpListenerHandlers, options: TcpListenOptions): TcpListener {
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
      resolveTcpOptions(options.tcp, this.defaults),
      syn,
      backlog,
    );
    this.#listeners[port] = l;
    return l;
  }

  /** Stops listening; connections already accepted are not affected, pending ones are reset. */
  unlisten(listener: TcpListener, now: number): void {
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
  connect(
    remoteIp: string | number,
    remotePort: number,
    handlers: TcpHandlers,
    now: number,
    options?: TcpOptions,
  ): TcpSocket {
    const rip = typeof remoteIp === 'number' ? remoteIp >>> 0 : parseIpv4(remoteIp);
    checkPort('remotePort', remotePort);
    if (this.#if.routes.nextHop(rip) < 0) {
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
      options === undefined ? { ...this.defaults } : resolveTcpOptions(options, this.defaults);
    const hash = this.flowHash(rip, remotePort, port);
    const s = new TcpSocket(this, opts, handlers, port, rip, remotePort, hash);
    if (!this.connections.insert(s)) {
      throw new TcpSocketError(
        'EADDRNOTAVAIL',
        `the connection table is full (${this.connections.capacity}); raise maxConnections`,
      );
    }
    const { iss, tsOffset } = this.isn(port, rip, remotePort, now);
    s.openActive(iss, tsOffset, now);
    return s;
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

  /**
   * Aborts connections while the tx queue has room for their RSTs (see Stack.resetAll).
   * @returns the connections still open.
   */
  resetAll(now: number): number {
    for (const s of [...this.connections]) {
      if (this.#if.txFull()) break;
      s.abort(now);
    }
    return this.connections.size;
  }

  /** Drops every connection with no segment sent (the stack is closing). */
  close(): void {
    this.#acksAtPoll.fill(null);
    this.#acksAtPollCount = 0;
    for (const s of [...this.connections]) s.drop();
  }

  // -------------------------------------------------------------------------------------------
  // The poll loop's side

  /** The ACKs the receive burst owes, then the connections' timers. */
  poll(now: number): void {
    if (this.#acksAtPollCount > 0) this.flushAcksAtPoll(now);
    this.timers.manage(now);
  }

  /** Output that waited for room in the tx queue, in order, while the queue has room. */
  flushDeferred(now: number): void {
    const list = this.#deferred;
    const n = list.length;
    if (n === 0) return;
    // Connections deferred meanwhile (appended) wait for the next poll. The ones served leave
    // the front of the list in one pass, with no shift() each.
    let i = 0;
    while (i < n && !this.#if.txFull()) list[i++].runDeferred(now);
    if (i === 0) return;
    const len = list.length;
    for (let j = i; j < len; j++) list[j - i] = list[j];
    list.length = len - i;
  }

  /** Whether `poll` or `flushDeferred` has work now. */
  get pending(): boolean {
    return this.#deferred.length > 0 || this.#acksAtPollCount > 0;
  }

  private flushAcksAtPoll(now: number): void {
    const list = this.#acksAtPoll;
    // The list is kept (not emptied with length = 0): no array to grow again at the next burst.
    for (let i = 0; i < this.#acksAtPollCount; i++) {
      const s = list[i] as TcpSocket;
      list[i] = null;
      s.flushAckAtPoll(now);
    }
    this.#acksAtPollCount = 0;
  }

  // -------------------------------------------------------------------------------------------
  // TcpHost

  ipAlloc(l4Align = -1): number {
    const ip = this.#ip;
    const m = ip.alloc(l4Align);
    this.l4Off = ip.l4Off;
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
    this.#ip.send(m, dst, proto, l4Len, now, tsoSegsz);
  }

  deferOutput(s: TcpSocket): void {
    this.#deferred.push(s);
  }

  ackAtPoll(s: TcpSocket): void {
    this.#acksAtPoll[this.#acksAtPollCount++] = s;
  }

  release(s: TcpSocket): void {
    this.connections.remove(s);
    if (s.timer >= 0) this.timers.free(s.timer);
  }

  challengeAckAllowed(now: number): boolean {
    const sec = Math.floor(now / 1000);
    if (sec !== this.#challengeSecond) {
      this.#challengeSecond = sec;
      this.#challengeCount = 0;
      // Linux 4.7: half the limit (rounded up) + a random share of it, drawn anew each second.
      let x = this.#rand;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.#rand = x;
      this.#challengeBudget =
        ((this.#challengeLimit + 1) >>> 1) + ((x >>> 0) % this.#challengeLimit);
    }
    return this.#challengeCount++ < this.#challengeBudget;
  }
}

export function checkPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new OptionError(name, port, 'an integer from 1 to 65535');
  }
}
