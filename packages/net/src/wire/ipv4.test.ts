import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipv4ToString, parseIpv4 } from '../address.js';
import { sum16, WireError } from './checksum.js';
import {
  IP_PROTO_UDP,
  IPV4_CHECKSUM,
  Ipv4Error,
  ipv4Check,
  ipv4Checksum,
  ipv4DecrementTtl,
  ipv4Df,
  ipv4Dst,
  ipv4Emit,
  ipv4ErrorName,
  ipv4FillChecksum,
  ipv4FragOffset,
  ipv4HasSourceRoute,
  ipv4HeaderLen,
  ipv4Ident,
  ipv4IsFragment,
  ipv4Mf,
  ipv4Parse,
  ipv4Protocol,
  ipv4Src,
  ipv4TotalLength,
  ipv4Ttl,
  ipv4VerifyChecksum,
  setIpv4Fragment,
  setIpv4TotalLength,
} from './ipv4.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
// The classic example (Wikipedia, "IPv4 header checksum"): 192.168.0.1 -> 192.168.0.199, UDP.
const CLASSIC = '4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7';

describe('IPv4 accessors', () => {
  it('read the classic header', () => {
    const b = hex(CLASSIC);
    expect(ipv4HeaderLen(b, 0)).toBe(20);
    expect(ipv4TotalLength(b, 0)).toBe(0x73);
    expect(ipv4Ident(b, 0)).toBe(0);
    expect(ipv4Df(b, 0)).toBe(true);
    expect(ipv4Mf(b, 0)).toBe(false);
    expect(ipv4FragOffset(b, 0)).toBe(0);
    expect(ipv4IsFragment(b, 0)).toBe(false);
    expect(ipv4Ttl(b, 0)).toBe(0x40);
    expect(ipv4Protocol(b, 0)).toBe(IP_PROTO_UDP);
    expect(ipv4Checksum(b, 0)).toBe(0xb861);
    expect(ipv4ToString(ipv4Src(b, 0))).toBe('192.168.0.1');
    expect(ipv4ToString(ipv4Dst(b, 0))).toBe('192.168.0.199');
    expect(ipv4VerifyChecksum(b, 0)).toBe(true);
  });

  it('fill the classic checksum 0xb861 at an offset', () => {
    const b = new Uint8Array(3 + 20);
    b.set(hex(CLASSIC), 3);
    b[3 + IPV4_CHECKSUM] = 0xaa;
    b[3 + IPV4_CHECKSUM + 1] = 0x55;
    expect(ipv4VerifyChecksum(b, 3)).toBe(false);
    ipv4FillChecksum(b, 3);
    expect(ipv4Checksum(b, 3)).toBe(0xb861);
    expect(sum16(b, 3, 20)).toBe(0xffff);
  });

  it('fragment fields: offset in bytes, MF, DF', () => {
    const b = hex(CLASSIC);
    setIpv4Fragment(b, 0, false, true, 1480);
    expect(ipv4Mf(b, 0)).toBe(true);
    expect(ipv4Df(b, 0)).toBe(false);
    expect(ipv4FragOffset(b, 0)).toBe(1480);
    expect(ipv4IsFragment(b, 0)).toBe(true);
    expect(b[6]).toBe(0x20);
    expect(b[7]).toBe(1480 / 8);
    setIpv4Fragment(b, 0, false, false, 8);
    expect(ipv4IsFragment(b, 0)).toBe(true);
  });

  it('decrement the TTL with an incremental checksum update', () => {
    const b = hex(CLASSIC);
    for (let i = 0; i < 0x3f; i++) {
      ipv4DecrementTtl(b, 0);
      expect(ipv4VerifyChecksum(b, 0)).toBe(true);
    }
    expect(ipv4Ttl(b, 0)).toBe(1);
  });
});

describe('ipv4Check', () => {
  const frame = () => {
    const b = new Uint8Array(0x73);
    b.set(hex(CLASSIC));
    return b;
  };

  it('accepts the classic datagram, with Ethernet padding beyond the total length', () => {
    expect(ipv4Check(frame(), 0, 0x73)).toBe(0);
    const padded = new Uint8Array(0x80);
    padded.set(frame());
    expect(ipv4Check(padded, 0, 0x80)).toBe(0);
  });

  it('gives a reason for each fault', () => {
    expect(ipv4Check(frame(), 0, 19)).toBe(Ipv4Error.TooShort);
    let b = frame();
    b[0] = 0x65;
    expect(ipv4Check(b, 0, b.length)).toBe(Ipv4Error.BadVersion);
    b = frame();
    b[0] = 0x44;
    expect(ipv4Check(b, 0, b.length)).toBe(Ipv4Error.BadIhl);
    b = frame();
    b[0] = 0x4f; // 60-byte header in a 40-byte buffer
    expect(ipv4Check(b, 0, 40)).toBe(Ipv4Error.TooShort);
    b = frame();
    expect(ipv4Check(b, 0, 0x72)).toBe(Ipv4Error.BadTotalLength);
    setIpv4TotalLength(b, 0, 19);
    expect(ipv4Check(b, 0, b.length, false)).toBe(Ipv4Error.BadTotalLength);
    b = frame();
    b[15] ^= 0x01; // corrupt a byte of the source address
    expect(ipv4Check(b, 0, b.length)).toBe(Ipv4Error.BadChecksum);
    expect(ipv4Check(b, 0, b.length, false)).toBe(0);
    expect(ipv4ErrorName(Ipv4Error.BadChecksum)).toBe('bad header checksum');
  });

  it('checks the options as type-length-value: length 0 or 1, or one running past the header, is bad', () => {
    // A 24-byte header: 20 + 4 bytes of options, with room in the datagram.
    const withOptions = (opts: number[]) => {
      const b = new Uint8Array(64);
      ipv4Emit(
        {
          src: 0x0a000001,
          dst: 0x0a000002,
          protocol: 17,
          payloadLength: 40 - opts.length,
          ttl: 64,
          options: Uint8Array.from(opts),
        },
        b,
        0,
      );
      return b;
    };
    expect(ipv4Check(withOptions([1, 1, 1, 0]), 0, 64)).toBe(0); // NOPs, End of List
    expect(ipv4Check(withOptions([0, 0xff, 0xff, 0xff]), 0, 64)).toBe(0); // after EOL: ignored
    expect(ipv4Check(withOptions([130, 4, 0, 0]), 0, 64)).toBe(0);
    expect(ipv4Check(withOptions([130, 0, 0, 0]), 0, 64)).toBe(Ipv4Error.BadOptions);
    expect(ipv4Check(withOptions([130, 1, 0, 0]), 0, 64)).toBe(Ipv4Error.BadOptions);
    expect(ipv4Check(withOptions([131, 255, 0, 0]), 0, 64)).toBe(Ipv4Error.BadOptions); // LSRR 255
    expect(ipv4Check(withOptions([1, 1, 1, 7]), 0, 64)).toBe(Ipv4Error.BadOptions); // no length byte
    expect(ipv4ErrorName(Ipv4Error.BadOptions)).toBe('bad options');
    expect(ipv4HasSourceRoute(withOptions([1, 131, 3, 0]), 0)).toBe(true);
    expect(ipv4HasSourceRoute(withOptions([137, 3, 0, 0]), 0)).toBe(true);
    expect(ipv4HasSourceRoute(withOptions([130, 4, 0, 0]), 0)).toBe(false);
    expect(ipv4HasSourceRoute(frame(), 0)).toBe(false);
  });
});

