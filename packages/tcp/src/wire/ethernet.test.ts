import { describe, expect, it } from 'vitest';
import { CAPTURE_PATH, captureFrames } from '../../test/capture.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST, arpParse } from './arp.js';
import { WireError } from './checksum.js';
import {
  ETH_NO_VLAN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  EthernetError,
  ethDst,
  ethernetEmit,
  ethernetParse,
  ethHeaderLen,
  ethRawType,
  ethSrc,
  ethType,
  ethVlanId,
  MAC_BROADCAST,
  macIsMulticast,
  macToString,
  parseMac,
} from './ethernet.js';
import { icmpParse } from './icmp.js';
import {
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  ipv4Check,
  ipv4HeaderLen,
  ipv4Protocol,
  ipv4ToString,
  ipv4TotalLength,
  ipv4VerifyChecksum,
  parseIpv4,
} from './ipv4.js';
import { udpDstPort, udpParse, udpVerifyChecksum } from './udp.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('Ethernet accessors and Repr', () => {
  it('emits an untagged header byte for byte and parses it back', () => {
    const b = new Uint8Array(16);
    const repr = {
      dst: MAC_BROADCAST,
      src: parseMac('02:00:5e:10:00:01'),
      etherType: ETHERTYPE_ARP,
    };
    expect(ethernetEmit(repr, b, 2)).toBe(14);
    expect(Buffer.from(b.subarray(2)).toString('hex')).toBe('ffffffffffff02005e1000010806');
    expect(ethDst(b, 2)).toBe(MAC_BROADCAST);
    expect(macToString(ethSrc(b, 2))).toBe('02:00:5e:10:00:01');
    expect(ethType(b, 2)).toBe(ETHERTYPE_ARP);
    expect(ethVlanId(b, 2)).toBe(ETH_NO_VLAN);
    expect(ethHeaderLen(b, 2)).toBe(14);
    expect(ethernetParse(b, 2, 14)).toEqual(repr);
    expect(ethernetParse(b, 2, 13)).toBe(EthernetError.TooShort);
  });

  it('sees through one 802.1Q tag', () => {
    const b = new Uint8Array(18);
    const repr = {
      dst: 0x0a0b0c0d0e0f,
      src: 0x020000000001,
      etherType: ETHERTYPE_IPV4,
      vlanId: 100,
      pcp: 5,
    };
    expect(ethernetEmit(repr, b, 0)).toBe(18);
    expect(Buffer.from(b.subarray(12)).toString('hex')).toBe('8100a0640800');
    expect(ethRawType(b, 0)).toBe(0x8100);
    expect(ethType(b, 0)).toBe(ETHERTYPE_IPV4);
    expect(ethVlanId(b, 0)).toBe(100);
    expect(ethHeaderLen(b, 0)).toBe(18);
    expect(ethernetParse(b, 0, 18)).toEqual(repr);
    expect(ethernetParse(b, 0, 17)).toBe(EthernetError.TooShort);
  });

  it('handles MAC addresses as 48-bit integers', () => {
    expect(parseMac('ff-ff-ff-ff-ff-ff')).toBe(MAC_BROADCAST);
    expect(macIsMulticast(MAC_BROADCAST)).toBe(true);
    expect(macIsMulticast(parseMac('01:00:5e:00:00:01'))).toBe(true);
    expect(macIsMulticast(parseMac('02:00:00:00:00:01'))).toBe(false);
    expect(macToString(1)).toBe('00:00:00:00:00:01');
    expect(() => parseMac('02:00:00:00:00')).toThrow(WireError);
    expect(() =>
      ethernetEmit({ dst: 2 ** 48, src: 0, etherType: 0 }, new Uint8Array(14), 0),
    ).toThrow(/dst must be an integer/);
    expect(() =>
      ethernetEmit({ dst: 0, src: 0, etherType: 0, vlanId: 4096 }, new Uint8Array(18), 0),
    ).toThrow(WireError);
  });

  it('reads a real frame header', () => {
    const b = hex('02 00 00 00 00 02  02 00 00 00 00 01  08 00 45');
    expect(ethDst(b, 0)).toBe(0x020000000002);
    expect(ethType(b, 0)).toBe(ETHERTYPE_IPV4);
  });
});

const CAPTURE = CAPTURE_PATH;
if (!CAPTURE)
  console.log('skipping capture test: shared/data/linux-veth-http.pcap not found above src/wire');

describe.skipIf(!CAPTURE)('linux-veth-http.pcap, dissected layer by layer', () => {
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
