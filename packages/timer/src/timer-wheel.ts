import { OptionError } from '@bypass/atomics-sync';

/**
 * Per-lcore timers after DPDK's rte_timer, sans-IO: the wheel never reads a clock. The lcore
 * poll loop passes `now` (milliseconds, a monotonic float, e.g. `performance.now()`) to
 * `manage(now)`, and tests pass virtual time, so every schedule is deterministic.
 *
 * Timers are u32 handles: indices into a table of typed arrays allocated once at construction
 * (`capacity` timers). A callback and its argument are registered once per timer by `create()`;
 * `reset()` arms, `stop()` disarms, `manage(now)` fires. Arming, stopping and firing allocate
 * nothing: no closures, arrays or objects per event.
 *
 * Contract, in rte_timer's words where they apply:
 * - A timer never fires before its expiry: it fires in the first `manage(now)` with
 *   `now >= expiry`. The tick is only the width of a wheel slot, not a rounding of time.
 * - One `manage(now)` fires the timers that were due when it was called in expiry order; equal
 *   expiries fire in the order they were armed (a periodic re-arm counts as arming at the time
 *   it fires). It returns how many fired.
 * - Callbacks may stop, reset, free or create any timer, their own included. A due timer that an
 *   earlier callback in the same `manage()` stopped, reset or freed does not fire. A timer armed
 *   during `manage(now)` waits for the next `manage()`, even when it is already due (delay 0):
 *   as in rte_timer_manage, a callback that re-arms itself with delay 0 cannot livelock the lcore.
 *   `nextExpiry()` then reports an expiry `<= now`, so the poll loop knows not to park.
 * - Periodic timers are phase-locked: the n-th expiry is `armedAt + n * periodMs`, computed by
 *   multiplication rather than repeated addition, so there is no drift, not even rounding drift.
 *   A periodic timer is re-armed just before its callback runs, so `stop()` in the callback ends
 *   it and `reset()` in the callback replaces the period.
 * - Late `manage()` (the lcore was busy for several periods): a periodic timer fires ONCE, then
 *   re-arms at the first expiry of its own phase that is still in the future; the periods it
 *   skipped are counted in `overrun(timer)` (as timerfd reports them). rte_timer also fires once
 *   but re-arms from now, which drifts; fire-each would hand a stalled lcore a burst of stale
 *   work exactly when it is behind.
 * - If a callback throws, the error propagates out of `manage()`; timers that were due and had not
 *   fired yet stay pending and fire in the next `manage()`.
 * - `now` never goes backwards: `manage(now)` and `reset(..., now)` reject a `now` earlier than
 *   the last `manage()`.
 *
 * Design: a hierarchical timing wheel (Varghese and Lauck's scheme 7, the classic cascading
 * layout) for the future, in front of a binary heap for the present.
 * - Ticks: integer `floor(ms / tickMs)`. The wheel keeps a cursor tick, moved only by manage().
 * - The heap holds every pending timer whose tick is at or before the cursor: the ones that are
 *   due or about to be. It is an indexed min-heap on (expiry, arm sequence), so it gives the
 *   exact firing order even among timers within one tick, and `stop()`/`reset()` remove from it
 *   in O(log n). manage() fires by popping its top while that is due.
 * - The wheel holds every pending timer whose tick is after the cursor: 9 levels of 64 slots,
 *   6 bits a level (54 bits: any safe-integer tick has a place, no overflow list). A timer sits
 *   at the level of the highest 6-bit digit in which its tick differs from the cursor, in the
 *   slot named by its tick's digit at that level. So every level-L timer expires before every
 *   level-(L+1) timer and slot order is time order within a level. Each slot is an intrusive
 *   doubly-linked list through the timer table (sentinels after the timers): arming is O(1)
 *   (xor and clz32 find the level), stopping is O(1), and a timer cascades at most once a level.
 * - manage(now) jumps the cursor straight to now's tick, with no tick-by-tick walk: with h the
 *   highest level where old and new cursor differ, everything below level h and in level h's
 *   slots before the new digit is at or before the new tick and goes to the heap; the slot at
 *   the new digit cascades (its timers re-link relative to the new cursor: to the heap or a lower
 *   level); the rest stays put. An occupancy bitmap per level skips empty slots.
 * - nextExpiry() is the heap's top, or, when the heap is empty, the earliest timer of the first
 *   occupied slot of the lowest occupied level, cached until a stop removes it. A busy-polling
 *   lcore that calls manage(now) before anything is due pays a comparison or two.
 * - Timers armed during manage(now) have expiry >= now and a sequence number past the one
 *   manage() started with, so they order after every timer that was due when it started, and
 *   manage() stops popping at the first of them.
 *
 * Tick choice: `tickMs` (default 1 ms) never changes when a timer fires. A smaller tick sends
 * long delays to higher levels (one cascade per level); a larger tick puts more timers in the
 * heap at once (log n a pop). With 1 ms, level 0 spans 64 ms, level 1 about 4 s, level 2 about
 * 4.5 minutes: an RTO or a delayed ACK cascades at most once or twice.
 *
 * Single-threaded: a wheel belongs to one lcore (one worker thread) and is not shared.
 */

