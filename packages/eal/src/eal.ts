import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { MessageChannel, type Worker } from 'node:worker_threads';
import { builtModule, resolveWorkerModule, startWorker } from '@bypass/atomics-sync';
import type * as hdr from 'hdr-histogram-js';
import * as hdrModule from 'hdr-histogram-js';
import {
  type EalConfig,
  type EalOptions,
  FLAG_NAMES,
  parseEalArgs,
  resolveOptions,
  USAGE,
} from './args.js';
import { context, hasContext, setContext } from './context.js';
import { EalError, LcoreError, StartupInterruptedError } from './errors.js';
import { importModule } from './import-module.js';
import { log, setLogLevel } from './log.js';
import { EalMemory, type LcoreStateName } from './memory.js';
import { loadNative, tryPin } from './native.js';
import type { FromLcore, ToLcore } from './protocol.js';
import { StopPolicy } from './signals.js';
import {
  defaultSlowPathThreads,
  reserveCompletionRings,
  SlowPathServer,
  setSlowPathPort,
} from './slowpath.js';
import {
  lcoreStats,
  mergeHistograms,
  reserveStatsZone,
  resetLcoreStats,
  StatsTable,
} from './stats.js';

/**
 * The main thread's side of the EAL (rte_eal_init and friends): it reserves the shared memory,
 * starts one worker thread per lcore other than the main one, launches functions on them, waits
 * for their results, and stops everything cleanly on stop(), SIGINT, SIGTERM or an lcore error.
 */

interface LcoreRecord {
  id: number;
  worker: Worker;
  pinned: boolean;
  pinReason?: string;
  /** Settles when the current launch finishes. */
  pending?: Promise<unknown>;
  settle?: { resolve: (v: unknown) => void; reject: (e: Error) => void };
  collects: Map<number, (encoded: string) => void>;
  exiting: boolean;
}

interface MainState {
  config: EalConfig;
  memory: EalMemory;
  lcores: Map<number, LcoreRecord>;
  stopPolicy?: StopPolicy;
  restoreAffinity?: number[];
  /** Errors of lcores that failed, first first. */
  failures: LcoreError[];
  nextCollect: number;
  slowPath: SlowPathServer;
  /** What the worker lcores run (InitExtras.lcoreCode). */
  lcoreCode: 'source' | 'built';
}

let state: MainState | undefined;
const cleanupHooks = new Set<() => void>();

/** Registers `fn` to run at cleanup() on the main thread (libraries above the EAL drop their
 * per-thread state there, so a later init() starts clean). */
export function onCleanup(fn: () => void): void {
  cleanupHooks.add(fn);
}

function main(): MainState {
  if (state === undefined)
    throw new EalError('the EAL is not initialised: call init() first (on the main thread)');
  return state;
}

export interface InitResult {
  config: EalConfig;
  /** Application arguments (after `--`). */
  rest: string[];
  /** Lcores that could not be pinned, with the reason. */
  unpinned: { lcore: number; reason: string }[];
  /** What the worker lcores run: the TypeScript sources (through tsx) or the built dist/. */
  lcoreCode: 'source' | 'built';
}

export interface InitExtras {
  /** Stop every lcore on SIGINT/SIGTERM, with signals.ts's policy for relayed duplicates and
   * a later forced exit (default true). */
  handleSignals?: boolean;
  /** Also stop when a launcher of this process (pnpm, npx, tsx: the ancestors in its process
   * group) exits (default: as handleSignals). */
  watchLauncher?: boolean;
  /** Threads of the slow-path piscina pool (default: the CPUs left over by the lcores, >= 1). */
  slowPathThreads?: number;
  /**
   * What the worker lcores run (default 'source': the modules as given, TypeScript through tsx
   * when no .js exists). 'built': every @bypass package's dist/ and, for modules launched on the
   * lcores, their dist/ counterpart, on plain Node without tsx (startWorker's `built`). Choose
   * it when staleBuilds() is empty and the launched modules are JavaScript or built: tsx in an
   * lcore that runs an event-loop program costs that program up to a fifth of its speed.
   */
  lcoreCode?: 'source' | 'built';
}

/**
 * Initialises the EAL (rte_eal_init) from DPDK-style arguments or typed options: reserves the
 * shared memory, starts and pins the lcore threads and waits until each is ready. With --help,
 * prints the options and exits the process, as DPDK does.
 */
