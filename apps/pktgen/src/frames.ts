// Frame building for pktgen: one header template per flow, made once; per packet only the
// payload stamp (magic, sequence, tx time) and, for TCP, the sequence number and checksum change.
import { checksumOf, sum16 } from '@bypass/net';

export const ETH_HLEN = 14;
export const IPV4_HLEN = 20;
export const UDP_HLEN = 8;
export const TCP_HLEN = 20;
/** Payload stamp: 'BPGN', sequence (u32), tx time in ns (float64, CLOCK_MONOTONIC). */
export const STAMP_MAGIC = 0x4250474e;
export const STAMP_BYTES = 16;

export type Proto = 'udp' | 'tcp';

export interface FlowSpec {
  proto: Proto;
  /** Frame size without FCS: 60..1514. */
  size: number;
  srcMac: readonly number[];
  dstMac: readonly number[];
  /** Inclusive ranges, as numbers (IPv4 as u32). */
  srcIp: [number, number];
  dstIp: [number, number];
  srcPort: [number, number];
  dstPort: [number, number];
  flows: number;
}

export function l4Offset(): number {
  return ETH_HLEN + IPV4_HLEN;
}

export function payloadOffset(proto: Proto): number {
  return ETH_HLEN + IPV4_HLEN + (proto === 'udp' ? UDP_HLEN : TCP_HLEN);
}

export function minFrameSize(proto: Proto): number {
  return Math.max(60, payloadOffset(proto) + STAMP_BYTES);
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

/** Header templates of every flow, `size` bytes each (payload zeroed), with the IPv4 checksum set. */
export function buildTemplates(spec: FlowSpec): Uint8Array {
  const out = new Uint8Array(spec.flows * spec.size);
  for (let f = 0; f < spec.flows; f++) {
    const b = out.subarray(f * spec.size, (f + 1) * spec.size);
    const { sip, dip, sport, dport } = flowTuple(spec, f);
    b.set(spec.dstMac, 0);
    b.set(spec.srcMac, 6);
    b[12] = 0x08;
    b[13] = 0x00;
    const ip = ETH_HLEN;
    const ipLen = spec.size - ETH_HLEN;
    b.set(
      [0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 0, 0x40, 0, 64, spec.proto === 'udp' ? 17 : 6],
      ip,
    );
    b.set([sip >>> 24, (sip >>> 16) & 0xff, (sip >>> 8) & 0xff, sip & 0xff], ip + 12);
    b.set([dip >>> 24, (dip >>> 16) & 0xff, (dip >>> 8) & 0xff, dip & 0xff], ip + 16);
    const c = checksumOf(sum16(b, ip, IPV4_HLEN));
    b[ip + 10] = c >> 8;
    b[ip + 11] = c & 0xff;
    const l4 = ip + IPV4_HLEN;
    b.set([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff], l4);
    if (spec.proto === 'udp') {
      const udpLen = ipLen - IPV4_HLEN;
      b[l4 + 4] = udpLen >> 8;
      b[l4 + 5] = udpLen & 0xff; // checksum 0: none (RFC 768, allowed over IPv4)
    } else {
      b[l4 + 12] = 0x50; // data offset 5 words
      b[l4 + 13] = 0x18; // PSH, ACK
      b[l4 + 14] = 0xff; // window 65535
      b[l4 + 15] = 0xff;
    }
  }
  return out;
}
