import {
  FLG_ACK,
  FLG_FIN,
  FLG_PSH,
  FLG_RST,
  FLG_SYN,
  FLG_URG,
  ICMP_TYPE_DEST_UNREACHABLE,
  ICMP_TYPE_TIME_EXCEEDED,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_PORT,
  ICMP_UNREACH_PROTOCOL,
  IP_PROTO_TCP,
  OPT_MSS,
  OPT_NOP,
  OPT_TIMESTAMP,
  OPT_WINDOW_SCALE,
  seqAdd,
  seqGe,
  seqGt,
  seqLe,
  seqLt,
  seqSub,
  set16,
  set32,
  TCP_HEADER_LEN,
} from '@bypass/net';
import type { TimerWheel } from '@bypass/timer';
import { Assembler } from '../storage/assembler.js';
import { ByteRing } from '../storage/byte-ring.js';
import type { CongestionController } from './congestion/controller.js';
import { createCongestionController } from './congestion/registry.js';
import type { TcpListener } from './listener.js';
import type { ResolvedTcpOptions } from './options.js';
import { RttEstimator } from './rtt.js';
import type { Segment } from './segment.js';

/**
 * A TCP connection: the RFC 9293 state machine and its companions, sans-IO. The stack hands it
 * parsed segments (`input`) and the time; it writes segments through its host (the stack) and
 * calls the application's handlers. Timers are one wheel timer per connection, armed for the
 * earliest of its deadlines (retransmission, delayed ACK, persist, keepalive, TIME_WAIT).
 *
 * Buffers: the send buffer holds every byte from SND.UNA on (the retransmission queue is the
 * front of it); the receive buffer holds in-order bytes the application has not read and, past
 * them, out-of-order bytes that the assembler tracks.
 *
 * Companions implemented: RFC 6528 ISNs (by the host), RFC 7323 window scale, timestamps and
 * PAWS, RFC 6298 RTO with Karn's rule and backoff, RFC 5681/6582 NewReno, RFC 5961 challenge
 * ACKs, Nagle and sender/receiver silly-window avoidance, delayed ACKs, zero-window probes,
 * keepalive, TIME_WAIT.
 */

export const TcpState = {
  CLOSED: 0,
  LISTEN: 1,
  SYN_SENT: 2,
  SYN_RECEIVED: 3,
  ESTABLISHED: 4,
  FIN_WAIT_1: 5,
  FIN_WAIT_2: 6,
  CLOSE_WAIT: 7,
  CLOSING: 8,
  LAST_ACK: 9,
  TIME_WAIT: 10,
} as const;
export type TcpState = (typeof TcpState)[keyof typeof TcpState];

export const TCP_STATE_NAMES: readonly string[] = [
  'CLOSED',
  'LISTEN',
  'SYN_SENT',
  'SYN_RECEIVED',
  'ESTABLISHED',
  'FIN_WAIT_1',
  'FIN_WAIT_2',
  'CLOSE_WAIT',
  'CLOSING',
  'LAST_ACK',
  'TIME_WAIT',
];

/** Why a connection ended, in Node's error codes; null for an orderly close. */
export type TcpErrorCode = 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | 'ECONNABORTED' | null;

/** An operation the socket's state does not allow (write after end, and so on). */
export class TcpSocketError extends Error {
  override readonly name = 'TcpSocketError';
  constructor(
    readonly code: 'EPIPE' | 'ENOTCONN' | 'EADDRINUSE' | 'EADDRNOTAVAIL' | 'ENETUNREACH' | 'EINVAL',
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/**
 * What a connection tells its application. Every handler is optional and is called synchronously
 * from inside `Stack.input`, `Stack.poll` or a socket call.
 */
export interface TcpHandlers {
  /** The handshake completed (an active open; a passive one is announced by the listener). */
  onConnect?(socket: TcpSocket): void;
  /**
   * In-order bytes: `bytes[offset .. offset + length)`, a view into packet or buffer memory valid
   * only during the call (copy what you keep). With this handler set, the connection delivers
   * everything at once and the receive window stays open; without it (or while paused) bytes
   * wait in the receive buffer for `read`.
   */
  onData?(socket: TcpSocket, bytes: Uint8Array, offset: number, length: number): void;
  /** Bytes are waiting in the receive buffer (pull mode: no onData, or paused). */
  onReadable?(socket: TcpSocket): void;
  /** The peer finished sending (its FIN arrived after all its data). */
  onEnd?(socket: TcpSocket): void;
  /**
   * The peer marked urgent data (RFC 9293 MUST-30/31: URG with a pointer past what was read).
   * `mark` is the stream offset (bytes since the connection began) at which the urgent data
   * ends; the bytes themselves arrive inline, in order, through onData or read (RFC 6093: the
   * urgent pointer as every stack reads it, and urgent data kept in the stream as SO_OOBINLINE
   * does). Called once per advance of the mark.
   */
  onUrgent?(socket: TcpSocket, mark: number): void;
  /** The send buffer has room again after a `write` that did not take everything. */
  onDrain?(socket: TcpSocket): void;
  /** The connection is over for the application: closed in order (error null) or failed. */
  onClose?(socket: TcpSocket, error: TcpErrorCode): void;
}

/** Counters a stack keeps for all its connections (RFC 4022's tcp MIB, in spirit). */
export interface TcpStats {
  activeOpens: number;
  passiveOpens: number;
  attemptFails: number;
  estabResets: number;
  segsIn: number;
  segsOut: number;
  retransSegs: number;
  fastRetransmits: number;
  rtoTimeouts: number;
  rstsSent: number;
  rstsIn: number;
  challengeAcks: number;
  pawsDrops: number;
  /** Segments that advanced the urgent pointer (each told to the application). */
  urgentIn: number;
  /** ICMP errors about no connection of ours, or quoting a sequence number not in flight. */
  icmpIgnored: number;
  /** ICMP errors that ended a connection attempt (port or protocol unreachable in SYN_SENT). */
  icmpHardErrors: number;
  /** ICMP errors recorded on a connection as its soft error (RFC 1122 4.2.3.9). */
  icmpSoftErrors: number;
  /** Times a connection's MSS came down to a path MTU an ICMP error reported (RFC 1191). */
  pmtuUpdates: number;
  /** Times black-hole detection shrank a connection's segments after repeated timeouts. */
  blackHoleShrinks: number;
  /** Challenge ACKs not sent: the connection's or the stack's limit (RFC 5961 7). */
  challengeAcksLimited: number;
  outOfWindow: number;
  oooSegs: number;
  oooDrops: number;
  dupAcks: number;
  zeroWindowProbes: number;
  keepaliveProbes: number;
  synBacklogDrops: number;
  acceptBacklogDrops: number;
  badSegs: number;
  noPortRsts: number;
}

export function newTcpStats(): TcpStats {
  return {
    activeOpens: 0,
    passiveOpens: 0,
    attemptFails: 0,
    estabResets: 0,
    segsIn: 0,
    segsOut: 0,
    retransSegs: 0,
    fastRetransmits: 0,
    rtoTimeouts: 0,
    rstsSent: 0,
    rstsIn: 0,
    challengeAcks: 0,
    pawsDrops: 0,
    urgentIn: 0,
    icmpIgnored: 0,
    icmpHardErrors: 0,
    icmpSoftErrors: 0,
    pmtuUpdates: 0,
    blackHoleShrinks: 0,
    challengeAcksLimited: 0,
    outOfWindow: 0,
    oooSegs: 0,
    oooDrops: 0,
    dupAcks: 0,
    zeroWindowProbes: 0,
    keepaliveProbes: 0,
    synBacklogDrops: 0,
    acceptBacklogDrops: 0,
    badSegs: 0,
    noPortRsts: 0,
  };
}

/** What a connection needs from its stack. */
export interface TcpHost {
  readonly localIp: number;
  /** The bytes `ipAlloc`'s frames live in (the pool's data). */
  readonly data: Uint8Array;
  /** A DataView over the same bytes as `data`. */
  readonly txView: DataView;
  /** Largest TCP payload one frame carries on this interface: MTU - 40. */
  readonly ifaceMss: number;
  /** Largest TCP payload one TSO frame carries, or 0 when the port does not segment. */
  readonly tsoMax: number;
  readonly tcpStats: TcpStats;
  readonly timers: TimerWheel<TcpSocket>;
  /** After `ipAlloc`: where the L4 header goes in `data`. */
  l4Off: number;
  /**
   * Allocates a frame for an IPv4 packet; returns the mbuf or -1 when none can be had now.
   * `l4Align` (0-7, or -1 for any) asks for a frame placed so that the L4 header's byte address
   * is that much past a multiple of 8: a payload copied in then sits at the same alignment as its
   * source, which copies into shared memory need to run word by word (see sendData).
   */
  ipAlloc(l4Align?: number): number;
  /** Finishes and queues a packet `ipAlloc` began (L4 checksum, IPv4 header, next hop). */
  ipSend(m: number, dst: number, proto: number, l4Len: number, now: number, tsoSegsz: number): void;
  /**
   * The connection could not send everything (no mbuf or a full tx queue): call its
   * `runDeferred` once there is room (once per call: the socket asks only when not waiting).
   */
  deferOutput(socket: TcpSocket): void;
  /** Call `flushAckAtPoll` at the next poll (once per `ackAtPoll` set). */
  ackAtPoll(socket: TcpSocket): void;
  /** The connection reached CLOSED: drop it from the table and free its timer. */
  release(socket: TcpSocket): void;
  /** RFC 5961 7: whether another challenge ACK fits in this second's (randomised) budget. */
  challengeAckAllowed(now: number): boolean;
}

const S = TcpState;

/** Timestamps option with two NOPs in front: 12 bytes (RFC 7323 Appendix A). */
const TS_OPT_LEN = 12;
const TS_OPT_WORD0 = (OPT_NOP << 24) | (OPT_NOP << 16) | (OPT_TIMESTAMP << 8) | 10;
/** RFC 7323 5.5: a TS.Recent older than 24 days is invalid. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** RFC 9293 3.7.1: the MSS to assume when the peer sends none. */
const DEFAULT_PEER_MSS = 536;
const NO_DEADLINE = Number.POSITIVE_INFINITY;
/**
 * In-order bytes received and not acknowledged past which the ACK leaves at once instead of at
 * the end of the burst: 64 KiB, the most Linux's GRO coalesces into one ACKed packet.
 */
const ACK_COALESCE_MAX = 65536;
/** RFC 1191 7's plateaus, highest first: the guesses for a frag-needed without an MTU. */
const MTU_PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];
/** Timeouts in a row before black-hole detection shrinks the segments (Linux's tcp_retries1). */
const BLACK_HOLE_RETRIES = 3;
/** The first size it shrinks to (Linux's tcp_base_mss). */
const BLACK_HOLE_BASE_MSS = 1024;
/** How long until the agreed MSS is tried again (Linux's tcp_probe_interval). */
const BLACK_HOLE_REPROBE_MS = 600_000;
/** The lowest path MTU believed (Linux's ip min_pmtu). */
const PMTU_MIN = 552;
/** Linux's tcp_invalid_ratelimit default. */
const INVALID_ACK_INTERVAL_MS = 500;

export class TcpSocket {
  readonly host: TcpHost;
  readonly options: ResolvedTcpOptions;
  handlers: TcpHandlers;
  /** The listener this passive connection came from, until it is accepted. */
  listener: TcpListener | null = null;
  /** For the application (the socket API keeps its wrapper object here). */
  userData: unknown = undefined;

