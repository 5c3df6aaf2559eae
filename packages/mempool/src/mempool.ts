import { threadId } from 'node:worker_threads';
import { checkRegion, OptionError, RegionError, SyncMisuseError } from '@bypass/atomics-sync';
import { Ring } from '@bypass/ring';

/**
 * A pool of `n` fixed-size objects in one SharedArrayBuffer region, after DPDK's rte_mempool:
 * an MP/MC ring holds the handles of free objects, and each lcore may own a cache of free
 * handles that it alone touches, so most gets and puts never touch the shared ring.
 *
 * Handles are u32: `(poolId << 24) | index`. The pool id in the top byte says which pool an
 * object belongs to, so a freeing thread can return it to its own pool whoever allocated it.
 *
 * Cache rules (as DPDK): at most 512 entries, and at most n / 1.5 (DPDK's rule, so the caches
 * cannot hide the whole pool). A get of more than half the cache size, or a put of more than half,
 * bypasses the cache (a large get that the ring cannot serve flushes the caller's own cache
 * into the ring and tries once more). A get that finds the cache short refills it from the
 * ring up to half full plus the request; a put that takes it past `cacheSize` flushes the
 * oldest entries down to half.
 * Get is all-or-nothing. The cache lives in the pool's shared region (one slot per cache id,
 * claimed by one thread), so `available()` and `audit()` can count it from any thread.
 *
 * Ownership: `get` hands the objects to the caller; `put` takes them back. Each object must be
 * put exactly once per get: with `debug: true` the pool tracks every object's state and throws
 * on a double put, or a put of an object that was never handed out.
 */

export interface MempoolOptions {
  /** Number of objects. */
  n: number;
  /** Bytes per object (0 for a pool of bare handles). Rounded up to a multiple of 8 in memory. */
  eltSize: number;
  /** Per-lcore cache size, 0 (no cache) to 512. */
  cacheSize?: number;
  /** How many caches (lcores) may attach with a cache: default 64. */
  cacheSlots?: number;
  /** Top byte of every handle: 0..255, distinct for pools used together. */
  poolId?: number;
  /** Track each object's state and catch double puts (slower: off on hot paths). */
  debug?: boolean;
  name?: string;
}

export interface MempoolDescriptor {
  readonly kind: 'mempool';
  readonly sab: SharedArrayBuffer;
  readonly byteOffset: number;
}

export interface AttachOptions {
  /** Claim cache slot `cacheId` (an lcore id) for this thread. Omit for no cache. */
  cacheId?: number;
}

export interface MempoolAudit {
  /** Every object is back: in the ring or in a cache. */
  full: boolean;
  n: number;
  available: number;
  inUse: number;
  inRing: number;
  /** Objects held by each claimed cache, by cache id. */
  cached: Record<number, number>;
  /** debug pools: handles the state table says are out (at most 16 listed). */
  outstanding?: number[];
}

export class MempoolError extends Error {
  override name = 'MempoolError';
}

// Header (u32 words).
const MAGIC = 0;
const N = 1;
const ELT_SIZE = 2;
const CACHE_SIZE = 3;
const CACHE_SLOTS = 4;
const POOL_ID = 5;
const DEBUG = 6;
const NAME = 8; // 32 bytes
const HEADER_BYTES = 128;
const POOL_MAGIC = 0x6d706f6c; // "mpol"
// Cache slot: a 64-byte line [owner, len], then 1.5 * cacheSize handles.
const SLOT_OWNER = 0;
const SLOT_LEN = 1;
const SLOT_HEADER_WORDS = 16;

export const MAX_CACHE_SIZE = 512;
export const MAX_POOL_OBJECTS = 1 << 24;
export const HANDLE_INDEX_MASK = 0xffffff;
const SELF = threadId + 1;

const align = (x: number, a: number) => Math.ceil(x / a) * a;

interface Layout {
  ringOff: number;
  slotsOff: number;
  slotWords: number;
  stateOff: number;
  objOff: number;
  eltStride: number;
  bytes: number;
}

