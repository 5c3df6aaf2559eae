import { OptionError } from '@bypass/atomics-sync';

/** Checking vdev arguments (`net_x0,key=value,...`): errors name the device, the key and the value. */

/** Throws unless every key of `args` is one of `allowed`. */
export function checkArgNames(
  dev: string,
  args: Record<string, string>,
  allowed: readonly string[],
): void {
  for (const k of Object.keys(args)) {
    if (!allowed.includes(k))
      throw new OptionError(`${dev} argument`, k, `one of ${allowed.join(', ')}`);
  }
}

/** An integer argument in [min, max], or `dflt` when absent. */
export function intArg(
  dev: string,
  key: string,
  v: string | undefined,
  dflt: number,
  min: number,
  max: number,
): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    throw new OptionError(`${dev} ${key}`, v, `an integer in [${min}, ${max}]`);
  return n;
}

/** A 0/1 argument. */
export function flagArg(dev: string, key: string, v: string | undefined): boolean {
  if (v !== undefined && v !== '0' && v !== '1')
    throw new OptionError(`${dev} ${key}`, v, '0 or 1');
  return v === '1';
}
