// The README's "Adding bypass to an existing project", done as a user would: a project of its
// own outside the repository (under the OS's temporary folder), `npm install
// /path/to/bypass/apps/cli`, then `npx bypass run --help` and a small program run from that
// folder with paths relative to it (a looped-back net_ring0 port, adaptive polling: no root).
// Skipped, with the reason printed, where npm is missing.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' });
const reason = npm.status === 0 ? undefined : 'npm is not installed';
if (reason) console.log(`install.test.ts: skipping: ${reason}`);

const project = mkdtempSync(join(tmpdir(), 'bypass-user-project-'));
/**
 * A user's shell environment: without the npm_* variables of the pnpm script running this test
 * (pnpm's own settings, which npm would warn about as unknown config on stderr).
 */
const userEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)),
) as NodeJS.ProcessEnv;
afterAll(() => rmSync(project, { recursive: true, force: true }));

describe.skipIf(reason !== undefined)('bypass in a project of its own', () => {
  it('npm install /path/to/bypass/apps/cli gives the project a working `bypass` command', async () => {
    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'my-server', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
    );
    // As the README says (no registry needed: npm links the folder).
    const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--offline', CLI], {
      cwd: project,
      env: userEnv,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(install.stderr + install.stdout).not.toMatch(/ERR!/);
    expect(install.status).toBe(0);
    expect(existsSync(join(project, 'node_modules', '.bin', 'bypass'))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies)).toEqual(['@bypass/cli']);

    const help = spawnSync('npx', ['--no-install', 'bypass', 'run', '--help'], {
      cwd: project,
      env: userEnv,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(help.stderr).toBe('');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: bypass run \[EAL options\] --ip ADDR\/PREFIX/);

    // A program of the project's, named relative to it, that reads a file relative to it.
    writeFileSync(join(project, 'motd.txt'), 'served from my-server\n');
    writeFileSync(
      join(project, 'server.js'),
      `import { readFileSync } from 'node:fs';
import http from 'node:http';
const motd = readFileSync('motd.txt', 'utf8').trim();
const server = http.createServer((req, res) => res.end(motd));
server.listen(0, '10.0.0.2', () => console.log(motd + ' on ' + server.address().port));
`,
    );
    const run = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(
        join(project, 'node_modules', '.bin', 'bypass'),
        ['run', '-l', '0-1', '--no-pin', '--poll', 'adaptive', '--vdev', 'net_ring0'].concat([
          '--ip',
          '10.0.0.2/24',
          'server.js',
        ]),
        { cwd: project, env: userEnv, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const r = { code: null as number | null, out: '', err: '' };
      let stopped = false;
      const check = () => {
        if (!stopped && r.out.includes('\n') && r.err.includes('SIGINT or SIGTERM stops')) {
          stopped = true;
          p.kill('SIGINT');
        }
      };
      const killer = setTimeout(() => p.kill('SIGKILL'), 60_000);
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
    expect(run.code).toBe(0);
    const port = /^served from my-server on (\d+)\n/.exec(run.out)?.[1];
    expect(port).toBeDefined();
    expect(run.err).toContain(
      `bypass run: server.js listening on 10.0.0.2:${port} (stack), lcore 1, port net_ring0`,
    );
    expect(run.err).toMatch(/bypass run: stopped after [\d.]+ s\n/);
  });
});