function layoutOf(n: number, eltSize: number, cacheSize: number, cacheSlots: number): Layout {
  const ringOff = HEADER_BYTES;
  const slotsOff = align(ringOff + Ring.bytesFor({ count: n, exactSize: true }), 128);
  const slotWords = align(SLOT_HEADER_WORDS + Math.ceil(cacheSize * 1.5), 32);
  const stateOff = slotsOff + (cacheSize > 0 ? cacheSlots * slotWords * 4 : 0);
  const objOff = align(stateOff + n, 128);
  const eltStride = align(eltSize, 8);
  return {
    ringOff,
    slotsOff,
    slotWords,
    stateOff,
    objOff,
    eltStride,
    bytes: objOff + n * eltStride,
  };
}

function validate(o: MempoolOptions): Required<Omit<MempoolOptions, 'name'>> & { name: string } {
  const {
    n,
    eltSize,
    cacheSize = 0,
    cacheSlots = 64,
    poolId = 0,
    debug = false,
    name = 'mempool',
  } = o;
  if (!Number.isInteger(n) || n < 1 || n > MAX_POOL_OBJECTS) {
    throw new OptionError('n', n, `an integer in [1, ${MAX_POOL_OBJECTS}]`);
  }
  if (!Number.isInteger(eltSize) || eltSize < 0) {
    throw new OptionError('eltSize', eltSize, 'an integer >= 0 (bytes per object)');
  }
  if (!Number.isInteger(cacheSize) || cacheSize < 0 || cacheSize > MAX_CACHE_SIZE) {
    throw new OptionError('cacheSize', cacheSize, `an integer in [0, ${MAX_CACHE_SIZE}]`);
  }
  if (cacheSize * 1.5 > n) {
    throw new OptionError(
      'cacheSize',
      cacheSize,
      `at most n / 1.5 = ${Math.floor(n / 1.5)} for n = ${n} (so the caches cannot hide the whole pool)`,
    );
  }
  if (!Number.isInteger(cacheSlots) || cacheSlots < 1 || cacheSlots > 1024) {
    throw new OptionError('cacheSlots', cacheSlots, 'an integer in [1, 1024]');
  }
  if (!Number.isInteger(poolId) || poolId < 0 || poolId > 255) {
    throw new OptionError('poolId', poolId, 'an integer in [0, 255]');
  }
  if (name.length > 32 || !/^[\x20-\x7e]*$/.test(name)) {
    throw new OptionError('name', name, 'at most 32 printable ASCII characters');
  }
  return { n, eltSize, cacheSize, cacheSlots, poolId, debug, name };
}

export class Mempool {
  /** Bytes a pool with these options needs. */
  static bytesFor(options: MempoolOptions): number {
    const o = validate(options);
    return layoutOf(o.n, o.eltSize, o.cacheSize, o.cacheSlots).bytes;
  }

  /** Initialises a full pool at `byteOffset` (a multiple of 8) in `sab`; returns this thread's
   * handle on it (no cache; attach again with a cacheId for one). */
  static create(sab: SharedArrayBuffer, byteOffset: number, options: MempoolOptions): Mempool {
    const o = validate(options);
    const l = layoutOf(o.n, o.eltSize, o.cacheSize, o.cacheSlots);
    checkRegion(`Mempool ${o.name}`, sab, byteOffset, l.bytes);
    if (byteOffset % 8 !== 0) {
      throw new RegionError(`Mempool ${o.name}: byteOffset ${byteOffset} must be a multiple of 8`);
    }
    const h = new Uint32Array(sab, byteOffset, HEADER_BYTES / 4);
    h.fill(0);
    h[N] = o.n;
    h[ELT_SIZE] = o.eltSize;
    h[CACHE_SIZE] = o.cacheSize;
    h[CACHE_SLOTS] = o.cacheSlots;
    h[POOL_ID] = o.poolId;
    h[DEBUG] = o.debug ? 1 : 0;
    for (let i = 0; i < o.name.length; i++)
      h[NAME + (i >> 2)] |= o.name.charCodeAt(i) << ((i & 3) * 8);
    const ring = Ring.create(sab, byteOffset + l.ringOff, {
      count: o.n,
      exactSize: true,
      producer: 'multi',
      consumer: 'multi',
      name: o.name,
    });
    const handles = new Uint32Array(Math.min(o.n, 4096));
    for (let i = 0; i < o.n; ) {
      const k = Math.min(handles.length, o.n - i);
      for (let j = 0; j < k; j++) handles[j] = ((o.poolId << 24) | (i + j)) >>> 0;
      ring.enqueueBulk(handles, k);
      i += k;
    }
    if (o.cacheSize > 0) {
      new Uint32Array(sab, byteOffset + l.slotsOff, (l.stateOff - l.slotsOff) / 4).fill(0);
    }
    new Uint8Array(sab, byteOffset + l.stateOff, o.n).fill(0);
    Atomics.store(h, MAGIC, POOL_MAGIC);
    return new Mempool({ kind: 'mempool', sab, byteOffset }, {});
  }

