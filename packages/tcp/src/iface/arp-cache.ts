import { OptionError } from '@bypass/atomics-sync';
/**
 * The ARP neighbour cache (RFC 826, with the pacing and queueing habits of Linux's neighbour
 * table): IPv4 address (u32) to MAC (a 48-bit integer, as wire/ethernet.ts has it), one per
 * lcore, no sharing, no locks.
 *
 * Storage is fixed at construction: `capacity` entries in typed arrays, found through an
 * open-addressing table (linear probing, at most half full, backward-shift deletion so there
 * are no tombstones). `lookup` allocates nothing and probes a few slots.
 *
 * Entry states:
 * - incomplete: a request is out (or about to be), packets wait in the entry's pending queue;
 * - reachable: answered; valid until `ttlMs` after the last confirmation;
 * - static: configured with `addStatic`, never expires, never overwritten by received ARP.
 *
 * Time is an argument (`now`, ms). The caller drives the cache from its poll loop:
 *
 * ```ts
 * // output path, for next hop `ip` and mbuf handle `h`
 * const mac = arp.lookup(ip, now);
 * if (mac >= 0) send(h, mac);
 * else {
 *   if (!arp.enqueuePending(ip, h, now)) { free(h); stats.arpDrops++; }
 *   if (arp.needsRequest(ip, now)) sendArpRequest(ip);
 * }
 * // input path, for a received ARP packet (RFC 826 "Packet Reception")
 * arp.update(spa, sha, now, tpa === ourIp);
 * const n = arp.takePending(spa, scratch); // send scratch[0..n) to sha
 * // every poll (or timer tick)
 * for (let i = 0, n = arp.dueRequests(now, ips); i < n; i++) sendArpRequest(ips[i]);
 * for (let i = 0, n = arp.expire(now, dropped); i < n; i++) free(dropped[i]);
 * ```
 *
 * Ownership: a handle passed to `enqueuePending` (when it returns true) belongs to the cache
 * until it comes back from exactly one of `takePending`, `expire` or `remove`; the caller then
 * owns it again (sends or frees it).
 */

export interface ArpCacheOptions {
  /** Entries the cache holds (default 1024; 1 to 2^20). */
  capacity?: number;
  /** A reachable entry expires this long after its last confirmation, in ms (default 60 000). */
  ttlMs?: number;
  /**
   * Packets held per unresolved address (default 100; 0 to 65535). Linux holds
   * unres_qlen_bytes = 212992 bytes' worth since 3.3, about 100 full frames: a burst of connects
   * to a fresh neighbour must not lose its SYNs to a 1 s retransmission.
   */
  pendingPerEntry?: number;
  /** ARP requests sent before resolution fails (default 3; 1 to 255). */
  retries?: number;
  /** Interval between requests for one address, in ms (default 1000). */
  retryMs?: number;
}

export const ARP_CACHE_DEFAULTS: Readonly<Required<ArpCacheOptions>> = Object.freeze({
  capacity: 1024,
  ttlMs: 60_000,
  pendingPerEntry: 100,
  retries: 3,
  retryMs: 1000,
});

const MAX_CAPACITY = 1 << 20;
const MAC_MAX = 0xffff_ffff_ffff;

const FREE = 0;
const INCOMPLETE = 1;
const REACHABLE = 2;
const STATIC = 3;

const EMPTY = -1;
const NO_HANDLES = new Uint32Array(0);

function checkInteger(option: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new OptionError(option, v, `an integer from ${min} to ${max}`);
  }
  return v;
}

function checkPositive(option: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new OptionError(option, v, 'a finite number of ms above 0');
  }
  return v;
}

/** The 32-bit mix the table hashes an IPv4 address with (Fibonacci hashing); its top bits pick the home slot. Exported for tests. */
export function arpCacheHash(ip: number): number {
  return Math.imul(ip, 0x9e3779b1) >>> 0;
}

export class ArpCache {
  readonly capacity: number;
  readonly ttlMs: number;
  readonly pendingPerEntry: number;
  readonly retries: number;
  readonly retryMs: number;

  /** Open-addressing slots: entry index or EMPTY. Length a power of two, at least 2 × capacity. */
  readonly #slots: Int32Array;
  readonly #mask: number;
  readonly #shift: number;

