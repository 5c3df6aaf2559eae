// The EAL with real lcore threads. Pinning is off except in the pinning test, and every test
// ends with cleanup() so the next can init again.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  cleanup,
  collectLatency,
  collectStats,
  doorbell,
  EalError,
  ealWasmMemory,
  init,
  LcoreError,
  lcoreState,
  loadNative,
  memzoneReserve,
  mpRemoteLaunch,
  mpWaitLcore,
  nativeUnavailableReason,
  pktmbufPoolCreate,
  remoteLaunch,
  ringCreate,
  startupInterrupted,
  stop,
  waitLcore,
} from '../src/index.js';

const APPS = new URL('./fixtures/lcore-apps.js', import.meta.url);

afterEach(async () => {
  await cleanup();
});

describe('launch and wait', () => {
  it('each lcore returns a value that waitLcore yields; states go wait, running/finished, wait', async () => {
    const { config } = await init({ lcores: '0-2', pin: false }, { handleSignals: false });
    expect(config.mainLcore).toBe(0);
    expect(lcoreState(1)).toBe('wait');
    remoteLaunch(1, APPS, 'hello', 'one');
    remoteLaunch(2, APPS, 'hello', { n: 2 });
    expect(['running', 'finished']).toContain(lcoreState(1));
    expect(() => remoteLaunch(1, APPS, 'hello')).toThrow(
      /lcore 1 is busy \((running|finished)\); waitLcore\(1\) first/,
    );
    expect(await waitLcore(1)).toEqual({ lcore: 1, main: 0, arg: 'one' });
    expect(await waitLcore(2)).toEqual({ lcore: 2, main: 0, arg: { n: 2 } });
    expect(lcoreState(1)).toBe('wait');
    expect(await waitLcore(1)).toBeUndefined();
    // Relaunch on the same lcores, this time all at once and on the main lcore too.
    const mainValue = await mpRemoteLaunch(APPS, 'hello', 'all', 'call-main');
    expect(mainValue).toEqual({ lcore: 0, main: 0, arg: 'all' });
    expect(await mpWaitLcore()).toEqual({
      1: { lcore: 1, main: 0, arg: 'all' },
      2: { lcore: 2, main: 0, arg: 'all' },
    });
  });

  it('refuses the main lcore, disabled lcores, missing exports', async () => {
    await init({ lcores: [0, 3], pin: false }, { handleSignals: false });
    expect(() => remoteLaunch(0, APPS, 'hello')).toThrow(/lcore 0 is the main lcore/);
    expect(() => remoteLaunch(1, APPS, 'hello')).toThrow(
      'remoteLaunch: lcore 1 is not enabled (lcores: 0,3)',
    );
    remoteLaunch(3, APPS, 'nothingHere');
    await expect(waitLcore(3)).rejects.toThrow(
      /lcore 3: EalError: .*lcore-apps\.ts exports no function named nothingHere/,
    );
    await expect(init({}, { handleSignals: false })).rejects.toThrow(EalError);
  });
});

describe('built lcores (lcoreCode built)', () => {
  const builtWorker = fileURLToPath(new URL('../dist/lcore-worker.js', import.meta.url));
  const why = existsSync(builtWorker)
    ? undefined
    : `${builtWorker} is missing: run \`pnpm build\` (the README's test command builds first)`;
  if (why !== undefined) console.log(`skipped: built lcores: ${why}`);

  it.skipIf(why !== undefined)(
    "lcores run the packages' dist/ on plain node: no tsx, the bypass-dist condition",
    async () => {
      const r = await init(
        { lcores: '0-1', pin: false },
        { handleSignals: false, lcoreCode: 'built' },
      );
      expect(r.lcoreCode).toBe('built');
      remoteLaunch(1, new URL('./fixtures/built-probe.mjs', import.meta.url), 'probe');
      const got = (await waitLcore(1)) as { argv: string[]; eal: string; lcore: number };
      expect(got.lcore).toBe(1);
      expect(got.argv).toContain('--conditions=bypass-dist');
      expect(got.argv.filter((a) => /(^|[/\\])tsx([/\\@]|$)/.test(a))).toEqual([]);
      expect(got.eal).toMatch(/\/packages\/eal\/dist\/index\.js$/);
      // A TypeScript module has no build to run: refused before the lcore is claimed.
      expect(() => remoteLaunch(1, APPS, 'hello')).toThrow(
        /lcore-apps\.js has no built JavaScript for the lcores.*run `pnpm build`/,
      );
      expect(lcoreState(1)).toBe('wait');
    },
  );

  it('the default is the sources, as given', async () => {
    const r = await init({ lcores: '0-1', pin: false }, { handleSignals: false });
    expect(r.lcoreCode).toBe('source');
    remoteLaunch(1, APPS, 'hello', 'src');
    expect(await waitLcore(1)).toEqual({ lcore: 1, main: 0, arg: 'src' });
  });
});

