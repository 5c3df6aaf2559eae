import { MbufOlFlag } from '@bypass/mempool';
import {
  checksumOf,
  ETH_HEADER_LEN,
  ETHERTYPE_IPV4,
  get16,
  get32,
  ICMP_HEADER_LEN,
  ICMP_NEXT_HOP_MTU,
  ICMP_TYPE_DEST_UNREACHABLE,
  ICMP_TYPE_ECHO_REQUEST,
  ICMP_TYPE_TIME_EXCEEDED,
  ICMP_UNREACH_PROTOCOL,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  IPV4_MIN_HEADER_LEN,
  icmpEchoRequestToReply,
  icmpVerifyChecksum,
  ipv4Check,
  ipv4Dst,
  ipv4FragOffset,
  ipv4HasSourceRoute,
  ipv4HeaderLen,
  ipv4IsFragment,
  ipv4Protocol,
  ipv4Src,
  ipv4TotalLength,
  set16,
  set32,
  setMac,
  sum16,
  sum16View,
} from '@bypass/net';
import { Ipv4Reassembler, type Ipv4ReassemblerOptions } from '../iface/reassembly.js';
import type { EthernetLayer } from './ethernet.js';
import { FRAME_HEADERS, type Interface, isUnicastSource } from './interface.js';
import type { TcpLayer } from './tcp.js';
import type { UdpLayer } from './udp.js';

const IPV4_HEADER = IPV4_MIN_HEADER_LEN;
/** Identification counters, one per bucket of destinations (RFC 7739 4.3; Linux's ip_idents). */
const IDENT_BUCKETS = 2048;
const TTL = 64;
/** RFC 1812 4.3.2.3: an ICMP error quotes as much of the datagram as fits in 576 bytes. */
const ICMP_ERROR_MAX = 576;

/**
 * The network layer (smoltcp's interface/ipv4.rs): IPv4 in (header checks, our addresses,
 * reassembly of fragments, the protocol demultiplexer) and out (the header, the L4 checksum in
 * software or left to the port, fragmentation for UDP), and ICMP: echo replies and rate-limited
 * errors (RFC 1122 3.2.2).
 */
export class Ipv4Layer {
  readonly reassembler: Ipv4Reassembler;
  /** After `alloc`: where the L4 header goes in the interface's `data`. */
  l4Off = 0;
  readonly #if: Interface;
  readonly #eth: EthernetLayer;
  #tcp: TcpLayer | null = null;
  #udp: UdpLayer | null = null;
  /** Per-bucket Identification counters, each starting at a random value. */
  readonly #idents = new Uint16Array(IDENT_BUCKETS);
  /** The key of the bucket hash: an off-path observer cannot tell which destinations share one. */
  readonly #identKey: number;
  readonly #icmpLimit: number;
  #icmpSecond = -1;
  #icmpCount = 0;

  /**
   * @param secret 8 bytes or more of the stack's secret: the Identification counters' starting
   *   values and bucket key derive from it.
   * @param icmpErrorLimit ICMP errors per second.
   */
  constructor(
    iface: Interface,
    eth: EthernetLayer,
    reassembly: Ipv4ReassemblerOptions | undefined,
    secret: Uint8Array,
    icmpErrorLimit: number,
  ) {
    this.#if = iface;
    this.#eth = eth;
    this.reassembler = new Ipv4Reassembler(reassembly);
    // RFC 7739 4.3: counters per destination bucket, selected by a keyed hash, so what one
    // peer sees of our Identifications says nothing about our traffic to others (no idle scan,
    // no counting of our packets through a global counter).
    let x = (secret[0] << 24) | (secret[1] << 16) | (secret[2] << 8) | secret[3] | 1;
    for (let i = 0; i < IDENT_BUCKETS; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.#idents[i] = x;
    }
    this.#identKey = ((secret[4] << 24) | (secret[5] << 16) | (secret[6] << 8) | secret[7]) >>> 0;
    this.#icmpLimit = icmpErrorLimit;
  }

  /** The transport layers, set once when the stack is assembled. */
  attach(tcp: TcpLayer, udp: UdpLayer): void {
    this.#tcp = tcp;
    this.#udp = udp;
  }

  // -------------------------------------------------------------------------------------------
  // In

