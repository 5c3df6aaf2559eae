/**
 * IPv4 headers (RFC 791). Accessors over the header at `bytes[off..]` allocate nothing;
 * addresses are uint32 numbers (10.77.0.1 is 0x0a4d0001). Options are not interpreted: the
 * payload starts at ipv4HeaderLen() (IHL * 4), so they are skipped safely. `Ipv4Repr` with
 * ipv4Parse()/ipv4Emit() is for tests and slow paths.
 */

import { get16, get32, set16, set32 } from './bytes.js';
import { checkInt, checkRoom, checksumOf, sum16, WireError } from './checksum.js';

export const IPV4_VER_IHL = 0;
export const IPV4_DSCP_ECN = 1;
export const IPV4_TOTAL_LEN = 2;
export const IPV4_IDENT = 4;
export const IPV4_FLG_OFF = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTOCOL = 9;
export const IPV4_CHECKSUM = 10;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
/** Bytes of a header without options (IHL 5). */
export const IPV4_MIN_HEADER_LEN = 20;
/** Bytes of a header with 40 bytes of options (IHL 15). */
export const IPV4_MAX_HEADER_LEN = 60;

/** Flag and offset bits of the 16-bit word at IPV4_FLG_OFF. */
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;

export const IP_PROTO_ICMP = 1;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;
export const IP_PROTO_SCTP = 132;

export function ipv4Version(b: Uint8Array, off: number): number {
  return b[off + IPV4_VER_IHL] >>> 4;
}
/** Internet Header Length in 32-bit words (5..15 when valid). */
export function ipv4Ihl(b: Uint8Array, off: number): number {
  return b[off + IPV4_VER_IHL] & 0x0f;
}
/** Header length in bytes (IHL * 4): the payload starts here. */
export function ipv4HeaderLen(b: Uint8Array, off: number): number {
  return (b[off + IPV4_VER_IHL] & 0x0f) << 2;
}
/** Sets version 4 and the header length in bytes (a multiple of 4, 20..60). */
export function setIpv4VersionAndHeaderLen(b: Uint8Array, off: number, headerLen: number): void {
  b[off + IPV4_VER_IHL] = 0x40 | (headerLen >>> 2);
}
export function ipv4Dscp(b: Uint8Array, off: number): number {
  return b[off + IPV4_DSCP_ECN] >>> 2;
}
export function ipv4Ecn(b: Uint8Array, off: number): number {
  return b[off + IPV4_DSCP_ECN] & 0x03;
}
export function setIpv4DscpEcn(b: Uint8Array, off: number, dscp: number, ecn: number): void {
  b[off + IPV4_DSCP_ECN] = (dscp << 2) | (ecn & 0x03);
}
/** Total length: header plus payload, in bytes. */
export function ipv4TotalLength(b: Uint8Array, off: number): number {
  return get16(b, off + IPV4_TOTAL_LEN);
}
export function setIpv4TotalLength(b: Uint8Array, off: number, v: number): void {
  set16(b, off + IPV4_TOTAL_LEN, v);
}
export function ipv4Ident(b: Uint8Array, off: number): number {
  return get16(b, off + IPV4_IDENT);
}
export function setIpv4Ident(b: Uint8Array, off: number, v: number): void {
  set16(b, off + IPV4_IDENT, v);
}
/** Don't Fragment. */
export function ipv4Df(b: Uint8Array, off: number): boolean {
  return (get16(b, off + IPV4_FLG_OFF) & IPV4_FLAG_DF) !== 0;
}
/** More Fragments. */
export function ipv4Mf(b: Uint8Array, off: number): boolean {
  return (get16(b, off + IPV4_FLG_OFF) & IPV4_FLAG_MF) !== 0;
}
/** Fragment offset in bytes (the field counts 8-byte units). */
export function ipv4FragOffset(b: Uint8Array, off: number): number {
  return (get16(b, off + IPV4_FLG_OFF) & IPV4_FRAG_OFFSET_MASK) << 3;
}
/** True for any fragment of a fragmented datagram: MF set or a nonzero offset. */
export function ipv4IsFragment(b: Uint8Array, off: number): boolean {
  return (get16(b, off + IPV4_FLG_OFF) & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK)) !== 0;
}
/** Sets DF, MF and the fragment offset in bytes (a multiple of 8, below 65536). */
export function setIpv4Fragment(
  b: Uint8Array,
  off: number,
  df: boolean,
  mf: boolean,
  offsetBytes: number,
): void {
  set16(
    b,
    off + IPV4_FLG_OFF,
    (df ? IPV4_FLAG_DF : 0) |
      (mf ? IPV4_FLAG_MF : 0) |
      ((offsetBytes >>> 3) & IPV4_FRAG_OFFSET_MASK),
  );
}
export function ipv4Ttl(b: Uint8Array, off: number): number {
  return b[off + IPV4_TTL];
}
export function setIpv4Ttl(b: Uint8Array, off: number, v: number): void {
  b[off + IPV4_TTL] = v;
}
export function ipv4Protocol(b: Uint8Array, off: number): number {
  return b[off + IPV4_PROTOCOL];
}
export function setIpv4Protocol(b: Uint8Array, off: number, v: number): void {
  b[off + IPV4_PROTOCOL] = v;
}
export function ipv4Checksum(b: Uint8Array, off: number): number {
  return get16(b, off + IPV4_CHECKSUM);
}
export function setIpv4Checksum(b: Uint8Array, off: number, v: number): void {
  set16(b, off + IPV4_CHECKSUM, v);
}
export function ipv4Src(b: Uint8Array, off: number): number {
  return get32(b, off + IPV4_SRC);
}
export function setIpv4Src(b: Uint8Array, off: number, ip: number): void {
  set32(b, off + IPV4_SRC, ip);
}
export function ipv4Dst(b: Uint8Array, off: number): number {
  return get32(b, off + IPV4_DST);
}
export function setIpv4Dst(b: Uint8Array, off: number, ip: number): void {
  set32(b, off + IPV4_DST, ip);
}

