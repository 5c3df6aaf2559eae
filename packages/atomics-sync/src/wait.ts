import { checkTimeout } from './region.js';

/** The result of one park: woken by a notify, value already changed, or deadline passed. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/** Milliseconds since an arbitrary origin, monotonic. */
export const now: () => number = performance.now.bind(performance);

/** Absolute deadline for a relative timeout (Infinity stays Infinity). */
export function deadlineOf(timeoutMs: number): number {
  checkTimeout(timeoutMs);
  return timeoutMs === Number.POSITIVE_INFINITY ? timeoutMs : now() + timeoutMs;
}

/** Milliseconds left until `deadline`, never negative. */
export function remaining(deadline: number): number {
  if (deadline === Number.POSITIVE_INFINITY) return deadline;
  const left = deadline - now();
  return Math.max(left, 0);
}

function noop(): void {}

/**
 * Atomics.waitAsync, plus what Node 20 needs around it: a pending waitAsync does not keep the
 * event loop alive, so a program whose only pending work is this wait would exit. We hold a
 * timer handle until the wait settles.
 */
export async function parkAsync(
  words: Int32Array,
  index: number,
  expected: number,
  timeoutMs: number,
): Promise<WaitResult> {
  const r = Atomics.waitAsync(words, index, expected, timeoutMs);
  if (!r.async) return r.value;
  const keepAlive = setInterval(noop, 0x7fffffff);
  try {
    return await r.value;
  } finally {
    clearInterval(keepAlive);
  }
}
