import { checkRegion, OptionError, RegionError } from '@bypass/atomics-sync';
import { HANDLE_INDEX_MASK, Mempool, type MempoolDescriptor, MempoolError } from './mempool.js';

/**
 * Packet buffers (mbufs), after DPDK's rte_mbuf. An mbuf is a u32 handle from a Mempool whose
 * objects are the packet buffers; its metadata is a 128-byte record (as rte_mbuf's two cache
 * lines) in the same region, read and written through the accessor methods below, which
 * allocate nothing. Bytes live in `pool.data`: a packet's first byte is at `data[mtod(m)]`.
 *
 * Ownership: `alloc` gives the caller one reference; `free` gives it back. An mbuf whose
 * reference count is raised with `refcntUpdate` (to send it twice, say) returns to its pool when
 * the last reference is freed. Freeing goes to the mbuf's own pool (the pool id is the handle's
 * top byte) through this thread's handle on that pool, and so through this thread's cache.
 */

/** Metadata words per mbuf (128 bytes). */
export const MBUF_META_WORDS = 32;
/** Field word offsets in the metadata record, named as rte_mbuf's fields. */
export const MbufField = {
  BUF_OFF: 0, // byte offset of the buffer in pool.data
  BUF_LEN: 1,
  DATA_OFF: 2, // start of data, from the buffer start (headroom before it)
  DATA_LEN: 3, // bytes of data in this segment
  PKT_LEN: 4, // bytes in the whole chain (first segment only)
  NB_SEGS: 5, // segments in the chain (first segment only)
  NEXT: 6, // next segment's handle, or MBUF_NONE
  PORT: 7,
  OL_FLAGS: 8,
  PACKET_TYPE: 9,
  RSS_HASH: 10,
  REFCNT: 11,
  POOL_ID: 12,
  TSO_SEGSZ: 13, // rx: the segment size of a large received (GRO/LRO) packet; tx: TSO segment size
  TIMESTAMP: 14, // float64 in words 14-15 (e.g. the rx clock, for latency)
  USER: 16, // USER .. USER+7: eight words for the application
} as const;
export const MBUF_USER_WORDS = 8;
/** NEXT of the last segment; PORT of an mbuf that came from no port. */
export const MBUF_NONE = 0xffffffff;
/** DPDK's defaults: RTE_PKTMBUF_HEADROOM and RTE_MBUF_DEFAULT_DATAROOM. */
export const MBUF_DEFAULT_HEADROOM = 128;
export const MBUF_DEFAULT_DATAROOM = 2048;
/** Largest data room: room for a 64 KB GSO frame and its headers. */
export const MBUF_MAX_DATAROOM = 131072;
/** Most segments in one chain (rte_mbuf's nb_segs is 16 bits). */
export const MBUF_MAX_SEGS = 0xffff;

const F = MbufField;

export interface PktmbufPoolOptions {
  n: number;
  /** Per-lcore cache size (0..512, at most n / 1.5). */
  cacheSize?: number;
  cacheSlots?: number;
  /** Bytes of data room after the headroom: default 2048. */
  dataRoomSize?: number;
  /** Bytes reserved before the data of a fresh mbuf: default 128. */
  headroom?: number;
  poolId?: number;
  debug?: boolean;
  name?: string;
}

export interface PktmbufPoolDescriptor {
  readonly kind: 'pktmbuf-pool';
  readonly sab: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly mempool: MempoolDescriptor;
  readonly metaOffset: number;
  readonly headroom: number;
}

/** This thread's handle on each pool id, so free() can route an mbuf to its own pool. */
const registry: (PktmbufPool | undefined)[] = new Array(256).fill(undefined);

/** Resolves the pool an mbuf handle belongs to, in this thread. */
export function mbufPoolOf(m: number): PktmbufPool {
  const p = registry[m >>> 24];
  if (p === undefined) {
    throw new MempoolError(
      `mbuf ${m} belongs to pool id ${m >>> 24}, which this thread has not attached; attach it (PktmbufPool.attach) before touching its mbufs`,
    );
  }
  return p;
}

function metaBytes(n: number): number {
  return n * MBUF_META_WORDS * 4;
}

export class PktmbufPool {
  /** Bytes the pool needs: buffers, the free ring, caches and metadata. */
  static bytesFor(o: PktmbufPoolOptions): number {
    const mp = Mempool.bytesFor(PktmbufPool.mempoolOptions(o));
    return Math.ceil(mp / 128) * 128 + metaBytes(o.n);
  }

