// Launched on an lcore by idle-cpu.ts: an lcore with nothing to do, polling until stopped.
import { runPollLoop } from '@bypass/eal';

export function idle(mode: 'busy' | 'adaptive') {
  return runPollLoop(() => 0, { mode, spinPolls: 1024 });
}
