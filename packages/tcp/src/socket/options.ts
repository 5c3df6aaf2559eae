import { OptionError } from '@bypass/atomics-sync';
import { congestionControlNames, hasCongestionControl } from './congestion/registry.js';

/**
 * Per-socket TCP settings. Every default is in TCP_DEFAULTS, and every value is checked in
 * `resolveTcpOptions`, which names the option and the bad value. Times are in milliseconds.
 */
export interface TcpOptions {
  /** Send buffer in bytes (default 128 KiB): what `write` can hold beyond what is acknowledged. */
  sendBuffer?: number;
  /** Receive buffer in bytes (default 128 KiB): the largest window we advertise. */
  recvBuffer?: number;
  /** Disable Nagle's algorithm (RFC 896, RFC 9293 3.7.4): small segments go at once. Default false. */
  noDelay?: boolean;
  /** Longest delay of an ACK for in-order data (RFC 9293 3.8.6.3: under 0.5 s; Linux's minimum is 40). */
  delayedAckMs?: number;
  /** RFC 6298 2.1: the RTO before any RTT sample (default 1000). */
  rtoInitialMs?: number;
  /** Lower bound on the RTO. RFC 6298 says 1 s; Linux and most stacks use 200 ms (the default). */
  rtoMinMs?: number;
  /** Upper bound on the backed-off RTO (RFC 6298 2.5: at least 60 s; default 120 000, as Linux). */
  rtoMaxMs?: number;
  /**
   * Retransmissions of one segment, or unanswered zero-window probes in a row, before the
   * connection fails with ETIMEDOUT (Linux's tcp_retries2: 15).
   */
  maxRetries?: number;
  /** SYN retransmissions before connect fails with ETIMEDOUT (Linux's tcp_syn_retries: 6). */
  synRetries?: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped (tcp_synack_retries: 5). */
  synAckRetries?: number;
  /** Send keepalive probes (RFC 9293 3.8.4; off by default, as everywhere). */
  keepAlive?: boolean;
  /** Idle time before the first keepalive probe (default 7 200 000: two hours). */
  keepAliveIdleMs?: number;
  /** Between unanswered probes (default 75 000). */
  keepAliveIntervalMs?: number;
  /** Unanswered probes before ETIMEDOUT (default 9). */
  keepAliveProbes?: number;
  /** TIME_WAIT lasts 2 * MSL (RFC 9293 3.4.2); default 60 000 as Linux (MSL = 30 s). */
  timeWaitMs?: number;
  /** An orphaned FIN_WAIT_2 (closed by the application) is dropped after this (tcp_fin_timeout: 60 s). */
  finWait2TimeoutMs?: number;
  /** Offer RFC 7323 window scaling (default true). */
  windowScale?: boolean;
  /** Offer RFC 7323 timestamps (default true). */
  timestamps?: boolean;
  /** Out-of-order ranges the receive buffer tracks; a segment needing more is dropped (default 32). */
  maxOutOfOrderRanges?: number;
  /** RFC 6928 initial window in segments (default 10). */
  initialWindowSegments?: number;
  /** The MSS we announce; default the interface MTU - 40. */
  mss?: number;
  /**
   * Black-hole detection (RFC 4821's fallback, Linux's tcp_mtu_probing = 1; default true): after
   * 3 retransmission timeouts in a row, segments shrink to 1024 bytes and then halve, down to
   * 536, in case a path drops large packets without an ICMP error; every 10 minutes the full
   * MSS is tried again.
   */
  mtuProbing?: boolean;
  /**
   * The congestion controller, by name (Linux's TCP_CONGESTION): 'newreno' (the default), or
   * one added with registerCongestionControl.
   */
  congestionControl?: string;
  /**
   * Fail with ETIMEDOUT once data has waited this long (ms) without the send side moving,
   * unacknowledged or held back by a zero window (RFC 5482's user timeout, Linux's
   * TCP_USER_TIMEOUT); 0 (the default) leaves it to maxRetries.
   */
  userTimeoutMs?: number;
}

export type ResolvedTcpOptions = Required<TcpOptions>;

