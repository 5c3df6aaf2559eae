// pnpm experiment scaling --workload l2fwd|echo|http --lcores 1-N [--duration S] [--runs R] [--quick]
// Runs one workload at each lcore count, prints throughput, per-lcore throughput and efficiency
// against linear scaling (BENCHMARKS.md "Scaling"), writes benchmarks/results/scaling-<w>.json
// and, through @bypass/report, the plot scaling-<w>.html. A point whose busy-polling threads outnumber
// the cores is marked oversubscribed: it shows the scheduler, not scaling.
import { machineInfo, median, RESULTS_DIR } from '@bypass/bench-harness';
import { renderScalingReport, writeReport } from '@bypass/report';
import { parseExperimentArgs, USAGE } from './args.js';
import {
  coreRemark,
  ExperimentArgError,
  formatTable,
  formatValue,
  type Measurement,
  scalingPoints,
} from './scaling.js';
import { measure, WORKLOAD_INFO } from './workloads.js';

const DEFAULT_DURATION_S = { l2fwd: 1, echo: 2, http: 2 } as const;
const QUICK_DURATION_S = { l2fwd: 0.3, echo: 1, http: 1 } as const;

let args: ReturnType<typeof parseExperimentArgs>;
try {
  args = parseExperimentArgs(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof ExperimentArgError)) throw e;
  console.error(e.message);
  if (!e.message.includes('usage:')) console.error(USAGE);
  process.exit(2);
}

const { workload, lcores } = args;
const info = WORKLOAD_INFO[workload];
const durationS =
  args.durationS ?? (args.quick ? QUICK_DURATION_S[workload] : DEFAULT_DURATION_S[workload]);
const runs = args.runs ?? (args.quick ? 1 : 3);
const machine = machineInfo();
const cores = machine.cpus;

console.log(
  `scaling ${workload}: lcores ${lcores.join(',')}, ${durationS} s x ${runs} run(s) per point`,
);
console.log(`  ${info.describe}`);
console.log(
  `  cores present: ${cores} (os.availableParallelism()), ${machine.cpuModel}, node ${machine.node}`,
);
const over = lcores.filter((n) => info.busyThreads(n) > cores);
if (over.length > 0) {
  console.log(
    `  asked for more than the ${cores} cores present: the point(s) at ${over.join(',')} lcores are oversubscribed (${over.map((n) => `${info.busyThreads(n)} busy`).join(', ')}) and show the scheduler, not scaling`,
  );
}

const measurements: Measurement[] = [];
for (const n of lcores) {
  const busy = info.busyThreads(n);
  const values = await measure(workload, n, durationS, runs);
  const m = { lcores: n, busyThreads: busy, throughput: median(values), runs: values };
  measurements.push(m);
  console.log(
    `  ${n} lcore(s), ${busy} busy: ${values.map(formatValue).join(' ')} ${info.unit}${coreRemark(busy, cores) ? ` (${coreRemark(busy, cores)})` : ''}`,
  );
}

const points = scalingPoints(measurements, cores);
console.log('');
for (const line of formatTable(points, info.unit, cores)) console.log(line);
if (!lcores.includes(1)) console.log('no 1-lcore point: efficiency needs throughput(1)');

const name = `scaling-${workload}`;
const date = new Date().toISOString();
const note = `${info.describe}. Efficiency = throughput(N) / (N * throughput(1)). ${cores} cores present; points with more busy lcores than cores are oversubscribed and show the scheduler, not scaling.`;
const finite = (x: number) => (Number.isFinite(x) ? x : null);
const result = {
  experiment: 'scaling',
  workload,
  unit: info.unit,
  date,
  describe: info.describe,
  params: { lcores, durationS, runs, quick: args.quick },
  machine,
  cpus: cores,
  points: points.map((p) => ({
    ...p,
    efficiency: finite(p.efficiency),
    note: coreRemark(p.busyThreads, cores) || undefined,
  })),
  note,
};
// The plot: @bypass/report's self-contained HTML, written beside the JSON.
const html = renderScalingReport({
  workload,
  unit: info.unit,
  date,
  machine,
  cpus: cores,
  points: points.map((p) => ({
    lcores: p.lcores,
    throughput: p.throughput,
    perLcore: p.perLcore,
    efficiency: p.efficiency,
    oversubscribed: p.oversubscribed,
  })),
  note,
});
const written = writeReport(RESULTS_DIR, name, html, result);
console.log(`wrote ${written.json} and ${written.html}`);
console.log(JSON.stringify(result));
