// DESIGN.md: "A package depends only on packages above it in this list. No cycles."
// Fails (exit 1) naming every dependency that points down or sideways in the layering: in each
// package's package.json (dependencies of every kind) and in the import specifiers of its source
// and test files; and inside @bypass/tcp, imports between its folders against their order.
// `--self-test` checks, on fixture trees, that each kind of violation is caught.
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';

/** Lowest first: a package may depend only on packages before it. */
export const LAYERS = [
  'atomics-sync',
  'ring',
  'mempool',
  'net',
  'timer',
  'eal',
  'pmd',
  'tcp',
  'socket-api',
];

/**
 * Packages held to fewer dependencies than the order allows. @bypass/tcp is sans-IO: frames and
 * `now` in, frames out, usable without threads or drivers (in a browser, under Deno or Bun, behind
 * another frame source), so it may use mbufs, wire formats and timers, and nothing of the EAL,
 * the drivers or what is built on them.
 */
export const ONLY: Record<string, string[]> = {
  tcp: ['atomics-sync', 'mempool', 'net', 'timer'],
  net: ['atomics-sync'],
  timer: ['atomics-sync'],
};

/**
 * Inside @bypass/tcp (src/), lowest first: a file may import only from its own folder or an
 * earlier one (wire formats are below them all, in @bypass/net). `stack/` holds the stack's
 * layers (Ethernet, IPv4, TCP and UDP demultiplexing); stack.ts and index.ts sit at the top.
 */
export const TCP_LAYERS = ['storage', 'iface', 'socket', 'stack', '.'];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(m|c)?[jt]s$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every module specifier a file imports or re-exports (static and dynamic with a literal). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  const re =
    /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

export function layerViolations(root: string): string[] {
  const problems: string[] = [];
  const dirs = readdirSync(join(root, 'packages')).sort();
  for (const dir of dirs) {
    const pkgDir = join(root, 'packages', dir);
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    const mine = LAYERS.indexOf(dir);
    if (mine < 0) {
      problems.push(`packages/${dir} is not in DESIGN.md's layer list; add it to LAYERS in order`);
      continue;
    }
    const upward = (name: string) => {
      const short = name.slice('@bypass/'.length);
      const theirs = LAYERS.indexOf(short);
      return theirs >= 0 && theirs < mine && (ONLY[dir] === undefined || ONLY[dir].includes(short));
    };
    const deps = { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies };
    for (const name of Object.keys(deps)) {
      if (name.startsWith('@bypass/') && !upward(name))
        problems.push(
          `@bypass/${dir} depends on ${name}, which is not above it in the layering${ONLY[dir] ? ` (it may use only ${ONLY[dir].join(', ')})` : ''}`,
        );
    }
    for (const file of [
      ...sourceFiles(join(pkgDir, 'src')),
      ...sourceFiles(join(pkgDir, 'test')),
    ]) {
      const rel = relative(root, file);
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        const pkgName = /^@bypass\/[^/]+/.exec(spec)?.[0];
        if (pkgName !== undefined && pkgName !== `@bypass/${dir}` && !upward(pkgName))
          problems.push(
            `${rel} imports ${spec}, which is not above @bypass/${dir} in the layering`,
          );
        // A relative path into another package's folder is a dependency too.
        if (spec.startsWith('.')) {
          const target = relative(join(root, 'packages'), join(dirname(file), spec));
          const other = target.split(sep)[0];
          if (
            !target.startsWith('..') &&
            other !== dir &&
            LAYERS.includes(other) &&
            !upward(`@bypass/${other}`)
          )
            problems.push(
              `${rel} imports ${spec} (packages/${other}), which is not above @bypass/${dir} in the layering`,
            );
        }
      }
    }
  }
  problems.push(...tcpFolderViolations(root));
  return problems;
}

/** Imports inside packages/tcp/src that point to a later folder in TCP_LAYERS. */
export function tcpFolderViolations(root: string): string[] {
  const src = join(root, 'packages', 'tcp', 'src');
  const problems: string[] = [];
  const folderOf = (p: string) => {
    const r = relative(src, p);
    return r.includes(sep) ? r.split(sep)[0] : '.';
  };
  for (const file of sourceFiles(src)) {
    const mine = TCP_LAYERS.indexOf(folderOf(file));
    if (mine < 0) {
      problems.push(
        `${relative(root, file)}: tcp's folder ${folderOf(file)} is not in TCP_LAYERS; add it in order`,
      );
      continue;
    }
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = join(dirname(file), spec);
      if (relative(src, target).startsWith('..')) continue;
      const theirs = TCP_LAYERS.indexOf(folderOf(target));
      if (mine >= 0 && theirs > mine)
        problems.push(
          `${relative(root, file)} imports ${spec}: tcp's ${TCP_LAYERS[mine]} may not import from ${TCP_LAYERS[theirs]} (order: ${TCP_LAYERS.join(' < ')})`,
        );
    }
  }
  return problems;
}

