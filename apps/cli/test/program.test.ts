// `bypass run` and the program it runs, without root: a looped-back net_ring0 port (no peer, so
// nothing reaches it) and adaptive polling. The programs are written to a temporary folder and
// named relative to it, as a user in their own project would, through the installed command's
// entry (bin/bypass.mjs): where a program fails to load (file:line:column), the ready line only
// once it has loaded and listened, and the notice for a listen the stack cannot take.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findSyntaxError, formatLoadError, locationInStack } from '../src/program-error.js';

const BIN = fileURLToPath(new URL('../bin/bypass.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'bypass-program-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/**
 * `bypass run APP an-arg` in `dir`; once the ready line is out and `stopWhen(stdout)` is true it
 * is sent SIGINT (a program that fails ends by itself).
 */
function bypassRun(app: string, stopWhen: (out: string) => boolean = () => false): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(
      process.execPath,
      [
        BIN,
        'run',
        '-l',
        '0-1',
        '--no-pin',
        '--poll',
        'adaptive',
        '--vdev',
        'net_ring0',
        '--ip',
        '10.0.0.2/24',
        app,
        'an-arg',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const r: Run = { code: null, out: '', err: '' };
    let stopped = false;
    const killer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    const check = () => {
      if (!stopped && r.err.includes('SIGINT or SIGTERM stops') && stopWhen(r.out)) {
        stopped = true;
        p.kill('SIGINT');
      }
    };
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      r.out += d;
      check();
    });
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      r.err += d;
      check();
    });
    p.on('close', (code) => {
      clearTimeout(killer);
      r.code = code;
      resolve(r);
    });
  });
}

describe('where a program failed (no EAL)', () => {
  it('reads the location from the stack forms Node and esbuild print', () => {
    const cjs = `/home/u/app/server.cjs:12\nconst b = {;\n           ^\n\nSyntaxError: Unexpected token ';'\n    at wrapSafe (node:internal/modules/cjs/loader:1464:18)`;
    expect(locationInStack(cjs)).toEqual({
      file: '/home/u/app/server.cjs',
      line: 12,
      column: 12,
      excerpt: 'const b = {;\n           ^',
    });
    const esbuild =
      'TransformError: Transform failed with 1 error:\n/home/u/app/x.ts:3:18: ERROR: Expected ";" but found "{"';
    expect(locationInStack(esbuild)).toEqual({ file: '/home/u/app/x.ts', line: 3, column: 18 });
    const thrown = [
      'Error: boom',
      '    at listen (node:net:1987:7)',
      `    at Server.listen (${fileURLToPath(new URL('../../../packages/socket-api/src/transparent.ts', import.meta.url))}:400:10)`,
      '    at file:///home/u/packages/app/src/main.mjs:3:7',
      '    at ModuleJob.run (node:internal/modules/esm/module_job:325:25)',
    ].join('\n');
    // Node's frames and bypass's own are skipped; a user's packages/*/src is the program's.
    expect(locationInStack(thrown)).toEqual({
      file: '/home/u/packages/app/src/main.mjs',
      line: 3,
      column: 7,
    });
    expect(locationInStack('SyntaxError: Unexpected token\n    at node:internal/x:1:1')).toBe(
      undefined,
    );
  });

  it('finds an ES module syntax error by checking the program and its relative imports', () => {
    write('good.mjs', "import './lib/broken.mjs';\nimport fs from 'node:fs';\n");
    write('lib-ok.mjs', 'export const ok = 1;\n');
    const lib = join(dir, 'lib');
    mkdirSync(lib, { recursive: true });
    write('lib/broken.mjs', "import { ok } from '../lib-ok.mjs';\nexport const x = ok +;\n");
    expect(findSyntaxError(join(dir, 'good.mjs'))).toEqual({
      file: join(lib, 'broken.mjs'),
      line: 2,
      column: 22,
      excerpt: 'export const x = ok +;\n                     ^',
      headline: "SyntaxError: Unexpected token ';'",
    });
    expect(findSyntaxError(join(dir, 'lib-ok.mjs'))).toBeUndefined();
    // tsx's parse error in an lcore: its position means nothing; Node's message replaces it.
    const tsxParse = `Error: Parse error ${join(dir, 'good.mjs')}:1:1`;
    expect(formatLoadError(join(dir, 'good.mjs'), tsxParse, tsxParse)).toBe(
      `${join(lib, 'broken.mjs')}:2:22: SyntaxError: Unexpected token ';'\n` +
        '    export const x = ok +;\n' +
        '                         ^',
    );
  });
});