/** `'single'` fires once; `'periodic'` fires every `delayMs` until stopped. */
export type TimerMode = 'single' | 'periodic';

/**
 * Called when a timer fires, as a plain function (no `this`).
 * @param timer the handle that fired
 * @param now the `now` passed to the `manage()` call that fired it (not the scheduled expiry)
 * @param arg the argument registered with `create()`
 */
export type TimerCallback<A> = (timer: number, now: number, arg: A) => void;

export interface TimerWheelOptions {
  /** How many timers the table holds; `create()` beyond it throws. Default 1024. */
  capacity?: number;
  /** Width of a wheel slot in ms (bucketing only; firing is exact). Default 1. */
  tickMs?: number;
  /** The virtual time the wheel starts at: the default `now` for `reset()` before any manage(). */
  startMs?: number;
  /** Name for error messages, e.g. `'lcore3'`. */
  name?: string;
}

/** A timer wheel was used in a way its contract forbids. */
export class TimerError extends Error {
  override name = 'TimerError';
}

/** `create()` found every timer in the table in use. */
export class TimerTableFullError extends TimerError {
  override name = 'TimerTableFullError';
  constructor(
    wheel: string,
    readonly capacity: number,
  ) {
    super(
      `TimerWheel ${wheel}: all ${capacity} timers are in use; free() the timers you no longer need or create the wheel with a larger capacity`,
    );
  }
}

const DEFAULT_CAPACITY = 1024;
const MAX_CAPACITY = 1 << 24;
const DEFAULT_TICK_MS = 1;

const SLOT_BITS = 6;
const SLOTS = 1 << SLOT_BITS;
const SLOT_MASK = SLOTS - 1;
const LEVELS = 9; // 9 * 6 = 54 bits >= 53: every safe-integer tick has a level
const MAX_TICK = Number.MAX_SAFE_INTEGER;
const MAX_PERIODS = 2 ** 52; // periods since arming that periodIndex counts exactly
const TWO_POW_MINUS_32 = 2 ** -32;
/** 2^(-6 level): multiplying by a power of two is exact, so digits of 53-bit ticks are exact. */
const LEVEL_SCALE = Float64Array.from({ length: LEVELS }, (_, level) => 2 ** (-SLOT_BITS * level));

const STATE_FREE = 0;
const STATE_IDLE = 1; // created, not armed
const STATE_PENDING = 2; // armed: in the heap or in a wheel slot

const IN_HEAP = -1; // slotOf of a timer in the heap (or not linked at all)

const NOOP: TimerCallback<unknown> = () => {};

/** The wheel level of tick `b` relative to cursor `a`: the highest differing 6-bit digit. */
function levelOf(a: number, b: number): number {
  const aLo = a >>> 0; // ToUint32 is exact modulo 2^32 for any safe integer
  const bLo = b >>> 0;
  const hiX = ((a - aLo) * TWO_POW_MINUS_32) ^ ((b - bLo) * TWO_POW_MINUS_32);
  if (hiX !== 0) return ((63 - Math.clz32(hiX)) / SLOT_BITS) | 0;
  const loX = aLo ^ bLo;
  if (loX !== 0) return ((31 - Math.clz32(loX)) / SLOT_BITS) | 0;
  return -1;
}

/** The level-`level` digit (slot within the level) of a tick. */
function digitOf(tick: number, level: number): number {
  return Math.floor(tick * LEVEL_SCALE[level]) & SLOT_MASK;
}

function lowestBit(bits: number): number {
  return 31 - Math.clz32(bits & -bits);
}

