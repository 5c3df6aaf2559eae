/**
 * ICMPv4 (RFC 792): echo request/reply and the error messages that quote the offending
 * datagram (destination unreachable, time exceeded). The checksum covers the whole ICMP
 * message. Accessors over the message at `bytes[off..]` allocate nothing; `IcmpRepr` with
 * icmpParse()/icmpEmit() is for tests and slow paths.
 */

import { get16, set16 } from './bytes.js';
import { checkInt, checkRoom, checksumOf, sum16 } from './checksum.js';

export const ICMP_TYPE = 0;
export const ICMP_CODE = 1;
export const ICMP_CHECKSUM = 2;
/** Echo: identifier and sequence number. */
export const ICMP_ECHO_IDENT = 4;
export const ICMP_ECHO_SEQ = 6;
/** Destination unreachable, fragmentation needed: the next-hop MTU (RFC 1191). */
export const ICMP_NEXT_HOP_MTU = 6;
/** Bytes of the ICMP header; the echo data or the quoted datagram follows. */
export const ICMP_HEADER_LEN = 8;

export const ICMP_TYPE_ECHO_REPLY = 0;
export const ICMP_TYPE_DEST_UNREACHABLE = 3;
export const ICMP_TYPE_ECHO_REQUEST = 8;
export const ICMP_TYPE_TIME_EXCEEDED = 11;

export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_FRAG_NEEDED = 4;

/**
 * The most bytes of the offending datagram an error quotes: RFC 792 asks for the IP header and
 * the first 8 data bytes; RFC 1812 4.3.2.3 allows as many as keep the error within 576 bytes.
 */
export const ICMP_QUOTE_MAX = 576 - 20 - ICMP_HEADER_LEN;

export function icmpType(b: Uint8Array, off: number): number {
  return b[off + ICMP_TYPE];
}
export function setIcmpType(b: Uint8Array, off: number, v: number): void {
  b[off + ICMP_TYPE] = v;
}
export function icmpCode(b: Uint8Array, off: number): number {
  return b[off + ICMP_CODE];
}
export function setIcmpCode(b: Uint8Array, off: number, v: number): void {
  b[off + ICMP_CODE] = v;
}
export function icmpChecksum(b: Uint8Array, off: number): number {
  return get16(b, off + ICMP_CHECKSUM);
}
export function icmpEchoIdent(b: Uint8Array, off: number): number {
  return get16(b, off + ICMP_ECHO_IDENT);
}
export function setIcmpEchoIdent(b: Uint8Array, off: number, v: number): void {
  set16(b, off + ICMP_ECHO_IDENT, v);
}
export function icmpEchoSeq(b: Uint8Array, off: number): number {
  return get16(b, off + ICMP_ECHO_SEQ);
}
export function setIcmpEchoSeq(b: Uint8Array, off: number, v: number): void {
  set16(b, off + ICMP_ECHO_SEQ, v);
}
export function icmpNextHopMtu(b: Uint8Array, off: number): number {
  return get16(b, off + ICMP_NEXT_HOP_MTU);
}
/** True when the checksum over the `len`-byte message verifies. */
export function icmpVerifyChecksum(b: Uint8Array, off: number, len: number): boolean {
  return sum16(b, off, len) === 0xffff;
}
/** Computes and writes the checksum over the `len`-byte message. */
export function icmpFillChecksum(b: Uint8Array, off: number, len: number): void {
  set16(b, off + ICMP_CHECKSUM, 0);
  set16(b, off + ICMP_CHECKSUM, checksumOf(sum16(b, off, len)));
}
/**
 * Turns the echo request at b[off..off+len) into its reply in place: type 0, and the checksum
 * patched for the type change alone (RFC 1624), since identifier, sequence and data are echoed.
 */
