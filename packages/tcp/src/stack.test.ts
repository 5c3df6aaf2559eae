// One Stack fed hand-built frames (inputBytes) and checked through what it queues to send
// (takeTxBytes). Frames are built and parsed with the wire layer's Repr helpers; every test
// closes its stack and checks that the pool has every mbuf back.

import { OptionError } from '@bypass/atomics-sync';
import { MbufOlFlag, type PktmbufPool } from '@bypass/mempool';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  type ArpRepr,
  arpEmit,
  arpParse,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  type EthernetRepr,
  emitTcp,
  ethernetEmit,
  ethernetParse,
  FLG_ACK,
  FLG_FIN,
  FLG_PSH,
  FLG_RST,
  FLG_SYN,
  fillTcpChecksumIpv4,
  ICMP_UNREACH_PORT,
  ICMP_UNREACH_PROTOCOL,
  type IcmpRepr,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  type Ipv4Repr,
  icmpEmit,
  icmpLengthOf,
  icmpParse,
  ipv4Emit,
  ipv4FillChecksum,
  ipv4Parse,
  MAC_BROADCAST,
  parseIpv4,
  parseTcp,
  Reta,
  type TcpRepr,
  Toeplitz,
  tcpReprHeaderLength,
  type UdpRepr,
  udpEmit,
  udpParse,
  udpVerifyChecksum,
  verifyTcpIpv4,
} from '@bypass/net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makePool } from '../test/sim.js';
import { type TcpSocket, TcpSocketError, TcpState } from './socket/tcp.js';
import { Stack, type StackOptions } from './stack.js';

const OUR_MAC = 0x02_00_00_00_00_01;
const OUR_IP = parseIpv4('10.0.0.1');
const PEER_MAC = 0x02_00_00_00_00_02;
const PEER_IP = parseIpv4('10.0.0.2');
/** A neighbour the stack does not know in advance. */
const HOST3_MAC = 0x02_00_00_00_00_03;
const HOST3_IP = parseIpv4('10.0.0.3');
const GW_MAC = 0x02_00_00_00_00_fe;
const GW_IP = parseIpv4('10.0.0.254');
const SUBNET_BROADCAST = parseIpv4('10.0.0.255');
const LIMITED_BROADCAST = 0xffff_ffff;
const FAR_IP = parseIpv4('8.8.8.8');

// ---------------------------------------------------------------------------------------------
// Rig: one stack over its own pool

interface Rig {
  stack: Stack;
  pool: PktmbufPool;
  n: number;
}

/** A stack at 10.0.0.1/24 that knows PEER statically; its pool's buffers are dirty (0xaa). */
function rig(over: Partial<StackOptions> = {}, n = 64): Rig {
  const pool = makePool(n, 'stack-test');
  // Stale bytes in every buffer: a field the stack forgets to write shows up in exact compares.
  const held: number[] = [];
  for (let m = pool.alloc(); m >= 0; m = pool.alloc()) held.push(m);
  for (const m of held) {
    const at = pool.mtod(m);
    pool.data.fill(0xaa, at, at + pool.bufLen(m) - pool.headroomOf(m));
    pool.free(m);
  }
  const stack = new Stack({
    pool,
    mac: OUR_MAC,
    ip: '10.0.0.1/24',
    isnSecret: new Uint8Array(16).fill(3),
    ...over,
  });
  stack.arp.addStatic(PEER_IP, PEER_MAC);
  return { stack, pool, n };
}

/** Closes the stack; every mbuf must be back in the pool. */
function finish(r: Rig): void {
  r.stack.close();
  expect(r.pool.mempool.available()).toBe(r.n);
}

/** What `f` changed in the stack's counters (TCP ones prefixed "tcp."), as deltas. */
function counted(r: Rig, f: () => void): Record<string, number> {
  const snap = () => {
    const s: Record<string, number> = { ...r.stack.stats };
    for (const [k, v] of Object.entries(r.stack.tcpStats)) s[`tcp.${k}`] = v;
    return s;
  };
  const before = snap();
  f();
  const after = snap();
  const d: Record<string, number> = {};
  for (const k of Object.keys(after)) if (after[k] !== before[k]) d[k] = after[k] - before[k];
  return d;
}

function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Building frames

function ethFrame(eth: EthernetRepr, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  ethernetEmit(eth, f, 0);
  f.set(payload, 14);
  return f;
}

/** An ARP packet in an Ethernet frame, padded to 60 bytes as on the wire. */
function arpFrame(dst: number, src: number, arp: ArpRepr): Uint8Array {
  const f = new Uint8Array(60);
  ethernetEmit({ dst, src, etherType: ETHERTYPE_ARP }, f, 0);
  arpEmit(arp, f, 14);
  return f;
}

/** An IPv4 datagram from PEER to us with `l4` as payload (checksums of l4 are the caller's). */
function ipPacket(over: Partial<Ipv4Repr> & { protocol: number }, l4: Uint8Array): Uint8Array {
  const repr: Ipv4Repr = { src: PEER_IP, dst: OUR_IP, ttl: 64, payloadLength: l4.length, ...over };
  const hl = 20 + (repr.options?.length ?? 0);
  const p = new Uint8Array(hl + l4.length);
  ipv4Emit(repr, p, 0);
  p.set(l4, hl);
  return p;
}

/** A UDP datagram (checksum filled unless `noChecksum`) in an IPv4 packet. */
function udpPacket(udp: UdpRepr, ip: Partial<Ipv4Repr> = {}, noChecksum = false): Uint8Array {
  const p = ipPacket({ ...ip, protocol: IP_PROTO_UDP }, new Uint8Array(8 + udp.payload.length));
  const hl = p.length - 8 - udp.payload.length;
  udpEmit(udp, p, hl, noChecksum ? -1 : 0);
  return p;
}

function icmpPacket(icmp: IcmpRepr, ip: Partial<Ipv4Repr> = {}): Uint8Array {
  const p = ipPacket({ ...ip, protocol: IP_PROTO_ICMP }, new Uint8Array(icmpLengthOf(icmp)));
  icmpEmit(icmp, p, 20);
  return p;
}

function tcpSegment(
  over: Partial<TcpRepr>,
  payload: Uint8Array = new Uint8Array(0),
  ip: Partial<Ipv4Repr> = {},
): Uint8Array {
  const repr: TcpRepr = {
    srcPort: 40000,
    dstPort: 80,
    seq: 1000,
    ack: 0,
    flags: FLG_SYN,
    window: 65535,
    urgent: 0,
    options: {},
    payloadLength: 0,
    ...over,
  };
  const hl = tcpReprHeaderLength(repr);
  const p = ipPacket(
    { dontFragment: true, ...ip, protocol: IP_PROTO_TCP },
    new Uint8Array(hl + payload.length),
  );
  emitTcp(repr, p, 20);
  p.set(payload, 20 + hl);
  fillTcpChecksumIpv4(p, 0, 20, hl + payload.length);
  return p;
}

/** An IPv4 packet in a frame to our MAC from PEER's. */
function toUs(ip: Uint8Array, dst = OUR_MAC, src = PEER_MAC): Uint8Array {
  return ethFrame({ dst, src, etherType: ETHERTYPE_IPV4 }, ip);
}

// ---------------------------------------------------------------------------------------------
// Parsing what the stack sends

function must<T>(x: T | number): T {
  if (typeof x === 'number') throw new Error(`parse failed with code ${x}`);
  return x;
}

interface IpOut {
  eth: EthernetRepr;
  ip: Ipv4Repr;
  /** The IPv4 header and payload. */
  datagram: Uint8Array;
  l4: Uint8Array;
  frame: Uint8Array;
}

/** Parses an IPv4 frame the stack sent: header checksum verified, frame exactly as long as the datagram. */
function parseIpFrame(frame: Uint8Array): IpOut {
  const eth = must(ethernetParse(frame, 0, frame.length));
  expect(eth.etherType).toBe(ETHERTYPE_IPV4);
  const ip = must(ipv4Parse(frame, 14, frame.length - 14));
  const hl = 20 + (ip.options?.length ?? 0);
  expect(frame.length).toBe(14 + hl + ip.payloadLength);
  const datagram = frame.subarray(14);
  return { eth, ip, datagram, l4: datagram.subarray(hl), frame };
}

function parseArpFrame(frame: Uint8Array): { eth: EthernetRepr; arp: ArpRepr } {
  const eth = must(ethernetParse(frame, 0, frame.length));
  expect(eth.etherType).toBe(ETHERTYPE_ARP);
  return { eth, arp: must(arpParse(frame, 14, frame.length - 14)) };
}

function parseUdp(out: IpOut): UdpRepr {
  expect(out.ip.protocol).toBe(IP_PROTO_UDP);
  return must(udpParse(out.datagram, 20, out.l4.length, 0));
}

function parseIcmp(out: IpOut): IcmpRepr {
  expect(out.ip.protocol).toBe(IP_PROTO_ICMP);
  return must(icmpParse(out.l4, 0, out.l4.length));
}

function parseTcpOut(out: IpOut): TcpRepr {
  expect(out.ip.protocol).toBe(IP_PROTO_TCP);
  expect(verifyTcpIpv4(out.datagram, 0, 20, out.l4.length)).toBe(true);
  const p = parseTcp(out.l4, 0, out.l4.length);
  if (!p.ok) throw new Error(`bad TCP segment: ${p.reason}`);
  return p.repr;
}

/** The one frame the stack queued. */
function one(r: Rig): Uint8Array {
  const out = r.stack.takeTxBytes();
  expect(out).toHaveLength(1);
  return out[0];
}

