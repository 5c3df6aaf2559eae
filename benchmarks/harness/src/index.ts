/**
 * The benchmark contract (shared/BENCHMARKS.md): warm up, repeat the measurement with the
 * subject and its baseline interleaved (A B A B ...), report median/min/max, print a table,
 * and end stdout with one JSON line that is also written to benchmarks/results/<bench>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchArgs, parseBenchArgs } from './args.js';
import { type MachineInfo, machineInfo, pad, RESULTS_DIR } from './report.js';
import { round3, type Summary, summarise } from './stats.js';

export { BenchArgError, type BenchArgs, parseBenchArgs } from './args.js';
export {
  type LatencySummary,
  latencySummary,
  latencyTable,
  type MachineInfo,
  machineInfo,
  type PercentileSource,
  pad,
  RESULTS_DIR,
  type SkippedSpec,
  tableRow,
  writeResult,
  writeSkipped,
} from './report.js';
export { median, round3, type Summary, summarise } from './stats.js';

/** One series: something measured once per run, returning the metric's value for that run. */
export interface Series {
  /** Short name, as it appears in the table and the JSON. */
  name: string;
  /** What it does, in words (BENCHMARKS.md: say what each side does). */
  describe: string;
  /** One measurement. `quick` asks for a short one. */
  run(quick: boolean): Promise<number> | number;
}

export interface BenchSpec {
  bench: string;
  metric: string;
  /** The headline series, and what it is compared with. */
  subject: Series;
  baseline: Series;
  /** Further series measured in the same interleaved runs and reported under `cases`. */
  others?: Series[];
  params: Record<string, unknown>;
  /** Measured runs per series: default 7 (3 in quick mode). */
  runs?: number;
  /** Unmeasured runs per series first: default 1. */
  warmup?: number;
  /** false when smaller is better (latency): the ratio is then baseline / subject. */
  higherIsBetter?: boolean;
  /** Why this benchmark's --quick figures cannot stand for a full run's (they then are a smoke
   * test only: the table and the JSON's `quickIsSmokeTest` say so). Leave it out where a quick
   * median lands within 25% of the full run's. */
  quickIsSmokeTest?: string;
  /** Called once after the last run (stop workers, close ports). */
  teardown?: () => Promise<void> | void;
}

export interface CaseResult {
  name: string;
  describe: string;
  value: number;
  min: number;
  max: number;
  runs: number[];
  /** This series against the baseline, oriented so that higher is better for us. */
  ratio: number;
}

export interface BenchResult {
  bench: string;
  metric: string;
  value: number;
  min: number;
  max: number;
  baseline: { name: string; value: number; min: number; max: number; describe: string };
  ratio: number;
  params: Record<string, unknown>;
  machine: MachineInfo;
  cases: CaseResult[];
  date: string;
  quick: boolean;
  [extra: string]: unknown;
}

function ratioOf(subject: number, baseline: number, higherIsBetter: boolean): number {
  return higherIsBetter ? subject / baseline : baseline / subject;
}

function fmt(x: number): string {
  return String(round3(x));
}

/**
 * Runs a benchmark per the contract and returns its result. `argv` defaults to the process's
 * arguments (`--quick`, `--runs N`). Extra fields (histograms) can be merged into the result
 * with `extra` before it is printed and written.
 */
export async function runBenchmark(
  spec: BenchSpec,
  argv: readonly string[] = process.argv.slice(2),
  extra?: (result: BenchResult) => Record<string, unknown>,
): Promise<BenchResult> {
  const args: BenchArgs = parseBenchArgs(argv);
  const higher = spec.higherIsBetter ?? true;
  const runs = args.runs ?? spec.runs ?? (args.quick ? 3 : 7);
  const warmup = spec.warmup ?? 1;
  const series = [spec.subject, spec.baseline, ...(spec.others ?? [])];
  const values: number[][] = series.map(() => []);
  const width = Math.max(...series.map((s) => s.name.length), 8);

  const smoke = args.quick ? spec.quickIsSmokeTest : undefined;
  const smokeLine = `# --quick: a smoke test only, not a measurement: ${smoke}`;
  console.log(`# ${spec.bench}: ${spec.metric}, ${runs} runs${args.quick ? ' (quick)' : ''}`);
  if (smoke !== undefined) console.log(smokeLine);
  for (const s of series) console.log(`#   ${pad(s.name, width)}  ${s.describe}`);
  try {
    for (let w = 0; w < warmup; w++) {
      for (const s of series) await s.run(args.quick);
    }
    const header = ['run', ...series.map((s) => s.name)];
    const cols = header.map((h) => Math.max(h.length, 10));
    console.log(header.map((h, i) => pad(h, cols[i])).join('  '));
    for (let r = 0; r < runs; r++) {
      const row = [`${r + 1}/${runs}`];
      for (let i = 0; i < series.length; i++) {
        const v = await series[i].run(args.quick);
        if (!Number.isFinite(v) || v < 0) {
          throw new Error(`${spec.bench}: series ${series[i].name} returned ${v}`);
        }
        values[i].push(v);
        row.push(fmt(v));
      }
      console.log(row.map((c, i) => pad(c, cols[i])).join('  '));
    }
  } finally {
    await spec.teardown?.();
  }

  const sums: Summary[] = values.map((v) => summarise(v));
  const base = sums[1];
  const cases: CaseResult[] = series.map((s, i) => ({
    name: s.name,
    describe: s.describe,
    value: round3(sums[i].value),
    min: round3(sums[i].min),
    max: round3(sums[i].max),
    runs: sums[i].runs.map(round3),
    ratio: round3(ratioOf(sums[i].value, base.value, higher)),
  }));

  console.log();
  console.log(
    [pad('series', width), pad('median', 10), pad('min', 10), pad('max', 10), 'vs baseline'].join(
      '  ',
    ),
  );
  for (const c of cases) {
    const cells = [pad(c.name, width), pad(fmt(c.value), 10), pad(fmt(c.min), 10)];
    console.log([...cells, pad(fmt(c.max), 10), `${fmt(c.ratio)}x`].join('  '));
  }
  if (smoke !== undefined) console.log(smokeLine);

  const result: BenchResult = {
    bench: spec.bench,
    metric: spec.metric,
    value: cases[0].value,
    min: cases[0].min,
    max: cases[0].max,
    baseline: {
      name: spec.baseline.name,
      value: cases[1].value,
      min: cases[1].min,
      max: cases[1].max,
      describe: spec.baseline.describe,
    },
    ratio: cases[0].ratio,
    params: { ...spec.params, runs },
    machine: machineInfo(),
    cases,
    date: new Date().toISOString(),
    quick: args.quick,
  };
  if (smoke !== undefined) result.quickIsSmokeTest = smoke;
  if (extra) Object.assign(result, extra(result));
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${spec.bench}.json`), `${JSON.stringify(result, null, 2)}\n`);
  // The contract: the very last line of stdout is one JSON object.
  console.log(JSON.stringify(result));
  return result;
}