  state: TcpState = S.CLOSED;
  readonly localPort: number;
  readonly remoteIp: number;
  readonly remotePort: number;
  /** Source and destination port as the header's first 32-bit word. */
  readonly portsWord: number;
  /** The connection table hash (the RSS hash of the flow when the stack has RSS). */
  readonly hash: number;
  /** Index in the connection table, or -1. */
  slot = -1;
  /** The wheel timer, or -1. */
  timer = -1;

  // RFC 9293 3.3.1 send sequence variables.
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent (SND.NXT can fall back to SND.UNA after an RTO). */
  sndMax = 0;
  /** The peer's window in bytes (scaled). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer has offered (SWS avoidance, RFC 5961 5.2). */
  maxSndWnd = 0;
  sndWscale = 0;
  // Receive sequence variables.
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we last advertised: never moved left (RFC 9293 3.8.6.2.2). */
  rcvAdv = 0;
  rcvWscale = 0;

  /** MSS the peer announced, capped by our interface. */
  sndMss = DEFAULT_PEER_MSS;
  /** The MSS agreed at the handshake, which black-hole detection returns to (0: none yet). */
  agreedMss = 0;
  /** When black-hole detection tries the agreed MSS again (Infinity: not shrunk). */
  mssProbeAt = NO_DEADLINE;
  /** Payload per full segment: sndMss less the timestamp option. */
  effMss = DEFAULT_PEER_MSS;
  tsEnabled = false;
  tsRecent = 0;
  tsRecentAt = 0;
  /** Added to our ms clock in TSval (RFC 7323 5.4: a per-connection offset). */
  tsOffset = 0;
  lastAckSent = 0;
  sackPermitted = false;

  /** RFC 6298's estimator: SRTT, RTTVAR and the RTO. */
  readonly rtt: RttEstimator;
  /** Consecutive retransmissions of the same data (backoff exponent). */
  retries = 0;
  /** Sequence number being timed without timestamps (Karn), and when it was sent; -1 = none. */
  rttSeq = -1;
  rttSentAt = 0;

  /** The congestion controller (options.congestionControl): cwnd and ssthresh. */
  readonly cc: CongestionController;
  // Loss recovery (RFC 5681 3.2, RFC 6582).
  dupAcks = 0;
  inRecovery = false;
  /** The highest sequence number sent when recovery (or an RTO) began: NewReno's `recover`. */
  recover = 0;

  readonly sendBuf: ByteRing;
  readonly recvBuf: ByteRing;
  readonly ooo: Assembler;
  /** Sequence number of sendBuf's first byte. */
  sndBufSeq = 0;
  /** The application called end(): a FIN follows the data. */
  finQueued = false;
  finSent = false;
  /** The sequence number our FIN takes (valid once finQueued). */
  finSeq = 0;
  /** The peer's FIN arrived out of order at this sequence number; -1 = none. */
  rcvFinSeq = -1;
  finReceived = false;
  /** The application closed (not just shut down): nothing more is delivered. */
  orphan = false;
  paused = false;
  /** A write came up short: call onDrain when room frees. */
  wantDrain = false;
  ackNow = false;
  /** An ACK is owed at the stack's next poll (the end of the receive burst). */
  ackAtPoll = false;
  /** The peer's full segment payload as we have seen it (starts at 536 - timestamps). */
  rcvMss = 0;
  /** In-order bytes received since our last ACK (delayed ACK: ack every second segment). */
  unackedBytes = 0;
  closeReported = false;
  error: TcpErrorCode = null;
  /** Waiting in the host's deferred-output list. */
  deferred = false;

  // Deadlines (ms); Infinity when off.
  rtoAt = NO_DEADLINE;
  delAckAt = NO_DEADLINE;
  persistAt = NO_DEADLINE;
  persistBackoff = 0;
  /**
   * Zero-window probes unanswered in a row (Linux's icsk_probes_out): any ACK clears it; at
   * options.maxRetries the peer is taken for gone.
   */
  probesOut = 0;
  /** When the send side last moved (data acknowledged, the window opened, data queued on an idle connection): the user timeout runs from here. */
  progressAt = 0;
  keepAliveAt = NO_DEADLINE;
  keepAliveSent = 0;
  /** TIME_WAIT, FIN_WAIT_2 orphan and SYN timeouts. */
  closeAt = NO_DEADLINE;
  armedAt = NO_DEADLINE;
  lastRecvAt = 0;

  bytesReceived = 0;
  bytesSent = 0;
  /** Bytes of ours the peer acknowledged. */
  bytesAcknowledged = 0;
  /**
   * The last soft error an ICMP message reported (RFC 1122 4.2.3.9: ENETUNREACH,
   * EHOSTUNREACH, ...), or null: for the application to read when the connection stalls.
   */
  softError: string | null = null;
  /** RCV.UP: where the peer's urgent data ends, valid while `urgentSeen`. */
  rcvUp = 0;
  urgentSeen = false;

  constructor(
    host: TcpHost,
    options: ResolvedTcpOptions,
    handlers: TcpHandlers,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    hash: number,
  ) {
    this.host = host;
    this.hash = hash;
    this.options = options;
    this.handlers = handlers;
    this.localPort = localPort;
    this.remoteIp = remoteIp;
    this.remotePort = remotePort;
    this.portsWord = ((localPort << 16) | remotePort) >>> 0;
    this.rtt = new RttEstimator(options.rtoInitialMs, options.rtoMinMs, options.rtoMaxMs);
    this.cc = createCongestionController(options.congestionControl);
    this.sendBuf = new ByteRing(options.sendBuffer);
    this.recvBuf = new ByteRing(options.recvBuffer);
    this.ooo = new Assembler(options.maxOutOfOrderRanges);
    let scale = 0;
    while (scale < 14 && options.recvBuffer >>> scale > 0xffff) scale++;
    this.rcvWscale = options.windowScale ? scale : 0;
  }

  /** Read through a call so that TypeScript does not narrow it: handlers can close the socket. */
  isClosed(): boolean {
    return this.state === S.CLOSED;
  }

  get stateName(): string {
    return TCP_STATE_NAMES[this.state];
  }

  /** Bytes written and not yet acknowledged or not yet sent. */
  get bufferedBytes(): number {
    return this.sendBuf.length;
  }

  /** Bytes in flight: sent and not acknowledged (SYN and FIN count one). */
  get flight(): number {
    return seqSub(this.sndMax, this.sndUna);
  }

  /** Smoothed RTT in ms (0 before the first sample). */
  get smoothedRtt(): number {
    return this.rtt.srtt;
  }

  /** The retransmission timeout in ms. */
  get rto(): number {
    return this.rtt.rto;
  }

  /** The congestion window in bytes. */
  get cwnd(): number {
    return this.cc.cwnd;
  }

  /** The slow-start threshold in bytes. */
  get ssthresh(): number {
    return this.cc.ssthresh;
  }

  // -------------------------------------------------------------------------------------------
  // Opening

  /** Active open (RFC 9293 3.10.1): sends the SYN. */
  openActive(iss: number, tsOffset: number, now: number): void {
    this.timer = this.host.timers.create(onTcpTimer, this);
    this.initSend(iss, tsOffset);
    this.state = S.SYN_SENT;
    this.host.tcpStats.activeOpens++;
    this.sendSyn(now);
  }

  /**
   * Passive open from `listener`'s SYN (already parsed into `seg`): sends the SYN-ACK. The
   * connection counts as the listener's half-open one until it is established or closes.
   */
  openPassive(
    listener: TcpListener,
    seg: Segment,
    iss: number,
    tsOffset: number,
    now: number,
  ): void {
    this.timer = this.host.timers.create(onTcpTimer, this);
    this.listener = listener;
    listener.halfOpen++;
    this.initSend(iss, tsOffset);
    this.takeSynOptions(seg, now);
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.sndWnd = seg.window; // RFC 7323 2.2: the window of a SYN is never scaled
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = seg.seq;
    this.sndWl2 = iss;
    this.state = S.SYN_RECEIVED;
    this.host.tcpStats.passiveOpens++;
    this.lastRecvAt = now;
    this.sendSyn(now);
  }

  private initSend(iss: number, tsOffset: number): void {
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.sndBufSeq = seqAdd(iss, 1);
    this.recover = iss;
    this.tsOffset = tsOffset;
    this.lastTsSent = tsOffset;
  }

  private takeSynOptions(seg: Segment, now: number): void {
    const ourMss = this.ourMss();
    this.sndMss = Math.max(64, Math.min(seg.mss >= 0 ? seg.mss : DEFAULT_PEER_MSS, ourMss));
    this.agreedMss = this.sndMss;
    this.peerOfferedWs = this.options.windowScale && seg.wscale >= 0;
    if (this.peerOfferedWs) {
      this.sndWscale = seg.wscale;
    } else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
    this.tsEnabled = this.options.timestamps && seg.hasTimestamp;
    if (this.tsEnabled) {
      this.tsRecent = seg.tsval;
      this.tsRecentAt = now;
    }
    this.sackPermitted = false; // SACK recovery comes later; we do not offer it
    this.effMss = this.sndMss - (this.tsEnabled ? TS_OPT_LEN : 0);
    this.rcvMss = Math.min(DEFAULT_PEER_MSS, this.sndMss) - (this.tsEnabled ? TS_OPT_LEN : 0);
    // RFC 6928: IW = min(10 * MSS, max(2 * MSS, 14600)) in general, initialWindowSegments here.
    this.cc.init(this.effMss, this.options.initialWindowSegments);
  }

