import {
  RSS_SYMMETRIC_KEY,
  RSS_VERIFICATION_IPV4,
  RSS_VERIFICATION_IPV6,
  type RssVector,
  Toeplitz,
  toeplitzHash,
} from '@bypass/net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RSS_HF_SUPPORTED, RSS_NOT_HASHED, RssHf, rssHashFrame } from './flow.js';

const TCP = 6;
const UDP = 17;
const SCTP = 132;
const ICMP = 1;
const V6_HOP_BY_HOP = 0;
const V6_FRAGMENT = 44;
const ALL = RSS_HF_SUPPORTED;

interface FrameSpec {
  src: Uint8Array;
  dst: Uint8Array;
  proto: number;
  sport?: number;
  dport?: number;
  /** Insert an 802.1Q tag with this VLAN id. */
  vlan?: number;
  /** IPv4 option bytes (a multiple of 4). */
  options?: number;
  /** IPv4 flags and fragment offset word (MF = 0x2000, DF = 0x4000). */
  fragWord?: number;
  /** Bytes of L4 header present (default 20). */
  l4Len?: number;
}

/**
 * A real Ethernet frame around a flow, placed at an odd offset in a larger buffer with junk
 * on both sides, so the parser must honour `offset` and `length`.
 */
function frame(spec: FrameSpec): { buf: Uint8Array; offset: number; length: number } {
  const v6 = spec.src.length === 16;
  const vlanLen = spec.vlan === undefined ? 0 : 4;
  const ipLen = v6 ? 40 : 20 + (spec.options ?? 0);
  const l4Len = spec.l4Len ?? 20;
  const length = 14 + vlanLen + ipLen + l4Len;
  const offset = 3;
  const buf = new Uint8Array(offset + length + 16).fill(0xa5);
  const f = buf.subarray(offset, offset + length);
  f.fill(0);
  f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2], 0);
  let p = 12;
  if (spec.vlan !== undefined) {
    f.set([0x81, 0x00, (spec.vlan >>> 8) & 0x0f, spec.vlan & 0xff], p);
    p += 4;
  }
  f.set(v6 ? [0x86, 0xdd] : [0x08, 0x00], p);
  const ip = p + 2;
  if (v6) {
    f[ip] = 0x60;
    f[ip + 4] = 0;
    f[ip + 5] = l4Len;
    f[ip + 6] = spec.proto;
    f[ip + 7] = 64;
    f.set(spec.src, ip + 8);
    f.set(spec.dst, ip + 24);
  } else {
    f[ip] = 0x40 | (ipLen >>> 2);
    f[ip + 2] = (ipLen + l4Len) >>> 8;
    f[ip + 3] = (ipLen + l4Len) & 0xff;
    f[ip + 6] = (spec.fragWord ?? 0) >>> 8;
    f[ip + 7] = (spec.fragWord ?? 0) & 0xff;
    f[ip + 8] = 64;
    f[ip + 9] = spec.proto;
    f.set(spec.src, ip + 12);
    f.set(spec.dst, ip + 16);
    for (let i = 0; i < (spec.options ?? 0); i++) f[ip + 20 + i] = 1; // NOP options
  }
  const l4 = ip + ipLen;
  const sport = spec.sport ?? 0;
  const dport = spec.dport ?? 0;
  const ports = [sport >>> 8, sport & 0xff, dport >>> 8, dport & 0xff];
  f.set(ports.slice(0, Math.min(4, l4Len)), l4);
  return { buf, offset, length };
}

const toeplitz = new Toeplitz();
const hash = (spec: FrameSpec, rssHf: number, t = toeplitz) => {
  const fr = frame(spec);
  return rssHashFrame(t, fr.buf, fr.offset, fr.length, rssHf);
};
const flow = (v: RssVector, proto = TCP): FrameSpec => ({
  src: v.srcBytes,
  dst: v.dstBytes,
  sport: v.sport,
  dport: v.dport,
  proto,
});

