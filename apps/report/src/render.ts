import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type HistUnit, type LatencyStats, latencyStats, percentileText } from './histogram.js';
import { type ChartSpec, chartFigure, escapeHtml, fmt, page, table } from './html.js';
import type { RunReport, ScalingReport } from './types.js';

function machineLine(m: RunReport['machine']): string {
  return `${m.cpus} CPUs · ${m.cpuModel} · Node ${m.node}`;
}

function paramsTable(params: Record<string, unknown>): string {
  const rows = Object.entries(params).map(([k, v]) => [
    k,
    typeof v === 'string' ? v : JSON.stringify(v),
  ]);
  return rows.length > 0 ? table(['parameter', 'value'], rows) : '<p class="note">none</p>';
}

function percentileTable(stats: LatencyStats): string {
  const rows: unknown[][] = stats.rows.map((r) => [r.label, fmt(r.valueUs)]);
  rows.push(['mean', fmt(stats.meanUs)], ['count', fmt(stats.count)]);
  return table(['percentile', 'latency (µs)'], rows);
}

/** A run (httpd + loadgen, or any closed-loop run) as one self-contained HTML page. */
export function renderRunReport(r: RunReport): string {
  const charts: ChartSpec[] = [];
  const stats = latencyStats(r.histogram.encoded, r.histogram.unit);
  charts.push({
    kind: 'latency',
    title: 'Latency by percentile',
    data: { unit: 'µs', series: [{ name: 'latency', curve: stats.curve }] },
  });
  charts.push({ kind: 'throughput', title: 'Throughput over time', data: { points: r.timeline } });
  charts.push({
    kind: 'lcores',
    title: 'Requests per second per lcore',
    data: { lcores: r.lcores },
  });
  const s = r.summary;
  const body = `
<h1>${escapeHtml(r.title)}</h1>
<p class="meta">${escapeHtml(r.date)} · ${escapeHtml(machineLine(r.machine))}</p>
<h2>Summary</h2>
${table(
  ['requests', 'duration (s)', 'req/s', 'Gbit/s', 'errors'],
  [[fmt(s.requests), fmt(s.durationS), fmt(s.rps), fmt(s.gbps), fmt(s.errors)]],
  'data summary',
)}
<h2>Latency</h2>
${percentileTable(stats)}
${chartFigure(charts[0], 0)}
<h2>Throughput</h2>
${chartFigure(charts[1], 1)}
<h2>Lcores</h2>
${table(
  ['lcore', 'role', 'requests', 'req/s'],
  r.lcores.map((l) => [l.lcore, l.role, fmt(l.requests), fmt(l.rps)]),
)}
${chartFigure(charts[2], 2)}
<h2>Parameters</h2>
${paramsTable(r.params)}
<h2>Percentile distribution</h2>
<pre>${escapeHtml(percentileText(r.histogram.encoded, r.histogram.unit, 'us'))}</pre>
`;
  return page(r.title, body, charts);
}

/** A scaling experiment: throughput against lcores, the linear-scaling line, efficiency. */
export function renderScalingReport(s: ScalingReport): string {
  const title = `Scaling: ${s.workload}`;
  const charts: ChartSpec[] = [
    {
      kind: 'scaling',
      title: `Throughput (${s.unit}) vs lcores`,
      data: { unit: s.unit, points: s.points },
    },
  ];
  const body = `
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(s.date)} · ${escapeHtml(machineLine(s.machine))} · ${escapeHtml(s.cpus)} cores available</p>
${s.note ? `<p class="note">${escapeHtml(s.note)}</p>` : ''}
${chartFigure(charts[0], 0)}
${table(
  ['lcores', `throughput (${s.unit})`, 'per lcore', 'efficiency', 'oversubscribed'],
  s.points.map((p) => [
    p.lcores,
    fmt(p.throughput),
    fmt(p.perLcore),
    `${fmt(p.efficiency * 100, 1)}%`,
    p.oversubscribed ? `yes (more lcores than the ${s.cpus} cores)` : 'no',
  ]),
)}
<p class="note">efficiency = throughput(N) / (N × throughput(1)); the dashed line is linear scaling from one lcore.</p>
`;
  return page(title, body, charts);
}

interface BenchLike {
  bench: string;
  metric: string;
  value: number;
  min?: number;
  max?: number;
  baseline?: { name?: string; value?: number; describe?: string };
  ratio?: number;
  date?: string;
  quick?: boolean;
  histograms?: Record<string, unknown>;
  histogramUnit?: string;
  latency?: { unit?: string; histogramUnit?: string };
}

