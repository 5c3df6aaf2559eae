/**
 * The TCP header (RFC 9293 3.1), its options (RFC 9293 3.2, RFC 7323 window scale and
 * timestamps, RFC 2018 SACK), sequence-number arithmetic (RFC 9293 3.4) and the checksum over
 * the IPv4 pseudo-header.
 *
 * Two levels, as in smoltcp's `wire/tcp.rs`:
 * - accessors over `(bytes, offset)` (`tcpSeqNumber(b, off)`, `setTcpAckNumber(b, off, v)`, the
 *   option cursor `tcpFirstOption`/`tcpNextOption`): these allocate nothing and are for the
 *   hot path. They trust the caller to have checked the length (`parseTcp` or
 *   `tcpCheckHeader` does);
 * - `TcpRepr`, the parsed form, with `parseTcp` and `emitTcp`, for tests and slow paths.
 *
 * `off` is always the offset of the first byte of the TCP header inside `b`.
 */

import { set16 as setU16, set32 as setU32, get16 as u16, get32 as u32 } from './bytes.js';
import { checksumOf, ipv4PseudoSum, sum16 } from './checksum.js';

// Field offsets from the start of the TCP header (RFC 9293 3.1, figure 1).
export const SRC_PORT = 0;
export const DST_PORT = 2;
export const SEQ_NUM = 4;
export const ACK_NUM = 8;
/** Data offset (high 4 bits) and the 4 reserved bits. */
export const DATA_OFFSET = 12;
/** The 8 control bits (CWR ... FIN). */
export const FLAGS = 13;
export const WIN_SIZE = 14;
export const CHECKSUM = 16;
export const URGENT = 18;
/** Start of the options; also the length of a header without options. */
export const OPTIONS = 20;
export const TCP_HEADER_LEN = 20;
/** Data offset is 4 bits of 32-bit words: at most 60 bytes of header, 40 of options. */
export const TCP_MAX_HEADER_LEN = 60;
export const IP_PROTOCOL_TCP = 6;

// Control bits, as they sit in the byte at FLAGS (RFC 9293 3.1; ECE/CWR from RFC 3168).
export const FLG_FIN = 0x01;
export const FLG_SYN = 0x02;
export const FLG_RST = 0x04;
export const FLG_PSH = 0x08;
export const FLG_ACK = 0x10;
export const FLG_URG = 0x20;
export const FLG_ECE = 0x40;
export const FLG_CWR = 0x80;

// Option kinds (IANA "TCP Option Kind Numbers") and their fixed lengths.
export const OPT_EOL = 0;
export const OPT_NOP = 1;
export const OPT_MSS = 2;
export const OPT_WINDOW_SCALE = 3;
export const OPT_SACK_PERMITTED = 4;
export const OPT_SACK = 5;
export const OPT_TIMESTAMP = 8;
export const OPT_MSS_LEN = 4;
export const OPT_WINDOW_SCALE_LEN = 3;
export const OPT_SACK_PERMITTED_LEN = 2;
export const OPT_TIMESTAMP_LEN = 10;
/** RFC 2018 3: 40 bytes of option space hold at most 4 SACK blocks. */
export const SACK_MAX_BLOCKS = 4;
/** RFC 7323 2.3: a shift above 14 is treated as 14 (clamping is the socket's job). */
export const WINDOW_SCALE_MAX = 14;

/** Returned by the option cursor when the options end (past the last one, or at EOL). */
export const OPTION_END = -1;
/** Returned by the option cursor for an option with length < 2 or past the header end. */
export const OPTION_MALFORMED = -2;

// ---------------------------------------------------------------------------------------------
// Field accessors. Numbers come back unsigned (ports and 32-bit sequence numbers alike).

export function tcpSrcPort(b: Uint8Array, off: number): number {
  return u16(b, off + SRC_PORT);
}
export function tcpDstPort(b: Uint8Array, off: number): number {
  return u16(b, off + DST_PORT);
}
export function tcpSeqNumber(b: Uint8Array, off: number): number {
  return u32(b, off + SEQ_NUM);
}
export function tcpAckNumber(b: Uint8Array, off: number): number {
  return u32(b, off + ACK_NUM);
}
/** The data offset in 32-bit words (5..15 in a well-formed header). */
export function tcpDataOffset(b: Uint8Array, off: number): number {
  return b[off + DATA_OFFSET] >>> 4;
}
/** The header length in bytes, options included: data offset * 4. */
export function tcpHeaderLength(b: Uint8Array, off: number): number {
  return (b[off + DATA_OFFSET] >>> 4) << 2;
}
/** Offset in `b` of the first payload byte. */
export function tcpPayloadOffset(b: Uint8Array, off: number): number {
  return off + tcpHeaderLength(b, off);
}
/** The 8 control bits (FLG_*). The 4 reserved bits in the DATA_OFFSET byte are not included. */
export function tcpFlags(b: Uint8Array, off: number): number {
  return b[off + FLAGS];
}
export function tcpWindow(b: Uint8Array, off: number): number {
  return u16(b, off + WIN_SIZE);
}
export function tcpChecksum(b: Uint8Array, off: number): number {
  return u16(b, off + CHECKSUM);
}
export function tcpUrgentPointer(b: Uint8Array, off: number): number {
  return u16(b, off + URGENT);
}

