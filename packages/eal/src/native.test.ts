import { cpus } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { Barrier, OptionError, runWorker } from '@bypass/atomics-sync';
import { describe, expect, it } from 'vitest';
import type { NativeThreadData, NativeThreadReport } from '../test/fixtures/native-thread.ts';
import { loadNative, nativeUnavailableReason, pinCurrentThread } from './native.js';

const THREAD = new URL('../test/fixtures/native-thread.js', import.meta.url);
const native = loadNative();
const reason = nativeUnavailableReason();
if (reason) console.log(`native.test.ts: skipping the addon tests: ${reason}`);

function thread(workerData: NativeThreadData, env?: NodeJS.ProcessEnv) {
  return runWorker<NativeThreadReport>(THREAD, { workerData, ...(env ? { env } : {}) });
}

/** Runs `data.length` workers that all hold the addon loaded at the same moment as this thread. */
async function threadsTogether(data: NativeThreadData[]): Promise<NativeThreadReport[]> {
  const barrier = Barrier.create(new SharedArrayBuffer(Barrier.BYTES), 0, data.length + 1);
  const reports = data.map((d) => thread({ ...d, barrier: barrier.descriptor }));
  const all = Promise.all(reports);
  // A worker that dies before the barrier fails the test with its error instead of a hang.
  await Promise.race([barrier.arriveAndWaitAsync(), all]);
  return all;
}

describe('native addon', () => {
  it.skipIf(!native)(
    'loads in the main thread and two workers at once, each its own tid',
    async () => {
      const addon = native!;
      const reports = await threadsTogether([{}, {}]);
      for (const r of reports) expect([r.loaded, r.reason]).toEqual([true, undefined]);
      // A process's main thread has tid = pid (vitest may run this file in a worker itself).
      if (isMainThread) expect(addon.gettid()).toBe(process.pid);
      const tids = new Set([addon.gettid(), ...reports.map((r) => r.tid)]);
      expect(tids.size).toBe(3);
      expect(addon.cpuCount()).toBeGreaterThanOrEqual(1);
    },
  );

  const mainAffinity = native?.getAffinity() ?? [];
  it.skipIf(!native || !mainAffinity.includes(1))(
    'pins one worker to CPU 1, leaving its sibling and the main thread as they were',
    async () => {
      const addon = native!;
      const [pinned, sibling] = await threadsTogether([{ pin: 1 }, {}]);
      expect(pinned.pin).toEqual({ pinned: true });
      expect(pinned.affinity).toEqual([1]);
      expect(sibling.affinity).toEqual(mainAffinity);
      expect(addon.getAffinity()).toEqual(mainAffinity);
    },
  );

  it.skipIf(!native)('throws system and range errors from setAffinity', () => {
    const addon = native!;
    // CPU 1000 is valid for cpu_set_t but offline: the kernel refuses, nothing changes.
    expect(() => addon.setAffinity([1000])).toThrow(
      expect.objectContaining({ code: 'EINVAL', syscall: 'sched_setaffinity', errno: 22 }),
    );
    expect(() => addon.setAffinity([])).toThrow(RangeError);
    expect(() => addon.setAffinity([-1])).toThrow(/cpus\[0\] must be an integer/);
    expect(() => addon.setAffinity([0, 0.5])).toThrow(/cpus\[1\] must be an integer/);
    expect(() => addon.setAffinity('0' as unknown as number[])).toThrow(TypeError);
    expect(addon.getAffinity()).toEqual(mainAffinity);
  });
});

describe('pinCurrentThread', () => {
  it('throws OptionError naming a cpu that is not an online CPU number', () => {
    const online = native?.cpuCount() ?? Math.max(1, cpus().length);
    for (const bad of [-1, 1.5, Number.NaN, online, 4096]) {
      expect(() => pinCurrentThread(bad)).toThrow(OptionError);
      expect(() => pinCurrentThread(bad)).toThrow(`cpu must be an integer from 0 to ${online - 1}`);
      expect(() => pinCurrentThread(bad)).toThrow(new RegExp(`got ${bad}$`));
    }
  });

  it('reports pinned: false with the reason when the addon is absent, without throwing', async () => {
    const report = await thread({ pin: 0 }, { ...process.env, BYPASS_NATIVE: '0' });
    expect(report.loaded).toBe(false);
    expect(report.reason).toMatch(/BYPASS_NATIVE=0.*CPU pinning and tap ports are disabled/);
    expect(report.pin).toEqual({ pinned: false, reason: report.reason });
  });
});
