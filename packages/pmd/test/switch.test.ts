// net_ring ports on a virtual switch: delivery by destination MAC, flooding of the rest.
import { cleanup, init, pktmbufPoolCreate } from '@bypass/eal';
import type { PktmbufPool } from '@bypass/mempool';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ethDevConfigure,
  ethDevCreate,
  ethDevStart,
  ethRxQueueSetup,
  ethStats,
  ethTxQueueSetup,
  rxBurst,
  txBurst,
} from '../src/index.js';

let pool: PktmbufPool;

beforeEach(async () => {
  await init(
    {
      lcores: [0],
      pin: false,
      vdevs: ['net_ring0,switch=sw0', 'net_ring1,switch=sw0', 'net_ring2,switch=sw0'],
    },
    { handleSignals: false },
  );
  pool = pktmbufPoolCreate('pool', { n: 256, cacheSize: 16 });
  for (let p = 0; p < 3; p++) {
    ethDevConfigure(p, { rxQueues: 1, txQueues: 1 });
    ethRxQueueSetup(p, 0, { size: 64, mempool: 'pool' });
    ethTxQueueSetup(p, 0, { size: 64 });
    ethDevStart(p);
  }
});

afterEach(async () => {
  await cleanup();
});

function frameTo(dst: number[], tag: number): number {
  const f = new Uint8Array(60);
  f.set(dst, 0);
  f.set([2, 0, 0, 0, 0, 0], 6);
  f[14] = tag;
  return pool.fromBytes(f);
}

function drain(port: number): number[] {
  const h = new Uint32Array(64);
  const n = rxBurst(port, 0, h, 64);
  const tags: number[] = [];
  for (let i = 0; i < n; i++) {
    tags.push(pool.data[pool.mtod(h[i]) + 14]);
    pool.free(h[i]);
  }
  return tags;
}

describe('net_ring switch', () => {
  it('delivers unicast to the owner of the MAC and floods broadcast and unknown destinations', () => {
    const h = new Uint32Array([
      frameTo([2, 0, 0, 0, 0, 2], 1), // to port 2
      frameTo([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 2), // broadcast
      frameTo([2, 0, 0, 0, 0, 1], 3), // to port 1
      frameTo([2, 9, 9, 9, 9, 9], 4), // unknown: flooded
      frameTo([0x01, 0, 0x5e, 0, 0, 1], 5), // IPv4 multicast: flooded
    ]);
    expect(txBurst(0, 0, h, 5)).toBe(5);
    expect(drain(1)).toEqual([2, 3, 4, 5]);
    expect(drain(2)).toEqual([1, 2, 4, 5]);
    expect(drain(0)).toEqual([]); // never back to the sender
    expect(ethStats(0).opackets).toBe(5);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('a full member ring drops its copy and counts rx missed; the fabric takes every frame', () => {
    const h = new Uint32Array(70);
    for (let i = 0; i < 70; i++) h[i] = frameTo([2, 0, 0, 0, 0, 1], i);
    expect(txBurst(0, 0, h, 70)).toBe(70); // the fabric takes all; port 1's ring holds 63
    expect(ethStats(1).imissed).toBe(7);
    expect(drain(1).length).toBe(63);
    expect(pool.mempool.isFull()).toBe(true);
    expect(() => ethDevCreate('net_ring7,peer=net_ring0,switch=sw0')).toThrow(
      'net_ring7: give peer= or switch=, not both',
    );
  });
});
