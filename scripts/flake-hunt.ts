// pnpm flake-hunt N [--busy] [--keep] [--ref REF]: runs the README's test command N times, each
// from a fresh clone of this repository (REF, default HEAD, with ../shared beside it as CI has
// it), then prints per failing test how often it failed and its first error. --busy keeps one
// core busy with a spinning process during the runs (a noisy neighbour, as CI may have one).
// Each run's log and vitest JSON reports stay under the printed folder; --keep keeps the clones.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname ?? '.', '..');
const USAGE = 'usage: pnpm flake-hunt N [--busy] [--keep] [--ref REF]';

interface Options {
  runs: number;
  busy: boolean;
  keep: boolean;
  ref: string;
}

export function parseFlakeHuntArgs(argv: readonly string[]): Options {
  const o: Options = { runs: 0, busy: false, keep: false, ref: 'HEAD' };
  const args = argv.filter((a) => a !== '--');
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--busy') o.busy = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--ref') {
      const v = args[++i];
      if (v === undefined) throw new Error(`--ref needs a commit or branch\n${USAGE}`);
      o.ref = v;
    } else if (/^\d+$/.test(a) && Number(a) >= 1 && Number(a) <= 100) o.runs = Number(a);
    else throw new Error(`unknown argument or run count outside [1, 100]: ${a}\n${USAGE}`);
  }
  if (o.runs === 0) throw new Error(`give the number of runs\n${USAGE}`);
  return o;
}

