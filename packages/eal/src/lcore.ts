import type { Doorbell } from '@bypass/atomics-sync';
import type { EalConfig } from './args.js';
import { context } from './context.js';
import type { WasmMemory } from './memory.js';

/** The EAL's configuration as this thread sees it (lcores, vdevs, poll mode, ...). */
export function ealConfig(): EalConfig {
  return context().config;
}

/**
 * The EAL memory as a shared WebAssembly.Memory (its buffer is every memzone's and pool's
 * SharedArrayBuffer), or null where the EAL had to use a plain SharedArrayBuffer. WebAssembly
 * code instantiated over it works on pool memory in place (the stack's SIMD checksum).
 */
export function ealWasmMemory(): WasmMemory | null {
  return context().memory.wasm;
}

/** This thread's lcore id (rte_lcore_id). */
export function lcoreId(): number {
  return context().lcoreId;
}

/** The main lcore's id (rte_get_main_lcore). */
export function mainLcore(): number {
  return context().config.mainLcore;
}

export function isMainLcore(): boolean {
  return context().isMain;
}

/** Every enabled lcore id, ascending. */
export function lcoreList(): readonly number[] {
  return context().config.lcores;
}

export function lcoreCount(): number {
  return context().config.lcores.length;
}

/** The CPU lcore `id` runs on (when pinned). */
export function lcoreCpu(id: number = lcoreId()): number {
  return context().config.cpuOf[id];
}

/** Lcore `id`'s doorbell: a producer rings it after enqueueing work for an adaptive lcore. */
export function doorbell(id: number): Doorbell {
  return context().memory.doorbell(id);
}

/**
 * A per-lcore variable (RTE_DEFINE_PER_LCORE): each lcore thread gets its own value, made by
 * `init` on first use in that thread. (Module state is already per thread, since each lcore is
 * a worker with its own module instances; this names the intent and defers the allocation.)
 */
export function perLcore<T>(init: (lcoreId: number) => T): { get(): T; set(v: T): void } {
  let made = false;
  let value: T;
  return {
    get(): T {
      if (!made) {
        value = init(lcoreId());
        made = true;
      }
      return value;
    },
    set(v: T): void {
      value = v;
      made = true;
    },
  };
}