/** A UDP socket on `port` that records every datagram. */
function udpSink(r: Rig, port = 7000) {
  const got: { srcIp: number; srcPort: number; data: number[] }[] = [];
  const socket = r.stack.udpBind(port, {
    onMessage(_s, b, o, l, srcIp, srcPort) {
      got.push({ srcIp, srcPort, data: [...b.subarray(o, o + l)] });
    },
  });
  return { got, socket };
}

// ---------------------------------------------------------------------------------------------

describe('Stack: ARP (RFC 826)', () => {
  const request = (senderHw: number, senderIp: number, targetIp: number): Uint8Array =>
    arpFrame(MAC_BROADCAST, senderHw, {
      operation: ARP_OP_REQUEST,
      senderHw,
      senderIp,
      targetHw: 0,
      targetIp,
    });

  it('answers a request for our address with an exact, padded reply and learns the requester', () => {
    const r = rig();
    const d = counted(r, () => r.stack.inputBytes(request(HOST3_MAC, HOST3_IP, OUR_IP), 5));
    expect(d).toEqual({ rxFrames: 1, arpRequestsIn: 1, arpRepliesOut: 1, txFrames: 1 });
    const reply = one(r);
    const want = new Uint8Array(60);
    ethernetEmit({ dst: HOST3_MAC, src: OUR_MAC, etherType: ETHERTYPE_ARP }, want, 0);
    arpEmit(
      {
        operation: ARP_OP_REPLY,
        senderHw: OUR_MAC,
        senderIp: OUR_IP,
        targetHw: HOST3_MAC,
        targetIp: HOST3_IP,
      },
      want,
      14,
    );
    expect(reply).toEqual(want);
    expect(parseArpFrame(reply).arp).toEqual({
      operation: 2,
      senderHw: OUR_MAC,
      senderIp: OUR_IP,
      targetHw: HOST3_MAC,
      targetIp: HOST3_IP,
    });
    expect(r.stack.arp.lookup(HOST3_IP, 5)).toBe(HOST3_MAC);
    finish(r);
  });

  it('says nothing to a request for another address, and learns nothing new from it', () => {
    const r = rig();
    const d = counted(r, () =>
      r.stack.inputBytes(request(HOST3_MAC, HOST3_IP, parseIpv4('10.0.0.9')), 0),
    );
    expect(d).toEqual({ rxFrames: 1, arpRequestsIn: 1 });
    expect(r.stack.txCount).toBe(0);
    expect(r.stack.arp.lookup(HOST3_IP, 0)).toBe(-1);
    // A known sender's new MAC is merged in (RFC 826 "merge_flag"), still without an answer.
    r.stack.inputBytes(request(HOST3_MAC, HOST3_IP, OUR_IP), 0);
    r.stack.takeTxBytes();
    r.stack.inputBytes(request(0x02_00_00_00_00_33, HOST3_IP, parseIpv4('10.0.0.9')), 1);
    expect(r.stack.txCount).toBe(0);
    expect(r.stack.arp.lookup(HOST3_IP, 1)).toBe(0x02_00_00_00_00_33);
    finish(r);
  });

  it('answers an RFC 5227 probe (sender IP 0) for our address, learning nothing', () => {
    const r = rig();
    r.stack.inputBytes(request(HOST3_MAC, 0, OUR_IP), 0);
    const { eth, arp } = parseArpFrame(one(r));
    expect(eth).toEqual({ dst: HOST3_MAC, src: OUR_MAC, etherType: ETHERTYPE_ARP });
    expect(arp).toEqual({
      operation: ARP_OP_REPLY,
      senderHw: OUR_MAC,
      senderIp: OUR_IP,
      targetHw: HOST3_MAC,
      targetIp: 0,
    });
    expect(r.stack.arp.lookup(0, 0)).toBe(-1);
    expect(r.stack.arp.size).toBe(1); // the static PEER entry only
    finish(r);
  });

  it('drops malformed ARP (short, not Ethernet/IPv4, bad operation) and counts it', () => {
    const r = rig();
    const good = request(HOST3_MAC, HOST3_IP, OUR_IP);
    const short = good.slice(0, 14 + 27);
    const hw = good.slice();
    hw[15] = 6; // htype 6 (IEEE 802)
    const op = good.slice();
    op[21] = 9;
    for (const f of [short, hw, op]) {
      expect(counted(r, () => r.stack.inputBytes(f, 0))).toEqual({ rxFrames: 1, rxMalformed: 1 });
    }
    expect(r.stack.txCount).toBe(0);
    finish(r);
  });

  it('holds a packet for an unresolved neighbour behind a broadcast request, then sends it to the answer', () => {
    const r = rig();
    const u = r.stack.udpBind(5000, {});
    const payload = pattern(20);
    expect(u.sendTo(HOST3_IP, 53, payload, 0)).toBe(true);
    const req = one(r);
    const want = new Uint8Array(60);
    ethernetEmit({ dst: MAC_BROADCAST, src: OUR_MAC, etherType: ETHERTYPE_ARP }, want, 0);
    arpEmit(
      {
        operation: ARP_OP_REQUEST,
        senderHw: OUR_MAC,
        senderIp: OUR_IP,
        targetHw: 0,
        targetIp: HOST3_IP,
      },
      want,
      14,
    );
    expect(req).toEqual(want);
    expect(r.stack.arp.pendingTotal).toBe(1);
    expect(r.stack.nextDeadline()).toBeLessThanOrEqual(1000);
    // Before the retry interval: nothing more.
    r.stack.poll(500);
    expect(r.stack.txCount).toBe(0);
    const d = counted(r, () =>
      r.stack.inputBytes(
        arpFrame(OUR_MAC, HOST3_MAC, {
          operation: ARP_OP_REPLY,
          senderHw: HOST3_MAC,
          senderIp: HOST3_IP,
          targetHw: OUR_MAC,
          targetIp: OUR_IP,
        }),
        600,
      ),
    );
    expect(d).toEqual({ rxFrames: 1, arpRepliesIn: 1, txFrames: 1 });
    expect(r.stack.arp.pendingTotal).toBe(0);
    const out = parseIpFrame(one(r));
    expect(out.eth).toEqual({ dst: HOST3_MAC, src: OUR_MAC, etherType: ETHERTYPE_IPV4 });
    expect([out.ip.src, out.ip.dst]).toEqual([OUR_IP, HOST3_IP]);
    expect(parseUdp(out)).toEqual({ srcPort: 5000, dstPort: 53, payload });
    expect(r.stack.arp.lookup(HOST3_IP, 600)).toBe(HOST3_MAC);
    finish(r);
  });

  it('retries the request, then frees and counts the held packet when nobody answers', () => {
    const r = rig();
    const u = r.stack.udpBind(5000, {});
    u.sendTo(HOST3_IP, 53, pattern(10), 0);
    const requests = (now: number) => {
      r.stack.poll(now);
      return r.stack.takeTxBytes().map((f) => parseArpFrame(f).arp.targetIp);
    };
    expect(requests(0)).toEqual([HOST3_IP]); // the first, sent by sendTo
    expect(requests(999)).toEqual([]);
    expect(requests(1000)).toEqual([HOST3_IP]);
    expect(requests(2000)).toEqual([HOST3_IP]);
    expect(requests(2999)).toEqual([]);
    expect(r.stack.arp.pendingTotal).toBe(1);
    const d = counted(r, () => r.stack.poll(3000));
    expect(d).toEqual({ arpPendingDrops: 1 });
    expect(r.stack.txCount).toBe(0);
    expect(r.stack.arp.pendingTotal).toBe(0);
    expect(r.stack.stats.arpRequestsOut).toBe(3);
    // Freed by the stack itself, not by close().
    expect(r.pool.mempool.available()).toBe(r.n);
    finish(r);
  });

  it('a failed resolution holding 100 packets (more than a poll scratch of 64) is freed, and the next packet asks again', () => {
    const r = rig({}, 256);
    const u = r.stack.udpBind(5000, {});
    for (let i = 0; i < 100; i++) expect(u.sendTo(HOST3_IP, 53, pattern(10, i), 0)).toBe(true);
    expect(r.stack.arp.pendingTotal).toBe(100);
    for (const t of [0, 1000, 2000]) {
      r.stack.poll(t);
      r.stack.takeTxBytes();
    }
    const d = counted(r, () => r.stack.poll(3000));
    expect(d).toEqual({ arpPendingDrops: 100 });
    expect(r.stack.arp.pendingTotal).toBe(0);
    expect(r.pool.mempool.available()).toBe(r.n);
    // Resolution starts over: a new request goes at once (before, the entry stayed incomplete
    // with its retries spent and every later packet was dropped unasked).
    expect(u.sendTo(HOST3_IP, 53, pattern(10), 3100)).toBe(true);
    const sent = r.stack.takeTxBytes().map((f) => parseArpFrame(f).arp.targetIp);
    expect(sent).toEqual([HOST3_IP]);
    finish(r);
  });

  it('holds at most pendingPerEntry packets per neighbour, sending one request', () => {
    const r = rig({ arp: { pendingPerEntry: 2 } });
    const u = r.stack.udpBind(5000, {});
    const d = counted(r, () => {
      for (let i = 0; i < 4; i++) u.sendTo(HOST3_IP, 53, pattern(10, i), 0);
    });
    expect(d).toEqual({ arpPendingDrops: 2, arpRequestsOut: 1, txFrames: 1, udpOut: 4 });
    expect(r.stack.arp.pendingTotal).toBe(2);
    r.stack.takeTxBytes();
    finish(r); // close() frees the two held
  });

  it('announce() sends a gratuitous ARP request for our own address', () => {
    const r = rig();
    r.stack.announce();
    const want = new Uint8Array(60);
    ethernetEmit({ dst: MAC_BROADCAST, src: OUR_MAC, etherType: ETHERTYPE_ARP }, want, 0);
    arpEmit(
      {
        operation: ARP_OP_REQUEST,
        senderHw: OUR_MAC,
        senderIp: OUR_IP,
        targetHw: 0,
        targetIp: OUR_IP,
      },
      want,
      14,
    );
    expect(one(r)).toEqual(want);
    expect(r.stack.stats.arpRequestsOut).toBe(1);
    finish(r);
  });
});

