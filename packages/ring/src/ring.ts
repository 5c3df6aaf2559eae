import { checkRegion, OptionError, RegionError } from '@bypass/atomics-sync';

/**
 * A ring of u32 handles (or fixed-size elements of 2 or 4 u32 words) in a SharedArrayBuffer
 * region, after DPDK's rte_ring: a power-of-two array of slots indexed by free-running u32 head
 * and tail counters (modulo 2^32 arithmetic, `& mask` to find a slot), producer and consumer
 * head/tail on separate 128-byte lines so the two sides do not share a cache line.
 *
 * Sync modes, chosen per side at creation and fixed for the ring's life:
 * - `'single'` (SP/SC): exactly one thread enqueues (or dequeues). No atomic read-modify-write,
 *   just a load of the other side's tail and a store of ours. The fastest, and the right choice
 *   for a point-to-point link between two lcores (an rx queue, a tx queue, a dispatcher's output).
 * - `'multi'` (MP/MC): any number of threads. A thread claims slots by compareExchange on the
 *   head, copies, then waits for earlier claimers to publish and publishes its tail in order.
 *   Use it for shared resources such as a mempool's free list. Worker threads are preemptible:
 *   a claimer that the OS deschedules between claim and publish stalls the claimers behind it
 *   (DPDK documents the same hazard for its MP/MC rings on non-isolated cores). Their wait spins
 *   for a bounded time, then sleeps in short, growing steps so the stalled thread can run. With
 *   more busy threads than cores, prefer one SP/SC ring per producer/consumer pair.
 *
 * Operations follow DPDK's families: `Bulk` moves all n or nothing; `Burst` moves as many as it
 * can (0..n). Each returns the count moved and leaves the free space (enqueue) or the entries
 * left (dequeue) in `lastFreeSpace` / `lastAvailable`, with no allocation. These are lower
 * bounds: a handle caches the other side's tail and re-reads it only when it might block (the
 * largest single speed-up measured for these rings), so they are exact whenever an operation
 * came up short, and otherwise may lag by what the other side moved since the last re-read.
 *
 * Ownership: enqueue copies the handles into the ring; from then on the consumer owns the objects
 * they name. On a partial burst, the caller still owns the handles that were not taken.
 */

export type SyncMode = 'single' | 'multi';

export interface RingOptions {
  /** Slots in the ring: a power of two (usable count - 1), or any count with `exactSize`. */
  count: number;
  /** As DPDK's RING_F_EXACT_SZ: the ring holds exactly `count` entries (memory rounds up). */
  exactSize?: boolean;
  /** u32 words per element: 1 (handles, the default), 2 or 4. */
  elemWords?: 1 | 2 | 4;
  producer?: SyncMode;
  consumer?: SyncMode;
  /** Name for errors and memzone lookup (at most 32 characters). */
  name?: string;
  /** First value of the head/tail counters (tests start near 2^32 to exercise the wrap). */
  startIndex?: number;
}

/** Plain data that names a ring: send it to another thread and `Ring.attach` it there. */
export interface RingDescriptor {
  readonly kind: 'ring';
  readonly sab: SharedArrayBuffer;
  readonly byteOffset: number;
}

// Header layout in u32 words. Line 0: constants. Line 1 (byte 128): producer head and tail.
// Line 2 (byte 256): consumer head and tail. Slots start at byte 384.
const MAGIC = 0;
const SIZE = 1;
const CAPACITY = 2;
const ELEM_WORDS = 3;
const FLAGS = 4;
const NAME = 8; // 8 words, 32 bytes of ASCII
const PROD_HEAD = 32;
const PROD_TAIL = 33;
const CONS_HEAD = 64;
const CONS_TAIL = 65;
const HEADER_BYTES = 384;
const RING_MAGIC = 0x72696e67; // "ring"
const FLAG_MP = 1;
const FLAG_MC = 2;
const MAX_SIZE = 1 << 28;

