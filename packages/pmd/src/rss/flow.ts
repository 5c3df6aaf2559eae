import {
  ETH_HEADER_LEN,
  ETH_TYPE,
  ETH_VLAN_TAG_LEN,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_VLAN,
  IP_PROTO_SCTP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_FLAG_MF,
  IPV4_FLG_OFF,
  IPV4_FRAG_OFFSET_MASK,
  IPV4_MIN_HEADER_LEN,
  IPV4_PROTOCOL,
  IPV6_EXT_DEST_OPTS,
  IPV6_EXT_FRAGMENT,
  IPV6_EXT_HOP_BY_HOP,
  IPV6_EXT_ROUTING,
  IPV6_HEADER_LEN,
  IPV6_NEXT_HEADER,
  type Toeplitz,
} from '@bypass/net';

// The flags the parser reads, as plain module constants: read in the hot path, these cost
// 7.6 ns per IPv4 frame where RssHf's properties and an exported binding cost 14 (Node 20).
const HF_IPV4 = 1 << 2;
const HF_FRAG_IPV4 = 1 << 3;
const HF_NONFRAG_IPV4_TCP = 1 << 4;
const HF_NONFRAG_IPV4_UDP = 1 << 5;
const HF_NONFRAG_IPV4_SCTP = 1 << 6;
const HF_NONFRAG_IPV4_OTHER = 1 << 7;
const HF_IPV6 = 1 << 8;
const HF_FRAG_IPV6 = 1 << 9;
const HF_NONFRAG_IPV6_TCP = 1 << 10;
const HF_NONFRAG_IPV6_UDP = 1 << 11;
const HF_NONFRAG_IPV6_SCTP = 1 << 12;
const HF_NONFRAG_IPV6_OTHER = 1 << 13;
const HF_IPV6_EX = 1 << 15;
const HF_IPV6_TCP_EX = 1 << 16;
const HF_IPV6_UDP_EX = 1 << 17;

/**
 * Which packets a port hashes, and on which fields: DPDK's `rss_hf` (rte_eth_rss_conf), with
 * the bit positions of rte_ethdev.h (`RTE_ETH_RSS_*`), so a mask written for DPDK means the same
 * here. DPDK's mask is 64 bits; the flags from bit 32 up (ECPRI, MPLS, the checksum and
 * L3/L4_SRC_ONLY/DST_ONLY modifiers) are left out, since JavaScript's bitwise operators are
 * 32-bit and `rssHashFrame` does not use them. A mask is an unsigned 32-bit number; combine
 * flags with `|` (and `>>> 0` if PPPOE, bit 31, is among them).
 *
 * `rssHashFrame` honours the flags in `RSS_HF_SUPPORTED`; the others are named so that a DPDK
 * configuration can be read and rejected by name.
 */
export const RssHf = {
  IPV4: HF_IPV4,
  FRAG_IPV4: HF_FRAG_IPV4,
  NONFRAG_IPV4_TCP: HF_NONFRAG_IPV4_TCP,
  NONFRAG_IPV4_UDP: HF_NONFRAG_IPV4_UDP,
  NONFRAG_IPV4_SCTP: HF_NONFRAG_IPV4_SCTP,
  NONFRAG_IPV4_OTHER: HF_NONFRAG_IPV4_OTHER,
  IPV6: HF_IPV6,
  FRAG_IPV6: HF_FRAG_IPV6,
  NONFRAG_IPV6_TCP: HF_NONFRAG_IPV6_TCP,
  NONFRAG_IPV6_UDP: HF_NONFRAG_IPV6_UDP,
  NONFRAG_IPV6_SCTP: HF_NONFRAG_IPV6_SCTP,
  NONFRAG_IPV6_OTHER: HF_NONFRAG_IPV6_OTHER,
  L2_PAYLOAD: 1 << 14,
  IPV6_EX: HF_IPV6_EX,
  IPV6_TCP_EX: HF_IPV6_TCP_EX,
  IPV6_UDP_EX: HF_IPV6_UDP_EX,
  PORT: 1 << 18,
  VXLAN: 1 << 19,
  GENEVE: 1 << 20,
  NVGRE: 1 << 21,
  GTPU: 1 << 23,
  ETH: 1 << 24,
  S_VLAN: 1 << 25,
  C_VLAN: 1 << 26,
  ESP: 1 << 27,
  AH: 1 << 28,
  L2TPV3: 1 << 29,
  PFCP: 1 << 30,
  PPPOE: 2 ** 31,
  /** RTE_ETH_RSS_IP: every IP packet on its addresses. */
  IP:
    HF_IPV4 |
    HF_FRAG_IPV4 |
    HF_NONFRAG_IPV4_OTHER |
    HF_IPV6 |
    HF_FRAG_IPV6 |
    HF_NONFRAG_IPV6_OTHER |
    HF_IPV6_EX,
  /** RTE_ETH_RSS_TCP: TCP over IPv4 and IPv6 on the 4-tuple. */
  TCP: HF_NONFRAG_IPV4_TCP | HF_NONFRAG_IPV6_TCP | HF_IPV6_TCP_EX,
  /** RTE_ETH_RSS_UDP: UDP over IPv4 and IPv6 on the 4-tuple. */
  UDP: HF_NONFRAG_IPV4_UDP | HF_NONFRAG_IPV6_UDP | HF_IPV6_UDP_EX,
  /** RTE_ETH_RSS_SCTP: SCTP over IPv4 and IPv6 on addresses and ports. */
  SCTP: HF_NONFRAG_IPV4_SCTP | HF_NONFRAG_IPV6_SCTP,
} as const;