  private static mempoolOptions(o: PktmbufPoolOptions) {
    const { dataRoomSize = MBUF_DEFAULT_DATAROOM, headroom = MBUF_DEFAULT_HEADROOM } = o;
    // Wider than DPDK's 16-bit buf_len: a tap port with offloads receives 64 KB frames whole.
    if (!Number.isInteger(dataRoomSize) || dataRoomSize < 0 || dataRoomSize > MBUF_MAX_DATAROOM) {
      throw new OptionError(
        'dataRoomSize',
        dataRoomSize,
        `an integer in [0, ${MBUF_MAX_DATAROOM}]`,
      );
    }
    if (!Number.isInteger(headroom) || headroom < 0 || headroom > 0xffff) {
      throw new OptionError('headroom', headroom, 'an integer in [0, 65535]');
    }
    return {
      n: o.n,
      eltSize: headroom + dataRoomSize,
      cacheSize: o.cacheSize,
      cacheSlots: o.cacheSlots,
      poolId: o.poolId,
      debug: o.debug,
      name: o.name ?? 'mbuf_pool',
    };
  }

  /** Creates a pool of `n` mbufs at `byteOffset` (a multiple of 128 is best) and registers it
   * in this thread. Every mbuf is free. */
  static create(
    sab: SharedArrayBuffer,
    byteOffset: number,
    options: PktmbufPoolOptions,
  ): PktmbufPool {
    const mpo = PktmbufPool.mempoolOptions(options);
    const bytes = PktmbufPool.bytesFor(options);
    checkRegion(`PktmbufPool ${mpo.name}`, sab, byteOffset, bytes);
    const pool = Mempool.create(sab, byteOffset, mpo);
    const metaOffset = byteOffset + Math.ceil(Mempool.bytesFor(mpo) / 128) * 128;
    const meta = new Uint32Array(sab, metaOffset, options.n * MBUF_META_WORDS);
    meta.fill(0);
    const bufLen = mpo.eltSize;
    for (let i = 0; i < options.n; i++) {
      const r = i * MBUF_META_WORDS;
      meta[r + F.BUF_OFF] = i * pool.eltStride;
      meta[r + F.BUF_LEN] = bufLen;
      meta[r + F.POOL_ID] = pool.poolId;
      meta[r + F.NEXT] = MBUF_NONE;
      meta[r + F.PORT] = MBUF_NONE;
    }
    const headroom = options.headroom ?? MBUF_DEFAULT_HEADROOM;
    return new PktmbufPool(
      { kind: 'pktmbuf-pool', sab, byteOffset, mempool: pool.descriptor, metaOffset, headroom },
      pool,
    );
  }

  /** Attaches on any thread; `cacheId` (the lcore id) gives this thread a cache. Registers the
   * handle so that this thread's `free` of any mbuf of this pool comes here. */
  static attach(desc: PktmbufPoolDescriptor, options: { cacheId?: number } = {}): PktmbufPool {
    if (desc === null || typeof desc !== 'object' || desc.kind !== 'pktmbuf-pool') {
      throw new RegionError(
        `PktmbufPool.attach: expected a pktmbuf-pool descriptor, got kind ${String(desc?.kind)}`,
      );
    }
    return new PktmbufPool(desc, Mempool.attach(desc.mempool, options));
  }

  readonly descriptor: PktmbufPoolDescriptor;
  /** The underlying pool of buffers (handles, caches, audit). */
  readonly mempool: Mempool;
  /** Every buffer's bytes; an mbuf's data starts at `mtod(m)`. */
  readonly data: Uint8Array;
  /** The metadata records, MBUF_META_WORDS per mbuf (use the accessors). */
  readonly meta: Uint32Array;
  readonly headroom: number;
  private readonly timestamps: Float64Array;
  private readonly one = new Uint32Array(1);

  private constructor(desc: PktmbufPoolDescriptor, pool: Mempool) {
    this.descriptor = desc;
    this.mempool = pool;
    this.data = pool.data;
    this.headroom = desc.headroom;
    this.meta = new Uint32Array(desc.sab, desc.metaOffset, pool.n * MBUF_META_WORDS);
    this.timestamps = new Float64Array(desc.sab, desc.metaOffset, (pool.n * MBUF_META_WORDS) / 2);
    // Register as this thread's handle for the pool id, unless it would displace a handle
    // with a cache on this same pool.
    const prev = registry[pool.poolId];
    const samePool =
      prev !== undefined &&
      prev.meta.buffer === this.meta.buffer &&
      prev.meta.byteOffset === this.meta.byteOffset;
    if (!samePool || prev.mempool.cacheId < 0) registry[pool.poolId] = this;
  }