  /** Attaches to a pool from its descriptor, on any thread; `cacheId` claims a cache slot. */
  static attach(desc: MempoolDescriptor, options: AttachOptions = {}): Mempool {
    if (desc === null || typeof desc !== 'object' || desc.kind !== 'mempool') {
      throw new RegionError(
        `Mempool.attach: expected a mempool descriptor, got kind ${String(desc?.kind)}`,
      );
    }
    return new Mempool(desc, options);
  }

  readonly descriptor: MempoolDescriptor;
  readonly name: string;
  readonly n: number;
  readonly eltSize: number;
  readonly cacheSize: number;
  readonly poolId: number;
  readonly debug: boolean;
  /** The objects' bytes: object `h` starts at `objOffset(h)`. */
  readonly data: Uint8Array;
  /** Bytes between consecutive objects (eltSize rounded up to 8). */
  readonly eltStride: number;
  /** This handle's cache slot, or -1. */
  readonly cacheId: number;

  private readonly ring: Ring;
  private readonly slots: Uint32Array;
  private readonly slotWords: number;
  private readonly state: Uint8Array;
  /** Word index in `slots` of this handle's first cached handle, and its length word. */
  private readonly cacheBase: number;
  private readonly lenIndex: number;
  private readonly half: number;
  private readonly handleTag: number;

  private constructor(desc: MempoolDescriptor, options: AttachOptions) {
    const { sab, byteOffset } = desc;
    checkRegion('Mempool', sab, byteOffset, HEADER_BYTES);
    const h = new Uint32Array(sab, byteOffset, HEADER_BYTES / 4);
    if (Atomics.load(h, MAGIC) !== POOL_MAGIC) {
      throw new RegionError(
        `Mempool.attach: no mempool at byte ${byteOffset}; create it with Mempool.create first`,
      );
    }
    this.n = h[N];
    this.eltSize = h[ELT_SIZE];
    this.cacheSize = h[CACHE_SIZE];
    this.poolId = h[POOL_ID];
    this.debug = h[DEBUG] === 1;
    let name = '';
    for (let i = 0; i < 32; i++) {
      const c = (h[NAME + (i >> 2)] >>> ((i & 3) * 8)) & 0xff;
      if (c === 0) break;
      name += String.fromCharCode(c);
    }
    this.name = name;
    const cacheSlots = h[CACHE_SLOTS];
    const l = layoutOf(this.n, this.eltSize, this.cacheSize, cacheSlots);
    checkRegion(`Mempool ${name}`, sab, byteOffset, l.bytes);
    this.ring = Ring.attach({ kind: 'ring', sab, byteOffset: byteOffset + l.ringOff });
    this.slotWords = l.slotWords;
    this.slots = new Uint32Array(sab, byteOffset + l.slotsOff, (l.stateOff - l.slotsOff) / 4);
    this.state = new Uint8Array(sab, byteOffset + l.stateOff, this.n);
    this.data = new Uint8Array(sab, byteOffset + l.objOff, this.n * l.eltStride);
    this.eltStride = l.eltStride;
    this.half = this.cacheSize >> 1;
    this.handleTag = this.poolId << 24;
    this.descriptor = desc;

    const id = options.cacheId;
    if (id === undefined || this.cacheSize === 0) {
      this.cacheId = -1;
      this.cacheBase = 0;
      this.lenIndex = 0;
      return;
    }
    if (!Number.isInteger(id) || id < 0 || id >= cacheSlots) {
      throw new OptionError(
        'cacheId',
        id,
        `an integer in [0, ${cacheSlots - 1}] (this pool has ${cacheSlots} cache slots)`,
      );
    }
    const slot = id * this.slotWords;
    const owner = Atomics.compareExchange(this.slots, slot + SLOT_OWNER, 0, SELF);
    if (owner !== 0 && owner !== SELF) {
      throw new SyncMisuseError(
        `Mempool ${name}: cache ${id} belongs to thread ${owner - 1}; each lcore needs its own cacheId`,
      );
    }
    this.cacheId = id;
    this.lenIndex = slot + SLOT_LEN;
    this.cacheBase = slot + SLOT_HEADER_WORDS;
  }

