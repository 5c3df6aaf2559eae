import { OptionError } from '@bypass/atomics-sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerError, type TimerMode, TimerTableFullError, TimerWheel } from './timer-wheel.js';

/** A wheel whose callbacks all log `[timer, now]` into `fired`. */
function logged(options: ConstructorParameters<typeof TimerWheel>[0] = {}) {
  const wheel = new TimerWheel<string>(options);
  const fired: [number, number][] = [];
  const names: string[] = [];
  const log = (timer: number, now: number, arg: string) => {
    fired.push([timer, now]);
    names.push(arg);
  };
  return { wheel, fired, names, log };
}

describe('TimerWheel firing order and time', () => {
  it('fires in expiry order, each at the first manage(now) with now >= expiry', () => {
    const { wheel, fired, names, log } = logged({ tickMs: 1 });
    const a = wheel.create(log, 'a');
    const b = wheel.create(log, 'b');
    const c = wheel.create(log, 'c');
    const d = wheel.create(log, 'd');
    expect([a, b, c, d]).toEqual([0, 1, 2, 3]);
    wheel.reset(a, 5.7);
    wheel.reset(b, 5.05); // same 1 ms tick as a, earlier
    wheel.reset(c, 5.3);
    wheel.reset(d, 200); // level 2 with a 1 ms tick
    expect(wheel.nextExpiry()).toBe(5.05);
    expect(wheel.manage(5.04)).toBe(0);
    expect(wheel.manage(5.05)).toBe(1);
    expect(wheel.manage(5.2)).toBe(0);
    expect(wheel.nextExpiry()).toBe(5.3);
    expect(wheel.manage(6)).toBe(2);
    expect(wheel.manage(199.999)).toBe(0);
    expect(wheel.nextExpiry()).toBe(200);
    expect(wheel.manage(200)).toBe(1);
    expect(fired).toEqual([
      [b, 5.05],
      [c, 6],
      [a, 6],
      [d, 200],
    ]);
    expect(names).toEqual(['b', 'c', 'a', 'd']);
    expect(wheel.nextExpiry()).toBe(Infinity);
    expect(wheel.pendingCount).toBe(0);
  });

  it('equal expiries fire in the order they were armed; re-arming goes to the back', () => {
    const { wheel, fired, log } = logged({ tickMs: 0.1 });
    const t = [0, 1, 2, 3, 4].map(() => wheel.create(log));
    for (const id of [3, 1, 4, 0, 2]) wheel.reset(t[id], 10);
    wheel.reset(t[1], 10); // re-armed last
    wheel.reset(t[0], 9.5, 'single', 0.5); // same expiry from a later `now`, armed after 1
    expect(wheel.manage(50)).toBe(5);
    expect(fired.map(([id]) => id)).toEqual([3, 4, 2, 1, 0]);
    expect(fired.every(([, now]) => now === 50)).toBe(true);
  });

  it('a late manage fires everything due across all levels in one call, in order', () => {
    const { wheel, fired, log } = logged({ tickMs: 0.1 });
    const delays = [1e9, 7, 4096.5, 0, 65, 3.2, 262144, 1e6, 0.05, 64 * 64 * 64 * 64 * 0.1];
    const ids = delays.map((ms) => {
      const id = wheel.create(log);
      wheel.reset(id, ms);
      return id;
    });
    expect(wheel.nextExpiry()).toBe(0);
    expect(wheel.manage(2e6)).toBe(delays.length - 1);
    const order = ids.filter((id) => delays[id] <= 2e6).sort((x, y) => delays[x] - delays[y]);
    expect(fired.map(([id]) => id)).toEqual(order);
    expect(wheel.nextExpiry()).toBe(1e9);
    expect(wheel.manage(1e9 - 0.001)).toBe(0);
    expect(wheel.manage(1e9)).toBe(1);
  });

  it('keeps exact times at large absolute clocks (Date.now() scale, 0.1 ms ticks)', () => {
    const start = 1_700_000_000_000.25;
    const { wheel, fired, log } = logged({ tickMs: 0.1, startMs: start });
    expect(wheel.now).toBe(start);
    const delays = [0.3, 6.4, 409.7, 26214.4, 3_600_000, 0.1];
    for (const ms of delays) wheel.reset(wheel.create(log), ms);
    const expiries = delays.map((ms) => start + ms).sort((x, y) => x - y);
    for (const at of expiries) {
      expect(wheel.nextExpiry()).toBe(at);
      expect(wheel.manage(at - 0.0005)).toBe(0); // 2^-11 ms: representable at this magnitude
      expect(wheel.manage(at)).toBe(1);
    }
    expect(fired.map(([, now]) => now)).toEqual(expiries);
  });

  it('busy polling in small steps fires each timer once, at the first step past its expiry', () => {
    const { wheel, fired, log } = logged({ tickMs: 1 });
    const delays = [3.3, 64, 64.01, 127.5, 1000, 4095.99];
    for (const ms of delays) wheel.reset(wheel.create(log), ms);
    for (let step = 1; step <= 20_000; step++) wheel.manage(step * 0.25);
    expect(fired).toEqual(delays.map((ms, id) => [id, Math.ceil(ms * 4) / 4]));
  });
});