export async function init(
  args: readonly string[] | EalOptions = [],
  extras: InitExtras = {},
): Promise<InitResult> {
  if (state !== undefined)
    throw new EalError('init() was already called; call cleanup() before initialising again');
  let config: EalConfig;
  let rest: string[] = [];
  if (Array.isArray(args)) {
    const parsed = parseEalArgs(args as readonly string[]);
    if (parsed.help) {
      console.log(USAGE);
      process.exit(0);
    }
    config = resolveOptions(parsed.options, FLAG_NAMES);
    rest = parsed.rest;
  } else {
    config = resolveOptions(args as EalOptions);
  }
  setLogLevel(config.logLevel);
  const memory = EalMemory.create(config.memoryMb * 1024 * 1024);
  reserveStatsZone(memory);
  reserveCompletionRings(memory, config.lcores);
  setContext({ config, memory, lcoreId: config.mainLcore, isMain: true });
  const slowPath = new SlowPathServer(
    memory,
    extras.slowPathThreads ?? defaultSlowPathThreads(config.lcores.length),
  );
  const s: MainState = {
    config,
    memory,
    lcores: new Map(),
    failures: [],
    nextCollect: 1,
    slowPath,
    lcoreCode: extras.lcoreCode ?? 'source',
  };
  state = s;
  const mainChannel = new MessageChannel();
  slowPath.serve(config.mainLcore, mainChannel.port2);
  setSlowPathPort(mainChannel.port1);

  const cpus = availableParallelism();
  if (config.lcores.length > cpus) {
    log(
      config.poll === 'busy' ? 4 : 5,
      'EAL',
      `${config.lcores.length} lcores on ${cpus} CPUs: ${config.poll === 'busy' ? 'busy-polling lcores will share CPUs and measurements will show the scheduler, not the code' : 'adaptive lcores will share CPUs'}`,
    );
  }

  const unpinned: { lcore: number; reason: string }[] = [];
  if (config.pin) {
    const native = loadNative();
    const before = native?.getAffinity();
    const p = tryPin(config.cpuOf[config.mainLcore]);
    if (p.pinned) s.restoreAffinity = before;
    else unpinned.push({ lcore: config.mainLcore, reason: p.reason ?? 'unknown' });
  }

  // Each lcore isolate starts with config.heapMb of old generation (see EalConfig.heapMb). V8
  // reads the flag when an isolate is created, so it is set around the lcores' start only and
  // put back before anything else (piscina's slow-path threads, the program's own workers) starts.
  const ready: Promise<void>[] = [];
  try {
    if (config.heapMb > 0) setFlagsFromString(`--initial-old-space-size=${config.heapMb}`);
    const workerUrl = new URL('./lcore-worker.js', import.meta.url);
    for (const id of config.lcores) {
      if (id === config.mainLcore) continue;
      const channel = new MessageChannel();
      slowPath.serve(id, channel.port2);
      const worker = startWorker(
        workerUrl,
        {
          workerData: {
            sab: memory.wasm === null ? memory.sab : null,
            wasm: memory.wasm,
            config,
            lcoreId: id,
            slowPathPort: channel.port1,
          },
          transferList: [channel.port1],
        },
        { built: s.lcoreCode === 'built' },
      );
      const rec: LcoreRecord = { id, worker, pinned: false, collects: new Map(), exiting: false };
      s.lcores.set(id, rec);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onEarly = (e: Error) =>
            reject(new LcoreError(id, `failed to start: ${e.message}`, e.stack));
          worker.once('error', onEarly);
          worker.once('message', (m: FromLcore) => {
            worker.off('error', onEarly);
            if (m.type === 'ready') {
              rec.pinned = m.pinned;
              if (!m.pinned) unpinned.push({ lcore: id, reason: m.reason ?? 'unknown' });
            }
            watch(s, rec);
            resolve();
          });
        }),
      );
    }
    await Promise.all(ready);
  } catch (e) {
    await cleanup();
    throw e;
  } finally {
    if (config.heapMb > 0)
      setFlagsFromString(`--initial-old-space-size=${startupInitialOldSpaceMb()}`);
  }
  if (config.pin && unpinned.length > 0) {
    log(
      5,
      'EAL',
      `not pinned: ${unpinned.map((u) => `lcore ${u.lcore} (${u.reason})`).join(', ')}`,
    );
  }
  if (extras.handleSignals ?? true) {
    s.stopPolicy = new StopPolicy({
      onStop: () => s.memory.requestQuit(),
      log: (level, message) => log(level, 'EAL', message),
      launcherPollMs: (extras.watchLauncher ?? true) ? undefined : 0,
    }).install();
  }
  log(
    7,
    'EAL',
    `lcores ${config.lcores.join(',')} ready, main lcore ${config.mainLcore}, ${config.memoryMb} MiB`,
  );
  return { config, rest, unpinned, lcoreCode: s.lcoreCode };
}

