import { OptionError } from '@bypass/atomics-sync';

/**
 * The Toeplitz hash of Microsoft's Receive Side Scaling, as NICs compute it in hardware
 * (Intel 82599/X710/E810, Mellanox, virtio-net's RSS): for every set bit of the input, counted
 * from the most significant bit of the first byte, XOR in the 32 bits of the secret key that
 * start at that bit position. The input is the flow tuple in network byte order: source
 * address, destination address, then (for the 4-tuple) source port and destination port.
 *
 * Two forms:
 * - `toeplitzHash(key, input)`: the definition, bit by bit. Slow; for tests and for checking.
 * - `Toeplitz`: the same function from a table built once per key, reading the tuple straight
 *   out of a frame at an offset. Nothing is allocated per packet.
 */

/**
 * The 40-byte key of Microsoft's RSS verification suite, which Intel NICs (and DPDK's ixgbe,
 * i40e, ice and testpmd) use by default. 40 bytes covers the longest input, the IPv6 4-tuple
 * (36 bytes), plus the 4 bytes of the last window.
 */
// biome-ignore format: a table of 40 bytes reads best ten to a line
export const RSS_DEFAULT_KEY: Uint8Array = Uint8Array.of(
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
  0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
  0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
  0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
);

/**
 * The symmetric key of Woo and Park, "Scalable TCP Session Monitoring with Symmetric Receive-side
 * Scaling" (KAIST, 2012): 0x6d5a repeated. A key with a 16-bit period hashes (a, b, pa, pb) and
 * (b, a, pb, pa) alike, because swapping the addresses (32 or 128 bits) and the ports (16 bits)
 * moves each field by a multiple of the period. Both directions of a connection then land on
 * the same queue, at the price of a weaker spread than the default key.
 */
export const RSS_SYMMETRIC_KEY: Uint8Array = new Uint8Array(40).map((_, i) =>
  i % 2 === 0 ? 0x6d : 0x5a,
);

/** The 32 key bits starting at bit `bit` (bit 0 = the MSB of key[0]); bits past the end are 0. */
function keyWindow(key: Uint8Array, bit: number): number {
  const i = bit >>> 3;
  const shift = bit & 7;
  const hi =
    ((key[i] << 24) | ((key[i + 1] ?? 0) << 16) | ((key[i + 2] ?? 0) << 8) | (key[i + 3] ?? 0)) >>>
    0;
  const next = key[i + 4] ?? 0;
  return shift === 0 ? hi : ((hi << shift) | (next >>> (8 - shift))) >>> 0;
}

/**
 * The Toeplitz hash of `input` under `key`, by the definition (one key window per input bit).
 *
 * @param key the secret key; it must be at least `input.length + 4` bytes long, since the last
 *   input bit uses the 32 key bits that start at its position.
 * @param input the bytes to hash (for RSS: src addr, dst addr[, src port, dst port] in network
 *   order). Neither array is kept or changed.
 * @returns the hash, an unsigned 32-bit number.
 * @throws RangeError if the key is shorter than `input.length + 4` bytes.
 */
export function toeplitzHash(key: Uint8Array, input: Uint8Array): number {
  if (key.length < input.length + 4) {
    throw new RangeError(
      `toeplitzHash: a ${input.length}-byte input needs a key of at least ${input.length + 4} bytes, got ${key.length}`,
    );
  }
  let hash = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i];
    for (let b = 0; b < 8; b++) {
      if ((byte & (0x80 >>> b)) !== 0) hash ^= keyWindow(key, i * 8 + b);
    }
  }
  return hash >>> 0;
}

/**
 * The RSS key in `hex` (two hex digits per byte, as ethdev's `rss.key` and DPDK's testpmd
 * `port config ... rss-hash-key` take it), or the default key when `hex` is undefined. Throws
 * OptionError naming `option` when the text is not `RSS_KEY_MIN_LENGTH` bytes of hex.
 */
