/**
 * @bypass/mempool: fixed-size object pools with per-lcore caches (mempool.ts), and packet
 * buffers on them (mbuf.ts), after DPDK's rte_mempool and rte_mbuf, with the offload flags of
 * an mbuf's olFlags field (mbuf-flags.ts, rte_mbuf's ol_flags).
 */

export {
  MBUF_DEFAULT_DATAROOM,
  MBUF_DEFAULT_HEADROOM,
  MBUF_MAX_DATAROOM,
  MBUF_MAX_SEGS,
  MBUF_META_WORDS,
  MBUF_NONE,
  MBUF_USER_WORDS,
  MbufField,
  mbufPoolOf,
  PktmbufPool,
  type PktmbufPoolDescriptor,
  type PktmbufPoolOptions,
} from './mbuf.js';
export { MbufOlFlag } from './mbuf-flags.js';
export {
  type AttachOptions,
  HANDLE_INDEX_MASK,
  MAX_CACHE_SIZE,
  MAX_POOL_OBJECTS,
  Mempool,
  type MempoolAudit,
  type MempoolDescriptor,
  MempoolError,
  type MempoolOptions,
} from './mempool.js';