describe('EAL memory', () => {
  it('is a shared WebAssembly.Memory whose buffer every memzone shares, on every lcore', async () => {
    await init({ lcores: '0-1', pin: false, memoryMb: 8 }, { handleSignals: false });
    const z = memzoneReserve('wasm_probe', 4096);
    const m = ealWasmMemory();
    expect(m).not.toBeNull();
    expect(m?.buffer.byteLength).toBe(8 * 1024 * 1024);
    expect(z.sab).toBe(m?.buffer);
    remoteLaunch(1, APPS, 'wasmMemory', 'wasm_probe');
    expect(await waitLcore(1)).toEqual({ wasm: true, shared: true, sameBuffer: true });
  });
});

describe('poll loop and the event loop', () => {
  it('requestYield(): the slice ends after that poll, and the next idle poll ends the next one', async () => {
    await init({ lcores: '0-1', pin: false }, { handleSignals: false });
    remoteLaunch(1, APPS, 'yieldAfterWork', { at: 5, ask: true });
    // The nextTick runs right after poll 5; the immediate it queued sits behind the loop's own
    // resume immediate, so it runs after one more (idle) poll, and the promise step with it.
    expect(await waitLcore(1)).toEqual({
      seen: { tick: 5, immediate: 6, promise: 6 },
      earlyYields: 1,
    });
  });

  it('without requestYield() the event loop waits for the slice to end (a callback-API loop keeps polling)', async () => {
    await init({ lcores: '0-1', pin: false }, { handleSignals: false });
    remoteLaunch(1, APPS, 'yieldAfterWork', { at: 5, ask: false });
    const r = (await waitLcore(1)) as { seen: Record<string, number>; earlyYields: number };
    expect(r.earlyYields).toBe(0);
    expect(r.seen.tick).toBeGreaterThan(100);
  });
});

describe('oversubscription', () => {
  it('warns when more busy-polling lcores than CPUs are asked for', async () => {
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((m: string) => {
      errors.push(m);
    });
    const n = availableParallelism() + 1;
    try {
      await init({ lcores: `0-${n - 1}`, pin: false }, { handleSignals: false });
    } finally {
      spy.mockRestore();
    }
    expect(errors).toEqual([
      `EAL: ${n} lcores on ${n - 1} CPUs: busy-polling lcores will share CPUs and measurements will show the scheduler, not the code`,
    ]);
  });
});

