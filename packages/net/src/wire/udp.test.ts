import { describe, expect, it } from 'vitest';
import { WireError } from './checksum.js';
import { IP_PROTO_UDP, ipv4Emit } from './ipv4.js';
import {
  UDP_CHECKSUM,
  UdpError,
  udpCheck,
  udpChecksum,
  udpDstPort,
  udpEmit,
  udpFillChecksum,
  udpLength,
  udpParse,
  udpSrcPort,
  udpVerifyChecksum,
} from './udp.js';

/** An IPv4 header 10.0.0.1 -> 10.0.0.2 at 0 and room for a UDP datagram of `udpLen` bytes at 20. */
function datagram(udpLen: number): Uint8Array {
  const b = new Uint8Array(20 + udpLen);
  ipv4Emit(
    { src: 0x0a000001, dst: 0x0a000002, protocol: IP_PROTO_UDP, payloadLength: udpLen, ttl: 64 },
    b,
    0,
  );
  return b;
}

describe('UDP', () => {
  it('empty datagram: the hand-computed checksum', () => {
    // pseudo 0a00+0001+0a00+0002+0011+0008 = 141c; header 0001+0002+0008 = 000b; ~1427 = ebd8.
    const b = datagram(8);
    expect(udpEmit({ srcPort: 1, dstPort: 2, payload: new Uint8Array(0) }, b, 20, 0)).toBe(8);
    expect(Buffer.from(b.subarray(20)).toString('hex')).toBe('000100020008ebd8');
    expect(udpVerifyChecksum(b, 0, 20)).toBe(true);
  });

  it('emits and parses back with an odd payload; a corrupt byte fails verification', () => {
    const payload = Buffer.from('hello udp\n');
    const b = datagram(8 + payload.length);
    udpEmit({ srcPort: 40000, dstPort: 9999, payload }, b, 20, 0);
    expect(udpSrcPort(b, 20)).toBe(40000);
    expect(udpDstPort(b, 20)).toBe(9999);
    expect(udpLength(b, 20)).toBe(18);
    expect(udpParse(b, 20, b.length - 20, 0)).toEqual({
      srcPort: 40000,
      dstPort: 9999,
      payload: new Uint8Array(payload),
    });
    b[b.length - 1] ^= 1;
    expect(udpVerifyChecksum(b, 0, 20)).toBe(false);
    expect(udpParse(b, 20, b.length - 20, 0)).toBe(UdpError.BadChecksum);
    expect(udpParse(b, 20, b.length - 20)).not.toBeTypeOf('number'); // no ipOff: not verified
    b[19] ^= 1; // corrupting the pseudo-header (destination address) fails it too
    b[b.length - 1] ^= 1;
    expect(udpVerifyChecksum(b, 0, 20)).toBe(false);
  });

  it('a zero checksum field means none (RFC 768); a computed zero is sent as ffff', () => {
    const b = datagram(8);
    udpEmit({ srcPort: 1, dstPort: 2, payload: new Uint8Array(0) }, b, 20);
    expect(udpChecksum(b, 20)).toBe(0);
    expect(udpVerifyChecksum(b, 0, 20)).toBe(true);
    // A source port that makes the sum ffff: 141c + sport + 0002 + 0008 = ffff gives ebd9.
    const c = datagram(8);
    udpEmit({ srcPort: 0xebd9, dstPort: 2, payload: new Uint8Array(0) }, c, 20, 0);
    expect(udpChecksum(c, 20)).toBe(0xffff);
    expect(udpVerifyChecksum(c, 0, 20)).toBe(true);
    c[20 + UDP_CHECKSUM] = 0x12;
    udpFillChecksum(c, 0, 20);
    expect(udpChecksum(c, 20)).toBe(0xffff);
  });

  it('checks lengths', () => {
    const b = datagram(12);
    udpEmit({ srcPort: 1, dstPort: 2, payload: new Uint8Array(4) }, b, 20, 0);
    expect(udpCheck(b, 20, 7)).toBe(UdpError.TooShort);
    expect(udpCheck(b, 20, 11)).toBe(UdpError.BadLength);
    expect(udpCheck(b, 20, 12, 0)).toBe(0);
    expect(udpCheck(b, 20, 16, 0)).toBe(0); // trailing bytes beyond the UDP length are allowed
    b[25] = 7;
    expect(udpCheck(b, 20, 12)).toBe(UdpError.BadLength);
    expect(() =>
      udpEmit({ srcPort: 65536, dstPort: 0, payload: new Uint8Array(0) }, b, 20),
    ).toThrow(WireError);
  });
});
