// @bypass/net's accessors against a real Linux capture (shared/data/linux-veth-http.pcap, see its
// README), read with this package's pcap reader: the wire layer lives in @bypass/net, below the
// reader, so the test that needs both lives here.
import { createHash } from 'node:crypto';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  arpParse,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  emitTcp,
  ethHeaderLen,
  ethType,
  FLG_ACK,
  FLG_FIN,
  FLG_SYN,
  fillTcpChecksumIpv4,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  icmpParse,
  ipv4Check,
  ipv4HeaderLen,
  ipv4Protocol,
  ipv4ToString,
  ipv4TotalLength,
  ipv4VerifyChecksum,
  parseIpv4,
  parseTcp,
  seqAdd,
  seqSub,
  type TcpRepr,
  tcpFlags,
  tcpPayloadOffset,
  tcpSeqNumber,
  tcpSrcPort,
  udpDstPort,
  udpParse,
  udpVerifyChecksum,
  verifyTcpIpv4,
} from '@bypass/net';
import { describe, expect, it } from 'vitest';
import { CAPTURE_PATH, captureFrames } from './capture.js';

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function parsed(b: Uint8Array, off = 0, len = b.length - off): TcpRepr {
  const r = parseTcp(b, off, len);
  if (!r.ok) throw new Error(`parse failed: ${r.reason} at ${r.at}`);
  return r.repr;
}

if (!CAPTURE_PATH)
  console.log(
    'skipping the linux-veth-http.pcap tests: ../shared/data/linux-veth-http.pcap was not found above packages/pmd/test',
  );

describe.skipIf(!CAPTURE_PATH)('linux-veth-http.pcap, dissected layer by layer', () => {
  const frames = captureFrames();
  const A = parseIpv4('10.77.0.1');
  const B = parseIpv4('10.77.0.2');

  it('has 226 Ethernet frames: IPv4 and ARP (IPv6 allowed)', () => {
    expect(frames.length).toBe(226);
    const types = new Set(frames.map((f) => ethType(f, 0)));
    expect(types.has(ETHERTYPE_IPV4) && types.has(ETHERTYPE_ARP)).toBe(true);
    for (const t of types) expect([ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_IPV6]).toContain(t);
  });

  it('every IPv4 header is valid and its checksum verifies; every UDP checksum verifies', () => {
    let ipv4 = 0;
    let udp = 0;
    for (const f of frames) {
      if (ethType(f, 0) !== ETHERTYPE_IPV4) continue;
      const ip = ethHeaderLen(f, 0);
      expect(ipv4Check(f, ip, f.length - ip)).toBe(0);
      expect(ipv4VerifyChecksum(f, ip)).toBe(true);
      ipv4++;
      if (ipv4Protocol(f, ip) === IP_PROTO_UDP) {
        const u = ip + ipv4HeaderLen(f, ip);
        expect(udpVerifyChecksum(f, ip, u)).toBe(true);
        expect(udpParse(f, u, ipv4TotalLength(f, ip) - ipv4HeaderLen(f, ip), ip)).not.toBeTypeOf(
          'number',
        );
        udp++;
      }
    }
    expect(ipv4).toBeGreaterThan(200);
    expect(udp).toBe(1);
  });

  it('the ARP request and reply are between 10.77.0.1 and 10.77.0.2', () => {
    const arps = frames
      .filter((f) => ethType(f, 0) === ETHERTYPE_ARP)
      .map((f) => arpParse(f, 14, f.length - 14));
    expect(arps.length).toBe(2);
    const [req, rep] = arps;
    if (typeof req === 'number' || typeof rep === 'number')
      throw new Error(`ARP refused: ${req} ${rep}`);
    expect(req.operation).toBe(ARP_OP_REQUEST);
    expect(rep.operation).toBe(ARP_OP_REPLY);
    expect(new Set([req.senderIp, req.targetIp])).toEqual(new Set([A, B]));
    expect(rep.senderIp).toBe(req.targetIp);
    expect(rep.targetIp).toBe(req.senderIp);
    expect(rep.targetHw).toBe(req.senderHw);
    expect(ipv4ToString(req.senderIp)).toMatch(/^10\.77\.0\.[12]$/);
  });

  it('the ICMP echo requests and replies pair up by identifier and sequence', () => {
    const requests = new Map<string, Uint8Array>();
    const replies = new Map<string, Uint8Array>();
    for (const f of frames) {
      if (ethType(f, 0) !== ETHERTYPE_IPV4 || ipv4Protocol(f, 14) !== IP_PROTO_ICMP) continue;
      const hl = ipv4HeaderLen(f, 14);
      const m = icmpParse(f, 14 + hl, ipv4TotalLength(f, 14) - hl);
      if (typeof m === 'number') throw new Error(`ICMP refused: ${m}`);
      if (m.kind === 'echo-request') requests.set(`${m.ident}/${m.seq}`, m.data);
      else if (m.kind === 'echo-reply') replies.set(`${m.ident}/${m.seq}`, m.data);
    }
    expect(requests.size).toBe(2);
    expect([...replies.keys()].sort()).toEqual([...requests.keys()].sort());
    for (const [k, data] of requests) expect(replies.get(k)).toEqual(data);
  });

  it('the one UDP datagram carries "hello udp" to port 9999', () => {
    const f = frames.find(
      (x) => ethType(x, 0) === ETHERTYPE_IPV4 && ipv4Protocol(x, 14) === IP_PROTO_UDP,
    );
    if (!f) throw new Error('no UDP datagram');
    const u = 14 + ipv4HeaderLen(f, 14);
    expect(udpDstPort(f, u)).toBe(9999);
    const d = udpParse(f, u, ipv4TotalLength(f, 14) - ipv4HeaderLen(f, 14), 14);
    if (typeof d === 'number') throw new Error(`UDP refused: ${d}`);
    expect(Buffer.from(d.payload).toString().trimEnd()).toBe('hello udp');
  });
});

