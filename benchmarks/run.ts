// pnpm bench [NAME ...] [--quick] [--runs N]: runs benchmarks/NAME/bench.ts (all of them when no
// name is given), one process each, one after another, passing the options through.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'bench.ts')))
  .map((d) => d.name)
  .sort();

const argv = process.argv.slice(2).filter((a) => a !== '--');
const names = argv.filter((a) => !a.startsWith('-') && !/^\d+$/.test(a));
const options = argv.filter((a) => !names.includes(a));
for (const n of names) {
  if (!available.includes(n)) {
    console.error(`pnpm bench: no benchmark named ${n}; available: ${available.join(', ')}`);
    process.exit(2);
  }
}

let failed = 0;
for (const name of names.length > 0 ? names : available) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(root, name, 'bench.ts'), ...options],
    {
      stdio: 'inherit',
      cwd: join(root, name),
    },
  );
  if (r.status !== 0) {
    console.error(`pnpm bench: ${name} exited with ${r.status ?? r.signal}`);
    failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);
