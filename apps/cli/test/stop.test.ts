// Every long-running entry point, started the way the README starts it (a pnpm script, so a
// launcher chain of pnpm and node), stops cleanly when a person stops it:
// - SIGINT to the whole process group, as a terminal's Ctrl-C sends it (pnpm relays a second
//   copy to the program: the EAL takes it as the same request);
// - SIGTERM to the launcher's pid only, as `kill PID` or a service manager sends it.
// Each time: the launcher exits 0, the program printed its summary, no process of the group is
// left, and a tap interface the program made is gone. STOP_TRIALS (default 10) runs each.
// Tap cases run inside a network namespace the test makes (root and /dev/net/tun), and skip
// elsewhere with the reason printed; so do all cases where no pnpm can be found.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readProcStat } from '@bypass/eal';
import { Netns } from '@bypass/pmd/netns';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TRIALS = Number(process.env.STOP_TRIALS ?? 10);

/** pnpm's own script: the one running this test (npm_execpath), or npx's cached copy. */
function findPnpm(): string | undefined {
  const fromEnv = process.env.npm_execpath;
  if (fromEnv?.includes('pnpm') && existsSync(fromEnv)) return fromEnv;
  const want = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    .packageManager as string;
  const npx = join(homedir(), '.npm', '_npx');
  if (!existsSync(npx)) return undefined;
  for (const d of readdirSync(npx)) {
    const pkg = join(npx, d, 'node_modules', 'pnpm', 'package.json');
    if (existsSync(pkg) && `pnpm@${JSON.parse(readFileSync(pkg, 'utf8')).version}` === want)
      return join(npx, d, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
  }
  return undefined;
}

const PNPM = findPnpm();
const noPnpm = PNPM === undefined ? 'no pnpm: run the tests through `pnpm test`' : undefined;
const noTap =
  noPnpm ??
  (process.getuid?.() !== 0
    ? 'not root'
    : !existsSync('/dev/net/tun')
      ? 'no /dev/net/tun'
      : spawnSync('ip', ['-V']).status !== 0
        ? 'no ip(8) (apt-get install iproute2)'
        : undefined);
if (noPnpm) console.log(`stop.test: skipping every entry point: ${noPnpm}`);
else if (noTap) console.log(`stop.test: skipping the tap entry points: ${noTap}`);

/** A program for `bypass run`: an unmodified node:http server. */
const HTTP_APP = join(tmpdir(), `bypass-stop-app-${process.pid}.mjs`);
writeFileSync(
  HTTP_APP,
  `import http from 'node:http';
http.createServer((q, s) => s.end('hi')).listen(8080, () => console.log('app listening'));
`,
);

interface EntryPoint {
  name: string;
  /** pnpm's arguments. */
  args: (iface: string) => string[];
  /** Printed once it runs (stdout and stderr together). */
  ready: RegExp;
  /** Printed after a clean stop. */
  summary: RegExp;
  /** Makes a tap interface (named by `iface`), in a namespace the test makes. */
  tap?: boolean;
}

/** A server app with its load generator on back-to-back ring ports, as its README starts it. */
const serverWithLoadgen = (pkg: string, port: number) =>
  `--filter ${pkg} start -- -l 0-2 -- --port ${port} -T 0.2 --loadgen -c 4 -d 300s`.split(' ');

const ENTRY_POINTS: EntryPoint[] = [
  {
    name: 'pnpm start',
    args: () => ['start', '--', '--duration', '300'],
    ready: /req\/s .*p99 so far/,
    summary: /requests in [\d.]+s: \d+ requests\/s[\s\S]*report: /,
  },
  {
    name: 'pnpm start --vdev net_tap0',
    args: (iface) => ['start', '--', '--vdev', `net_tap0,iface=${iface}`, '--ip', '10.9.0.2/24'],
    ready: /bypass demo: httpd on net_tap0/,
    summary: /HTTPD: lcore 1 \(queue 0\): \d+ connections/,
    tap: true,
  },
  {
    name: 'pnpm bypass run',
    args: (iface) => [
      'bypass',
      'run',
      '--lcores',
      '0-1',
      '--vdev',
      `net_tap0,iface=${iface}`,
      '--ip',
      '10.9.0.2/24',
      HTTP_APP,
    ],
    ready: /app listening/,
    summary:
      /bypass run: stopped after [\d.]+ s\n {2}port net_tap0: rx \d+ packets[\s\S]*lcore 1 \(queue 0\): \d+ frames in/,
    tap: true,
  },
  {
    name: 'l2fwd',
    args: () => [
      '--filter',
      '@bypass/l2fwd',
      'start',
      '--',
      '-l',
      '0-2',
      '--vdev',
      'net_null0',
      '--vdev',
      'net_null1',
      '--',
      '-T',
      '0.2',
    ],
    ready: /Port statistics/,
    summary: /L2FWD: [\d.]+ Mpps forwarded on 2 lcore\(s\)/,
  },
  {
    name: 'pktgen',
    args: () => [
      '--filter',
      '@bypass/pktgen',
      'start',
      '--',
      '-l',
      '0-2',
      '--vdev',
      'net_ring0,peer=net_ring1',
      '--vdev',
      'net_ring1,peer=net_ring0',
      '--',
      '--flows',
      '16',
      '--rate-mpps',
      '0.2',
      '--duration',
      '300',
      '-T',
      '0.2',
    ],
    ready: / tx [\d.]+ Mpps {2}rx /,
    summary: /PKTGEN: sent \d+[\s\S]*PKTGEN: latency us: p50/,
  },
  {
    name: 'echo',
    args: () => serverWithLoadgen('@bypass/echo', 7),
    ready: /\d+ req\/s .*errors/,
    summary: /ECHO: lcore 1 \(queue 0\): 4 connections, \d+ bytes echoed/,
  },
  {
    name: 'httpd',
    args: () => serverWithLoadgen('@bypass/httpd', 8080),
    ready: /\d+ req\/s .*errors/,
    summary: /HTTPD: lcore 1 \(queue 0\): 4 connections, \d+ requests/,
  },
  {
    name: 'loadgen',
    args: () => [
      '--filter',
      '@bypass/loadgen',
      'start',
      '--',
      '-l',
      '0-1',
      '--vdev',
      'net_null0',
      '--',
      '-c',
      '4',
      '-d',
      '300s',
      '-T',
      '0.2',
      'http://10.9.0.2:8080/',
    ],
    ready: /LOADGEN: http GET [\s\S]*\d+ req\/s .*errors/,
    summary: /Requests\/sec: [\d.]+/,
  },
];

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  stopMs: number;
  /** Processes of the group still running (not zombies) once the launcher exited. */
  left: string[];
}

