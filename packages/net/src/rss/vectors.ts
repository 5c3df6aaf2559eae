/**
 * The RSS verification suite: flows and their Toeplitz hashes under `RSS_DEFAULT_KEY`, as
 * published by Microsoft ("Verifying the RSS Hash Calculation",
 * https://learn.microsoft.com/windows-hardware/drivers/network/verifying-the-rss-hash-calculation)
 * and in the Intel 82599 datasheet (7.1.2.8.3, "RSS Verification Suite"). The same table is
 * reproduced by DPDK's app/test/test_thash.c and fd.io VPP's Toeplitz test.
 *
 * Note the order: the published table lists the destination first, but the hash input is
 * (source address, destination address, source port, destination port). `hash2` is the hash
 * of the addresses alone (the IPv4/IPv6 column), `hash4` with the ports (the TCP column).
 *
 * Exported so that a driver or a benchmark can check its RSS against hardware at start-up.
 */
export interface RssVector {
  readonly src: string;
  readonly dst: string;
  /** The addresses in network byte order (4 or 16 bytes). */
  readonly srcBytes: Uint8Array;
  readonly dstBytes: Uint8Array;
  readonly sport: number;
  readonly dport: number;
  /** Hash of (src, dst). */
  readonly hash2: number;
  /** Hash of (src, dst, sport, dport). */
  readonly hash4: number;
}

function ipv4Bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split('.'), Number);
}

function ipv6Bytes(text: string): Uint8Array {
  const [head, tail] = text.split('::');
  const groups = (s: string | undefined) =>
    s ? s.split(':').map((g) => Number.parseInt(g, 16)) : [];
  const h = groups(head);
  const t = groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >>> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function vector(
  family: 4 | 6,
  src: string,
  sport: number,
  dst: string,
  dport: number,
  hash2: number,
  hash4: number,
): RssVector {
  const bytes = family === 4 ? ipv4Bytes : ipv6Bytes;
  return { src, dst, srcBytes: bytes(src), dstBytes: bytes(dst), sport, dport, hash2, hash4 };
}

/** IPv4: source, source port, destination, destination port, 2-tuple hash, 4-tuple hash. */
export const RSS_VERIFICATION_IPV4: readonly RssVector[] = [
  vector(4, '66.9.149.187', 2794, '161.142.100.80', 1766, 0x323e8fc2, 0x51ccc178),
  vector(4, '199.92.111.2', 14230, '65.69.140.83', 4739, 0xd718262a, 0xc626b0ea),
  vector(4, '24.19.198.95', 12898, '12.22.207.184', 38024, 0xd2d0a5de, 0x5c2b394a),
  vector(4, '38.27.205.30', 48228, '209.142.163.6', 2217, 0x82989176, 0xafc7327f),
  vector(4, '153.39.163.191', 44251, '202.188.127.2', 1303, 0x5d1809c5, 0x10e828a2),
];

/** IPv6: source, source port, destination, destination port, 2-tuple hash, 4-tuple hash. */
export const RSS_VERIFICATION_IPV6: readonly RssVector[] = [
  vector(6, '3ffe:2501:200:1fff::7', 2794, '3ffe:2501:200:3::1', 1766, 0x2cc18cd5, 0x40207d3d),
  vector(6, '3ffe:501:8::260:97ff:fe40:efab', 14230, 'ff02::1', 4739, 0x0f0c461c, 0xdde51bbf),
  vector(
    6,
    '3ffe:1900:4545:3:200:f8ff:fe21:67cf',
    44251,
    'fe80::200:f8ff:fe21:67cf',
    38024,
    0x4b61e985,
    0x02d1feef,
  ),
];
