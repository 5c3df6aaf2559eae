// Launched on an lcore by handoff.ts: a poll loop whose polls now and then hand work to the event
// loop (a process.nextTick, as a node:net-compatible socket's stream steps are), timed from the
// hand-off to the tick running, with and without requestYield().
import { now, requestYield, runPollLoop, stop } from '@bypass/eal';

export interface HandoffArg {
  /** Call requestYield() with each hand-off. */
  ask: boolean;
  count: number;
  /** Polls between hand-offs (idle polls in between, as a quiet network gives). */
  everyPolls: number;
}

export async function handoff(arg: HandoffArg): Promise<number[]> {
  const delays: number[] = [];
  let polls = 0;
  let pending = false;
  let t0 = 0;
  const tick = () => {
    delays.push((now() - t0) * 1000);
    pending = false;
    if (delays.length === arg.count) stop();
  };
  await runPollLoop(() => {
    polls++;
    if (pending || polls % arg.everyPolls !== 0) return 0;
    pending = true;
    t0 = now();
    if (arg.ask) requestYield();
    process.nextTick(tick);
    return 1;
  });
  return delays;
}