describe('RssHf', () => {
  it('has DPDK’s bit positions (rte_ethdev.h RTE_ETH_RSS_*)', () => {
    expect(RssHf.IPV4).toBe(1 << 2);
    expect(RssHf.NONFRAG_IPV4_TCP).toBe(1 << 4);
    expect(RssHf.NONFRAG_IPV4_UDP).toBe(1 << 5);
    expect(RssHf.IPV6).toBe(1 << 8);
    expect(RssHf.NONFRAG_IPV6_TCP).toBe(1 << 10);
    expect(RssHf.NONFRAG_IPV6_UDP).toBe(1 << 11);
    expect(RssHf.IPV6_EX).toBe(1 << 15);
    expect(RssHf.PORT).toBe(1 << 18);
    expect(RssHf.PPPOE).toBe(0x80000000);
    // The composites, as DPDK 16.04+ defines them (ETH_RSS_IP = 41868 etc.).
    expect(RssHf.IP).toBe(41868);
    expect(RssHf.TCP).toBe(66576);
    expect(RssHf.UDP).toBe(133152);
    expect(RssHf.SCTP).toBe(4160);
  });
});

describe('rssHashFrame on the published vectors, in real frames', () => {
  it.each(RSS_VERIFICATION_IPV4)('IPv4 $src:$sport -> $dst:$dport', (v) => {
    expect(hash(flow(v, TCP), ALL)).toBe(v.hash4);
    expect(hash(flow(v, UDP), ALL)).toBe(v.hash4);
    expect(hash(flow(v, SCTP), ALL)).toBe(v.hash4);
    expect(hash(flow(v, TCP), RssHf.IPV4)).toBe(v.hash2);
    expect(hash(flow(v, ICMP), ALL)).toBe(v.hash2);
    expect(hash(flow(v, TCP), RssHf.NONFRAG_IPV4_TCP)).toBe(v.hash4);
    expect(hash(flow(v, UDP), RssHf.IPV4 | RssHf.NONFRAG_IPV4_TCP)).toBe(v.hash2);
  });

  it.each(RSS_VERIFICATION_IPV6)('IPv6 [$src]:$sport -> [$dst]:$dport', (v) => {
    expect(hash(flow(v, TCP), ALL)).toBe(v.hash4);
    expect(hash(flow(v, UDP), ALL)).toBe(v.hash4);
    expect(hash(flow(v, SCTP), ALL)).toBe(v.hash4);
    expect(hash(flow(v, TCP), RssHf.IPV6)).toBe(v.hash2);
    expect(hash(flow(v, 58), ALL)).toBe(v.hash2); // ICMPv6
    expect(hash(flow(v, UDP), RssHf.NONFRAG_IPV6_UDP)).toBe(v.hash4);
    expect(hash(flow(v, TCP), RssHf.IPV6 | RssHf.NONFRAG_IPV6_UDP)).toBe(v.hash2);
  });

  it('skips IPv4 options by IHL', () => {
    for (const v of RSS_VERIFICATION_IPV4) {
      expect(hash({ ...flow(v), options: 4 }, ALL)).toBe(v.hash4);
      expect(hash({ ...flow(v), options: 40 }, ALL)).toBe(v.hash4);
    }
  });
});

describe('VLAN', () => {
  it('a single 802.1Q tag does not change the hash (property, IPv4 and IPv6)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(4), fc.constant(16)),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom(TCP, UDP, ICMP),
        fc.integer({ min: 0, max: 4095 }),
        (len, addrs, sport, dport, proto, vlan) => {
          const spec = {
            src: addrs.subarray(0, len),
            dst: addrs.subarray(16, 16 + len),
            sport,
            dport,
            proto,
          };
          const plain = hash(spec, ALL);
          expect(plain).not.toBe(RSS_NOT_HASHED);
          expect(hash({ ...spec, vlan }, ALL)).toBe(plain);
        },
      ),
    );
  });

  it('hashes the published vectors behind a tag', () => {
    for (const v of [...RSS_VERIFICATION_IPV4, ...RSS_VERIFICATION_IPV6]) {
      expect(hash({ ...flow(v), vlan: 100 }, ALL)).toBe(v.hash4);
      expect(hash({ ...flow(v), vlan: 100 }, RssHf.IP)).toBe(v.hash2);
    }
  });
});

