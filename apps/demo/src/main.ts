// The bypass demo (`pnpm start`): httpd on the server lcore(s) and the load generator on the
// client lcore(s), over two user-space ports wired back to back in memory (net_ring), for
// --duration seconds. A live progress line (requests/s, Gbit/s, p99 so far), then a summary
// (requests/s, per-lcore split, the HDR percentile table) and a self-contained HTML report with
// its JSON under reports/ (see @bypass/report).
//   --vdev net_tap0,iface=bp0 [--ip 10.0.0.2/24]: the same server on a tap port, no load
//   generator; prints a curl command to try, Ctrl-C stops.
//   --classic: the earlier demo (pktgen, then a doorbell ping-pong); see classic.ts.
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OptionError } from '@bypass/atomics-sync';
import { cleanup, init, log, STARTUP_INTERRUPTED, startupInterrupted } from '@bypass/eal';
import { type HttpdLcoreResult, parseHttpdArgs, runHttpd, runHttpdLoad } from '@bypass/httpd';
import type { BackToBackResult, LoadProgress } from '@bypass/loadgen';
import { cidrToString, ipv4ToString, parseCidr } from '@bypass/net';
import {
  intervalLog,
  percentileText,
  type RunReport,
  renderRunReport,
  writeReport,
} from '@bypass/report';
import { runClassic } from './classic.js';
import { parseFlags, type ValueFlags } from './flags.js';

export interface StartOptions {
  durationS: number;
  connections: number;
  /** Response body bytes. */
  size: number;
  /** Worker lcores (half serve, rounded up; the others generate load). */
  workers: number;
  /** Tap (or other) ports: serve there instead of running the load generator. */
  vdevs: string[];
  ip: string;
  port: number;
  reportDir: string;
}

export const START_USAGE = `pnpm start [-- options]
  --duration N      seconds of load (default 10)
  --connections N   connections in total (default 64)
  --size N          response body bytes (default 64)
  --workers N       worker lcores, half httpd and half loadgen (default: CPUs - 1, 2 to 8)
  --report-dir DIR  where the HTML report and its JSON go (default: reports/ at the repo root)
  --vdev SPEC       serve on this port instead (e.g. net_tap0,iface=bp0); no load generator,
                    Ctrl-C stops (repeatable)
  --ip A/N          the server's address with --vdev (default 10.0.0.2/24)
  --port N          the server's TCP port (default 8080)
  --classic         the earlier demo: pktgen, then a doorbell ping-pong (its own options follow)`;

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function int(name: string, v: string, lo: number, hi: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < lo || n > hi)
    throw new OptionError(`--${name}`, v, `an integer in [${lo}, ${hi}]`);
  return n;
}

const START_FLAGS = {
  duration: { type: 'string', default: '10' },
  connections: { type: 'string', default: '64' },
  size: { type: 'string', default: '64' },
  workers: { type: 'string' },
  'report-dir': { type: 'string' },
  vdev: { type: 'string', multiple: true },
  ip: { type: 'string', default: '10.0.0.2/24' },
  port: { type: 'string', default: '8080' },
} as const satisfies ValueFlags;

/** Parses `pnpm start`'s options; throws OptionError naming a bad one. */
export function parseStartArgs(argv: string[]): StartOptions {
  const v = parseFlags('demo', argv, START_FLAGS);
  const duration = Number(v.duration);
  if (!Number.isFinite(duration) || duration <= 0 || duration > 3600)
    throw new OptionError('--duration', v.duration, 'seconds in (0, 3600]');
  const ip = cidrToString(parseCidr(v.ip, '--ip'));
  return {
    durationS: duration,
    connections: int('connections', v.connections, 1, 65536),
    size: int('size', v.size, 0, 1 << 30),
    workers: int(
      'workers',
      v.workers ?? String(Math.max(2, Math.min(8, availableParallelism() - 1))),
      2,
      64,
    ),
    vdevs: v.vdev ?? [],
    ip,
    port: int('port', v.port, 1, 65535),
    reportDir: resolve(v['report-dir'] ?? resolve(REPO_ROOT, 'reports')),
  };
}

