// The loadgen's lcore function (launched with remoteLaunch): this lcore's NetRuntime on its
// queue, the load on it, and the poll loop until the EAL (or the run's stop word) stops it.
import { now, quitRequested, stop } from '@bypass/eal';
import { type LoadLcoreResult, runLoad } from './load.js';
import {
  createRuntime,
  type LcoreNet,
  runUntilStopped,
  SharedWord,
  waitForRun,
} from './net-app.js';
import type { LoadOptions } from './options.js';

export interface ClientLcoreArg {
  net: LcoreNet;
  load: LoadOptions;
  /** The SharedWord this lcore adds 1 to when its load is over. */
  done: string;
}

/** How long, after the EAL stopped, the lcore keeps polling so its connections can close. */
const DRAIN_MS = 1000;

export async function loadgenLcore(arg: ClientLcoreArg): Promise<LoadLcoreResult> {
  const rt = createRuntime(arg.net);
  let result: LoadLcoreResult | undefined;
  let error: unknown;
  const stopWord = arg.net.stopWord === undefined ? undefined : new SharedWord(arg.net.stopWord);
  const stopped = () => quitRequested() || (stopWord !== undefined && stopWord.value !== 0);
  try {
    const loop = runUntilStopped(rt, arg.net.stopWord);
    loop.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
    // The load starts once every lcore of the run polls (a server still loading its code would
    // make the first connections wait for SYN retransmissions).
    await waitForRun(arg.net);
    const load = runLoad(arg.load, rt, stopped).then(
      (r) => {
        result = r;
        new SharedWord(arg.done).add();
      },
      (e) => {
        error = e;
        stop();
      },
    );
    await loop;
    // Stopped before the load was over (a signal, the run's time limit): the load ends at its
    // next tick and closes its connections; keep polling for that.
    const until = now() + DRAIN_MS;
    while (result === undefined && error === undefined && now() < until) {
      rt.poll();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.race([load, new Promise((r) => setTimeout(r, 10))]);
  } finally {
    rt.close();
  }
  if (error !== undefined) throw error;
  if (result === undefined) throw new Error('the load did not finish after the run stopped');
  return result;
}