describe('fragments hash on the 2-tuple', () => {
  it.each(RSS_VERIFICATION_IPV4)('IPv4 $src -> $dst', (v) => {
    const more = 0x2000;
    expect(hash({ ...flow(v), fragWord: more }, ALL)).toBe(v.hash2); // first fragment
    expect(hash({ ...flow(v), fragWord: 185 }, ALL)).toBe(v.hash2); // a later one
    expect(hash({ ...flow(v), fragWord: more | 185 }, ALL)).toBe(v.hash2);
    expect(hash({ ...flow(v), fragWord: more }, RssHf.FRAG_IPV4)).toBe(v.hash2);
    expect(hash({ ...flow(v), fragWord: more }, RssHf.NONFRAG_IPV4_TCP)).toBe(RSS_NOT_HASHED);
    // DF alone is a whole datagram.
    expect(hash({ ...flow(v), fragWord: 0x4000 }, ALL)).toBe(v.hash4);
  });

  it.each(RSS_VERIFICATION_IPV6)('IPv6 [$src] -> [$dst] (Fragment header)', (v) => {
    expect(hash(flow(v, V6_FRAGMENT), ALL)).toBe(v.hash2);
    expect(hash(flow(v, V6_FRAGMENT), RssHf.FRAG_IPV6)).toBe(v.hash2);
    expect(hash(flow(v, V6_FRAGMENT), RssHf.TCP)).toBe(RSS_NOT_HASHED);
  });
});

describe('rss_hf selects what is hashed', () => {
  const v4 = RSS_VERIFICATION_IPV4[1];
  const v6 = RSS_VERIFICATION_IPV6[1];

  it('a type that no flag enables is not hashed', () => {
    expect(hash(flow(v4, TCP), RssHf.NONFRAG_IPV4_UDP)).toBe(RSS_NOT_HASHED);
    expect(hash(flow(v4, TCP), RssHf.IPV6 | (RssHf.TCP & ~RssHf.NONFRAG_IPV4_TCP))).toBe(
      RSS_NOT_HASHED,
    );
    expect(hash(flow(v4, ICMP), RssHf.TCP | RssHf.UDP)).toBe(RSS_NOT_HASHED);
    expect(hash(flow(v6, TCP), RssHf.IPV4 | RssHf.NONFRAG_IPV4_TCP)).toBe(RSS_NOT_HASHED);
    expect(hash(flow(v4, TCP), 0)).toBe(RSS_NOT_HASHED);
  });

  it('each protocol’s own flag gives the 4-tuple, and only that protocol', () => {
    expect(hash(flow(v4, SCTP), RssHf.NONFRAG_IPV4_SCTP)).toBe(v4.hash4);
    expect(hash(flow(v4, SCTP), RssHf.NONFRAG_IPV4_TCP)).toBe(RSS_NOT_HASHED);
    expect(hash(flow(v4, UDP), RssHf.NONFRAG_IPV4_UDP)).toBe(v4.hash4);
    expect(hash(flow(v6, SCTP), RssHf.NONFRAG_IPV6_SCTP)).toBe(v6.hash4);
    expect(hash(flow(v6, TCP), RssHf.NONFRAG_IPV6_TCP)).toBe(v6.hash4);
    expect(hash(flow(v6, UDP), RssHf.NONFRAG_IPV6_TCP)).toBe(RSS_NOT_HASHED);
    // Without extension headers to walk, IPV6_TCP_EX / IPV6_UDP_EX cover plain TCP / UDP.
    expect(hash(flow(v6, TCP), RssHf.IPV6_TCP_EX)).toBe(v6.hash4);
    expect(hash(flow(v6, UDP), RssHf.IPV6_UDP_EX)).toBe(v6.hash4);
  });

  it('flags outside RSS_HF_SUPPORTED change nothing', () => {
    const others = ~RSS_HF_SUPPORTED >>> 0;
    expect(others & RssHf.PORT).toBe(RssHf.PORT);
    expect(hash(flow(v4, TCP), others)).toBe(RSS_NOT_HASHED);
    expect(hash(flow(v6, UDP), others)).toBe(RSS_NOT_HASHED);
    expect(hash(flow(v4, TCP), others | RssHf.TCP)).toBe(v4.hash4);
  });

  it('NONFRAG_*_OTHER hashes other protocols on the addresses', () => {
    expect(hash(flow(v4, ICMP), RssHf.NONFRAG_IPV4_OTHER)).toBe(v4.hash2);
    expect(hash(flow(v4, TCP), RssHf.NONFRAG_IPV4_OTHER)).toBe(RSS_NOT_HASHED);
    expect(hash(flow(v6, 58), RssHf.NONFRAG_IPV6_OTHER)).toBe(v6.hash2);
  });

  it('an IPv6 extension header first means the 2-tuple under IPV6 or IPV6_EX', () => {
    expect(hash(flow(v6, V6_HOP_BY_HOP), RssHf.IPV6_EX)).toBe(v6.hash2);
    expect(hash(flow(v6, V6_HOP_BY_HOP), RssHf.IPV6)).toBe(v6.hash2);
    expect(hash(flow(v6, V6_HOP_BY_HOP), RssHf.TCP)).toBe(RSS_NOT_HASHED);
  });
});

