/**
 * The Internet checksum (RFC 1071) and the IPv4 pseudo-header sum (RFC 768, RFC 9293 3.1),
 * shared by IPv4, ICMP, UDP and TCP. Sums are "folded": integers in 0..0xffff.
 */

/** Thrown by the wire layer's emit functions for a bad argument (a field out of range, a buffer too small). */
export class WireError extends Error {
  override readonly name = 'WireError';
}

/** Throws WireError unless `v` is an integer in 0..max, naming the field. Shared by the emitters. */
export function checkInt(field: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new WireError(`${field} must be an integer from 0 to ${max}; got ${v}`);
  }
}

/** Throws WireError unless b[off .. off+len) lies inside `b`. */
export function checkRoom(what: string, b: Uint8Array, off: number, len: number): void {
  if (!Number.isInteger(off) || off < 0 || off + len > b.length) {
    throw new WireError(`${what} needs ${len} bytes at offset ${off}; the buffer has ${b.length}`);
  }
}

/** Byte offset of the source address in an IPv4 header; the destination follows it (RFC 791). */
const IPV4_SRC = 12;

function fold(sum: number): number {
  // Division rather than >>> so that sums above 2^32 (huge inputs) still fold correctly.
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** Ones' complement sum of bytes[off .. off+len) as big-endian 16-bit words, folded to 16 bits, added to `initial` (a folded sum). An odd last byte is padded with zero. RFC 1071. */
export function sum16(bytes: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  const end = off + len;
  let i = off;
  // 2^31 / 0xffff words fit before a 32-bit int would overflow; fold every 16384 words anyway.
  while (i + 1 < end) {
    const stop = Math.min(end - 1, i + 32768);
    for (; i < stop; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
    sum = fold(sum);
  }
  if (i < end) sum += bytes[i] << 8;
  return fold(sum);
}

/**
 * `sum16` through a DataView over the same bytes: one 32-bit big-endian load per 4 bytes, about
 * twice as fast on a 1460-byte segment (3.3 against 1.8 GB/s here). `off` is relative to the
 * view. Same result as `sum16`.
 */
export function sum16View(view: DataView, off: number, len: number, initial = 0): number {
  let lo = initial;
  let hi = 0;
  let i = off;
  const end = off + len;
  // Doubles hold the partial sums exactly: 2^53 / 2^16 words is far beyond any packet.
  for (const end4 = end - 3; i < end4; i += 4) {
    const w = view.getUint32(i);
    lo += w & 0xffff;
    hi += w >>> 16;
  }
  let sum = lo + hi;
  if (i + 1 < end) {
    sum += view.getUint16(i);
    i += 2;
  }
  if (i < end) sum += view.getUint8(i) << 8;
  return fold(sum);
}

/** The checksum field value for a folded sum: (~sum) & 0xffff. */
export function checksumOf(sum: number): number {
  return ~sum & 0xffff;
}

/** The folded sum of the IPv4 pseudo-header (RFC 768/9293: source, destination, zero, protocol, L4 length) for the IPv4 header at ipOff. */
export function ipv4PseudoSum(
  bytes: Uint8Array,
  ipOff: number,
  protocol: number,
  l4Length: number,
): number {
  return fold(sum16(bytes, ipOff + IPV4_SRC, 8) + (protocol & 0xff) + (l4Length & 0xffff));
}