/** Bounded wait for earlier claimers (MP/MC): spin this many loads, then sleep 10 us, 20 us ... */
const SPIN_BEFORE_SLEEP = 256;
const MAX_SLEEP_MS = 1;

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function layout(options: RingOptions): { size: number; capacity: number; elemWords: number } {
  const { count, exactSize = false, elemWords = 1 } = options;
  if (!Number.isInteger(count) || count < 1) {
    throw new OptionError('count', count, 'a positive integer');
  }
  if (elemWords !== 1 && elemWords !== 2 && elemWords !== 4) {
    throw new OptionError('elemWords', elemWords, '1, 2 or 4');
  }
  if (exactSize) {
    const size = nextPow2(count + 1);
    if (size > MAX_SIZE) throw new OptionError('count', count, `at most ${MAX_SIZE - 1}`);
    return { size, capacity: count, elemWords };
  }
  if (count < 2 || (count & (count - 1)) !== 0 || count > MAX_SIZE) {
    throw new OptionError(
      'count',
      count,
      `a power of two in [2, 2^28] (the ring holds count - 1; pass exactSize: true to hold exactly ${count})`,
    );
  }
  return { size: count, capacity: count - 1, elemWords };
}

function checkMode(option: string, mode: unknown): void {
  if (mode !== undefined && mode !== 'single' && mode !== 'multi') {
    throw new OptionError(option, mode, "'single' or 'multi'");
  }
}

function sleepMs(cell: Int32Array, ms: number): void {
  Atomics.wait(cell, 0, 0, ms);
}

export class Ring {
  /** Bytes a ring with these options needs in its region. */
  static bytesFor(options: RingOptions): number {
    const { size, elemWords } = layout(options);
    return HEADER_BYTES + size * elemWords * 4;
  }

  /**
   * Initialises a ring at `byteOffset` (a multiple of 4) in `sab` and returns a handle to it.
   * Call once, before other threads attach.
   */
  static create(sab: SharedArrayBuffer, byteOffset: number, options: RingOptions): Ring {
    const { size, capacity, elemWords } = layout(options);
    checkMode('producer', options.producer);
    checkMode('consumer', options.consumer);
    const name = options.name ?? 'ring';
    if (name.length > 32 || !/^[\x20-\x7e]*$/.test(name)) {
      throw new OptionError('name', name, 'at most 32 printable ASCII characters');
    }
    const start = options.startIndex ?? 0;
    if (!Number.isInteger(start) || start < 0 || start > 0xffffffff) {
      throw new OptionError('startIndex', start, 'an integer in [0, 2^32-1]');
    }
    checkRegion(`Ring ${name}`, sab, byteOffset, HEADER_BYTES + size * elemWords * 4);
    const h = new Uint32Array(sab, byteOffset, HEADER_BYTES / 4);
    h.fill(0);
    h[SIZE] = size;
    h[CAPACITY] = capacity;
    h[ELEM_WORDS] = elemWords;
    h[FLAGS] =
      (options.producer === 'multi' ? FLAG_MP : 0) | (options.consumer === 'multi' ? FLAG_MC : 0);
    for (let i = 0; i < name.length; i++) {
      h[NAME + (i >> 2)] |= name.charCodeAt(i) << ((i & 3) * 8);
    }
    h[PROD_HEAD] = start;
    h[PROD_TAIL] = start;
    h[CONS_HEAD] = start;
    h[CONS_TAIL] = start;
    Atomics.store(h, MAGIC, RING_MAGIC); // publish last: attachers check it
    return new Ring({ kind: 'ring', sab, byteOffset });
  }

  /** Attaches to a ring created on any thread. */
  static attach(desc: RingDescriptor): Ring {
    if (desc === null || typeof desc !== 'object' || desc.kind !== 'ring') {
      throw new RegionError(
        `Ring.attach: expected a ring descriptor (from ring.descriptor), got kind ${String(desc?.kind)}`,
      );
    }
    return new Ring(desc);
  }