export function setTcpSrcPort(b: Uint8Array, off: number, port: number): void {
  setU16(b, off + SRC_PORT, port);
}
export function setTcpDstPort(b: Uint8Array, off: number, port: number): void {
  setU16(b, off + DST_PORT, port);
}
export function setTcpSeqNumber(b: Uint8Array, off: number, seq: number): void {
  setU32(b, off + SEQ_NUM, seq);
}
export function setTcpAckNumber(b: Uint8Array, off: number, ack: number): void {
  setU32(b, off + ACK_NUM, ack);
}
/** Sets the data offset in 32-bit words; the reserved bits are cleared (RFC 9293 3.1). */
export function setTcpDataOffset(b: Uint8Array, off: number, words: number): void {
  b[off + DATA_OFFSET] = (words & 0x0f) << 4;
}
/** Sets the header length in bytes (a multiple of 4, 20..60). */
export function setTcpHeaderLength(b: Uint8Array, off: number, bytes: number): void {
  setTcpDataOffset(b, off, bytes >>> 2);
}
export function setTcpFlags(b: Uint8Array, off: number, flags: number): void {
  b[off + FLAGS] = flags;
}
export function setTcpWindow(b: Uint8Array, off: number, window: number): void {
  setU16(b, off + WIN_SIZE, window);
}
export function setTcpChecksum(b: Uint8Array, off: number, checksum: number): void {
  setU16(b, off + CHECKSUM, checksum);
}
export function setTcpUrgentPointer(b: Uint8Array, off: number, urgent: number): void {
  setU16(b, off + URGENT, urgent);
}

/**
 * Checks that `len` bytes at `off` hold a TCP header whose data offset is sane.
 * Returns the header length in bytes, or -1 when `len` < 20, the data offset is below 5, or the
 * header runs past `len`. Allocates nothing; the hot-path guard before using the accessors.
 */
export function tcpCheckHeader(b: Uint8Array, off: number, len: number): number {
  if (len < TCP_HEADER_LEN || off + len > b.length) return -1;
  const hdrLen = tcpHeaderLength(b, off);
  if (hdrLen < TCP_HEADER_LEN || hdrLen > len) return -1;
  return hdrLen;
}

// ---------------------------------------------------------------------------------------------
// Option cursor (RFC 9293 3.2). An allocation-free walk:
//
//   const end = off + tcpHeaderLength(b, off);
//   let o = tcpFirstOption(b, off, end);
//   for (; o >= 0; o = tcpNextOption(b, o, end)) {
//     if (tcpOptionKind(b, o) === OPT_MSS) mss = tcpOptMss(b, o);
//   }
//   if (o === OPTION_MALFORMED) ... // drop or ignore the segment
//
// The cursor yields every option including NOPs, never EOL (EOL ends the walk), and only an
// option that fits before `end` with a length byte >= 2. It does not check the kind-specific
// length of known kinds: use tcpOptionWellFormed for that.

/** Returns `o` when a structurally valid option starts there, OPTION_END or OPTION_MALFORMED. */
function optionAt(b: Uint8Array, o: number, end: number): number {
  if (o >= end) return OPTION_END;
  const kind = b[o];
  if (kind === OPT_EOL) return OPTION_END;
  if (kind === OPT_NOP) return o;
  if (o + 1 >= end) return OPTION_MALFORMED;
  const len = b[o + 1];
  if (len < 2 || o + len > end) return OPTION_MALFORMED;
  return o;
}

/**
 * The first option of the header at `off`. `end` is `off + tcpHeaderLength(b, off)`.
 * Returns the option's offset in `b`, OPTION_END when there are none, or OPTION_MALFORMED.
 */
export function tcpFirstOption(b: Uint8Array, off: number, end: number): number {
  return optionAt(b, off + OPTIONS, end);
}

/**
 * The option after the one at `o` (which the cursor returned). Returns its offset in `b`,
 * OPTION_END, or OPTION_MALFORMED.
 */
