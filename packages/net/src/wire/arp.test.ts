import { describe, expect, it } from 'vitest';
import { parseIpv4, parseMac } from '../address.js';
import {
  ARP_LEN,
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ArpError,
  arpCheck,
  arpEmit,
  arpOper,
  arpParse,
  arpSha,
  arpSpa,
  arpTpa,
  setArpOper,
} from './arp.js';
import { WireError } from './checksum.js';

// who-has 10.77.0.2 tell 10.77.0.1, from 02:00:00:00:00:01 (RFC 826 layout).
const REQUEST = '0001 0800 06 04 0001 020000000001 0a4d0001 000000000000 0a4d0002';

describe('ARP', () => {
  const repr = {
    operation: ARP_OP_REQUEST,
    senderHw: parseMac('02:00:00:00:00:01'),
    senderIp: parseIpv4('10.77.0.1'),
    targetHw: 0,
    targetIp: parseIpv4('10.77.0.2'),
  };

  it('emits a request byte for byte and parses it back', () => {
    const b = new Uint8Array(1 + ARP_LEN);
    expect(arpEmit(repr, b, 1)).toBe(28);
    expect(Buffer.from(b.subarray(1)).toString('hex')).toBe(REQUEST.replace(/ /g, ''));
    expect(arpOper(b, 1)).toBe(ARP_OP_REQUEST);
    expect(arpSha(b, 1)).toBe(0x020000000001);
    expect(arpSpa(b, 1)).toBe(0x0a4d0001);
    expect(arpTpa(b, 1)).toBe(0x0a4d0002);
    expect(arpParse(b, 1, 28)).toEqual(repr);
    setArpOper(b, 1, ARP_OP_REPLY);
    expect(arpParse(b, 1, 28)).toEqual({ ...repr, operation: ARP_OP_REPLY });
  });

  it('refuses short, non-Ethernet/IPv4 and unknown-operation packets', () => {
    const b = new Uint8Array(ARP_LEN);
    arpEmit(repr, b, 0);
    expect(arpCheck(b, 0, 27)).toBe(ArpError.TooShort);
    expect(arpCheck(b, 0, 28)).toBe(0);
    for (const [i, v] of [
      [1, 6],
      [2, 0x86],
      [4, 8],
      [5, 16],
    ]) {
      const c = b.slice();
      c[i] = v;
      expect(arpParse(c, 0, 28)).toBe(ArpError.Unsupported);
    }
    const c = b.slice();
    setArpOper(c, 0, 3);
    expect(arpParse(c, 0, 28)).toBe(ArpError.BadOperation);
  });

  it('throws WireError for a bad field or short buffer', () => {
    expect(() => arpEmit({ ...repr, senderIp: -1 }, new Uint8Array(28), 0)).toThrow(WireError);
    expect(() => arpEmit(repr, new Uint8Array(27), 0)).toThrow(/needs 28 bytes/);
  });
});