describe('TimerWheel periodic timers', () => {
  it('no drift over 1000 periods, driven exactly at nextExpiry()', () => {
    const start = 12_345.678;
    const period = 1 / 3;
    const { wheel, fired, log } = logged({ tickMs: 0.1, startMs: start });
    const t = wheel.create(log);
    wheel.reset(t, period, 'periodic');
    for (let k = 1; k <= 1000; k++) {
      const at = wheel.nextExpiry();
      expect(at).toBe(start + k * period);
      expect(wheel.manage(at)).toBe(1);
      expect(wheel.overrun(t)).toBe(0);
    }
    expect(fired).toHaveLength(1000);
    expect(wheel.expiry(t)).toBe(start + 1001 * period);
    // Repeated addition would have drifted by rounding:
    let naive = start;
    for (let k = 0; k < 1000; k++) naive += period;
    expect(naive).not.toBe(start + 1000 * period);
  });

  it('no drift when polled coarsely: fire k lands on the first poll at or after k * period', () => {
    const { wheel, fired, log } = logged({ tickMs: 1 });
    const t = wheel.create(log);
    wheel.reset(t, 10, 'periodic');
    let now = 0;
    while (fired.length < 1000) {
      now += 3;
      wheel.manage(now);
    }
    // Re-arming from the poll time would fire every 12 ms and end near 12000.
    expect(fired.map(([, at]) => at)).toEqual(
      Array.from({ length: 1000 }, (_, i) => Math.ceil((10 * (i + 1)) / 3) * 3),
    );
    expect(now).toBe(10002);
  });

  it('a manage() several periods late fires once, skips the missed periods and keeps the phase', () => {
    const { wheel, fired, log } = logged();
    const t = wheel.create(log);
    wheel.reset(t, 10, 'periodic', 2);
    expect(wheel.manage(12)).toBe(1);
    expect(wheel.overrun(t)).toBe(0);
    expect(wheel.manage(47)).toBe(1); // 22, 32, 42 were due: fires once
    expect(wheel.overrun(t)).toBe(2);
    expect(wheel.expiry(t)).toBe(52);
    expect(wheel.manage(52)).toBe(1);
    expect(wheel.overrun(t)).toBe(0);
    expect(wheel.manage(62)).toBe(1); // exactly on time: not an overrun
    expect(fired).toEqual([
      [t, 12],
      [t, 47],
      [t, 52],
      [t, 62],
    ]);
    expect(wheel.pending(t)).toBe(true);
  });

  it('a period near the float resolution of the clock restarts its phase instead of hanging', () => {
    const { wheel, fired, log } = logged({ startMs: 1e6 });
    const t = wheel.create(log);
    wheel.reset(t, 1e-10, 'periodic'); // about one ulp of 1e6
    expect(() => wheel.reset(t, 1e-11, 'periodic')).toThrow(
      'delayMs must be a period large enough to change now (1000000) when added to it, got 1e-11',
    );
    wheel.reset(t, 1e-10, 'periodic');
    expect(wheel.manage(1e9)).toBe(1); // 1e19 periods late: below the resolution of 1e9
    expect(wheel.expiry(t)).toBeGreaterThan(1e9);
    expect(wheel.overrun(t)).toBeGreaterThan(2 ** 52);
    expect(wheel.manage(1e9)).toBe(0);
    expect(wheel.manage(1e9 + 1)).toBe(1);
    expect(wheel.manage(1e9 + 1)).toBe(0);
    expect(fired).toEqual([
      [t, 1e9],
      [t, 1e9 + 1],
    ]);
  });

  it('stop() inside its own callback ends a periodic timer; reset() inside replaces the period', () => {
    const wheel = new TimerWheel();
    const seen: number[] = [];
    const p = wheel.create((timer, now) => {
      seen.push(now);
      expect(wheel.pending(timer)).toBe(true); // re-armed before the callback
      if (seen.length === 3) expect(wheel.stop(timer)).toBe(true);
    });
    wheel.reset(p, 5, 'periodic');
    for (let now = 1; now <= 100; now++) wheel.manage(now);
    expect(seen).toEqual([5, 10, 15]);
    expect(wheel.pending(p)).toBe(false);

    const slower: number[] = [];
    const q = wheel.create((timer, now) => {
      slower.push(now);
      if (slower.length === 2) wheel.reset(timer, 20, 'periodic');
    });
    wheel.reset(q, 5, 'periodic');
    for (let now = 101; now <= 200; now++) wheel.manage(now);
    expect(slower).toEqual([105, 110, 130, 150, 170, 190]);
  });
});