describe('Ipv4Repr', () => {
  it('emits the classic header byte for byte, and parses it back', () => {
    const b = new Uint8Array(0x73);
    const repr = {
      src: parseIpv4('192.168.0.1'),
      dst: parseIpv4('192.168.0.199'),
      protocol: IP_PROTO_UDP,
      payloadLength: 0x73 - 20,
      ttl: 64,
      dontFragment: true,
    };
    expect(ipv4Emit(repr, b, 0)).toBe(20);
    expect(Buffer.from(b.subarray(0, 20)).toString('hex')).toBe(CLASSIC.replace(/ /g, ''));
    expect(ipv4Parse(b, 0, b.length)).toEqual({
      ...repr,
      dscp: 0,
      ecn: 0,
      ident: 0,
      moreFragments: false,
      fragOffset: 0,
    });
  });

  it('skips options by IHL and round-trips them', () => {
    const options = hex('94040000'); // Router Alert (RFC 2113)
    const b = new Uint8Array(2 + 24 + 4);
    const repr = {
      src: 0x0a4d0001,
      dst: 0x0a4d0002,
      protocol: 2,
      payloadLength: 4,
      ttl: 1,
      ident: 0x1234,
      dscp: 46,
      ecn: 2,
      dontFragment: false,
      moreFragments: true,
      fragOffset: 64,
      options,
    };
    expect(ipv4Emit(repr, b, 2)).toBe(24);
    expect(b[2]).toBe(0x46);
    expect(ipv4HeaderLen(b, 2)).toBe(24);
    expect(ipv4VerifyChecksum(b, 2)).toBe(true);
    expect(ipv4Parse(b, 2, 28)).toEqual(repr);
  });

  it('refuses bad fields with WireError', () => {
    const b = new Uint8Array(20);
    const base = { src: 1, dst: 2, protocol: 6, payloadLength: 0, ttl: 64 };
    expect(() => ipv4Emit({ ...base, ttl: 256 }, b, 0)).toThrow(WireError);
    expect(() => ipv4Emit({ ...base, fragOffset: 4 }, b, 0)).toThrow(/multiple of 8/);
    expect(() => ipv4Emit({ ...base, options: new Uint8Array(3) }, b, 0)).toThrow(WireError);
    expect(() => ipv4Emit(base, b, 1)).toThrow(/needs 20 bytes/);
  });

  it('parses and prints dotted quads', () => {
    expect(parseIpv4('10.77.0.1')).toBe(0x0a4d0001);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(ipv4ToString(0xffffffff)).toBe('255.255.255.255');
    expect(() => parseIpv4('10.77.0.256')).toThrow(WireError);
    expect(() => parseIpv4('10.77.0')).toThrow(WireError);
  });
});

describe('ipv4VerifyChecksum', () => {
  it('agrees with the RFC 1071 sum over the header for any 20-byte header, and with options (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 60, maxLength: 60 }),
        fc.integer({ min: 5, max: 15 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 }),
        (bytes, ihl, fill, at) => {
          const b = new Uint8Array(64);
          b.set(bytes, at);
          b[at] = 0x40 | ihl;
          if (fill) ipv4FillChecksum(b, at);
          expect(ipv4VerifyChecksum(b, at)).toBe(sum16(b, at, ihl * 4) === 0xffff);
          if (fill) expect(ipv4VerifyChecksum(b, at)).toBe(true);
        },
      ),
    );
  });

  it('accepts a header with its exact checksum and refuses it one bit off', () => {
    const b = new Uint8Array(20);
    b[0] = 0x45;
    b[10] = 0xba; // 0x4500 + 0xbaff = 0xffff
    b[11] = 0xff;
    expect(ipv4VerifyChecksum(b, 0)).toBe(true);
    b[11] = 0xfe;
    expect(ipv4VerifyChecksum(b, 0)).toBe(false);
  });
});
