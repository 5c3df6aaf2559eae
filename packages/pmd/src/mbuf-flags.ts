/** rx offload flags in mbuf olFlags, with DPDK's bit positions (rte_mbuf_core.h). */
export const MbufOlFlag = {
  /** RTE_MBUF_F_RX_RSS_HASH: rssHash holds the Toeplitz hash the "NIC" computed. */
  RX_RSS_HASH: 1 << 1,
} as const;