describe('Stack: IPv4 input', () => {
  const datagram = () => udpPacket({ srcPort: 5000, dstPort: 7000, payload: pattern(30) });

  it('accepts a good datagram (the baseline the others break)', () => {
    const r = rig();
    const { got } = udpSink(r);
    expect(counted(r, () => r.stack.inputBytes(toUs(datagram()), 0))).toEqual({
      rxFrames: 1,
      udpIn: 1,
    });
    expect(got).toEqual([{ srcIp: PEER_IP, srcPort: 5000, data: [...pattern(30)] }]);
    finish(r);
  });

  const broken: [string, (p: Uint8Array) => Uint8Array, string][] = [
    [
      'a bad header checksum',
      (p) => {
        p[11] ^= 1;
        return toUs(p);
      },
      'rxBadIpv4',
    ],
    [
      'version 6 in an IPv4 frame',
      (p) => {
        p[0] = 0x65;
        ipv4FillChecksum(p, 0);
        return toUs(p);
      },
      'rxBadIpv4',
    ],
    [
      'an IHL below 5',
      (p) => {
        p[0] = 0x44;
        return toUs(p);
      },
      'rxBadIpv4',
    ],
    ['a total length beyond the frame', (p) => toUs(p).subarray(0, 14 + p.length - 1), 'rxBadIpv4'],
    [
      'a total length below the header',
      (p) => {
        p[2] = 0;
        p[3] = 19;
        ipv4FillChecksum(p, 0);
        return toUs(p);
      },
      'rxBadIpv4',
    ],
    ['fewer than 20 bytes of header', (p) => toUs(p).subarray(0, 14 + 19), 'rxBadIpv4'],
    ['a frame shorter than an Ethernet header', (p) => toUs(p).subarray(0, 13), 'rxMalformed'],
    [
      'an IP option of length 0',
      () =>
        toUs(
          udpPacket(
            { srcPort: 5000, dstPort: 7000, payload: pattern(30) },
            { options: Uint8Array.of(130, 0, 0, 0) },
          ),
        ),
      'rxBadIpv4',
    ],
    [
      'a loose source route of length 255 (past the header)',
      () =>
        toUs(
          udpPacket(
            { srcPort: 5000, dstPort: 7000, payload: pattern(30) },
            { options: Uint8Array.of(131, 255, 4, 0) },
          ),
        ),
      'rxBadIpv4',
    ],
    [
      'a well-formed loose source route (source routing refused)',
      () =>
        toUs(
          udpPacket(
            { srcPort: 5000, dstPort: 7000, payload: pattern(30) },
            { options: Uint8Array.of(131, 7, 4, 10, 0, 0, 9, 0) },
          ),
        ),
      'rxSourceRouted',
    ],
    [
      'another host’s address',
      () =>
        toUs(
          udpPacket(
            { srcPort: 5000, dstPort: 7000, payload: pattern(30) },
            {
              dst: parseIpv4('10.0.0.9'),
            },
          ),
        ),
      'rxNotForUs',
    ],
    ['another host’s MAC', (p) => toUs(p, 0x02_00_00_00_00_99), 'rxNotForUs'],
    ['a multicast MAC', (p) => toUs(p, 0x01_00_5e_00_00_01), 'rxNotForUs'],
    [
      'an unknown EtherType (IPv6)',
      (p) => ethFrame({ dst: OUR_MAC, src: PEER_MAC, etherType: ETHERTYPE_IPV6 }, p),
      'rxUnknownEthertype',
    ],
  ];

  it.each(broken)('drops %s and counts it', (_what, breakIt, field) => {
    const r = rig();
    const { got } = udpSink(r);
    const d = counted(r, () => r.stack.inputBytes(breakIt(datagram()), 0));
    expect(d).toEqual({ rxFrames: 1, [field]: 1 });
    expect(got).toEqual([]);
    expect(r.stack.txCount).toBe(0);
    finish(r);
  });

  it('accepts the subnet and limited broadcast, and a unicast datagram in a broadcast frame', () => {
    const r = rig();
    const { got } = udpSink(r);
    const p = (dst: number, seed: number) =>
      udpPacket({ srcPort: 5000, dstPort: 7000, payload: pattern(8, seed) }, { dst });
    r.stack.inputBytes(toUs(p(SUBNET_BROADCAST, 1), MAC_BROADCAST), 0);
    r.stack.inputBytes(toUs(p(LIMITED_BROADCAST, 2), MAC_BROADCAST), 0);
    r.stack.inputBytes(toUs(p(OUR_IP, 3), MAC_BROADCAST), 0);
    expect(got.map((g) => g.data)).toEqual([
      [...pattern(8, 1)],
      [...pattern(8, 2)],
      [...pattern(8, 3)],
    ]);
    expect(r.stack.stats.udpIn).toBe(3);
    finish(r);
  });

  it('reads the total length, not the frame length, past Ethernet padding', () => {
    const r = rig();
    const { got } = udpSink(r);
    const p = udpPacket({ srcPort: 5000, dstPort: 7000, payload: Uint8Array.of(1, 2) });
    const f = new Uint8Array(60).fill(0x5a);
    f.set(toUs(p));
    r.stack.inputBytes(f, 0);
    expect(got).toEqual([{ srcIp: PEER_IP, srcPort: 5000, data: [1, 2] }]);
    finish(r);
  });

  it('skips IPv4 options to find the transport header', () => {
    const r = rig();
    const { got } = udpSink(r);
    const options = Uint8Array.of(0x01, 0x01, 0x01, 0x00); // NOP NOP NOP EOL
    r.stack.inputBytes(
      toUs(udpPacket({ srcPort: 5000, dstPort: 7000, payload: pattern(9) }, { options })),
      0,
    );
    expect(got).toEqual([{ srcIp: PEER_IP, srcPort: 5000, data: [...pattern(9)] }]);
    finish(r);
  });

  it('input() takes mbufs of another pool, chained ones included, and frees every one', () => {
    const r = rig();
    const rx = makePool(8, 'stack-test-rx');
    const { got } = udpSink(r);
    const big = pattern(3000, 2);
    const frames = [
      toUs(udpPacket({ srcPort: 5000, dstPort: 7000, payload: pattern(20) })),
      toUs(udpPacket({ srcPort: 5000, dstPort: 7000, payload: big })), // two segments
      toUs(tcpSegment({ seq: 41, flags: FLG_SYN, dstPort: 81 })),
    ];
    for (const f of frames) {
      const m = rx.fromBytes(f);
      expect(m).toBeGreaterThanOrEqual(0);
      r.stack.input(m, 0);
    }
    expect(rx.mempool.available()).toBe(8);
    expect(got.map((g) => g.data)).toEqual([[...pattern(20)], [...big]]);
    expect(parseTcpOut(parseIpFrame(one(r)))).toMatchObject({ ack: 42, flags: FLG_RST | FLG_ACK });
    finish(r);
  });

  it('works on a /31 point-to-point link, where there is no subnet broadcast (RFC 3021)', () => {
    const r = rig({ ip: '10.0.0.2/31', gateway: undefined });
    r.stack.arp.addStatic(parseIpv4('10.0.0.3'), HOST3_MAC);
    const u = r.stack.udpBind(5000, {});
    u.sendTo('10.0.0.3', 53, pattern(4), 0);
    const out = parseIpFrame(one(r));
    expect(out.eth.dst).toBe(HOST3_MAC);
    expect(out.ip.dst).toBe(HOST3_IP);
    finish(r);
  });
});

