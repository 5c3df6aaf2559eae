/**
 * Offload flags in an mbuf's olFlags field (MbufField.OL_FLAGS), kept beside the mbuf fields they
 * describe as rte_mbuf keeps its ol_flags. rx flags sit at DPDK's bit positions
 * (rte_mbuf_core.h); DPDK's tx flags live above bit 32 of its 64-bit ol_flags, so ours take free
 * high bits of our 32-bit word instead, with DPDK's names.
 */
export const MbufOlFlag = {
  /** RTE_MBUF_F_RX_RSS_HASH: rssHash holds the Toeplitz hash the "NIC" computed. */
  RX_RSS_HASH: 1 << 1,
  /** RTE_MBUF_F_RX_L4_CKSUM_NONE: the L4 checksum was not computed (the data is good: a local
   * sender left it to offload). Its two bits are RTE_MBUF_F_RX_L4_CKSUM_MASK. */
  RX_L4_CKSUM_NONE: (1 << 3) | (1 << 8),
  RX_L4_CKSUM_MASK: (1 << 3) | (1 << 8),
  /** RTE_MBUF_F_RX_LRO: a large packet made of several TCP segments; tsoSegsz is their size. */
  RX_LRO: 1 << 16,
  /** RTE_MBUF_F_TX_TCP_SEG: the device cuts this packet into tsoSegsz-byte TCP segments. */
  TX_TCP_SEG: 1 << 26,
  /** RTE_MBUF_F_TX_TCP_CKSUM / TX_UDP_CKSUM: the device fills in the L4 checksum. */
  TX_TCP_CKSUM: 1 << 27,
  TX_UDP_CKSUM: 1 << 28,
} as const;
