// The demos' command lines: node:util parseArgs, with every mistake thrown as an OptionError
// naming the flag (parseArgs's own errors carry the flag only inside their message).
import { parseArgs } from 'node:util';
import { OptionError } from '@bypass/atomics-sync';

/** Flags that each take a value (`--name V` or `--name=V`). */
export type ValueFlags = Record<string, { type: 'string'; default?: string; multiple?: boolean }>;

/** What parseArgs returns for `options` when every token is valid. */
export type FlagValues<O extends ValueFlags> = ReturnType<
  typeof parseArgs<{ options: O; strict: true }>
>['values'];

/**
 * Parses `argv` against `options`. Throws OptionError for a flag `program` does not take, an
 * argument that is not a flag, or a flag without its value (as in parseArgs's strict mode, a
 * value that starts with '-' must be given as --name=V).
 */
export function parseFlags<O extends ValueFlags>(
  program: string,
  argv: string[],
  options: O,
): FlagValues<O> {
  const { values, tokens } = parseArgs({ args: argv, options, strict: false, tokens: true });
  const known = `one of ${Object.keys(options)
    .map((n) => `--${n}`)
    .join(', ')}`;
  for (const t of tokens) {
    if (t.kind === 'positional') throw new OptionError(`${program} argument`, t.value, known);
    if (t.kind !== 'option') continue;
    if (!Object.hasOwn(options, t.name))
      throw new OptionError(`${program} option`, t.rawName, known);
    if (t.value === undefined) throw new OptionError(t.rawName, 'nothing', 'followed by a value');
    if (!t.inlineValue && t.value.startsWith('-')) {
      throw new OptionError(
        t.rawName,
        t.value,
        `followed by a value (one that starts with - goes as ${t.rawName}=${t.value})`,
      );
    }
  }
  return values as FlagValues<O>;
}
