// The main thread while lcores run: one statistics line per period from the lcores' shared
// counters, until the clients are done (or a signal, an lcore error, a time limit), then stop
// the lcores (the EAL's stop(), or the run's own stop word) and collect what each returned.
import { collectStats, mpWaitLcore, now, quitRequested, stop, waitLcore } from '@bypass/eal';
import type { SharedWord } from './net-app.js';

export interface SuperviseOptions {
  /** Counter the client lcores add to when done; with `clients`, ends the run. */
  done?: SharedWord;
  clients?: number;
  /** Stop after this long anyway (ms; default: until done or a signal). */
  limitMs?: number;
  /** Seconds between statistics lines (0: none). */
  periodS: number;
  /** One line from the counters' change over `dt` seconds (per lcore counters by name). */
  line?: (delta: (name: string, lcores?: readonly number[]) => number, dt: number) => string;
  /**
   * Called every period (with or without `line`): the counters' change over `dt` seconds, the
   * seconds since the run began, and the counters' current values (gauges) of `lcores`.
   */
  progress?: (
    delta: (name: string, lcores?: readonly number[]) => number,
    dt: number,
    elapsedS: number,
    current: (name: string, lcores: readonly number[]) => number[],
  ) => void;
  print: (line: string) => void;
  /** Ends the lcores' loops (default: the EAL's stop(), final until cleanup()). */
  stop?: () => void;
  /** The lcores to wait for (default: every worker lcore). */
  lcores?: readonly number[];
}

/**
 * Waits for `lcores` (waitLcore each) and returns their values by lcore id; throws the first
 * failure once all have returned.
 */
export async function waitLcores(lcores: readonly number[]): Promise<Record<number, unknown>> {
  const settled = await Promise.allSettled(lcores.map((l) => waitLcore(l)));
  const out: Record<number, unknown> = {};
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') out[lcores[i]] = r.value;
  });
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits as above, stops the lcores and returns their values by lcore id. */
export async function supervise(o: SuperviseOptions): Promise<Record<number, unknown>> {
  const t0 = now();
  const periodMs = o.periodS * 1000;
  let last = { t: t0, stats: collectStats().lcores };
  let nextPrint = t0 + periodMs;
  const finished = () =>
    quitRequested() ||
    (o.done !== undefined && o.done.value >= (o.clients ?? 1)) ||
    (o.limitMs !== undefined && now() - t0 >= o.limitMs);
  while (!finished()) {
    await sleep(periodMs > 0 ? Math.min(20, Math.max(1, nextPrint - now())) : 20);
    const t = now();
    if (periodMs > 0 && t >= nextPrint && (o.line !== undefined || o.progress !== undefined)) {
      const cur = collectStats().lcores;
      const prev = last.stats;
      const delta = (name: string, lcores?: readonly number[]) => {
        let d = 0;
        for (const id of Object.keys(cur)) {
          if (lcores !== undefined && !lcores.includes(Number(id))) continue;
          d += (cur[Number(id)][name] ?? 0) - (prev[Number(id)]?.[name] ?? 0);
        }
        return d;
      };
      const dt = (t - last.t) / 1000;
      if (o.line !== undefined) o.print(o.line(delta, dt));
      o.progress?.(delta, dt, (t - t0) / 1000, (name, lcores) =>
        lcores.map((l) => cur[l]?.[name] ?? 0),
      );
      last = { t, stats: cur };
      nextPrint += periodMs;
      if (nextPrint < t) nextPrint = t + periodMs;
    }
  }
  (o.stop ?? stop)();
  return o.lcores === undefined ? mpWaitLcore() : waitLcores(o.lcores);
}