  /** Metadata word index of field `f` of mbuf `m`. */
  private r(m: number): number {
    if (this.mempool.debug) this.mempool.checkLive(m, 'mbuf access');
    return (m & HANDLE_INDEX_MASK) * MBUF_META_WORDS;
  }

  private reset(m: number): void {
    const meta = this.meta;
    const r = (m & HANDLE_INDEX_MASK) * MBUF_META_WORDS;
    const bufLen = meta[r + F.BUF_LEN];
    meta[r + F.DATA_OFF] = Math.min(this.headroom, bufLen);
    meta[r + F.DATA_LEN] = 0;
    meta[r + F.PKT_LEN] = 0;
    meta[r + F.NB_SEGS] = 1;
    meta[r + F.NEXT] = MBUF_NONE;
    meta[r + F.PORT] = MBUF_NONE;
    meta[r + F.OL_FLAGS] = 0;
    meta[r + F.PACKET_TYPE] = 0;
    meta[r + F.RSS_HASH] = 0;
    meta[r + F.TSO_SEGSZ] = 0;
    meta[r + F.REFCNT] = 1;
    this.timestamps[(r + F.TIMESTAMP) >> 1] = 0;
  }

  /** Allocates one mbuf with its fields reset (rte_pktmbuf_alloc). Returns -1 when none is free. */
  alloc(): number {
    if (this.mempool.get(this.one, 1) === 0) return -1;
    const m = this.one[0];
    this.reset(m);
    return m;
  }

  /** Allocates `n` mbufs into `handles[offset ...]`, all or none (rte_pktmbuf_alloc_bulk).
   * Returns n or 0. */
  allocBulk(handles: Uint32Array, n: number, offset = 0): number {
    if (this.mempool.get(handles, n, offset) === 0) return 0;
    for (let i = 0; i < n; i++) this.reset(handles[offset + i]);
    return n;
  }

  /** Frees a packet: every segment of its chain drops one reference, and each segment whose
   * count reaches zero returns to its own pool (rte_pktmbuf_free). */
  free(m: number): void {
    let seg = m;
    while (seg !== MBUF_NONE) {
      const pool = seg >>> 24 === this.mempool.poolId ? this.home() : mbufPoolOf(seg);
      const r = pool.r(seg);
      const next = pool.meta[r + F.NEXT];
      pool.freeSeg(seg, r);
      seg = next;
    }
  }

  /** Frees `n` packets from `handles[offset ...]` (rte_pktmbuf_free_bulk). */
  freeBulk(handles: Uint32Array, n: number, offset = 0): void {
    const meta = this.meta;
    const poolId = this.mempool.poolId;
    let run = 0; // length of the run of simple mbufs (this pool, one segment, refcnt 1) so far
    for (let i = 0; i < n; i++) {
      const m = handles[offset + i];
      if (m >>> 24 === poolId && !this.mempool.debug) {
        const r = (m & HANDLE_INDEX_MASK) * MBUF_META_WORDS;
        if (meta[r + F.NEXT] === MBUF_NONE && meta[r + F.REFCNT] === 1) {
          meta[r + F.REFCNT] = 0;
          // Compact the run at the front of [offset, offset + i) so one put returns it.
          handles[offset + run++] = m;
          continue;
        }
      }
      this.free(m);
    }
    if (run > 0) this.home().mempool.put(handles, run, offset);
  }

  /** This thread's preferred handle on this same pool: the one registered with a cache, if any. */
  private home(): PktmbufPool {
    const p = registry[this.mempool.poolId];
    return p !== undefined &&
      p.meta.buffer === this.meta.buffer &&
      p.meta.byteOffset === this.meta.byteOffset
      ? p
      : this;
  }

  /** Drops one reference to a single segment (not its chain); at zero it returns to the pool. */
  private freeSeg(m: number, r: number): void {
    const meta = this.meta;
    const refs = meta[r + F.REFCNT];
    if (refs === 0) {
      throw new MempoolError(`mbuf ${m}: freed with no reference held (double free)`);
    }
    // The sole owner needs no atomic (as rte_pktmbuf_prefree_seg): nobody else can hold it.
    const left = refs === 1 ? 0 : Atomics.sub(meta, r + F.REFCNT, 1) - 1;
    if (left === 0) {
      meta[r + F.REFCNT] = 0;
      meta[r + F.NEXT] = MBUF_NONE;
      meta[r + F.NB_SEGS] = 1;
      this.one[0] = m;
      this.mempool.put(this.one, 1);
    }
  }