  private ourMss(): number {
    return this.options.mss > 0
      ? Math.min(this.options.mss, this.host.ifaceMss)
      : this.host.ifaceMss;
  }

  // -------------------------------------------------------------------------------------------
  // Application calls

  /**
   * Queues bytes `src[off .. off + len)` for sending (copied). Returns how many the send buffer
   * took; when fewer than `len`, `onDrain` follows once there is room.
   * @throws TcpSocketError EPIPE after end() or once the connection is closing or closed.
   */
  write(src: Uint8Array, off: number, len: number, now: number): number {
    const st = this.state;
    const open =
      st === S.SYN_SENT || st === S.SYN_RECEIVED || st === S.ESTABLISHED || st === S.CLOSE_WAIT;
    if (!open || this.finQueued) {
      throw new TcpSocketError(
        'EPIPE',
        `write on a connection in ${this.stateName}${this.finQueued ? ' after end()' : ''}; check the close/end events before writing`,
      );
    }
    if (this.sendBuf.length === 0) this.progressAt = now; // the user timeout starts with data
    const n = this.sendBuf.write(src, off, len);
    if (n < len) this.wantDrain = true;
    if (n > 0 && st >= S.ESTABLISHED) this.output(now);
    return n;
  }

  /** Half-close (RFC 9293 3.10.4 CLOSE on the send side): a FIN follows the queued data. */
  end(now: number): void {
    if (this.finQueued) return;
    // A FIN on an idle connection is new work for the send side: the user timeout starts here.
    if (this.sendBuf.length === 0 && this.sndMax === this.sndUna) this.progressAt = now;
    switch (this.state) {
      case S.CLOSED:
      case S.LISTEN:
        return;
      case S.SYN_SENT:
      case S.SYN_RECEIVED:
        // RFC 9293 3.10.4: queued until ESTABLISHED; the FIN follows the data written so far.
        this.finQueued = true;
        this.finSeq = seqAdd(this.sndBufSeq, this.sendBuf.length);
        if (this.state === S.SYN_RECEIVED && this.sendBuf.length === 0) {
          // "If no SENDs have been issued and there is no pending data to send, then form a
          // FIN segment and send it, and enter FIN-WAIT-1 state" (our SYN still unacknowledged).
          this.state = S.FIN_WAIT_1;
          this.sendData(this.sndNxt, 0, true, now);
          this.armTimer(now);
        }
        return;
      case S.ESTABLISHED:
      case S.CLOSE_WAIT:
        this.finQueued = true;
        this.finSeq = seqAdd(this.sndBufSeq, this.sendBuf.length);
        this.state = this.state === S.ESTABLISHED ? S.FIN_WAIT_1 : S.LAST_ACK;
        this.output(now);
        return;
      default:
        return;
    }
  }

  /**
   * Full close: no more data either way. As Linux does, unread received data makes it an abort
   * (RFC 9293 3.10.4 lets either happen; an RST tells the peer its data was not read).
   */
  close(now: number): void {
    if (this.state === S.CLOSED) return;
    this.orphan = true;
    this.paused = true;
    if (this.recvBuf.length > 0) {
      this.abort(now);
      return;
    }
    if (this.state === S.SYN_SENT) {
      this.toClosed(null);
      return;
    }
    this.end(now);
    if (this.state === S.FIN_WAIT_2) this.setCloseTimer(now + this.options.finWait2TimeoutMs, now);
  }

  /** Abort (RFC 9293 3.10.5): an RST if the peer knows us, then CLOSED at once. */
  abort(now: number): void {
    if (this.state === S.CLOSED) return;
    if (this.state >= S.SYN_RECEIVED && this.state <= S.LAST_ACK && this.state !== S.SYN_SENT) {
      this.sendControl(FLG_RST | FLG_ACK, this.sndNxt, this.rcvNxt, now);
    }
    this.toClosed(this.state === S.TIME_WAIT ? null : 'ECONNABORTED');
  }

  /** Copies and consumes up to `len` received bytes (pull mode). Returns the count. */
  read(dst: Uint8Array, off: number, len: number, now: number): number {
    const n = this.recvBuf.read(dst, off, len);
    if (n > 0) this.windowOpened(now);
    if (this.finReceived && this.recvBuf.length === 0 && !this.endReported && !this.orphan)
      this.reportEnd();
    return n;
  }

  /** Stop delivering to onData: bytes wait in the receive buffer and the window closes. */
  pause(): void {
    this.paused = true;
  }

  /** Deliver again: what waits in the receive buffer goes to onData now (also after accept()). */
  resume(now: number): void {
    if (this.orphan) return;
    this.paused = false;
    this.deliverBuffered(now);
    this.flushAck(now);
    if (this.finReceived && this.recvBuf.length === 0 && !this.endReported) this.reportEnd();
  }

  setNoDelay(on: boolean, now: number): void {
    (this.options as { noDelay: boolean }).noDelay = on;
    if (on && this.state >= S.ESTABLISHED) this.output(now);
  }

  setKeepAlive(on: boolean, idleMs: number, now: number): void {
    const o = this.options as { keepAlive: boolean; keepAliveIdleMs: number };
    o.keepAlive = on;
    if (idleMs > 0) o.keepAliveIdleMs = idleMs;
    this.keepAliveSent = 0;
    this.keepAliveAt =
      on && this.state >= S.ESTABLISHED && this.state !== S.TIME_WAIT
        ? this.lastRecvAt + o.keepAliveIdleMs
        : NO_DEADLINE;
    this.armTimer(now);
  }

  // -------------------------------------------------------------------------------------------
  // Segment arrival (RFC 9293 3.10.7)

  input(seg: Segment, now: number): void {
    this.host.tcpStats.segsIn++;
    const flags = seg.flags;
    if (this.state === S.SYN_SENT) {
      this.inputSynSent(seg, now);
      return;
    }
    if (this.state === S.SYN_RECEIVED && (flags & FLG_SYN) !== 0 && seg.seq === this.irs) {
      if ((flags & (FLG_ACK | FLG_RST)) === 0) {
        // The peer retransmitted its SYN: our SYN-ACK was lost. Answer with the SYN-ACK again
        // (Linux's tcp_check_req), before the sequence test, which would reject the old SYN;
        // rate-limited, and leaving the retransmission timer and its retry count alone, so
        // that a peer repeating its SYN cannot keep a half-open connection alive for ever.
        if (now - this.lastInvalidAckAt >= INVALID_ACK_INTERVAL_MS) {
          this.lastInvalidAckAt = now;
          this.sendSyn(now, false);
        }
        return;
      }
      if ((flags & FLG_ACK) !== 0 && this.listener === null) {
        // Simultaneous open (RFC 9293 figure 8, line 6): the peer's SYN-ACK carries the ACK of
        // our SYN. Its SYN is old news; take the segment as if it came without it.
        seg.seq = seqAdd(seg.seq, 1);
        seg.flags = flags & ~FLG_SYN;
        this.ackNow = true; // a SYN-ACK is acknowledged, as in SYN_SENT
        this.input(seg, now);
        this.host.tcpStats.segsIn--;
        return;
      }
    }
    // RFC 7323 5.3 PAWS: a timestamp older than TS.Recent marks an old duplicate.
    if (
      this.tsEnabled &&
      seg.hasTimestamp &&
      (flags & FLG_RST) === 0 &&
      seqLt(seg.tsval, this.tsRecent) &&
      now - this.tsRecentAt < PAWS_IDLE_MS
    ) {
      this.host.tcpStats.pawsDrops++;
      // The duplicate ACK it earns is rate-limited like any out-of-window answer (Linux's
      // tcp_oow_rate_limited): a stream of old timestamps must not turn into a stream of ACKs.
      this.invalidAck(seg.len + (flags & FLG_SYN ? 1 : 0) + (flags & FLG_FIN), now);
      return;
    }
    // First: the sequence number (RFC 9293 3.10.7.4, the four cases).
    let seq = seg.seq;
    let len = seg.len;
    let payloadOff = seg.payloadOff;
    let fin = (flags & FLG_FIN) !== 0;
    const segLen = len + ((flags & FLG_SYN) !== 0 ? 1 : 0) + (fin ? 1 : 0);
    const rcvWnd = Math.max(seqSub(this.rcvAdv, this.rcvNxt), 0);
    let acceptable: boolean;
    if (segLen === 0) {
      acceptable =
        rcvWnd === 0
          ? seq === this.rcvNxt
          : seqGe(seq, this.rcvNxt) && seqLt(seq, seqAdd(this.rcvNxt, rcvWnd));
      // A pure ACK overtaken by data we have not acknowledged yet (reordering) still carries
      // news about our data: accept it down to the last RCV.NXT we acknowledged, as Linux's
      // tcp_sequence does with rcv_wup.
      if (!acceptable && seqLt(seq, this.rcvNxt) && seqGe(seq, this.lastAckSent)) acceptable = true;
    } else if (rcvWnd === 0) {
      acceptable = false;
    } else {
      const last = seqAdd(seq, segLen - 1);
      acceptable =
        (seqGe(seq, this.rcvNxt) && seqLt(seq, seqAdd(this.rcvNxt, rcvWnd))) ||
        (seqGe(last, this.rcvNxt) && seqLt(last, seqAdd(this.rcvNxt, rcvWnd)));
    }
    if (!acceptable) {
      // RFC 5961 4.2: any SYN in a synchronized state gets a (rate-limited) challenge ACK.
      if ((flags & (FLG_SYN | FLG_RST)) === FLG_SYN) {
        this.challengeAck(now);
        return;
      }
      // A zero-window probe or data past the window still gets an ACK; an RST never does.
      if ((flags & FLG_RST) === 0) {
        this.host.tcpStats.outOfWindow++;
        if (this.state === S.TIME_WAIT && fin)
          this.setCloseTimer(now + this.options.timeWaitMs, now);
        this.invalidAck(segLen, now);
      }
      return;
    }
    // Second: RST (RFC 5961 3.2: only an exact match resets; in-window gets a challenge ACK).
    if ((flags & FLG_RST) !== 0) {
      this.host.tcpStats.rstsIn++;
      if (seq !== this.rcvNxt) {
        this.challengeAck(now);
        return;
      }
      if (this.state === S.SYN_RECEIVED && this.listener !== null) {
        // RFC 9293 3.10.7.4: a passive open returns to LISTEN; the half-open connection just goes.
        this.toClosed(null);
        return;
      }
      const closing = this.state >= S.CLOSING && this.state !== S.CLOSE_WAIT;
      if (!closing) this.host.tcpStats.estabResets++;
      this.toClosed(closing ? null : this.state === S.SYN_RECEIVED ? 'ECONNREFUSED' : 'ECONNRESET');
      return;
    }
    // Fourth: SYN in a synchronized state (RFC 5961 4.2: challenge ACK, whatever its sequence).
    if ((flags & FLG_SYN) !== 0) {
      this.challengeAck(now);
      return;
    }
    // Fifth: ACK.
    if ((flags & FLG_ACK) === 0) return;
    this.lastRecvAt = now;
    this.keepAliveSent = 0;
    this.probesOut = 0;
    if (!this.processAck(seg, now)) return;
    if (this.state === S.CLOSED) return;
    // RFC 7323 4.3: TS.Recent takes the TSval of a segment covering Last.ACK.sent.
    if (
      this.tsEnabled &&
      seg.hasTimestamp &&
      seqLe(seq, this.lastAckSent) &&
      seqGe(seqAdd(seq, segLen), this.lastAckSent)
    ) {
      this.tsRecent = seg.tsval;
      this.tsRecentAt = now;
    }
    // Trim what precedes RCV.NXT and what lies past the window.
    const before = seqSub(this.rcvNxt, seq);
    if (before > 0) {
      if (before >= len) {
        // Only the FIN (if any) is new; the data is all old.
        payloadOff += len;
        len = 0;
      } else {
        payloadOff += before;
        len -= before;
      }
      seq = this.rcvNxt;
    }
    const room = seqSub(seqAdd(this.rcvNxt, rcvWnd), seq);
    if (len > room) {
      len = Math.max(room, 0);
      fin = false;
    }
    // Sixth: the URG bit (RFC 9293 3.10.7.4): RCV.UP <- max(RCV.UP, SEG.UP), and the user told
    // when it lies past what was received.
    if (
      (flags & FLG_URG) !== 0 &&
      (this.state === S.ESTABLISHED || this.state === S.FIN_WAIT_1 || this.state === S.FIN_WAIT_2)
    ) {
      this.urgent(seqAdd(seg.seq, seg.urgent));
    }
    // Seventh: segment text.
    if (len > 0 && this.orphan && (this.state === S.FIN_WAIT_1 || this.state === S.FIN_WAIT_2)) {
      // RFC 1122 4.2.2.13 (Linux's tcp_rcv_state_process): the application closed, so new data
      // can never be read: reset, and the writer learns it at once instead of after a timeout.
      this.sendControl(FLG_RST | FLG_ACK, this.sndMax, seqAdd(seq, len), now);
      this.toClosed(null);
      return;
    }
    if (len > 0) {
      if (
        this.state === S.ESTABLISHED ||
        this.state === S.FIN_WAIT_1 ||
        this.state === S.FIN_WAIT_2
      ) {
        this.receiveData(seg.data, payloadOff, len, seq, seg.segSize, now);
      } else {
        // CLOSE_WAIT and later: the peer already sent its FIN; this data cannot be (RFC 9293).
        this.ackNow = true;
      }
    }
    // Eighth: FIN.
    if (fin) {
      const finAt = seqAdd(seq, len);
      if (finAt === this.rcvNxt && this.ooo.isEmpty) {
        this.receiveFin(now);
      } else if (seqGt(finAt, this.rcvNxt)) {
        this.rcvFinSeq = finAt;
        this.ackNow = true;
      } else if (this.state === S.TIME_WAIT) {
        // RFC 9293 3.10.7.4: a retransmitted FIN restarts the 2 MSL wait.
        this.ackNow = true;
        this.setCloseTimer(now + this.options.timeWaitMs, now);
      }
    }
    if (this.isClosed()) return;
    if (this.drainDue) {
      this.drainDue = false;
      this.handlers.onDrain?.(this);
      if (this.isClosed()) return;
    }
    this.output(now);
  }