  /** Byte offset of object `handle` in `data`. */
  objOffset(handle: number): number {
    return (handle & HANDLE_INDEX_MASK) * this.eltStride;
  }

  /**
   * Takes `n` objects into `objs[offset ...]`: all n, or none when the pool cannot supply them.
   * Returns n or 0. The caller owns what it got and must `put` each exactly once.
   */
  get(objs: Uint32Array, n: number, offset = 0): number {
    if (n < 1 || n !== (n | 0) || offset < 0 || offset + n > objs.length) {
      throw new OptionError(
        'n',
        n,
        `an integer >= 1 with offset (${offset}) + n <= objs.length (${objs.length})`,
      );
    }
    let got: number;
    if (this.cacheId < 0 || n > this.half) {
      got = this.ring.dequeueBulk(objs, n, offset);
      // Short, but our own cache may hold the difference: give it back and try once more
      // (DPDK fails here; objects idle in the caller's own cache should not cause that).
      if (got === 0 && this.cacheId >= 0 && this.slots[this.lenIndex] > 0) {
        this.flushCache();
        got = this.ring.dequeueBulk(objs, n, offset);
      }
    } else {
      const slots = this.slots;
      const base = this.cacheBase;
      let len = slots[this.lenIndex];
      if (len < n) {
        // Refill to half full plus the request; settle for the shortfall if the ring is low.
        let r = this.ring.dequeueBulk(slots, this.half + n - len, base + len);
        if (r === 0) r = this.ring.dequeueBulk(slots, n - len, base + len);
        if (r === 0) return 0;
        len += r;
      }
      for (let i = 0; i < n; i++) objs[offset + i] = slots[base + --len];
      slots[this.lenIndex] = len;
      got = n;
    }
    if (this.debug && got > 0) this.markOut(objs, got, offset);
    return got;
  }

  /** Takes one object; returns its handle, or -1 when the pool is empty. */
  getOne(): number {
    return this.get(this.one, 1) === 1 ? this.one[0] : -1;
  }

  private readonly one = new Uint32Array(1);

  /** Returns `n` objects (handles of this pool) from `objs[offset ...]`. */
  put(objs: Uint32Array, n: number, offset = 0): void {
    if (n < 1 || n !== (n | 0) || offset < 0 || offset + n > objs.length) {
      throw new OptionError(
        'n',
        n,
        `an integer >= 1 with offset (${offset}) + n <= objs.length (${objs.length})`,
      );
    }
    if (this.debug) this.markIn(objs, n, offset);
    if (this.cacheId < 0 || n > this.half) {
      if (this.ring.enqueueBulk(objs, n, offset) !== n) this.overflow(n);
      return;
    }
    const slots = this.slots;
    const base = this.cacheBase;
    let len = slots[this.lenIndex];
    for (let i = 0; i < n; i++) slots[base + len++] = objs[offset + i];
    if (len > this.cacheSize) {
      // Flush the oldest (bottom) entries down to half; keep the recently freed, cache-warm ones.
      const k = len - this.half;
      if (this.ring.enqueueBulk(slots, k, base) !== k) this.overflow(k);
      slots.copyWithin(base, base + k, base + len);
      len = this.half;
    }
    slots[this.lenIndex] = len;
  }

  /** Returns one object. */
  putOne(handle: number): void {
    this.one[0] = handle;
    this.put(this.one, 1);
  }

