/**
 * Errors a caller can cause. Each message says what was wrong and what to do instead.
 */

/** The SharedArrayBuffer region handed to a primitive cannot hold it. */
export class RegionError extends Error {
  override name = 'RegionError';
}

/** A primitive was used in a way its contract forbids (unlock by a non-owner, count below 0). */
export class SyncMisuseError extends Error {
  override name = 'SyncMisuseError';
}

/**
 * An option or argument had a value that cannot be used. The message names the option, the
 * bad value and what is expected. Shared by every bypass package for the same purpose.
 */
export class OptionError extends Error {
  override name = 'OptionError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`${option} must be ${expected}, got ${String(value)}`);
  }
}
