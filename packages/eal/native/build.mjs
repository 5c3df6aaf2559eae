// Builds the native addon, native/build/Release/bypass_native.node, with node-gyp against the
// Node headers already on this machine (no download). It is @bypass/eal's `install` script, so
// `pnpm install` runs it. It never fails the install: where the addon cannot build it prints
// one line saying why and what that disables, and exits 0 (DESIGN.md: "Where the native addon
// cannot build, everything else still installs and runs").
//
//   node native/build.mjs [--force]   rebuild even when the addon is newer than its sources
//
// Environment: BYPASS_NATIVE=0 skips the build; BYPASS_NODEDIR=/prefix names the Node headers
// (a directory holding include/node/node_api.h) when they are somewhere unusual.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const addon = join(here, 'build', 'Release', 'bypass_native.node');
const logFile = join(here, 'build', 'build.log');
const sources = ['binding.gyp', 'build.mjs', join('src', 'bypass_native.c')].map((f) =>
  join(here, f),
);
const show = (p) => relative(process.cwd(), p) || '.';
const DISABLED = 'CPU pinning of lcores and tap ports are disabled; everything else works';

function done(line) {
  console.log(`@bypass/eal: ${line}`);
  process.exit(0);
}
function notBuilt(why) {
  done(`native addon NOT built: ${why}. ${DISABLED}.`);
}

/** An executable named `name` on PATH, or undefined. */
function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * A prefix whose include/node holds the headers node-gyp needs (node_api.h, common.gypi), so
 * it never downloads them. Official tarballs, nvm and Homebrew install them next to the binary
 * (<prefix>/bin/node, <prefix>/include/node); Debian's nodejs package in /usr/include/node.
 */
function findNodeDir() {
  const candidates = [
    process.env.BYPASS_NODEDIR,
    process.env.npm_config_nodedir,
    resolve(dirname(process.execPath), '..'),
    process.config.variables.node_prefix,
    join(homedir(), '.cache', 'node-gyp', process.versions.node), // node-gyp's own cache
  ];
  return candidates.find(
    (dir) =>
      dir &&
      existsSync(join(dir, 'include', 'node', 'node_api.h')) &&
      existsSync(join(dir, 'include', 'node', 'common.gypi')),
  );
}

/** How to run node-gyp: npm's setting, then PATH (pnpm puts its bundled one there), then the
 * copies bundled inside the running package manager or next to npm. */
function findNodeGyp() {
  const js = (file) => (existsSync(file) ? { cmd: process.execPath, args: [file] } : undefined);
  const configured = process.env.npm_config_node_gyp;
  if (configured && existsSync(configured)) {
    return configured.endsWith('.js') ? js(configured) : { cmd: configured, args: [] };
  }
  const shim = onPath('node-gyp');
  if (shim) return { cmd: shim, args: [] };
  const execDir = process.env.npm_execpath ? dirname(process.env.npm_execpath) : undefined;
  const bundled = [
    execDir && join(execDir, '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), // npm
    execDir && join(execDir, '..', 'dist', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), // pnpm
    resolve(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  for (const file of bundled) {
    const found = file && js(file);
    if (found) return found;
  }
  return undefined;
}

/** node-gyp's own error message: the `gyp ERR! stack` lines before the first stack frame. */
function gypError(lines) {
  const start = lines.findIndex((l) => l.startsWith('gyp ERR! stack Error: '));
  if (start < 0) return undefined;
  const message = [];
  for (const l of lines.slice(start)) {
    const text = l.replace(/^gyp ERR! stack\s*/, '');
    if (!l.startsWith('gyp ERR! stack') || text.startsWith('at ')) break;
    message.push(text);
  }
  return message.join(' ');
}

/** The most telling line of a failed build's output. */
function firstError(log) {
  const lines = log.split('\n').map((l) => l.trim());
  return (
    lines.find((l) => /: (fatal )?error: /.test(l)) ?? // the compiler's
    lines.find((l) => /^[A-Za-z]+(Error|Exception): /.test(l)) ?? // gyp's (Python)
    gypError(lines) ??
    lines.find((l) => /command not found|not found|No such file/i.test(l)) ??
    lines.filter((l) => l !== '').at(-1) ??
    'no output'
  );
}

function main() {
  if (process.env.BYPASS_NATIVE === '0') notBuilt('BYPASS_NATIVE=0 is set');
  if (process.platform !== 'linux') notBuilt(`it needs Linux, this is ${process.platform}`);

  const force = process.argv.includes('--force');
  if (!force && existsSync(addon)) {
    const built = statSync(addon).mtimeMs;
    if (sources.every((f) => statSync(f).mtimeMs <= built)) {
      done(`native addon up to date: ${show(addon)} (node native/build.mjs --force rebuilds)`);
    }
  }

  const compiler = process.env.CC ?? ['cc', 'gcc', 'clang'].find(onPath);
  if (!compiler) {
    notBuilt(
      'no C compiler (cc, gcc or clang) on PATH; on Debian/Ubuntu: apt-get install build-essential',
    );
  }
  if (!onPath('make'))
    notBuilt('no make on PATH; on Debian/Ubuntu: apt-get install build-essential');
  const gyp = findNodeGyp();
  if (!gyp) notBuilt('node-gyp not found (not on PATH, not bundled with npm or pnpm)');
  const nodedir = findNodeDir();

  const args = [...gyp.args, 'rebuild'];
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const started = performance.now();
  const run = spawnSync(gyp.cmd, args, {
    cwd: here,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const log = `${gyp.cmd} ${args.join(' ')}\n${run.stdout ?? ''}${run.stderr ?? ''}`;
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(logFile, log);

  if (run.error || run.status !== 0 || !existsSync(addon)) {
    const how = run.error ? run.error.message : `exit ${run.status}`;
    // Without local headers node-gyp tries to download them, which fails offline.
    const headers = nodedir ? '' : ' (no local Node headers found; set BYPASS_NODEDIR)';
    notBuilt(
      `node-gyp rebuild failed (${how})${headers}: ${firstError(log).replace(/\.$/, '')}; log: ${show(logFile)}`,
    );
  }
  try {
    createRequire(import.meta.url)(addon).cpuCount();
  } catch (err) {
    notBuilt(`${show(addon)} was built but does not load: ${err.message}`);
  }
  const from = nodedir ? join(nodedir, 'include', 'node') : "node-gyp's downloaded headers";
  done(`native addon built in ${seconds} s: ${show(addon)} (headers: ${from})`);
}

try {
  main();
} catch (err) {
  notBuilt(`unexpected error in native/build.mjs: ${err?.stack ?? err}`);
}