describe('TimerWheel reset, stop and callbacks that change the wheel', () => {
  it('reset() re-arms a pending timer later or earlier, single or periodic', () => {
    const { wheel, fired, log } = logged();
    const t = wheel.create(log);
    const u = wheel.create(log);
    wheel.reset(t, 100);
    wheel.reset(u, 50);
    expect(wheel.nextExpiry()).toBe(50);
    wheel.reset(u, 150); // later: the cached earliest must be recomputed
    expect(wheel.nextExpiry()).toBe(100);
    expect(wheel.expiry(u)).toBe(150);
    wheel.manage(90);
    wheel.reset(t, 5); // earlier, relative to the last manage() time
    expect(wheel.expiry(t)).toBe(95);
    expect(wheel.pendingCount).toBe(2);
    wheel.manage(120);
    expect(fired).toEqual([[t, 120]]);
    wheel.reset(u, 30, 'periodic');
    expect(wheel.expiry(u)).toBe(150);
    wheel.manage(150);
    wheel.reset(u, 1); // periodic -> single
    wheel.manage(200);
    expect(fired).toEqual([
      [t, 120],
      [u, 150],
      [u, 200],
    ]);
    expect(wheel.pending(u)).toBe(false);
    expect(wheel.expiry(u)).toBe(Infinity);
  });

  it('stop() reports whether the timer was pending', () => {
    const { wheel, fired, log } = logged();
    const t = wheel.create(log);
    expect(wheel.stop(t)).toBe(false);
    wheel.reset(t, 1);
    expect(wheel.pending(t)).toBe(true);
    expect(wheel.stop(t)).toBe(true);
    expect(wheel.stop(t)).toBe(false);
    expect(wheel.nextExpiry()).toBe(Infinity);
    expect(wheel.manage(10)).toBe(0);
    expect(fired).toEqual([]);
  });

  it('a callback stops, resets and frees timers that are due in the same manage()', () => {
    const { wheel, fired, log } = logged();
    const [a, b, c, d, e] = [0, 1, 2, 3, 4].map(() => wheel.create(log));
    const boss = wheel.create((timer, now) => {
      log(timer, now, 'boss');
      expect(wheel.stop(b)).toBe(true); // due, stopped: does not fire
      wheel.reset(c, 50); // due, re-armed to 60
      wheel.free(d); // due, freed
      wheel.stop(a); // already fired: nothing to do
      expect(wheel.nextExpiry()).toBe(9); // e is still due in this call
    });
    wheel.reset(a, 1);
    wheel.reset(boss, 2);
    for (const id of [b, c, d]) wheel.reset(id, 3);
    wheel.reset(e, 9);
    expect(wheel.manage(10)).toBe(3);
    expect(fired).toEqual([
      [a, 10],
      [boss, 10],
      [e, 10],
    ]);
    expect(wheel.pending(b)).toBe(false);
    expect(wheel.expiry(c)).toBe(60);
    expect(() => wheel.pending(d)).toThrow(OptionError);
    expect(wheel.manage(60)).toBe(1);
    expect(wheel.inUse).toBe(5);
  });

  it('a timer armed inside a callback waits for the next manage(), even with delay 0', () => {
    const wheel = new TimerWheel<number>({ capacity: 4 });
    const fired: [number, number, number][] = [];
    const again = (timer: number, now: number, arg: number) => {
      fired.push([timer, now, arg]);
      wheel.reset(timer, 0); // would livelock if it fired in the same call
    };
    const t = wheel.create(again, 7);
    const spawner = wheel.create((_timer, now) => {
      const child = wheel.create((timer, at, arg) => {
        fired.push([timer, at, arg]);
        wheel.free(timer);
      }, 99);
      wheel.reset(child, 0);
      expect(wheel.nextExpiry()).toBe(now);
    });
    wheel.reset(t, 1);
    wheel.reset(spawner, 1);
    expect(wheel.manage(1)).toBe(2);
    expect(wheel.nextExpiry()).toBe(1);
    expect(wheel.manage(1)).toBe(2); // t again and the child
    expect(wheel.manage(2)).toBe(1);
    expect(fired).toEqual([
      [t, 1, 7],
      [t, 1, 7],
      [2, 1, 99],
      [t, 2, 7],
    ]);
    expect(wheel.inUse).toBe(2);
  });

  it('a throwing callback propagates; due timers that did not fire stay pending', () => {
    const { wheel, fired, log } = logged();
    const a = wheel.create(log);
    const bad = wheel.create(() => {
      throw new Error('boom');
    });
    const b = wheel.create(log);
    const p = wheel.create(log);
    wheel.reset(a, 1);
    wheel.reset(bad, 2);
    wheel.reset(b, 3);
    wheel.reset(p, 2.5, 'periodic');
    expect(() => wheel.manage(4)).toThrow('boom');
    expect(fired).toEqual([[a, 4]]);
    expect(wheel.pending(b) && wheel.pending(p)).toBe(true);
    expect(wheel.nextExpiry()).toBe(2.5);
    expect(wheel.manage(4)).toBe(2);
    expect(fired).toEqual([
      [a, 4],
      [p, 4],
      [b, 4],
    ]);
    expect(wheel.expiry(p)).toBe(5);
  });

  it('manage() inside a callback is refused', () => {
    const wheel = new TimerWheel({ name: 'lcore2' });
    let caught: unknown;
    const t = wheel.create((_timer, now) => {
      try {
        wheel.manage(now);
      } catch (err) {
        caught = err;
      }
    });
    wheel.reset(t, 1);
    wheel.manage(1);
    expect(caught).toBeInstanceOf(TimerError);
    expect(String(caught)).toMatch(/lcore2: manage\(\) was called from inside a timer callback/);
  });
});

