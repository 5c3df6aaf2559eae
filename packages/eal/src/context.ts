import type { EalConfig } from './args.js';
import { EalError } from './errors.js';
import type { EalMemory } from './memory.js';

/**
 * What this thread knows about the EAL: set by init() on the main thread and by the lcore
 * runtime in each lcore's worker. Each thread has its own copy of this module, so this is a
 * per-lcore value by construction.
 */
export interface EalContext {
  readonly config: EalConfig;
  readonly memory: EalMemory;
  readonly lcoreId: number;
  readonly isMain: boolean;
}

let current: EalContext | undefined;

export function setContext(ctx: EalContext | undefined): void {
  current = ctx;
}

export function context(): EalContext {
  if (current === undefined) {
    throw new EalError(
      'the EAL is not initialised in this thread: call init() on the main thread first',
    );
  }
  return current;
}

export function hasContext(): boolean {
  return current !== undefined;
}
