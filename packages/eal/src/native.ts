import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { OptionError } from '@bypass/atomics-sync';

/**
 * The native addon (packages/eal/native, DESIGN.md "Drivers that touch the real world"): a small
 * C module on Node-API, built by `pnpm install` where a C toolchain exists. Everything in it
 * acts on the calling OS thread, so in a worker it affects only that worker. Where it is not
 * built, `loadNative()` returns null and `nativeUnavailableReason()` says why; callers degrade
 * (no CPU pinning, no tap ports) rather than fail.
 */
export interface NativeAddon {
  /** Pins the calling thread to exactly these CPUs (sched_setaffinity(0)). Throws a system
   * error (code EINVAL, EPERM, ...) if the kernel refuses, RangeError for a bad cpu number. */
  setAffinity(cpus: readonly number[]): void;
  /** The CPUs the calling thread may run on, ascending. */
  getAffinity(): number[];
  /** The calling thread's kernel thread id. */
  gettid(): number;
  /** CPUs online now. */
  cpuCount(): number;
}

// Relative to this module, so it resolves the same from src/ (tests, tsx) and dist/ (built).
const addonUrl = new URL('../native/build/Release/bypass_native.node', import.meta.url);

let cached: { addon: NativeAddon | null; reason?: string } | undefined;

function load(): { addon: NativeAddon | null; reason?: string } {
  const unavailable = (reason: string) => ({
    addon: null,
    reason: `native addon unavailable: ${reason}; CPU pinning and tap ports are disabled`,
  });
  if (process.env.BYPASS_NATIVE === '0') return unavailable('BYPASS_NATIVE=0 is set');
  if (process.platform !== 'linux')
    return unavailable(`it needs Linux, this is ${process.platform}`);
  const path = fileURLToPath(addonUrl);
  if (!existsSync(path)) {
    return unavailable(
      `${path} is not built (pnpm install builds it; needs a C compiler, make, python3 and ` +
        'the Node headers; run `node native/build.mjs` in packages/eal to see why)',
    );
  }
  try {
    return { addon: createRequire(import.meta.url)(path) as NativeAddon };
  } catch (err) {
    return unavailable(`${path} does not load: ${(err as Error).message}`);
  }
}

/**
 * The addon, or null where it is not built or cannot load (see `nativeUnavailableReason`).
 * Loaded once per thread (each worker has its own module instance) and cached. Set
 * BYPASS_NATIVE=0 to run as if it were absent.
 */
export function loadNative(): NativeAddon | null {
  cached ??= load();
  return cached.addon;
}

/** Why `loadNative()` returns null, or undefined when the addon is loaded. */
export function nativeUnavailableReason(): string | undefined {
  loadNative();
  return cached?.reason;
}

/**
 * Pins the calling thread (the main thread, or the worker that calls it) to one CPU. Throws
 * OptionError for a cpu that is not an integer from 0 to the online CPU count - 1. Never throws
 * for platform reasons: without the addon, or if the kernel refuses (a CPU outside this
 * container's cpuset, say), it returns `{ pinned: false, reason }` and the thread runs unpinned.
 */
export function pinCurrentThread(cpu: number): { pinned: boolean; reason?: string } {
  const addon = loadNative();
  const online = addon ? addon.cpuCount() : Math.max(1, cpus().length);
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= online) {
    throw new OptionError('cpu', cpu, `an integer from 0 to ${online - 1} (${online} CPUs online)`);
  }
  if (!addon) return { pinned: false, reason: nativeUnavailableReason() };
  try {
    addon.setAffinity([cpu]);
    return { pinned: true };
  } catch (err) {
    return { pinned: false, reason: `cannot pin to CPU ${cpu}: ${(err as Error).message}` };
  }
}

/**
 * As pinCurrentThread, for the EAL: a CPU that does not exist here (an lcore id past the CPU
 * count, say) is a reason not to pin, reported like any other, not an exception.
 */
export function tryPin(cpu: number): { pinned: boolean; reason?: string } {
  try {
    return pinCurrentThread(cpu);
  } catch (err) {
    return { pinned: false, reason: `cannot pin to CPU ${cpu}: ${(err as Error).message}` };
  }
}