  /** Adds `delta` to the reference count (atomic) and returns the new count. Raise it before
   * handing the same mbuf to a second owner; each owner frees once. */
  refcntUpdate(m: number, delta: number): number {
    const r = this.r(m);
    const now = Atomics.add(this.meta, r + F.REFCNT, delta) + delta;
    if (now < 0 || now > 0xffff) {
      Atomics.sub(this.meta, r + F.REFCNT, delta);
      throw new OptionError(
        'delta',
        delta,
        `a change that keeps the reference count of mbuf ${m} in [0, 65535]`,
      );
    }
    return now;
  }

  refcnt(m: number): number {
    return Atomics.load(this.meta, this.r(m) + F.REFCNT);
  }

  // Accessors: one per rte_mbuf field. Getters read, setters write, nothing allocates.
  bufOff(m: number): number {
    return this.meta[this.r(m) + F.BUF_OFF];
  }
  bufLen(m: number): number {
    return this.meta[this.r(m) + F.BUF_LEN];
  }
  dataOff(m: number): number {
    return this.meta[this.r(m) + F.DATA_OFF];
  }
  setDataOff(m: number, v: number): void {
    this.meta[this.r(m) + F.DATA_OFF] = v;
  }
  dataLen(m: number): number {
    return this.meta[this.r(m) + F.DATA_LEN];
  }
  setDataLen(m: number, v: number): void {
    this.meta[this.r(m) + F.DATA_LEN] = v;
  }
  pktLen(m: number): number {
    return this.meta[this.r(m) + F.PKT_LEN];
  }
  setPktLen(m: number, v: number): void {
    this.meta[this.r(m) + F.PKT_LEN] = v;
  }
  nbSegs(m: number): number {
    return this.meta[this.r(m) + F.NB_SEGS];
  }
  next(m: number): number {
    return this.meta[this.r(m) + F.NEXT];
  }
  port(m: number): number {
    return this.meta[this.r(m) + F.PORT];
  }
  setPort(m: number, v: number): void {
    this.meta[this.r(m) + F.PORT] = v;
  }
  olFlags(m: number): number {
    return this.meta[this.r(m) + F.OL_FLAGS];
  }
  setOlFlags(m: number, v: number): void {
    this.meta[this.r(m) + F.OL_FLAGS] = v;
  }
  packetType(m: number): number {
    return this.meta[this.r(m) + F.PACKET_TYPE];
  }
  setPacketType(m: number, v: number): void {
    this.meta[this.r(m) + F.PACKET_TYPE] = v;
  }
  rssHash(m: number): number {
    return this.meta[this.r(m) + F.RSS_HASH];
  }
  setRssHash(m: number, v: number): void {
    this.meta[this.r(m) + F.RSS_HASH] = v;
  }
  tsoSegsz(m: number): number {
    return this.meta[this.r(m) + F.TSO_SEGSZ];
  }
  setTsoSegsz(m: number, v: number): void {
    this.meta[this.r(m) + F.TSO_SEGSZ] = v;
  }
  timestamp(m: number): number {
    return this.timestamps[(this.r(m) + F.TIMESTAMP) >> 1];
  }
  setTimestamp(m: number, v: number): void {
    this.timestamps[(this.r(m) + F.TIMESTAMP) >> 1] = v;
  }
  user(m: number, i: number): number {
    return this.meta[this.r(m) + F.USER + i];
  }
  setUser(m: number, i: number, v: number): void {
    this.meta[this.r(m) + F.USER + i] = v;
  }

  /** Byte offset in `data` of the segment's first data byte (rte_pktmbuf_mtod). */
  mtod(m: number): number {
    const r = this.r(m);
    return this.meta[r + F.BUF_OFF] + this.meta[r + F.DATA_OFF];
  }

  headroomOf(m: number): number {
    return this.meta[this.r(m) + F.DATA_OFF];
  }

  tailroom(m: number): number {
    const r = this.r(m);
    return this.meta[r + F.BUF_LEN] - this.meta[r + F.DATA_OFF] - this.meta[r + F.DATA_LEN];
  }

  /** The last segment of a chain. */
  lastSeg(m: number): number {
    let seg = m;
    for (let next = this.next(seg); next !== MBUF_NONE; next = this.next(seg)) seg = next;
    return seg;
  }

  /** Grows the packet at the front by `len` bytes (rte_pktmbuf_prepend). Returns the new mtod,
   * or -1 when the headroom is too small (nothing changes). */
  prepend(m: number, len: number): number {
    const r = this.r(m);
    const meta = this.meta;
    if (len > meta[r + F.DATA_OFF]) return -1;
    meta[r + F.DATA_OFF] -= len;
    meta[r + F.DATA_LEN] += len;
    meta[r + F.PKT_LEN] += len;
    return meta[r + F.BUF_OFF] + meta[r + F.DATA_OFF];
  }