/** The rss_hf flags `rssHashFrame` acts on (DPDK's dev_info.flow_type_rss_offloads). */
export const RSS_HF_SUPPORTED: number = RssHf.IP | RssHf.TCP | RssHf.UDP | RssHf.SCTP;

/** What `rssHashFrame` returns for a frame it does not hash (not IP, truncated, or not enabled). */
const NOT_HASHED = -1;
export const RSS_NOT_HASHED = NOT_HASHED;

// The wire constants, from @bypass/net, copied into module constants for the same reason as
// the flags above.
const ETH_HLEN = ETH_HEADER_LEN;
const ETH_TYPE_AT = ETH_TYPE;
const VLAN_HLEN = ETH_VLAN_TAG_LEN;
const ETHERTYPE_V4 = ETHERTYPE_IPV4;
const ETHERTYPE_V6 = ETHERTYPE_IPV6;
const ETHERTYPE_TAG = ETHERTYPE_VLAN;
const IPV4_MIN_HLEN = IPV4_MIN_HEADER_LEN;
const IPV4_FRAG = IPV4_FLG_OFF; // flags (3 bits) and fragment offset (13 bits)
const IPV4_MF_AND_OFFSET = IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK; // DF alone is no fragment
const IPV4_PROTO = IPV4_PROTOCOL;
const IPV6_HLEN = IPV6_HEADER_LEN;
const IPV6_NEXT = IPV6_NEXT_HEADER;
const PROTO_TCP = IP_PROTO_TCP;
const PROTO_UDP = IP_PROTO_UDP;
const PROTO_SCTP = IP_PROTO_SCTP;
const PROTO_V6_HOP_BY_HOP = IPV6_EXT_HOP_BY_HOP;
const PROTO_V6_ROUTING = IPV6_EXT_ROUTING;
const PROTO_V6_FRAGMENT = IPV6_EXT_FRAGMENT;
const PROTO_V6_DEST_OPTS = IPV6_EXT_DEST_OPTS;
// Source and destination port: the first 4 bytes of TCP, UDP and SCTP headers alike.
const PORTS_LEN = 4;

/**
 * The RSS hash a NIC would give an Ethernet frame, under the enabled `rssHf` flags. Parses
 * Ethernet II with at most one 802.1Q tag, then IPv4 or IPv6, and picks the fields as
 * hardware does:
 *
 * - TCP, UDP or SCTP, not a fragment, with that protocol's NONFRAG_IPVx_* flag (for IPv6 TCP
 *   and UDP, IPV6_TCP_EX / IPV6_UDP_EX too): the 4-tuple (src addr, dst addr, src port,
 *   dst port); without it, but with IPV4 / IPV6: the 2-tuple.
 * - An IPv4 fragment (MF set or a non-zero offset; DF alone is not one) or an IPv6 packet whose
 *   next header is a Fragment header: the 2-tuple, with IPVx or FRAG_IPVx. A NIC cannot see
 *   the ports of later fragments, so it hashes every fragment of a datagram on the addresses.
 * - Any other protocol: the 2-tuple with IPVx or NONFRAG_IPVx_OTHER. IPv6 extension headers are
 *   not walked: Hop-by-Hop, Routing or Destination Options first means the 2-tuple, with IPV6
 *   or IPV6_EX.
 * - IPv4 options are skipped by IHL. A TCP/UDP/SCTP header cut short by the end of the frame
 *   gets the 2-tuple.
 *
 * @param toeplitz the port's hasher (its key).
 * @param frame the bytes holding the frame; read, never written or kept.
 * @param offset where the Ethernet header starts in `frame`.
 * @param length the frame's length in bytes (no FCS).
 * @param rssHf the enabled `RssHf` flags.
 * @returns the hash as an unsigned 32-bit number, or `RSS_NOT_HASHED` (-1) for a frame that
 *   is not IPv4/IPv6, is too short for its headers, or whose type `rssHf` does not enable.
 *   Allocates nothing.
 */
