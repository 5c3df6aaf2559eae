import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starting worker threads on TypeScript modules, the same way in dev, tests and builds.
 *
 * Name the module as TypeScript's ESM imports do, with a `.js` extension, relative to the
 * caller: `startWorker(new URL('./lcore.js', import.meta.url))`. When that `.js` file exists (the
 * caller runs from `dist/`), the worker runs it directly on plain Node. When only the `.ts`
 * source exists (tsx, vitest), the worker starts with tsx's loader, so it can import `.ts`
 * modules and workspace packages just as the caller can.
 *
 * A worker can also run the packages' built JavaScript while its caller runs the sources (a
 * program started with tsx that wants lean lcores): `startWorker(url, options, { built: true })`
 * starts `<package>/dist/x.js` for `<package>/src/x.ts`, without tsx's loader, and with the
 * `bypass-dist` export condition, under which every @bypass package resolves to its dist/. Why it
 * matters: tsx's loader shares the isolate with the program it loads, and a framework of many
 * CommonJS modules loaded through it (Fastify: about 20% fewer requests a second, measured with
 * `pnpm bench apps`) leaves V8's object-literal maps in a state where Node's own hot literals
 * (process.nextTick's tick objects) take the runtime's slow path for good. `staleBuilds()` says
 * whether the dist/ folders are current.
 */

/** The export condition under which @bypass packages resolve to their built dist/index.js. */
export const BUILT_CONDITION = 'bypass-dist';

/**
 * tsx's programmatic API, resolved lazily (a built program never needs it). In Node 20,
 * `--import tsx` in a worker's execArgv does not apply to the worker's entry module, so a
 * TypeScript worker starts on a two-line bootstrap that imports its entry through tsImport.
 */
let tsxApi: string | undefined;
function tsxApiUrl(): string {
  tsxApi ??= import.meta.resolve('tsx/esm/api');
  return tsxApi;
}

function tsBootstrap(entry: URL): string {
  const api = JSON.stringify(tsxApiUrl());
  const url = JSON.stringify(entry.href);
  return `import(${api}).then((tsx) => tsx.tsImport(${url}, ${url}));`;
}

export class WorkerModuleError extends Error {
  override name = 'WorkerModuleError';
}

/** Resolves the file a worker should run, and whether it needs the TypeScript loader. */
export function resolveWorkerModule(module: URL | string): { url: URL; typescript: boolean } {
  const url = typeof module === 'string' ? pathToFileURL(module) : module;
  if (url.protocol !== 'file:') {
    throw new WorkerModuleError(
      `startWorker: ${url.href} is not a file: URL; pass new URL('./x.js', import.meta.url)`,
    );
  }
  const path = fileURLToPath(url);
  if (path.endsWith('.ts')) return { url, typescript: true };
  if (existsSync(path)) return { url, typescript: false };
  const ts = path.replace(/\.(m?)js$/, '.$1ts');
  if (ts !== path && existsSync(ts)) return { url: pathToFileURL(ts), typescript: true };
  throw new WorkerModuleError(
    `startWorker: neither ${path} nor its TypeScript source exists; ` +
      'name the module relative to import.meta.url with a .js extension',
  );
}

/**
 * The built JavaScript of a module: `<package>/src/a/b.ts` (or `.js`) is `<package>/dist/a/b.js`;
 * a `.js` module outside a `src/` folder is itself. Undefined when that file does not exist.
 */
export function builtModule(module: URL | string): URL | undefined {
  const url = typeof module === 'string' ? pathToFileURL(module) : module;
  if (url.protocol !== 'file:') return undefined;
  const path = fileURLToPath(url);
  const at = path.lastIndexOf(`${sep}src${sep}`);
  const js = path.replace(/\.(m?)ts$/, '.$1js');
  const built = at < 0 ? js : `${path.slice(0, at)}${sep}dist${sep}${js.slice(at + 5)}`;
  return /\.m?js$/.test(built) && existsSync(built) ? pathToFileURL(built) : undefined;
}

/** True for an execArgv value that registers tsx (`tsx`, `tsx/esm`, a path or URL inside tsx). */
function isTsx(value: string): boolean {
  return /^tsx(\/|$)/.test(value) || /[/\\]tsx[/\\@]/.test(value) || /[/\\]tsx$/.test(value);
}

/**
 * A worker's execArgv for built JavaScript: `base` (this process's flags by default) without the
 * flags that register tsx (`--import tsx`, `--import=...tsx...`, `--require`, `--loader`), plus
 * `--conditions=bypass-dist`.
 */
export function builtExecArgv(base: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  const loaders = ['--import', '--require', '-r', '--loader', '--experimental-loader'];
  for (let i = 0; i < base.length; i++) {
    const a = base[i];
    if (loaders.includes(a) && i + 1 < base.length && isTsx(base[i + 1])) {
      i++;
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0 && loaders.includes(a.slice(0, eq)) && isTsx(a.slice(eq + 1))) continue;
    if (a === `--conditions=${BUILT_CONDITION}`) continue;
    out.push(a);
  }
  out.push(`--conditions=${BUILT_CONDITION}`);
  return out;
}

/** `argv` without `flags` (as Node lists them: `--a` or `--a=v`), each with a separate value. */
function withoutFlags(argv: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (!flags.includes(argv[i])) {
      out.push(argv[i]);
      continue;
    }
    if (!argv[i].includes('=') && i + 1 < argv.length && !argv[i + 1].startsWith('-')) i++;
  }
  return out;
}