describe('TimerWheel table and options', () => {
  it('a full table throws TimerTableFullError; free() makes room and handles are reused', () => {
    const wheel = new TimerWheel({ capacity: 3, name: 'lcore1' });
    const noop = () => {};
    const ids = [wheel.create(noop), wheel.create(noop), wheel.create(noop)];
    expect(wheel.inUse).toBe(3);
    expect(() => wheel.create(noop)).toThrow(TimerTableFullError);
    expect(() => wheel.create(noop)).toThrow(
      'TimerWheel lcore1: all 3 timers are in use; free() the timers you no longer need or create the wheel with a larger capacity',
    );
    wheel.reset(ids[1], 5);
    wheel.free(ids[1]);
    expect(wheel.pendingCount).toBe(0);
    expect(wheel.nextExpiry()).toBe(Infinity);
    expect(wheel.create(noop)).toBe(ids[1]);
  });

  it('bad options name themselves and the bad value', () => {
    expect(() => new TimerWheel({ tickMs: 0 })).toThrow(OptionError);
    expect(() => new TimerWheel({ tickMs: 0 })).toThrow(
      'tickMs must be a finite number of milliseconds > 0, got 0',
    );
    expect(() => new TimerWheel({ tickMs: -1 })).toThrow('tickMs must be');
    expect(() => new TimerWheel({ tickMs: Number.NaN })).toThrow('got NaN');
    expect(() => new TimerWheel({ capacity: 0 })).toThrow(
      'capacity must be an integer in [1, 16777216], got 0',
    );
    expect(() => new TimerWheel({ capacity: 2.5 })).toThrow('got 2.5');
    expect(() => new TimerWheel({ startMs: -5 })).toThrow(/^startMs must be .* got -5$/);
  });

  it('bad arguments name themselves and the bad value', () => {
    const wheel = new TimerWheel({ capacity: 4 });
    const t = wheel.create(() => {});
    expect(() => wheel.reset(t, -1)).toThrow(OptionError);
    expect(() => wheel.reset(t, -1)).toThrow(
      'delayMs must be a finite number of milliseconds >= 0, got -1',
    );
    expect(() => wheel.reset(t, Number.NaN)).toThrow('delayMs must be');
    expect(() => wheel.reset(t, Number.NaN)).toThrow('got NaN');
    expect(() => wheel.reset(t, Infinity)).toThrow('got Infinity');
    expect(() => wheel.reset(t, 0, 'periodic')).toThrow(
      'delayMs must be a finite number of milliseconds > 0 (the period), got 0',
    );
    expect(() => wheel.reset(t, 1, 'once' as TimerMode)).toThrow(
      "mode must be 'single' or 'periodic', got once",
    );
    expect(() => wheel.reset(t, 1e300)).toThrow(/^delayMs must be small enough .* got 1e\+300$/);
    expect(() => wheel.reset(99, 1)).toThrow(
      'timer must be a handle from create() on TimerWheel timers (an integer in [0, 4)), got 99',
    );
    for (const bad of [-1, 1.5, Number.NaN, '0' as unknown as number]) {
      expect(() => wheel.stop(bad)).toThrow(`got ${String(bad)}`);
    }
    expect(() => wheel.pending(2)).toThrow(/has not been freed .* got 2$/);
    wheel.free(t);
    expect(() => wheel.reset(t, 1)).toThrow(OptionError);
    expect(() => wheel.free(t)).toThrow(`timer ${t} of TimerWheel timers is free`);
    expect(() => wheel.create(42 as never)).toThrow('callback must be a function');
    wheel.manage(10);
    expect(() => wheel.manage(9)).toThrow(
      'now must be a finite time in ms not earlier than the latest manage() time 10 (time is monotonic), got 9',
    );
    expect(() => wheel.manage(Number.NaN)).toThrow('got NaN');
    const u = wheel.create(() => {});
    expect(() => wheel.reset(u, 1, 'single', 5)).toThrow('now must be');
    expect(wheel.pendingCount).toBe(0);
  });
});

