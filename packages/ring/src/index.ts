/**
 * @bypass/ring: lock-free rings of u32 handles on SharedArrayBuffer, after DPDK's rte_ring.
 * See ring.ts for the sync modes, the Bulk/Burst families and who owns what.
 */
export { Ring, type RingDescriptor, type RingOptions, type SyncMode } from './ring.js';
