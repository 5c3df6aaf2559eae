import {
  checksumOf,
  get16,
  ICMP_TYPE_DEST_UNREACHABLE,
  ICMP_UNREACH_PORT,
  IP_PROTO_UDP,
  IPV4_MIN_HEADER_LEN,
  ipv4Dst,
  ipv4PseudoSum,
  ipv4Src,
  set16,
  set32,
  sum16,
  UDP_HEADER_LEN,
  udpCheck,
  udpDstPort,
  udpSrcPort,
} from '@bypass/net';
import { TcpSocketError } from '../socket/tcp.js';
import { type UdpHandlers, type UdpHost, UdpSocket } from '../socket/udp.js';
import type { Interface } from './interface.js';
import type { Ipv4Layer } from './ipv4.js';
import { checkPort } from './tcp.js';

const IPV4_HEADER = IPV4_MIN_HEADER_LEN;

/**
 * UDP's place in the stack (smoltcp's interface/udp.rs): bound ports, datagrams in (checked,
 * handed to the port's socket, or answered with ICMP port unreachable) and out (fragmented past
 * the MTU).
 */
export class UdpLayer implements UdpHost {
  readonly #if: Interface;
  readonly #ip: Ipv4Layer;
  /** Bound sockets by port: an index, not a Map lookup per datagram. */
  readonly #ports: (UdpSocket | undefined)[] = new Array(65536).fill(undefined);

  constructor(iface: Interface, ip: Ipv4Layer) {
    this.#if = iface;
    this.#ip = ip;
  }

  /** Binds a UDP port. Throws TcpSocketError EADDRINUSE when taken. */
  bind(port: number, handlers: UdpHandlers): UdpSocket {
    checkPort('port', port);
    if (this.#ports[port] !== undefined) {
      throw new TcpSocketError('EADDRINUSE', `UDP port ${port} is already bound on this stack`);
    }
    const s = new UdpSocket(this, port, handlers);
    this.#ports[port] = s;
    return s;
  }

  /** UdpSocket.close */
  udpUnbind(s: UdpSocket): void {
    if (this.#ports[s.port] === s) this.#ports[s.port] = undefined;
  }

  /** The datagram at b[off .. off + len) of the IPv4 packet at b[ip ..]. */
  input(b: Uint8Array, ip: number, off: number, len: number, trusted: boolean, now: number): void {
    const st = this.#if.stats;
    const err = udpCheck(b, off, len, trusted ? -1 : ip);
    if (err !== 0) {
      if (err === 3) st.rxBadChecksum++;
      else st.rxMalformed++;
      return;
    }
    st.udpIn++;
    const s = this.#ports[udpDstPort(b, off)];
    if (s === undefined) {
      st.udpNoPort++;
      if (ipv4Dst(b, ip) === this.#if.localIp)
        this.#ip.icmpError(b, ip, ICMP_TYPE_DEST_UNREACHABLE, ICMP_UNREACH_PORT, now);
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

  /**
   * UdpSocket.sendTo: one datagram, fragmented when it exceeds the MTU (RFC 791).
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
    const iface = this.#if;
    const st = iface.stats;
    const udpLen = UDP_HEADER_LEN + len;
    if (udpLen > 65535 - IPV4_HEADER) {
      throw new TcpSocketError(
        'EINVAL',
        `a UDP datagram holds at most ${65535 - IPV4_HEADER - UDP_HEADER_LEN} bytes, got ${len}`,
      );
    }
    if (iface.routes.nextHop(dst) < 0 && dst !== 0xffffffff) {
      st.txNoRoute++;
      return false;
    }
    const ip = this.#ip;
    if (IPV4_HEADER + udpLen <= iface.mtu) {
      const m = ip.alloc();
      if (m < 0) return false;
      const d = iface.data;
      const o = ip.l4Off;
      set16(d, o, srcPort);
      set16(d, o + 2, dstPort);
      set16(d, o + 4, udpLen);
      set16(d, o + 6, 0);
      d.set(src.subarray(off, off + len), o + UDP_HEADER_LEN);
      ip.send(m, dst, IP_PROTO_UDP, udpLen, now, 0);
      st.udpOut++;
      return true;
    }
    // Fragmentation: build the whole datagram (header with its checksum) once, then the IPv4
    // layer cuts it.
    const whole = new Uint8Array(udpLen);
    set16(whole, 0, srcPort);
    set16(whole, 2, dstPort);
    set16(whole, 4, udpLen);
    whole.set(src.subarray(off, off + len), UDP_HEADER_LEN);
    const pseudo = new Uint8Array(IPV4_HEADER);
    set32(pseudo, 12, iface.localIp);
    set32(pseudo, 16, dst);
    const c = checksumOf(sum16(whole, 0, udpLen, ipv4PseudoSum(pseudo, 0, IP_PROTO_UDP, udpLen)));
    set16(whole, 6, c === 0 ? 0xffff : c);
    const n = ip.sendFragments(whole, udpLen, IP_PROTO_UDP, dst, now);
    if (n < 0) return false;
    st.udpFragmentsOut += n;
    st.udpOut++;
    return true;
  }
}