export function icmpEchoRequestToReply(b: Uint8Array, off: number): void {
  // The type byte is the high byte of the first word: 8 -> 0 subtracts 0x0800 from the sum.
  let s = (~icmpChecksum(b, off) & 0xffff) + (~(ICMP_TYPE_ECHO_REQUEST << 8) & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  b[off + ICMP_TYPE] = ICMP_TYPE_ECHO_REPLY;
  // RFC 1624's update can give 0x0000 (-0) where the message sums to zero (ident, sequence and
  // data all 0): the same number in ones' complement, but a sum-to-0xffff check refuses it, and
  // a checksum computed afresh (Linux's) is 0xffff.
  const c = ~s & 0xffff;
  set16(b, off + ICMP_CHECKSUM, c === 0 ? 0xffff : c);
}

/** Why icmpCheck()/icmpParse() refused a message. */
export const IcmpError = { TooShort: 1, BadChecksum: 2 } as const;
export type IcmpError = (typeof IcmpError)[keyof typeof IcmpError];

/** 0 when the `len`-byte message (the IPv4 payload) at b[off..] is whole and its checksum verifies. */
export function icmpCheck(
  b: Uint8Array,
  off: number,
  len: number,
  verifyChecksum = true,
): 0 | IcmpError {
  if (len < ICMP_HEADER_LEN) return IcmpError.TooShort;
  if (verifyChecksum && !icmpVerifyChecksum(b, off, len)) return IcmpError.BadChecksum;
  return 0;
}

/** The parsed form of an ICMPv4 message. Byte arrays are copies. */
export type IcmpRepr =
  | { kind: 'echo-request' | 'echo-reply'; ident: number; seq: number; data: Uint8Array }
  | {
      kind: 'dest-unreachable';
      /** ICMP_UNREACH_*. */
      code: number;
      /** The next-hop MTU for code 4 (RFC 1191), else 0 (absent means 0). */
      nextHopMtu?: number;
      /** The start of the offending datagram: its IP header and at least 8 bytes after it. */
      original: Uint8Array;
    }
  | { kind: 'time-exceeded'; code: number; original: Uint8Array }
  | {
      kind: 'other';
      type: number;
      code: number;
      /** Bytes 4..8 of the header as a uint32. */
      restOfHeader: number;
      data: Uint8Array;
    };

export function icmpParse(
  b: Uint8Array,
  off: number,
  len: number,
  verifyChecksum = true,
): IcmpRepr | IcmpError {
  const err = icmpCheck(b, off, len, verifyChecksum);
  if (err !== 0) return err;
  const type = icmpType(b, off);
  const code = icmpCode(b, off);
  const body = b.slice(off + ICMP_HEADER_LEN, off + len);
  switch (type) {
    case ICMP_TYPE_ECHO_REQUEST:
    case ICMP_TYPE_ECHO_REPLY:
      return {
        kind: type === ICMP_TYPE_ECHO_REQUEST ? 'echo-request' : 'echo-reply',
        ident: icmpEchoIdent(b, off),
        seq: icmpEchoSeq(b, off),
        data: body,
      };
    case ICMP_TYPE_DEST_UNREACHABLE:
      return { kind: 'dest-unreachable', code, nextHopMtu: icmpNextHopMtu(b, off), original: body };
    case ICMP_TYPE_TIME_EXCEEDED:
      return { kind: 'time-exceeded', code, original: body };
    default:
      return {
        kind: 'other',
        type,
        code,
        restOfHeader: ((get16(b, off + 4) << 16) | get16(b, off + 6)) >>> 0,
        data: body,
      };
  }
}

/** Bytes icmpEmit() writes for `repr`: the header plus data or quote. */
export function icmpLengthOf(repr: IcmpRepr): number {
  return ICMP_HEADER_LEN + ('data' in repr ? repr.data.length : repr.original.length);
}

/** Writes the message for `repr` at b[off..], checksum included, and returns its length. Throws WireError for a bad field or short buffer. */
export function icmpEmit(repr: IcmpRepr, b: Uint8Array, off: number): number {
  const len = icmpLengthOf(repr);
  checkRoom('ICMP message', b, off, len);
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
      checkInt('ident', repr.ident, 0xffff);
      checkInt('seq', repr.seq, 0xffff);
      b[off + ICMP_TYPE] =
        repr.kind === 'echo-request' ? ICMP_TYPE_ECHO_REQUEST : ICMP_TYPE_ECHO_REPLY;
      b[off + ICMP_CODE] = 0;
      set16(b, off + ICMP_ECHO_IDENT, repr.ident);
      set16(b, off + ICMP_ECHO_SEQ, repr.seq);
      b.set(repr.data, off + ICMP_HEADER_LEN);
      break;
    case 'dest-unreachable':
    case 'time-exceeded': {
      checkInt('code', repr.code, 0xff);
      const mtu = repr.kind === 'dest-unreachable' ? (repr.nextHopMtu ?? 0) : 0;
      checkInt('nextHopMtu', mtu, 0xffff);
      b[off + ICMP_TYPE] =
        repr.kind === 'dest-unreachable' ? ICMP_TYPE_DEST_UNREACHABLE : ICMP_TYPE_TIME_EXCEEDED;
      b[off + ICMP_CODE] = repr.code;
      set16(b, off + 4, 0); // unused (RFC 792)
      set16(b, off + ICMP_NEXT_HOP_MTU, mtu);
      b.set(repr.original, off + ICMP_HEADER_LEN);
      break;
    }
    default:
      checkInt('type', repr.type, 0xff);
      checkInt('code', repr.code, 0xff);
      checkInt('restOfHeader', repr.restOfHeader, 0xffff_ffff);
      b[off + ICMP_TYPE] = repr.type;
      b[off + ICMP_CODE] = repr.code;
      set16(b, off + 4, repr.restOfHeader >>> 16);
      set16(b, off + 6, repr.restOfHeader & 0xffff);
      b.set(repr.data, off + ICMP_HEADER_LEN);
  }
  icmpFillChecksum(b, off, len);
  return len;
}
