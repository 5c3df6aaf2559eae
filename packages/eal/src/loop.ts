import { now } from './clock.js';
import { context } from './context.js';
import { LOOP_COUNTERS, lcoreStats } from './stats.js';

/**
 * The lcore poll loop: run to completion, slice by slice. Within a slice the loop calls
 * `poll(now)` back to back (rx burst, process, tx burst: whatever the application does) and
 * then `afterPoll(now)` (timers); between slices it yields to Node's event loop once, so that
 * promises, timers, streams and messages still work inside an lcore. The slice length is the
 * EAL's `--slice-us`; `pnpm bench wakeup` measures what one slice boundary costs.
 *
 * Busy polling (the default) never sleeps. Adaptive polling (`--poll adaptive`) counts empty
 * polls; after `--spin-polls` of them in a row it parks on this lcore's Doorbell until a
 * producer rings it (`doorbell(lcore).ring()`), the next timer is due, or `maxParkMs` passes,
 * then ends the slice. The Doorbell's ticket is taken before each poll, so a ring that arrives
 * while polling is never slept through.
 *
 * A slice also ends right after a poll that left work for the event loop: a layer that hands data
 * or events to code written for the event loop (node:net-compatible sockets, whose streams,
 * node:http and promise chains go on in process.nextTick, microtasks and setImmediate) calls
 * `requestYield()` during the poll, and that work then runs within microseconds instead of
 * waiting for the slice to end. For one slice after such a request, an idle poll ends the slice
 * too: what that work queued in turn (an immediate behind this loop's own, a promise chain's
 * next step) runs after the next event-loop turn, not after a whole slice of polling. A pure
 * callback-API loop never asks, and keeps polling back to back.
 *
 * The loop ends when the EAL's quit flag is set (stop(), SIGINT, SIGTERM, an lcore error).
 */

/** Set by requestYield() during a poll; the loop ends the slice after that poll. */
let yieldRequested = false;

/**
 * Ends the current slice after this poll, so Node's event loop runs next (nextTicks, promises,
 * immediates, timers). Cheap: a flag. Call it when a poll delivered something that event-loop
 * code will act on.
 */
export function requestYield(): void {
  yieldRequested = true;
}

export interface PollLoopOptions {
  /** This lcore's timers: managed after every poll, and an adaptive park ends when one is due. */
  timers?: { manage(now: number): number; nextExpiry(): number };
  /** Called after every poll with the same `now`: run timers here (TimerWheel.manage). */
  afterPoll?: (now: number) => void;
  /** Earliest time anything is due (TimerWheel.nextExpiry), to bound an adaptive park. */
  nextDue?: () => number;
  /** Longest single park in adaptive mode, in ms (default 10). */
  maxParkMs?: number;
  /** Override the EAL's poll mode, spin count or slice length for this loop. */
  mode?: 'busy' | 'adaptive';
  spinPolls?: number;
  sliceUs?: number;
}

export interface PollLoopResult {
  polls: number;
  idlePolls: number;
  work: number;
  parks: number;
  slices: number;
  /** Slices ended early by requestYield() (event-loop work waiting). */
  earlyYields: number;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs `poll` until the EAL quits. `poll(now)` returns how much work it did (0 = idle).
 * Resolves with this loop's totals (also added to the lcore's loop_* counters).
 */
export async function runPollLoop(
  poll: (now: number) => number,
  options: PollLoopOptions = {},
): Promise<PollLoopResult> {
  const ctx = context();
  const { words, index } = ctx.memory.quitWord;
  const bell = ctx.memory.doorbell(ctx.lcoreId);
  const adaptive = (options.mode ?? ctx.config.poll) === 'adaptive';
  const spinPolls = options.spinPolls ?? ctx.config.spinPolls;
  const sliceMs = (options.sliceUs ?? ctx.config.sliceUs) / 1000;
  const maxParkMs = options.maxParkMs ?? 10;
  const timers = options.timers;
  const afterPoll =
    options.afterPoll ?? (timers ? (t: number) => void timers.manage(t) : undefined);
  const nextDue = options.nextDue ?? (timers ? () => timers.nextExpiry() : undefined);
  const stats = lcoreStats();
  const ids = LOOP_COUNTERS.map((n) => stats.counterId(n));
  const row = stats.row;
  const r: PollLoopResult = {
    polls: 0,
    idlePolls: 0,
    work: 0,
    parks: 0,
    slices: 0,
    earlyYields: 0,
  };
  let empty = 0;
  /** Until then an idle poll ends the slice (event-loop work was handed over recently). */
  let eventLoopActiveUntil = 0;
  while (Atomics.load(words, index) === 0) {
    let t = now();
    const sliceEnd = t + sliceMs;
    let polls = 0;
    let idle = 0;
    let work = 0;
    do {
      const ticket = adaptive ? bell.ticket() : 0;
      const n = poll(t);
      if (afterPoll !== undefined) afterPoll(t);
      polls++;
      if (yieldRequested) {
        yieldRequested = false;
        eventLoopActiveUntil = t + sliceMs;
        r.earlyYields++;
        row[ids[5]]++;
        if (n > 0) {
          work += n;
          empty = 0;
        } else idle++;
        break; // the event loop has work from this poll: let it run now
      }
      if (n > 0) {
        work += n;
        empty = 0;
      } else {
        idle++;
        if (t < eventLoopActiveUntil) break; // the event loop may have more: let it run
        if (adaptive && ++empty > spinPolls) {
          const due = nextDue === undefined ? Number.POSITIVE_INFINITY : nextDue() - now();
          const park = Math.max(0, Math.min(due, maxParkMs));
          bell.park(ticket, park);
          r.parks++;
          row[ids[3]]++;
          empty = 0;
          break; // after a park, let the event loop run before polling on
        }
      }
      t = now();
    } while (t < sliceEnd && Atomics.load(words, index) === 0);
    r.polls += polls;
    r.idlePolls += idle;
    r.work += work;
    r.slices++;
    row[ids[0]] += polls;
    row[ids[1]] += idle;
    row[ids[2]] += work;
    row[ids[4]]++;
    await yieldToEventLoop();
  }
  return r;
}