/** A package whose dist/ does not match its src/ (see staleBuilds). */
export interface StaleBuild {
  /** The package's name, e.g. @bypass/tcp. */
  name: string;
  dir: string;
  /** What is out of date: a missing dist/, or the first source file newer than its build. */
  reason: string;
}

function sourcesNewerThanBuild(dir: string): string | undefined {
  const src = join(dir, 'src');
  if (!existsSync(src)) return undefined; // installed from a pack: dist/ only
  const walk = (d: string): string | undefined => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        const r = walk(p);
        if (r !== undefined) return r;
        continue;
      }
      if (!/\.m?ts$/.test(e.name) || /\.(test|d)\.m?ts$/.test(e.name)) continue;
      const built = join(dir, 'dist', relative(src, p)).replace(/\.(m?)ts$/, '.$1js');
      if (!existsSync(built)) return `${relative(dir, built)} is missing`;
      if (statSync(built).mtimeMs < statSync(p).mtimeMs)
        return `${relative(dir, built)} is older than ${relative(dir, p)}`;
    }
    return undefined;
  };
  return walk(src);
}

/**
 * The packages among `packageDir` and its @bypass dependencies (recursively, found through each
 * package's node_modules as pnpm and npm links them) whose built JavaScript is missing or older
 * than their sources. Empty: every dist/ is current, and built workers run what the sources say.
 */
export function staleBuilds(packageDir: string): StaleBuild[] {
  const stale: StaleBuild[] = [];
  const seen = new Set<string>();
  const visit = (dir: string) => {
    const real = realpathSync(dir);
    if (seen.has(real)) return;
    seen.add(real);
    const pkg = JSON.parse(readFileSync(join(real, 'package.json'), 'utf8')) as {
      name?: string;
      dependencies?: Record<string, string>;
    };
    const name = pkg.name ?? real;
    if (name.startsWith('@bypass/') && existsSync(join(real, 'src', 'index.ts'))) {
      const reason = sourcesNewerThanBuild(real);
      if (reason !== undefined) stale.push({ name, dir: real, reason });
    }
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      if (!dep.startsWith('@bypass/')) continue;
      const at = join(real, 'node_modules', ...dep.split('/'));
      if (existsSync(join(at, 'package.json'))) visit(at);
    }
  };
  visit(packageDir);
  return stale;
}

/** Options of startWorker beyond node:worker_threads' own. */
export interface StartOptions {
  /** Run the module's built JavaScript (builtModule) on builtExecArgv: no tsx in the worker. */
  built?: boolean;
}

/**
 * Starts a worker thread on `module` (see above). `options` are node:worker_threads'
 * WorkerOptions, passed through.
 * The caller owns the returned Worker (terminate it or let it exit).
 */
export function startWorker(
  module: URL | string,
  options: WorkerOptions = {},
  how: StartOptions = {},
): Worker {
  if (how.built) {
    const built = builtModule(module);
    if (built === undefined) {
      throw new WorkerModuleError(
        `startWorker: ${String(module)} has no built JavaScript (dist/); run \`pnpm build\` or start the worker on its source`,
      );
    }
    let execArgv = builtExecArgv(options.execArgv ?? process.execArgv);
    // An inherited process-wide flag (a V8 option such as --max-old-space-size, a profiler's
    // --perf-basic-prof, --title) is refused in a worker's execArgv, though it applies to the
    // worker anyway: drop the flags Node names (it names them a kind at a time) and retry.
    for (;;) {
      try {
        return new Worker(built, { ...options, execArgv });
      } catch (e) {
        const m = /invalid execArgv flags: (.*)$/.exec((e as Error).message);
        if ((e as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || m === null)
          throw e;
        const fewer = withoutFlags(execArgv, m[1].split(', '));
        if (fewer.length === execArgv.length) throw e;
        execArgv = fewer;
      }
    }
  }
  const { url, typescript } = resolveWorkerModule(module);
  if (!typescript) return new Worker(url, options);
  return new Worker(tsBootstrap(url), { ...options, eval: true });
}

/**
 * Resolves with the worker's exit code once it has exited, or rejects with the error it threw
 * (an uncaught exception in the worker, with its stack).
 */
export function workerExit(worker: Worker): Promise<number> {
  return new Promise((resolve, reject) => {
    let failure: Error | undefined;
    worker.once('error', (err) => {
      failure = err;
    });
    worker.once('exit', (code) => (failure ? reject(failure) : resolve(code)));
  });
}

/**
 * Runs `module` in a worker to completion and resolves with the last message it posted
 * (workers that compute a result post it and return). Rejects if it throws or exits non-zero.
 */
export async function runWorker<T = unknown>(
  module: URL | string,
  options: WorkerOptions = {},
): Promise<T> {
  const worker = startWorker(module, options);
  let result: T | undefined;
  worker.on('message', (m: T) => {
    result = m;
  });
  const code = await workerExit(worker);
  if (code !== 0)
    throw new Error(
      `worker ${fileURLToPath(resolveWorkerModule(module).url)} exited with code ${code}`,
    );
  return result as T;
}