/** The --initial-old-space-size this process was started with (node flags or NODE_OPTIONS), or 0. */
export function startupInitialOldSpaceMb(
  argv: readonly string[] = [
    ...process.execArgv,
    ...(process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean),
  ],
): number {
  let mb = 0;
  for (let i = 0; i < argv.length; i++) {
    const m = /^--initial[-_]old[-_]space[-_]size(?:=(\d+))?$/.exec(argv[i]);
    if (m === null) continue;
    const v = m[1] ?? argv[i + 1];
    if (v !== undefined && /^\d+$/.test(v)) mb = Number(v);
  }
  return mb;
}

function fail(s: MainState, rec: LcoreRecord, err: LcoreError): void {
  if (!s.failures.includes(err)) s.failures.push(err);
  if (err.interruptedLoad) log(5, 'EAL', err.message);
  else log(3, 'EAL', `${err.message}; stopping all lcores`);
  s.memory.requestQuit();
  const settle = rec.settle;
  rec.settle = undefined;
  settle?.reject(err);
}

/** Routes a started lcore's messages and failures. */
function watch(s: MainState, rec: LcoreRecord): void {
  const { worker, id } = rec;
  worker.on('message', (m: FromLcore) => {
    if (m.type === 'done') {
      const settle = rec.settle;
      rec.settle = undefined;
      settle?.resolve(m.value);
    } else if (m.type === 'error') {
      fail(
        s,
        rec,
        new LcoreError(
          id,
          `${m.error.name}: ${m.error.message}`,
          m.error.stack,
          m.error.name === 'StartupInterruptedError',
        ),
      );
    } else if (m.type === 'histogram') {
      rec.collects.get(m.id)?.(m.encoded);
      rec.collects.delete(m.id);
    }
  });
  worker.on('error', (e) =>
    fail(s, rec, new LcoreError(id, `thread crashed: ${e.message}`, e.stack)),
  );
  worker.on('exit', (code) => {
    if (!rec.exiting)
      fail(s, rec, new LcoreError(id, `thread exited unexpectedly with code ${code}`));
    for (const done of rec.collects.values()) done('');
    rec.collects.clear();
  });
}

function lcoreRecord(id: number, what: string): LcoreRecord {
  const s = main();
  if (id === s.config.mainLcore) {
    throw new EalError(
      `${what}: lcore ${id} is the main lcore; run the function directly (or mpRemoteLaunch with 'call-main')`,
    );
  }
  const rec = s.lcores.get(id);
  if (rec === undefined)
    throw new EalError(
      `${what}: lcore ${id} is not enabled (lcores: ${s.config.lcores.join(',')})`,
    );
  return rec;
}

/** Names a module for a worker: a URL, a file URL string or a path; .js resolves to .ts in dev. */
/** The module an lcore imports: as resolveWorkerModule finds it, or its build for built lcores. */
function moduleHref(module: URL | string, built = false): string {
  const url =
    module instanceof URL
      ? module
      : module.startsWith('file:')
        ? new URL(module)
        : pathToFileURL(module);
  if (!built) return resolveWorkerModule(url).url.href;
  const js = builtModule(url);
  if (js === undefined) {
    throw new EalError(
      `${url.href} has no built JavaScript for the lcores, which run built code (lcoreCode 'built'): run \`pnpm build\`, or init the EAL with lcoreCode 'source'`,
    );
  }
  return js.href;
}

/**
 * Runs `exportName` of `module` on lcore `id` with `arg` (rte_eal_remote_launch). The lcore must
 * be waiting: launching on a busy (running or finished, not yet waited) lcore throws EalError.
 * Collect the result with waitLcore(id).
 */
export function remoteLaunch(
  id: number,
  module: URL | string,
  exportName: string,
  arg?: unknown,
): void {
  const s = main();
  const rec = lcoreRecord(id, 'remoteLaunch');
  const href = moduleHref(module, s.lcoreCode === 'built');
  if (!s.memory.claimLcore(id)) {
    throw new EalError(
      `remoteLaunch: lcore ${id} is busy (${s.memory.lcoreState(id)}); waitLcore(${id}) first`,
    );
  }
  rec.pending = new Promise((resolve, reject) => {
    rec.settle = { resolve, reject };
  });
  rec.pending.catch(() => {}); // observed through waitLcore
  const msg: ToLcore = { type: 'launch', module: href, exportName, arg };
  rec.worker.postMessage(msg);
}