/** True when the header checksum verifies: the sum over IHL * 4 bytes, checksum included, is 0xffff. */
export function ipv4VerifyChecksum(b: Uint8Array, off: number): boolean {
  const hl = ipv4HeaderLen(b, off);
  if (hl !== IPV4_MIN_HEADER_LEN) return sum16(b, off, hl) === 0xffff;
  // Nearly every header has no options: ten words, summed inline (once per received packet).
  let s =
    ((b[off] + b[off + 2] + b[off + 4] + b[off + 6] + b[off + 8]) << 8) +
    ((b[off + 10] + b[off + 12] + b[off + 14] + b[off + 16] + b[off + 18]) << 8) +
    b[off + 1] +
    b[off + 3] +
    b[off + 5] +
    b[off + 7] +
    b[off + 9] +
    b[off + 11] +
    b[off + 13] +
    b[off + 15] +
    b[off + 17] +
    b[off + 19];
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}
/** Computes and writes the header checksum over IHL * 4 bytes (options included). */
export function ipv4FillChecksum(b: Uint8Array, off: number): void {
  set16(b, off + IPV4_CHECKSUM, 0);
  set16(b, off + IPV4_CHECKSUM, checksumOf(sum16(b, off, ipv4HeaderLen(b, off))));
}

/**
 * Decrements the TTL by one and patches the checksum incrementally (RFC 1624 eqn. 3), as a
 * router does. The caller drops the packet when the TTL was already 0 or 1.
 */
export function ipv4DecrementTtl(b: Uint8Array, off: number): void {
  const oldWord = get16(b, off + IPV4_TTL);
  b[off + IPV4_TTL] -= 1;
  const newWord = get16(b, off + IPV4_TTL);
  // HC' = ~(~HC + ~m + m')
  let s = (~get16(b, off + IPV4_CHECKSUM) & 0xffff) + (~oldWord & 0xffff) + newWord;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  set16(b, off + IPV4_CHECKSUM, ~s & 0xffff);
}