/** One status line: in place on a terminal, one line per call otherwise. */
export class ProgressLine {
  #live = false;
  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  update(line: string): void {
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${line}`);
      this.#live = true;
    } else {
      this.out.write(`${line}\n`);
    }
  }

  /** Ends the in-place line (a newline), if there is one. */
  done(): void {
    if (this.#live) this.out.write('\n');
    this.#live = false;
  }
}

export function progressText(p: LoadProgress, durationS: number): string {
  const rps = p.requests / p.dt;
  const gbps = (p.bytesRx * 8) / p.dt / 1e9;
  const p99 = p.p99Us === undefined ? '-' : `${p.p99Us.toFixed(1)} us`;
  return `  ${Math.min(p.elapsedS, durationS).toFixed(0).padStart(3)}s / ${durationS}s  ${rps.toFixed(0).padStart(9)} req/s  ${gbps.toFixed(3)} Gbit/s  p99 so far ${p99}  (${p.totalRequests} requests)`;
}

/** The report's document for one run. */
export function runReport(
  o: StartOptions,
  r: BackToBackResult,
  timeline: RunReport['timeline'],
  date: Date,
): RunReport {
  const serverLcores = r.serverLcores.map((l) => {
    const s = r.server[l] as HttpdLcoreResult | undefined;
    const requests = s?.requests ?? 0;
    return { lcore: l, role: 'server' as const, requests, rps: requests / (r.seconds || 1) };
  });
  const clientLcores = r.perLcore.map((p) => ({
    lcore: p.lcore,
    role: 'client' as const,
    requests: p.requests,
    rps: p.requests / (p.seconds || 1),
  }));
  const e = r.errors;
  return {
    title: 'bypass: httpd + loadgen over back-to-back net_ring ports',
    date: date.toISOString(),
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
    },
    params: {
      durationS: o.durationS,
      connections: o.connections,
      responseBytes: o.size,
      pipeline: r.pipeline,
      url: r.url,
      serverLcores: r.serverLcores,
      clientLcores: r.clientLcores,
      link: 'net_ring back to back (in memory)',
    },
    summary: {
      requests: r.requests,
      durationS: r.seconds,
      rps: r.requestsPerSec,
      gbps: r.gbps,
      errors: e.connect + e.read + e.write + e.timeout + r.non2xx,
    },
    lcores: [...serverLcores, ...clientLcores],
    timeline,
    histogram: { encoded: r.histogram, unit: 'ns' },
  };
}

/** httpd + loadgen in memory, with progress, summary and report; returns the report's paths. */
export async function runStart(
  o: StartOptions,
  print: (line: string) => void = console.log,
): Promise<{ html: string; json?: string; result: BackToBackResult }> {
  const lcores = Array.from({ length: o.workers + 1 }, (_, i) => i);
  await init({ lcores, pin: false }, { handleSignals: true });
  const date = new Date();
  const timeline: RunReport['timeline'] = [];
  const line = new ProgressLine();
  let result: BackToBackResult;
  try {
    const servers = Math.ceil(o.workers / 2);
    print(
      `bypass demo: httpd on lcore(s) ${lcores.slice(1, 1 + servers).join(',')}, loadgen on lcore(s) ${lcores.slice(1 + servers).join(',')},`,
    );
    print(
      `  over two user-space ports wired back to back in memory (net_ring): ${o.connections} connections, GET / (${o.size}-byte body), ${o.durationS}s`,
    );
    result = await runHttpdLoad({
      httpd: { port: o.port, size: o.size },
      load: { connections: o.connections, durationS: o.durationS },
      onProgress: (p) => {
        timeline.push({
          t: Math.round(p.elapsedS * 1000) / 1000,
          rps: p.requests / p.dt,
          gbps: (p.bytesRx * 8) / p.dt / 1e9,
          p99us: p.p99Us,
        });
        line.update(progressText(p, o.durationS));
      },
    });
  } finally {
    line.done();
    await cleanup();
  }
  const report = runReport(o, result, timeline, date);
  printSummary(report, result, print);
  const name = `start-${date.toISOString().replace(/[:.]/g, '-')}`;
  const paths = writeReport(o.reportDir, name, renderRunReport(report), report);
  // HdrHistogram's interval log (one interval a second), for HistogramLogAnalyzer.
  const hlog = resolve(o.reportDir, `${name}.hlog`);
  writeFileSync(hlog, intervalLog(result.intervals, 'ns'));
  print(`report: ${paths.html}`);
  if (paths.json !== undefined) print(`        ${paths.json}`);
  print(`        ${hlog}`);
  return { ...paths, result };
}

export function printSummary(
  report: RunReport,
  r: BackToBackResult,
  print: (line: string) => void = console.log,
): void {
  const s = report.summary;
  print('');
  print(
    `${s.requests} requests in ${s.durationS.toFixed(2)}s: ${s.rps.toFixed(0)} requests/s, ${s.gbps.toFixed(3)} Gbit/s in, ${s.errors} errors`,
  );
  for (const l of report.lcores)
    print(
      `  lcore ${String(l.lcore).padStart(2)} ${l.role.padEnd(6)}  ${String(l.requests).padStart(10)} requests  ${l.rps.toFixed(0).padStart(9)}/s`,
    );
  if (r.leaked > 0) print(`  note: ${r.leaked} mbufs were not back in their pools`);
  const l = r.latencyUs;
  print(
    `latency: p50 ${l.p50} us, p90 ${l.p90} us, p99 ${l.p99} us, p99.9 ${l.p999} us, max ${l.max} us (HdrHistogram, in us):`,
  );
  print(percentileText(report.histogram.encoded, report.histogram.unit, 'us'));
}

/** The server alone on the given ports (a tap): a curl command to try, Ctrl-C stops. */
export async function runTap(o: StartOptions, print: (line: string) => void = console.log) {
  const lcores = Array.from({ length: Math.max(2, Math.ceil(o.workers / 2) + 1) }, (_, i) => i);
  await init({ lcores, pin: false, vdevs: o.vdevs }, { handleSignals: true });
  try {
    const args = parseHttpdArgs(['--ip', o.ip, '--port', String(o.port), '--size', String(o.size)]);
    const cidr = parseCidr(o.ip, '--ip');
    const addr = ipv4ToString(cidr.ip);
    const prefix = cidr.prefixLen;
    // The kernel side takes the neighbouring address: .1 for .2, .2 for anything else.
    const peer = ipv4ToString(((cidr.ip & ~0xff) | ((cidr.ip & 0xff) === 1 ? 2 : 1)) >>> 0);
    const iface = /(?:^|,)iface=([^,]+)/.exec(o.vdevs[0])?.[1] ?? 'bp0';
    print(`bypass demo: httpd on ${o.vdevs.join(' ')} at ${o.ip}, port ${o.port}; Ctrl-C stops.`);
    print(`  give the kernel side an address:  sudo ip addr add ${peer}/${prefix} dev ${iface}`);
    print(`  then try:                         curl -i http://${addr}:${o.port}/`);
    await runHttpd(args, print);
  } finally {
    await cleanup();
  }
}

async function main(argv: string[]): Promise<number> {
  const args = argv.filter((a) => a !== '--');
  if (args.includes('--classic')) {
    await runClassic(args.filter((a) => a !== '--classic'));
    return 0;
  }
  if (args.includes('--help') || args.includes('-h')) {
    console.log(START_USAGE);
    return 0;
  }
  const o = parseStartArgs(args);
  if (o.vdevs.length > 0) await runTap(o);
  else await runStart(o);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let code = 1;
  try {
    code = await main(process.argv.slice(2));
  } catch (e) {
    const err = e as Error;
    if (startupInterrupted(err)) {
      log(5, 'EAL', STARTUP_INTERRUPTED);
      code = 0;
    } else console.error(err instanceof OptionError ? `${err.name}: ${err.message}` : err);
  }
  process.exit(code);
}