  /** Moves everything in this handle's cache back to the ring (an lcore does this on exit). */
  flushCache(): void {
    if (this.cacheId < 0) return;
    const len = this.slots[this.lenIndex];
    if (len > 0 && this.ring.enqueueBulk(this.slots, len, this.cacheBase) !== len)
      this.overflow(len);
    this.slots[this.lenIndex] = 0;
  }

  /** Flushes the cache and gives the cache slot up, so another thread may claim it. */
  release(): void {
    if (this.cacheId < 0) return;
    this.flushCache();
    Atomics.store(this.slots, this.cacheId * this.slotWords + SLOT_OWNER, 0);
  }

  /** Free objects: in the ring plus in every cache (a snapshot). */
  available(): number {
    let a = this.ring.count();
    if (this.cacheSize > 0) {
      for (let s = 0; s < this.slots.length; s += this.slotWords)
        a += Atomics.load(this.slots, s + SLOT_LEN);
    }
    return a;
  }

  inUse(): number {
    return this.n - this.available();
  }

  /** True when every object is back (in the ring or a cache). */
  isFull(): boolean {
    return this.available() === this.n;
  }

  /** Where every free object is, and whether all are back. */
  audit(): MempoolAudit {
    const cached: Record<number, number> = {};
    let inCaches = 0;
    if (this.cacheSize > 0) {
      for (let s = 0, id = 0; s < this.slots.length; s += this.slotWords, id++) {
        const len = Atomics.load(this.slots, s + SLOT_LEN);
        if (Atomics.load(this.slots, s + SLOT_OWNER) !== 0 || len > 0) cached[id] = len;
        inCaches += len;
      }
    }
    const inRing = this.ring.count();
    const available = inRing + inCaches;
    const a: MempoolAudit = {
      full: available === this.n,
      n: this.n,
      available,
      inUse: this.n - available,
      inRing,
      cached,
    };
    if (this.debug) {
      const out: number[] = [];
      for (let i = 0; i < this.n && out.length < 16; i++)
        if (Atomics.load(this.state, i) !== 0) out.push(this.handleTag | i);
      a.outstanding = out;
      a.full &&= out.length === 0;
    }
    return a;
  }

  /** debug: throws unless `handle` is a live object of this pool (for use-after-free checks). */
  checkLive(handle: number, what: string): void {
    const i = handle & HANDLE_INDEX_MASK;
    if (handle >>> 24 !== this.poolId || i >= this.n) {
      throw new MempoolError(
        `${what}: handle ${handle} does not belong to mempool ${this.name} (pool id ${this.poolId})`,
      );
    }
    if (Atomics.load(this.state, i) !== 1) {
      throw new MempoolError(
        `${what}: handle ${handle} of mempool ${this.name} is free (use after free)`,
      );
    }
  }

  private markOut(objs: Uint32Array, n: number, offset: number): void {
    for (let k = 0; k < n; k++) {
      const i = objs[offset + k] & HANDLE_INDEX_MASK;
      if (Atomics.compareExchange(this.state, i, 0, 1) !== 0) {
        throw new MempoolError(
          `mempool ${this.name}: object ${objs[offset + k]} handed out twice (pool corrupted)`,
        );
      }
    }
  }

  private markIn(objs: Uint32Array, n: number, offset: number): void {
    for (let k = 0; k < n; k++) {
      const hnd = objs[offset + k];
      const i = hnd & HANDLE_INDEX_MASK;
      if (hnd >>> 24 !== this.poolId || i >= this.n) {
        throw new MempoolError(
          `mempool ${this.name}: put of handle ${hnd}, which belongs to another pool`,
        );
      }
      if (Atomics.compareExchange(this.state, i, 1, 0) !== 1) {
        // Undo the ones already marked so the error leaves the state table consistent.
        for (let j = 0; j < k; j++)
          Atomics.store(this.state, objs[offset + j] & HANDLE_INDEX_MASK, 1);
        throw new MempoolError(
          `mempool ${this.name}: double free of object ${hnd} (it is already in the pool)`,
        );
      }
    }
  }

  private overflow(n: number): never {
    throw new MempoolError(
      `mempool ${this.name}: the free ring has no room for ${n} more objects, so more objects were put than were taken (a double free; create the pool with debug: true to find it)`,
    );
  }
}
