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

/** An option had a value the primitive cannot use. */
export class SyncOptionError extends Error {
  override name = 'SyncOptionError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`${option} must be ${expected}, got ${String(value)}`);
  }
}
