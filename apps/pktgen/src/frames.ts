// Frame building for pktgen: one header template per flow, made once; per packet only the
// payload stamp (magic, sequence, tx time) and, for TCP, the sequence number and checksum change.
import {
  ETH_HEADER_LEN,
  ETH_MIN_FRAME_LEN,
  ETHERTYPE_IPV4,
  ethernetEmit,
  FLG_ACK,
  FLG_PSH,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_MIN_HEADER_LEN,
  ipv4Emit,
  setTcpDstPort,
  setTcpFlags,
  setTcpHeaderLength,
  setTcpSrcPort,
  setTcpWindow,
  setUdpDstPort,
  setUdpLength,
  setUdpSrcPort,
  TCP_HEADER_LEN,
  UDP_HEADER_LEN,
} from '@bypass/net';

/** Payload stamp: 'BPGN', sequence (u32), tx time in ns (float64, CLOCK_MONOTONIC). */
export const STAMP_MAGIC = 0x4250474e;
export const STAMP_BYTES = 16;

export type Proto = 'udp' | 'tcp';

export interface FlowSpec {
  proto: Proto;
  /** Frame size without FCS: 60..1514. */
  size: number;
  /** MAC addresses as 48-bit integers (@bypass/net's form). */
  srcMac: number;
  dstMac: number;
  /** Inclusive ranges, as numbers (IPv4 as u32). */
  srcIp: [number, number];
  dstIp: [number, number];
  srcPort: [number, number];
  dstPort: [number, number];
  flows: number;
}

export function l4Offset(): number {
  return ETH_HEADER_LEN + IPV4_MIN_HEADER_LEN;
}

export function payloadOffset(proto: Proto): number {
  return l4Offset() + (proto === 'udp' ? UDP_HEADER_LEN : TCP_HEADER_LEN);
}

export function minFrameSize(proto: Proto): number {
  return Math.max(ETH_MIN_FRAME_LEN, payloadOffset(proto) + STAMP_BYTES);
}

/** The n-th flow's addresses and ports: source varies fastest, then destination. */
export function flowTuple(
  spec: FlowSpec,
  n: number,
): { sip: number; dip: number; sport: number; dport: number } {
  const span = (r: [number, number]) => r[1] - r[0] + 1;
  let k = n;
  const sport = spec.srcPort[0] + (k % span(spec.srcPort));
  k = Math.floor(k / span(spec.srcPort));
  const sip = spec.srcIp[0] + (k % span(spec.srcIp));
  k = Math.floor(k / span(spec.srcIp));
  const dport = spec.dstPort[0] + (k % span(spec.dstPort));
  k = Math.floor(k / span(spec.dstPort));
  const dip = spec.dstIp[0] + (k % span(spec.dstIp));
  return { sip: sip >>> 0, dip: dip >>> 0, sport, dport };
}

/**
 * Header templates of every flow, `size` bytes each (payload zeroed): IPv4 with DF, TTL 64 and
 * its checksum; UDP without a checksum (0: none, RFC 768, allowed over IPv4); TCP with PSH+ACK,
 * window 65535, sequence number and checksum left to the sender.
 */
export function buildTemplates(spec: FlowSpec): Uint8Array {
  const out = new Uint8Array(spec.flows * spec.size);
  const udp = spec.proto === 'udp';
  const ip = ETH_HEADER_LEN;
  const l4 = l4Offset();
  for (let f = 0; f < spec.flows; f++) {
    const b = out.subarray(f * spec.size, (f + 1) * spec.size);
    const { sip, dip, sport, dport } = flowTuple(spec, f);
    ethernetEmit({ dst: spec.dstMac, src: spec.srcMac, etherType: ETHERTYPE_IPV4 }, b, 0);
    ipv4Emit(
      {
        src: sip,
        dst: dip,
        protocol: udp ? IP_PROTO_UDP : IP_PROTO_TCP,
        payloadLength: spec.size - l4,
        ttl: 64,
        dontFragment: true,
      },
      b,
      ip,
    );
    if (udp) {
      setUdpSrcPort(b, l4, sport);
      setUdpDstPort(b, l4, dport);
      setUdpLength(b, l4, spec.size - l4);
    } else {
      setTcpSrcPort(b, l4, sport);
      setTcpDstPort(b, l4, dport);
      setTcpHeaderLength(b, l4, TCP_HEADER_LEN);
      setTcpFlags(b, l4, FLG_PSH | FLG_ACK);
      setTcpWindow(b, l4, 0xffff);
    }
  }
  return out;
}
