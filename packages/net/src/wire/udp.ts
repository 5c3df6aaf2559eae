/**
 * UDP (RFC 768) over IPv4. The checksum covers the IPv4 pseudo-header, the UDP header and the
 * payload; a checksum field of 0 means "none" on IPv4, and a computed 0 is sent as 0xffff.
 * Accessors over the datagram at `bytes[off..]` allocate nothing; functions that need the
 * pseudo-header take the offset of the IPv4 header too. `UdpRepr` is for tests and slow paths.
 */

import { get16, set16 } from './bytes.js';
import { checkInt, checkRoom, checksumOf, ipv4PseudoSum, sum16 } from './checksum.js';

export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LENGTH = 4;
export const UDP_CHECKSUM = 6;
export const UDP_HEADER_LEN = 8;

const IP_PROTO_UDP = 17;

export function udpSrcPort(b: Uint8Array, off: number): number {
  return get16(b, off + UDP_SRC_PORT);
}
export function setUdpSrcPort(b: Uint8Array, off: number, v: number): void {
  set16(b, off + UDP_SRC_PORT, v);
}
export function udpDstPort(b: Uint8Array, off: number): number {
  return get16(b, off + UDP_DST_PORT);
}
export function setUdpDstPort(b: Uint8Array, off: number, v: number): void {
  set16(b, off + UDP_DST_PORT, v);
}
/** The length field: header plus payload, in bytes. */
export function udpLength(b: Uint8Array, off: number): number {
  return get16(b, off + UDP_LENGTH);
}
export function setUdpLength(b: Uint8Array, off: number, v: number): void {
  set16(b, off + UDP_LENGTH, v);
}
export function udpChecksum(b: Uint8Array, off: number): number {
  return get16(b, off + UDP_CHECKSUM);
}
export function setUdpChecksum(b: Uint8Array, off: number, v: number): void {
  set16(b, off + UDP_CHECKSUM, v);
}

/**
 * True when the checksum of the datagram at b[off..] (udpLength() bytes) verifies against the
 * pseudo-header of the IPv4 header at b[ipOff..], or when the field is 0 (no checksum, RFC 768).
 */
export function udpVerifyChecksum(b: Uint8Array, ipOff: number, off: number): boolean {
  if (udpChecksum(b, off) === 0) return true;
  const len = udpLength(b, off);
  return sum16(b, off, len, ipv4PseudoSum(b, ipOff, IP_PROTO_UDP, len)) === 0xffff;
}
/** Computes and writes the checksum; the IPv4 addresses and the UDP length must be in place. */
export function udpFillChecksum(b: Uint8Array, ipOff: number, off: number): void {
  const len = udpLength(b, off);
  set16(b, off + UDP_CHECKSUM, 0);
  const c = checksumOf(sum16(b, off, len, ipv4PseudoSum(b, ipOff, IP_PROTO_UDP, len)));
  // RFC 768: a computed 0 is sent as all ones, since 0 means "no checksum".
  set16(b, off + UDP_CHECKSUM, c === 0 ? 0xffff : c);
}

/** Why udpCheck()/udpParse() refused a datagram. */
export const UdpError = {
  /** Fewer than 8 bytes. */
  TooShort: 1,
  /** The length field is below 8 or beyond the bytes at hand. */
  BadLength: 2,
  BadChecksum: 3,
} as const;
export type UdpError = (typeof UdpError)[keyof typeof UdpError];

/**
 * 0 when the datagram at b[off..] (with `len` bytes at hand: the IPv4 payload) is whole and,
 * when ipOff >= 0, its checksum verifies against the IPv4 header at b[ipOff..].
 */
export function udpCheck(b: Uint8Array, off: number, len: number, ipOff = -1): 0 | UdpError {
  if (len < UDP_HEADER_LEN) return UdpError.TooShort;
  const ulen = udpLength(b, off);
  if (ulen < UDP_HEADER_LEN || ulen > len) return UdpError.BadLength;
  if (ipOff >= 0 && !udpVerifyChecksum(b, ipOff, off)) return UdpError.BadChecksum;
  return 0;
}

/** The parsed form of a UDP datagram. */
export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** A copy of the payload (udpLength() - 8 bytes). */
  payload: Uint8Array;
}

/** Parses the datagram; with ipOff >= 0 the checksum is verified against that IPv4 header. */
export function udpParse(b: Uint8Array, off: number, len: number, ipOff = -1): UdpRepr | UdpError {
  const err = udpCheck(b, off, len, ipOff);
  if (err !== 0) return err;
  return {
    srcPort: udpSrcPort(b, off),
    dstPort: udpDstPort(b, off),
    payload: b.slice(off + UDP_HEADER_LEN, off + udpLength(b, off)),
  };
}

/** Bytes udpEmit() writes for `repr`: 8 plus the payload. */
export function udpLengthOf(repr: UdpRepr): number {
  return UDP_HEADER_LEN + repr.payload.length;
}

/**
 * Writes header and payload at b[off..] and returns the length. With ipOff >= 0 the checksum
 * is filled from the IPv4 header there (its addresses must be written already); otherwise it
 * is 0, "no checksum". Throws WireError for a bad field or a short buffer.
 */
export function udpEmit(repr: UdpRepr, b: Uint8Array, off: number, ipOff = -1): number {
  const len = udpLengthOf(repr);
  checkRoom('UDP datagram', b, off, len);
  checkInt('srcPort', repr.srcPort, 0xffff);
  checkInt('dstPort', repr.dstPort, 0xffff);
  checkInt('UDP length', len, 0xffff);
  set16(b, off + UDP_SRC_PORT, repr.srcPort);
  set16(b, off + UDP_DST_PORT, repr.dstPort);
  set16(b, off + UDP_LENGTH, len);
  set16(b, off + UDP_CHECKSUM, 0);
  b.set(repr.payload, off + UDP_HEADER_LEN);
  if (ipOff >= 0) udpFillChecksum(b, ipOff, off);
  return len;
}
