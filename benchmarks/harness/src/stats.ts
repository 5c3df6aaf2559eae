/** Median of a non-empty list (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface Summary {
  value: number;
  min: number;
  max: number;
  runs: number[];
}

export function summarise(values: readonly number[]): Summary {
  return {
    value: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    runs: [...values],
  };
}

/** Rounds for reporting: 3 significant digits, kept as a number. */
export function round3(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))));
  return Number(x.toFixed(Math.min(digits, 6)));
}