/** Why ipv4Check()/ipv4Parse() refused a header (0 means valid). */
export const Ipv4Error = {
  /** Fewer bytes than 20, or than IHL * 4. */
  TooShort: 1,
  /** The version nibble is not 4. */
  BadVersion: 2,
  /** IHL below 5. */
  BadIhl: 3,
  /** Total length below the header length, or beyond the bytes at hand. */
  BadTotalLength: 4,
  /** The header checksum does not verify. */
  BadChecksum: 5,
  /**
   * An option runs past the header or has a length below 2 (RFC 791 3.1: every option but
   * End of List and No Operation is type, length, data; the length counts all three).
   */
  BadOptions: 6,
} as const;
export type Ipv4Error = (typeof Ipv4Error)[keyof typeof Ipv4Error];

const IPV4_ERROR_NAMES = [
  'ok',
  'too short',
  'bad version',
  'IHL < 5',
  'bad total length',
  'bad header checksum',
  'bad options',
];

/** IPv4 option types (RFC 791, IANA): the ones a host must look at. */
export const IPV4_OPT_EOL = 0;
export const IPV4_OPT_NOP = 1;
/** Loose and strict source route: Linux drops them unless accept_source_route is set. */
export const IPV4_OPT_LSRR = 131;
export const IPV4_OPT_SSRR = 137;

/**
 * Walks the options of the header at b[off..] (already checked by ipv4Check) and returns
 * true when one is a source route (LSRR or SSRR). Allocation-free; 20-byte headers return at
 * once.
 */
export function ipv4HasSourceRoute(b: Uint8Array, off: number): boolean {
  const end = off + ipv4HeaderLen(b, off);
  let o = off + IPV4_MIN_HEADER_LEN;
  while (o < end) {
    const kind = b[o];
    if (kind === IPV4_OPT_EOL) return false;
    if (kind === IPV4_OPT_NOP) {
      o++;
      continue;
    }
    if (kind === IPV4_OPT_LSRR || kind === IPV4_OPT_SSRR) return true;
    o += b[o + 1];
  }
  return false;
}

/** Whether the options of a header of `hl` bytes at b[off..] are well formed TLVs. */
function ipv4OptionsWellFormed(b: Uint8Array, off: number, hl: number): boolean {
  const end = off + hl;
  let o = off + IPV4_MIN_HEADER_LEN;
  while (o < end) {
    const kind = b[o];
    if (kind === IPV4_OPT_EOL) return true;
    if (kind === IPV4_OPT_NOP) {
      o++;
      continue;
    }
    if (o + 1 >= end) return false;
    const optLen = b[o + 1];
    if (optLen < 2 || o + optLen > end) return false;
    o += optLen;
  }
  return true;
}
/** A short description of an Ipv4Error code (for logs and statistics). */
export function ipv4ErrorName(code: number): string {
  return IPV4_ERROR_NAMES[code] ?? `unknown (${code})`;
}

/**
 * Validates the header at b[off..], where `len` bytes are at hand (the L2 payload, which may
 * include Ethernet padding beyond the total length). Returns 0 or the first Ipv4Error found.
 * Pass verifyChecksum false when the NIC already checked it (RX checksum offload).
 */
export function ipv4Check(
  b: Uint8Array,
  off: number,
  len: number,
  verifyChecksum = true,
): 0 | Ipv4Error {
  if (len < IPV4_MIN_HEADER_LEN) return Ipv4Error.TooShort;
  if (ipv4Version(b, off) !== 4) return Ipv4Error.BadVersion;
  const hl = ipv4HeaderLen(b, off);
  if (hl < IPV4_MIN_HEADER_LEN) return Ipv4Error.BadIhl;
  if (hl > len) return Ipv4Error.TooShort;
  const total = ipv4TotalLength(b, off);
  if (total < hl || total > len) return Ipv4Error.BadTotalLength;
  if (verifyChecksum && !ipv4VerifyChecksum(b, off)) return Ipv4Error.BadChecksum;
  if (hl > IPV4_MIN_HEADER_LEN && !ipv4OptionsWellFormed(b, off, hl)) return Ipv4Error.BadOptions;
  return 0;
}