function isBench(x: unknown): x is BenchLike {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return typeof o.bench === 'string' && typeof o.metric === 'string' && typeof o.value === 'number';
}

function histUnitOf(b: BenchLike): HistUnit | undefined {
  const u = b.latency?.histogramUnit ?? b.histogramUnit ?? b.latency?.unit;
  if (u === 'ns') return 'ns';
  if (u === 'us' || u === 'µs') return 'us';
  return undefined;
}

function mdCell(x: unknown): string {
  return String(x).replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** `align`: one letter per column, l or r (default: the first left, the rest right). */
function mdTable(head: string[], rows: unknown[][], align?: string): string {
  const a = align ?? `l${'r'.repeat(head.length - 1)}`;
  return [
    `| ${head.map(mdCell).join(' | ')} |`,
    `| ${head.map((_, i) => (a[i] === 'r' ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
  ].join('\n');
}

/**
 * The last results of every benchmark (benchmarks/results/*.json): one table with value,
 * baseline and ratio, then, for each benchmark that kept histograms, latency percentiles and
 * a percentile chart. Entries that are not benchmark results are ignored.
 */
export function renderBenchmarksReport(results: unknown[]): { html: string; markdown: string } {
  const benches = results.filter(isBench).sort((a, b) => a.bench.localeCompare(b.bench));
  const head = [
    'benchmark',
    'metric',
    'value',
    'min–max',
    'baseline',
    'baseline value',
    'ratio',
    'date',
  ];
  const rows = benches.map((b) => [
    b.bench + (b.quick ? ' (quick)' : ''),
    b.metric,
    fmt(b.value),
    b.min !== undefined && b.max !== undefined ? `${fmt(b.min)}–${fmt(b.max)}` : '–',
    b.baseline?.name ?? '–',
    fmt(b.baseline?.value),
    b.ratio !== undefined ? `${fmt(b.ratio)}×` : '–',
    b.date ?? '–',
  ]);
  const charts: ChartSpec[] = [];
  let latencyHtml = '';
  const latencyMd: string[] = [];
  for (const b of benches) {
    const unit = histUnitOf(b);
    if (!b.histograms || !unit) continue;
    const series: { name: string; stats: LatencyStats }[] = [];
    for (const [name, enc] of Object.entries(b.histograms)) {
      if (typeof enc !== 'string') continue;
      try {
        series.push({ name, stats: latencyStats(enc, unit) });
      } catch {
        // Not a decodable histogram: leave it out of the plots.
      }
    }
    if (series.length === 0) continue;
    const pHead = ['series', ...series[0].stats.rows.map((r) => r.label), 'mean', 'count'];
    const pRows = series.map((s) => [
      s.name,
      ...s.stats.rows.map((r) => fmt(r.valueUs)),
      fmt(s.stats.meanUs),
      fmt(s.stats.count),
    ]);
    const spec: ChartSpec = {
      kind: 'latency',
      title: `${b.bench}: latency by percentile (µs)`,
      data: { unit: 'µs', series: series.map((s) => ({ name: s.name, curve: s.stats.curve })) },
    };
    latencyHtml += `<h3>${escapeHtml(b.bench)}</h3>\n${table(pHead, pRows)}\n${chartFigure(spec, charts.length)}\n`;
    charts.push(spec);
    latencyMd.push(`### ${b.bench} (latency, µs)\n\n${mdTable(pHead, pRows)}`);
  }
  const title = 'Benchmarks report';
  const html = page(
    title,
    `<h1>${title}</h1>
<p class="meta">${benches.length} benchmarks from benchmarks/results · ratio = subject / baseline, oriented so that higher is better</p>
<h2>Results</h2>
${table(head, rows)}
${latencyHtml ? `<h2>Latency</h2>\n${latencyHtml}` : ''}`,
    charts,
  );
  const markdown = `# ${title}

Ratio = subject / baseline, oriented so that higher is better.

${mdTable(head, rows, 'llrrlrrl')}
${latencyMd.length > 0 ? `\n## Latency\n\n${latencyMd.join('\n\n')}\n` : ''}`;
  return { html, markdown };
}

/** Writes DIR/NAME.html (and DIR/NAME.json when `json` is given); returns the absolute paths. */
export function writeReport(
  dir: string,
  name: string,
  html: string,
  json?: unknown,
): { html: string; json?: string } {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  const htmlPath = join(abs, `${name}.html`);
  writeFileSync(htmlPath, html);
  if (json === undefined) return { html: htmlPath };
  const jsonPath = join(abs, `${name}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  return { html: htmlPath, json: jsonPath };
}
