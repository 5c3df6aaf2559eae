import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** JSON that is safe inside a <script> element (no `</script>`, no `<!--`). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

let chartJsSource: string | undefined;

/** Chart.js's minified UMD build, read from node_modules, made safe to inline. */
export function chartJsUmd(): string {
  if (chartJsSource === undefined) {
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('chart.js'));
    chartJsSource = readFileSync(join(dist, 'chart.umd.js'), 'utf8').replaceAll(
      '</script',
      '<\\/script',
    );
  }
  return chartJsSource;
}

export type ChartKind = 'latency' | 'throughput' | 'lcores' | 'scaling';

export interface ChartSpec {
  kind: ChartKind;
  title: string;
  /** Kind-specific data, embedded as JSON and drawn by CLIENT_SCRIPT. */
  data: unknown;
}

/** A <figure> holding one chart's <canvas>. */
export function chartFigure(spec: ChartSpec, index: number): string {
  return `<figure class="chart-box"><figcaption>${escapeHtml(spec.title)}</figcaption><div class="chart-wrap"><canvas id="chart-${index}" class="bypass-chart" data-chart="${spec.kind}" data-index="${index}" role="img" aria-label="${escapeHtml(spec.title)}"></canvas></div></figure>`;
}

/** A table; cells are escaped. */
export function table(head: string[], rows: unknown[][], className = 'data'): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table class="${className}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Number formatting: up to 3 significant decimals, thousands separated. */
export function fmt(x: number | undefined | null, digits = 3): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '–';
  const abs = Math.abs(x);
  const d = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 10 ? 2 : digits;
  return x.toLocaleString('en-US', { maximumFractionDigits: d });
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde1e8;padding-bottom:4px}
.meta{color:#5a6375;margin:0 0 16px}
table.data{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}
table.data th,table.data td{border:1px solid #dde1e8;padding:4px 10px;text-align:right}
table.data th{background:#f3f5f8}table.data td:first-child,table.data th:first-child{text-align:left}
.chart-box{margin:12px 0 20px}.chart-box figcaption{font-weight:600;margin-bottom:4px}
.chart-wrap{position:relative;height:340px;width:100%}
pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px}
.note{color:#5a6375}
`;

/**
 * The browser side: draws every canvas.bypass-chart from the JSON in #bypass-chart-data,
 * then sets document.body.dataset.chartsRendered to the number drawn.
 */
const CLIENT_SCRIPT = `
(function () {
  'use strict';
  var specs = JSON.parse(document.getElementById('bypass-chart-data').textContent);
  var palette = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d', '#4d7c0f'];
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.responsive = true;
  function pctLabel(v) {
    var k = Math.round(Math.log10(v));
    return (100 - 100 / v).toFixed(Math.max(0, k - 2)) + '%';
  }
  function latency(d) {
    return {
      type: 'line',
      data: { datasets: d.series.map(function (s, i) {
        return { label: s.name, data: s.curve, borderColor: palette[i % palette.length],
          backgroundColor: palette[i % palette.length], pointRadius: 0, borderWidth: 2, stepped: false };
      }) },
      options: {
        parsing: true,
        scales: {
          x: { type: 'logarithmic', min: 1, title: { display: true, text: 'percentile' },
            afterBuildTicks: function (scale) {
              var ticks = [];
              for (var v = 1; v <= scale.max * 1.0001; v *= 10) ticks.push({ value: v });
              scale.ticks = ticks;
            },
            ticks: { callback: function (v) { return pctLabel(Number(v)); } } },
          y: { type: 'logarithmic', title: { display: true, text: 'latency (' + d.unit + ')' } }
        },
        plugins: { tooltip: { callbacks: { title: function (items) { return items.length ? pctLabel(items[0].parsed.x).replace(/%$/, '') + ' %ile' : ''; } } } }
      }
    };
  }
  function throughput(d) {
    var ds = [
      { label: 'req/s', data: d.points.map(function (p) { return { x: p.t, y: p.rps }; }), borderColor: palette[0], backgroundColor: palette[0], yAxisID: 'y', pointRadius: 2 },
      { label: 'Gbit/s', data: d.points.map(function (p) { return { x: p.t, y: p.gbps }; }), borderColor: palette[2], backgroundColor: palette[2], yAxisID: 'y1', pointRadius: 2 }
    ];
    var scales = {
      x: { type: 'linear', title: { display: true, text: 'seconds since start' } },
      y: { type: 'linear', beginAtZero: true, position: 'left', title: { display: true, text: 'req/s' } },
      y1: { type: 'linear', beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: 'Gbit/s' } }
    };
    if (d.points.some(function (p) { return typeof p.p99us === 'number'; })) {
      ds.push({ label: 'p99 (µs)', data: d.points.filter(function (p) { return typeof p.p99us === 'number'; }).map(function (p) { return { x: p.t, y: p.p99us }; }), borderColor: palette[1], backgroundColor: palette[1], yAxisID: 'y2', borderDash: [4, 3], pointRadius: 2 });
      scales.y2 = { type: 'linear', beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: 'p99 µs' } };
    }
    return { type: 'line', data: { datasets: ds }, options: { scales: scales } };
  }
  function lcores(d) {
    return {
      type: 'bar',
      data: { labels: d.lcores.map(function (l) { return 'lcore ' + l.lcore + ' (' + l.role + ')'; }),
        datasets: [{ label: 'req/s', data: d.lcores.map(function (l) { return l.rps; }),
          backgroundColor: d.lcores.map(function (l) { return l.role === 'server' ? palette[0] : palette[4]; }) }] },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'req/s' } } }, plugins: { legend: { display: false } } }
    };
  }
  function scaling(d) {
    var base = d.points.length ? d.points[0].throughput / d.points[0].lcores : 0;
    return {
      type: 'line',
      data: { datasets: [
        { label: 'measured (' + d.unit + ')', data: d.points.map(function (p) { return { x: p.lcores, y: p.throughput }; }), borderColor: palette[0], backgroundColor: palette[0], yAxisID: 'y',
          pointStyle: d.points.map(function (p) { return p.oversubscribed ? 'crossRot' : 'circle'; }), pointRadius: 5 },
        { label: 'linear scaling', data: d.points.map(function (p) { return { x: p.lcores, y: base * p.lcores }; }), borderColor: '#6b7280', borderDash: [6, 4], pointRadius: 0, yAxisID: 'y' },
        { label: 'efficiency', data: d.points.map(function (p) { return { x: p.lcores, y: p.efficiency * 100 }; }), borderColor: palette[2], backgroundColor: palette[2], yAxisID: 'y1', pointRadius: 3 }
      ] },
      options: { scales: {
        x: { type: 'linear', ticks: { stepSize: 1 }, title: { display: true, text: 'lcores' } },
        y: { beginAtZero: true, title: { display: true, text: d.unit } },
        y1: { position: 'right', min: 0, suggestedMax: 110, grid: { drawOnChartArea: false }, title: { display: true, text: 'efficiency %' } }
      } }
    };
  }
  var builders = { latency: latency, throughput: throughput, lcores: lcores, scaling: scaling };
  var drawn = 0;
  specs.forEach(function (spec, i) {
    var canvas = document.getElementById('chart-' + i);
    if (!canvas) return;
    new Chart(canvas, builders[spec.kind](spec.data));
    drawn++;
  });
  document.body.dataset.chartsRendered = String(drawn);
})();
`;

/** A complete, self-contained HTML page: Chart.js and the data are inlined. */
export function page(title: string, bodyHtml: string, charts: ChartSpec[]): string {
  const chartScripts =
    charts.length > 0
      ? `<script type="application/json" id="bypass-chart-data">${scriptJson(
          charts.map((c) => ({ kind: c.kind, data: c.data })),
        )}</script>
<script>${chartJsUmd()}</script>
<script>${CLIENT_SCRIPT}</script>`
      : `<script>document.body.dataset.chartsRendered = "0";</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${bodyHtml}
${chartScripts}
</body>
</html>
`;
}
