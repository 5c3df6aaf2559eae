import type { PktmbufPool } from '@bypass/mempool';
import type { Reta, Toeplitz } from '@bypass/net';
import type { ArpCacheOptions } from '../iface/arp-cache.js';
import type { Ipv4ReassemblerOptions } from '../iface/reassembly.js';
import type { TcpOptions } from '../socket/options.js';

/** What a Stack is built from; `new Stack` throws OptionError naming a bad one and its value. */
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
  /**
   * Challenge ACKs per second for the whole stack (RFC 5961 7; default 1000): each second's
   * budget is drawn from [limit/2, 3 limit/2), as Linux has done since 4.7, and each connection
   * sends at most one per 500 ms.
   */
  challengeAckLimit?: number;
  /** ICMP errors per second (Linux's icmp_ratelimit in spirit; default 1000). */
  icmpErrorLimit?: number;
  /** Time the stack starts at (ms), for its timer wheel: the first `now` it will see. */
  startMs?: number;
}

export interface TcpListenOptions {
  /** Half-open connections (default 128, Linux's tcp_max_syn_backlog floor). */
  synBacklog?: number;
  /** Established connections waiting for accept() (default 128, somaxconn). */
  backlog?: number;
  /** Options for the accepted connections (over the stack's defaults). */
  tcp?: TcpOptions;
}
