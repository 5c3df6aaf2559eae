import { fillTcpChecksumIpv4, parseIpv4, sum16, verifyTcpIpv4 } from '@bypass/net';
import { describe, expect, it } from 'vitest';
import { buildTemplates, type FlowSpec, flowTuple, minFrameSize, payloadOffset } from './frames.js';

const spec = (o: Partial<FlowSpec> = {}): FlowSpec => ({
  proto: 'udp',
  size: 64,
  flows: 6,
  srcMac: 0x02_00_00_00_00_01,
  dstMac: 0x02_00_00_00_00_02,
  srcIp: [parseIpv4('10.0.0.1'), parseIpv4('10.0.0.2')],
  dstIp: [parseIpv4('10.1.0.1'), parseIpv4('10.1.0.1')],
  srcPort: [1000, 1002],
  dstPort: [53, 53],
  ...o,
});

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('pktgen frames', () => {
  it('enumerates flows source port first, then source address', () => {
    const s = spec();
    const tuples = [0, 1, 2, 3, 6].map((n) => flowTuple(s, n));
    expect(tuples.map((t) => t.sport)).toEqual([1000, 1001, 1002, 1000, 1000]);
    expect(tuples.map((t) => t.sip & 0xff)).toEqual([1, 1, 1, 2, 1]);
  });

  it('places the payload after the headers and keeps frames at least 60 bytes', () => {
    expect([payloadOffset('udp'), payloadOffset('tcp')]).toEqual([42, 54]);
    expect([minFrameSize('udp'), minFrameSize('tcp')]).toEqual([60, 70]);
  });

  it('builds the exact bytes of a UDP and a TCP frame, IPv4 checksum included', () => {
    const two = (proto: 'udp' | 'tcp') =>
      buildTemplates(
        spec({
          proto,
          flows: 2,
          srcIp: [parseIpv4('198.18.0.1'), parseIpv4('198.18.0.1')],
          dstIp: [parseIpv4('198.18.1.1'), parseIpv4('198.18.1.1')],
          srcPort: [1024, 1025],
          dstPort: [9, 9],
        }),
      );
    // Hex, spaces for reading only.
    const bytes = (...parts: string[]) => parts.join('').replaceAll(' ', '');
    const zeros = (n: number) => '00'.repeat(n);
    // dst MAC, src MAC, EtherType IPv4.
    const eth = '020000000002 020000000001 0800';
    // Version 4, IHL 5, total length 50, ident 0, DF, TTL 64, protocol; the checksum is the ones'
    // complement of the header's 16-bit sum, 0x526b (UDP) or 0x5260 (TCP); 198.18.0.1, 198.18.1.1.
    const ip = (protocol: string, checksum: string) =>
      `4500 0032 0000 4000 40${protocol} ${checksum} c6120001 c6120101`;
    const udp = two('udp');
    // The second flow: ports 1025 -> 9, UDP length 30, checksum 0 (none); a zeroed payload.
    expect(hex(udp.subarray(64, 128))).toBe(
      bytes(eth, ip('11', 'ad94'), '0401 0009 001e 0000', zeros(22)),
    );
    expect(hex(udp.subarray(0, 36))).toBe(bytes(eth, ip('11', 'ad94'), '0400'));
    const tcp = two('tcp');
    // Sequence and acknowledgment 0, data offset 5, PSH+ACK, window 65535, checksum and urgent
    // pointer 0 (the sender fills the sequence and checksum).
    expect(hex(tcp.subarray(64, 128))).toBe(
      bytes(eth, ip('06', 'ad9f'), '0401 0009', zeros(8), '5018 ffff 0000 0000', zeros(10)),
    );
  });

  it('builds frames with valid IPv4 and TCP checksums', () => {
    for (const proto of ['udp', 'tcp'] as const) {
      const s = spec({ proto, size: 90 });
      const t = buildTemplates(s);
      for (let f = 0; f < s.flows; f++) {
        const at = f * s.size;
        expect((t[at + 12] << 8) | t[at + 13]).toBe(0x0800);
        expect(sum16(t, at + 14, 20)).toBe(0xffff); // a correct header sums to all ones
        expect(t[at + 23]).toBe(proto === 'udp' ? 17 : 6);
        if (proto === 'tcp') {
          const frame = t.slice(at, at + s.size);
          fillTcpChecksumIpv4(frame, 14, 34, s.size - 34);
          expect(verifyTcpIpv4(frame, 14, 34, s.size - 34)).toBe(true);
          frame[60] ^= 1;
          expect(verifyTcpIpv4(frame, 14, 34, s.size - 34)).toBe(false);
        }
      }
    }
  });
});
