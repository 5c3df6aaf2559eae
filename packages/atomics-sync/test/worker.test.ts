import {
  mkdirSync,
  mkdtempSync,
  realpathSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  BUILT_CONDITION,
  builtExecArgv,
  builtModule,
  resolveWorkerModule,
  runWorker,
  staleBuilds,
  startWorker,
  WorkerModuleError,
  workerExit,
} from '../src/index.js';

function write(path: string, text: string, mtimeS?: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  if (mtimeS !== undefined) utimesSync(path, mtimeS, mtimeS);
}

/** A package folder like ours: package.json, src/ (index.ts, a/b.ts, a test), dist/ at `distS`. */
function fakePackage(
  root: string,
  name: string,
  deps: string[],
  srcS: number,
  distS?: number,
): string {
  const dir = join(root, name.replace('@bypass/', ''));
  write(
    join(dir, 'package.json'),
    JSON.stringify({ name, dependencies: Object.fromEntries(deps.map((d) => [d, 'workspace:*'])) }),
  );
  write(join(dir, 'src', 'index.ts'), 'export {};', srcS);
  write(join(dir, 'src', 'a', 'b.ts'), 'export {};', srcS);
  write(join(dir, 'src', 'a', 'b.test.ts'), 'export {};', srcS + 100); // tests are not built
  if (distS !== undefined) {
    write(join(dir, 'dist', 'index.js'), 'export {};', distS);
    write(join(dir, 'dist', 'a', 'b.js'), 'export {};', distS);
  }
  for (const d of deps) {
    const link = join(dir, 'node_modules', ...d.split('/'));
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(root, d.replace('@bypass/', '')), link);
  }
  return dir;
}

describe('startWorker', () => {
  it('runs the built .js when it exists, without the TypeScript loader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bypass-worker-'));
    writeFileSync(
      join(dir, 'plain.js'),
      "import { parentPort } from 'node:worker_threads'; parentPort.postMessage(process.execArgv.join(' '));",
    );
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const url = pathToFileURL(join(dir, 'plain.js'));
    expect(resolveWorkerModule(url).typescript).toBe(false);
    const argv = await runWorker<string>(url, { execArgv: [] });
    expect(argv).toBe('');
  });

  it('falls back to the .ts source under tsx when no .js exists', async () => {
    const url = new URL('./fixtures/echo.js', import.meta.url);
    const r = resolveWorkerModule(url);
    expect(r.typescript).toBe(true);
    expect(r.url.pathname.endsWith('/fixtures/echo.ts')).toBe(true);
    expect(await runWorker(url, { workerData: { n: 41 } })).toEqual({ n: 42, typed: true });
  });

  it('names the missing module', () => {
    expect(() => resolveWorkerModule(new URL('./fixtures/nope.js', import.meta.url))).toThrow(
      WorkerModuleError,
    );
  });

  it('rejects with the worker error and its stack', async () => {
    await expect(
      runWorker(new URL('./fixtures/echo.js', import.meta.url), { workerData: { n: -1 } }),
    ).rejects.toThrow(/negative input -1/);
  });
});

describe('built workers', () => {
  it('builtModule maps <package>/src/x.ts (or .js) to <package>/dist/x.js, when it exists', () => {
    const root = mkdtempSync(join(tmpdir(), 'bypass-built-'));
    const dir = fakePackage(root, '@bypass/one', [], 1000, 2000);
    const src = (p: string) => pathToFileURL(join(dir, 'src', p));
    expect(builtModule(src('a/b.ts'))?.href).toBe(
      pathToFileURL(join(dir, 'dist', 'a', 'b.js')).href,
    );
    expect(builtModule(src('a/b.js'))?.href).toBe(
      pathToFileURL(join(dir, 'dist', 'a', 'b.js')).href,
    );
    expect(builtModule(src('index.ts'))?.href).toBe(
      pathToFileURL(join(dir, 'dist', 'index.js')).href,
    );
    expect(builtModule(src('a/none.ts'))).toBeUndefined();
    // A .js module outside src/ is its own build; a .ts one outside src/ has none.
    write(join(root, 'plain.mjs'), 'export {};');
    expect(builtModule(join(root, 'plain.mjs'))?.href).toBe(
      pathToFileURL(join(root, 'plain.mjs')).href,
    );
    write(join(root, 'typed.ts'), 'export {};');
    expect(builtModule(join(root, 'typed.ts'))).toBeUndefined();
  });

  it('builtExecArgv drops every form of tsx registration and adds the bypass-dist condition', () => {
    expect(
      builtExecArgv([
        '--import',
        'tsx',
        '--import=tsx/esm',
        '--require',
        '/x/node_modules/tsx/dist/cjs/index.cjs',
        '--import',
        'file:///x/node_modules/.pnpm/tsx@4.23.15/node_modules/tsx/dist/esm/index.mjs',
        '--max-old-space-size=512',
        '--import',
        './my-hook.mjs',
        `--conditions=${BUILT_CONDITION}`,
      ]),
    ).toEqual([
      '--max-old-space-size=512',
      '--import',
      './my-hook.mjs',
      '--conditions=bypass-dist',
    ]);
  });

  it('staleBuilds names the packages (dependencies included) whose dist/ is missing or older than src/', () => {
    const root = mkdtempSync(join(tmpdir(), 'bypass-stale-'));
    fakePackage(root, '@bypass/low', [], 1000, 2000);
    fakePackage(root, '@bypass/mid', ['@bypass/low'], 3000, 2000); // sources newer than the build
    fakePackage(root, '@bypass/none', [], 1000); // never built
    const top = fakePackage(root, '@bypass/top', ['@bypass/mid', '@bypass/none'], 1000, 2000);
    const stale = staleBuilds(top);
    expect(stale.map((s) => [s.name, s.reason])).toEqual([
      ['@bypass/mid', 'dist/a/b.js is older than src/a/b.ts'],
      ['@bypass/none', 'dist/a/b.js is missing'],
    ]);
    expect(stale[0].dir).toBe(realpathSync(join(root, 'mid')));
    expect(staleBuilds(join(root, 'low'))).toEqual([]);
  });

  it('startWorker(built) runs the dist/ file on plain node, with the condition and no tsx', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bypass-run-built-'));
    const dir = fakePackage(root, '@bypass/w', [], 1000, 2000);
    write(join(dir, 'package.json'), '{"name":"@bypass/w","type":"module"}');
    write(
      join(dir, 'dist', 'probe.js'),
      "import { parentPort } from 'node:worker_threads'; parentPort.postMessage({ argv: process.execArgv, url: import.meta.url });",
    );
    const worker = startWorker(
      pathToFileURL(join(dir, 'src', 'probe.js')),
      // Process-wide flags (profilers, V8 options) are refused in a worker's execArgv: dropped.
      {
        execArgv: [
          '--import',
          'tsx',
          '--perf-basic-prof',
          '--stack-size',
          '900',
          '--max-old-space-size=512',
          '--expose-gc',
          '--trace-warnings',
        ],
      },
      { built: true },
    );
    const got = await new Promise<{ argv: string[]; url: string }>((resolve) =>
      worker.once('message', resolve),
    );
    await workerExit(worker);
    expect(got.argv).toEqual(['--trace-warnings', '--conditions=bypass-dist']);
    expect(fileURLToPath(got.url)).toBe(join(realpathSync(dir), 'dist', 'probe.js'));
    expect(() =>
      startWorker(pathToFileURL(join(dir, 'src', 'gone.js')), {}, { built: true }),
    ).toThrow(/has no built JavaScript \(dist\/\); run `pnpm build`/);
  });
});