describe('memzones, rings and pools across lcores', () => {
  it('objects created before launch are found by name in the lcore', async () => {
    await init({ lcores: [0, 1], pin: false }, { handleSignals: false });
    const zone = memzoneReserve('blob', 100);
    new Uint8Array(zone.sab, zone.byteOffset, 100).fill(3);
    const toLcore = ringCreate('to_lcore', { count: 1024 });
    const fromLcore = ringCreate('from_lcore', { count: 1024 });
    remoteLaunch(1, APPS, 'echo', 10_000);
    const items = Uint32Array.from({ length: 10_000 }, (_, i) => i * 7);
    const back = new Uint32Array(10_000);
    let sent = 0;
    let got = 0;
    while (got < items.length) {
      if (sent < items.length)
        sent += toLcore.enqueueBurst(items, Math.min(64, items.length - sent), sent);
      got += fromLcore.dequeueBurst(back, Math.min(64, items.length - got), got);
      if (got % 1024 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(back).toEqual(items);
    stop();
    expect(await waitLcore(1)).toEqual({ sum: 300, echoed: 10_000, wanted: 10_000 });
    expect(() => memzoneReserve('blob', 8)).toThrow('memzone blob already exists');
    expect(() => memzoneReserve('huge', 200 << 20)).toThrow(
      /do not fit in the 64 MiB of EAL memory; start with -m 2\d\d or more/,
    );
  });

  it('an mbuf pool created on main is used through each lcore cache and ends full', async () => {
    await init({ lcores: [0, 1, 2], pin: false }, { handleSignals: false });
    const pool = pktmbufPoolCreate('pkts', { n: 1024, cacheSize: 64 });
    await mpRemoteLaunch(APPS, 'mbufChurn', 1000);
    expect(await mpWaitLcore()).toEqual({ 1: 1, 2: 2 });
    expect(pool.mempool.audit().full).toBe(true);
  });
});

describe('failure and stop', () => {
  it('a throwing lcore stops the others and the error names it', async () => {
    await init({ lcores: [0, 1, 2], pin: false }, { handleSignals: false });
    remoteLaunch(1, APPS, 'loopUntilStop');
    remoteLaunch(2, APPS, 'boom');
    const err = await mpWaitLcore().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LcoreError);
    expect((err as LcoreError).lcoreId).toBe(2);
    expect((err as LcoreError).message).toBe('lcore 2: TypeError: boom on purpose');
    expect((err as LcoreError).stack).toMatch(/in lcore 2: TypeError: boom on purpose\n\s+at boom/);
    expect(lcoreState(1)).toBe('wait'); // it was stopped and collected
  });

  /** Runs the fixture app, sends `signals` (each after its delay in ms) once it is ready. */
  async function signalApp(
    signals: [NodeJS.Signals, number][],
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; out: string; err: string }> {
    const app = fileURLToPath(new URL('./fixtures/sigterm-app.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', app], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let out = '';
    let err = '';
    let signalled = false;
    child.stdout.on('data', async (d) => {
      out += d;
      if (!signalled && out.includes('ready')) {
        signalled = true;
        for (const [signal, delay] of signals) {
          await new Promise((r) => setTimeout(r, delay));
          child.kill(signal);
        }
      }
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { code, out, err };
  }

  it('a module that fails to load after a stop request is a startup interrupted, not a failure', async () => {
    await init({ lcores: '0-2', pin: false }, { handleSignals: false });
    const missing = new URL('./fixtures/fails-to-load.js', import.meta.url);
    // Before any stop: a load error is the program's error.
    remoteLaunch(1, missing, 'main');
    const real = await waitLcore(1).catch((e: unknown) => e);
    expect(real).toBeInstanceOf(LcoreError);
    expect((real as LcoreError).interruptedLoad).toBe(false);
    expect(startupInterrupted(real)).toBe(false);
    await cleanup();
    // After a stop request (Ctrl-C killed tsx's esbuild service mid-load): the stop itself.
    await init({ lcores: '0-2', pin: false }, { handleSignals: false });
    stop();
    remoteLaunch(1, missing, 'main');
    remoteLaunch(2, APPS, 'loopUntilStop');
    const err = await mpWaitLcore().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LcoreError);
    expect((err as LcoreError).lcoreId).toBe(1);
    expect(startupInterrupted(err)).toBe(true);
    // Any other failure is thrown first, so it is never mistaken for the stop.
    await cleanup();
    await init({ lcores: '0-2', pin: false }, { handleSignals: false });
    stop();
    remoteLaunch(1, missing, 'main');
    remoteLaunch(2, APPS, 'boom');
    const both = await mpWaitLcore().catch((e: unknown) => e);
    expect((both as LcoreError).lcoreId).toBe(2);
    expect(startupInterrupted(both)).toBe(false);
  });

  it('SIGTERM to an lcore app stops every lcore, prints stats and exits 0', async () => {
    const { code, out, err } = await signalApp([['SIGTERM', 0]]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('EAL: SIGTERM received: stopping all lcores');
    expect(out).toMatch(/EAL statistics\n\s+lcore\s+polls\s+idle%\s+work\s+parks\s+slices\n\s+0 /);
    expect(out).toMatch(/\n\s+1\s+[1-9]\d*\s/); // lcore 1 polled
  });

  it('a Ctrl-C relayed by launchers (three signals within the window) is one clean stop', async () => {
    const { code, out, err } = await signalApp([
      ['SIGINT', 0],
      ['SIGINT', 2],
      ['SIGTERM', 30],
    ]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain(
      'EAL: SIGINT received: stopping all lcores (Ctrl-C again after 1 s forces the exit)',
    );
    expect(out).toMatch(/EAL statistics\n/);
  });

  it('a second Ctrl-C after the window forces the exit (130) and says so', async () => {
    const { code, out, err } = await signalApp(
      [
        ['SIGINT', 0],
        ['SIGINT', 1500],
      ],
      { WEDGED: '1' },
    );
    expect(code).toBe(130);
    expect(out).toContain('EAL: SIGINT received: stopping all lcores');
    expect(out).not.toContain('EAL statistics');
    expect(err).toMatch(
      /^EAL: SIGINT again 1\.\d s after the first: exiting now with 130, without stopping the lcores cleanly \(no summary\)\n$/,
    );
  });
});

describe('adaptive polling and statistics', () => {
  it('an idle adaptive lcore parks, wakes on its doorbell and counts what it did', async () => {
    await init({ lcores: [0, 1], pin: false }, { handleSignals: false });
    const work = ringCreate('work', { count: 256 });
    remoteLaunch(1, APPS, 'adaptiveConsumer');
    const one = new Uint32Array(1);
    for (let i = 0; i < 200; i++) {
      one[0] = i;
      while (work.enqueueBurst(one, 1) === 0) await new Promise((r) => setImmediate(r));
      doorbell(1).ring();
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5)); // let it go idle and park
    }
    while (!work.isEmpty()) await new Promise((r) => setTimeout(r, 1));
    const latency = await collectLatency();
    expect(latency.missing).toEqual([]);
    expect(latency.merged.totalCount).toBe(200);
    expect(latency.merged.minNonZeroValue).toBe(1000);
    stop();
    const r = (await waitLcore(1)) as { items: number; parks: number };
    expect(r.items).toBe(200);
    expect(r.parks).toBeGreaterThan(0);
    const stats = collectStats();
    expect(stats.lcores[1].items).toBe(200);
    expect(stats.lcores[1].loop_work).toBe(200);
    expect(stats.lcores[1].loop_parks).toBe(r.parks);
    expect(stats.total.items).toBe(200);
  });
});

describe('timers in the loop', () => {
  it('an adaptive lcore with only timers parks between them and fires them in order', async () => {
    await init({ lcores: [0, 1], pin: false }, { handleSignals: false });
    remoteLaunch(1, APPS, 'timerLcore');
    const r = (await waitLcore(1)) as { fired: string[]; parks: number; elapsed: number };
    expect(r.fired).toEqual(['tick', 'tick', 'once', 'tick', 'tick']);
    expect(r.elapsed).toBeGreaterThanOrEqual(20);
    expect(r.parks).toBeGreaterThan(0);
  });
});

describe('slow path', () => {
  it('an lcore offloads work to the piscina pool and gets replies by polling, never blocking', async () => {
    await init({ lcores: [0, 1], pin: false }, { handleSignals: false });
    remoteLaunch(1, APPS, 'offload', 4);
    const r = (await waitLcore(1)) as {
      pollsWhileWaiting: number;
      values: string[];
      failure: string;
    };
    const { createHash } = await import('node:crypto');
    const expected = [0, 1, 2, 3].map((i) => {
      let h = `job ${i}`;
      for (let k = 0; k < 200; k++) h = createHash('sha256').update(h).digest('hex');
      return h.slice(0, 8);
    });
    expect(r.values).toEqual(expected);
    expect(r.failure).toBe('slow task failed on purpose');
    expect(r.pollsWhileWaiting).toBeGreaterThan(100); // it kept polling while the pool worked
  });
});

describe('CPU affinity', () => {
  const reason = nativeUnavailableReason();
  if (reason) console.log(`skipping CPU affinity test: ${reason}`);
  it.skipIf(reason !== undefined)(
    'pins each lcore thread to its CPU and restores the main thread',
    async () => {
      const native = loadNative()!;
      const before = native.getAffinity();
      const { unpinned } = await init({ lcores: [0, 1], pin: true }, { handleSignals: false });
      expect(unpinned).toEqual([]);
      expect(native.getAffinity()).toEqual([0]);
      remoteLaunch(1, APPS, 'affinity');
      expect(await waitLcore(1)).toEqual([1]);
      await cleanup();
      expect(native.getAffinity()).toEqual(before);
    },
  );
});