export function tcpNextOption(b: Uint8Array, o: number, end: number): number {
  return optionAt(b, o + tcpOptionLength(b, o), end);
}

export function tcpOptionKind(b: Uint8Array, o: number): number {
  return b[o];
}

/** Total length of the option at `o` in bytes, kind and length bytes included (1 for NOP/EOL). */
export function tcpOptionLength(b: Uint8Array, o: number): number {
  return b[o] <= OPT_NOP ? 1 : b[o + 1];
}

/**
 * Whether the option at `o` has the length its kind requires (MSS 4, window scale 3,
 * SACK-permitted 2, timestamps 10, SACK 2 + 8n with n = 1..4). Unknown kinds are well formed.
 */
export function tcpOptionWellFormed(b: Uint8Array, o: number): boolean {
  const len = tcpOptionLength(b, o);
  switch (b[o]) {
    case OPT_MSS:
      return len === OPT_MSS_LEN;
    case OPT_WINDOW_SCALE:
      return len === OPT_WINDOW_SCALE_LEN;
    case OPT_SACK_PERMITTED:
      return len === OPT_SACK_PERMITTED_LEN;
    case OPT_TIMESTAMP:
      return len === OPT_TIMESTAMP_LEN;
    case OPT_SACK: {
      const n = (len - 2) >>> 3;
      return (len - 2) % 8 === 0 && n >= 1 && n <= SACK_MAX_BLOCKS;
    }
    default:
      return true;
  }
}

/** MSS option (kind 2, RFC 9293 3.7.1). */
export function tcpOptMss(b: Uint8Array, o: number): number {
  return u16(b, o + 2);
}
/** Window scale shift (kind 3, RFC 7323 2.2), as sent (may exceed WINDOW_SCALE_MAX). */
export function tcpOptWindowScale(b: Uint8Array, o: number): number {
  return b[o + 2];
}
/** Number of SACK blocks in a SACK option (kind 5, RFC 2018 3). */
export function tcpOptSackBlocks(b: Uint8Array, o: number): number {
  return (b[o + 1] - 2) >>> 3;
}
/** Left edge of SACK block `i`. */
export function tcpOptSackLeft(b: Uint8Array, o: number, i: number): number {
  return u32(b, o + 2 + 8 * i);
}
/** Right edge (first sequence number after the block) of SACK block `i`. */
export function tcpOptSackRight(b: Uint8Array, o: number, i: number): number {
  return u32(b, o + 6 + 8 * i);
}
/** TSval of a timestamps option (kind 8, RFC 7323 3.2). */
export function tcpOptTsval(b: Uint8Array, o: number): number {
  return u32(b, o + 2);
}
/** TSecr of a timestamps option. */
export function tcpOptTsecr(b: Uint8Array, o: number): number {
  return u32(b, o + 6);
}

// ---------------------------------------------------------------------------------------------
// Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4). Arguments are unsigned 32-bit numbers;
// a comparison looks at the signed 32-bit distance, so it is right across the wrap as long as
// the two numbers are less than 2^31 apart (at exactly 2^31 the order is undefined).

/** a < b in sequence space. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
/** a <= b in sequence space. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
/** a > b in sequence space. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
/** a >= b in sequence space. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
/** a + n modulo 2^32, unsigned. `n` may be negative. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** The signed distance a - b in [-2^31, 2^31): how far a is ahead of b. */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}

// ---------------------------------------------------------------------------------------------
// Checksum over the IPv4 pseudo-header and the segment (RFC 9293 3.1).

/**
 * The folded ones' complement sum of the IPv4 pseudo-header (for the IPv4 header at `ipOff`)
 * plus the `tcpLen` bytes of segment at `tcpOff`, checksum field included as it stands.
 */
export function tcpSumIpv4(b: Uint8Array, ipOff: number, tcpOff: number, tcpLen: number): number {
  return sum16(b, tcpOff, tcpLen, ipv4PseudoSum(b, ipOff, IP_PROTOCOL_TCP, tcpLen));
}

/** Whether the segment's checksum is right. */
export function verifyTcpIpv4(
  b: Uint8Array,
  ipOff: number,
  tcpOff: number,
  tcpLen: number,
): boolean {
  return checksumOf(tcpSumIpv4(b, ipOff, tcpOff, tcpLen)) === 0;
}

/**
 * Computes and writes the checksum of the segment (header and payload must be in place, and
 * the IPv4 addresses at `ipOff`). Returns the checksum written.
 */