/**
 * Launches on every lcore but the main one (rte_eal_mp_remote_launch). With 'call-main' it also
 * runs the function on the main thread and resolves with that call's value once it returns.
 */
export async function mpRemoteLaunch(
  module: URL | string,
  exportName: string,
  arg?: unknown,
  callMain: 'skip-main' | 'call-main' = 'skip-main',
): Promise<unknown> {
  const s = main();
  for (const id of s.lcores.keys()) {
    if (s.memory.lcoreState(id) !== 'wait') {
      throw new EalError(
        `mpRemoteLaunch: lcore ${id} is busy (${s.memory.lcoreState(id)}); mpWaitLcore() first`,
      );
    }
  }
  for (const id of s.lcores.keys()) remoteLaunch(id, module, exportName, arg);
  if (callMain === 'skip-main') return undefined;
  const mod = await importModule(moduleHref(module));
  const fn = mod[exportName];
  if (typeof fn !== 'function')
    throw new EalError(`${String(module)} exports no function named ${exportName}`);
  return await (fn as (a: unknown) => unknown)(arg);
}

/**
 * Waits for lcore `id` to finish (rte_eal_wait_lcore) and returns its function's value, leaving
 * the lcore waiting for the next launch. Returns undefined for an lcore that is already waiting.
 * Throws LcoreError (with the lcore id and its stack) if the function threw.
 */
export async function waitLcore(id: number): Promise<unknown> {
  const s = main();
  const rec = lcoreRecord(id, 'waitLcore');
  const pending = rec.pending;
  if (pending === undefined) return undefined;
  try {
    return await pending;
  } finally {
    rec.pending = undefined;
    if (!rec.exiting) s.memory.setLcoreState(id, 0);
  }
}

/** Waits for every lcore (rte_eal_mp_wait_lcore); returns their values by lcore id. Throws the
 * first LcoreError if any failed, after all have stopped. */
export async function mpWaitLcore(): Promise<Record<number, unknown>> {
  const s = main();
  const ids = [...s.lcores.keys()];
  const settled = await Promise.allSettled(ids.map((id) => waitLcore(id)));
  const out: Record<number, unknown> = {};
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') out[ids[i]] = r.value;
  });
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed)
    throw (
      s.failures.find((f) => !f.interruptedLoad) ??
      s.failures[0] ??
      (failed as PromiseRejectedResult).reason
    );
  return out;
}

/** The state of lcore `id`: 'wait', 'running' or 'finished' (rte_eal_get_lcore_state). */
export function lcoreState(id: number): LcoreStateName {
  return context().memory.lcoreState(id);
}

/**
 * Whether `e` only says that a stop request (SIGINT, SIGTERM, the launcher's exit) came while
 * the lcores were still loading their modules (mpWaitLcore throws any other failure first).
 * Applications then exit 0 with a line that says so, as for any requested stop.
 */
export function startupInterrupted(e: unknown): boolean {
  return (e instanceof LcoreError && e.interruptedLoad) || e instanceof StartupInterruptedError;
}

/** Asks every lcore loop to end (sets the shared quit flag and rings every doorbell). */
export function stop(): void {
  context().memory.requestQuit();
}

/** Whether stop() (or a signal, or an lcore error) has asked the lcores to end. */
export function quitRequested(): boolean {
  return context().memory.quitRequested();
}

/**
 * Stops everything and releases it (rte_eal_cleanup): sets the quit flag, ends the lcore
 * threads, restores the main thread's CPU affinity and removes the signal handlers. init() may
 * be called again afterwards.
 */
export async function cleanup(): Promise<void> {
  const s = state;
  if (s === undefined) return;
  s.memory.requestQuit();
  await Promise.all(
    [...s.lcores.values()].map(async (rec) => {
      rec.exiting = true;
      rec.settle?.reject(
        new LcoreError(rec.id, 'the EAL was cleaned up before this lcore finished'),
      );
      await rec.worker.terminate();
    }),
  );
  s.stopPolicy?.uninstall();
  if (s.restoreAffinity) loadNative()?.setAffinity(s.restoreAffinity);
  await s.slowPath.close();
  setSlowPathPort(undefined);
  for (const fn of cleanupHooks) fn();
  state = undefined;
  setContext(undefined);
  resetLcoreStats();
}

