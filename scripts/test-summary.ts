// Adds up the vitest JSON reports of every workspace package and prints one closing line,
// "Tests: N passed, N failed, N skipped", so a CI log ends with the whole suite's count.
// `--turbo-exit N`: turbo's exit status (its --continue runs every package's tests and fails
// at the end); non-zero fails this too, even when a package crashed before writing a report.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? '.', '..');
let passed = 0;
let failed = 0;
let skipped = 0;
const rows: string[] = [];
for (const group of ['packages', 'apps', 'benchmarks']) {
  for (const dir of readdirSync(join(root, group), { withFileTypes: true })) {
    const file = join(root, group, dir.name, 'test-results.json');
    if (!dir.isDirectory() || !existsSync(file)) continue;
    const r = JSON.parse(readFileSync(file, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + r.numTodoTests;
    rows.push(
      `  ${`${group}/${dir.name}`.padEnd(28)} ${r.numPassedTests} passed, ${r.numFailedTests} failed`,
    );
  }
}
console.log(rows.join('\n'));
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
const at = process.argv.indexOf('--turbo-exit');
const turboExit = at < 0 ? 0 : Number(process.argv[at + 1]);
if (turboExit !== 0) console.log(`turbo run test exited ${turboExit}: see the failing task above`);
if (failed > 0 || passed === 0 || turboExit !== 0) process.exit(1);