/** The README's test command (its second quick-start line), so the hunter and CI never drift. */
export function readmeTestCommand(readme: string): string {
  const line = readme.split('\n').find((l) => /pnpm@[\d.]+ test\b/.test(l));
  if (line === undefined) throw new Error('README.md has no `... pnpm@X test` line');
  return line.replace(/\s+#.*$/, '').trim();
}

interface Failure {
  test: string;
  error: string;
}

/** Failing tests in one clone: every package's vitest JSON report, plus turbo tasks that failed
 * without one (a crash, a typecheck or lint error). */
export function failuresIn(clone: string, log: string): Failure[] {
  const out: Failure[] = [];
  const reported = new Set<string>();
  for (const group of ['packages', 'apps', 'benchmarks']) {
    if (!existsSync(join(clone, group))) continue;
    for (const dir of readdirSync(join(clone, group))) {
      const file = join(clone, group, dir, 'test-results.json');
      if (!existsSync(file)) continue;
      const r = JSON.parse(readFileSync(file, 'utf8')) as {
        testResults: {
          name: string;
          message?: string;
          status: string;
          assertionResults: {
            ancestorTitles: string[];
            title: string;
            status: string;
            failureMessages: string[];
          }[];
        }[];
      };
      for (const f of r.testResults) {
        const rel = f.name.startsWith(clone) ? f.name.slice(clone.length + 1) : f.name;
        const failed = f.assertionResults.filter((a) => a.status === 'failed');
        for (const a of failed)
          out.push({
            test: `${rel} › ${[...a.ancestorTitles, a.title].join(' › ')}`,
            error: firstLine(a.failureMessages[0] ?? ''),
          });
        if (failed.length === 0 && f.status === 'failed')
          out.push({ test: `${rel} (the file)`, error: firstLine(f.message ?? '') });
      }
      reported.add(`${group}/${dir}`);
    }
  }
  // turbo prints "<package>#<task>: command (<dir>) ... exited (N)" for each failed task.
  for (const m of log.matchAll(
    /^\s*(\S+)#(\w[\w-]*): command \(([^)]*)\)[^\n]*exited \((\d+)\)/gm,
  )) {
    const dir = m[3].startsWith(clone) ? m[3].slice(clone.length + 1) : m[3];
    if (m[2] === 'test' && reported.has(dir) && out.some((f) => f.test.startsWith(dir))) continue;
    out.push({ test: `${m[1]}#${m[2]}`, error: `exited ${m[4]} (see the run's log)` });
  }
  if (out.length === 0 && !/^Tests: \d+ passed, 0 failed/m.test(log))
    out.push({ test: '(the run)', error: lastLines(log, 3) });
  return out;
}

function firstLine(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colours
  const clean = s.replace(/\u001b\[[0-9;]*m/g, '').trim();
  return (clean.split('\n').find((l) => l.trim() !== '') ?? '').trim().slice(0, 300);
}

function lastLines(s: string, n: number): string {
  return s.trimEnd().split('\n').slice(-n).join(' | ').slice(0, 300);
}

function run(cmd: string, cwd: string, logFile: string): Promise<{ code: number; log: string }> {
  return new Promise((done) => {
    const log = createWriteStream(logFile);
    let text = '';
    const child = spawn('bash', ['-c', cmd], {
      cwd,
      env: { ...process.env, CI: 'true', FORCE_COLOR: '0', TURBO_TELEMETRY_DISABLED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    for (const s of [child.stdout, child.stderr])
      s.on('data', (d: Buffer) => {
        log.write(d);
        text += d;
      });
    child.on('close', (code) => {
      log.end();
      done({ code: code ?? 1, log: text });
    });
  });
}

function spinner(): ChildProcess {
  const p = spawn('nice', ['-n', '0', 'sh', '-c', 'while :; do :; done'], {
    stdio: 'ignore',
    detached: true,
  });
  return p;
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseFlakeHuntArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const command = readmeTestCommand(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const sha = spawnSync('git', ['rev-parse', o.ref], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  if (!/^[0-9a-f]{40}$/.test(sha)) {
    console.error(`flake-hunt: ${o.ref} is no commit of ${ROOT}`);
    return 2;
  }
  const base = mkdtempSync(join(tmpdir(), 'bypass-flake-hunt-'));
  const shared = resolve(ROOT, '..', 'shared');
  console.log(
    `flake-hunt: ${o.runs} run(s) of \`${command}\` at ${sha.slice(0, 12)}${o.busy ? ', one core kept busy' : ''}; logs under ${base}`,
  );
  const spin = o.busy ? spinner() : undefined;
  const byTest = new Map<string, { count: number; error: string; runs: number[] }>();
  const results: { run: number; code: number; seconds: number; failures: Failure[] }[] = [];
  try {
    for (let i = 1; i <= o.runs; i++) {
      const dir = join(base, `run${i}`);
      const clone = join(dir, 'bypass');
      mkdirSync(dir, { recursive: true });
      const c = spawnSync('git', ['clone', '-q', ROOT, clone], { encoding: 'utf8' });
      if (c.status !== 0) throw new Error(`git clone: ${c.stderr}`);
      spawnSync('git', ['checkout', '-q', sha], { cwd: clone });
      if (existsSync(shared)) cpSync(shared, join(dir, 'shared'), { recursive: true });
      const t0 = performance.now();
      const r = await run(command, clone, join(dir, 'log.txt'));
      const seconds = (performance.now() - t0) / 1000;
      const failures = failuresIn(clone, r.log);
      for (const f of failures) {
        const e = byTest.get(f.test) ?? { count: 0, error: f.error, runs: [] };
        e.count++;
        e.runs.push(i);
        byTest.set(f.test, e);
      }
      results.push({ run: i, code: r.code, seconds, failures });
      // Keep what explains a run: its log and each package's report.
      for (const group of ['packages', 'apps', 'benchmarks'])
        for (const d of existsSync(join(clone, group)) ? readdirSync(join(clone, group)) : []) {
          const f = join(clone, group, d, 'test-results.json');
          if (existsSync(f)) cpSync(f, join(dir, 'reports', `${group}-${d}.json`));
        }
      if (!o.keep) rmSync(clone, { recursive: true, force: true });
      console.log(
        `  run ${i}/${o.runs}: exit ${r.code} in ${seconds.toFixed(0)} s, ${failures.length} failing${failures.length > 0 ? `: ${failures.map((f) => f.test).join('; ')}` : ''}`,
      );
    }
  } finally {
    if (spin?.pid !== undefined) process.kill(-spin.pid, 'SIGKILL');
  }
  writeFileSync(
    join(base, 'flake-hunt.json'),
    JSON.stringify({ sha, command, busy: o.busy, results }, null, 1),
  );
  console.log('');
  if (byTest.size === 0) console.log(`no test failed in ${o.runs} run(s)`);
  else {
    console.log('failures by test (failed runs / runs, first error):');
    for (const [test, e] of [...byTest].sort((a, b) => b[1].count - a[1].count))
      console.log(`  ${e.count}/${o.runs}  ${test}\n        runs ${e.runs.join(',')}: ${e.error}`);
  }
  const green = results.filter((r) => r.code === 0).length;
  console.log(
    `flake-hunt: ${green} of ${o.runs} run(s) green; summary in ${join(base, 'flake-hunt.json')}`,
  );
  return green === o.runs ? 0 : 1;
}

if (
  process.argv[1] !== undefined &&
  resolve(process.argv[1]) === resolve(import.meta.filename ?? '')
)
  process.exit(await main());