export function rssKeyFromHex(hex: string | undefined, option = 'rss.key'): Uint8Array {
  if (hex === undefined) return RSS_DEFAULT_KEY;
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex) || hex.length !== RSS_KEY_MIN_LENGTH * 2) {
    throw new OptionError(
      option,
      hex,
      `${RSS_KEY_MIN_LENGTH} bytes as ${RSS_KEY_MIN_LENGTH * 2} hex digits`,
    );
  }
  const key = new Uint8Array(hex.length / 2);
  for (let i = 0; i < key.length; i++) key[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return key;
}

/** The key as lowercase hex, the form `rssKeyFromHex` reads. */
export function rssKeyToHex(key: Uint8Array): string {
  let s = '';
  for (const b of key) s += b.toString(16).padStart(2, '0');
  return s;
}

/** The shortest key `Toeplitz` accepts: enough for the IPv6 4-tuple (36 bytes of input). */
export const RSS_KEY_MIN_LENGTH = 40;

// IPv4 header: addresses at 12 (src) and 16 (dst). IPv6 header: 8 (src) and 24 (dst).
const IPV4_SRC = 12;
const IPV6_SRC = 8;
const IPV6_ADDRS_LEN = 32;

/**
 * A Toeplitz hasher for one key: a table of 256 pre-XORed key windows per input byte position,
 * so a byte costs one lookup instead of eight conditional XORs (the classic table method; one
 * table per key, 256 * 4 bytes per input byte position: 36 KiB for the 40-byte key).
 *
 * The hash is linear over GF(2): hash(x ^ y) = hash(x) ^ hash(y), so the contribution of each
 * input byte can be taken on its own and XORed together. The table entry for (position i,
 * value v) is the XOR of the key windows at bits 8i..8i+7 that v has set.
 *
 * Every method reads its input in place from a byte view at an offset, allocates nothing and
 * returns an unsigned 32-bit number. Offsets are not checked against the view: the caller has
 * already checked the header lengths (see `rssHashFrame`).
 */
export class Toeplitz {
  /** A copy of the key: changing the caller's array later does not change the hasher. */
  readonly key: Uint8Array;
  /** The longest input `hashBytes` takes: key.length - 4. */
  readonly maxInputLength: number;
  /** table[i * 256 + v]: what byte value v at input position i contributes (as int32). */
  private readonly table: Int32Array;

  /**
   * @param key the secret key, at least 40 bytes (DPDK's rss_key_len for most NICs is 40; some
   *   take 52). Default: `RSS_DEFAULT_KEY`. Copied.
   * @throws OptionError if the key is shorter than 40 bytes.
   */
  constructor(key: Uint8Array = RSS_DEFAULT_KEY) {
    if (!(key instanceof Uint8Array) || key.length < RSS_KEY_MIN_LENGTH) {
      throw new OptionError(
        'key.length',
        key instanceof Uint8Array ? key.length : key,
        `a Uint8Array of at least ${RSS_KEY_MIN_LENGTH} bytes (the IPv6 4-tuple needs 36 bytes plus 4)`,
      );
    }
    this.key = Uint8Array.from(key);
    this.maxInputLength = key.length - 4;
    const table = new Int32Array(this.maxInputLength * 256);
    for (let i = 0; i < this.maxInputLength; i++) {
      const base = i * 256;
      // Each value's entry is that of the value without its lowest set bit, XOR that bit's window.
      for (let v = 1; v < 256; v++) {
        const low = v & -v;
        const bit = 7 - (31 - Math.clz32(low));
        table[base + v] = table[base + (v ^ low)] ^ keyWindow(this.key, i * 8 + bit);
      }
    }
    this.table = table;
  }

  /**
   * Hash `length` bytes of `bytes` from `offset`. Same result as `toeplitzHash(key, input)`.
   * @throws RangeError if `length` exceeds `maxInputLength` (the key has no bits for the rest).
   */
  hashBytes(bytes: Uint8Array, offset: number, length: number): number {
    if (length > this.maxInputLength) {
      throw new RangeError(
        `Toeplitz.hashBytes: ${length} bytes is longer than the key allows (${this.maxInputLength})`,
      );
    }
    const t = this.table;
    let h = 0;
    for (let i = 0; i < length; i++) h ^= t[(i << 8) | bytes[offset + i]];
    return h >>> 0;
  }