/** The live (non-zombie) processes whose process group is `pgrp`. */
function groupMembers(pgrp: number): string[] {
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const p = readProcStat(Number(d));
    if (p !== undefined && p.pgrp === pgrp && p.state !== 'Z') out.push(`${p.pid} ${p.comm}`);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `cmd` in a process group of its own (a terminal's job), waits for `ready`, stops it. */
async function trial(
  cmd: string[],
  ready: RegExp,
  how: 'group-SIGINT' | 'launcher-SIGTERM',
): Promise<Outcome> {
  const child: ChildProcess = spawn(cmd[0], cmd.slice(1), {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  const pgrp = child.pid!;
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (code, signal) => resolve([code, signal])),
  );
  const closed = new Promise((resolve) => child.on('close', resolve));
  let done: [number | null, NodeJS.Signals | null] | undefined;
  void exited.then((r) => {
    done = r;
  });
  const deadline = Date.now() + 90_000;
  while (!ready.test(out)) {
    if (done !== undefined || Date.now() > deadline) {
      try {
        process.kill(-pgrp, 'SIGKILL');
      } catch {}
      throw new Error(`never ready (${done ? `exited ${done}` : 'timed out'}):\n${out}`);
    }
    await sleep(20);
  }
  const t0 = performance.now();
  if (how === 'group-SIGINT') process.kill(-pgrp, 'SIGINT');
  else process.kill(pgrp, 'SIGTERM');
  const killer = setTimeout(() => {
    try {
      process.kill(-pgrp, 'SIGKILL');
    } catch {}
  }, 30_000);
  const [code, signal] = await exited;
  const stopMs = performance.now() - t0;
  // The launcher has exited; what it started must be gone too. Everything that holds its pipes
  // has exited once they close (npx's launcher exits first and leaves the rest to stop on their
  // own; esbuild's service exits when its parent's pipe closes).
  await Promise.race([closed, sleep(8_000)]);
  clearTimeout(killer);
  let left = groupMembers(pgrp);
  for (let i = 0; i < 50 && left.length > 0; i++) {
    await sleep(20);
    left = groupMembers(pgrp);
  }
  if (left.length > 0) {
    try {
      process.kill(-pgrp, 'SIGKILL');
    } catch {}
  }
  return { code, signal, out, stopMs, left };
}

const stopTimes: Record<string, number[]> = {};
afterAll(() => {
  const rows = Object.entries(stopTimes).map(
    ([k, v]) =>
      `  ${k.padEnd(48)} median ${median(v).toFixed(0).padStart(5)} ms, max ${Math.max(...v)
        .toFixed(0)
        .padStart(5)} ms`,
  );
  if (rows.length > 0)
    console.log(`stop.test: time from the signal to the launcher's exit\n${rows.join('\n')}`);
});

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// The same program under the other launchers a person uses: node itself and npx (the README's
// commands). Not tsx's CLI (`tsx app.ts`): it relays signals itself and SIGKILLs a child that has
// not acknowledged one within 60 ms, which a busy-polling program on a loaded 2-core machine can
// miss (README: run under `node --import tsx`, as the pnpm scripts do).
// npx's npm ends itself with the signal it got (re-raised), whatever its child does: the program
// must still stop cleanly and leave nothing behind (its launcher watch sees `sh -c pnpm` die).
const DEMO = ['apps/demo/src/main.ts', '--duration', '300'];
const LAUNCHERS: { name: string; cmd: () => string[]; reRaises?: boolean }[] = [
  { name: 'node --import tsx', cmd: () => [process.execPath, '--import', 'tsx', ...DEMO] },
  {
    name: 'npx pnpm start',
    cmd: () => [
      'npx',
      '-y',
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).packageManager,
      'start',
      '--',
      '--duration',
      '300',
    ],
    reRaises: true,
  },
];
const LAUNCHER_TRIALS = Math.min(TRIALS, 3);
/** Per test: each trial waits at most 90 s to be ready and 30 s to stop; normally ~3 s. */
const timeoutFor = (trials: number) => trials * 30_000 + 30_000;

describe.skipIf(noPnpm !== undefined)('every launcher stops the whole tree', () => {
  for (const l of LAUNCHERS) {
    for (const how of ['group-SIGINT', 'launcher-SIGTERM'] as const) {
      it(
        `${l.name}: ${how} x${LAUNCHER_TRIALS}`,
        async () => {
          for (let i = 0; i < LAUNCHER_TRIALS; i++) {
            const r = await trial(l.cmd(), ENTRY_POINTS[0].ready, how);
            const what = `${l.name}, ${how}, trial ${i + 1}: exit ${r.code ?? r.signal}, left [${r.left.join(', ')}]\n${r.out}`;
            const sent = how === 'group-SIGINT' ? 'SIGINT' : 'SIGTERM';
            if (l.reRaises) expect([0, sent], what).toContain(r.code ?? r.signal);
            else expect(r.code, what).toBe(0);
            expect(r.left, what).toEqual([]);
            expect(r.out, what).toMatch(ENTRY_POINTS[0].summary);
            expect(r.out, what).toMatch(/EAL: (SIGINT|SIGTERM) received|EAL: the launcher exited/);
            expect(r.out, what).not.toMatch(/exiting now with|ELIFECYCLE/);
          }
        },
        timeoutFor(LAUNCHER_TRIALS),
      );
    }
  }
});

describe.skipIf(noPnpm !== undefined)('every entry point stops cleanly', () => {
  for (const ep of ENTRY_POINTS) {
    const skip = ep.tap ? noTap : undefined;
    for (const how of ['group-SIGINT', 'launcher-SIGTERM'] as const) {
      it.skipIf(skip !== undefined)(
        `${ep.name}: ${how} x${TRIALS}`,
        async () => {
          const netns = ep.tap ? new Netns() : undefined;
          const ns = netns?.name;
          try {
            for (let i = 0; i < TRIALS; i++) {
              const iface = `bpstop${i}`;
              const pnpm = [process.execPath, PNPM!, ...ep.args(iface)];
              const cmd = ns === undefined ? pnpm : ['ip', 'netns', 'exec', ns, ...pnpm];
              const r = await trial(cmd, ep.ready, how);
              const what = `${ep.name}, ${how}, trial ${i + 1}: exit ${r.code ?? r.signal}, left [${r.left.join(', ')}]\n${r.out}`;
              expect(r.code, what).toBe(0);
              expect(r.left, what).toEqual([]);
              expect(r.out, what).toMatch(ep.summary);
              expect(r.out, what).toMatch(
                how === 'group-SIGINT'
                  ? /EAL: SIGINT received: stopping all lcores/
                  : /EAL: SIGTERM received: stopping all lcores/,
              );
              expect(r.out, what).not.toMatch(/forces? the exit now|exiting now with|ELIFECYCLE/);
              if (ns !== undefined) {
                const link = spawnSync('ip', ['-n', ns, 'link', 'show', iface], {
                  encoding: 'utf8',
                });
                expect(link.status, `${what}\n${iface} is still there: ${link.stdout}`).not.toBe(0);
              }
              // A hang guard, not a speed claim: the issue asks for 2 s; afterAll prints the times.
              expect(r.stopMs, what).toBeLessThan(10_000);
              const key = `${ep.name} ${how}`;
              stopTimes[key] = [...(stopTimes[key] ?? []), r.stopMs];
            }
          } finally {
            netns?.remove();
          }
        },
        timeoutFor(TRIALS),
      );
    }
  }
});