describe('TimerWheel heap of the current tick', () => {
  it('stays ordered through arbitrary stops and re-arms of timers in one tick', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            timer: fc.integer({ min: 0, max: 63 }),
            delay: fc.integer({ min: 0, max: 1000 }),
            stop: fc.boolean(),
          }),
          { minLength: 1, maxLength: 300, size: 'max' },
        ),
        (ops) => {
          const { wheel, fired, log } = logged({ capacity: 64, tickMs: 1e6 }); // one tick
          const expected = new Map<number, number>();
          for (let i = 0; i < 64; i++) wheel.create(log);
          for (const { timer, delay, stop } of ops) {
            if (stop) {
              wheel.stop(timer);
              expected.delete(timer);
            } else {
              wheel.reset(timer, delay);
              expected.delete(timer); // re-armed: moves behind equal expiries
              expected.set(timer, delay);
            }
          }
          const order = [...expected].sort(([, x], [, y]) => x - y).map(([id]) => id);
          let now = 0;
          while (wheel.nextExpiry() !== Infinity) {
            now = wheel.nextExpiry();
            wheel.manage(now);
          }
          expect(fired.map(([id]) => id)).toEqual(order);
          expect(fired.map(([, at]) => at)).toEqual(order.map((id) => expected.get(id)));
        },
      ),
      { numRuns: 300 },
    );
  });
});

