// `pnpm report`: builds benchmarks/results/report.html and report.md from the last results of
// every benchmark (benchmarks/results/*.json), and prints their paths.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderBenchmarksReport, writeReport } from './index.js';

const resultsDir =
  process.argv[2] ??
  join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'benchmarks', 'results');
const results: unknown[] = [];
for (const f of readdirSync(resultsDir).sort()) {
  if (!f.endsWith('.json') || f.startsWith('report')) continue;
  try {
    results.push(JSON.parse(readFileSync(join(resultsDir, f), 'utf8')));
  } catch (e) {
    console.error(`report: skipping ${f}: ${(e as Error).message}`);
  }
}
const { html, markdown } = renderBenchmarksReport(results);
const paths = writeReport(resultsDir, 'report', html);
const md = join(resultsDir, 'report.md');
writeFileSync(md, markdown);
console.log(paths.html);
console.log(md);