/** The parsed form of an IPv4 header. */
export interface Ipv4Repr {
  src: number;
  dst: number;
  protocol: number;
  /** Bytes after the header: total length minus header length. */
  payloadLength: number;
  ttl: number;
  /** Defaults: 0. */
  dscp?: number;
  ecn?: number;
  ident?: number;
  /** Defaults: false, false, 0. fragOffset is in bytes, a multiple of 8. */
  dontFragment?: boolean;
  moreFragments?: boolean;
  fragOffset?: number;
  /** Raw options (a multiple of 4 bytes, at most 40), or absent. */
  options?: Uint8Array;
}

export function ipv4Parse(
  b: Uint8Array,
  off: number,
  len: number,
  verifyChecksum = true,
): Ipv4Repr | Ipv4Error {
  const err = ipv4Check(b, off, len, verifyChecksum);
  if (err !== 0) return err;
  const hl = ipv4HeaderLen(b, off);
  const repr: Ipv4Repr = {
    src: ipv4Src(b, off),
    dst: ipv4Dst(b, off),
    protocol: ipv4Protocol(b, off),
    payloadLength: ipv4TotalLength(b, off) - hl,
    ttl: ipv4Ttl(b, off),
    dscp: ipv4Dscp(b, off),
    ecn: ipv4Ecn(b, off),
    ident: ipv4Ident(b, off),
    dontFragment: ipv4Df(b, off),
    moreFragments: ipv4Mf(b, off),
    fragOffset: ipv4FragOffset(b, off),
  };
  if (hl > IPV4_MIN_HEADER_LEN) repr.options = b.slice(off + IPV4_MIN_HEADER_LEN, off + hl);
  return repr;
}

/** Bytes ipv4Emit() writes for `repr`: 20 plus the options. */
export function ipv4HeaderLenOf(repr: Ipv4Repr): number {
  return IPV4_MIN_HEADER_LEN + (repr.options?.length ?? 0);
}

/**
 * Writes the header for `repr` at b[off..], checksum included, and returns its length. The
 * payload (repr.payloadLength bytes) is the caller's to write after it. Throws WireError for a
 * field out of range or a buffer too short for the header.
 */
export function ipv4Emit(repr: Ipv4Repr, b: Uint8Array, off: number): number {
  const optLen = repr.options?.length ?? 0;
  if (optLen % 4 !== 0 || optLen > IPV4_MAX_HEADER_LEN - IPV4_MIN_HEADER_LEN) {
    throw new WireError(`IPv4 options must be a multiple of 4 bytes, at most 40; got ${optLen}`);
  }
  const hl = IPV4_MIN_HEADER_LEN + optLen;
  checkRoom('IPv4 header', b, off, hl);
  checkInt('src', repr.src, 0xffff_ffff);
  checkInt('dst', repr.dst, 0xffff_ffff);
  checkInt('protocol', repr.protocol, 0xff);
  checkInt('payloadLength', repr.payloadLength, 0xffff - hl);
  checkInt('ttl', repr.ttl, 0xff);
  const dscp = repr.dscp ?? 0;
  const ecn = repr.ecn ?? 0;
  const ident = repr.ident ?? 0;
  const fragOffset = repr.fragOffset ?? 0;
  checkInt('dscp', dscp, 63);
  checkInt('ecn', ecn, 3);
  checkInt('ident', ident, 0xffff);
  checkInt('fragOffset', fragOffset, IPV4_FRAG_OFFSET_MASK << 3);
  if (fragOffset % 8 !== 0)
    throw new WireError(`fragOffset must be a multiple of 8; got ${fragOffset}`);
  setIpv4VersionAndHeaderLen(b, off, hl);
  setIpv4DscpEcn(b, off, dscp, ecn);
  setIpv4TotalLength(b, off, hl + repr.payloadLength);
  setIpv4Ident(b, off, ident);
  setIpv4Fragment(b, off, repr.dontFragment ?? false, repr.moreFragments ?? false, fragOffset);
  setIpv4Ttl(b, off, repr.ttl);
  setIpv4Protocol(b, off, repr.protocol);
  setIpv4Src(b, off, repr.src);
  setIpv4Dst(b, off, repr.dst);
  if (repr.options) b.set(repr.options, off + IPV4_MIN_HEADER_LEN);
  ipv4FillChecksum(b, off);
  return hl;
}