  // Per entry (index 0 .. capacity-1).
  readonly #ip: Uint32Array;
  readonly #mac: Float64Array;
  readonly #state: Uint8Array;
  /** Reachable: time of the last confirmation. */
  readonly #confirmedAt: Float64Array;
  /** Incomplete: time of the last request sent, or of creation while `#requests` is 0. */
  readonly #requestedAt: Float64Array;
  readonly #requests: Uint8Array;
  /** Pending handles, a ring of `pendingPerEntry` per entry. */
  readonly #pending: Uint32Array;
  readonly #pendingHead: Uint16Array;
  readonly #pendingCount: Uint16Array;

  /** Stack of free entry indices. */
  readonly #free: Int32Array;
  #freeTop: number;
  #pendingTotal = 0;
  #version = 0;

  /** Throws OptionError for a bad option. */
  constructor(options: ArpCacheOptions = {}) {
    const o = { ...ARP_CACHE_DEFAULTS, ...options };
    this.capacity = checkInteger('capacity', o.capacity, 1, MAX_CAPACITY);
    this.ttlMs = checkPositive('ttlMs', o.ttlMs);
    this.pendingPerEntry = checkInteger('pendingPerEntry', o.pendingPerEntry, 0, 0xffff);
    this.retries = checkInteger('retries', o.retries, 1, 255);
    this.retryMs = checkPositive('retryMs', o.retryMs);

    let bits = 1;
    while (1 << bits < 2 * this.capacity) bits++;
    this.#slots = new Int32Array(1 << bits).fill(EMPTY);
    this.#mask = (1 << bits) - 1;
    this.#shift = 32 - bits;

    const n = this.capacity;
    this.#ip = new Uint32Array(n);
    this.#mac = new Float64Array(n);
    this.#state = new Uint8Array(n);
    this.#confirmedAt = new Float64Array(n);
    this.#requestedAt = new Float64Array(n);
    this.#requests = new Uint8Array(n);
    this.#pending = new Uint32Array(n * this.pendingPerEntry);
    this.#pendingHead = new Uint16Array(n);
    this.#pendingCount = new Uint16Array(n);
    this.#free = new Int32Array(n);
    for (let i = 0; i < n; i++) this.#free[i] = n - 1 - i;
    this.#freeTop = n;
  }

  /**
   * Changes whenever an entry's address, state or MAC changes: `lookup(ip, now)` answers the same
   * for the same `ip`, `now` and version (a caller may keep the answer for a burst).
   */
  get version(): number {
    return this.#version;
  }

  /** Entries in use (any state). */
  get size(): number {
    return this.capacity - this.#freeTop;
  }

  /** Pending handles the cache owns right now, over all entries. */
  get pendingTotal(): number {
    return this.#pendingTotal;
  }