// --- model test ---

type Reaction =
  | { kind: 'none' }
  | { kind: 'stopSelf' | 'freeSelf' }
  | { kind: 'stopOther'; k: number }
  | { kind: 'resetSelf' | 'resetOther' | 'createArm'; k: number; delay: number; mode: TimerMode };

type Op =
  | { kind: 'create'; reaction: number }
  | { kind: 'free' | 'stop'; k: number }
  | { kind: 'reset'; k: number; delay: number; mode: TimerMode; later: number }
  | { kind: 'manage'; advance: number }
  | { kind: 'manageNext'; extra: number };

interface ModelTimer {
  reaction: number;
  pending: boolean;
  due: boolean;
  expiry: number;
  seq: number;
  anchor: number;
  period: number;
  n: number;
  overrun: number;
}

/** The contract, written as plainly as possible: a map of timers, sorted when manage() runs. */
class Model {
  timers = new Map<number, ModelTimer>();
  seq = 0;
  now: number;
  constructor(start: number) {
    this.now = start;
  }
  create(id: number, reaction: number) {
    expect(this.timers.has(id)).toBe(false);
    this.timers.set(id, {
      reaction,
      pending: false,
      due: false,
      expiry: Infinity,
      seq: 0,
      anchor: 0,
      period: 0,
      n: 0,
      overrun: 0,
    });
  }
  reset(id: number, delay: number, mode: TimerMode, now: number) {
    const t = this.timers.get(id)!;
    Object.assign(t, {
      pending: true,
      due: false,
      expiry: now + delay,
      seq: this.seq++,
      anchor: now,
      period: mode === 'periodic' ? delay : 0,
      n: 1,
      overrun: 0,
    });
  }
  stop(id: number) {
    const t = this.timers.get(id)!;
    const was = t.pending;
    t.pending = false;
    t.due = false;
    return was;
  }
  free(id: number) {
    this.stop(id);
    this.timers.delete(id);
  }
  nextExpiry() {
    let min = Infinity;
    for (const t of this.timers.values()) if (t.pending && t.expiry < min) min = t.expiry;
    return min;
  }
  manage(now: number, onFire: (id: number) => void) {
    this.now = now;
    const due = [...this.timers.entries()]
      .filter(([, t]) => t.pending && t.expiry <= now)
      .sort(([, x], [, y]) => x.expiry - y.expiry || x.seq - y.seq);
    for (const [, t] of due) t.due = true;
    let fired = 0;
    for (const [id, t] of due) {
      if (!t.due || this.timers.get(id) !== t) continue;
      t.due = false;
      fired++;
      if (t.period > 0) {
        // The smallest n > t.n with anchor + n * period > now, by doubling then bisection.
        const after = (k: number) => t.anchor + k * t.period > now;
        let lo = t.n;
        let hi = t.n + 1;
        for (let step = 1; !after(hi); step *= 2) {
          lo = hi;
          hi += step;
        }
        while (hi - lo > 1) {
          const mid = Math.floor((lo + hi) / 2);
          if (after(mid)) hi = mid;
          else lo = mid;
        }
        const n = hi;
        t.overrun = n - t.n - 1;
        t.n = n;
        t.expiry = t.anchor + n * t.period;
        t.seq = this.seq++;
      } else {
        t.pending = false;
      }
      onFire(id);
    }
    return fired;
  }
}

const timeArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 20 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 400 }).map((k) => k / 8) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 300 }).map((k) => k * 0.1) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 300_000 }) },
  { weight: 1, arbitrary: fc.double({ min: 0.001, max: 1e7, noNaN: true }) },
);
const modeArb = fc.constantFrom<TimerMode>('single', 'single', 'periodic');
const reactionArb: fc.Arbitrary<Reaction> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.constant({ kind: 'stopSelf' as const }),
  fc.constant({ kind: 'freeSelf' as const }),
  fc.record({ kind: fc.constant('stopOther' as const), k: fc.nat() }),
  fc.record({
    kind: fc.constantFrom('resetSelf' as const, 'resetOther' as const, 'createArm' as const),
    k: fc.nat(),
    delay: timeArb,
    mode: modeArb,
  }),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('create' as const), reaction: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('free', 'stop'), k: fc.nat() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('reset' as const),
      k: fc.nat(),
      delay: timeArb,
      mode: modeArb,
      later: fc.oneof(fc.constant(0), timeArb),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('manage' as const), advance: timeArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('manageNext' as const),
      extra: fc.oneof(fc.constant(0), fc.constant(0), timeArb),
    }),
  },
);

/** A periodic timer needs a period > 0; the same rule on both sides. */
const periodOk = (delay: number, mode: TimerMode) =>
  mode === 'periodic' && delay === 0 ? 1 : delay;