  readonly descriptor: RingDescriptor;
  readonly name: string;
  /** Slots in memory (a power of two). */
  readonly size: number;
  /** Entries the ring can hold: size - 1, or the exact count asked for. */
  readonly capacity: number;
  readonly elemWords: number;
  readonly producer: SyncMode;
  readonly consumer: SyncMode;
  /** Free slots after the last enqueue on this handle: a lower bound (see above). */
  lastFreeSpace = 0;
  /** Entries left after the last dequeue on this handle: a lower bound (see above). */
  lastAvailable = 0;

  private readonly h: Uint32Array;
  private readonly slots: Uint32Array;
  private readonly mask: number;
  private readonly mp: boolean;
  private readonly mc: boolean;
  /** This handle's last look at the consumer tail / producer tail. Both only move forward, so a
   * stale copy only under-estimates what is free or available: re-read when it might block. */
  private consTailCache: number;
  private prodTailCache: number;
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));

  private constructor(desc: RingDescriptor) {
    checkRegion('Ring', desc.sab, desc.byteOffset, HEADER_BYTES);
    const h = new Uint32Array(desc.sab, desc.byteOffset, HEADER_BYTES / 4);
    if (Atomics.load(h, MAGIC) !== RING_MAGIC) {
      throw new RegionError(
        `Ring.attach: no ring at byte ${desc.byteOffset} of this SharedArrayBuffer; create it with Ring.create first`,
      );
    }
    this.h = h;
    this.size = h[SIZE];
    this.capacity = h[CAPACITY];
    this.elemWords = h[ELEM_WORDS];
    this.mask = this.size - 1;
    this.mp = (h[FLAGS] & FLAG_MP) !== 0;
    this.mc = (h[FLAGS] & FLAG_MC) !== 0;
    this.producer = this.mp ? 'multi' : 'single';
    this.consumer = this.mc ? 'multi' : 'single';
    let name = '';
    for (let i = 0; i < 32; i++) {
      const c = (h[NAME + (i >> 2)] >>> ((i & 3) * 8)) & 0xff;
      if (c === 0) break;
      name += String.fromCharCode(c);
    }
    this.name = name;
    checkRegion(
      `Ring ${name}`,
      desc.sab,
      desc.byteOffset,
      HEADER_BYTES + this.size * this.elemWords * 4,
    );
    this.slots = new Uint32Array(
      desc.sab,
      desc.byteOffset + HEADER_BYTES,
      this.size * this.elemWords,
    );
    this.consTailCache = Atomics.load(h, CONS_TAIL);
    this.prodTailCache = Atomics.load(h, PROD_TAIL);
    this.descriptor = desc;
  }

  /**
   * Enqueues all `n` elements from `objs[offset ...]` or none. Returns n or 0.
   * `objs` holds n * elemWords words.
   */
  enqueueBulk(objs: Uint32Array, n: number, offset = 0): number {
    return this.enqueue_(objs, n, offset, true);
  }

  /** Enqueues as many of the `n` elements as fit (0..n). Returns the count taken. */
  enqueueBurst(objs: Uint32Array, n: number, offset = 0): number {
    return this.enqueue_(objs, n, offset, false);
  }

  /** Dequeues exactly `n` elements into `objs[offset ...]`, or none. Returns n or 0. */
  dequeueBulk(objs: Uint32Array, n: number, offset = 0): number {
    return this.dequeue_(objs, n, offset, true);
  }

  /** Dequeues up to `n` elements (0..n). Returns the count moved. */
  dequeueBurst(objs: Uint32Array, n: number, offset = 0): number {
    return this.dequeue_(objs, n, offset, false);
  }

  /** Enqueues one handle (elemWords 1). Returns false when the ring is full. */
  enqueueOne(handle: number): boolean {
    this.one[0] = handle;
    return this.enqueue_(this.one, 1, 0, true) === 1;
  }

  /** Dequeues one handle (elemWords 1). Returns -1 when the ring is empty. */
  dequeueOne(): number {
    return this.dequeue_(this.one, 1, 0, true) === 1 ? this.one[0] : -1;
  }

  private readonly one = new Uint32Array(4);

  /** Entries in the ring now (a snapshot). */
  count(): number {
    const used = (Atomics.load(this.h, PROD_TAIL) - Atomics.load(this.h, CONS_TAIL)) >>> 0;
    // A consumer can pass our read of the producer tail between the two loads; clamp as DPDK does.
    return Math.min(used, this.capacity);
  }

  freeCount(): number {
    return this.capacity - this.count();
  }

  isEmpty(): boolean {
    return this.count() === 0;
  }

  isFull(): boolean {
    return this.count() === this.capacity;
  }

  /** Empties the ring. Not thread-safe: only when no other thread is using it (rte_ring_reset). */
  reset(): void {
    const t = Atomics.load(this.h, CONS_TAIL);
    Atomics.store(this.h, PROD_HEAD, t);
    Atomics.store(this.h, PROD_TAIL, t);
    Atomics.store(this.h, CONS_HEAD, t);
    this.consTailCache = t;
    this.prodTailCache = t;
  }

  private checkArgs(objs: Uint32Array, n: number, offset: number): void {
    if (!Number.isInteger(n) || n < 1) {
      throw new OptionError('n', n, 'a positive integer (the number of elements to move)');
    }
    if (!Number.isInteger(offset) || offset < 0 || offset + n * this.elemWords > objs.length) {
      throw new OptionError(
        'offset',
        offset,
        `an index such that offset + n * ${this.elemWords} <= objs.length (${objs.length}), for n = ${n}`,
      );
    }
  }

  private enqueue_(objs: Uint32Array, n: number, offset: number, bulk: boolean): number {
    if (n < 1 || offset + n * this.elemWords > objs.length || offset < 0 || n !== (n | 0)) {
      this.checkArgs(objs, n, offset);
    }
    const h = this.h;
    const capacity = this.capacity;
    let head: number;
    let free: number;
    if (!this.mp) {
      // A single producer's head always equals its tail between calls: read the tail (our own
      // word) and never write the head, one store less on the line the consumer polls.
      head = h[PROD_TAIL];
      free = (capacity + this.consTailCache - head) >>> 0;
      if (free < n) {
        this.consTailCache = Atomics.load(h, CONS_TAIL);
        free = (capacity + this.consTailCache - head) >>> 0;
      }
      if (free < n) {
        if (bulk || free === 0) {
          this.lastFreeSpace = free;
          return 0;
        }
        n = free;
      }
    } else {
      for (;;) {
        head = Atomics.load(h, PROD_HEAD);
        free = (capacity + this.consTailCache - head) >>> 0;
        // A fresh consumer tail may be newer than our head read: the difference then wraps.
        if (free < n || free > capacity) {
          this.consTailCache = Atomics.load(h, CONS_TAIL);
          free = (capacity + this.consTailCache - head) >>> 0;
          if (free > capacity) continue; // head moved under us; take a fresh look
        }
        let m = n;
        if (free < n) {
          if (bulk || free === 0) {
            this.lastFreeSpace = free;
            return 0;
          }
          m = free;
        }
        if (Atomics.compareExchange(h, PROD_HEAD, head, (head + m) >>> 0) === head) {
          n = m;
          break;
        }
      }
    }
    this.copyIn(objs, offset, head, n);
    if (this.mp) this.waitTurn(PROD_TAIL, head);
    Atomics.store(h, PROD_TAIL, (head + n) >>> 0);
    this.lastFreeSpace = free - n;
    return n;
  }

  private dequeue_(objs: Uint32Array, n: number, offset: number, bulk: boolean): number {
    if (n < 1 || offset + n * this.elemWords > objs.length || offset < 0 || n !== (n | 0)) {
      this.checkArgs(objs, n, offset);
    }
    const h = this.h;
    let head: number;
    let avail: number;
    if (!this.mc) {
      head = h[CONS_TAIL]; // as for a single producer: head == tail between calls

      avail = (this.prodTailCache - head) >>> 0;
      if (avail < n) {
        this.prodTailCache = Atomics.load(h, PROD_TAIL);
        avail = (this.prodTailCache - head) >>> 0;
      }
      if (avail < n) {
        if (bulk || avail === 0) {
          this.lastAvailable = avail;
          return 0;
        }
        n = avail;
      }
    } else {
      for (;;) {
        head = Atomics.load(h, CONS_HEAD);
        avail = (this.prodTailCache - head) >>> 0;
        // Another consumer may have moved the head past our cached tail: the difference then
        // wraps to a huge number. Treat that like "not enough" and re-read.
        if (avail < n || avail > this.capacity) {
          this.prodTailCache = Atomics.load(h, PROD_TAIL);
          avail = (this.prodTailCache - head) >>> 0;
          if (avail > this.capacity) continue; // head moved under us; take a fresh look
        }
        let m = n;
        if (avail < n) {
          if (bulk || avail === 0) {
            this.lastAvailable = avail;
            return 0;
          }
          m = avail;
        }
        if (Atomics.compareExchange(h, CONS_HEAD, head, (head + m) >>> 0) === head) {
          n = m;
          break;
        }
      }
    }
    this.copyOut(objs, offset, head, n);
    if (this.mc) this.waitTurn(CONS_TAIL, head);
    Atomics.store(h, CONS_TAIL, (head + n) >>> 0);
    this.lastAvailable = avail - n;
    return n;
  }

  /** MP/MC: wait until every earlier claimer has published (tail === our head). Bounded spin,
   * then short sleeps so a descheduled claimer gets the CPU back. */
  private waitTurn(tailIndex: number, head: number): void {
    const h = this.h;
    if (Atomics.load(h, tailIndex) === head) return;
    let spins = 0;
    let sleep = 0.01;
    while (Atomics.load(h, tailIndex) !== head) {
      if (++spins < SPIN_BEFORE_SLEEP) continue;
      sleepMs(this.sleepCell, sleep);
      if (sleep < MAX_SLEEP_MS) sleep *= 2;
    }
  }

  private copyIn(objs: Uint32Array, offset: number, head: number, n: number): void {
    const slots = this.slots;
    const w = this.elemWords;
    const words = n * w;
    const idx = (head & this.mask) * w;
    if (words === 1) {
      slots[idx] = objs[offset];
      return;
    }
    const end = this.size * w;
    if (idx + words <= end) {
      // The common case: no wrap. A whole source array goes in with one memmove (TypedArray.set
      // without a subarray, so nothing is allocated); otherwise an unrolled copy.
      if (offset === 0 && words === objs.length) slots.set(objs, idx);
      else copyWords(objs, offset, slots, idx, words);
      return;
    }
    const first = end - idx;
    copyWords(objs, offset, slots, idx, first);
    copyWords(objs, offset + first, slots, 0, words - first);
  }

  private copyOut(objs: Uint32Array, offset: number, head: number, n: number): void {
    const slots = this.slots;
    const w = this.elemWords;
    const words = n * w;
    const idx = (head & this.mask) * w;
    if (words === 1) {
      objs[offset] = slots[idx];
      return;
    }
    const end = this.size * w;
    if (idx + words <= end) {
      copyWords(slots, idx, objs, offset, words);
      return;
    }
    const first = end - idx;
    copyWords(slots, idx, objs, offset, first);
    copyWords(slots, 0, objs, offset + first, words - first);
  }
}

/** Copies `n` words from `src[s...]` to `dst[d...]`, unrolled by 8 (twice as fast as a plain
 * loop here for bursts of 32 and more). */
function copyWords(src: Uint32Array, s: number, dst: Uint32Array, d: number, n: number): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    dst[d + i] = src[s + i];
    dst[d + i + 1] = src[s + i + 1];
    dst[d + i + 2] = src[s + i + 2];
    dst[d + i + 3] = src[s + i + 3];
    dst[d + i + 4] = src[s + i + 4];
    dst[d + i + 5] = src[s + i + 5];
    dst[d + i + 6] = src[s + i + 6];
    dst[d + i + 7] = src[s + i + 7];
  }
  for (; i < n; i++) dst[d + i] = src[s + i];
}