  /**
   * The MAC for `ip` (a u32), or -1 when there is none usable: no entry, incomplete, or a
   * reachable entry at or past `confirmedAt + ttlMs` (treated as absent; `expire` removes it).
   * Allocation-free; changes nothing.
   */
  lookup(ip: number, now: number): number {
    const e = this.#find(ip);
    if (e < 0) return -1;
    const s = this.#state[e];
    if (s === STATIC) return this.#mac[e];
    if (s === REACHABLE && now < this.#confirmedAt[e] + this.ttlMs) return this.#mac[e];
    return -1;
  }

  /**
   * Records `ip` → `mac` from a received ARP request or reply (RFC 826 "Packet Reception": the
   * sender's pair updates an existing entry; a new entry is made only when we are the target,
   * which the caller says with `learn`). The entry becomes reachable, confirmed at `now`; its
   * pending packets stay queued for `takePending`. A static entry is left alone.
   * Returns true when the cache now maps `ip` to `mac` through this call; false when ignored
   * (no entry and `learn` false, a static entry, or the table full with nothing evictable).
   */
  update(ip: number, mac: number, now: number, learn = false): boolean {
    let e = this.#find(ip);
    if (e < 0) {
      if (!learn) return false;
      e = this.#insert(ip);
      if (e < 0) return false;
    } else if (this.#state[e] === STATIC) {
      return false;
    }
    this.#state[e] = REACHABLE;
    this.#mac[e] = mac;
    this.#confirmedAt[e] = now;
    this.#requests[e] = 0;
    this.#version++;
    return true;
  }

  /**
   * Adds or overwrites a static entry (never expires, never replaced by received ARP). Pending
   * packets of an incomplete entry stay queued for `takePending`. Throws OptionError for
   * an `ip` that is not a u32 or a `mac` that is not a 48-bit integer; returns false when the
   * table is full with nothing evictable.
   */
  addStatic(ip: number, mac: number): boolean {
    checkInteger('ip', ip, 0, 0xffff_ffff);
    checkInteger('mac', mac, 0, MAC_MAX);
    let e = this.#find(ip);
    if (e < 0) {
      e = this.#insert(ip);
      if (e < 0) return false;
    }
    this.#state[e] = STATIC;
    this.#mac[e] = mac;
    this.#requests[e] = 0;
    this.#version++;
    return true;
  }

  /**
   * Removes the entry for `ip`, whatever its state. Its pending handles are written to
   * `dropped` and go back to the caller to free. Returns -1 when there is no entry, else the
   * number of handles written. Refuses (throws RangeError, changing nothing) when `dropped` is
   * too small for them, so that no handle is lost.
   */
  remove(ip: number, dropped: Uint32Array = NO_HANDLES): number {
    const e = this.#find(ip);
    if (e < 0) return -1;
    const count = this.#pendingCount[e];
    if (count > dropped.length) {
      throw new RangeError(
        `remove: the entry holds ${count} pending handles; dropped has room for ${dropped.length}`,
      );
    }
    this.#drain(e, dropped, 0, count);
    this.#release(e);
    return count;
  }

  /**
   * Queues mbuf handle `handle` (a u32) behind the resolution of `ip`. Makes an incomplete
   * entry when there is none (or the entry is a reachable one past its ttl). Returns false,
   * keeping nothing, when the entry already holds `pendingPerEntry` handles or the table is
   * full with nothing evictable: the caller drops the packet and counts it. On true the cache
   * owns the handle (see the ownership note above).
   */
  enqueuePending(ip: number, handle: number, now: number): boolean {
    const e = this.#findOrStartResolving(ip, now);
    if (e < 0) return false;
    const count = this.#pendingCount[e];
    if (count >= this.pendingPerEntry) return false;
    const base = e * this.pendingPerEntry;
    this.#pending[base + ((this.#pendingHead[e] + count) % this.pendingPerEntry)] = handle;
    this.#pendingCount[e] = count + 1;
    this.#pendingTotal++;
    return true;
  }

  /**
   * Moves up to `out.length` of the handles queued for `ip` into `out`, oldest first (FIFO), and
   * returns how many; the rest stay queued. 0 when there is no entry or nothing queued.
   */
  takePending(ip: number, out: Uint32Array): number {
    const e = this.#find(ip);
    if (e < 0) return 0;
    const n = Math.min(this.#pendingCount[e], out.length);
    this.#drain(e, out, 0, n);
    return n;
  }

  /**
   * Whether to send an ARP request for `ip` now; true also records that it was sent. True for
   * an address with no entry (an incomplete entry is made), a reachable entry past its ttl
   * (it becomes incomplete), or an incomplete entry that has sent no request yet or sent its
   * last one `retryMs` or more ago and fewer than `retries` in all. False otherwise, and when
   * the table is full with nothing evictable.
   */
  needsRequest(ip: number, now: number): boolean {
    const e = this.#findOrStartResolving(ip, now);
    if (e < 0 || this.#state[e] !== INCOMPLETE) return false;
    return this.#requestIfDue(e, now);
  }

  /**
   * Retransmission for a poll loop: writes to `out` the address of every incomplete entry for
   * which `needsRequest` would say true now, records the requests as sent, and returns how
   * many (at most `out.length`; the rest on a later call).
   */
  dueRequests(now: number, out: Uint32Array): number {
    let n = 0;
    for (let e = 0; e < this.capacity && n < out.length; e++) {
      if (this.#state[e] === INCOMPLETE && this.#requestIfDue(e, now)) out[n++] = this.#ip[e];
    }
    return n;
  }

  /**
   * Ages entries out. A reachable entry goes at `confirmedAt + ttlMs`. An incomplete entry
   * fails at `requestedAt + (retries - requests + 1) × retryMs`: with requests sent on time
   * that is `retries × retryMs` after the first (3 s by default), and the last request always
   * gets a full `retryMs` to be answered. The pending handles of every removed entry are
   * written to `dropped` for the caller to free; returns how many. When they do not all fit,
   * `dropped` is filled and the rest wait (the entry, dead already, goes once it is empty):
   * call again while the return value is `dropped.length`. Each handle comes back exactly once,
   * and an entry holding more handles than `dropped` has room for still goes.
   */
  expire(now: number, dropped: Uint32Array): number {
    let n = 0;
    for (let e = 0; e < this.capacity; e++) {
      const s = this.#state[e];
      let dead = false;
      if (s === REACHABLE) dead = now >= this.#confirmedAt[e] + this.ttlMs;
      else if (s === INCOMPLETE) dead = now >= this.#incompleteDeadline(e);
      if (!dead) continue;
      const count = this.#pendingCount[e];
      const take = Math.min(count, dropped.length - n);
      this.#drain(e, dropped, n, take);
      n += take;
      if (take < count) return n; // dropped is full: the rest at the next call
      this.#release(e);
    }
    return n;
  }

  #incompleteDeadline(e: number): number {
    return this.#requestedAt[e] + (this.retries - this.#requests[e] + 1) * this.retryMs;
  }

  #requestIfDue(e: number, now: number): boolean {
    const sent = this.#requests[e];
    if (sent !== 0 && (sent >= this.retries || now < this.#requestedAt[e] + this.retryMs)) {
      return false;
    }
    this.#requests[e] = sent + 1;
    this.#requestedAt[e] = now;
    return true;
  }

  /** The entry for `ip`; a reachable one past its ttl, or a new one, made incomplete. -1 when full. */
  #findOrStartResolving(ip: number, now: number): number {
    let e = this.#find(ip);
    if (e < 0) {
      e = this.#insert(ip);
      if (e < 0) return -1;
    } else if (this.#state[e] !== REACHABLE || now < this.#confirmedAt[e] + this.ttlMs) {
      return e;
    }
    this.#state[e] = INCOMPLETE;
    this.#mac[e] = -1;
    this.#requests[e] = 0;
    this.#requestedAt[e] = now;
    this.#version++;
    return e;
  }

  /** Moves `count` handles from the front of entry e's queue to out[at ..]. */
  #drain(e: number, out: Uint32Array, at: number, count: number): void {
    const per = this.pendingPerEntry;
    const base = e * per;
    let head = this.#pendingHead[e];
    for (let i = 0; i < count; i++) {
      out[at + i] = this.#pending[base + head];
      head = head + 1 === per ? 0 : head + 1;
    }
    this.#pendingHead[e] = count === 0 ? this.#pendingHead[e] : head;
    this.#pendingCount[e] -= count;
    this.#pendingTotal -= count;
  }

  #home(ip: number): number {
    return arpCacheHash(ip) >>> this.#shift;
  }