describe('Stack: ICMP', () => {
  it('learns an on-link sender from its datagram: the reply needs no ARP (smoltcp)', () => {
    const r = rig();
    const data = pattern(8);
    const ping = (src: number, mac: number) =>
      r.stack.inputBytes(
        toUs(icmpPacket({ kind: 'echo-request', ident: 1, seq: 1, data }, { src }), OUR_MAC, mac),
        0,
      );
    const d = counted(r, () => ping(HOST3_IP, HOST3_MAC));
    expect(d).toEqual({ rxFrames: 1, icmpEchoIn: 1, txFrames: 1 });
    const out = parseIpFrame(one(r));
    expect(out.eth.dst).toBe(HOST3_MAC);
    expect(out.ip.dst).toBe(HOST3_IP);
    expect(r.stack.arp.lookup(HOST3_IP, 0)).toBe(HOST3_MAC);
    // A known neighbour is not rewritten by an IP datagram (only ARP changes it) ...
    ping(HOST3_IP, 0x02_00_00_00_00_33);
    expect(parseIpFrame(one(r)).eth.dst).toBe(HOST3_MAC);
    expect(r.stack.arp.lookup(HOST3_IP, 0)).toBe(HOST3_MAC);
    // ... and an off-link source (through the gateway's MAC) teaches nothing.
    r.stack.inputBytes(
      toUs(udpPacket({ srcPort: 53, dstPort: 9, payload: data }, { src: FAR_IP }), OUR_MAC, GW_MAC),
      0,
    );
    expect(r.stack.arp.lookup(FAR_IP, 0)).toBe(-1);
    r.stack.takeTxBytes();
    finish(r);
  });

  it('learns a sender again at the same `now` after its entry was removed (no stale "known")', () => {
    const r = rig();
    const data = pattern(8);
    const ping = () =>
      r.stack.inputBytes(
        toUs(
          icmpPacket({ kind: 'echo-request', ident: 1, seq: 1, data }, { src: HOST3_IP }),
          OUR_MAC,
          HOST3_MAC,
        ),
        7,
      );
    ping();
    ping();
    expect(r.stack.arp.lookup(HOST3_IP, 7)).toBe(HOST3_MAC);
    expect(r.stack.arp.remove(HOST3_IP)).toBe(0);
    ping();
    expect(r.stack.arp.lookup(HOST3_IP, 7)).toBe(HOST3_MAC);
    expect(r.stack.takeTxBytes().map((f) => parseIpFrame(f).eth.dst)).toEqual([
      HOST3_MAC,
      HOST3_MAC,
      HOST3_MAC,
    ]);
    finish(r);
  });

  it('a datagram from a neighbour being resolved releases what waits for it', () => {
    const r = rig();
    const u = r.stack.udpBind(5000, {});
    u.sendTo(HOST3_IP, 53, pattern(10), 0);
    expect(r.stack.takeTxBytes().map((f) => parseArpFrame(f).arp.targetIp)).toEqual([HOST3_IP]);
    expect(r.stack.arp.pendingTotal).toBe(1);
    r.stack.inputBytes(
      toUs(
        udpPacket({ srcPort: 53, dstPort: 9, payload: pattern(4) }, { src: HOST3_IP }),
        OUR_MAC,
        HOST3_MAC,
      ),
      10,
    );
    expect(r.stack.arp.pendingTotal).toBe(0);
    const frames = r.stack.takeTxBytes().map(parseIpFrame);
    const udp = frames.filter((f) => f.ip.protocol === IP_PROTO_UDP);
    expect(udp.map((f) => [f.eth.dst, f.ip.dst])).toEqual([[HOST3_MAC, HOST3_IP]]);
    finish(r);
  });

  it('answers an echo request with the same ident, sequence and data, checksum right', () => {
    const r = rig();
    const data = pattern(37);
    const d = counted(r, () =>
      r.stack.inputBytes(
        toUs(icmpPacket({ kind: 'echo-request', ident: 0x1234, seq: 7, data })),
        0,
      ),
    );
    expect(d).toEqual({ rxFrames: 1, icmpEchoIn: 1, txFrames: 1 });
    const out = parseIpFrame(one(r));
    expect(out.eth).toEqual({ dst: PEER_MAC, src: OUR_MAC, etherType: ETHERTYPE_IPV4 });
    expect(out.ip).toMatchObject({ src: OUR_IP, dst: PEER_IP, protocol: IP_PROTO_ICMP, ttl: 64 });
    expect(parseIcmp(out)).toEqual({ kind: 'echo-reply', ident: 0x1234, seq: 7, data });
    finish(r);
  });

  it('echo replies verify for any ident, sequence and data (fast-check)', () => {
    const r = rig();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ maxLength: 300 }),
        (ident, seq, data) => {
          r.stack.inputBytes(toUs(icmpPacket({ kind: 'echo-request', ident, seq, data })), 0);
          const out = parseIpFrame(one(r));
          expect(parseIcmp(out)).toEqual({ kind: 'echo-reply', ident, seq, data });
        },
      ),
      { numRuns: 300 },
    );
    finish(r);
  });

  it('ignores echo requests to the subnet and limited broadcast (no smurf amplifier), counted', () => {
    const r = rig();
    for (const dst of [SUBNET_BROADCAST, 0xffffffff]) {
      const req = icmpPacket({ kind: 'echo-request', ident: 1, seq: 2, data: pattern(4) }, { dst });
      expect(counted(r, () => r.stack.inputBytes(toUs(req, MAC_BROADCAST), 0))).toEqual({
        rxFrames: 1,
        icmpEchoIn: 1,
        icmpEchoBroadcastIgnored: 1,
      });
    }
    expect(r.stack.txCount).toBe(0);
    finish(r);
  });

  it('IPv4 Identification: a counter per destination bucket (RFC 7739), so traffic to one host does not move what another sees', () => {
    const r = rig();
    r.stack.arp.addStatic(HOST3_IP, HOST3_MAC);
    const u = r.stack.udpBind(5000, {});
    const idTo = (dst: number) => {
      expect(u.sendTo(dst, 53, pattern(10), 0)).toBe(true);
      const out = parseIpFrame(one(r));
      expect(out.ip.dst).toBe(dst);
      return out.ip.ident as number;
    };
    const a1 = idTo(PEER_IP);
    const others = Array.from({ length: 50 }, () => idTo(HOST3_IP));
    const a2 = idTo(PEER_IP);
    // 50 datagrams to another host in between, and the peer sees its own next number (a global
    // counter would have moved by 51: an idle scan's signal).
    expect(a2).toBe((a1 + 1) & 0xffff);
    expect(others[49]).toBe((others[0] + 49) & 0xffff);
    // Two stacks with different secrets start their counters elsewhere.
    const r2 = rig({ isnSecret: new Uint8Array(16).fill(9) });
    const u2 = r2.stack.udpBind(5000, {});
    expect(u2.sendTo(PEER_IP, 53, pattern(10), 0)).toBe(true);
    expect(parseIpFrame(one(r2)).ip.ident).not.toBe(a1);
    finish(r2);
    finish(r);
  });

  it('drops a SYN+FIN to a listener without an answer', () => {
    const r = rig();
    r.stack.tcpListen(80);
    const synFin = tcpSegment({ flags: FLG_SYN | FLG_FIN });
    expect(counted(r, () => r.stack.inputBytes(toUs(synFin), 0))).toEqual({
      rxFrames: 1,
      'tcp.badSegs': 1,
    });
    expect(r.stack.txCount).toBe(0);
    expect(r.stack.connections.size).toBe(0);
    finish(r);
  });

  it('drops a packet with our own address as its source (a LAND SYN): no half-open connection', () => {
    const r = rig();
    r.stack.tcpListen(80);
    const syn = tcpSegment({ srcPort: 80, dstPort: 80 }, undefined, { src: OUR_IP, dst: OUR_IP });
    expect(counted(r, () => r.stack.inputBytes(toUs(syn), 0))).toEqual({
      rxFrames: 1,
      rxMartianSource: 1,
    });
    expect(r.stack.txCount).toBe(0);
    expect(r.stack.connections.size).toBe(0);
    finish(r);
  });

  it('drops an echo request with a bad checksum, and a message too short for a header', () => {
    const r = rig();
    const p = icmpPacket({ kind: 'echo-request', ident: 1, seq: 2, data: pattern(4) });
    p[20 + 9] ^= 0xff;
    expect(counted(r, () => r.stack.inputBytes(toUs(p), 0))).toEqual({
      rxFrames: 1,
      rxBadChecksum: 1,
    });
    const short = ipPacket({ protocol: IP_PROTO_ICMP }, Uint8Array.of(8, 0, 0xf7, 0xff));
    expect(counted(r, () => r.stack.inputBytes(toUs(short), 0))).toEqual({
      rxFrames: 1,
      rxMalformed: 1,
    });
    expect(r.stack.txCount).toBe(0);
    finish(r);
  });

  it('answers UDP to a closed port with port unreachable quoting the datagram', () => {
    const r = rig();
    const p = udpPacket({ srcPort: 5000, dstPort: 9, payload: pattern(12) });
    const d = counted(r, () => r.stack.inputBytes(toUs(p), 0));
    expect(d).toEqual({ rxFrames: 1, udpIn: 1, udpNoPort: 1, icmpErrorsOut: 1, txFrames: 1 });
    const out = parseIpFrame(one(r));
    expect(out.eth.dst).toBe(PEER_MAC);
    expect(out.ip).toMatchObject({ src: OUR_IP, dst: PEER_IP, protocol: IP_PROTO_ICMP });
    // RFC 792: the IP header and at least 8 bytes; a short datagram is quoted whole.
    expect(parseIcmp(out)).toEqual({
      kind: 'dest-unreachable',
      code: ICMP_UNREACH_PORT,
      nextHopMtu: 0,
      original: p,
    });
    finish(r);
  });

  it('quotes at most what keeps the error within 576 bytes (RFC 1812 4.3.2.3)', () => {
    const r = rig();
    const p = udpPacket({ srcPort: 5000, dstPort: 9, payload: pattern(1000) });
    r.stack.inputBytes(toUs(p), 0);
    const out = parseIpFrame(one(r));
    expect(out.datagram.length).toBe(576);
    const icmp = parseIcmp(out);
    expect(icmp.kind).toBe('dest-unreachable');
    if (icmp.kind === 'dest-unreachable') expect(icmp.original).toEqual(p.subarray(0, 548));
    finish(r);
  });

  it('answers an unknown IP protocol with protocol unreachable', () => {
    const r = rig();
    const p = ipPacket({ protocol: 99 }, pattern(16));
    const d = counted(r, () => r.stack.inputBytes(toUs(p), 0));
    expect(d).toEqual({ rxFrames: 1, rxUnknownProtocol: 1, icmpErrorsOut: 1, txFrames: 1 });
    const icmp = parseIcmp(parseIpFrame(one(r)));
    expect(icmp).toEqual({
      kind: 'dest-unreachable',
      code: ICMP_UNREACH_PROTOCOL,
      nextHopMtu: 0,
      original: p,
    });
    finish(r);
  });

  it('sends no error about an ICMP error, a non-echo ICMP type, or an echo reply', () => {
    const r = rig();
    const quoted = udpPacket(
      { srcPort: 9, dstPort: 5000, payload: pattern(8) },
      {
        src: OUR_IP,
        dst: PEER_IP,
      },
    );
    const err = icmpPacket({ kind: 'dest-unreachable', code: 3, original: quoted });
    expect(counted(r, () => r.stack.inputBytes(toUs(err), 0))).toEqual({
      rxFrames: 1,
      icmpErrorsIn: 1,
    });
    const ts = icmpPacket({ kind: 'other', type: 13, code: 0, restOfHeader: 0, data: pattern(12) });
    const reply = icmpPacket({ kind: 'echo-reply', ident: 1, seq: 1, data: pattern(3) });
    for (const p of [ts, reply]) {
      expect(counted(r, () => r.stack.inputBytes(toUs(p), 0))).toEqual({ rxFrames: 1 });
    }
    expect(r.stack.txCount).toBe(0);
    finish(r);
  });

  it('sends no error about a broadcast, or a datagram from a non-unicast source (RFC 1122 3.2.2)', () => {
    const r = rig();
    const closed = (ip: Partial<Ipv4Repr>) =>
      udpPacket({ srcPort: 5000, dstPort: 9, payload: pattern(8) }, ip);
    const cases: Uint8Array[] = [
      toUs(closed({ dst: SUBNET_BROADCAST }), MAC_BROADCAST),
      toUs(closed({ dst: LIMITED_BROADCAST }), MAC_BROADCAST),
      toUs(ipPacket({ protocol: 99, dst: SUBNET_BROADCAST }, pattern(8)), MAC_BROADCAST),
      // Addressed to us, but sent as a link-layer broadcast.
      toUs(closed({}), MAC_BROADCAST),
      toUs(ipPacket({ protocol: 99 }, pattern(8)), MAC_BROADCAST),
      // Sources that name no single host.
      toUs(closed({ src: 0 })),
      toUs(closed({ src: SUBNET_BROADCAST })),
      toUs(closed({ src: LIMITED_BROADCAST })),
      toUs(closed({ src: parseIpv4('224.0.0.1') })),
      toUs(closed({ src: parseIpv4('127.0.0.1') })),
      toUs(closed({ src: parseIpv4('240.0.0.1') })),
    ];
    for (const f of cases) {
      r.stack.inputBytes(f, 0);
      expect(r.stack.txCount).toBe(0);
    }
    expect(r.stack.stats.icmpErrorsOut).toBe(0);
    expect(r.stack.stats.udpNoPort).toBe(9);
    finish(r);
  });

  it('rate-limits errors to icmpErrorLimit per second, and recovers the next second', () => {
    const r = rig({ icmpErrorLimit: 3 });
    const closed = () => toUs(udpPacket({ srcPort: 5000, dstPort: 9, payload: pattern(8) }));
    const burst = (times: number[]) =>
      counted(r, () => {
        for (const t of times) r.stack.inputBytes(closed(), t);
        r.stack.takeTxBytes();
      });
    expect(burst([1000, 1100, 1200, 1300, 1999])).toMatchObject({
      icmpErrorsOut: 3,
      icmpRateLimited: 2,
      txFrames: 3,
    });
    expect(burst([2000, 2001])).toMatchObject({ icmpErrorsOut: 2, txFrames: 2 });
    expect(burst([2002, 2003])).toMatchObject({ icmpErrorsOut: 1, icmpRateLimited: 1 });
    // Echo replies are not errors and are not limited.
    r.stack.inputBytes(
      toUs(icmpPacket({ kind: 'echo-request', ident: 1, seq: 1, data: pattern(2) })),
      2004,
    );
    expect(r.stack.takeTxBytes()).toHaveLength(1);
    finish(r);
  });
});