export function fillTcpChecksumIpv4(
  b: Uint8Array,
  ipOff: number,
  tcpOff: number,
  tcpLen: number,
): number {
  setTcpChecksum(b, tcpOff, 0);
  const checksum = checksumOf(tcpSumIpv4(b, ipOff, tcpOff, tcpLen));
  setTcpChecksum(b, tcpOff, checksum);
  return checksum;
}

// ---------------------------------------------------------------------------------------------
// Repr: the parsed form.

export interface TcpOptionsRepr {
  /** Maximum segment size (kind 2). */
  mss?: number;
  /** Window scale shift (kind 3), 0..14 when sent by a conforming peer. */
  windowScale?: number;
  /** SACK-permitted (kind 4): true when present, absent otherwise. */
  sackPermitted?: boolean;
  /** SACK blocks (kind 5) as [left, right) pairs, 1..4 of them. */
  sack?: [number, number][];
  /** Timestamps (kind 8). */
  timestamp?: { tsval: number; tsecr: number };
}

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** FLG_* bits. */
  flags: number;
  window: number;
  urgent: number;
  options: TcpOptionsRepr;
  /** Bytes after the header within the `len` given to parseTcp. Not written by emitTcp. */
  payloadLength: number;
}

export type TcpParseReason = 'too-short' | 'bad-data-offset' | 'malformed-option';

export type TcpParseResult =
  | { ok: true; repr: TcpRepr }
  | {
      ok: false;
      reason: TcpParseReason;
      /** Offset in `b` of the offending option for 'malformed-option', else `off`. */
      at: number;
    };

/**
 * Parses the `len` bytes of segment at `off`. Unknown options are skipped; a later duplicate of
 * a known option replaces an earlier one. Options are checked strictly: a known kind with the
 * wrong length is 'malformed-option' (Linux would skip it; the caller can choose to accept the
 * segment with `tcpCheckHeader` and the cursor instead).
 */
export function parseTcp(b: Uint8Array, off: number, len: number): TcpParseResult {
  if (len < TCP_HEADER_LEN || off + len > b.length)
    return { ok: false, reason: 'too-short', at: off };
  const hdrLen = tcpHeaderLength(b, off);
  if (hdrLen < TCP_HEADER_LEN || hdrLen > len) {
    return { ok: false, reason: 'bad-data-offset', at: off };
  }
  const end = off + hdrLen;
  const options: TcpOptionsRepr = {};
  let o = tcpFirstOption(b, off, end);
  // Where the cursor looks next: the offending offset if it reports OPTION_MALFORMED.
  let next = off + OPTIONS;
  for (; o >= 0; o = tcpNextOption(b, o, end)) {
    next = o + tcpOptionLength(b, o);
    if (!tcpOptionWellFormed(b, o)) return { ok: false, reason: 'malformed-option', at: o };
    switch (tcpOptionKind(b, o)) {
      case OPT_MSS:
        options.mss = tcpOptMss(b, o);
        break;
      case OPT_WINDOW_SCALE:
        options.windowScale = tcpOptWindowScale(b, o);
        break;
      case OPT_SACK_PERMITTED:
        options.sackPermitted = true;
        break;
      case OPT_SACK: {
        const sack: [number, number][] = [];
        const n = tcpOptSackBlocks(b, o);
        for (let i = 0; i < n; i++) sack.push([tcpOptSackLeft(b, o, i), tcpOptSackRight(b, o, i)]);
        options.sack = sack;
        break;
      }
      case OPT_TIMESTAMP:
        options.timestamp = { tsval: tcpOptTsval(b, o), tsecr: tcpOptTsecr(b, o) };
        break;
    }
  }
  if (o === OPTION_MALFORMED) return { ok: false, reason: 'malformed-option', at: next };
  return {
    ok: true,
    repr: {
      srcPort: tcpSrcPort(b, off),
      dstPort: tcpDstPort(b, off),
      seq: tcpSeqNumber(b, off),
      ack: tcpAckNumber(b, off),
      flags: tcpFlags(b, off),
      window: tcpWindow(b, off),
      urgent: tcpUrgentPointer(b, off),
      options,
      payloadLength: len - hdrLen,
    },
  };
}

/** Thrown by emitTcp for a repr that cannot be written; the message names the field. */
export class TcpEmitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TcpEmitError';
  }
}

/**
 * Length in bytes of the options emitTcp writes for `options`; always a multiple of 4.
 * May exceed 40, which emitTcp rejects.
 */
export function tcpOptionsLength(options: TcpOptionsRepr): number {
  let n = 0;
  if (options.mss !== undefined) n += 4;
  if (options.timestamp !== undefined) n += 12;
  else if (options.sackPermitted) n += 4;
  if (options.windowScale !== undefined) n += 4;
  if (options.sack !== undefined && options.sack.length > 0) n += 4 + 8 * options.sack.length;
  return n;
}

