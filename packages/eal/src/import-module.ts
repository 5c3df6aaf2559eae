import { context } from './context.js';
import { StartupInterruptedError } from './errors.js';

/**
 * import(href) for a module an lcore (or the main thread) runs: when the load fails after a stop
 * was asked for (SIGINT, SIGTERM, the launcher's exit), throws StartupInterruptedError with the
 * load's error as its cause, which applications take as the stop (startupInterrupted).
 */
export async function importModule(href: string): Promise<Record<string, unknown>> {
  try {
    return (await import(href)) as Record<string, unknown>;
  } catch (e) {
    if (!context().memory.quitRequested()) throw e;
    throw new StartupInterruptedError(
      `stopped while ${href} was loading (${(e as Error).name}: ${(e as Error).message})`,
      { cause: e },
    );
  }
}
