import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveWorkerModule, runWorker, WorkerModuleError } from '../src/index.js';

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