// ---------------------------------------------------------------------------------------------
// The real capture: see shared/data/README.md.

interface Segment {
  frame: Uint8Array;
  ipOff: number;
  tcpOff: number;
  tcpLen: number;
}

/** The TCP-over-IPv4 frames of the capture. */
function tcpSegments(frames: Uint8Array[]): Segment[] {
  const out: Segment[] = [];
  for (const frame of frames) {
    if (frame.length < 34 || frame[12] !== 0x08 || frame[13] !== 0x00) continue;
    const ipOff = 14;
    if (frame[ipOff + 9] !== 6) continue;
    const ihl = (frame[ipOff] & 0x0f) * 4;
    const totalLen = (frame[ipOff + 2] << 8) | frame[ipOff + 3];
    out.push({ frame, ipOff, tcpOff: ipOff + ihl, tcpLen: totalLen - ihl });
  }
  return out;
}

describe.skipIf(!CAPTURE_PATH)('linux-veth-http.pcap', () => {
  const segments = tcpSegments(captureFrames());

  it('every TCP checksum verifies, and a flipped bit does not', () => {
    expect(segments.length).toBe(218);
    for (const s of segments) {
      expect(verifyTcpIpv4(s.frame, s.ipOff, s.tcpOff, s.tcpLen)).toBe(true);
      expect(parseTcp(s.frame, s.tcpOff, s.tcpLen).ok).toBe(true);
    }
    const s = segments[0];
    const copy = s.frame.slice();
    copy[s.tcpOff + s.tcpLen - 1] ^= 0x01;
    expect(verifyTcpIpv4(copy, s.ipOff, s.tcpOff, s.tcpLen)).toBe(false);
    const want = s.frame[s.tcpOff + 16] * 256 + s.frame[s.tcpOff + 17];
    copy[s.tcpOff + s.tcpLen - 1] ^= 0x01;
    expect(fillTcpChecksumIpv4(copy, s.ipOff, s.tcpOff, s.tcpLen)).toBe(want);
  });

  it('the first handshake carries MSS, SACK-permitted, timestamps and window scale', () => {
    const syns = segments.filter((s) => (tcpFlags(s.frame, s.tcpOff) & FLG_SYN) !== 0);
    const syn = parsed(syns[0].frame, syns[0].tcpOff, syns[0].tcpLen);
    const synAck = parsed(syns[1].frame, syns[1].tcpOff, syns[1].tcpLen);
    expect(syn).toEqual({
      srcPort: 59518,
      dstPort: 8080,
      seq: 2341179171,
      ack: 0,
      flags: FLG_SYN,
      window: 64240,
      urgent: 0,
      options: {
        mss: 1460,
        sackPermitted: true,
        timestamp: { tsval: 3573023807, tsecr: 0 },
        windowScale: 10,
      },
      payloadLength: 0,
    });
    expect(synAck).toEqual({
      srcPort: 8080,
      dstPort: 59518,
      seq: 2975989164,
      ack: seqAdd(syn.seq, 1),
      flags: FLG_SYN | FLG_ACK,
      window: 65160,
      urgent: 0,
      options: {
        mss: 1460,
        sackPermitted: true,
        timestamp: { tsval: 443788712, tsecr: 3573023807 },
        windowScale: 10,
      },
      payloadLength: 0,
    });
    // Our emit reproduces Linux's SYN and SYN-ACK exactly, checksum included.
    for (const [s, repr] of [
      [syns[0], syn],
      [syns[1], synAck],
    ] as const) {
      const copy = s.frame.slice();
      copy.fill(0, s.tcpOff, s.tcpOff + s.tcpLen);
      expect(emitTcp(repr, copy, s.tcpOff)).toBe(s.tcpLen);
      fillTcpChecksumIpv4(copy, s.ipOff, s.tcpOff, s.tcpLen);
      expect(toHex(copy)).toBe(toHex(s.frame));
    }
  });

  it('the server sends exactly the header and 200000 body bytes between its ISN and FIN', () => {
    const fromServer = segments.filter(
      (s) =>
        tcpSrcPort(s.frame, s.tcpOff) === 8080 &&
        parsed(s.frame, s.tcpOff, s.tcpLen).dstPort === 59518,
    );
    const synAck = fromServer.find((s) => (tcpFlags(s.frame, s.tcpOff) & FLG_SYN) !== 0)!;
    const fin = fromServer.find((s) => (tcpFlags(s.frame, s.tcpOff) & FLG_FIN) !== 0)!;
    const isn = tcpSeqNumber(synAck.frame, synAck.tcpOff);
    // The FIN takes the sequence number after the last data byte; the SYN took ISN itself.
    const streamLength = seqSub(tcpSeqNumber(fin.frame, fin.tcpOff), seqAdd(isn, 1));

    // Reassemble by sequence number: the data must tile [ISN+1, FIN) with no gap or overlap.
    const data = fromServer
      .map((s) => {
        const start = tcpPayloadOffset(s.frame, s.tcpOff);
        return {
          rel: seqSub(tcpSeqNumber(s.frame, s.tcpOff), seqAdd(isn, 1)),
          bytes: s.frame.subarray(start, s.tcpOff + s.tcpLen),
        };
      })
      .filter((d) => d.bytes.length > 0)
      .sort((x, y) => x.rel - y.rel);
    let next = 0;
    for (const d of data) {
      expect(d.rel).toBe(next);
      next += d.bytes.length;
    }
    expect(next).toBe(streamLength);

    const stream = Buffer.concat(data.map((d) => d.bytes));
    const headerEnd = stream.indexOf('\r\n\r\n') + 4;
    const header = stream.subarray(0, headerEnd).toString('latin1');
    expect(header.startsWith('HTTP/1.0 200 OK\r\n')).toBe(true);
    expect(header).toMatch(/\r\nContent-Length: 200000\r\n/);
    expect(headerEnd).toBe(204);
    expect(streamLength).toBe(204 + 200000);
    expect(createHash('sha256').update(stream.subarray(headerEnd)).digest('hex')).toBe(
      '3e6ee5035e2d15ece96a08d494c405e102742538e3731d517ba4caf054c87118',
    );
  });
});
