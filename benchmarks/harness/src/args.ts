/** Options every benchmark accepts on its command line. */
export interface BenchArgs {
  /** A run of a few seconds with the same output shape (CI smoke tests). */
  quick: boolean;
  /** Measured runs per series (>= 5 unless quick). */
  runs: number | undefined;
}

export class BenchArgError extends Error {
  override name = 'BenchArgError';
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { quick: false, runs: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') continue;
    if (a === '--quick') args.quick = true;
    else if (a === '--runs' || a.startsWith('--runs=')) {
      const v = a === '--runs' ? argv[++i] : a.slice(7);
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) {
        throw new BenchArgError(`--runs must be a positive integer, got ${String(v)}`);
      }
      args.runs = n;
    } else {
      throw new BenchArgError(`unknown option ${a}; benchmarks accept --quick and --runs N`);
    }
  }
  return args;
}
