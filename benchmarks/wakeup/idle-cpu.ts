// What an idle lcore costs in CPU: one EAL lcore with no work, busy polling vs adaptive polling
// (spin 1024 empty polls, then park on its Doorbell for up to 10 ms), measured with
// process.cpuUsage() over a window while the main thread sleeps.
import { cleanup, init, remoteLaunch, stop, waitLcore } from '@bypass/eal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface IdleCpu {
  /** CPU time used per second of wall time by the whole process (1.0 = one core). */
  busy: number;
  adaptive: number;
  windowMs: number;
}

export async function measureIdleCpu(windowMs: number): Promise<IdleCpu> {
  await init({ lcores: [0, 1], pin: false, logLevel: 'err' }, { handleSignals: false });
  const out: Partial<IdleCpu> = { windowMs };
  try {
    for (const mode of ['busy', 'adaptive'] as const) {
      remoteLaunch(1, new URL('./idle-lcore.js', import.meta.url), 'idle', mode);
      await sleep(300); // the lcore starts, imports, settles into its loop
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(windowMs);
      const c = process.cpuUsage(c0);
      out[mode] = (c.user + c.system) / 1e3 / (performance.now() - t0);
      stop();
      await waitLcore(1);
      await cleanup();
      if (mode === 'busy')
        await init({ lcores: [0, 1], pin: false, logLevel: 'err' }, { handleSignals: false });
    }
  } finally {
    await cleanup();
  }
  return out as IdleCpu;
}
