/**
 * How an EAL process is asked to stop: SIGINT, SIGTERM, or its launcher going away.
 *
 * A terminal's Ctrl-C reaches every process of the foreground process group, and launchers relay
 * it once more to their child: pnpm (npm-lifecycle's procInterupt), npm exec and the tsx CLI
 * (which also relays a SIGTERM sent to it alone). So one Ctrl-C arrives here two or three times
 * within milliseconds. The policy:
 * - the first SIGINT or SIGTERM asks for a clean stop (every lcore stops, the application prints
 *   its summary, ports close, the process exits 0);
 * - further signals within `duplicateWindowMs` of the first are the same request relayed, and are
 *   only counted;
 * - a signal after that window is a person insisting: the process exits at once with 128 + the
 *   signal's number, and says that it skipped the clean stop.
 *
 * The launcher watch covers the other way a launcher ends: killed by SIGTERM, pnpm and npm exec
 * kill their `sh -c` child, which dies without passing the signal on, and the program would run
 * on as an orphan (busy-polling, its tap interface up). At start the watch records the ancestors
 * that share this process's process group (the launcher chain: a job's processes are one group,
 * whose leader is what the person started); when one of them exits, it asks for a clean stop as
 * SIGTERM does. A process started in a group of its own (setsid, a spawn with `detached`) or
 * already re-parented when the EAL starts (`(cmd &)`) records no ancestor and is never stopped by
 * the watch. Linux only (it reads /proc); elsewhere it records nothing.
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

export type StopSignal = 'SIGINT' | 'SIGTERM';
const STOP_SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM'];

/** A process as /proc/PID/stat describes it. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  /** Clock ticks after boot: with the pid, names one process even after the pid is reused. */
  startTime: number;
}

/** Parses /proc/PID/stat's line (comm may hold spaces and parentheses: it ends at the last ')'). */
export function parseProcStat(line: string): ProcStat | undefined {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = line
    .slice(close + 2)
    .trim()
    .split(' ');
  // Fields after comm, from field 3 (state): state ppid pgrp session tty tpgid flags minflt
  // cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime.
  if (f.length < 20) return undefined;
  return {
    pid: Number(line.slice(0, open).trim()),
    comm: line.slice(open + 1, close),
    state: f[0],
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    startTime: Number(f[19]),
  };
}

export function readProcStat(pid: number | 'self'): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The ancestors of `self` in its own process group, nearest first: what launched it (pnpm, its
 * `sh -c`, npx, tsx) up to the group's leader. Empty where /proc is missing or `self` leads
 * its group.
 */
export function launcherChain(
  self: ProcStat | undefined = readProcStat('self'),
  read: (pid: number) => ProcStat | undefined = readProcStat,
): ProcStat[] {
  const chain: ProcStat[] = [];
  if (self === undefined || self.pid === self.pgrp) return chain;
  let pid = self.ppid;
  while (pid > 1 && chain.length < 64) {
    const p = read(pid);
    if (p === undefined || p.pgrp !== self.pgrp) break;
    chain.push(p);
    if (p.pid === p.pgrp) break;
    pid = p.ppid;
  }
  return chain;
}

/** The first process of `chain` that has exited (gone, a zombie, or its pid reused). */
export function goneFrom(
  chain: readonly ProcStat[],
  read: (pid: number) => ProcStat | undefined = readProcStat,
): ProcStat | undefined {
  for (const p of chain) {
    const now = read(p.pid);
    if (now === undefined || now.state === 'Z' || now.startTime !== p.startTime) return p;
  }
  return undefined;
}

export interface StopPolicyOptions {
  /** Called once, with what asked for the stop (the signal's name or the launcher's). */
  onStop: (reason: string) => void;
  /** Logs a line at an RTE_LOG level (3 error, 5 notice, 7 info). */
  log: (level: number, message: string) => void;
  /** Signals this long after the first are duplicates (default 1000 ms). */
  duplicateWindowMs?: number;
  /** Launcher watch period (default 250 ms); 0 turns the watch off. */
  launcherPollMs?: number;
  /** Ends the process (default process.exit); tests pass their own. */
  exit?: (code: number) => void;
  /** Milliseconds clock (default performance.now). */
  clock?: () => number;
}

export const DEFAULT_DUPLICATE_WINDOW_MS = 1000;
export const DEFAULT_LAUNCHER_POLL_MS = 250;

/** Installs the stop policy on this process; uninstall() removes it. */
export class StopPolicy {
  private firstAt = -1;
  private firstReason = '';
  private duplicates = 0;
  private stopped = false;
  private chain: ProcStat[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly window: number;
  private readonly exit: (code: number) => void;
  private readonly clock: () => number;
  private readonly handler = (signal: NodeJS.Signals) => this.signal(signal as StopSignal);

  constructor(private readonly o: StopPolicyOptions) {
    this.window = o.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
    this.exit = o.exit ?? ((code) => process.exit(code));
    this.clock = o.clock ?? (() => performance.now());
  }

  install(): this {
    for (const s of STOP_SIGNALS) process.on(s, this.handler);
    const period = this.o.launcherPollMs ?? DEFAULT_LAUNCHER_POLL_MS;
    if (period > 0) {
      this.chain = launcherChain();
      if (this.chain.length > 0) {
        this.timer = setInterval(() => this.checkLauncher(), period);
        this.timer.unref();
      }
    }
    return this;
  }

  uninstall(): void {
    for (const s of STOP_SIGNALS) process.off(s, this.handler);
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The launcher processes being watched, nearest first. */
  get launchers(): readonly ProcStat[] {
    return this.chain;
  }

  /** Signals taken as relayed copies of the first. */
  get duplicateSignals(): number {
    return this.duplicates;
  }

  /** Applies the policy to one delivered signal. */
  signal(signal: StopSignal): void {
    const t = this.clock();
    if (this.firstAt < 0) {
      this.firstAt = t;
      this.requestStop(
        `${signal} received: stopping all lcores (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again after ${this.window / 1000} s forces the exit)`,
        signal,
      );
      return;
    }
    const after = t - this.firstAt;
    if (after <= this.window) {
      this.duplicates++;
      this.o.log(
        7,
        `${signal} ${after.toFixed(0)} ms after the ${this.firstReason}: the same request, relayed by a launcher`,
      );
      return;
    }
    const code = 128 + constants.signals[signal];
    this.o.log(
      3,
      `${signal} again ${(after / 1000).toFixed(1)} s after the first: exiting now with ${code}, without stopping the lcores cleanly (no summary)`,
    );
    this.exit(code);
  }

  private checkLauncher(): void {
    if (this.stopped) return;
    const gone = goneFrom(this.chain);
    if (gone === undefined) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.requestStop(
      `the launcher exited (pid ${gone.pid}, ${gone.comm}): stopping all lcores`,
      `launcher ${gone.comm} exited`,
    );
  }

  private requestStop(message: string, reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.firstReason = reason;
    // A signal after a launcher-triggered stop counts from then.
    if (this.firstAt < 0) this.firstAt = this.clock();
    this.o.log(5, message);
    this.o.onStop(reason);
  }
}