/** Header length in bytes (20 + options) that emitTcp writes for `repr`. */
export function tcpReprHeaderLength(repr: TcpRepr): number {
  return TCP_HEADER_LEN + tcpOptionsLength(repr.options);
}

/**
 * Writes the header and options of `repr` at `off` and returns the header length. The checksum
 * is written as 0: put the payload and IPv4 header in place, then call fillTcpChecksumIpv4.
 *
 * Options go in one canonical order, each group 4-byte aligned so no trailing padding is ever
 * needed; it is the order and padding of Linux's tcp_options_write:
 *   MSS                    02 04 mm mm
 *   SACK-permitted + TS    04 02 08 0a <tsval> <tsecr>
 *   or TS alone            01 01 08 0a <tsval> <tsecr>
 *   or SACK-permitted alone 01 01 04 02
 *   window scale           01 03 03 ss
 *   SACK blocks            01 01 05 (2+8n) <left right>*n
 *
 * Throws TcpEmitError when the options need more than 40 bytes (e.g. timestamps with 4 SACK
 * blocks: RFC 2018 3 allows 3 then), when there are more than 4 SACK blocks, or when `b` has
 * no room for the header. `b` stays owned by the caller.
 */
export function emitTcp(repr: TcpRepr, b: Uint8Array, off: number): number {
  const opts = repr.options;
  if (opts.sack !== undefined && opts.sack.length > SACK_MAX_BLOCKS) {
    throw new TcpEmitError(
      `options.sack has ${opts.sack.length} blocks; at most ${SACK_MAX_BLOCKS} fit in a TCP header`,
    );
  }
  const hdrLen = tcpReprHeaderLength(repr);
  if (hdrLen > TCP_MAX_HEADER_LEN) {
    throw new TcpEmitError(
      `options need ${hdrLen - TCP_HEADER_LEN} bytes, more than the 40 a TCP header holds; send fewer SACK blocks`,
    );
  }
  if (off < 0 || off + hdrLen > b.length) {
    throw new TcpEmitError(
      `a ${hdrLen}-byte TCP header does not fit at offset ${off} of ${b.length} bytes`,
    );
  }
  setTcpSrcPort(b, off, repr.srcPort);
  setTcpDstPort(b, off, repr.dstPort);
  setTcpSeqNumber(b, off, repr.seq);
  setTcpAckNumber(b, off, repr.ack);
  setTcpHeaderLength(b, off, hdrLen);
  setTcpFlags(b, off, repr.flags);
  setTcpWindow(b, off, repr.window);
  setTcpChecksum(b, off, 0);
  setTcpUrgentPointer(b, off, repr.urgent);

  let o = off + OPTIONS;
  if (opts.mss !== undefined) {
    b[o] = OPT_MSS;
    b[o + 1] = OPT_MSS_LEN;
    setU16(b, o + 2, opts.mss);
    o += 4;
  }
  if (opts.timestamp !== undefined) {
    if (opts.sackPermitted) {
      b[o] = OPT_SACK_PERMITTED;
      b[o + 1] = OPT_SACK_PERMITTED_LEN;
    } else {
      b[o] = OPT_NOP;
      b[o + 1] = OPT_NOP;
    }
    b[o + 2] = OPT_TIMESTAMP;
    b[o + 3] = OPT_TIMESTAMP_LEN;
    setU32(b, o + 4, opts.timestamp.tsval);
    setU32(b, o + 8, opts.timestamp.tsecr);
    o += 12;
  } else if (opts.sackPermitted) {
    b[o] = OPT_NOP;
    b[o + 1] = OPT_NOP;
    b[o + 2] = OPT_SACK_PERMITTED;
    b[o + 3] = OPT_SACK_PERMITTED_LEN;
    o += 4;
  }
  if (opts.windowScale !== undefined) {
    b[o] = OPT_NOP;
    b[o + 1] = OPT_WINDOW_SCALE;
    b[o + 2] = OPT_WINDOW_SCALE_LEN;
    b[o + 3] = opts.windowScale;
    o += 4;
  }
  if (opts.sack !== undefined && opts.sack.length > 0) {
    b[o] = OPT_NOP;
    b[o + 1] = OPT_NOP;
    b[o + 2] = OPT_SACK;
    b[o + 3] = 2 + 8 * opts.sack.length;
    o += 4;
    for (const [left, right] of opts.sack) {
      setU32(b, o, left);
      setU32(b, o + 4, right);
      o += 8;
    }
  }
  return hdrLen;
}
