// `pnpm experiment scaling --workload l2fwd|echo|http --lcores 1-N [--duration S] [--runs R] [--quick]`
import { ExperimentArgError, parseLcoreRange } from './scaling.js';
import { WORKLOADS, type Workload } from './workloads-list.js';

export const USAGE =
  'usage: pnpm experiment scaling --workload l2fwd|echo|http --lcores 1-N|1,2,4 [--duration S] [--runs R] [--quick]';

export interface ExperimentArgs {
  experiment: 'scaling';
  workload: Workload;
  lcores: number[];
  /** Seconds per measurement; default per workload (see main.ts), shorter with --quick. */
  durationS?: number;
  /** Measurements per point (median reported); default 3, 1 with --quick. */
  runs?: number;
  quick: boolean;
}

export function parseExperimentArgs(argv: readonly string[]): ExperimentArgs {
  const [experiment, ...rest] = argv;
  if (experiment !== 'scaling')
    throw new ExperimentArgError(`unknown experiment ${JSON.stringify(experiment)}; ${USAGE}`);
  let workload: Workload | undefined;
  let lcores: number[] | undefined;
  let durationS: number | undefined;
  let runs: number | undefined;
  let quick = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new ExperimentArgError(`${a} needs a value; ${USAGE}`);
      return v;
    };
    if (a === '--workload') {
      const v = value();
      if (!(WORKLOADS as readonly string[]).includes(v))
        throw new ExperimentArgError(`--workload must be one of ${WORKLOADS.join(', ')}, got ${v}`);
      workload = v as Workload;
    } else if (a === '--lcores') lcores = parseLcoreRange(value());
    else if (a === '--duration') {
      const v = value();
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0)
        throw new ExperimentArgError(`--duration must be seconds > 0, got ${v}`);
      durationS = n;
    } else if (a === '--runs') {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 100)
        throw new ExperimentArgError(`--runs must be an integer in [1, 100], got ${v}`);
      runs = n;
    } else if (a === '--quick') quick = true;
    else throw new ExperimentArgError(`unknown option ${a}; ${USAGE}`);
  }
  if (workload === undefined) throw new ExperimentArgError(`--workload is required; ${USAGE}`);
  if (lcores === undefined) throw new ExperimentArgError(`--lcores is required; ${USAGE}`);
  return { experiment, workload, lcores, durationS, runs, quick };
}