/** Builds fixture trees with one violation each and checks that each is reported. */
function selfTest(): string[] {
  const failures: string[] = [];
  const tree = (files: Record<string, string>) => {
    const root = mkdtempSync(join(tmpdir(), 'bypass-layers-'));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  };
  const pkg = (name: string, deps: string[] = []) =>
    JSON.stringify({
      name: `@bypass/${name}`,
      dependencies: Object.fromEntries(deps.map((d) => [`@bypass/${d}`, 'workspace:*'])),
    });
  const cases: [string, Record<string, string>, RegExp | null][] = [
    [
      'a clean tree',
      {
        'packages/net/package.json': pkg('net'),
        'packages/tcp/package.json': pkg('tcp', ['net']),
        'packages/tcp/src/stack.ts':
          "import { x } from '@bypass/net';\nimport { y } from './socket/tcp.js';\n",
        'packages/tcp/src/socket/tcp.ts': "import { z } from '../storage/ring.js';\n",
      },
      null,
    ],
    [
      'a package.json dependency pointing down',
      { 'packages/net/package.json': pkg('net', ['tcp']), 'packages/tcp/package.json': pkg('tcp') },
      /@bypass\/net depends on @bypass\/tcp/,
    ],
    [
      'an import of a package not above it',
      {
        'packages/tcp/package.json': pkg('tcp'),
        'packages/eal/package.json': pkg('eal'),
        'packages/tcp/test/x.test.ts': "import { init } from '@bypass/eal';\n",
      },
      /packages\/tcp\/test\/x\.test\.ts imports @bypass\/eal/,
    ],
    [
      'a relative import into a higher package',
      {
        'packages/tcp/package.json': pkg('tcp'),
        'packages/pmd/package.json': pkg('pmd'),
        'packages/tcp/test/y.ts': "import { r } from '../../pmd/test/rig.js';\n",
      },
      /imports \.\.\/\.\.\/pmd\/test\/rig\.js \(packages\/pmd\)/,
    ],
    [
      'an unknown package',
      { 'packages/zzz/package.json': pkg('zzz') },
      /packages\/zzz is not in DESIGN\.md's layer list/,
    ],
    [
      'tcp storage importing socket',
      {
        'packages/tcp/package.json': pkg('tcp'),
        'packages/tcp/src/storage/ring.ts': "import type { S } from '../socket/tcp.js';\n",
      },
      /tcp's storage may not import from socket/,
    ],
    [
      'a tcp socket importing a stack layer',
      {
        'packages/tcp/package.json': pkg('tcp'),
        'packages/tcp/src/socket/tcp.ts': "import type { TcpLayer } from '../stack/tcp.js';\n",
      },
      /tcp's socket may not import from stack/,
    ],
    [
      'a tcp folder outside the order',
      {
        'packages/tcp/package.json': pkg('tcp'),
        'packages/tcp/src/misc/x.ts': 'export const x = 1;\n',
      },
      /tcp's folder misc is not in TCP_LAYERS/,
    ],
  ];
  for (const [what, files, expected] of cases) {
    const root = tree(files);
    try {
      const found = layerViolations(root);
      if (expected === null ? found.length !== 0 : !found.some((p) => expected.test(p)))
        failures.push(
          `${what}: expected ${expected ?? 'no violation'}, got ${JSON.stringify(found)}`,
        );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  return failures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--self-test')) {
    const failures = selfTest();
    for (const f of failures) console.error(`layers self-test: ${f}`);
    if (failures.length > 0) process.exit(1);
    console.log('layers self-test: every kind of violation is caught');
  }
  const problems = layerViolations(join(import.meta.dirname ?? '.', '..'));
  for (const p of problems) console.error(`layers: ${p}`);
  if (problems.length > 0) process.exit(1);
  console.log(`layers: ${LAYERS.join(' < ')}; inside tcp ${TCP_LAYERS.join(' < ')}: ok`);
}