  /**
   * The RSS hash of an IPv4 packet: the 2-tuple (src addr, dst addr) or, with `l4Offset >= 0`,
   * the 4-tuple (src addr, dst addr, src port, dst port).
   *
   * @param bytes the frame.
   * @param ipOffset where the IPv4 header starts in `bytes`.
   * @param l4Offset where the TCP/UDP/SCTP header starts (its first 4 bytes are the ports), or
   *   -1 to hash the addresses only.
   */
  hashV4(bytes: Uint8Array, ipOffset: number, l4Offset: number): number {
    const t = this.table;
    const a = ipOffset + IPV4_SRC;
    // Unrolled: one lookup per tuple byte, positions 0..7 the addresses, 8..11 the ports.
    let h =
      t[bytes[a]] ^
      t[256 | bytes[a + 1]] ^
      t[512 | bytes[a + 2]] ^
      t[768 | bytes[a + 3]] ^
      t[1024 | bytes[a + 4]] ^
      t[1280 | bytes[a + 5]] ^
      t[1536 | bytes[a + 6]] ^
      t[1792 | bytes[a + 7]];
    if (l4Offset >= 0) {
      h ^=
        t[2048 | bytes[l4Offset]] ^
        t[2304 | bytes[l4Offset + 1]] ^
        t[2560 | bytes[l4Offset + 2]] ^
        t[2816 | bytes[l4Offset + 3]];
    }
    return h >>> 0;
  }

  /**
   * The IPv4 4-tuple hash from numbers rather than a frame: what a NIC will compute for a
   * packet of this flow. For choosing an ephemeral port whose reply lands on a given queue.
   * @param srcAddr source address as an unsigned 32-bit number (192.0.2.1 = 0xc0000201).
   * @param dstAddr destination address, likewise.
   * @param srcPort source port, 0..65535.
   * @param dstPort destination port, 0..65535.
   */
  hashV4Tuple(srcAddr: number, dstAddr: number, srcPort: number, dstPort: number): number {
    const t = this.table;
    return (
      (t[srcAddr >>> 24] ^
        t[256 | ((srcAddr >>> 16) & 0xff)] ^
        t[512 | ((srcAddr >>> 8) & 0xff)] ^
        t[768 | (srcAddr & 0xff)] ^
        t[1024 | (dstAddr >>> 24)] ^
        t[1280 | ((dstAddr >>> 16) & 0xff)] ^
        t[1536 | ((dstAddr >>> 8) & 0xff)] ^
        t[1792 | (dstAddr & 0xff)] ^
        t[2048 | ((srcPort >>> 8) & 0xff)] ^
        t[2304 | (srcPort & 0xff)] ^
        t[2560 | ((dstPort >>> 8) & 0xff)] ^
        t[2816 | (dstPort & 0xff)]) >>>
      0
    );
  }

  /**
   * The RSS hash of an IPv6 packet: the 2-tuple (src addr, dst addr: 32 bytes) or, with
   * `l4Offset >= 0`, the 4-tuple (addresses, src port, dst port: 36 bytes).
   *
   * @param bytes the frame.
   * @param ipOffset where the IPv6 header starts in `bytes`.
   * @param l4Offset where the TCP/UDP/SCTP header starts, or -1 to hash the addresses only.
   */
  hashV6(bytes: Uint8Array, ipOffset: number, l4Offset: number): number {
    const t = this.table;
    const a = ipOffset + IPV6_SRC;
    let h = 0;
    for (let i = 0; i < IPV6_ADDRS_LEN; i++) h ^= t[(i << 8) | bytes[a + i]];
    if (l4Offset >= 0) {
      h ^=
        t[(32 << 8) | bytes[l4Offset]] ^
        t[(33 << 8) | bytes[l4Offset + 1]] ^
        t[(34 << 8) | bytes[l4Offset + 2]] ^
        t[(35 << 8) | bytes[l4Offset + 3]];
    }
    return h >>> 0;
  }
}