describe('frames that are not hashed', () => {
  const v = RSS_VERIFICATION_IPV4[0];

  it('non-IP frames (ARP) return RSS_NOT_HASHED', () => {
    const fr = frame(flow(v));
    fr.buf[fr.offset + 12] = 0x08;
    fr.buf[fr.offset + 13] = 0x06;
    expect(rssHashFrame(toeplitz, fr.buf, fr.offset, fr.length, ALL)).toBe(RSS_NOT_HASHED);
  });

  it('frames too short for their headers return RSS_NOT_HASHED', () => {
    const fr = frame(flow(v));
    for (const length of [0, 13, 14, 14 + 19]) {
      expect(rssHashFrame(toeplitz, fr.buf, fr.offset, length, ALL)).toBe(RSS_NOT_HASHED);
    }
    const tagged = frame({ ...flow(v), vlan: 7 });
    expect(rssHashFrame(toeplitz, tagged.buf, tagged.offset, 17, ALL)).toBe(RSS_NOT_HASHED);
    const six = frame(flow(RSS_VERIFICATION_IPV6[0]));
    expect(rssHashFrame(toeplitz, six.buf, six.offset, 14 + 39, ALL)).toBe(RSS_NOT_HASHED);
    const opts = frame({ ...flow(v), options: 8 });
    expect(rssHashFrame(toeplitz, opts.buf, opts.offset, 14 + 27, ALL)).toBe(RSS_NOT_HASHED);
  });

  it('a bad IP version or an IHL under 5 returns RSS_NOT_HASHED', () => {
    const fr = frame(flow(v));
    fr.buf[fr.offset + 14] = 0x65;
    expect(rssHashFrame(toeplitz, fr.buf, fr.offset, fr.length, ALL)).toBe(RSS_NOT_HASHED);
    fr.buf[fr.offset + 14] = 0x44;
    expect(rssHashFrame(toeplitz, fr.buf, fr.offset, fr.length, ALL)).toBe(RSS_NOT_HASHED);
  });

  it('a TCP header cut short by the frame’s end falls back to the 2-tuple', () => {
    expect(hash({ ...flow(v), l4Len: 3 }, ALL)).toBe(v.hash2);
    expect(hash({ ...flow(v), l4Len: 4 }, ALL)).toBe(v.hash4);
    expect(hash({ ...flow(v), l4Len: 3 }, RssHf.TCP)).toBe(RSS_NOT_HASHED);
  });
});

describe('with the symmetric key', () => {
  it('both directions of a frame’s flow hash alike, and as the definition says', () => {
    const sym = new Toeplitz(RSS_SYMMETRIC_KEY);
    for (const v of [...RSS_VERIFICATION_IPV4, ...RSS_VERIFICATION_IPV6]) {
      const there = hash(flow(v), ALL, sym);
      const back = hash(
        { src: v.dstBytes, dst: v.srcBytes, sport: v.dport, dport: v.sport, proto: TCP },
        ALL,
        sym,
      );
      expect(back).toBe(there);
      const input = new Uint8Array([
        ...v.srcBytes,
        ...v.dstBytes,
        v.sport >>> 8,
        v.sport & 255,
        v.dport >>> 8,
        v.dport & 255,
      ]);
      expect(there).toBe(toeplitzHash(RSS_SYMMETRIC_KEY, input));
    }
  });
});