  #find(ip: number): number {
    const slots = this.#slots;
    const mask = this.#mask;
    for (let i = this.#home(ip); ; i = (i + 1) & mask) {
      const e = slots[i];
      if (e === EMPTY) return -1;
      if (this.#ip[e] === ip) return e;
    }
  }

  /**
   * A fresh entry for `ip` (absent), state still FREE for the caller to set. When every entry
   * is taken, evicts the reachable entry with the oldest confirmation that holds no pending
   * handles (expired ones are the oldest of all); static and incomplete entries are never
   * evicted, so a table full of them refuses (-1) rather than drop queued packets.
   */
  #insert(ip: number): number {
    if (this.#freeTop === 0) {
      let victim = -1;
      let oldest = Number.POSITIVE_INFINITY;
      for (let e = 0; e < this.capacity; e++) {
        if (
          this.#state[e] === REACHABLE &&
          this.#pendingCount[e] === 0 &&
          this.#confirmedAt[e] < oldest
        ) {
          oldest = this.#confirmedAt[e];
          victim = e;
        }
      }
      if (victim < 0) return -1;
      this.#release(victim);
    }
    const e = this.#free[--this.#freeTop];
    this.#ip[e] = ip;
    this.#pendingHead[e] = 0;
    this.#pendingCount[e] = 0;
    this.#requests[e] = 0;
    const mask = this.#mask;
    let i = this.#home(ip);
    while (this.#slots[i] !== EMPTY) i = (i + 1) & mask;
    this.#slots[i] = e;
    return e;
  }

  /** Frees entry e (its pending queue must be empty) and closes the gap in its probe run (backward-shift deletion). */
  #release(e: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(this.#ip[e]);
    while (slots[i] !== e) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; slots[j] !== EMPTY; j = (j + 1) & mask) {
      const k = this.#home(this.#ip[slots[j]]);
      // Move slots[j] back into the hole at i unless its home lies cyclically in (i, j].
      const homeInRange = i <= j ? i < k && k <= j : i < k || k <= j;
      if (!homeInRange) {
        slots[i] = slots[j];
        i = j;
      }
    }
    slots[i] = EMPTY;
    this.#state[e] = FREE;
    this.#free[this.#freeTop++] = e;
    this.#version++;
  }
}