  /** The IPv4 packet at b[ip .. ip + len) of a frame addressed to us. */
  input(b: Uint8Array, ip: number, len: number, ol: number, rssHash: number, now: number): void {
    const iface = this.#if;
    const st = iface.stats;
    if (ipv4Check(b, ip, len) !== 0) {
      st.rxBadIpv4++;
      return;
    }
    const dst = ipv4Dst(b, ip);
    if (dst !== iface.localIp && dst !== iface.broadcast && dst !== 0xffffffff) {
      st.rxNotForUs++;
      return;
    }
    // Source routing (LSRR, SSRR) lets a sender choose the path back through us: dropped, as
    // Linux does unless accept_source_route is set (RFC 1122 3.3.5 leaves it to the host).
    if (ipv4HeaderLen(b, ip) > IPV4_HEADER && ipv4HasSourceRoute(b, ip)) {
      st.rxSourceRouted++;
      return;
    }
    // Our own address as the source never comes from the wire: a LAND attack (a SYN from us to
    // us) or another spoof. Linux drops it as a martian source.
    if (ipv4Src(b, ip) === iface.localIp) {
      st.rxMartianSource++;
      return;
    }
    if (dst === iface.localIp) this.#eth.learnNeighbour(b, ip, now);
    if (ipv4IsFragment(b, ip)) {
      st.rxFragments++;
      const whole = this.reassembler.add(b, ip, now);
      if (whole === null) return;
      st.rxReassembled++;
      iface.rxView = null;
      // A reassembled datagram had no RSS hash and its L4 checksum is always checked.
      this.l4(whole, 0, 0, -1, now);
      return;
    }
    this.l4(b, ip, ol, rssHash, now);
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
      (this.#if.offload && (ol & (MbufOlFlag.TX_TCP_CKSUM | MbufOlFlag.TX_UDP_CKSUM)) !== 0);
    if (proto === IP_PROTO_TCP)
      (this.#tcp as TcpLayer).input(b, ip, l4, l4Len, trusted, rssHash, now);
    else if (proto === IP_PROTO_UDP) (this.#udp as UdpLayer).input(b, ip, l4, l4Len, trusted, now);
    else if (proto === IP_PROTO_ICMP) this.icmpIn(b, ip, l4, l4Len, now);
    else {
      this.#if.stats.rxUnknownProtocol++;
      this.icmpError(b, ip, ICMP_TYPE_DEST_UNREACHABLE, ICMP_UNREACH_PROTOCOL, now);
    }
  }

  private icmpIn(b: Uint8Array, ip: number, off: number, len: number, now: number): void {
    const iface = this.#if;
    const st = iface.stats;
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
      // RFC 1122 3.2.2.6 lets a host ignore echoes to a broadcast address, and Linux does by
      // default (a smurf amplifier otherwise).
      if (ipv4Dst(b, ip) !== iface.localIp) {
        st.icmpEchoBroadcastIgnored++;
        return;
      }
      // RFC 1122 3.2.2.6: echo the data back.
      if (len > iface.mtu - IPV4_HEADER) return; // a reassembled jumbo echo: Linux fragments the reply, we do not
      const m = this.alloc();
      if (m < 0) return;
      const o = this.l4Off;
      iface.data.set(b.subarray(off, off + len), o);
      icmpEchoRequestToReply(iface.data, o);
      this.send(m, ipv4Src(b, ip), IP_PROTO_ICMP, len, now, 0);
      return;
    }
    if (type !== ICMP_TYPE_DEST_UNREACHABLE && type !== ICMP_TYPE_TIME_EXCEEDED) return;
    st.icmpErrorsIn++;
    // The quoted datagram (RFC 792: its IPv4 header and at least 8 bytes after it) must be one
    // of ours: from our address, with room for the ports and the sequence number.
    const q = off + ICMP_HEADER_LEN;
    const qEnd = off + len;
    if (qEnd - q < IPV4_MIN_HEADER_LEN || b[q] >>> 4 !== 4) return;
    const qhl = ipv4HeaderLen(b, q);
    if (qhl < IPV4_MIN_HEADER_LEN || q + qhl + 8 > qEnd || ipv4Src(b, q) !== iface.localIp) return;
    if (ipv4Protocol(b, q) === IP_PROTO_TCP) {
      const l4 = q + qhl;
      (this.#tcp as TcpLayer).icmpError(
        type,
        b[off + 1],
        get16(b, off + ICMP_NEXT_HOP_MTU),
        ipv4Dst(b, q),
        get16(b, l4),
        get16(b, l4 + 2),
        get32(b, l4 + 4),
        now,
      );
    }
  }

  /**
   * An ICMP error about the datagram at b[ip..] (RFC 1122 3.2.2: never about an ICMP error, an
   * IP or link-layer broadcast, a non-first fragment, or a source that is not one host),
   * rate-limited.
   */
  icmpError(b: Uint8Array, ip: number, type: number, code: number, now: number): void {
    const iface = this.#if;
    const st = iface.stats;
    const dst = ipv4Dst(b, ip);
    if (dst !== iface.localIp || ipv4FragOffset(b, ip) !== 0 || iface.rxLinkBroadcast) return;
    // 0.0.0.0, 127/8, 224/4 multicast, 240/4 (limited broadcast included), our subnet broadcast.
    if (!isUnicastSource(ipv4Src(b, ip), iface.broadcast)) return;
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
    const m = this.alloc();
    if (m < 0) return;
    const d = iface.data;
    const o = this.l4Off;
    const quote = Math.min(ipv4TotalLength(b, ip), ICMP_ERROR_MAX - IPV4_HEADER - ICMP_HEADER_LEN);
    d[o] = type;
    d[o + 1] = code;
    set32(d, o + 4, 0);
    d.set(b.subarray(ip, ip + quote), o + ICMP_HEADER_LEN);
    set16(d, o + 2, 0);
    set16(d, o + 2, checksumOf(sum16(d, o, ICMP_HEADER_LEN + quote)));
    st.icmpErrorsOut++;
    this.send(m, ipv4Src(b, ip), IP_PROTO_ICMP, ICMP_HEADER_LEN + quote, now, 0);
  }

  /** Reassembly timeouts (RFC 791's timer: incomplete datagrams are dropped). */
  poll(now: number): void {
    if (this.reassembler.pending > 0) this.reassembler.expire(now);
  }

  /** When `poll` next has work, given the time of the last input or poll. */
  nextDeadline(lastNow: number): number {
    return this.reassembler.pending > 0 ? lastNow + 1000 : Number.POSITIVE_INFINITY;
  }

  // -------------------------------------------------------------------------------------------
  // Out

  /**
   * Allocates a frame for an IPv4 packet; returns the mbuf or -1 when none can be had now, and
   * sets `l4Off`. `l4Align` (0-7, or -1 for any) asks for a frame placed so that the L4 header's
   * byte address is that much past a multiple of 8 (see TcpHost.ipAlloc).
   */
  alloc(l4Align = -1): number {
    const iface = this.#if;
    const m = iface.allocFrame();
    if (m < 0) return -1;
    const pool = iface.pool;
    let l4 = pool.mtod(m) + FRAME_HEADERS;
    if (l4Align >= 0 && pool.headroom >= 64) {
      // Start the frame up to 7 bytes early, in the headroom (rte_pktmbuf_prepend's room); at
      // least 57 bytes stay for a driver's own header (tap's 12-byte virtio-net header).
      const back = (iface.data.byteOffset + l4 - l4Align) & 7;
      if (back !== 0) {
        pool.setDataOff(m, pool.dataOff(m) - back);
        l4 -= back;
      }
    }
    this.l4Off = l4;
    return m;
  }

  /**
   * Finishes and queues a packet `alloc` began, with its `l4Len` bytes of L4 header and payload
   * written: the L4 checksum (or the pseudo-header sum for the port to complete), TSO, the IPv4
   * header, the Ethernet source, then the next hop. Owns `m`.
   */
  send(m: number, dst: number, proto: number, l4Len: number, now: number, tsoSegsz: number): void {
    const iface = this.#if;
    const pool = iface.pool;
    const v = iface.txView;
    const eth = pool.mtod(m);
    const ip = eth + ETH_HEADER_LEN;
    const l4 = ip + IPV4_HEADER;
    const total = IPV4_HEADER + l4Len;
    // TCP sets DF: the path MTU is the link MTU here, and DF is what Linux sends.
    this.writeHeader(ip, total, proto, dst, proto === IP_PROTO_TCP ? IPV4_FLAG_DF : 0);
    // RFC 793 3.1 pseudo-header (source, destination, protocol, L4 length), from the values.
    let pseudo = iface.srcSum + (dst >>> 16) + (dst & 0xffff) + proto + l4Len;
    pseudo = (pseudo & 0xffff) + (pseudo >>> 16);
    pseudo = (pseudo & 0xffff) + (pseudo >>> 16);
    let ol = 0;
    if (iface.offload && (proto === IP_PROTO_TCP || proto === IP_PROTO_UDP)) {
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
    if (tsoSegsz > 0 && total > iface.mtu) {
      ol |= MbufOlFlag.TX_TCP_SEG | MbufOlFlag.TX_TCP_CKSUM;
      pool.setTsoSegsz(m, tsoSegsz);
      if (!iface.offload) v.setUint16(l4 + 16, pseudo);
    }
    pool.setOlFlags(m, ol);
    const frameLen = ETH_HEADER_LEN + total;
    pool.setDataLen(m, frameLen);
    pool.setPktLen(m, frameLen);
    v.setUint16(eth + 6, iface.macHi);
    v.setUint32(eth + 8, iface.macLo);
    v.setUint16(eth + 12, ETHERTYPE_IPV4);
    this.#eth.send(m, eth, dst, now);
  }

  /**
   * Sends the L4 datagram `whole[0 .. len)` (its header and checksum written) to `dst` as
   * fragments of the largest multiple of 8 bytes that fits the MTU (RFC 791), all with one
   * Identification. Returns how many fragments left, or -1 when the tx queue or the pool could
   * not take them all (none are queued when the queue lacks room).
   */
  sendFragments(whole: Uint8Array, len: number, proto: number, dst: number, now: number): number {
    const iface = this.#if;
    const per = (iface.mtu - IPV4_HEADER) & ~7;
    const count = Math.ceil(len / per);
    if (iface.txQueue.length - iface.txCount < count) {
      iface.stats.txQueueFull++;
      return -1;
    }
    const ident = this.nextIdent(dst, proto);
    const pool = iface.pool;
    const d = iface.data;
    for (let at = 0; at < len; at += per) {
      const m = pool.alloc();
      if (m < 0) {
        iface.stats.txNoMbuf++;
        return -1;
      }
      const chunk = Math.min(per, len - at);
      const eth = pool.mtod(m);
      const ip = eth + ETH_HEADER_LEN;
      d.set(whole.subarray(at, at + chunk), ip + IPV4_HEADER);
      const more = at + chunk < len ? IPV4_FLAG_MF : 0;
      this.writeHeader(ip, IPV4_HEADER + chunk, proto, dst, more | (at >>> 3), ident);
      setMac(d, eth + 6, iface.mac);
      set16(d, eth + 12, ETHERTYPE_IPV4);
      pool.setDataLen(m, ETH_HEADER_LEN + IPV4_HEADER + chunk);
      pool.setPktLen(m, ETH_HEADER_LEN + IPV4_HEADER + chunk);
      this.#eth.send(m, eth, dst, now);
    }
    return count;
  }

  /** The next Identification towards `dst` for `proto`: its bucket's counter, advanced. */
  private nextIdent(dst: number, proto: number): number {
    let h = Math.imul(dst ^ this.#identKey, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ proto, 0x85ebca77);
    const b = (h ^ (h >>> 13)) & (IDENT_BUCKETS - 1);
    const ident = this.#idents[b];
    this.#idents[b] = ident + 1;
    return ident;
  }

  /**
   * A 20-byte IPv4 header at data[ip ..] with Identification `ident` (default: the next towards
   * `dst`). The checksum is summed from the field values (RFC 1071), without reading the header
   * back.
   */
  private writeHeader(
    ip: number,
    total: number,
    proto: number,
    dst: number,
    flags: number,
    ident = this.nextIdent(dst, proto),
  ): void {
    const iface = this.#if;
    const v = iface.txView;
    let sum =
      0x4500 +
      total +
      ident +
      flags +
      ((TTL << 8) | proto) +
      iface.srcSum +
      (dst >>> 16) +
      (dst & 0xffff);
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    v.setUint32(ip, 0x4500_0000 | total);
    v.setUint32(ip + 4, ((ident << 16) | flags) >>> 0);
    v.setUint32(ip + 8, (((TTL << 24) | (proto << 16)) >>> 0) + (~sum & 0xffff));
    v.setUint32(ip + 12, iface.localIp);
    v.setUint32(ip + 16, dst);
  }
}