export class TimerWheel<A = unknown> {
  readonly name: string;
  /** How many timers the table holds. */
  readonly capacity: number;
  /** Width of one level-0 slot in ms. */
  readonly tickMs: number;

  // Timer table, indexed by handle. Nodes 0..capacity-1 are timers; node capacity + slot is
  // the sentinel of that wheel slot's circular list.
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly slotOf: Int32Array; // wheel slot (level * 64 + digit), or IN_HEAP
  private readonly heapPos: Int32Array; // index in the heap when slotOf is IN_HEAP and pending
  private readonly state: Uint8Array;
  private readonly expiryAt: Float64Array;
  private readonly armSeq: Float64Array; // breaks ties between equal expiries: arm order
  private readonly anchorAt: Float64Array; // the `now` the timer was armed at
  private readonly periodOf: Float64Array; // 0 for single-shot timers
  private readonly periodIndex: Float64Array; // expiry = anchor + periodIndex * period
  private readonly overruns: Float64Array;
  private readonly callbacks: TimerCallback<A>[];
  private readonly args: (A | undefined)[];
  private readonly freeStack: Int32Array;
  private freeTop: number;

  private readonly bitmap = new Uint32Array(LEVELS * 2); // slot occupancy, 64 bits a level

  // The heap of timers at or before the cursor tick; keys copied in for locality.
  private readonly heapId: Int32Array;
  private readonly heapExp: Float64Array;
  private readonly heapSeq: Float64Array;
  private heapSize = 0;

  private curTick: number;
  private lastNow: number;
  private seqCounter = 0;
  private pendingTimers = 0;
  private wheelCount = 0; // pending timers in wheel slots (the rest are in the heap)
  private firing = false;
  private minValid = true;
  private minExpiry = Infinity;
  private readonly quickMaxNow: number; // below it, now's tick is surely a safe integer

  constructor(options: TimerWheelOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
      throw new OptionError('capacity', capacity, `an integer in [1, ${MAX_CAPACITY}]`);
    }
    const tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    if (typeof tickMs !== 'number' || !Number.isFinite(tickMs) || tickMs <= 0) {
      throw new OptionError('tickMs', tickMs, 'a finite number of milliseconds > 0');
    }
    const startMs = options.startMs ?? 0;
    if (
      typeof startMs !== 'number' ||
      !(startMs >= 0) ||
      !(Math.floor(startMs / tickMs) <= MAX_TICK)
    ) {
      throw new OptionError(
        'startMs',
        startMs,
        'a finite number of milliseconds >= 0 whose tick (startMs / tickMs) is below 2^53',
      );
    }
    this.name = options.name ?? 'timers';
    this.capacity = capacity;
    this.tickMs = tickMs;
    this.lastNow = startMs;
    this.curTick = Math.floor(startMs / tickMs);
    this.quickMaxNow = 2 ** 52 * tickMs;

