// DESIGN.md: "A package depends only on packages above it in this list. No cycles."
// Fails (exit 1) naming every dependency that points down or sideways in the layering.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const LAYERS = ['atomics-sync', 'ring', 'mempool', 'eal', 'pmd', 'tcp', 'socket-api'];

export function layerViolations(root: string): string[] {
  const problems: string[] = [];
  const dirs = readdirSync(join(root, 'packages'));
  for (const dir of dirs) {
    const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
    const mine = LAYERS.indexOf(dir);
    if (mine < 0) {
      problems.push(`packages/${dir} is not in DESIGN.md's layer list; add it to LAYERS in order`);
      continue;
    }
    const deps = { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies };
    for (const name of Object.keys(deps)) {
      if (!name.startsWith('@bypass/')) continue;
      const theirs = LAYERS.indexOf(name.slice('@bypass/'.length));
      if (theirs < 0 || theirs >= mine) {
        problems.push(`@bypass/${dir} depends on ${name}, which is not above it in the layering`);
      }
    }
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = layerViolations(join(import.meta.dirname ?? '.', '..'));
  for (const p of problems) console.error(`layers: ${p}`);
  if (problems.length > 0) process.exit(1);
  console.log(`layers: ${LAYERS.join(' > ')}: ok`);
}
