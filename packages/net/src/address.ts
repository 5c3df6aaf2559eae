/**
 * Addresses as text and back: one representation each, used by every layer above.
 * - IPv4: a uint32 in host order (0x0a000001 is 10.0.0.1).
 * - CIDR: `{ ip, prefixLen }` (10.0.0.2/24 keeps the host part; `prefixMask` and `inSubnet` test
 *   membership).
 * - MAC: a 48-bit unsigned integer (exact in a JS number; compare with ===).
 * Slow paths (configuration, logs, tests): the data path reads these from the frame as numbers.
 */

import { OptionError } from '@bypass/atomics-sync';
import { WireError } from './wire/checksum.js';

/** An IPv4 address with a prefix length: an interface address or a subnet. */
export interface Cidr {
  ip: number;
  prefixLen: number;
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The dotted quad `s` ("10.77.0.1") as a uint32, or undefined when it is not one. */
export function tryParseIpv4(s: string): number | undefined {
  const m = DOTTED.exec(s);
  if (m === null) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2]);
  const c = Number(m[3]);
  const d = Number(m[4]);
  if (a > 255 || b > 255 || c > 255 || d > 255) return undefined;
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/** Parses dotted-quad "10.77.0.1" to a uint32; throws WireError otherwise. */
export function parseIpv4(s: string): number {
  const ip = tryParseIpv4(s);
  if (ip === undefined) {
    throw new WireError(
      `bad IPv4 address ${JSON.stringify(s)}: expected a dotted quad like 10.0.0.1`,
    );
  }
  return ip;
}

/** "10.77.0.1" for 0x0a4d0001. */
export function ipv4ToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/** The network mask of a prefix length (0 for /0, 0xffffffff for /32). */
export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** True when `ip` is inside `subnet` (its first `prefixLen` bits match). */
export function inSubnet(ip: number, subnet: Cidr): boolean {
  const m = prefixMask(subnet.prefixLen);
  return (ip & m) >>> 0 === (subnet.ip & m) >>> 0;
}

const CIDR_EXPECTED = 'an IPv4 address with a prefix length, like 10.0.0.2/24';

/** "10.0.0.2/24" as `{ ip, prefixLen }`, or undefined when it is not one. */
export function tryParseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0 || !/^\d{1,2}$/.test(s.slice(slash + 1))) return undefined;
  const prefixLen = Number(s.slice(slash + 1));
  const ip = tryParseIpv4(s.slice(0, slash));
  if (ip === undefined || prefixLen > 32) return undefined;
  return { ip, prefixLen };
}

/**
 * Parses "10.0.0.2/24"; anything else throws OptionError naming `option` (the flag or field
 * the text came from), its value and the form expected.
 */
export function parseCidr(s: string, option = 'address'): Cidr {
  const c = tryParseCidr(s);
  if (c === undefined) throw new OptionError(option, s, CIDR_EXPECTED);
  return c;
}

/** "10.0.0.2/24". */
export function cidrToString(c: Cidr): string {
  return `${ipv4ToString(c.ip)}/${c.prefixLen}`;
}

/** "02:00:00:00:00:01" for 0x020000000001. */
export function macToString(mac: number): string {
  return mac
    .toString(16)
    .padStart(12, '0')
    .replace(/(..)(?!$)/g, '$1:');
}

/** Parses "02:00:00:00:00:01" (or with '-'); throws WireError for anything else. */
export function parseMac(s: string): number {
  if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(s)) {
    throw new WireError(
      `bad MAC address ${JSON.stringify(s)}: expected six hex octets like 02:00:00:00:00:01`,
    );
  }
  return Number.parseInt(s.replace(/[:-]/g, ''), 16);
}

/** The six octets of `mac`, first on the wire first. */
export function macBytes(mac: number): Uint8Array {
  const b = new Uint8Array(6);
  const hi = Math.floor(mac / 0x1_0000_0000);
  b[0] = hi >>> 8;
  b[1] = hi & 0xff;
  b[2] = mac >>> 24;
  b[3] = (mac >>> 16) & 0xff;
  b[4] = (mac >>> 8) & 0xff;
  b[5] = mac & 0xff;
  return b;
}