describe('Stack: UDP', () => {
  it('delivers a datagram with the sender’s address, port and exact payload', () => {
    const r = rig();
    const { got } = udpSink(r);
    const payload = pattern(333);
    r.stack.inputBytes(toUs(udpPacket({ srcPort: 5353, dstPort: 7000, payload })), 0);
    // No checksum (0) is allowed on IPv4 (RFC 768).
    r.stack.inputBytes(toUs(udpPacket({ srcPort: 5354, dstPort: 7000, payload }, {}, true)), 0);
    r.stack.inputBytes(
      toUs(udpPacket({ srcPort: 5355, dstPort: 7000, payload: new Uint8Array(0) })),
      0,
    );
    expect(got).toEqual([
      { srcIp: PEER_IP, srcPort: 5353, data: [...payload] },
      { srcIp: PEER_IP, srcPort: 5354, data: [...payload] },
      { srcIp: PEER_IP, srcPort: 5355, data: [] },
    ]);
    expect(r.stack.txCount).toBe(0);
    finish(r);
  });

  it('sendTo queues an exact datagram: headers, checksums, payload', () => {
    const r = rig();
    const u = r.stack.udpBind(7000, {});
    const bytes = pattern(100);
    expect(u.sendTo('10.0.0.2', 5353, bytes, 0, 10, 50)).toBe(true);
    const f = one(r);
    const out = parseIpFrame(f);
    expect(out.ip).toMatchObject({
      src: OUR_IP,
      dst: PEER_IP,
      protocol: IP_PROTO_UDP,
      ttl: 64,
      dscp: 0,
      ecn: 0,
      dontFragment: false,
      moreFragments: false,
      fragOffset: 0,
      payloadLength: 58,
    });
    expect(parseUdp(out)).toEqual({
      srcPort: 7000,
      dstPort: 5353,
      payload: bytes.subarray(10, 60),
    });
    // Byte for byte what the wire layer builds (with the stack's IP ident).
    const want = toUs(
      udpPacket(
        { srcPort: 7000, dstPort: 5353, payload: bytes.subarray(10, 60) },
        { src: OUR_IP, dst: PEER_IP, ident: out.ip.ident },
      ),
      PEER_MAC,
      OUR_MAC,
    );
    expect(f).toEqual(want);
    expect(r.stack.stats.udpOut).toBe(1);
    finish(r);
  });

  it('sends a computed checksum of 0 as 0xffff (RFC 768)', () => {
    const r = rig();
    // The payload word that makes the one's complement sum 0xffff: the checksum of a zero word.
    const probe = udpPacket(
      { srcPort: 7000, dstPort: 5353, payload: new Uint8Array(2) },
      {
        src: OUR_IP,
        dst: PEER_IP,
      },
    );
    const c = (probe[26] << 8) | probe[27];
    const u = r.stack.udpBind(7000, {});
    u.sendTo(PEER_IP, 5353, Uint8Array.of(c >>> 8, c & 0xff), 0);
    const out = parseIpFrame(one(r));
    expect((out.l4[6] << 8) | out.l4[7]).toBe(0xffff);
    expect(udpVerifyChecksum(out.datagram, 0, 20)).toBe(true);
    finish(r);
  });

  /** Checks the fragments of one datagram and returns the UDP datagram they carry. */
  function checkFragments(frames: Uint8Array[], mtu: number): Uint8Array {
    const outs = frames.map(parseIpFrame);
    const per = (mtu - 20) & ~7;
    let at = 0;
    const parts: Uint8Array[] = [];
    outs.forEach((o, i) => {
      const last = i === outs.length - 1;
      expect(o.eth).toEqual({ dst: PEER_MAC, src: OUR_MAC, etherType: ETHERTYPE_IPV4 });
      expect(o.ip).toMatchObject({
        src: OUR_IP,
        dst: PEER_IP,
        protocol: IP_PROTO_UDP,
        ident: outs[0].ip.ident,
        dontFragment: false,
        moreFragments: !last,
        fragOffset: at,
      });
      expect(at % 8).toBe(0);
      expect(20 + o.ip.payloadLength).toBeLessThanOrEqual(mtu);
      if (!last) expect(o.ip.payloadLength).toBe(per);
      parts.push(o.l4);
      at += o.ip.payloadLength;
    });
    const udp = new Uint8Array(at);
    let o = 0;
    for (const p of parts) {
      udp.set(p, o);
      o += p.length;
    }
    // The UDP checksum covers the whole datagram: check it over a reassembled copy.
    const whole = new Uint8Array(20 + at);
    whole.set(outs[0].datagram.subarray(0, 20));
    whole.set(udp, 20);
    expect(udpVerifyChecksum(whole, 0, 20)).toBe(true);
    return udp;
  }

  it('fragments a datagram larger than the MTU and a second stack reassembles it', () => {
    const r = rig();
    const b = rig({ mac: PEER_MAC, ip: '10.0.0.2/24' });
    const got = udpSink(b, 5353).got;
    const u = r.stack.udpBind(7000, {});
    const payload = pattern(4000, 9);
    const d = counted(r, () => expect(u.sendTo(PEER_IP, 5353, payload, 0)).toBe(true));
    expect(d).toEqual({ udpOut: 1, udpFragmentsOut: 3, txFrames: 3 });
    const frames = r.stack.takeTxBytes();
    expect(frames.map((f) => f.length)).toEqual([1514, 1514, 14 + 20 + 1048]);
    const udp = checkFragments(frames, 1500);
    expect(must(udpParse(udp, 0, udp.length))).toEqual({ srcPort: 7000, dstPort: 5353, payload });
    // Out of order on purpose: last fragment first.
    for (const f of [frames[2], frames[0], frames[1]]) b.stack.inputBytes(f, 1);
    expect(got).toEqual([{ srcIp: OUR_IP, srcPort: 7000, data: [...payload] }]);
    expect(b.stack.stats).toMatchObject({ rxFragments: 3, rxReassembled: 1, udpIn: 1 });
    finish(r);
    finish(b);
  });

  it('fragments correctly for any MTU and size, and reassembly returns the same bytes (fast-check)', () => {
    const b = rig({ mac: PEER_MAC, ip: '10.0.0.2/24' });
    const got = udpSink(b, 5353).got;
    fc.assert(
      fc.property(
        fc.integer({ min: 576, max: 2034 }),
        fc.integer({ min: 0, max: 12000 }),
        fc.nat(),
        (mtu, len, seed) => {
          const r = rig({ mtu });
          const u = r.stack.udpBind(7000, {});
          const payload = pattern(len, seed);
          expect(u.sendTo(PEER_IP, 5353, payload, 0)).toBe(true);
          const frames = r.stack.takeTxBytes();
          expect(frames).toHaveLength(Math.ceil((8 + len) / ((mtu - 20) & ~7)));
          const udp = checkFragments(frames, mtu);
          expect(udp.length).toBe(8 + len);
          got.length = 0;
          for (const f of frames) b.stack.inputBytes(f, 0);
          expect(got).toEqual([{ srcIp: OUR_IP, srcPort: 7000, data: [...payload] }]);
          finish(r);
        },
      ),
      { numRuns: 60 },
    );
    finish(b);
  });

  it('sends the largest datagram (65507 bytes) and refuses one byte more', () => {
    const r = rig();
    const b = rig({ mac: PEER_MAC, ip: '10.0.0.2/24' });
    const got = udpSink(b, 5353).got;
    const u = r.stack.udpBind(7000, {});
    const payload = pattern(65507, 4);
    expect(u.sendTo(PEER_IP, 5353, payload, 0)).toBe(true);
    const frames = r.stack.takeTxBytes();
    expect(frames).toHaveLength(45);
    checkFragments(frames, 1500);
    for (const f of frames) b.stack.inputBytes(f, 0);
    expect(got).toHaveLength(1);
    expect(got[0].data).toEqual([...payload]);
    expect(() => u.sendTo(PEER_IP, 5353, new Uint8Array(65508), 0)).toThrow(
      'EINVAL: a UDP datagram holds at most 65507 bytes, got 65508',
    );
    finish(r);
    finish(b);
  });

  it('refuses a second bind of a port (EADDRINUSE) and a bad port; close frees the port', () => {
    const r = rig();
    const u = r.stack.udpBind(7000, {});
    expect(() => r.stack.udpBind(7000, {})).toThrow(TcpSocketError);
    expect(() => r.stack.udpBind(7000, {})).toThrow(
      'EADDRINUSE: UDP port 7000 is already bound on this stack',
    );
    expect(() => r.stack.udpBind(0, {})).toThrow('port must be an integer from 1 to 65535, got 0');
    expect(() => r.stack.udpBind(65536, {})).toThrow(OptionError);
    u.close();
    expect(u.sendTo(PEER_IP, 1, pattern(1), 0)).toBe(false);
    const again = r.stack.udpBind(7000, {});
    expect(again.port).toBe(7000);
    finish(r);
  });

  it('drops a datagram with a bad checksum or a bad length, and counts it', () => {
    const r = rig();
    const { got } = udpSink(r);
    const p = udpPacket({ srcPort: 5000, dstPort: 7000, payload: pattern(30) });
    p[40] ^= 0x10;
    expect(counted(r, () => r.stack.inputBytes(toUs(p), 0))).toEqual({
      rxFrames: 1,
      rxBadChecksum: 1,
    });
    const long = udpPacket({ srcPort: 5000, dstPort: 7000, payload: pattern(30) }, {}, true);
    long[25] = 39; // UDP length 39 > the 38 bytes there are
    expect(counted(r, () => r.stack.inputBytes(toUs(long), 0))).toEqual({
      rxFrames: 1,
      rxMalformed: 1,
    });
    expect(got).toEqual([]);
    expect(r.stack.txCount).toBe(0); // and no ICMP error
    finish(r);
  });

  it('sends to the subnet and limited broadcast as Ethernet broadcast, without ARP', () => {
    const r = rig({ gateway: undefined });
    const u = r.stack.udpBind(68, {});
    expect(u.sendTo(SUBNET_BROADCAST, 67, pattern(8), 0)).toBe(true);
    expect(u.sendTo(LIMITED_BROADCAST, 67, pattern(8), 0)).toBe(true);
    const outs = r.stack.takeTxBytes().map(parseIpFrame);
    expect(outs.map((o) => [o.eth.dst, o.ip.dst])).toEqual([
      [MAC_BROADCAST, SUBNET_BROADCAST],
      [MAC_BROADCAST, LIMITED_BROADCAST],
    ]);
    finish(r);
  });
});