export function rssHashFrame(
  toeplitz: Toeplitz,
  frame: Uint8Array,
  offset: number,
  length: number,
  rssHf: number,
): number {
  if (length < ETH_HLEN) return NOT_HASHED;
  const end = offset + length;
  let l3 = offset + ETH_HLEN;
  let etherType = (frame[offset + ETH_TYPE_AT] << 8) | frame[offset + ETH_TYPE_AT + 1];
  if (etherType === ETHERTYPE_TAG) {
    if (length < ETH_HLEN + VLAN_HLEN) return NOT_HASHED;
    // The tag's TCI sits where the EtherType was; the real EtherType follows it.
    etherType = (frame[l3 + 2] << 8) | frame[l3 + 3];
    l3 += VLAN_HLEN;
  }
  if (etherType === ETHERTYPE_V4) return rssHashIpv4(toeplitz, frame, l3, end, rssHf);
  if (etherType === ETHERTYPE_V6) return rssHashIpv6(toeplitz, frame, l3, end, rssHf);
  return NOT_HASHED;
}

/**
 * `rssHashFrame` from the IPv4 header on, for callers that already know where it is.
 * @param ipOffset where the IPv4 header starts; `end`: the offset just past the packet.
 * @returns the hash (unsigned 32-bit) or `RSS_NOT_HASHED`.
 */
export function rssHashIpv4(
  toeplitz: Toeplitz,
  bytes: Uint8Array,
  ipOffset: number,
  end: number,
  rssHf: number,
): number {
  if (ipOffset + IPV4_MIN_HLEN > end) return NOT_HASHED;
  const versionIhl = bytes[ipOffset];
  const ihl = (versionIhl & 0x0f) << 2;
  if (versionIhl >>> 4 !== 4 || ihl < IPV4_MIN_HLEN || ipOffset + ihl > end) {
    return NOT_HASHED;
  }
  // Decide the fields and the flags that enable them, then hash at one call site: V8 inlines
  // by bytecode size, and with a call per case the hash was no longer inlined here.
  let l4 = -1;
  let enabling = HF_IPV4 | HF_NONFRAG_IPV4_OTHER;
  const fragment = (bytes[ipOffset + IPV4_FRAG] << 8) | bytes[ipOffset + IPV4_FRAG + 1];
  if ((fragment & IPV4_MF_AND_OFFSET) !== 0) {
    enabling = HF_IPV4 | HF_FRAG_IPV4;
  } else {
    const proto = bytes[ipOffset + IPV4_PROTO];
    const l4Flag =
      proto === PROTO_TCP
        ? HF_NONFRAG_IPV4_TCP
        : proto === PROTO_UDP
          ? HF_NONFRAG_IPV4_UDP
          : proto === PROTO_SCTP
            ? HF_NONFRAG_IPV4_SCTP
            : 0;
    if (l4Flag !== 0) {
      if ((rssHf & l4Flag) !== 0 && ipOffset + ihl + PORTS_LEN <= end) {
        l4 = ipOffset + ihl;
        enabling = l4Flag;
      } else {
        enabling = HF_IPV4;
      }
    }
  }
  return (rssHf & enabling) !== 0 ? toeplitz.hashV4(bytes, ipOffset, l4) : NOT_HASHED;
}

/**
 * `rssHashFrame` from the IPv6 header on, for callers that already know where it is.
 * @param ipOffset where the IPv6 header starts; `end`: the offset just past the packet.
 * @returns the hash (unsigned 32-bit) or `RSS_NOT_HASHED`.
 */
export function rssHashIpv6(
  toeplitz: Toeplitz,
  bytes: Uint8Array,
  ipOffset: number,
  end: number,
  rssHf: number,
): number {
  if (ipOffset + IPV6_HLEN > end || bytes[ipOffset] >>> 4 !== 6) return NOT_HASHED;
  const next = bytes[ipOffset + IPV6_NEXT];
  let l4 = -1;
  let enabling = HF_IPV6 | HF_NONFRAG_IPV6_OTHER;
  const l4Flag =
    next === PROTO_TCP
      ? HF_NONFRAG_IPV6_TCP | HF_IPV6_TCP_EX
      : next === PROTO_UDP
        ? HF_NONFRAG_IPV6_UDP | HF_IPV6_UDP_EX
        : next === PROTO_SCTP
          ? HF_NONFRAG_IPV6_SCTP
          : 0;
  if (l4Flag !== 0) {
    if ((rssHf & l4Flag) !== 0 && ipOffset + IPV6_HLEN + PORTS_LEN <= end) {
      l4 = ipOffset + IPV6_HLEN;
      enabling = l4Flag;
    } else {
      enabling = HF_IPV6;
    }
  } else if (next === PROTO_V6_FRAGMENT) {
    enabling = HF_IPV6 | HF_FRAG_IPV6;
  } else if (
    next === PROTO_V6_HOP_BY_HOP ||
    next === PROTO_V6_ROUTING ||
    next === PROTO_V6_DEST_OPTS
  ) {
    enabling = HF_IPV6 | HF_IPV6_EX;
  }
  return (rssHf & enabling) !== 0 ? toeplitz.hashV6(bytes, ipOffset, l4) : NOT_HASHED;
}
