// `pnpm fuzz [--minutes N] [--seed S]`: throws mutated and made-up frames at two live stacks
// (packages/tcp/test/fuzz-harness.ts) for N minutes (default 1), in rounds of fast-check cases
// from new seeds. A failing case is shrunk by fast-check and saved to
// packages/tcp/test/fuzz-corpus/, where `pnpm test` replays it from then on. Exits 1 when a
// case failed. Single-threaded and CPU-bound: run it on an otherwise idle machine.
import { mkdirSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { OptionError } from '../packages/atomics-sync/src/errors.js';
import { fuzzCaseArb, runFuzzCase } from '../packages/tcp/test/fuzz-harness.js';

const USAGE = 'usage: pnpm fuzz [--minutes N] [--seed S]';
const CORPUS = new URL('../packages/tcp/test/fuzz-corpus/', import.meta.url);

export interface FuzzArgs {
  minutes: number;
  seed: number;
}

export function parseFuzzArgs(argv: readonly string[]): FuzzArgs {
  const o: FuzzArgs = { minutes: 1, seed: Date.now() % 0x7fffffff };
  const args = argv.filter((a) => a !== '--');
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === '--minutes') {
      const n = Number(v);
      if (v === undefined || !Number.isFinite(n) || n <= 0 || n > 24 * 60)
        throw new OptionError('--minutes', v ?? 'nothing', 'a number of minutes in (0, 1440]');
      o.minutes = n;
      i++;
    } else if (a === '--seed') {
      if (v === undefined || !/^\d+$/.test(v))
        throw new OptionError('--seed', v ?? 'nothing', 'a whole number');
      o.seed = Number(v) % 0x7fffffff;
      i++;
    } else throw new OptionError('fuzz option', a, `one of --minutes, --seed (${USAGE})`);
  }
  return o;
}

function main(): number {
  const o = parseFuzzArgs(process.argv.slice(2));
  const until = Date.now() + o.minutes * 60_000;
  let cases = 0;
  let injected = 0;
  let survived = 0;
  let failed = 0;
  let seed = o.seed;
  console.log(`fuzz: ${o.minutes} min from seed ${o.seed}; failures go to ${CORPUS.pathname}`);
  while (Date.now() < until) {
    const r = fc.check(
      fc.property(fuzzCaseArb, (c) => {
        const out = runFuzzCase(c);
        cases++;
        injected += out.injected;
        if (out.connectionSurvived) survived++;
      }),
      { numRuns: 200, seed },
    );
    if (r.failed && r.counterexample !== null) {
      failed++;
      const [c] = r.counterexample;
      mkdirSync(CORPUS, { recursive: true });
      const file = new URL(`seed-${seed}.json`, CORPUS);
      writeFileSync(file, `${JSON.stringify(c, null, 2)}\n`);
      console.log(`fuzz: seed ${seed} failed after ${r.numRuns} cases: ${String(r.errorInstance)}`);
      console.log(`fuzz: shrunk case saved to ${file.pathname}`);
    }
    seed = (seed + 1) % 0x7fffffff;
  }
  console.log(
    `fuzz: ${cases} cases, ${injected} frames injected, ${survived} connections lived through theirs, ${failed} failing seed(s)`,
  );
  return failed > 0 ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.exitCode = main();
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    console.error(`fuzz: ${e.message}\n${USAGE}`);
    process.exitCode = 2;
  }
}
