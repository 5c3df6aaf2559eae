import { OptionError } from '@bypass/atomics-sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cidrToString,
  inSubnet,
  ipv4ToString,
  macBytes,
  macToString,
  parseCidr,
  parseIpv4,
  parseMac,
  prefixMask,
  tryParseCidr,
  tryParseIpv4,
} from './address.js';
import { RSS_DEFAULT_KEY, rssKeyFromHex, rssKeyToHex } from './rss/toeplitz.js';
import { getMac } from './wire/ethernet.js';

describe('IPv4 addresses', () => {
  it('dotted quads round-trip for every uint32', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (ip) => {
        expect(parseIpv4(ipv4ToString(ip))).toBe(ip);
      }),
    );
  });

  it('refuses what is not a dotted quad', () => {
    for (const s of ['', '10.0.0', '10.0.0.256', '10.0.0.1.2', ' 10.0.0.1', '::1', '1e1.0.0.1']) {
      expect(tryParseIpv4(s), s).toBeUndefined();
    }
    expect(() => parseIpv4('10.0.0.300')).toThrow(/bad IPv4 address "10.0.0.300"/);
  });
});

describe('CIDR', () => {
  it('parses, keeps the host part and formats back', () => {
    expect(parseCidr('10.0.0.2/24')).toEqual({ ip: 0x0a000002, prefixLen: 24 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ ip: 0, prefixLen: 0 });
    expect(cidrToString({ ip: 0xc0a80101, prefixLen: 32 })).toBe('192.168.1.1/32');
  });

  it('bad text throws OptionError naming the option and the value', () => {
    for (const s of ['10.0.0.2', '10.0.0.2/33', '10.0.0.2/', '10.0.0/8', '10.0.0.2/2x', 'a/8']) {
      expect(tryParseCidr(s), s).toBeUndefined();
    }
    try {
      parseCidr('10.0.0.2/33', '--ip');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(OptionError);
      expect((e as Error).message).toBe(
        '--ip must be an IPv4 address with a prefix length, like 10.0.0.2/24, got 10.0.0.2/33',
      );
    }
  });

  it('masks and membership', () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(8)).toBe(0xff000000);
    expect(prefixMask(32)).toBe(0xffffffff);
    const net = parseCidr('10.1.2.3/16');
    expect(inSubnet(parseIpv4('10.1.255.255'), net)).toBe(true);
    expect(inSubnet(parseIpv4('10.2.0.1'), net)).toBe(false);
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (ip, len) => {
        expect(inSubnet(ip, { ip, prefixLen: len })).toBe(true);
        expect(inSubnet(ip, { ip: 0, prefixLen: 0 })).toBe(true);
      }),
    );
  });
});

describe('MAC addresses', () => {
  it('text, number and bytes agree for every 48-bit value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff_ffff }), (mac) => {
        expect(parseMac(macToString(mac))).toBe(mac);
        expect(getMac(macBytes(mac), 0)).toBe(mac);
      }),
    );
    expect([...macBytes(0x02005e100001)]).toEqual([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
  });
});

describe('RSS keys as hex', () => {
  it('round-trips, defaults, and refuses a wrong length or a non-hex digit', () => {
    expect(rssKeyFromHex(undefined)).toBe(RSS_DEFAULT_KEY);
    const hex = rssKeyToHex(RSS_DEFAULT_KEY);
    expect(hex).toMatch(/^6d5a56da255b0ec2/);
    expect([...rssKeyFromHex(hex.toUpperCase())]).toEqual([...RSS_DEFAULT_KEY]);
    expect(() => rssKeyFromHex(hex.slice(2))).toThrow(OptionError);
    expect(() => rssKeyFromHex(`${hex.slice(2)}zz`, 'rss_key')).toThrow(
      'rss_key must be 40 bytes as 80 hex digits',
    );
  });
});

describe('parseCidr with an option name', () => {
  it('parses an address with its prefix length', () => {
    expect(parseCidr('10.0.0.2/24', 'ip')).toEqual({ ip: 0x0a000002, prefixLen: 24 });
    expect(parseCidr('0.0.0.0/0', 'ip')).toEqual({ ip: 0, prefixLen: 0 });
    expect(parseCidr('255.255.255.255/32', 'ip')).toEqual({ ip: 0xffffffff, prefixLen: 32 });
  });

  it.each([
    '10.0.0.2',
    '10.0.0.2/',
    '10.0.0.2/33',
    '10.0.0.256/24',
    '10.0.0/24',
    '10.0.0.2/24 ',
    '10.0.0.2/-1',
    'a.b.c.d/24',
    '',
  ])('rejects %j with an OptionError naming the option and the value', (s) => {
    expect(() => parseCidr(s, 'ip')).toThrow(OptionError);
    expect(() => parseCidr(s, 'ip')).toThrow(
      `ip must be an IPv4 address with a prefix length, like 10.0.0.2/24, got ${s}`,
    );
    let thrown: unknown;
    try {
      parseCidr(s, 'route');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ name: 'OptionError', option: 'route', value: s });
  });
});
