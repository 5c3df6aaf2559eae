import { OptionError } from '@bypass/atomics-sync';

/**
 * The RSS redirection table (DPDK's RETA, rte_eth_rss_reta_entry64): `size` entries, each an
 * rx queue id. A packet with RSS hash h goes to queue `entries[h & (size - 1)]`: the low bits
 * of the hash pick the entry, as on Intel and Mellanox NICs and in DPDK's software RSS.
 *
 * Memory. The entries are a Uint32Array (one u32 per entry, as the port table's RETA words),
 * by default over a SharedArrayBuffer of its own, so another thread can build a `Reta` over
 * the same memory (`fill: false`) and see updates at once; pass `entries` to place the table
 * in a region you own (a port record in a memzone).
 *
 * Memory ordering. Writers (`set`, `update`, the constructor's fill) use `Atomics.store`, so
 * each entry is published as a whole and in program order. `queueOf`, the per-packet read,
 * is a plain load: an aligned integer TypedArray access is tear-free in the ECMAScript memory
 * model, so a reader racing an update sees the old queue or the new one, never a mix. No
 * ordering between entries is promised, nor needed: during an update some flows move before
 * others, exactly as when a driver rewrites a NIC's RETA registers one by one (DPDK's
 * rte_eth_dev_rss_reta_update gives no more). A poll loop performs Atomics operations on its
 * rings every burst, which keeps the compiler from caching entries across bursts. The plain
 * load costs about 0.5 ns, `Atomics.load` about 5 ns, on the hot path of every packet.
 */

export interface RetaOptions {
  /** Number of rx queues the table spreads over: an integer in [1, 65535]. */
  queues: number;
  /** Entries: a power of two in [64, 512]. Default 128 (ixgbe's RETA). */
  size?: number;
  /**
   * Where the entries live: at least `size` u32s (the first `size` are used). Default: a new
   * SharedArrayBuffer of `size * 4` bytes. A view over shared memory makes the table live
   * across threads.
   */
  entries?: Uint32Array;
  /**
   * true (default): fill the table round robin, entry i -> queue i % queues (DPDK's default
   * RETA). false: keep what `entries` holds: another thread's table over the same memory.
   */
  fill?: boolean;
}

export class Reta {
  static readonly MIN_SIZE = 64;
  static readonly MAX_SIZE = 512;
  static readonly DEFAULT_SIZE = 128;
  static readonly MAX_QUEUES = 65535;

  /** Number of entries (a power of two). */
  readonly size: number;
  /** size - 1: `hash & mask` is the entry a hash selects. */
  readonly mask: number;
  /** Queue ids run from 0 to queues - 1. */
  readonly queues: number;
  /** The entries themselves (`size` u32s). Write them through `set`/`update`. */
  readonly entries: Uint32Array;

  /**
   * @throws OptionError naming `queues`, `size` or `entries` and the bad value: queues not an
   *   integer in [1, 65535], size not a power of two in [64, 512], entries shorter than size.
   */
  constructor(options: RetaOptions) {
    const { queues, size = Reta.DEFAULT_SIZE, entries, fill = true } = options;
    if (!Number.isInteger(queues) || queues < 1 || queues > Reta.MAX_QUEUES) {
      throw new OptionError('queues', queues, `an integer in [1, ${Reta.MAX_QUEUES}]`);
    }
    if (
      !Number.isInteger(size) ||
      size < Reta.MIN_SIZE ||
      size > Reta.MAX_SIZE ||
      (size & (size - 1)) !== 0
    ) {
      throw new OptionError(
        'size',
        size,
        `a power of two in [${Reta.MIN_SIZE}, ${Reta.MAX_SIZE}] (RETA entries)`,
      );
    }
    if (entries !== undefined && !(entries instanceof Uint32Array && entries.length >= size)) {
      throw new OptionError(
        'entries',
        entries instanceof Uint32Array ? `a Uint32Array of length ${entries.length}` : entries,
        `a Uint32Array of at least size (${size}) entries`,
      );
    }
    this.queues = queues;
    this.size = size;
    this.mask = size - 1;
    this.entries =
      entries === undefined
        ? new Uint32Array(new SharedArrayBuffer(size * Uint32Array.BYTES_PER_ELEMENT))
        : entries.subarray(0, size);
    if (fill) {
      for (let i = 0; i < size; i++) Atomics.store(this.entries, i, i % queues);
    }
  }

  /**
   * The rx queue for an RSS hash: `entries[hash & (size - 1)]`. Per packet: no checks, no
   * allocation. `hash` is the unsigned 32-bit hash; `RSS_NOT_HASHED` (-1) is not a hash:
   * a NIC delivers unhashed packets to queue 0, and so should the caller.
   */
  queueOf(hash: number): number {
    return this.entries[hash & this.mask];
  }

  /** The queue of entry `index`. */
  get(index: number): number {
    this.checkIndex(index);
    return Atomics.load(this.entries, index);
  }

  /**
   * Point entry `index` at `queue`: flows whose hash selects this entry move to that queue.
   * @throws OptionError for an index outside [0, size - 1] or a queue outside [0, queues - 1].
   */
  set(index: number, queue: number): void {
    this.checkIndex(index);
    this.checkQueue('queue', queue);
    Atomics.store(this.entries, index, queue);
  }

  /**
   * Write `queues[i]` to entry `start + i` for every i (DPDK's reta_update; a whole table
   * is `update(table)`). Every value is checked before any is written, so a bad one leaves
   * the table as it was.
   * @throws OptionError naming the first bad value (`queues[i]`), or a `start`/length that
   *   runs past the table.
   */
  update(queues: ArrayLike<number>, start = 0): void {
    if (!Number.isInteger(start) || start < 0 || start + queues.length > this.size) {
      throw new OptionError(
        'start',
        start,
        `an integer with start + ${queues.length} entries <= size (${this.size})`,
      );
    }
    for (let i = 0; i < queues.length; i++) this.checkQueue(`queues[${i}]`, queues[i]);
    for (let i = 0; i < queues.length; i++) Atomics.store(this.entries, start + i, queues[i]);
  }

  /** A copy of the table, entry by entry (DPDK's reta_query). Slow path. */
  toArray(): number[] {
    const out: number[] = new Array(this.size);
    for (let i = 0; i < this.size; i++) out[i] = Atomics.load(this.entries, i);
    return out;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new OptionError('index', index, `an integer in [0, ${this.size - 1}] (a RETA entry)`);
    }
  }

  private checkQueue(name: string, queue: number): void {
    if (!Number.isInteger(queue) || queue < 0 || queue >= this.queues) {
      throw new OptionError(name, queue, `a queue id, an integer in [0, ${this.queues - 1}]`);
    }
  }
}
