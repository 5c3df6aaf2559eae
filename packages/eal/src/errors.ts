import { OptionError } from '@bypass/atomics-sync';

/** A command-line flag or typed option had a bad value; the message names both. */
export class EalArgError extends OptionError {
  override name = 'EalArgError';
}

/** The EAL was used in a way it does not allow (launch on a busy lcore, init twice, ...). */
export class EalError extends Error {
  override name = 'EalError';
}

/**
 * A module failed to load after a stop had been asked for (importModule). A Ctrl-C reaches the
 * whole process group, tsx's esbuild service included, so a TypeScript module still loading then
 * fails: that is the stop, not the module's error.
 */
export class StartupInterruptedError extends Error {
  override name = 'StartupInterruptedError';
}

/** An lcore's function threw (or its thread died). Carries the lcore id and the lcore's stack. */
export class LcoreError extends Error {
  override name = 'LcoreError';
  constructor(
    readonly lcoreId: number,
    message: string,
    readonly lcoreStack?: string,
    /** It threw StartupInterruptedError (see startupInterrupted). */
    readonly interruptedLoad = false,
  ) {
    super(`lcore ${lcoreId}: ${message}`);
    if (lcoreStack)
      this.stack = `${this.name}: lcore ${lcoreId}: ${message}\n  -- in lcore ${lcoreId}: ${lcoreStack}`;
  }
}