/** Every lcore's counters, read from shared memory, and their sum. */
export function collectStats(): {
  lcores: Record<number, Record<string, number>>;
  total: Record<string, number>;
} {
  const s = main();
  const table = new StatsTable(s.memory);
  const lcores: Record<number, Record<string, number>> = {};
  const total: Record<string, number> = {};
  for (const id of s.config.lcores) {
    const snap = table.snapshot(id);
    lcores[id] = snap;
    for (const [k, v] of Object.entries(snap)) total[k] = (total[k] ?? 0) + v;
  }
  return { lcores, total };
}

/**
 * Every lcore's latency histogram, merged (each lcore answers between loop slices; one that has
 * not answered within `timeoutMs` is left out and named in `missing`).
 */
export async function collectLatency(
  timeoutMs = 2000,
): Promise<{ merged: hdr.Histogram; perLcore: Record<number, string>; missing: number[] }> {
  const s = main();
  const perLcore: Record<number, string> = {};
  const missing: number[] = [];
  perLcore[s.config.mainLcore] = hdrModule.encodeIntoCompressedBase64(lcoreStats().latency);
  await Promise.all(
    [...s.lcores.values()].map(
      (rec) =>
        new Promise<void>((resolve) => {
          const id = s.nextCollect++;
          const timer = setTimeout(() => {
            rec.collects.delete(id);
            missing.push(rec.id);
            resolve();
          }, timeoutMs);
          rec.collects.set(id, (encoded) => {
            clearTimeout(timer);
            if (encoded) perLcore[rec.id] = encoded;
            else missing.push(rec.id);
            resolve();
          });
          const msg: ToLcore = { type: 'collect', id };
          rec.worker.postMessage(msg);
        }),
    ),
  );
  return { merged: mergeHistograms(Object.values(perLcore)), perLcore, missing };
}

/** Prints the statistics block: per-lcore loop counters, then the merged latency percentiles. */
export async function printStats(write: (line: string) => void = console.log): Promise<void> {
  const { lcores, total } = collectStats();
  write('EAL statistics');
  write(`  lcore       polls   idle%        work   parks  slices`);
  const row = (label: string, c: Record<string, number>) => {
    const polls = c.loop_polls ?? 0;
    const idle = polls > 0 ? ((100 * (c.loop_idle_polls ?? 0)) / polls).toFixed(1) : '-';
    write(
      `  ${label.padEnd(6)}${String(polls).padStart(10)}${idle.padStart(8)}${String(c.loop_work ?? 0).padStart(12)}${String(c.loop_parks ?? 0).padStart(8)}${String(c.loop_slices ?? 0).padStart(8)}`,
    );
  };
  for (const [id, c] of Object.entries(lcores)) row(id, c);
  row('total', total);
  const { merged } = await collectLatency();
  if (merged.totalCount > 0) {
    const p = (q: number) => merged.getValueAtPercentile(q);
    write(
      `  latency ns: p50 ${p(50)}  p90 ${p(90)}  p99 ${p(99)}  p99.9 ${p(99.9)}  max ${merged.maxValue}  count ${merged.totalCount}`,
    );
  }
}

/** True on the main thread after init(). */
export function isInitialised(): boolean {
  return state !== undefined && hasContext();
}

/** What an application logs when startupInterrupted() is true. */
export const STARTUP_INTERRUPTED =
  'stopped during startup, before every lcore had loaded its module: nothing to summarise';

/**
 * The body of an EAL application's main module: init from `argv` (EAL arguments, then `--`,
 * then the application's), run `app` with the application's arguments, clean up, and exit 0.
 * A typed error (a bad option, an lcore that failed) is printed as `Name: message` and exits 1;
 * a stop requested during startup (startupInterrupted) exits 0 and says so.
 */

export async function runApp(
  argv: readonly string[],
  app: (rest: string[]) => Promise<void>,
): Promise<never> {
  const args = argv[0] === '--' ? argv.slice(1) : argv; // pnpm passes its own `--` through
  let code = 0;
  try {
    const { rest } = await init(args);
    await app(rest);
  } catch (e) {
    const err = e as Error;
    if (startupInterrupted(err)) log(5, 'EAL', STARTUP_INTERRUPTED);
    else {
      console.error(
        err instanceof LcoreError ? (err.stack ?? err.message) : `${err.name}: ${err.message}`,
      );
      code = 1;
    }
  }
  await cleanup();
  process.exit(code);
}
