import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  goneFrom,
  launcherChain,
  type ProcStat,
  parseProcStat,
  readProcStat,
  StopPolicy,
} from './signals.js';

if (process.platform !== 'linux')
  console.log(`signals.test: skipping the /proc cases: ${process.platform} has no /proc/PID/stat`);

const proc = (pid: number, ppid: number, pgrp: number, comm = 'node', state = 'S'): ProcStat => ({
  pid,
  comm,
  state,
  ppid,
  pgrp,
  startTime: pid * 10,
});

function table(...ps: ProcStat[]) {
  const m = new Map(ps.map((p) => [p.pid, p]));
  return (pid: number) => m.get(pid);
}

describe('parseProcStat', () => {
  it('reads pid, comm (spaces and parentheses included), state, ppid, pgrp and starttime', () => {
    const line =
      '4242 (node (x) y) S 4241 4200 4200 34816 4200 4194560 1133 0 0 0 10 3 0 0 20 0 11 0 987654 1116606464 14260 18446744073709551615';
    expect(parseProcStat(line)).toEqual({
      pid: 4242,
      comm: 'node (x) y',
      state: 'S',
      ppid: 4241,
      pgrp: 4200,
      startTime: 987654,
    });
    expect(parseProcStat('garbage')).toBeUndefined();
    expect(parseProcStat('1 (x) S 0 1')).toBeUndefined();
  });

  it.skipIf(process.platform !== 'linux')('agrees with this process', () => {
    const self = readProcStat('self');
    expect(self?.pid).toBe(process.pid);
    expect(self?.ppid).toBe(process.ppid);
    expect(self?.state).toBe('R');
  });
});

describe('launcherChain and goneFrom', () => {
  // 100 pnpm (group leader) -> 101 sh -c -> 102 node (us); 1 and 50 are outside the group.
  const leader = proc(100, 50, 100, 'pnpm');
  const sh = proc(101, 100, 100, 'sh');
  const self = proc(102, 101, 100);
  const read = table(proc(50, 1, 50, 'bash'), leader, sh, self);

  it('walks up to the group leader, nearest first, and no further', () => {
    expect(launcherChain(self, read).map((p) => p.pid)).toEqual([101, 100]);
  });

  it('records nothing for a group leader (setsid, a detached spawn) or an orphan', () => {
    expect(launcherChain(proc(7, 1, 7), read)).toEqual([]);
    expect(launcherChain(proc(103, 1, 100), read)).toEqual([]);
    expect(launcherChain(undefined, read)).toEqual([]);
  });

  it('stops at a parent in another group', () => {
    const other = proc(201, 50, 50, 'bash');
    expect(launcherChain(proc(202, 201, 100), table(other))).toEqual([]);
  });

  it('sees a launcher exit, turn zombie, or its pid reused', () => {
    const chain = [sh, leader];
    expect(goneFrom(chain, read)).toBeUndefined();
    expect(goneFrom(chain, table(leader))?.pid).toBe(101);
    expect(goneFrom(chain, table(sh, { ...leader, state: 'Z' }))?.pid).toBe(100);
    expect(goneFrom(chain, table({ ...sh, startTime: 1 }, leader))?.pid).toBe(101);
  });
});

function policy(window = 1000) {
  let t = 0;
  const stops: string[] = [];
  const logs: [number, string][] = [];
  const exits: number[] = [];
  const p = new StopPolicy({
    onStop: (r) => stops.push(r),
    log: (l, m) => logs.push([l, m]),
    duplicateWindowMs: window,
    launcherPollMs: 0,
    exit: (c) => exits.push(c),
    clock: () => t,
  });
  return { p, stops, logs, exits, at: (ms: number) => (t = ms) };
}

describe('StopPolicy', () => {
  it('takes the first signal as a stop request and its relayed copies as the same request', () => {
    const { p, stops, logs, exits, at } = policy();
    at(5000);
    p.signal('SIGINT');
    at(5001);
    p.signal('SIGINT'); // pnpm's relay
    at(5030);
    p.signal('SIGTERM'); // pnpm's second-SIGINT path sends SIGTERM
    at(6000);
    p.signal('SIGINT');
    expect(stops).toEqual(['SIGINT']);
    expect(exits).toEqual([]);
    expect(p.duplicateSignals).toBe(3);
    expect(logs[0]).toEqual([
      5,
      'SIGINT received: stopping all lcores (Ctrl-C again after 1 s forces the exit)',
    ]);
    expect(logs[1]).toEqual([
      7,
      'SIGINT 1 ms after the SIGINT: the same request, relayed by a launcher',
    ]);
  });

  it('exits at once, with 128 + the signal number, for a signal after the window, and says so', () => {
    const { p, stops, logs, exits, at } = policy(1000);
    at(0);
    p.signal('SIGTERM');
    at(1500);
    p.signal('SIGINT');
    expect(stops).toEqual(['SIGTERM']);
    expect(exits).toEqual([130]);
    expect(logs.at(-1)).toEqual([
      3,
      'SIGINT again 1.5 s after the first: exiting now with 130, without stopping the lcores cleanly (no summary)',
    ]);
    at(3000);
    p.signal('SIGTERM');
    expect(exits).toEqual([130, 143]);
  });

  it('install() and uninstall() add and remove exactly its own handlers', () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const { p } = policy();
    p.install();
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual([
      before[0] + 1,
      before[1] + 1,
    ]);
    p.uninstall();
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });
});

describe.skipIf(process.platform !== 'linux')('the launcher watch, with real processes', () => {
  it('stops a program whose launcher (sh -c, in its process group) is killed', async () => {
    // sh (group leader) -> sh -c (the launcher that dies) -> node (the program, watching).
    const program = `
      import { StopPolicy } from ${JSON.stringify(new URL('./signals.ts', import.meta.url).href)};
      const p = new StopPolicy({
        onStop: (r) => { console.log('stop: ' + r); process.exit(0); },
        log: (l, m) => console.log(m),
        launcherPollMs: 50,
      }).install();
      console.log('watching ' + p.launchers.map((l) => l.comm).join(','));
      setInterval(() => {}, 1000);`;
    const child = spawn(
      'sh',
      ['-c', `sh -c '${process.execPath} --import tsx --input-type=module -e "$P"; true' & wait`],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, P: program } },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const deadline = Date.now() + 30_000;
    while (!out.includes('watching') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(out).toMatch(/watching sh,sh\n/);
    // Kill the inner sh only: the program is orphaned, its group leader still alive.
    const inner = onlyChildOf(child.pid!);
    process.kill(inner, 'SIGKILL');
    const closed = await new Promise<number | null>((r) => child.on('close', r));
    expect(closed).toBe(0);
    expect(out).toMatch(
      /the launcher exited \(pid \d+, sh\): stopping all lcores\nstop: launcher sh exited\n/,
    );
  });
});

/** The one child of `pid` (the inner `sh -c`). */
function onlyChildOf(pid: number): number {
  const children = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readProcStat(Number(d)))
    .filter((p): p is ProcStat => p !== undefined && p.ppid === pid)
    .map((p) => p.pid);
  if (children.length !== 1) throw new Error(`expected one child of ${pid}, got [${children}]`);
  return children[0];
}
