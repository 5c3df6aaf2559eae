import { describe, expect, it } from 'vitest';
import { sum16 } from './checksum.js';
import {
  ICMP_TYPE_DEST_UNREACHABLE,
  ICMP_TYPE_ECHO_REPLY,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_PORT,
  IcmpError,
  type IcmpRepr,
  icmpChecksum,
  icmpEchoIdent,
  icmpEchoRequestToReply,
  icmpEchoSeq,
  icmpEmit,
  icmpLengthOf,
  icmpNextHopMtu,
  icmpParse,
  icmpType,
  icmpVerifyChecksum,
} from './icmp.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('ICMP echo', () => {
  it('emits a request with the hand-computed checksum and parses it back', () => {
    // 0800 + 0001 + 0001 = 0802, so the checksum is ~0802 = f7fd.
    const b = new Uint8Array(8);
    const req: IcmpRepr = { kind: 'echo-request', ident: 1, seq: 1, data: new Uint8Array(0) };
    expect(icmpEmit(req, b, 0)).toBe(8);
    expect(Buffer.from(b).toString('hex')).toBe('0800f7fd00010001');
    expect(icmpParse(b, 0, 8)).toEqual(req);
  });

  it('round-trips data of odd length and verifies the whole message', () => {
    const data = hex('6162636465');
    const req: IcmpRepr = { kind: 'echo-request', ident: 0xbeef, seq: 7, data };
    const b = new Uint8Array(3 + icmpLengthOf(req));
    const len = icmpEmit(req, b, 3);
    expect(len).toBe(13);
    expect(sum16(b, 3, len)).toBe(0xffff);
    expect(icmpEchoIdent(b, 3)).toBe(0xbeef);
    expect(icmpEchoSeq(b, 3)).toBe(7);
    expect(icmpParse(b, 3, len)).toEqual(req);
    b[3 + len - 1] ^= 0x20; // corrupt the last data byte
    expect(icmpVerifyChecksum(b, 3, len)).toBe(false);
    expect(icmpParse(b, 3, len)).toBe(IcmpError.BadChecksum);
    expect(icmpParse(b, 3, 7)).toBe(IcmpError.TooShort);
  });

  it('turns a request into its reply in place with an incremental checksum', () => {
    const req: IcmpRepr = {
      kind: 'echo-request',
      ident: 0x1234,
      seq: 0xffff,
      data: hex('00ff00ff'),
    };
    const b = new Uint8Array(icmpLengthOf(req));
    icmpEmit(req, b, 0);
    icmpEchoRequestToReply(b, 0);
    expect(icmpType(b, 0)).toBe(ICMP_TYPE_ECHO_REPLY);
    expect(icmpVerifyChecksum(b, 0, b.length)).toBe(true);
    const fresh = new Uint8Array(b.length);
    icmpEmit({ ...req, kind: 'echo-reply' }, fresh, 0);
    expect(icmpChecksum(b, 0)).toBe(icmpChecksum(fresh, 0));
  });

  it('a reply that sums to zero (ident, sequence and data all 0) gets 0xffff, not 0x0000', () => {
    // Found by the stack's fast-check echo property: RFC 1624's update gave 0x0000 here.
    const req: IcmpRepr = { kind: 'echo-request', ident: 0, seq: 0, data: new Uint8Array(0) };
    const b = new Uint8Array(icmpLengthOf(req));
    icmpEmit(req, b, 0);
    icmpEchoRequestToReply(b, 0);
    expect(icmpChecksum(b, 0)).toBe(0xffff);
    expect(icmpVerifyChecksum(b, 0, b.length)).toBe(true);
  });
});

describe('ICMP errors', () => {
  // The first 28 bytes of a UDP datagram 10.77.0.1:40000 -> 10.77.0.2:9999 (IP header checksum made up).
  const original = hex('4500 0025 0001 4000 4011 26c6 0a4d0001 0a4d0002  9c40 270f 0011 0000');

  it('destination unreachable (port) quotes the original datagram', () => {
    const m: IcmpRepr = { kind: 'dest-unreachable', code: ICMP_UNREACH_PORT, original };
    const b = new Uint8Array(icmpLengthOf(m));
    expect(icmpEmit(m, b, 0)).toBe(36);
    expect(b[0]).toBe(ICMP_TYPE_DEST_UNREACHABLE);
    expect(b[1]).toBe(3);
    expect(Buffer.from(b.subarray(4, 8)).toString('hex')).toBe('00000000');
    expect(b.subarray(8)).toEqual(original);
    expect(icmpVerifyChecksum(b, 0, b.length)).toBe(true);
    expect(icmpParse(b, 0, b.length)).toEqual({ ...m, nextHopMtu: 0 });
  });

  it('fragmentation needed carries the next-hop MTU (RFC 1191)', () => {
    const m: IcmpRepr = {
      kind: 'dest-unreachable',
      code: ICMP_UNREACH_FRAG_NEEDED,
      nextHopMtu: 1400,
      original,
    };
    const b = new Uint8Array(icmpLengthOf(m));
    icmpEmit(m, b, 0);
    expect(icmpNextHopMtu(b, 0)).toBe(1400);
    expect(icmpParse(b, 0, b.length)).toEqual(m);
  });

  it('time exceeded and other types round-trip', () => {
    const t: IcmpRepr = { kind: 'time-exceeded', code: 0, original };
    const b = new Uint8Array(icmpLengthOf(t));
    icmpEmit(t, b, 0);
    expect(icmpParse(b, 0, b.length)).toEqual(t);
    const o: IcmpRepr = {
      kind: 'other',
      type: 13,
      code: 0,
      restOfHeader: 0x00010002,
      data: hex('00000001'),
    };
    const c = new Uint8Array(icmpLengthOf(o));
    icmpEmit(o, c, 0);
    expect(icmpParse(c, 0, c.length)).toEqual(o);
  });
});
