// What the poll loop's yield policy costs event-loop code on an lcore: µs from a poll handing work
// to the event loop (a nextTick) until it runs, with requestYield() (the slice ends after that
// poll) and without (the work waits for the slice, --slice-us, to end). One EAL lcore, the main
// thread asleep.
import { cleanup, init, remoteLaunch, waitLcore } from '@bypass/eal';
import type { HandoffArg } from './handoff-lcore.js';

export interface HandoffDelay {
  /** µs from hand-off to the nextTick running. */
  p50: number;
  p99: number;
  count: number;
}

export interface Handoff {
  requestYield: HandoffDelay;
  sliceEnd: HandoffDelay;
  sliceUs: number;
}

function percentiles(us: number[]): HandoffDelay {
  const s = [...us].sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 100) / 100;
  return { p50: at(0.5), p99: at(0.99), count: s.length };
}

export async function measureHandoff(count: number): Promise<Handoff> {
  const out: Partial<Handoff> = {};
  for (const ask of [true, false]) {
    const { config } = await init(
      { lcores: [0, 1], pin: false, logLevel: 'err' },
      { handleSignals: false },
    );
    out.sliceUs = config.sliceUs;
    try {
      const arg: HandoffArg = { ask, count, everyPolls: 64 };
      remoteLaunch(1, new URL('./handoff-lcore.js', import.meta.url), 'handoff', arg);
      const delays = (await waitLcore(1)) as number[];
      out[ask ? 'requestYield' : 'sliceEnd'] = percentiles(delays);
    } finally {
      await cleanup();
    }
  }
  return out as Handoff;
}
