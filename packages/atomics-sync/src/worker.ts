import { existsSync } from 'node:fs';
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
 */

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
 * Starts a worker thread on `module` (see above). `options` are node:worker_threads'
 * WorkerOptions, passed through.
 * The caller owns the returned Worker (terminate it or let it exit).
 */
export function startWorker(module: URL | string, options: WorkerOptions = {}): Worker {
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