  private inputSynSent(seg: Segment, now: number): void {
    const flags = seg.flags;
    const hasAck = (flags & FLG_ACK) !== 0;
    if (hasAck && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax))) {
      if ((flags & FLG_RST) === 0) this.sendControl(FLG_RST, seg.ack, 0, now);
      return;
    }
    if ((flags & FLG_RST) !== 0) {
      this.host.tcpStats.rstsIn++;
      // RFC 5961 3.2 for SYN-SENT: an RST is valid only with an acceptable ACK.
      if (hasAck) {
        this.host.tcpStats.attemptFails++;
        this.toClosed('ECONNREFUSED');
      }
      return;
    }
    if ((flags & FLG_SYN) === 0) return;
    this.takeSynOptions(seg, now);
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.lastRecvAt = now;
    if (hasAck) {
      this.sndWnd = seg.window; // unscaled on a SYN
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.ackedSyn(seg, now);
      this.state = this.finQueued ? S.FIN_WAIT_1 : S.ESTABLISHED;
      this.becameEstablished(now);
      this.sendAck(now);
      this.handlers.onConnect?.(this);
      if (this.state === S.ESTABLISHED || this.state === S.FIN_WAIT_1) this.output(now);
    } else {
      // Simultaneous open (RFC 9293 3.5, figure 8): SYN-RECEIVED, SYN-ACK with our ISS.
      this.sndWnd = seg.window;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      this.state = S.SYN_RECEIVED;
      this.sndNxt = this.iss;
      this.retries = 0;
      this.sendSyn(now);
    }
  }

  /** Our SYN is acknowledged: RTT sample, retransmission state reset. */
  private ackedSyn(seg: Segment, now: number): void {
    this.sndUna = seg.ack;
    this.synAcked = true;
    if (this.retries === 0) {
      if (this.tsEnabled && seg.hasTimestamp && seg.tsecr !== 0) {
        this.rtt.sample(this.tsRtt(seg.tsecr, now));
      } else {
        this.rtt.sample(now - this.rttSentAt);
      }
    } else {
      // RFC 6298 5.7: a retransmitted SYN leaves RTO at 3 s once data flows; RFC 5681 3.1:
      // and the initial window is one segment.
      this.rtt.atLeast(3000);
      this.cc.init(this.effMss, 1);
    }
    this.retries = 0;
    this.rtoAt = NO_DEADLINE;
    this.rttSeq = -1;
  }

  private becameEstablished(now: number): void {
    this.rcvAdv = this.rcvNxt;
    this.updateRcvAdv();
    if (this.options.keepAlive) this.keepAliveAt = now + this.options.keepAliveIdleMs;
    this.armTimer(now);
  }

  /**
   * RFC 9293 3.10.7.4 fifth step, RFC 5961 5.2, RFC 5681 and 6582. Returns false when the
   * segment is to be dropped.
   */
  private processAck(seg: Segment, now: number): boolean {
    const ack = seg.ack;
    if (this.state === S.SYN_RECEIVED || !this.synAcked) {
      if (seqLe(ack, this.sndUna) || seqGt(ack, this.sndMax)) {
        this.sendControl(FLG_RST, ack, 0, now);
        return false;
      }
      this.ackedSyn(seg, now);
      this.state = this.finQueued ? S.FIN_WAIT_1 : S.ESTABLISHED;
      this.sndWnd = seg.window << this.sndWscale;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
      this.becameEstablished(now);
      if (this.listener !== null) this.listener.established(this, now);
      else this.handlers.onConnect?.(this);
      if (this.isClosed()) return false;
    }
    // RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT].
    if (seqGt(ack, this.sndMax)) {
      // RFC 5961 5.2: an ACK of data never sent gets an ACK, rate-limited (an ACK loop otherwise).
      this.invalidAck(seg.len + (seg.flags & FLG_FIN), now);
      return false;
    }
    if (seqLt(ack, seqAdd(this.sndUna, -this.maxSndWnd))) {
      this.challengeAck(now);
      return false;
    }
    const wnd = seg.window << this.sndWscale;
    const advanced = seqGt(ack, this.sndUna);
    // RFC 5681 2: a duplicate ACK also leaves the window as it was; decide before updating it.
    const duplicate =
      !advanced &&
      ack === this.sndUna &&
      seg.len === 0 &&
      (seg.flags & FLG_FIN) === 0 &&
      wnd === this.sndWnd &&
      seqGt(this.sndMax, this.sndUna);
    // Window update (RFC 9293 3.10.7.4: SND.WL1/WL2 guard against old segments), before the
    // ACK moves SND.UNA: anything sent from here on must see the window this ACK carries, not
    // the old window from the new SND.UNA (that overshoots the peer's right edge).
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      if (wnd > 0 && this.sndWnd === 0) this.progressAt = now; // the window opened
      this.sndWnd = wnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
      if (wnd > this.maxSndWnd) this.maxSndWnd = wnd;
      if (wnd > 0 && this.persistAt !== NO_DEADLINE) {
        this.persistAt = NO_DEADLINE;
        this.persistBackoff = 0;
      }
    }
    if (advanced) this.ackAdvanced(seg, ack, now);
    else if (duplicate) this.duplicateAck(now);
    // State changes on our FIN being acknowledged.
    if (this.finQueued && seqGe(this.sndUna, seqAdd(this.finSeq, 1))) {
      switch (this.state) {
        case S.FIN_WAIT_1:
          this.state = S.FIN_WAIT_2;
          if (this.orphan) this.setCloseTimer(now + this.options.finWait2TimeoutMs, now);
          break;
        case S.CLOSING:
          this.enterTimeWait(now);
          break;
        case S.LAST_ACK:
          this.toClosed(null);
          return false;
      }
    }
    return true;
  }

  private ackAdvanced(seg: Segment, ack: number, now: number): void {
    const acked = seqSub(ack, this.sndUna);
    const flightBefore = this.flight;
    // RTT (RFC 6298 3, RFC 7323 4.1): timestamps echo; otherwise one timed segment, Karn's rule.
    let rtt = -1;
    if (this.tsEnabled && seg.hasTimestamp && seg.tsecr !== 0) {
      // RFC 7323 4.1: the echo times the segment that was acked, retransmitted or not.
      rtt = this.tsRtt(seg.tsecr, now);
      if (rtt >= 0) this.rtt.sample(rtt);
    } else if (this.rttSeq >= 0 && seqGt(ack, this.rttSeq)) {
      rtt = now - this.rttSentAt;
      this.rtt.sample(rtt);
      this.rttSeq = -1;
    }
    this.retries = 0;
    this.limitedBytes = 0;
    this.progressAt = now;
    if (this.mssProbeAt <= now) {
      // Black-hole detection's re-probe: the agreed MSS again (a timeout shrinks it anew).
      this.mssProbeAt = NO_DEADLINE;
      this.sndMss = this.agreedMss;
      this.effMss = this.sndMss - (this.tsEnabled ? TS_OPT_LEN : 0);
    }
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    if (this.finQueued && seqGt(ack, this.finSeq)) this.finSent = true;
    // Drop acknowledged bytes (the FIN's sequence number is not in the buffer).
    const inBuf = seqSub(ack, this.sndBufSeq);
    if (inBuf > 0) {
      const n = Math.min(inBuf, this.sendBuf.length);
      this.sendBuf.discard(n);
      // Everything acknowledged: the next write starts at the ring's first bytes again, so a
      // connection that sends little keeps touching the same few pages of a large buffer (the
      // memory is committed only where written).
      if (this.sendBuf.length === 0) this.sendBuf.alignEmpty(0);
      this.sndBufSeq = seqAdd(this.sndBufSeq, n);
      this.bytesAcknowledged += n;
    }
    this.congestionOnAck(acked, flightBefore, rtt, now);
    // RFC 6298 5.2/5.3: stop the timer when all is acked, else restart it.
    this.rtoAt = seqGt(this.sndMax, this.sndUna) ? now + this.rtt.rto : NO_DEADLINE;
    // onDrain runs once the whole segment is processed (see input): the application's writes
    // then meet a consistent SND.UNA, window and state.
    if (this.wantDrain && this.sendBuf.free > 0 && !this.finQueued) {
      this.wantDrain = false;
      this.drainDue = true;
    }
  }

  /** New data acknowledged: NewReno's recovery steps (RFC 6582 3.2), else the controller's growth. */
  private congestionOnAck(acked: number, flightBefore: number, rtt: number, now: number): void {
    const mss = this.effMss;
    const cc = this.cc;
    if (this.inRecovery) {
      if (seqGe(this.sndUna, this.recover)) {
        // Step 3, full acknowledgment: deflate.
        cc.cwnd = Math.min(cc.ssthresh, Math.max(this.flight, mss) + mss);
        this.inRecovery = false;
        this.dupAcks = 0;
      } else {
        // Partial acknowledgment: retransmit the next hole, deflate by what was acked.
        this.retransmitFirst(now);
        cc.cwnd = cc.cwnd - acked > mss ? cc.cwnd - acked + mss : mss;
        this.rtoAt = now + this.rtt.rto;
      }
      return;
    }
    this.dupAcks = 0;
    cc.onAck(acked, flightBefore, mss, seqLt(this.sndUna, this.recover), rtt, now);
  }

  private duplicateAck(now: number): void {
    this.host.tcpStats.dupAcks++;
    const mss = this.effMss;
    if (this.inRecovery) {
      // RFC 6582 3.2 step 4: inflate.
      this.cc.cwnd += mss;
      return;
    }
    ++this.dupAcks;
    if (this.dupAcks < 3) {
      this.limitedTransmit(now);
      return;
    }
    if (this.dupAcks !== 3) return;
    // RFC 6582 3.2 step 2: only when the ACK covers the last recovery point (`recover` here is
    // one past the highest sequence number sent then), so one window is reduced once.
    if (seqLt(this.sndUna, this.recover)) return;
    // RFC 3042: segments sent by limited transmit do not count in FlightSize here.
    this.cc.onLoss(this.flight - this.limitedBytes, mss, now);
    this.recover = this.sndMax;
    this.inRecovery = true;
    this.host.tcpStats.fastRetransmits++;
    this.retransmitFirst(now);
    this.cc.cwnd = this.cc.ssthresh + 3 * mss;
    this.rtoAt = now + this.rtt.rto;
  }

  /** Bytes sent by limited transmit since the last new ACK. */
  limitedBytes = 0;

  /**
   * RFC 3042 (RFC 5681 3.2 step 1): on the first and second duplicate ACK, one new full segment
   * if the peer's window has room and no more than cwnd + 2 segments would be in flight; cwnd
   * itself does not change. Keeps the ACK clock going when the window is small.
   */
  private limitedTransmit(now: number): void {
    const mss = this.effMss;
    const sent = seqSub(this.sndNxt, this.sndBufSeq);
    const unsent = this.sendBuf.length - Math.max(sent, 0);
    const room = seqSub(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
    const len = Math.min(mss, unsent, room);
    if (len <= 0 || this.sndNxt !== this.sndMax) return;
    if (this.flight + len > this.cc.cwnd + 2 * mss) return;
    if (len < mss && len < unsent) return; // only what a full-sized segment, or the last data, allows
    if (this.sendData(this.sndNxt, len, false, now)) this.limitedBytes += len;
  }

  /**
   * An ICMP error about one of our segments (RFC 1122 4.2.3.9), believed only when the quoted
   * `seq` is in flight, SND.UNA <= seq < SND.MAX, or the ISS in SYN_SENT (RFC 5927 4.1: a blind
   * attacker cannot guess it). Fragmentation needed lowers the MSS to the path MTU (RFC 1191)
   * and resends what was sent too large; port or protocol unreachable ends a connection
   * attempt with ECONNREFUSED (as Linux's tcp_v4_err does); anything else is a soft error.
   */
  icmpError(type: number, code: number, mtu: number, seq: number, now: number): void {
    const st = this.host.tcpStats;
    const inFlight =
      this.state === S.SYN_SENT
        ? seq === this.iss
        : seqGe(seq, this.sndUna) && seqLt(seq, this.sndMax);
    if (!inFlight || this.state === S.CLOSED || this.state === S.TIME_WAIT) {
      st.icmpIgnored++;
      return;
    }
    if (type === ICMP_TYPE_DEST_UNREACHABLE && code === ICMP_UNREACH_FRAG_NEEDED) {
      this.pathMtu(mtu, now);
      return;
    }
    const refused =
      type === ICMP_TYPE_DEST_UNREACHABLE &&
      (code === ICMP_UNREACH_PORT || code === ICMP_UNREACH_PROTOCOL);
    if (refused && this.state === S.SYN_SENT) {
      st.icmpHardErrors++;
      this.toClosed('ECONNREFUSED');
      return;
    }
    st.icmpSoftErrors++;
    this.softError =
      type === ICMP_TYPE_TIME_EXCEEDED
        ? 'EHOSTUNREACH'
        : code === ICMP_UNREACH_PORT
          ? 'ECONNREFUSED'
          : code === ICMP_UNREACH_PROTOCOL
            ? 'ENOPROTOOPT'
            : code === 0 || code === 6 || code === 9 || code === 11
              ? 'ENETUNREACH'
              : 'EHOSTUNREACH';
  }

  /**
   * RFC 1191: the path's MTU is `mtu` (0 from a router older than RFC 1191: the next plateau
   * below the current size, RFC 1191 7). Only a decrease counts, and never below 552 (Linux's
   * min_pmtu: a forged tiny MTU would otherwise cut every segment to a few bytes). What was sent
   * is resent at the new size at once (Linux's tcp_simple_retransmit).
   */
  private pathMtu(mtu: number, now: number): void {
    const current = this.sndMss + 40;
    let m = mtu;
    if (m === 0) {
      m = 68;
      for (const p of MTU_PLATEAUS) {
        if (p < current) {
          m = p;
          break;
        }
      }
    }
    if (m < PMTU_MIN) m = PMTU_MIN;
    const mss = m - 40;
    if (mss >= this.sndMss) return;
    this.sndMss = mss;
    this.effMss = mss - (this.tsEnabled ? TS_OPT_LEN : 0);
    this.host.tcpStats.pmtuUpdates++;
    if (this.state === S.SYN_SENT || this.state === S.SYN_RECEIVED) return;
    this.sndNxt = this.sndUna;
    if (this.finSent && seqLe(this.sndNxt, this.finSeq)) this.finSent = false;
    this.output(now);
  }

  private urgent(up: number): void {
    const pending = this.urgentSeen && seqGt(this.rcvUp, this.rcvNxt);
    if (!seqGt(up, this.rcvNxt) || (pending && !seqGt(up, this.rcvUp))) return;
    this.rcvUp = up;
    this.urgentSeen = true;
    this.host.tcpStats.urgentIn++;
    this.handlers.onUrgent?.(this, this.bytesReceived + seqSub(up, this.rcvNxt));
  }

  /** `segSize`: the wire segment size when the data is an aggregate (LRO/GRO), else 0. */
  private receiveData(
    b: Uint8Array,
    off: number,
    len: number,
    seq: number,
    segSize: number,
    now: number,
  ): void {
    const at = seqSub(seq, this.rcvNxt);
    if (at === 0) {
      this.bytesReceived += len;
      // ACK bookkeeping before the application sees the data: a reply it writes from onData
      // carries this ACK and clears what is owed, so no redundant pure ACK follows (which the
      // peer would count as a duplicate ACK). RFC 9293 3.8.6.3: ACK at least every second
      // full-sized segment, else within the delayed-ACK time.
      this.unackedBytes += len;
      // "Full-sized": the largest payload seen so far (Linux's rcv_mss), at least 536 bytes;
      // for an aggregate, the size of the wire segments it was made of (an aggregate counts as
      // its segments, as Linux's GRO does): a 64 KB one is not the new full size, or ACKs would
      // wait for 128 KB or the delayed-ACK timer.
      const wire = segSize > 0 && segSize < len ? segSize : len;
      if (wire > this.rcvMss) this.rcvMss = wire;
      if (this.unackedBytes >= 2 * this.rcvMss) {
        // The ACK for every second full-sized segment leaves at the end of the receive burst
        // (the stack's next poll), covering all the burst's segments: one ACK per batch, as
        // Linux's GRO gives one per coalesced 64 KB. Past ACK_COALESCE_MAX it leaves at once.
        if (this.unackedBytes >= ACK_COALESCE_MAX) this.ackNow = true;
        else if (!this.ackAtPoll) {
          this.ackAtPoll = true;
          this.host.ackAtPoll(this);
        }
      } else if (this.delAckAt === NO_DEADLINE) {
        this.delAckAt = now + this.options.delayedAckMs;
        this.armTimer(now);
      }
      if (
        this.ooo.isEmpty &&
        this.recvBuf.length === 0 &&
        !this.paused &&
        this.handlers.onData !== undefined
      ) {
        // Fast path: straight from the frame to the application, no copy.
        this.rcvNxt = seqAdd(this.rcvNxt, len);
        this.handlers.onData(this, b, off, len);
      } else {
        // An empty ring starts where this payload's alignment puts it (see ByteRing.alignEmpty).
        if (this.ooo.isEmpty) this.recvBuf.alignEmpty((b.byteOffset + off) & 7);
        this.recvBuf.writeAt(this.recvBuf.length, b, off, len);
        this.recvBuf.commit(len);
        let n = len;
        this.ooo.advance(len);
        const more = this.ooo.takeFront();
        if (more > 0) {
          this.recvBuf.commit(more);
          n += more;
          this.bytesReceived += more;
          this.ackNow = true; // RFC 5681 4.2: ACK at once when a gap fills
        }
        // Still a hole after this: the peer needs a duplicate ACK at once (RFC 5681 4.2).
        if (!this.ooo.isEmpty) this.ackNow = true;
        this.rcvNxt = seqAdd(this.rcvNxt, n);
        this.deliverBuffered(now);
      }
      if (this.rcvFinSeq >= 0 && this.rcvFinSeq === this.rcvNxt && this.ooo.isEmpty) {
        this.rcvFinSeq = -1;
        this.receiveFin(now);
      }
    } else {
      // Out of order: store it where it belongs, ACK at once (RFC 5681 4.2 duplicate ACK).
      const room = this.recvBuf.capacity - this.recvBuf.length;
      const end = Math.min(at + len, room);
      this.ackNow = true;
      if (end <= at) return;
      if (!this.ooo.add(at, end)) {
        this.host.tcpStats.oooDrops++;
        return;
      }
      this.host.tcpStats.oooSegs++;
      this.recvBuf.writeAt(this.recvBuf.length + at, b, off, end - at);
    }
  }

  /** Hands buffered in-order bytes to onData (when set and not paused), else announces them. */
  private deliverBuffered(now: number): void {
    const rb = this.recvBuf;
    if (rb.length === 0) return;
    if (this.paused || this.handlers.onData === undefined) {
      if (!this.orphan) this.handlers.onReadable?.(this);
      return;
    }
    while (rb.length > 0 && !this.paused && this.state !== S.CLOSED) {
      const run = rb.contiguous();
      const start = rb.indexOf(0);
      rb.discard(run);
      this.handlers.onData(this, rb.buf, start, run);
    }
    this.windowOpened(now);
    if (this.finReceived && rb.length === 0 && !this.endReported && !this.orphan) this.reportEnd();
  }

  private receiveFin(now: number): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.finReceived = true;
    this.ackNow = true;
    switch (this.state) {
      case S.SYN_RECEIVED:
      case S.ESTABLISHED:
        this.state = S.CLOSE_WAIT;
        break;
      case S.FIN_WAIT_1:
        // Our FIN not yet acknowledged: simultaneous close (RFC 9293 figure 13).
        this.state = S.CLOSING;
        break;
      case S.FIN_WAIT_2:
        // The application hears the end of the data before the close (as node:net orders them).
        if (!this.orphan && this.recvBuf.length === 0) this.reportEnd();
        this.enterTimeWait(now);
        return;
    }
    if (!this.orphan && this.recvBuf.length === 0) this.reportEnd();
  }

  /** Our SYN has been acknowledged. */
  synAcked = false;

  /** Room freed in the send buffer after a short write: call onDrain at the end of input. */
  drainDue = false;

  /** Set once onEnd was called. */
  endReported = false;

  private reportEnd(): void {
    this.endReported = true;
    this.handlers.onEnd?.(this);
  }

  private enterTimeWait(now: number): void {
    this.state = S.TIME_WAIT;
    this.rtoAt = NO_DEADLINE;
    this.persistAt = NO_DEADLINE;
    this.keepAliveAt = NO_DEADLINE;
    this.delAckAt = NO_DEADLINE;
    this.sendBuf.clear();
    this.setCloseTimer(now + this.options.timeWaitMs, now);
    this.reportClose(null);
  }

  /**
   * The duplicate ACK for an unacceptable segment. For pure ACKs, at most one per 500 ms
   * (Linux's tcp_invalid_ratelimit): two stacks that disagree about sequence numbers must not
   * bounce ACKs at line rate. Segments with data always get one (they cannot form such a loop).
   */
  private invalidAck(segLen: number, now: number): void {
    if (segLen === 0) {
      if (now - this.lastInvalidAckAt < INVALID_ACK_INTERVAL_MS) return;
      this.lastInvalidAckAt = now;
    }
    this.sendAck(now);
  }

  lastInvalidAckAt = Number.NEGATIVE_INFINITY;

  /**
   * RFC 5961 7, with CVE-2016-5696's lesson (Linux 4.7): first a limit per connection (one per
   * tcp_invalid_ratelimit, shared with the other out-of-window answers), then the stack's
   * budget, which the host draws at random each second so that an off-path attacker cannot
   * count it down to learn whether a 4-tuple exists.
   */
  private challengeAck(now: number): void {
    if (now - this.lastInvalidAckAt < INVALID_ACK_INTERVAL_MS) {
      this.host.tcpStats.challengeAcksLimited++;
      return;
    }
    if (!this.host.challengeAckAllowed(now)) {
      this.host.tcpStats.challengeAcksLimited++;
      return;
    }
    this.lastInvalidAckAt = now;
    this.host.tcpStats.challengeAcks++;
    this.sendAck(now);
  }

  // -------------------------------------------------------------------------------------------
  // Output

  /**
   * Sends what the windows, Nagle and SWS avoidance allow, then an ACK if one is owed. Called
   * after every input and write, and by timers.
   */
  output(now: number): void {
    const st = this.state;
    if (
      st === S.CLOSED ||
      st === S.LISTEN ||
      st === S.SYN_SENT ||
      st === S.SYN_RECEIVED ||
      st === S.TIME_WAIT
    ) {
      if (this.ackNow && st !== S.CLOSED && st !== S.SYN_SENT && st !== S.LISTEN) this.sendAck(now);
      return;
    }
    let sentAny = false;
    const maxSeg =
      this.host.tsoMax > 0 ? this.host.tsoMax - (this.tsEnabled ? TS_OPT_LEN : 0) : this.effMss;
    for (;;) {
      const sent = seqSub(this.sndNxt, this.sndBufSeq);
      const unsent = this.sendBuf.length - Math.max(sent, 0);
      const wnd = Math.min(this.sndWnd, this.cc.cwnd);
      const usable = seqSub(seqAdd(this.sndUna, wnd), this.sndNxt);
      let len = Math.min(unsent, usable);
      if (len < 0) len = 0;
      if (len > maxSeg) len = maxSeg;
      const finNow = this.finQueued && !this.finSentAt(this.sndNxt) && len === unsent;
      if (len > 0) {
        if (len < this.effMss && len < unsent) {
          // Window-limited partial segment: RFC 9293 3.8.6.2.1, send only if it is at least
          // half the largest window the peer offered.
          if (len < this.maxSndWnd >>> 1) {
            if (this.sndMax === this.sndUna && this.persistAt === NO_DEADLINE)
              this.persistAt = now + this.persistInterval();
            break;
          }
        } else if (len < this.effMss && !finNow) {
          // All the remaining data fits in a small segment: Nagle (RFC 9293 3.7.4).
          if (
            !this.options.noDelay &&
            seqGt(this.sndMax, this.sndUna) &&
            seqGe(this.sndNxt, this.sndMax)
          )
            break;
        }
        if (!this.sendData(this.sndNxt, len, finNow, now)) return;
        sentAny = true;
        continue;
      }
      if (finNow && unsent === 0) {
        if (!this.sendData(this.sndNxt, 0, true, now)) return;
        sentAny = true;
      }
      break;
    }
    // Zero window with data waiting and nothing in flight: probe (RFC 9293 3.8.6.1).
    const waiting = this.sendBuf.length - seqSub(this.sndNxt, this.sndBufSeq);
    if (
      this.sndWnd === 0 &&
      (waiting > 0 || (this.finQueued && !this.finSent)) &&
      this.sndMax === this.sndUna &&
      this.persistAt === NO_DEADLINE
    ) {
      this.persistAt = now + this.persistInterval();
    }
    if (this.ackNow && !sentAny) this.sendAck(now);
    this.armTimer(now);
  }

  private finSentAt(seq: number): boolean {
    return this.finSent && seqGt(seq, this.finSeq);
  }

  private persistInterval(): number {
    const base = this.rtt.measured ? this.rtt.rto : this.options.rtoInitialMs;
    return Math.min(base * 2 ** this.persistBackoff, this.options.rtoMaxMs);
  }

  /** The first unacknowledged segment again (fast retransmit, NewReno partial ACK). */
  private retransmitFirst(now: number): void {
    const buffered = this.sendBuf.length - seqSub(this.sndUna, this.sndBufSeq);
    let len = Math.min(buffered, this.effMss);
    if (len < 0) len = 0;
    const fin = this.finSent && seqAdd(this.sndUna, len) === this.finSeq;
    if (len === 0 && !fin) return;
    this.host.tcpStats.retransSegs++;
    this.sendData(this.sndUna, len, fin, now);
  }

  /**
   * One segment of `len` bytes of the send buffer from `seq`, with FIN when `fin`. Advances
   * SND.NXT/SND.MAX when it sends at SND.NXT. Returns false when no frame could be had.
   */
  private sendData(seq: number, len: number, fin: boolean, now: number): boolean {
    const host = this.host;
    const sb = this.sendBuf;
    const bufOff = seqSub(seq, this.sndBufSeq);
    // V8 copies into a SharedArrayBuffer (the mbufs) with relaxed atomics: 8 bytes at a time when
    // source and destination share their address modulo 8, one byte at a time otherwise (8x
    // slower: 3 against 25 GB/s). The frame is placed so that the payload lines up with the send
    // buffer's bytes.
    const m =
      len > 0
        ? host.ipAlloc((sb.buf.byteOffset + sb.indexOf(bufOff) - this.headerLen()) & 7)
        : host.ipAlloc();
    if (m < 0) {
      this.defer();
      return false;
    }
    let flags = FLG_ACK;
    if (fin) flags |= FLG_FIN;
    const atNxt = seq === this.sndNxt;
    // PSH on the segment that empties the buffer (RFC 9293 3.9.1.2: senders set it at the end of a write).
    if (len > 0 && seqSub(seqAdd(seq, len), this.sndBufSeq) >= this.sendBuf.length)
      flags |= FLG_PSH;
    const hdr = this.writeHeader(seq, flags, now);
    if (len > 0) sb.peek(bufOff, host.data, host.l4Off + hdr, len);
    const tso = len > this.effMss ? this.effMss : 0;
    host.ipSend(m, this.remoteIp, IP_PROTO_TCP, hdr + len, now, tso);
    host.tcpStats.segsOut++;
    this.bytesSent += len;
    this.afterSend();
    const end = seqAdd(seq, len + (fin ? 1 : 0));
    if (fin) this.finSent = true;
    if (atNxt) {
      if (!this.tsEnabled && this.rttSeq < 0 && seqGe(seq, this.sndMax) && len > 0) {
        this.rttSeq = seq;
        this.rttSentAt = now;
      }
      this.sndNxt = end;
      if (seqGt(end, this.sndMax)) this.sndMax = end;
      else host.tcpStats.retransSegs++;
    }
    if (this.rtoAt === NO_DEADLINE && (len > 0 || fin)) this.rtoAt = now + this.rtt.rto;
    return true;
  }

  /**
   * Our SYN, or SYN-ACK past SYN_SENT. `timed` false: an extra copy answering a repeated SYN,
   * which neither restarts the retransmission timer nor starts an RTT measurement.
   */
  private sendSyn(now: number, timed = true): void {
    const host = this.host;
    const m = host.ipAlloc();
    if (m < 0) {
      if (!timed) return;
      // Leave it to the retransmission timer.
      this.rtoAt = now + this.rtt.rto;
      this.armTimer(now);
      return;
    }
    // Past SYN_SENT, the SYN we (re)send is a SYN-ACK (also after a close in SYN_RECEIVED).
    const ack = this.state !== S.SYN_SENT;
    const d = host.data;
    const o = host.l4Off;
    let opt = o + TCP_HEADER_LEN;
    // MSS, then as Linux orders them: SACK-permitted/NOPs, timestamps, window scale.
    d[opt] = OPT_MSS;
    d[opt + 1] = 4;
    set16(d, opt + 2, this.ourMss());
    opt += 4;
    const offerTs = ack ? this.tsEnabled : this.options.timestamps;
    const offerWs = ack ? this.peerOfferedWs : this.options.windowScale;
    if (offerTs) {
      set32(d, opt, TS_OPT_WORD0);
      set32(d, opt + 4, this.tsNow(now));
      set32(d, opt + 8, ack ? this.tsRecent : 0);
      opt += 12;
    }
    if (offerWs) {
      d[opt] = OPT_NOP;
      d[opt + 1] = OPT_WINDOW_SCALE;
      d[opt + 2] = 3;
      d[opt + 3] = this.rcvWscale;
      opt += 4;
    }
    const hdr = opt - o;
    // RFC 7323 2.2: the window in a SYN is never scaled.
    const win = Math.min(this.recvBuf.capacity, 0xffff);
    this.fillHeader(
      d,
      o,
      this.iss,
      ack ? this.rcvNxt : 0,
      ack ? FLG_SYN | FLG_ACK : FLG_SYN,
      win,
      hdr,
    );
    if (ack) this.rcvAdv = seqAdd(this.rcvNxt, win);
    host.ipSend(m, this.remoteIp, IP_PROTO_TCP, hdr, now, 0);
    host.tcpStats.segsOut++;
    if (!this.finSent) {
      this.sndNxt = seqAdd(this.iss, 1);
      this.sndMax = this.sndNxt;
    }
    if (ack) this.lastAckSent = this.rcvNxt;
    if (!timed) return;
    if (this.retries === 0) this.rttSentAt = now;
    this.rtoAt = now + this.rtt.rto;
    this.armTimer(now);
  }

  /** Set when the peer's SYN carried a window scale option (even a shift of 0). */
  peerOfferedWs = false;

  /** Pure ACK (RFC 9293 3.10.7.4). */
  sendAck(now: number): void {
    if (this.state === S.CLOSED || this.state === S.SYN_SENT || this.state === S.LISTEN) return;
    const m = this.host.ipAlloc();
    if (m < 0) {
      this.ackNow = true;
      this.defer();
      return;
    }
    // SND.MAX, not SND.NXT: after a timeout SND.NXT falls back to SND.UNA while the peer's
    // RCV.NXT may be past it, and an ACK it cannot accept would be lost (Linux's snd_nxt never
    // moves back either).
    const hdr = this.writeHeader(this.sndMax, FLG_ACK, now);
    this.host.ipSend(m, this.remoteIp, IP_PROTO_TCP, hdr, now, 0);
    this.host.tcpStats.segsOut++;
    this.afterSend();
  }

  /** A control segment (RST) without our options; `ack` 0 and no ACK flag for <SEQ=SEG.ACK><CTL=RST>. */
  private sendControl(flags: number, seq: number, ack: number, now: number): void {
    const host = this.host;
    const m = host.ipAlloc();
    if (m < 0) return;
    const win = (flags & FLG_RST) !== 0 ? 0 : this.advertisedWindow();
    this.fillHeader(host.data, host.l4Off, seq, ack, flags, win, TCP_HEADER_LEN);
    host.ipSend(m, this.remoteIp, IP_PROTO_TCP, TCP_HEADER_LEN, now, 0);
    host.tcpStats.segsOut++;
    if ((flags & FLG_RST) !== 0) host.tcpStats.rstsSent++;
  }

  /** Length of the header `writeHeader` writes. */
  private headerLen(): number {
    return this.tsEnabled ? TCP_HEADER_LEN + TS_OPT_LEN : TCP_HEADER_LEN;
  }

  /** Writes a header with our options and the current ACK and window; returns its length. */
  private writeHeader(seq: number, flags: number, now: number): number {
    const v = this.host.txView;
    const o = this.host.l4Off;
    let hdr = TCP_HEADER_LEN;
    if (this.tsEnabled) {
      const opt = o + TCP_HEADER_LEN;
      v.setUint32(opt, TS_OPT_WORD0);
      v.setUint32(opt + 4, this.tsNow(now));
      v.setUint32(opt + 8, this.tsRecent);
      hdr += TS_OPT_LEN;
    }
    this.updateRcvAdv();
    // The fixed header as five 32-bit big-endian words (RFC 9293 3.1); the checksum and the
    // urgent pointer are 0 (ipSend fills the checksum).
    v.setUint32(o, this.portsWord);
    v.setUint32(o + 4, seq);
    v.setUint32(o + 8, this.rcvNxt);
    v.setUint32(o + 12, ((hdr << 26) | (flags << 16) | this.advertisedWindow()) >>> 0);
    v.setUint32(o + 16, 0);
    return hdr;
  }

  private fillHeader(
    d: Uint8Array,
    o: number,
    seq: number,
    ack: number,
    flags: number,
    win: number,
    hdr: number,
  ): void {
    set16(d, o, this.localPort);
    set16(d, o + 2, this.remotePort);
    set32(d, o + 4, seq);
    set32(d, o + 8, ack);
    d[o + 12] = (hdr >>> 2) << 4;
    d[o + 13] = flags;
    set16(d, o + 14, win);
    d[o + 16] = 0;
    d[o + 17] = 0;
    d[o + 18] = 0;
    d[o + 19] = 0;
  }

  /** Bookkeeping after any segment that carries our ACK. */
  private afterSend(): void {
    this.lastAckSent = this.rcvNxt;
    this.ackNow = false;
    this.ackAtPoll = false;
    this.unackedBytes = 0;
    if (this.delAckAt !== NO_DEADLINE) this.delAckAt = NO_DEADLINE;
  }

  /**
   * Moves the advertised right edge: receiver SWS avoidance (RFC 9293 3.8.6.2.2) opens it only
   * by at least min(buffer / 2, MSS), and it never moves left.
   */
  private updateRcvAdv(): void {
    const free = this.recvBuf.capacity - this.recvBuf.length;
    const maxWnd = this.rcvWscale === 0 && free > 0xffff ? 0xffff : free;
    const edge = seqAdd(this.rcvNxt, maxWnd);
    const grow = seqSub(edge, this.rcvAdv);
    if (grow <= 0) return;
    const threshold = Math.min(this.recvBuf.capacity >>> 1, this.sndMss);
    const current = seqSub(this.rcvAdv, this.rcvNxt);
    if (grow >= threshold || (current <= 0 && maxWnd >= threshold)) this.rcvAdv = edge;
  }

  private advertisedWindow(): number {
    let w = seqSub(this.rcvAdv, this.rcvNxt);
    if (w < 0) w = 0;
    w = w >>> this.rcvWscale;
    return Math.min(w, 0xffff);
  }

  /** After the application consumed buffered bytes: a window update if the window grew enough. */
  private windowOpened(now: number): void {
    if (this.state < S.ESTABLISHED || this.state === S.TIME_WAIT) return;
    const before = seqSub(this.rcvAdv, this.rcvNxt);
    this.updateRcvAdv();
    const after = seqSub(this.rcvAdv, this.rcvNxt);
    // RFC 1122 4.2.3.3: update when the window grew by two segments or half the buffer.
    if (
      after - before >= Math.min(2 * this.sndMss, this.recvBuf.capacity >>> 1) ||
      (before === 0 && after > 0)
    ) {
      this.ackNow = true;
      this.output(now);
    }
  }

  /** After any input or timer: the ACK owed now, if the output pass did not carry it. */
  flushAck(now: number): void {
    if (this.ackNow) this.sendAck(now);
  }

  /** The stack's poll after a receive burst: the ACK `ackAtPoll` owes, unless data carried it. */
  flushAckAtPoll(now: number): void {
    if (!this.ackAtPoll) return;
    this.ackAtPoll = false;
    if (this.state !== S.CLOSED) this.sendAck(now);
  }

  /** The host has room again for the output `deferOutput` put off. */
  runDeferred(now: number): void {
    this.deferred = false;
    if (this.state === S.CLOSED) return;
    this.output(now);
    this.flushAck(now);
  }

  /** Asks the host for `runDeferred` once there is room, unless already waiting. */
  private defer(): void {
    if (this.deferred) return;
    this.deferred = true;
    this.host.deferOutput(this);
  }

  /**
   * Our TSval: the ms clock plus the connection's offset, never below one already sent. Callers
   * pass `now` from different places (the poll loop's time of the burst, a write from the event
   * loop a little later), and a TSval going back would make the peer's PAWS drop our segments.
   */
  private tsNow(now: number): number {
    const ts = (Math.floor(now) + this.tsOffset) >>> 0;
    if (seqLt(ts, this.lastTsSent)) return this.lastTsSent;
    this.lastTsSent = ts;
    return ts;
  }

  lastTsSent = 0;

  /** ms since we sent the TSval a peer echoes (negative if the echo is bogus). */
  private tsRtt(tsecr: number, now: number): number {
    return (this.tsNow(now) - tsecr) | 0;
  }

  // -------------------------------------------------------------------------------------------
  // Timers

  setCloseTimer(at: number, now: number): void {
    this.closeAt = at;
    this.armTimer(now);
  }

  /** Arms the wheel timer for the earliest deadline. */
  armTimer(now: number): void {
    let t = this.rtoAt;
    if (this.delAckAt < t) t = this.delAckAt;
    if (this.persistAt < t) t = this.persistAt;
    if (this.keepAliveAt < t) t = this.keepAliveAt;
    if (this.closeAt < t) t = this.closeAt;
    if (t === this.armedAt || this.timer < 0) return;
    this.armedAt = t;
    const wheel = this.host.timers;
    if (t === NO_DEADLINE) {
      wheel.stop(this.timer);
      return;
    }
    wheel.reset(this.timer, Math.max(t - now, 0), 'single', now);
  }

  /** The wheel timer fired: run every deadline that is due. */
  onTimer(now: number): void {
    this.armedAt = NO_DEADLINE;
    if (this.closeAt <= now) {
      this.closeAt = NO_DEADLINE;
      if (
        this.state === S.TIME_WAIT ||
        this.state === S.FIN_WAIT_2 ||
        this.state === S.SYN_RECEIVED
      ) {
        // An orphaned FIN_WAIT_2 (tcp_fin_timeout) ends quietly: the application closed it.
        this.toClosed(null);
        return;
      }
    }
    if (this.rtoAt <= now) {
      this.rtoAt = NO_DEADLINE;
      this.retransmitTimeout(now);
      if (this.state === S.CLOSED) return;
    }
    if (this.persistAt <= now) {
      this.persistAt = NO_DEADLINE;
      this.zeroWindowProbe(now);
    }
    if (this.keepAliveAt <= now) {
      this.keepAliveAt = NO_DEADLINE;
      this.keepAliveTimeout(now);
      if (this.state === S.CLOSED) return;
    }
    if (this.delAckAt <= now) {
      this.delAckAt = NO_DEADLINE;
      this.ackNow = true;
    }
    this.output(now);
    this.flushAck(now);
    this.armTimer(now);
  }

  private retransmitTimeout(now: number): void {
    const stats = this.host.tcpStats;
    const o = this.options;
    if (!this.synAcked) {
      const limit = this.state === S.SYN_SENT ? o.synRetries : o.synAckRetries;
      if (this.retries >= limit) {
        if (this.state === S.SYN_SENT) stats.attemptFails++;
        this.toClosed('ETIMEDOUT');
        return;
      }
      this.retries++;
      stats.retransSegs++;
      stats.rtoTimeouts++;
      this.rtt.backoff();
      this.sendSyn(now);
      // Closed in SYN_RECEIVED: the FIN goes again behind the SYN-ACK.
      if (this.finSent && this.state === S.FIN_WAIT_1)
        this.sendData(seqAdd(this.iss, 1), 0, true, now);
      return;
    }
    if (!seqGt(this.sndMax, this.sndUna)) return;
    // The peer shrank its window to zero with our data in flight (RFC 9293 3.8.6.1, RFC 1122
    // 4.2.2.17): the retransmission is a zero-window probe, one segment past the window, and
    // counts against the probes, not the retries, as in Linux's tcp_retransmit_timer; a peer
    // that answers keeps the connection for as long as it answers.
    const zeroWindow = this.sndWnd === 0;
    if ((zeroWindow ? this.probesOut : this.retries) >= o.maxRetries || this.userTimedOut(now)) {
      this.giveUp(now);
      return;
    }
    if (zeroWindow) {
      this.probesOut++;
      stats.zeroWindowProbes++;
    } else {
      this.retries++;
      if (this.retries >= BLACK_HOLE_RETRIES && o.mtuProbing) this.blackHole(now);
    }
    stats.rtoTimeouts++;
    // RFC 5681 3.1 (4) and RFC 6298 5.5-5.7.
    this.cc.onRto(this.flight, this.effMss, this.retries === 1, now);
    this.inRecovery = false;
    this.dupAcks = 0;
    this.recover = this.sndMax; // RFC 6582 4.2: no fast retransmit for what this RTO resends
    this.rtt.backoff();
    this.rttSeq = -1; // Karn
    // Go back: resend from SND.UNA as the window allows.
    this.sndNxt = this.sndUna;
    if (this.finSent && seqLe(this.sndNxt, this.finSeq)) this.finSent = false;
    this.rtoAt = NO_DEADLINE;
    if (zeroWindow) this.retransmitFirst(now);
    else this.output(now);
    if (this.rtoAt === NO_DEADLINE) this.rtoAt = now + this.rtt.rto;
  }

  /**
   * Timeouts in a row may mean a path that drops large packets and says nothing (an ICMP black
   * hole): segments shrink to 1024 bytes, then halve at each further timeout down to 536
   * (Linux's tcp_mtu_probing with tcp_base_mss), and the agreed MSS is tried again
   * BLACK_HOLE_REPROBE_MS later (tcp_probe_interval), in case it was an outage instead.
   */
  private blackHole(now: number): void {
    const next =
      this.sndMss > BLACK_HOLE_BASE_MSS
        ? BLACK_HOLE_BASE_MSS
        : Math.max(this.sndMss >>> 1, DEFAULT_PEER_MSS);
    if (next >= this.sndMss) return;
    this.sndMss = next;
    this.effMss = next - (this.tsEnabled ? TS_OPT_LEN : 0);
    this.mssProbeAt = now + BLACK_HOLE_REPROBE_MS;
    this.host.tcpStats.blackHoleShrinks++;
  }

  /** The connection failed on a silent peer: an RST in case it hears, then ETIMEDOUT. */
  private giveUp(now: number): void {
    this.sendControl(FLG_RST | FLG_ACK, this.sndNxt, this.rcvNxt, now);
    this.toClosed('ETIMEDOUT');
  }

  /**
   * options.userTimeoutMs (RFC 5482's UTO, Linux's TCP_USER_TIMEOUT): data has waited that long
   * without the send side moving, whether unacknowledged or held back by a zero window.
   */
  private userTimedOut(now: number): boolean {
    const t = this.options.userTimeoutMs;
    return t > 0 && now - this.progressAt >= t;
  }

  /**
   * The persist timer (RFC 9293 3.8.6.1): with a zero window, a probe; with a small window that
   * SWS avoidance would not fill, the override that sends what fits anyway.
   */
  private zeroWindowProbe(now: number): void {
    if (this.state < S.ESTABLISHED || this.state === S.TIME_WAIT) return;
    if (this.sndWnd > 0) {
      const usable = seqSub(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
      const unsent = this.sendBuf.length - seqSub(this.sndNxt, this.sndBufSeq);
      const len = Math.min(usable, unsent, this.effMss);
      this.persistBackoff = 0;
      if (len > 0) this.sendData(this.sndNxt, len, false, now);
      return;
    }
    // A silent peer is given up on after maxRetries unanswered probes (Linux's tcp_probe_timer
    // with tcp_retries2) or the user timeout; one that answers, with its window still closed,
    // is probed for as long as it answers (RFC 1122 4.2.2.17).
    if (this.probesOut >= this.options.maxRetries || this.userTimedOut(now)) {
      this.giveUp(now);
      return;
    }
    this.probesOut++;
    // Linux's probe: an old sequence number (SND.UNA - 1) with no data, which the receiver
    // must answer with an ACK carrying its window (RFC 9293 3.10.7.4); it never becomes data.
    this.host.tcpStats.zeroWindowProbes++;
    this.sendProbe(now);
    this.persistBackoff++;
    this.persistAt = now + this.persistInterval();
  }

  private keepAliveTimeout(now: number): void {
    const o = this.options;
    if (!o.keepAlive || this.state < S.ESTABLISHED || this.state === S.TIME_WAIT) return;
    if (this.keepAliveSent === 0) {
      // Only an idle connection is probed; one with data in flight has its RTO.
      const idleFor = now - this.lastRecvAt;
      if (idleFor < o.keepAliveIdleMs || seqGt(this.sndMax, this.sndUna)) {
        this.keepAliveAt =
          (idleFor < o.keepAliveIdleMs ? this.lastRecvAt : now) + o.keepAliveIdleMs;
        return;
      }
    }
    if (this.keepAliveSent >= o.keepAliveProbes) {
      this.sendControl(FLG_RST | FLG_ACK, this.sndNxt, this.rcvNxt, now);
      this.toClosed('ETIMEDOUT');
      return;
    }
    this.keepAliveSent++;
    this.host.tcpStats.keepaliveProbes++;
    // RFC 9293 3.8.4: an old sequence number and no data (Linux: SND.UNA - 1).
    this.sendProbe(now);
    this.keepAliveAt = now + o.keepAliveIntervalMs;
  }

  /** An ACK with SEG.SEQ = SND.UNA - 1 (zero-window and keepalive probes). */
  private sendProbe(now: number): void {
    const m = this.host.ipAlloc();
    if (m < 0) return;
    const hdr = this.writeHeader(seqAdd(this.sndUna, -1), FLG_ACK, now);
    this.host.ipSend(m, this.remoteIp, IP_PROTO_TCP, hdr, now, 0);
    this.host.tcpStats.segsOut++;
    this.afterSend();
  }

  // -------------------------------------------------------------------------------------------
  // Closing

  private toClosed(error: TcpErrorCode): void {
    this.state = S.CLOSED;
    this.rtoAt = NO_DEADLINE;
    this.delAckAt = NO_DEADLINE;
    this.persistAt = NO_DEADLINE;
    this.keepAliveAt = NO_DEADLINE;
    this.closeAt = NO_DEADLINE;
    this.host.release(this);
    this.timer = -1;
    this.reportClose(error);
  }

  /**
   * CLOSED at once, with no segment and no callback: the stack is closing, or a new SYN reopens
   * this TIME_WAIT pair (RFC 6191).
   */
  drop(): void {
    this.state = S.CLOSED;
    this.host.release(this);
    this.timer = -1;
  }

  private reportClose(error: TcpErrorCode): void {
    if (this.closeReported) return;
    this.closeReported = true;
    this.error = error;
    if (this.listener !== null) {
      // Never accepted: the application never saw it.
      this.listener.forget(this);
      return;
    }
    this.handlers.onClose?.(this, error);
  }
}

function onTcpTimer(_timer: number, now: number, s: TcpSocket): void {
  s.onTimer(now);
}
