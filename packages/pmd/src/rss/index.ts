/**
 * Receive side scaling: the Toeplitz hash bit-exact with NIC hardware, DPDK's rss_hf flags
 * and frame classification, and the redirection table that maps a hash to an rx queue.
 */

export {
  Reta,
  type RetaOptions,
  RSS_DEFAULT_KEY,
  RSS_KEY_MIN_LENGTH,
  RSS_SYMMETRIC_KEY,
  Toeplitz,
  toeplitzHash,
} from '@bypass/net';
export {
  RSS_HF_SUPPORTED,
  RSS_NOT_HASHED,
  RssHf,
  rssHashFrame,
  rssHashIpv4,
  rssHashIpv6,
} from './flow.js';