export const TCP_DEFAULTS: Readonly<ResolvedTcpOptions> = Object.freeze({
  sendBuffer: 128 * 1024,
  recvBuffer: 128 * 1024,
  noDelay: false,
  delayedAckMs: 40,
  rtoInitialMs: 1000,
  rtoMinMs: 200,
  rtoMaxMs: 120_000,
  maxRetries: 15,
  synRetries: 6,
  synAckRetries: 5,
  keepAlive: false,
  keepAliveIdleMs: 7_200_000,
  keepAliveIntervalMs: 75_000,
  keepAliveProbes: 9,
  timeWaitMs: 60_000,
  finWait2TimeoutMs: 60_000,
  windowScale: true,
  timestamps: true,
  maxOutOfOrderRanges: 32,
  initialWindowSegments: 10,
  mss: 0,
  mtuProbing: true,
  congestionControl: 'newreno',
  userTimeoutMs: 0,
});

/** Largest window RFC 7323 allows: 2^30 - 1 bytes (scale 14). */
const MAX_BUFFER = 1 << 30;

function int(name: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new OptionError(name, v, `an integer from ${min} to ${max}`);
  }
}

function ms(name: string, v: unknown, min = 0): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new OptionError(name, v, `a finite number of ms >= ${min}`);
  }
}

function bool(name: string, v: unknown): void {
  if (typeof v !== 'boolean') throw new OptionError(name, v, 'true or false');
}

const KEYS = new Set(Object.keys(TCP_DEFAULTS));

/** Fills defaults over `base` and checks every value. Throws OptionError naming the option. */
export function resolveTcpOptions(
  o: TcpOptions | undefined,
  base: Readonly<ResolvedTcpOptions> = TCP_DEFAULTS,
): ResolvedTcpOptions {
  if (o !== undefined) {
    for (const k of Object.keys(o)) {
      if (!KEYS.has(k)) {
        throw new OptionError(
          `tcp option ${k}`,
          (o as Record<string, unknown>)[k],
          `one of ${[...KEYS].join(', ')}`,
        );
      }
    }
  }
  const r: ResolvedTcpOptions = { ...base, ...o };
  int('sendBuffer', r.sendBuffer, 1, MAX_BUFFER);
  int('recvBuffer', r.recvBuffer, 1, MAX_BUFFER);
  bool('noDelay', r.noDelay);
  ms('delayedAckMs', r.delayedAckMs);
  if (r.delayedAckMs >= 500)
    throw new OptionError('delayedAckMs', r.delayedAckMs, 'below 500 (RFC 9293 3.8.6.3)');
  ms('rtoInitialMs', r.rtoInitialMs, 1);
  ms('rtoMinMs', r.rtoMinMs, 1);
  ms('rtoMaxMs', r.rtoMaxMs, r.rtoMinMs);
  int('maxRetries', r.maxRetries, 1, 255);
  int('synRetries', r.synRetries, 0, 255);
  int('synAckRetries', r.synAckRetries, 0, 255);
  bool('keepAlive', r.keepAlive);
  ms('keepAliveIdleMs', r.keepAliveIdleMs, 1);
  ms('keepAliveIntervalMs', r.keepAliveIntervalMs, 1);
  int('keepAliveProbes', r.keepAliveProbes, 1, 255);
  ms('timeWaitMs', r.timeWaitMs);
  ms('finWait2TimeoutMs', r.finWait2TimeoutMs);
  bool('windowScale', r.windowScale);
  bool('timestamps', r.timestamps);
  int('maxOutOfOrderRanges', r.maxOutOfOrderRanges, 1, 4096);
  int('initialWindowSegments', r.initialWindowSegments, 1, 1000);
  int('mss', r.mss, 0, 65495);
  bool('mtuProbing', r.mtuProbing);
  ms('userTimeoutMs', r.userTimeoutMs);
  if (typeof r.congestionControl !== 'string' || !hasCongestionControl(r.congestionControl))
    throw new OptionError(
      'congestionControl',
      r.congestionControl,
      `one of ${congestionControlNames().join(', ')}`,
    );
  return r;
}
