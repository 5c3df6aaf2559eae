import {
  Mempool,
  type MempoolOptions,
  PktmbufPool,
  type PktmbufPoolOptions,
} from '@bypass/mempool';
import { Ring, type RingOptions } from '@bypass/ring';
import { context } from './context.js';
import { EalError } from './errors.js';
import { type Memzone, MemzoneKind } from './memory.js';

/**
 * Rings, mempools and mbuf pools that live in EAL memzones, created by name on one lcore and
 * found by name on any other (rte_ring_create / rte_ring_lookup, rte_pktmbuf_pool_create /
 * rte_mempool_lookup). A pool looked up on an lcore gets that lcore's cache automatically.
 */

export function memzoneReserve(name: string, bytes: number, align = 128): Memzone {
  return context().memory.reserve(name, bytes, MemzoneKind.RAW, [], align);
}

export function memzoneLookup(name: string): Memzone | undefined {
  return context().memory.lookup(name);
}

function zoneOf(name: string, kind: number, what: string): Memzone {
  const z = context().memory.lookup(name);
  if (z === undefined)
    throw new EalError(`no ${what} named ${name}: create it (before launch) with ${what}Create`);
  if (z.kind !== kind)
    throw new EalError(`memzone ${name} holds a different kind of object than a ${what}`);
  return z;
}

export function ringCreate(name: string, options: Omit<RingOptions, 'name'>): Ring {
  const o = { ...options, name };
  const z = context().memory.reserve(name, Ring.bytesFor(o), MemzoneKind.RING);
  return Ring.create(z.sab, z.byteOffset, o);
}

export function ringLookup(name: string): Ring {
  const z = zoneOf(name, MemzoneKind.RING, 'ring');
  return Ring.attach({ kind: 'ring', sab: z.sab, byteOffset: z.byteOffset });
}

/** Cache slots cover every lcore id in use, so each lcore can have its own cache. */
function cacheSlots(): number {
  const { lcores } = context().config;
  return lcores[lcores.length - 1] + 1;
}

export function mempoolCreate(
  name: string,
  options: Omit<MempoolOptions, 'name' | 'cacheSlots'>,
): Mempool {
  const o = { poolId: context().memory.nextPoolId(), ...options, name, cacheSlots: cacheSlots() };
  const z = context().memory.reserve(name, Mempool.bytesFor(o), MemzoneKind.MEMPOOL);
  const created = Mempool.create(z.sab, z.byteOffset, o);
  return Mempool.attach(created.descriptor, { cacheId: context().lcoreId });
}

/** This lcore's handle on mempool `name`, with this lcore's cache. */
export function mempoolLookup(name: string): Mempool {
  const z = zoneOf(name, MemzoneKind.MEMPOOL, 'mempool');
  return Mempool.attach(
    { kind: 'mempool', sab: z.sab, byteOffset: z.byteOffset },
    { cacheId: context().lcoreId },
  );
}

export function pktmbufPoolCreate(
  name: string,
  options: Omit<PktmbufPoolOptions, 'name' | 'cacheSlots'>,
): PktmbufPool {
  const o = { poolId: context().memory.nextPoolId(), ...options, name, cacheSlots: cacheSlots() };
  const bytes = PktmbufPool.bytesFor(o);
  // info: [metadata offset from the zone start, headroom]
  const probe = context().memory.reserve(name, bytes, MemzoneKind.PKTMBUF_POOL, [0, 0]);
  const created = PktmbufPool.create(probe.sab, probe.byteOffset, o);
  setZoneInfo(probe, [created.descriptor.metaOffset - probe.byteOffset, created.headroom]);
  return PktmbufPool.attach(created.descriptor, { cacheId: context().lcoreId });
}

/** This lcore's handle on mbuf pool `name`, with this lcore's cache; `free` of its mbufs on
 * this lcore goes through that cache. */
export function pktmbufPoolLookup(name: string): PktmbufPool {
  const z = zoneOf(name, MemzoneKind.PKTMBUF_POOL, 'pktmbufPool');
  return PktmbufPool.attach(
    {
      kind: 'pktmbuf-pool',
      sab: z.sab,
      byteOffset: z.byteOffset,
      mempool: { kind: 'mempool', sab: z.sab, byteOffset: z.byteOffset },
      metaOffset: z.byteOffset + z.info[0],
      headroom: z.info[1],
    },
    { cacheId: context().lcoreId },
  );
}

function setZoneInfo(z: Memzone, info: number[]): void {
  context().memory.setInfo(z.name, info);
}
