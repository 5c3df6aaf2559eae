import { describe, expect, it } from 'vitest';
import { macToString, parseMac } from '../address.js';
import { WireError } from './checksum.js';
import {
  ETH_NO_VLAN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
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
} from './ethernet.js';

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
