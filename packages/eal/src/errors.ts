import { OptionError } from '@bypass/atomics-sync';

/** A command-line flag or typed option had a bad value; the message names both. */
export class EalArgError extends OptionError {
  override name = 'EalArgError';
}

/** The EAL was used in a way it does not allow (launch on a busy lcore, init twice, ...). */
export class EalError extends Error {
  override name = 'EalError';
}

/** An lcore's function threw (or its thread died). Carries the lcore id and the lcore's stack. */
export class LcoreError extends Error {
  override name = 'LcoreError';
  constructor(
    readonly lcoreId: number,
    message: string,
    readonly lcoreStack?: string,
    /** The lcore's module failed to load after a stop was asked for (see startupInterrupted). */
    readonly interruptedLoad = false,
  ) {
    super(`lcore ${lcoreId}: ${message}`);
    if (lcoreStack)
      this.stack = `${this.name}: lcore ${lcoreId}: ${message}\n  -- in lcore ${lcoreId}: ${lcoreStack}`;
  }
}