describe('TimerWheel against a sorted-list model', () => {
  it('fires the same timers at the same manage() times, in the same order', () => {
    fc.assert(
      fc.property(
        fc.record({
          capacity: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 7, max: 40 })),
          // 1e6: every timer lands in the heap of the current tick, which exercises heap removal.
          tickMs: fc.constantFrom(0.1, 0.25, 1, 3, 64, 1e6),
          startMs: fc.constantFrom(0, 1_000_000.3, 1_700_000_000_000),
        }),
        fc.array(reactionArb, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 40 }),
        fc.array(opArb, { minLength: 10, maxLength: 150, size: 'max' }),
        (shape, reactions, initial, ops) => {
          const wheel = new TimerWheel<number>(shape);
          const model = new Model(shape.startMs);
          // Handles live on each side in creation order; targets are picked by index into these.
          const liveWheel: number[] = [];
          const liveModel: number[] = [];
          const createdInCallbacks: number[] = []; // ids the wheel handed out, for the model
          const firedWheel: [number, number][] = [];
          const firedModel: [number, number][] = [];
          let reactionCounter = 0;

          const react = (
            side: 'wheel' | 'model',
            id: number,
            reaction: Reaction,
            now: number,
          ): void => {
            const live = side === 'wheel' ? liveWheel : liveModel;
            const drop = (x: number) => live.splice(live.indexOf(x), 1);
            const pick = (k: number) => live[k % live.length];
            switch (reaction.kind) {
              case 'none':
                return;
              case 'stopSelf':
                if (side === 'wheel') wheel.stop(id);
                else model.stop(id);
                return;
              case 'freeSelf':
                if (side === 'wheel') wheel.free(id);
                else model.free(id);
                drop(id);
                return;
              case 'stopOther':
                if (side === 'wheel') wheel.stop(pick(reaction.k));
                else model.stop(pick(reaction.k));
                return;
              case 'resetSelf':
              case 'resetOther': {
                const target = reaction.kind === 'resetSelf' ? id : pick(reaction.k);
                const delay = periodOk(reaction.delay, reaction.mode);
                if (side === 'wheel') wheel.reset(target, delay, reaction.mode);
                else model.reset(target, delay, reaction.mode, now);
                return;
              }
              case 'createArm': {
                const delay = periodOk(reaction.delay, reaction.mode);
                const r = reaction.k;
                if (side === 'wheel') {
                  if (wheel.inUse === wheel.capacity) {
                    expect(() => wheel.create(onWheel, r)).toThrow(TimerTableFullError);
                    createdInCallbacks.push(-1);
                    return;
                  }
                  const child = wheel.create(onWheel, r);
                  wheel.reset(child, delay, reaction.mode);
                  live.push(child);
                  createdInCallbacks.push(child);
                } else {
                  const child = createdInCallbacks.shift()!;
                  if (child === -1) {
                    expect(model.timers.size).toBe(shape.capacity);
                    return;
                  }
                  model.create(child, r);
                  model.reset(child, delay, reaction.mode, now);
                  live.push(child);
                }
                return;
              }
            }
          };
          function onWheel(id: number, now: number, reaction: number) {
            firedWheel.push([id, now]);
            react('wheel', id, reactions[reaction % reactions.length], now);
          }

          // Everything observable, flattened; expect() only sees it when the two sides differ
          // (a deep expect per operation would dominate the run time).
          const observe = (side: 'wheel' | 'model'): (number | boolean)[] => {
            const out: (number | boolean)[] = [];
            if (side === 'wheel') {
              out.push(wheel.inUse, wheel.pendingCount, wheel.nextExpiry(), ...liveWheel);
              for (const id of model.timers.keys()) {
                out.push(id, wheel.pending(id), wheel.expiry(id), wheel.overrun(id));
              }
            } else {
              let pending = 0;
              for (const t of model.timers.values()) if (t.pending) pending++;
              out.push(model.timers.size, pending, model.nextExpiry(), ...liveModel);
              for (const [id, t] of model.timers) {
                out.push(id, t.pending, t.pending ? t.expiry : Infinity, t.overrun);
              }
            }
            return out;
          };
          const compare = () => {
            const got = observe('wheel');
            const want = observe('model');
            if (got.length !== want.length || got.some((v, i) => !Object.is(v, want[i]))) {
              expect(got).toEqual(want);
            }
          };

          const start: Op[] = Array.from({ length: Math.min(initial, shape.capacity) }, (_, i) => ({
            kind: 'create',
            reaction: i,
          }));
          for (const op of [...start, ...ops]) {
            switch (op.kind) {
              case 'create': {
                const reaction = reactionCounter++;
                if (wheel.inUse === shape.capacity) {
                  expect(() => wheel.create(onWheel, reaction)).toThrow(TimerTableFullError);
                  break;
                }
                const id = wheel.create(onWheel, reaction);
                model.create(id, reaction);
                liveWheel.push(id);
                liveModel.push(id);
                break;
              }
              case 'free':
              case 'stop': {
                if (liveWheel.length === 0) break;
                const id = liveWheel[op.k % liveWheel.length];
                if (op.kind === 'stop') {
                  expect(wheel.stop(id)).toBe(model.stop(id));
                } else {
                  wheel.free(id);
                  model.free(id);
                  liveWheel.splice(liveWheel.indexOf(id), 1);
                  liveModel.splice(liveModel.indexOf(id), 1);
                }
                break;
              }
              case 'reset': {
                if (liveWheel.length === 0) break;
                const id = liveWheel[op.k % liveWheel.length];
                const delay = periodOk(op.delay, op.mode);
                const now = model.now + op.later; // arming later than the last manage() is fine
                wheel.reset(id, delay, op.mode, now);
                model.reset(id, delay, op.mode, now);
                break;
              }
              case 'manage':
              case 'manageNext': {
                // manageNext lands exactly on the next expiry (plus a little), where ties and
                // the expiry == now boundary live.
                const next = model.nextExpiry();
                const now =
                  op.kind === 'manage'
                    ? model.now + op.advance
                    : (next === Infinity ? model.now : Math.max(model.now, next)) + op.extra;
                const n = wheel.manage(now);
                const m = model.manage(now, (id) => {
                  firedModel.push([id, now]);
                  const t = model.timers.get(id)!;
                  react('model', id, reactions[t.reaction % reactions.length], now);
                });
                if (
                  n !== m ||
                  firedWheel.length !== firedModel.length ||
                  firedWheel.some(
                    ([id, at], i) => id !== firedModel[i][0] || at !== firedModel[i][1],
                  )
                ) {
                  expect([n, firedWheel]).toEqual([m, firedModel]);
                }
                expect(createdInCallbacks.length).toBe(0);
                break;
              }
            }
            compare();
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