    const nodes = capacity + LEVELS * SLOTS;
    this.next = new Int32Array(nodes);
    this.prev = new Int32Array(nodes);
    for (let node = capacity; node < nodes; node++) {
      this.next[node] = node;
      this.prev[node] = node;
    }
    this.slotOf = new Int32Array(capacity).fill(IN_HEAP);
    this.heapPos = new Int32Array(capacity);
    this.state = new Uint8Array(capacity);
    this.expiryAt = new Float64Array(capacity);
    this.armSeq = new Float64Array(capacity);
    this.anchorAt = new Float64Array(capacity);
    this.periodOf = new Float64Array(capacity);
    this.periodIndex = new Float64Array(capacity);
    this.overruns = new Float64Array(capacity);
    this.callbacks = new Array<TimerCallback<A>>(capacity).fill(NOOP);
    this.args = new Array<A | undefined>(capacity).fill(undefined);
    this.freeStack = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.freeStack[i] = capacity - 1 - i; // create() hands out 0, 1, 2 ...
    this.freeTop = capacity;
    this.heapId = new Int32Array(capacity);
    this.heapExp = new Float64Array(capacity);
    this.heapSeq = new Float64Array(capacity);
  }

  /** The `now` of the latest `manage()` call (or `startMs`): the default `now` of `reset()`. */
  get now(): number {
    return this.lastNow;
  }

  /** Timers created and not freed. */
  get inUse(): number {
    return this.capacity - this.freeTop;
  }

  /** Timers armed and not yet fired or stopped. */
  get pendingCount(): number {
    return this.pendingTimers;
  }

  /**
   * Takes a timer from the table and registers its callback (rte_timer_init plus the fct/arg
   * of rte_timer_reset). The timer starts stopped; arm it with `reset()`.
   * @param callback called as `callback(timer, now, arg)` each time the timer fires
   * @param arg passed to the callback unchanged; the wheel holds it until `free()`
   * @returns the timer handle, an integer in [0, capacity)
   * @throws TimerTableFullError when all `capacity` timers are in use
   */
  create(callback: TimerCallback<A>, arg?: A): number {
    if (typeof callback !== 'function') {
      throw new OptionError('callback', callback, 'a function (timer, now, arg) => void');
    }
    if (this.freeTop === 0) throw new TimerTableFullError(this.name, this.capacity);
    const timer = this.freeStack[--this.freeTop];
    this.state[timer] = STATE_IDLE;
    this.callbacks[timer] = callback;
    this.args[timer] = arg;
    this.overruns[timer] = 0;
    return timer;
  }

  /**
   * Stops the timer if it is pending and returns it to the table; the handle is invalid
   * afterwards (until `create()` hands it out again) and the wheel drops its callback and arg.
   * Safe inside callbacks, the timer's own included.
   */
  free(timer: number): void {
    this.checkTimer(timer);
    this.stop(timer);
    this.state[timer] = STATE_FREE;
    this.callbacks[timer] = NOOP;
    this.args[timer] = undefined;
    this.freeStack[this.freeTop++] = timer;
  }

  /**
   * Arms the timer to expire at `now + delayMs`, first disarming it if it is pending
   * (rte_timer_reset). A periodic timer then expires at `now + n * delayMs` for n = 1, 2, ...
   * @param timer a handle from `create()`
   * @param delayMs milliseconds from `now`: a finite number >= 0 (> 0 for `'periodic'`)
   * @param mode `'single'` (the default) or `'periodic'`
   * @param now the current time; defaults to the `now` of the latest `manage()` (inside a
   *   callback: the time passed to it). Must not be earlier than that.
   */
  reset(timer: number, delayMs: number, mode: TimerMode = 'single', now = this.lastNow): void {
    this.checkTimer(timer);
    this.checkNow(now);
    let period = 0;
    if (mode === 'periodic') {
      if (typeof delayMs !== 'number' || !(delayMs > 0) || delayMs === Infinity) {
        throw new OptionError(
          'delayMs',
          delayMs,
          'a finite number of milliseconds > 0 (the period)',
        );
      }
      if (now + delayMs === now) {
        throw new OptionError(
          'delayMs',
          delayMs,
          `a period large enough to change now (${now}) when added to it`,
        );
      }
      period = delayMs;
    } else if (mode === 'single') {
      if (typeof delayMs !== 'number' || !(delayMs >= 0) || delayMs === Infinity) {
        throw new OptionError('delayMs', delayMs, 'a finite number of milliseconds >= 0');
      }
    } else {
      throw new OptionError('mode', mode, "'single' or 'periodic'");
    }
    const expiry = now + delayMs;
    const tick = Math.floor(expiry / this.tickMs);
    if (!(tick <= MAX_TICK)) {
      throw new OptionError(
        'delayMs',
        delayMs,
        `small enough that (now + delayMs) / tickMs stays below 2^53 (now is ${now})`,
      );
    }
    if (this.state[timer] === STATE_PENDING) this.unlink(timer);
    else this.pendingTimers++;
    this.anchorAt[timer] = now;
    this.periodOf[timer] = period;
    this.periodIndex[timer] = 1;
    this.overruns[timer] = 0;
    this.arm(timer, expiry);
  }

  /**
   * Disarms the timer (rte_timer_stop). Safe inside callbacks: a due timer that a callback
   * stops does not fire; a periodic timer that stops itself in its callback fires no more.
   * @returns true if the timer was pending, false if it was already stopped
   */
  stop(timer: number): boolean {
    this.checkTimer(timer);
    if (this.state[timer] !== STATE_PENDING) return false;
    this.unlink(timer);
    this.state[timer] = STATE_IDLE;
    this.pendingTimers--;
    return true;
  }

  /** Whether the timer is armed and has not fired (a periodic timer stays pending until stopped). */
  pending(timer: number): boolean {
    this.checkTimer(timer);
    return this.state[timer] === STATE_PENDING;
  }

  /** The time the timer is armed to fire at, or Infinity when it is not pending. */
  expiry(timer: number): number {
    this.checkTimer(timer);
    return this.state[timer] === STATE_PENDING ? this.expiryAt[timer] : Infinity;
  }

  /** Periods a periodic timer skipped at its latest firing because manage() came late; else 0. */
  overrun(timer: number): number {
    this.checkTimer(timer);
    return this.overruns[timer];
  }

  /**
   * The earliest expiry among pending timers, or Infinity when none is pending: an adaptive
   * polling lcore may park until then. It can be `<=` the latest `now` when a callback armed a
   * timer that is already due; then `manage()` again instead of parking.
   */
  nextExpiry(): number {
    return this.heapSize > 0 ? this.heapExp[0] : this.wheelMin();
  }

  /**
   * Runs every timer that is due at `now` (expiry <= now), in expiry order, equal expiries in
   * arm order (rte_timer_manage). Call it from the lcore poll loop; when nothing is due it
   * returns after a few comparisons. Not reentrant: a callback must not call it.
   * @param now the current time in ms, not earlier than the previous call's
   * @returns how many timers fired
   */
  manage(now: number): number {
    if (this.firing) {
      throw new TimerError(
        `TimerWheel ${this.name}: manage() was called from inside a timer callback; return from the callback and let the poll loop call manage() again`,
      );
    }
    this.checkNow(now);
    this.lastNow = now;
    if (!(now >= this.nextExpiry())) return 0;
    // The heap holds every timer at or before the cursor tick; the wheel the rest. Only when a
    // wheel timer is due must the cursor move.
    if (this.wheelMin() <= now) this.advance(now);
    return this.fireDue(now);
  }

  // --- internals ---

  private checkTimer(timer: number): void {
    if (timer >>> 0 !== timer || timer >= this.capacity) {
      throw new OptionError(
        'timer',
        timer,
        `a handle from create() on TimerWheel ${this.name} (an integer in [0, ${this.capacity}))`,
      );
    }
    if (this.state[timer] === STATE_FREE) {
      throw new OptionError(
        'timer',
        timer,
        `a handle from create() that has not been freed (timer ${timer} of TimerWheel ${this.name} is free; create() a new one)`,
      );
    }
  }

  private checkNow(now: number): void {
    // One comparison pair on the poll loop's path; the exact checks only when it fails.
    if (typeof now === 'number' && now >= this.lastNow && now < this.quickMaxNow) return;
    if (typeof now !== 'number' || !(now >= this.lastNow) || now === Infinity) {
      throw new OptionError(
        'now',
        now,
        `a finite time in ms not earlier than the latest manage() time ${this.lastNow} (time is monotonic)`,
      );
    }
    if (!(Math.floor(now / this.tickMs) <= MAX_TICK)) {
      throw new OptionError('now', now, 'a time whose tick (now / tickMs) is below 2^53');
    }
  }

  private arm(timer: number, expiry: number): void {
    this.expiryAt[timer] = expiry;
    this.armSeq[timer] = this.seqCounter++;
    this.state[timer] = STATE_PENDING;
    this.link(timer);
  }

  /** Puts a pending timer in the heap (tick at or before the cursor) or its wheel slot. */
  private link(timer: number): void {
    const expiry = this.expiryAt[timer];
    const cur = this.curTick;
    const tick = Math.min(Math.floor(expiry / this.tickMs), MAX_TICK);
    if (tick <= cur) {
      this.slotOf[timer] = IN_HEAP;
      this.heapPush(timer);
      return;
    }
    const level = levelOf(cur, tick);
    const slot = level * SLOTS + digitOf(tick, level);
    const head = this.capacity + slot;
    const tail = this.prev[head];
    this.next[tail] = timer;
    this.prev[timer] = tail;
    this.next[timer] = head;
    this.prev[head] = timer;
    this.slotOf[timer] = slot;
    this.bitmap[slot >>> 5] |= 1 << (slot & 31);
    if (++this.wheelCount === 1) {
      this.minExpiry = expiry;
      this.minValid = true;
    } else if (this.minValid && expiry < this.minExpiry) {
      this.minExpiry = expiry;
    }
  }

  private unlink(timer: number): void {
    const slot = this.slotOf[timer];
    if (slot === IN_HEAP) {
      this.heapRemove(this.heapPos[timer]);
      return;
    }
    const next = this.next[timer];
    const prev = this.prev[timer];
    this.next[prev] = next;
    this.prev[next] = prev;
    this.slotOf[timer] = IN_HEAP;
    this.wheelCount--;
    const head = this.capacity + slot;
    if (this.next[head] === head) this.bitmap[slot >>> 5] &= ~(1 << (slot & 31));
    if (this.expiryAt[timer] === this.minExpiry) this.minValid = false;
  }

  /** First occupied slot of `level` at or after `from`, or SLOTS when there is none. */
  private findSlot(level: number, from: number): number {
    if (from >= SLOTS) return SLOTS;
    const word = from >>> 5;
    let bits = this.bitmap[level * 2 + word] & (-1 << (from & 31));
    if (bits !== 0) return word * 32 + lowestBit(bits);
    if (word === 0) {
      bits = this.bitmap[level * 2 + 1];
      if (bits !== 0) return 32 + lowestBit(bits);
    }
    return SLOTS;
  }

  /** The earliest expiry in the wheel (not the heap), or Infinity. */
  private wheelMin(): number {
    if (!this.minValid) {
      this.minExpiry = this.scanMin();
      this.minValid = true;
    }
    return this.minExpiry;
  }

  /** Every level-L timer expires before every level-(L+1) timer: the first slot found holds the min. */
  private scanMin(): number {
    if (this.wheelCount === 0) return Infinity;
    const cur = this.curTick;
    for (let level = 0; level < LEVELS; level++) {
      const slot = this.findSlot(level, digitOf(cur, level));
      if (slot === SLOTS) continue;
      const head = this.capacity + level * SLOTS + slot;
      let min = Infinity;
      for (let t = this.next[head]; t !== head; t = this.next[t]) {
        if (this.expiryAt[t] < min) min = this.expiryAt[t];
      }
      return min;
    }
    return Infinity;
  }

  /**
   * Moves the cursor to now's tick. With h the highest level where the old and new cursor
   * differ: every timer below level h, and at level h in slots before the new cursor's digit,
   * has a tick before now's tick and goes to the heap; the slot at the new cursor's level-h digit
   * cascades (to the heap or lower levels); higher slots and levels stay put.
   */
  private advance(now: number): void {
    const cur = this.curTick;
    const newTick = Math.floor(now / this.tickMs);
    const h = levelOf(cur, newTick);
    if (h < 0) return; // same tick: the heap already holds all of it
    this.curTick = newTick;
    this.minValid = false;
    for (let level = 0; level < h; level++) this.drainRange(level, 0, SLOTS);
    const digit = digitOf(newTick, h);
    this.drainRange(h, digitOf(cur, h), digit);
    const slot = h * SLOTS + digit;
    const head = this.capacity + slot;
    let t = this.next[head];
    if (t === head) return;
    this.next[head] = head;
    this.prev[head] = head;
    this.bitmap[slot >>> 5] &= ~(1 << (slot & 31));
    while (t !== head) {
      const next = this.next[t];
      this.wheelCount--;
      this.link(t); // lands in the heap or, from a level above 0, a lower level
      t = next;
    }
  }

  /** Moves every timer in `level`'s slots [from, to) to the heap. */
  private drainRange(level: number, from: number, to: number): void {
    for (let s = this.findSlot(level, from); s < to; s = this.findSlot(level, s + 1)) {
      const slot = level * SLOTS + s;
      const head = this.capacity + slot;
      let t = this.next[head];
      while (t !== head) {
        const next = this.next[t];
        this.slotOf[t] = IN_HEAP;
        this.wheelCount--;
        this.heapPush(t);
        t = next;
      }
      this.next[head] = head;
      this.prev[head] = head;
      this.bitmap[slot >>> 5] &= ~(1 << (slot & 31));
    }
  }

  /**
   * Pops and fires the heap's top while it is due and was armed before this call began; a
   * timer armed by a callback has expiry >= now and a later sequence, so it sorts after them all.
   */
  private fireDue(now: number): number {
    const armedBefore = this.seqCounter;
    let fired = 0;
    this.firing = true;
    try {
      while (this.heapSize > 0 && this.heapExp[0] <= now && this.heapSeq[0] < armedBefore) {
        const timer = this.heapId[0];
        this.heapRemove(0);
        fired++;
        if (this.periodOf[timer] > 0) {
          this.rearmPeriodic(timer, now);
        } else {
          this.state[timer] = STATE_IDLE;
          this.pendingTimers--;
        }
        const callback = this.callbacks[timer];
        callback(timer, now, this.args[timer] as A);
      }
    } finally {
      this.firing = false;
    }
    return fired;
  }

  /** Next expiry of the timer's own phase that is after `now`; skipped periods are overruns. */
  private rearmPeriodic(timer: number, now: number): void {
    const anchor = this.anchorAt[timer];
    const period = this.periodOf[timer];
    const last = this.periodIndex[timer];
    let n = last + 1;
    if (anchor + n * period <= now) {
      // Late: the smallest n with anchor + n * period > now. The estimate is within a step or
      // two of it whenever the period is well above the clock's float resolution.
      const estimate = Math.floor((now - anchor) / period);
      if (estimate > n) n = estimate;
      for (let i = 0; i < 4 && anchor + n * period <= now; i++) n++;
      for (let i = 0; i < 4 && n - 1 > last && anchor + (n - 1) * period > now; i++) n--;
      if (!(anchor + n * period > now) || !(n < MAX_PERIODS)) {
        // A period near the float resolution of `now` (or 2^52 periods since arming): the phase
        // cannot be kept exactly, so restart it at now, at least one representable step later.
        this.anchorAt[timer] = now;
        this.periodIndex[timer] = 1;
        this.overruns[timer] = Math.max(0, estimate - last);
        const expiry = now + period;
        this.arm(timer, expiry > now ? expiry : now * (1 + Number.EPSILON));
        return;
      }
    }
    this.periodIndex[timer] = n;
    this.overruns[timer] = n - last - 1;
    this.arm(timer, anchor + n * period);
  }

  // Indexed binary min-heap on (expiry, arm sequence), keys copied next to the ids. Sifts move
  // a hole rather than swapping, and keep heapPos in step.

  private heapPush(timer: number): void {
    this.siftUp(this.heapSize++, timer, this.expiryAt[timer], this.armSeq[timer]);
  }

  private heapRemove(i: number): void {
    const last = --this.heapSize;
    if (i === last) return;
    const timer = this.heapId[last];
    const expiry = this.heapExp[last];
    const seq = this.heapSeq[last];
    const parent = (i - 1) >> 1;
    if (
      i > 0 &&
      (expiry < this.heapExp[parent] ||
        (expiry === this.heapExp[parent] && seq < this.heapSeq[parent]))
    ) {
      this.siftUp(i, timer, expiry, seq);
    } else {
      this.siftDown(i, timer, expiry, seq);
    }
  }

  /** Places (timer, expiry, seq) at hole i or above it. */
  private siftUp(i: number, timer: number, expiry: number, seq: number): void {
    const ids = this.heapId;
    const exps = this.heapExp;
    const seqs = this.heapSeq;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pe = exps[parent];
      if (expiry > pe || (expiry === pe && seq > seqs[parent])) break;
      ids[i] = ids[parent];
      exps[i] = pe;
      seqs[i] = seqs[parent];
      this.heapPos[ids[i]] = i;
      i = parent;
    }
    ids[i] = timer;
    exps[i] = expiry;
    seqs[i] = seq;
    this.heapPos[timer] = i;
  }

  /** Places (timer, expiry, seq) at hole i or below it. */
  private siftDown(i: number, timer: number, expiry: number, seq: number): void {
    const ids = this.heapId;
    const exps = this.heapExp;
    const seqs = this.heapSeq;
    const size = this.heapSize;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      const right = child + 1;
      if (
        right < size &&
        (exps[right] < exps[child] || (exps[right] === exps[child] && seqs[right] < seqs[child]))
      ) {
        child = right;
      }
      const ce = exps[child];
      if (expiry < ce || (expiry === ce && seq < seqs[child])) break;
      ids[i] = ids[child];
      exps[i] = ce;
      seqs[i] = seqs[child];
      this.heapPos[ids[i]] = i;
      i = child;
    }
    ids[i] = timer;
    exps[i] = expiry;
    seqs[i] = seq;
    this.heapPos[timer] = i;
  }
}