describe('Stack: routes and the gateway', () => {
  const arpReply = (mac: number, ip: number) =>
    arpFrame(OUR_MAC, mac, {
      operation: ARP_OP_REPLY,
      senderHw: mac,
      senderIp: ip,
      targetHw: OUR_MAC,
      targetIp: OUR_IP,
    });

  it('sends off-subnet traffic to the gateway’s MAC, resolving the gateway', () => {
    const r = rig({ gateway: '10.0.0.254' });
    const u = r.stack.udpBind(7000, {});
    expect(u.sendTo(FAR_IP, 53, pattern(10), 0)).toBe(true);
    const req = parseArpFrame(one(r));
    expect(req.eth.dst).toBe(MAC_BROADCAST);
    expect(req.arp).toMatchObject({ operation: ARP_OP_REQUEST, targetIp: GW_IP });
    r.stack.inputBytes(arpReply(GW_MAC, GW_IP), 1);
    const out = parseIpFrame(one(r));
    expect(out.eth.dst).toBe(GW_MAC);
    expect(out.ip.dst).toBe(FAR_IP);
    // On-subnet hosts are still resolved directly.
    u.sendTo(HOST3_IP, 53, pattern(10), 1);
    expect(parseArpFrame(one(r)).arp.targetIp).toBe(HOST3_IP);
    finish(r);
  });

  it('opens TCP connections through the gateway, and follows a route added later', () => {
    const r = rig({ gateway: '10.0.0.254' });
    r.stack.tcpConnect(FAR_IP, 80, {}, 0);
    expect(parseArpFrame(one(r)).arp.targetIp).toBe(GW_IP);
    r.stack.inputBytes(arpReply(GW_MAC, GW_IP), 1);
    const syn = parseIpFrame(one(r));
    expect(syn.eth.dst).toBe(GW_MAC);
    expect(syn.ip.dst).toBe(FAR_IP);
    expect(parseTcpOut(syn).flags).toBe(FLG_SYN);
    const other = parseIpv4('10.0.0.253');
    r.stack.routes.add({ dest: parseIpv4('192.168.0.0'), prefixLen: 16, gateway: other });
    const u = r.stack.udpBind(7000, {});
    u.sendTo('192.168.3.4', 53, pattern(3), 2);
    expect(parseArpFrame(one(r)).arp.targetIp).toBe(other);
    finish(r);
  });

  it('a burst at one `now` reuses the resolved next hop, but a route or ARP change takes effect at once', () => {
    const r = rig();
    const u = r.stack.udpBind(7000, {});
    const far = parseIpv4('192.168.3.4');
    const gw2 = parseIpv4('10.0.0.253');
    const gw2Mac = 0x02_00_00_00_00_fd;
    r.stack.arp.addStatic(gw2, gw2Mac);
    // Same time throughout: only the tables' versions tell the cached answer is stale.
    expect(u.sendTo(PEER_IP, 53, pattern(3), 5)).toBe(true);
    expect(u.sendTo(PEER_IP, 53, pattern(3), 5)).toBe(true);
    expect(r.stack.takeTxBytes().map((f) => parseIpFrame(f).eth.dst)).toEqual([PEER_MAC, PEER_MAC]);
    r.stack.arp.addStatic(PEER_IP, HOST3_MAC); // the peer moved
    u.sendTo(PEER_IP, 53, pattern(3), 5);
    expect(parseIpFrame(one(r)).eth.dst).toBe(HOST3_MAC);
    expect(u.sendTo(far, 53, pattern(3), 5)).toBe(false); // no route yet
    r.stack.routes.add({ dest: parseIpv4('192.168.0.0'), prefixLen: 16, gateway: gw2 });
    u.sendTo(far, 53, pattern(3), 5);
    u.sendTo(far, 53, pattern(3), 5);
    expect(r.stack.takeTxBytes().map((f) => parseIpFrame(f).eth.dst)).toEqual([gw2Mac, gw2Mac]);
    // A host route for `far` through PEER, added at the same time, wins at once.
    r.stack.routes.add({ dest: far, prefixLen: 32, gateway: PEER_IP });
    u.sendTo(far, 53, pattern(3), 5);
    expect(parseIpFrame(one(r)).eth.dst).toBe(HOST3_MAC);
    r.stack.routes.remove(far, 32);
    u.sendTo(far, 53, pattern(3), 5);
    expect(parseIpFrame(one(r)).eth.dst).toBe(gw2Mac);
    finish(r);
  });

  it('without a route: tcpConnect throws ENETUNREACH, sendTo returns false and counts', () => {
    const r = rig();
    let thrown: unknown;
    try {
      r.stack.tcpConnect('8.8.8.8', 80, {}, 0);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(TcpSocketError);
    expect(thrown).toMatchObject({
      code: 'ENETUNREACH',
      message: 'ENETUNREACH: no route to 8.8.8.8; add a route or a gateway',
    });
    expect(r.stack.connections.size).toBe(0);
    const u = r.stack.udpBind(7000, {});
    const d = counted(r, () => expect(u.sendTo(FAR_IP, 53, pattern(10), 0)).toBe(false));
    expect(d).toEqual({ txNoRoute: 1 });
    expect(r.stack.txCount).toBe(0);
    finish(r);
  });
});

describe('Stack: TCP segments for no connection (RFC 9293 3.10.7.1)', () => {
  it('answers a SYN to a closed port with RST|ACK, ack = seq + 1', () => {
    const r = rig();
    const syn = tcpSegment({
      seq: 0xffff_fff0,
      flags: FLG_SYN,
      dstPort: 81,
      options: { mss: 1460 },
    });
    const d = counted(r, () => r.stack.inputBytes(toUs(syn), 0));
    expect(d).toEqual({
      rxFrames: 1,
      txFrames: 1,
      'tcp.noPortRsts': 1,
      'tcp.rstsSent': 1,
      'tcp.segsOut': 1,
    });
    const out = parseIpFrame(one(r));
    expect(out.eth).toEqual({ dst: PEER_MAC, src: OUR_MAC, etherType: ETHERTYPE_IPV4 });
    expect(out.ip).toMatchObject({ src: OUR_IP, dst: PEER_IP, ttl: 64, dontFragment: true });
    expect(parseTcpOut(out)).toEqual({
      srcPort: 81,
      dstPort: 40000,
      seq: 0,
      ack: 0xffff_fff1,
      flags: FLG_RST | FLG_ACK,
      window: 0,
      urgent: 0,
      options: {},
      payloadLength: 0,
    });
    finish(r);
  });

  it('counts data and FIN in the ack of the reset (SEG.SEQ + SEG.LEN)', () => {
    const r = rig();
    r.stack.inputBytes(toUs(tcpSegment({ seq: 5, flags: FLG_SYN | FLG_FIN }, pattern(10))), 0);
    expect(parseTcpOut(parseIpFrame(one(r)))).toMatchObject({
      seq: 0,
      ack: 5 + 10 + 1 + 1,
      flags: FLG_RST | FLG_ACK,
    });
    finish(r);
  });

  it('answers an ACK segment with RST, seq = its ack, and no ACK bit', () => {
    const r = rig();
    const seg = tcpSegment({ seq: 5000, ack: 777, flags: FLG_ACK | FLG_PSH }, pattern(5));
    r.stack.inputBytes(toUs(seg), 0);
    expect(parseTcpOut(parseIpFrame(one(r)))).toEqual({
      srcPort: 80,
      dstPort: 40000,
      seq: 777,
      ack: 0,
      flags: FLG_RST,
      window: 0,
      urgent: 0,
      options: {},
      payloadLength: 0,
    });
    // Likewise an ACK to a listening port (RFC 9293 3.10.7.2).
    r.stack.tcpListen(80);
    const d = counted(r, () => r.stack.inputBytes(toUs(seg), 1));
    expect(d).toMatchObject({ 'tcp.rstsSent': 1 });
    expect(parseTcpOut(parseIpFrame(one(r)))).toMatchObject({ seq: 777, flags: FLG_RST });
    finish(r);
  });

  it('never answers a reset, a bad checksum, or a segment to a broadcast address', () => {
    const r = rig();
    const bad = tcpSegment({ flags: FLG_SYN });
    bad[20 + 16] ^= 1;
    const frames = [
      toUs(tcpSegment({ flags: FLG_RST })),
      toUs(tcpSegment({ flags: FLG_RST | FLG_ACK, ack: 9 })),
      toUs(bad),
      toUs(tcpSegment({ flags: FLG_SYN }, undefined, { dst: SUBNET_BROADCAST }), MAC_BROADCAST),
    ];
    for (const f of frames) r.stack.inputBytes(f, 0);
    expect(r.stack.txCount).toBe(0);
    expect(r.stack.stats.rxBadChecksum).toBe(1);
    expect(r.stack.tcpStats.rstsSent).toBe(0);
    finish(r);
  });
});

describe('Stack: TCP receive through the stack', () => {
  it('delivers out-of-order segments across two holes byte-exact', () => {
    const r = rig();
    const received: number[] = [];
    r.stack.tcpListen(80, {
      onConnection(s) {
        s.handlers = {
          onData(_s, b, o, l) {
            received.push(...b.subarray(o, o + l));
          },
        };
      },
    });
    r.stack.inputBytes(toUs(tcpSegment({ seq: 999, flags: FLG_SYN, options: { mss: 1460 } })), 0);
    const synAck = parseTcpOut(parseIpFrame(one(r)));
    expect(synAck).toMatchObject({ flags: FLG_SYN | FLG_ACK, ack: 1000 });
    const ack = synAck.seq + 1;
    r.stack.inputBytes(toUs(tcpSegment({ seq: 1000, ack, flags: FLG_ACK })), 1);
    const data = pattern(400, 5);
    const seg = (from: number, to: number) =>
      toUs(tcpSegment({ seq: 1000 + from, ack, flags: FLG_ACK }, data.subarray(from, to)));
    // [300, 400) and [100, 200) wait; [0, 100) fills the first hole, [200, 300) the second.
    for (const [from, to] of [
      [300, 400],
      [100, 200],
      [0, 100],
      [200, 300],
    ]) {
      r.stack.inputBytes(seg(from, to), 2);
    }
    expect(received).toEqual([...data]);
    r.stack.takeTxBytes();
    finish(r);
  });
});

describe('Stack: ICMP errors for TCP (RFC 1191, RFC 1122 4.2.3.9, RFC 5927)', () => {
  /** A passive connection from PEER:40000 to our port 80 (no timestamps), and its socket. */
  function accepted(r: Rig): { s: TcpSocket; ack: number } {
    let sock: TcpSocket | null = null;
    r.stack.tcpListen(80, {
      onConnection(s) {
        sock = s;
      },
    });
    r.stack.inputBytes(toUs(tcpSegment({ seq: 999, flags: FLG_SYN, options: { mss: 1460 } })), 0);
    const ack = parseTcpOut(parseIpFrame(one(r))).seq + 1;
    r.stack.inputBytes(toUs(tcpSegment({ seq: 1000, ack, flags: FLG_ACK })), 1);
    if (sock === null) throw new Error('not accepted');
    return { s: sock, ack };
  }
  /** ICMP destination unreachable from a router, quoting the first 28 bytes of `datagram`. */
  const unreachable = (code: number, datagram: Uint8Array, nextHopMtu = 0) =>
    toUs(
      icmpPacket(
        { kind: 'dest-unreachable', code, nextHopMtu, original: datagram.subarray(0, 28) },
        { src: HOST3_IP },
      ),
    );

  it('fragmentation needed lowers the MSS to the path MTU and resends at once in smaller segments', () => {
    const r = rig({}, 128);
    const { s } = accepted(r);
    s.write(pattern(3000, 7), 0, 3000, 2);
    const sent = r.stack.takeTxBytes().map((f) => parseIpFrame(f));
    expect(sent.map((o) => o.l4.length - 20)).toEqual([1460, 1460]); // Nagle holds the 80 left
    const d = counted(r, () => r.stack.inputBytes(unreachable(4, sent[0].datagram, 576), 3));
    expect(d['tcp.pmtuUpdates']).toBe(1);
    const again = r.stack.takeTxBytes().map((f) => parseTcpOut(parseIpFrame(f)));
    // 3000 bytes from SND.UNA again, none past 576 - 40 = 536 bytes.
    expect(again.map((t) => t.payloadLength)).toEqual([536, 536, 536, 536, 536, 320]);
    expect(again[0].seq).toBe(parseTcpOut(sent[0]).seq);
    expect(s.effMss).toBe(536);
    // A larger or a forged tiny MTU: no change, or the 552 floor.
    r.stack.inputBytes(unreachable(4, sent[0].datagram, 1500), 4);
    expect(s.effMss).toBe(536);
    r.stack.inputBytes(unreachable(4, sent[0].datagram, 100), 5);
    expect(s.effMss).toBe(512);
    r.stack.takeTxBytes();
    finish(r);
  });

  it('believes only an error quoting a sequence number in flight (RFC 5927 4.1)', () => {
    const r = rig({}, 128);
    const { s } = accepted(r);
    s.write(pattern(100, 7), 0, 100, 2);
    const sent = parseIpFrame(one(r));
    const forged = sent.datagram.slice(0, 28);
    forged[24] ^= 0x80; // the quoted sequence number, far from what is in flight
    const d = counted(r, () => r.stack.inputBytes(unreachable(4, forged, 576), 3));
    expect(d).toEqual({ rxFrames: 1, icmpErrorsIn: 1, 'tcp.icmpIgnored': 1 });
    expect(s.effMss).toBe(1460);
    expect(r.stack.txCount).toBe(0);
    finish(r);
  });

  it('port unreachable ends a connection attempt with ECONNREFUSED; later, other codes are soft errors', () => {
    const r = rig();
    let closed: string | null | undefined;
    const c = r.stack.tcpConnect(
      PEER_IP,
      81,
      {
        onClose: (_s, e) => {
          closed = e;
        },
      },
      0,
    );
    const syn = parseIpFrame(one(r));
    r.stack.inputBytes(unreachable(3, syn.datagram), 1);
    expect(closed).toBe('ECONNREFUSED');
    expect(c.state).toBe(TcpState.CLOSED);
    expect(r.stack.tcpStats.icmpHardErrors).toBe(1);
    // An established connection only records it (RFC 1122 4.2.3.9; Linux without IP_RECVERR).
    const { s } = accepted(r);
    s.write(pattern(100, 7), 0, 100, 2);
    const sent = parseIpFrame(one(r));
    r.stack.inputBytes(unreachable(1, sent.datagram), 3);
    expect(s.state).toBe(TcpState.ESTABLISHED);
    expect(s.softError).toBe('EHOSTUNREACH');
    expect(r.stack.tcpStats.icmpSoftErrors).toBe(1);
    finish(r);
  });
});

describe('Stack: receive offload', () => {
  it('an LRO/GRO aggregate counts as its wire segments: 64 KB of 1448-byte segments is ACKed at the burst end', () => {
    const r = rig();
    let received = 0;
    r.stack.tcpListen(80, {
      onConnection(s) {
        s.handlers = {
          onData(_s, _b, _o, l) {
            received += l;
          },
        };
      },
    });
    r.stack.inputBytes(toUs(tcpSegment({ seq: 999, flags: FLG_SYN, options: { mss: 1460 } })), 0);
    const ack = parseTcpOut(parseIpFrame(one(r))).seq + 1;
    r.stack.inputBytes(toUs(tcpSegment({ seq: 1000, ack, flags: FLG_ACK })), 1);
    // What a tap port hands over for 45 coalesced segments: one frame, RX_LRO, gso_size 1448.
    const rx = makePool(4, 'stack-test-lro', 66 * 1024);
    const aggregate = (seq: number) => {
      const m = rx.fromBytes(
        toUs(tcpSegment({ seq, ack, flags: FLG_ACK }, pattern(45 * 1448, seq & 0xff))),
      );
      rx.setOlFlags(m, MbufOlFlag.RX_LRO);
      rx.setTsoSegsz(m, 1448);
      return m;
    };
    let seq = 1000;
    for (let round = 0; round < 2; round++) {
      r.stack.input(aggregate(seq), 2 + round);
      seq += 45 * 1448;
      r.stack.poll(2 + round);
      // The ACK leaves at the end of the burst, not 40 ms later (rcvMss stayed at 1448, so
      // 65 160 bytes are far past two full-sized segments).
      const out = parseTcpOut(parseIpFrame(one(r)));
      expect(out).toMatchObject({ flags: FLG_ACK, ack: seq });
    }
    expect(received).toBe(2 * 45 * 1448);
    expect(rx.mempool.available()).toBe(4);
    finish(r);
  });
});

describe('Stack: options', () => {
  const base = (): StackOptions => ({ pool: makePool(8, 'opts'), mac: OUR_MAC, ip: '10.0.0.1/24' });
  const cases: [string, Partial<StackOptions> | Record<string, unknown>, string | RegExp][] = [
    ['mac', { mac: 'zz' }, 'mac must be a MAC address like 02:00:00:00:00:01, got zz'],
    [
      'mac',
      { mac: '01:00:5e:00:00:01' },
      'mac must be a unicast MAC address like 02:00:00:00:00:01, got 01:00:5e:00:00:01',
    ],
    [
      'mac',
      { mac: 2 ** 48 },
      'mac must be a unicast MAC address like 02:00:00:00:00:01, got 281474976710656',
    ],
    ['mac', { mac: -1 }, 'mac must be a unicast MAC address like 02:00:00:00:00:01, got -1'],
    [
      'ip',
      { ip: '10.0.0.1' },
      'ip must be an IPv4 address with a prefix length, like 10.0.0.2/24, got 10.0.0.1',
    ],
    [
      'ip',
      { ip: '10.0.0.1/33' },
      'ip must be an IPv4 address with a prefix length, like 10.0.0.2/24, got 10.0.0.1/33',
    ],
    [
      'gateway',
      { gateway: '10.0.1.1' },
      'gateway must be an address inside 10.0.0.1/24, got 10.0.1.1',
    ],
    ['gateway', { gateway: 'router' }, 'gateway must be an IPv4 address, got router'],
    ['mtu', { mtu: 575 }, 'mtu must be an integer from 576 to 65535, got 575'],
    ['mtu', { mtu: 1500.5 }, 'mtu must be an integer from 576 to 65535, got 1500.5'],
    [
      'mtu',
      { mtu: 9000 },
      "mtu must be at most 2034: the pool's mbufs hold 2048 bytes of frame; use a pool with a larger dataRoomSize, got 9000",
    ],
    [
      'tsoMaxBytes',
      { tsoMaxBytes: 70000 },
      'tsoMaxBytes must be an integer from 0 (off) to 65000, got 70000',
    ],
    [
      'tsoMaxBytes',
      { tsoMaxBytes: 2000 },
      "tsoMaxBytes must be at most 1954 for this pool's mbufs, got 2000",
    ],
    [
      'tcp',
      { tcp: { bogus: 1 } },
      /^tcp option bogus must be one of sendBuffer, recvBuffer, .*, got 1$/,
    ],
    [
      'tcp',
      { tcp: { sendBuffer: 0 } },
      'sendBuffer must be an integer from 1 to 1073741824, got 0',
    ],
    ['tcp', { tcp: { noDelay: 'yes' } }, 'noDelay must be true or false, got yes'],
    [
      'tcp',
      { tcp: { delayedAckMs: 500 } },
      'delayedAckMs must be below 500 (RFC 9293 3.8.6.3), got 500',
    ],
    ['tcp', { tcp: { rtoMaxMs: 100 } }, 'rtoMaxMs must be a finite number of ms >= 200, got 100'],
    ['arp', { arp: { retries: 0 } }, 'retries must be an integer from 1 to 255, got 0'],
    [
      'maxConnections',
      { maxConnections: 0 },
      'maxConnections must be an integer from 1 to 4194304, got 0',
    ],
    ['txCapacity', { txCapacity: 0 }, 'txCapacity must be an integer >= 1, got 0'],
    ['checksum', { checksum: 'hw' }, "checksum must be 'compute' or 'offload', got hw"],
    [
      'ephemeralPorts',
      { ephemeralPorts: [1000, 2000] },
      'ephemeralPorts must be a range within 1024-65535, got 1000-2000',
    ],
    [
      'rss.queue',
      { rss: { toeplitz: new Toeplitz(), reta: new Reta({ queues: 4 }), queue: 4 } },
      'rss.queue must be a queue of the RETA, 0 to 3, got 4',
    ],
  ];

  it.each(cases)('rejects a bad %s with OptionError naming it and the value', (_n, over, msg) => {
    const make = () => new Stack({ ...base(), ...over } as StackOptions);
    expect(make).toThrow(OptionError);
    expect(make).toThrow(msg);
  });

  it('rejects a missing pool', () => {
    expect(() => new Stack({ mac: OUR_MAC, ip: '10.0.0.1/24' } as StackOptions)).toThrow(
      'pool must be a PktmbufPool for the frames the stack sends, got undefined',
    );
  });

  it('rejects bad per-call TCP options without leaving a connection behind', () => {
    const r = rig();
    expect(() => r.stack.tcpConnect(PEER_IP, 80, {}, 0, { recvBuffer: -1 })).toThrow(
      'recvBuffer must be an integer from 1 to 1073741824, got -1',
    );
    expect(() => r.stack.tcpConnect(PEER_IP, 0, {}, 0)).toThrow(
      'remotePort must be an integer from 1 to 65535, got 0',
    );
    expect(() => r.stack.tcpListen(80, {}, { synBacklog: 0 })).toThrow(
      'synBacklog must be an integer >= 1, got 0',
    );
    expect(() => r.stack.tcpListen(80, {}, { tcp: { mss: 70000 } })).toThrow(
      'mss must be an integer from 0 to 65495, got 70000',
    );
    expect(r.stack.connections.size).toBe(0);
    expect(r.stack.txCount).toBe(0);
    r.stack.tcpListen(80);
    expect(() => r.stack.tcpListen(80)).toThrow(/^EADDRINUSE: port 80 already has a listener/);
    finish(r);
  });
});

describe('Stack: RSS port selection', () => {
  it.each([0, 1, 2, 3])(
    'every connection opened on queue %i gets its replies on that queue',
    (q) => {
      const toeplitz = new Toeplitz();
      const reta = new Reta({ queues: 4 });
      const r = rig({ rss: { toeplitz, reta, queue: q } });
      r.stack.arp.addStatic(HOST3_IP, HOST3_MAC);
      const socks: TcpSocket[] = [];
      for (let i = 0; i < 24; i++) {
        socks.push(r.stack.tcpConnect(i % 2 === 0 ? PEER_IP : HOST3_IP, 80 + (i % 3), {}, 0));
      }
      const ports = new Set<number>();
      for (const s of socks) {
        // The reply travels remote -> local: that is the tuple the NIC hashes.
        const h = toeplitz.hashV4Tuple(s.remoteIp, OUR_IP, s.remotePort, s.localPort);
        expect(reta.queueOf(h)).toBe(q);
        expect(s.hash).toBe(h);
        expect(s.localPort).toBeGreaterThanOrEqual(32768);
        expect(s.localPort).toBeLessThanOrEqual(60999);
        ports.add(s.localPort);
      }
      expect(ports.size).toBe(socks.length);
      // Each SYN leaves from its socket's port.
      const syns = r.stack.takeTxBytes().map((f) => parseTcpOut(parseIpFrame(f)));
      expect(syns.map((t) => t.srcPort)).toEqual(socks.map((s) => s.localPort));
      expect(syns.every((t) => t.flags === FLG_SYN)).toBe(true);
      finish(r);
    },
  );

  it('uses exactly the ports of a narrow range that map to its queue, then says EADDRNOTAVAIL', () => {
    const toeplitz = new Toeplitz();
    const reta = new Reta({ queues: 4 });
    const lo = 40000;
    const hi = 40031;
    const mine: number[] = [];
    for (let p = lo; p <= hi; p++) {
      if (reta.queueOf(toeplitz.hashV4Tuple(PEER_IP, OUR_IP, 443, p)) === 2) mine.push(p);
    }
    expect(mine.length).toBeGreaterThan(0);
    const r = rig({ rss: { toeplitz, reta, queue: 2 }, ephemeralPorts: [lo, hi] });
    const used: number[] = [];
    for (let i = 0; i < mine.length; i++)
      used.push(r.stack.tcpConnect(PEER_IP, 443, {}, 0).localPort);
    expect(used.sort((a, b) => a - b)).toEqual(mine);
    expect(() => r.stack.tcpConnect(PEER_IP, 443, {}, 0)).toThrow(
      'EADDRNOTAVAIL: no free ephemeral port towards 10.0.0.2:443',
    );
    r.stack.takeTxBytes();
    finish(r);
  });
});
