import { describe, expect, it } from 'vitest';
import { MBUF_NONE, PktmbufPool, type PktmbufPoolOptions } from './mbuf.js';
import { MempoolError } from './mempool.js';

function makePool(o: PktmbufPoolOptions): PktmbufPool {
  return PktmbufPool.create(new SharedArrayBuffer(PktmbufPool.bytesFor(o)), 0, o);
}

const bytes = (n: number, seed = 1) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('mbuf', () => {
  it('a fresh mbuf has DPDK defaults: 128 bytes headroom, 2048 data room, refcnt 1', () => {
    const pool = makePool({ n: 8, poolId: 1 });
    const m = pool.alloc();
    expect(m >>> 24).toBe(1);
    expect(pool.bufLen(m)).toBe(2176);
    expect(pool.dataOff(m)).toBe(128);
    expect(pool.headroomOf(m)).toBe(128);
    expect(pool.tailroom(m)).toBe(2048);
    expect([pool.dataLen(m), pool.pktLen(m), pool.nbSegs(m), pool.refcnt(m)]).toEqual([0, 0, 1, 1]);
    expect([pool.next(m), pool.port(m)]).toEqual([MBUF_NONE, MBUF_NONE]);
    expect(pool.mtod(m)).toBe(pool.bufOff(m) + 128);
    pool.setRssHash(m, 0xdeadbeef);
    pool.setTimestamp(m, 1234.5);
    pool.setUser(m, 7, 42);
    pool.setPort(m, 3);
    expect([pool.rssHash(m), pool.timestamp(m), pool.user(m, 7), pool.port(m)]).toEqual([
      0xdeadbeef, 1234.5, 42, 3,
    ]);
    pool.free(m);
    // Reallocation resets what the previous user left.
    const again = pool.alloc();
    expect([pool.rssHash(again), pool.timestamp(again), pool.port(again)]).toEqual([
      0,
      0,
      MBUF_NONE,
    ]);
    pool.free(again);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('append, prepend, adj and trim move the right edges and refuse what does not fit', () => {
    const pool = makePool({ n: 4, dataRoomSize: 100, headroom: 16 });
    const m = pool.alloc();
    const at = pool.append(m, 60);
    expect(at).toBe(pool.mtod(m));
    pool.data.set(bytes(60), at);
    expect(pool.append(m, 41)).toBe(-1);
    expect(pool.pktLen(m)).toBe(60);
    const front = pool.prepend(m, 14);
    expect(front).toBe(pool.bufOff(m) + 2);
    expect(pool.prepend(m, 3)).toBe(-1);
    expect([pool.dataLen(m), pool.pktLen(m), pool.headroomOf(m)]).toEqual([74, 74, 2]);
    expect(pool.adj(m, 14)).toBe(pool.bufOff(m) + 16);
    expect(pool.trim(m, 10)).toBe(0);
    expect(pool.trim(m, 51)).toBe(-1);
    expect([...pool.toBytes(m)]).toEqual([...bytes(60).subarray(0, 50)]);
    pool.free(m);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('a packet larger than a data room becomes a chain that reads back exactly', () => {
    const pool = makePool({ n: 8 });
    const payload = bytes(5000, 7);
    const m = pool.fromBytes(payload, 2);
    expect([pool.nbSegs(m), pool.pktLen(m), pool.dataLen(m), pool.port(m)]).toEqual([
      3, 5000, 2048, 2,
    ]);
    expect(pool.mempool.inUse()).toBe(3);
    expect([...pool.toBytes(m)]).toEqual([...payload]);
    const window = new Uint8Array(100);
    expect(pool.read(m, 2000, 100, window)).toBe(100); // straddles segments 1 and 2
    expect([...window]).toEqual([...payload.subarray(2000, 2100)]);
    expect(pool.read(m, 4950, 100, window)).toBe(50);
    // append goes to the last segment
    expect(pool.append(m, 10)).toBe(pool.mtod(pool.lastSeg(m)) + 5000 - 4096);
    expect(pool.pktLen(m)).toBe(5010);
    pool.free(m);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('fromBytes that runs out of mbufs frees what it took', () => {
    const pool = makePool({ n: 2 });
    expect(pool.fromBytes(bytes(5000))).toBe(-1);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('chain links two packets and sums their lengths', () => {
    const pool = makePool({ n: 4 });
    const a = pool.fromBytes(bytes(10, 1));
    const b = pool.fromBytes(bytes(20, 2));
    expect(pool.chain(a, b)).toBe(0);
    expect([pool.nbSegs(a), pool.pktLen(a), pool.next(a)]).toEqual([2, 30, b]);
    expect([...pool.toBytes(a)]).toEqual([...bytes(10, 1), ...bytes(20, 2)]);
    pool.free(a);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('refcount: a packet raised to 2 references needs two frees', () => {
    const pool = makePool({ n: 4 });
    const m = pool.fromBytes(bytes(64));
    expect(pool.refcntUpdate(m, 1)).toBe(2);
    pool.free(m);
    expect(pool.mempool.inUse()).toBe(1);
    expect(pool.refcnt(m)).toBe(1);
    pool.free(m);
    expect(pool.mempool.isFull()).toBe(true);
    expect(() => pool.free(m)).toThrow(`mbuf ${m}: freed with no reference held (double free)`);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('freeBulk returns simple and chained and shared packets alike', () => {
    const pool = makePool({ n: 32, cacheSize: 8 });
    const h = new Uint32Array(6);
    expect(pool.allocBulk(h, 4)).toBe(4);
    h[4] = pool.fromBytes(bytes(3000)); // 2 segments
    h[5] = pool.alloc();
    pool.refcntUpdate(h[5], 1); // shared: stays out after one free
    pool.freeBulk(h, 6);
    expect(pool.mempool.inUse()).toBe(1);
    pool.free(h[5]);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('free routes an mbuf to its own pool, whichever pool handle frees it', () => {
    const a = makePool({ n: 4, poolId: 10 });
    const b = makePool({ n: 4, poolId: 11 });
    const mb = b.alloc();
    a.free(mb);
    expect(b.mempool.isFull()).toBe(true);
    expect(a.mempool.isFull()).toBe(true);
  });

  it('debug mode catches use after free', () => {
    const pool = makePool({ n: 4, debug: true, name: 'dbg' });
    const m = pool.alloc();
    pool.free(m);
    expect(() => pool.dataLen(m)).toThrow(
      `mbuf access: handle ${m} of mempool dbg is free (use after free)`,
    );
    expect(() => pool.free(m)).toThrow(MempoolError);
    expect(pool.mempool.audit().full).toBe(true);
  });

  it('bad options name themselves', () => {
    expect(() => makePool({ n: 4, dataRoomSize: 200000 })).toThrow(
      'dataRoomSize must be an integer in [0, 131072], got 200000',
    );
    expect(() => makePool({ n: 4, headroom: -1 })).toThrow(
      'headroom must be an integer in [0, 65535], got -1',
    );
  });
});