describe('bypass run, a program in the current folder (net_ring0, no root)', () => {
  it('a syntax error in the program: its file, line and column, no ready line, exit 1', async () => {
    write('bad.mjs', "import http from 'node:http';\nconst b = {;\n");
    const r = await bypassRun('bad.mjs');
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `bypass run: bad.mjs failed to load: ${dir}/bad.mjs:2:12: SyntaxError: Unexpected token ';'\n` +
        '    const b = {;\n' +
        '               ^\n',
    );
    expect(r.err).not.toContain('SIGINT or SIGTERM stops');
    expect(r.err).not.toContain('node:internal');
  });

  it('a throw at load: its file, line and column and the program frames, no ready line, exit 1', async () => {
    write('throws.mjs', "const port = 1;\n\nthrow new Error('no config for port ' + port);\n");
    const r = await bypassRun('throws.mjs');
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `bypass run: throws.mjs failed to load: ${dir}/throws.mjs:3:7: Error: no config for port 1\n` +
        `    at file://${dir}/throws.mjs:3:7\n`,
    );
    expect(r.err).not.toContain('SIGINT or SIGTERM stops');
  });

  it('the ready line only once the program has listened, with the port it chose', async () => {
    write(
      'late.mjs',
      `import { readFileSync } from 'node:fs';
import net from 'node:net';
const greeting = readFileSync('./greeting.txt', 'utf8').trim();
// Listens a while after loading, on a port the kernel would not know: only the stack has it.
setTimeout(() => {
  const s = net.createServer().listen(0, '10.0.0.2', () => {
    console.log(greeting + ' ' + process.argv.slice(2).join(' ') + ' on ' + s.address().port);
  });
}, 300);
`,
    );
    write('greeting.txt', 'hello from the current folder\n');
    const r = await bypassRun('late.mjs', (out) => out.includes('\n'));
    expect(r.code).toBe(0);
    const m = /^hello from the current folder an-arg on (\d+)\n/.exec(r.out);
    expect(m).not.toBeNull();
    expect(r.err).toContain(
      `bypass run: late.mjs listening on 10.0.0.2:${m![1]} (stack), lcore 1, port net_ring0 with 1 queue, 10.0.0.2/24; SIGINT or SIGTERM stops\n`,
    );
    expect(r.err.match(/SIGINT or SIGTERM stops/g)).toHaveLength(1);
  });

  it("listen on 'localhost': the kernel only, one notice that says how to reach the stack", async () => {
    write(
      'local.mjs',
      `import http from 'node:http';
const s = http.createServer().listen(0, 'localhost', () => console.log('port ' + s.address().port));
`,
    );
    const r = await bypassRun('local.mjs', (out) => out.includes('\n'));
    expect(r.code).toBe(0);
    const port = /^port (\d+)\n/.exec(r.out)![1];
    const notice =
      "bypass: listen localhost:0 is on the kernel only, not on the bypass stack: to serve it through bypass, listen on the wildcard (no host, '0.0.0.0' or '::') or on 10.0.0.2\n";
    expect(r.err.split(notice)).toHaveLength(2);
    expect(r.err).toContain(
      `bypass run: local.mjs listening on localhost:${port} (kernel only), lcore 1,`,
    );
  });
});