  /** Grows the packet at the end by `len` bytes in its last segment (rte_pktmbuf_append).
   * Returns the byte offset in `data` of the new space, or -1 when the tailroom is too small. */
  append(m: number, len: number): number {
    const last = this.lastSeg(m);
    if (len > this.tailroom(last)) return -1;
    const meta = this.meta;
    const rl = this.r(last);
    const at = meta[rl + F.BUF_OFF] + meta[rl + F.DATA_OFF] + meta[rl + F.DATA_LEN];
    meta[rl + F.DATA_LEN] += len;
    meta[this.r(m) + F.PKT_LEN] += len;
    return at;
  }

  /** Removes `len` bytes from the front of the first segment (rte_pktmbuf_adj). Returns the new
   * mtod, or -1 when the first segment holds fewer bytes. */
  adj(m: number, len: number): number {
    const r = this.r(m);
    const meta = this.meta;
    if (len > meta[r + F.DATA_LEN]) return -1;
    meta[r + F.DATA_OFF] += len;
    meta[r + F.DATA_LEN] -= len;
    meta[r + F.PKT_LEN] -= len;
    return meta[r + F.BUF_OFF] + meta[r + F.DATA_OFF];
  }

  /** Removes `len` bytes from the end of the last segment (rte_pktmbuf_trim). Returns 0, or -1
   * when the last segment holds fewer bytes. */
  trim(m: number, len: number): number {
    const last = this.lastSeg(m);
    const rl = this.r(last);
    if (len > this.meta[rl + F.DATA_LEN]) return -1;
    this.meta[rl + F.DATA_LEN] -= len;
    this.meta[this.r(m) + F.PKT_LEN] -= len;
    return 0;
  }

  /** Appends packet `tail` to packet `head` as further segments (rte_pktmbuf_chain). Returns 0,
   * or -1 when the chain would exceed 65535 segments (nothing changes). */
  chain(head: number, tail: number): number {
    const rh = this.r(head);
    const rt = this.r(tail);
    const meta = this.meta;
    const segs = meta[rh + F.NB_SEGS] + meta[rt + F.NB_SEGS];
    if (segs > MBUF_MAX_SEGS) return -1;
    meta[this.r(this.lastSeg(head)) + F.NEXT] = tail;
    meta[rh + F.NB_SEGS] = segs;
    meta[rh + F.PKT_LEN] += meta[rt + F.PKT_LEN];
    meta[rt + F.NB_SEGS] = 1;
    meta[rt + F.PKT_LEN] = meta[rt + F.DATA_LEN];
    return 0;
  }

  /** Copies `len` bytes of the packet from byte `off` into `dst[dstOff ...]`, across segments
   * (rte_pktmbuf_read). Returns the bytes copied: fewer than `len` if the packet is shorter. */
  read(m: number, off: number, len: number, dst: Uint8Array, dstOff = 0): number {
    let seg = m;
    let skip = off;
    let copied = 0;
    const data = this.data;
    while (seg !== MBUF_NONE && copied < len) {
      const dl = this.dataLen(seg);
      if (skip >= dl) {
        skip -= dl;
      } else {
        const start = this.mtod(seg) + skip;
        const k = Math.min(dl - skip, len - copied);
        dst.set(data.subarray(start, start + k), dstOff + copied); // slow path: a subarray per segment
        copied += k;
        skip = 0;
      }
      seg = this.next(seg);
    }
    return copied;
  }

  /** Allocates a packet holding `bytes` (a chain when they exceed one data room). Slow path, for
   * tests and file readers. Returns the head handle, or -1 when the pool runs out (nothing leaks). */
  fromBytes(bytes: Uint8Array, port = MBUF_NONE): number {
    const head = this.alloc();
    if (head < 0) return -1;
    this.setPort(head, port);
    let done = 0;
    let seg = head;
    for (;;) {
      const k = Math.min(this.tailroom(seg), bytes.length - done);
      const at = this.mtod(seg) + this.dataLen(seg);
      this.data.set(bytes.subarray(done, done + k), at);
      this.setDataLen(seg, this.dataLen(seg) + k);
      this.setPktLen(head, this.pktLen(head) + k);
      done += k;
      if (done === bytes.length) return head;
      const next = this.alloc();
      if (next < 0 || this.chain(head, next) < 0) {
        if (next >= 0) this.free(next);
        this.free(head);
        return -1;
      }
      seg = next;
    }
  }

  /** A copy of the packet's bytes (slow path, for tests). */
  toBytes(m: number): Uint8Array {
    const out = new Uint8Array(this.pktLen(m));
    this.read(m, 0, out.length, out);
    return out;
  }
}
