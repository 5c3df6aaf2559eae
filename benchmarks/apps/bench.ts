// pnpm bench apps [--quick] [--runs N] [--apps a,b]: unmodified Node servers, on the kernel and on
// bypass, loaded by the same clients from the same namespace.
//
// Apps (apps/*.mjs, plain files as a user writes them): Express 5, Fastify 5 (listen({port, host:
// '0.0.0.0'})), a plain node:http server and a node:https server (a self-signed RSA 2048
// certificate made with openssl at the start of the run, deleted at the end).
// Sides (servers.ts):
// - kernel: `node APP` in a server namespace, reached from the client namespace over a veth pair;
// - bypass: `bypass run --lcores 0-1 --vdev net_tap0,iface=TAP --ip 10.97.2.2/24 APP` in the
//   server namespace, its tap interface moved into the client namespace.
// Workloads, per start of an app (load.ts): a 1 s wrk warm-up, then wrk -t1 on GET / (small JSON,
// 64 connections; 16 for TLS) for 5 s (1 s with --quick): req/s, p50, p99, errors; then
// client.mjs: 1 MiB POST /echo echoed back, timed one at a time over a keep-alive connection
// (10 per round; 3 quick), and 10 MiB GET /download streamed (3 per round; 2 quick): MB/s,
// timeouts and errors. One round starts every app on both sides, kernel first in odd rounds and
// bypass first in even ones; 3 rounds (1 quick).
// Headline: the geometric mean over the apps of bypass's small-GET req/s, against the same mean
// on the kernel, so ratio = the geometric mean of the per-app req/s ratios. An app that did not
// serve on one side is left out of it and named under `failures`.
// CPUs (2 here): bypass runs 1 busy-polling worker lcore (lcore 1) and its main lcore, which only
// supervises; wrk runs 1 thread, client.mjs 1; the kernel's app runs 1 JS thread.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  machineInfo,
  median,
  parseBenchArgs,
  round3,
  writeResult,
  writeSkipped,
} from '@bypass/bench-harness';
import {
  DOWNLOAD_BYTES,
  type GetResult,
  POST_BYTES,
  type TransferResult,
  transfer,
  wrkGet,
} from './load.js';
import {
  type AppSpec,
  BYPASS_LCORES,
  buildPackages,
  HERE,
  type RunningApp,
  type Side,
  startApp,
} from './servers.js';
import {
  clientCpuList,
  clientRpsMask,
  PREFIX,
  SERVER_CPU,
  serverRpsMask,
  TAP_CLIENT_IP,
  TAP_STACK_IP,
  Topology,
  unavailable,
  VETH_CLIENT_IP,
  VETH_SERVER_IP,
} from './topology.js';

const BENCH = 'apps';
const METRIC = 'req/s (small GET, geometric mean over the apps)';

const APPS: AppSpec[] = [
  { name: 'express', file: 'apps/express.mjs', port: 3001, tls: false },
  { name: 'fastify', file: 'apps/fastify.mjs', port: 3002, tls: false },
  { name: 'http', file: 'apps/http.mjs', port: 3003, tls: false },
  { name: 'https', file: 'apps/https.mjs', port: 3004, tls: true },
];
const SIDES: Side[] = ['kernel', 'bypass'];
const WORKLOADS = ['get', 'post', 'download'] as const;
type Workload = (typeof WORKLOADS)[number];

// --apps a,b (development) is ours; the rest is the harness's (--quick, --runs N).
const argv = process.argv.slice(2);
let only: string[] | undefined;
const appsAt = argv.findIndex((a) => a === '--apps' || a.startsWith('--apps='));
if (appsAt >= 0) {
  const v = argv[appsAt].includes('=') ? argv[appsAt].slice(7) : argv[appsAt + 1];
  argv.splice(appsAt, argv[appsAt].includes('=') ? 1 : 2);
  only = (v ?? '').split(',').filter((s) => s !== '');
  const bad = only.filter((n) => !APPS.some((a) => a.name === n));
  if (bad.length > 0 || only.length === 0) {
    console.error(`apps: --apps takes names from ${APPS.map((a) => a.name).join(',')}, got ${v}`);
    process.exit(2);
  }
}
const { quick, runs } = parseBenchArgs(argv);
const ROUNDS = runs ?? (quick ? 1 : 3);
const WARMUP_S = 1;
const GET_S = quick ? 1 : 5;
const POSTS = quick ? 3 : 10;
const DOWNLOADS = quick ? 2 : 3;
const connectionsFor = (app: AppSpec) => (app.tls ? 16 : 64);
const apps = APPS.filter((a) => only === undefined || only.includes(a.name));

/** Everything measured for one app on one side, over the rounds (the transfers' counters summed). */
interface Samples extends Omit<TransferResult, 'errors' | 'postWarmups' | 'downloadWarmups'> {
  getRps: number[];
  p50Ms: number[];
  p90Ms: number[];
  p99Ms: number[];
  p999Ms: number[];
  maxMs: number[];
  requests: number;
  wrkErrors: GetResult['errors'];
  clientErrors: string[];
  startS: number[];
  /** Per workload: why a round gave no figure. */
  failures: Record<Workload, string[]>;
  /** The app did not stop cleanly, and similar. */
  notes: string[];
  /** bypass run's closing summary per round (port and lcore counters). */
  summaries: string[];
}

function emptySamples(): Samples {
  return {
    getRps: [],
    p50Ms: [],
    p90Ms: [],
    p99Ms: [],
    p999Ms: [],
    maxMs: [],
    requests: 0,
    wrkErrors: { connect: 0, read: 0, write: 0, timeout: 0, status: 0 },
    postMs: [],
    downloadMBps: [],
    postErrors: 0,
    postTimeouts: 0,
    downloadErrors: 0,
    downloadTimeouts: 0,
    clientErrors: [],
    startS: [],
    failures: { get: [], post: [], download: [] },
    notes: [],
    summaries: [],
  };
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}

function fmt(x: number | undefined | null, unit = ''): string {
  return x === undefined || x === null || !Number.isFinite(x) ? '-' : `${round3(x)}${unit}`;
}

/** Starts `app` on `side`, runs the three workloads, stops it; records into `s`. */
async function visit(
  topo: Topology,
  app: AppSpec,
  side: Side,
  round: number,
  env: NodeJS.ProcessEnv,
  s: Samples,
): Promise<void> {
  const tag = `round ${round}/${ROUNDS} ${app.name} on ${side}`;
  let running: RunningApp;
  try {
    running = await startApp(topo, app, side, { env });
  } catch (e) {
    const why = `round ${round}: ${oneLine(e)}`;
    for (const w of WORKLOADS) s.failures[w].push(why);
    console.log(`# ${tag}: FAILED to start: ${oneLine(e)}`);
    return;
  }
  s.startS.push(running.startS);
  const parts: string[] = [];
  try {
    try {
      await wrkGet(topo, running, WARMUP_S, connectionsFor(app));
      const g = await wrkGet(topo, running, GET_S, connectionsFor(app));
      s.getRps.push(g.rps);
      s.p50Ms.push(g.p50Ms);
      s.p90Ms.push(g.p90Ms);
      s.p99Ms.push(g.p99Ms);
      s.p999Ms.push(g.p999Ms);
      s.maxMs.push(g.maxMs);
      s.requests += g.requests;
      for (const k of Object.keys(g.errors) as (keyof GetResult['errors'])[])
        s.wrkErrors[k] += g.errors[k];
      const errs = Object.entries(g.errors).filter(([, n]) => n > 0);
      parts.push(
        `GET ${fmt(g.rps)} req/s p50 ${fmt(g.p50Ms)} ms p99 ${fmt(g.p99Ms)} ms${errs.length > 0 ? ` (errors ${errs.map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`,
      );
    } catch (e) {
      s.failures.get.push(`round ${round}: ${oneLine(e)}`);
      parts.push(`GET FAILED: ${oneLine(e)}`);
    }
    try {
      const t: TransferResult = await transfer(topo, running, POSTS, DOWNLOADS);
      s.postMs.push(...t.postMs);
      s.downloadMBps.push(...t.downloadMBps);
      s.postErrors += t.postErrors;
      s.postTimeouts += t.postTimeouts;
      s.downloadErrors += t.downloadErrors;
      s.downloadTimeouts += t.downloadTimeouts;
      for (const m of t.errors) if (s.clientErrors.length < 10) s.clientErrors.push(m);
      if (t.postMs.length === 0) s.failures.post.push(`round ${round}: ${t.errors[0] ?? '?'}`);
      if (t.downloadMBps.length === 0)
        s.failures.download.push(
          `round ${round}: ${t.errors.find((m) => m.startsWith('download')) ?? '?'}`,
        );
      const pe = t.postErrors + t.postTimeouts;
      const de = t.downloadErrors + t.downloadTimeouts;
      parts.push(
        `POST 1 MiB ${t.postMs.length > 0 ? fmt(median(t.postMs), ' ms') : '-'}${pe > 0 ? ` (${t.postTimeouts} timeouts, ${t.postErrors} errors)` : ''}`,
        `download ${t.downloadMBps.length > 0 ? fmt(median(t.downloadMBps), ' MB/s') : '-'}${de > 0 ? ` (${t.downloadTimeouts} timeouts, ${t.downloadErrors} errors)` : ''}`,
      );
      if (t.errors.length > 0) parts.push(`first error: ${t.errors[0]}`);
    } catch (e) {
      s.failures.post.push(`round ${round}: ${oneLine(e)}`);
      s.failures.download.push(`round ${round}: ${oneLine(e)}`);
      parts.push(`POST/download FAILED: ${oneLine(e)}`);
    }
  } finally {
    const note = await running.stop();
    if (running.summary() !== '') s.summaries.push(`round ${round}: ${running.summary()}`);
    if (note !== undefined) {
      s.notes.push(`round ${round}: ${note}`);
      parts.push(`stop: ${note}`);
    }
  }
  console.log(`# ${tag} (ready in ${fmt(running.startS)} s): ${parts.join('; ')}`);
}

function geomean(xs: number[]): number {
  return Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
}

function makeCert(dir: string): { TLS_KEY: string; TLS_CERT: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=bypass-bench-apps',
      '-addext',
      `subjectAltName=IP:${VETH_SERVER_IP},IP:${TAP_STACK_IP}`,
    ],
    { stdio: 'pipe' },
  );
  return { TLS_KEY: key, TLS_CERT: cert };
}

function versionOf(pkg: string): string {
  try {
    const p = JSON.parse(readFileSync(join(HERE, 'node_modules', pkg, 'package.json'), 'utf8'));
    return String(p.version);
  } catch {
    return 'unknown';
  }
}

/** The commit measured, and the tracked files that differed from it (others' work in progress
 * in the same tree is part of what ran). */
function gitState(): { commit: string; modified: string[] } | undefined {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { cwd: HERE, encoding: 'utf8' });
    // Porcelain lines are "XY PATH": the status columns may start with a space, so no trim.
    const modified = git('status', '--porcelain', '--untracked-files=no')
      .split('\n')
      .filter((l) => l.length > 3)
      .map((l) => l.slice(3));
    return { commit: git('rev-parse', '--short', 'HEAD').trim(), modified };
  } catch {
    return undefined;
  }
}

function params(topo?: Topology): Record<string, unknown> {
  return {
    git: gitState(),
    apps: Object.fromEntries(
      apps.map((a) => [a.name, { file: `benchmarks/apps/${a.file}`, port: a.port, tls: a.tls }]),
    ),
    versions: {
      express: versionOf('express'),
      fastify: versionOf('fastify'),
      node: process.version,
    },
    rounds: ROUNDS,
    order: 'per round, each app on both sides: kernel first in odd rounds, bypass first in even',
    get: {
      tool: 'wrk 4.1 (-t1), GET / answering {"hello":"world"}',
      warmupSeconds: WARMUP_S,
      seconds: GET_S,
      connections: { http: 64, https: 16 },
      value:
        "median over the rounds of req/s; p50Ms..p999Ms: median over the rounds of wrk's percentiles (wrk's lua API gives percentiles, not an encoded HDR histogram); maxMs: the largest; count: requests answered in the measured windows",
    },
    post: {
      tool: 'client.mjs (node:http(s) client, keep-alive, one request at a time)',
      bytes: POST_BYTES,
      perRound: POSTS,
      warmupSeconds: 1,
      value:
        'median over every POST of the rounds, ms from request to the last byte echoed back (checked)',
      timeoutMs: 5000,
    },
    download: {
      tool: 'client.mjs',
      bytes: DOWNLOAD_BYTES,
      perRound: DOWNLOADS,
      warmupSeconds: 1,
      value:
        'median over every download of the rounds, MB/s (10^6 bytes) from request to the last byte',
      timeoutMs: 10000,
    },
    headline:
      'geometric mean over the apps of bypass small-GET req/s against the same mean on the kernel (ratio = geometric mean of the per-app req/s ratios); apps that failed on one side are left out and listed under failures',
    ratioOrientation:
      'bypass/kernel, higher is better for bypass: req/s and MB/s as they are, POST time inverted (kernel ms / bypass ms)',
    kernel: `taskset -c ${SERVER_CPU} node APP in namespace ${topo?.server.name ?? 'bpas<pid>'}, ${VETH_SERVER_IP}/${PREFIX} on a veth pair whose other end (${VETH_CLIENT_IP}) is in the client namespace; kernel defaults (MTU 1500, veth offloads)`,
    bypass: `bypass run --lcores ${BYPASS_LCORES} --vdev net_tap0,iface=bpat<pid>x<n> --ip ${TAP_STACK_IP}/${PREFIX} APP (node --import tsx apps/cli/src/main.ts run --code built ...: the lcores run the packages' dist/ on plain node; defaults otherwise: busy polling, 1 ms slice, wildcard both, MTU 1500, tap offload=tso) in the server namespace; its tap interface moved into the client namespace as ${TAP_CLIENT_IP}/${PREFIX}`,
    client: `wrk and client.mjs in namespace ${topo?.client.name ?? 'bpac<pid>'}, the same for both sides; each side's receive processing stays on its own CPUs, as on two machines (RPS): the client's interface (veth end or tap) steers it to CPUs ${clientRpsMask()} (hex mask: all but CPU ${SERVER_CPU}), the server's veth end to CPU mask ${serverRpsMask()}`,
    threads: {
      cpus: availableParallelism(),
      bypass:
        'main lcore 0 (supervises, sleeps) + 1 busy-polling worker lcore (lcore 1) running the app',
      kernel: `1 app JS thread pinned to CPU ${SERVER_CPU} (taskset), its receive softirq steered there too`,
      client: `wrk 1 thread, then client.mjs 1 thread (never at once), pinned to CPUs ${clientCpuList()} (taskset -c): every CPU but ${SERVER_CPU}`,
      busyThreads: 'bypass: 1 busy-polling lcore + 1 wrk thread = 2 on 2 CPUs while wrk runs',
    },
  };
}

interface Case {
  name: string;
  describe: string;
  metric: string;
  value: number | null;
  min: number | null;
  max: number | null;
  runs: number[];
  ratio: number | null;
  [extra: string]: unknown;
}

function buildCases(samples: Map<string, Samples>): {
  cases: Case[];
  ratios: Record<string, Record<Workload, number | null>>;
} {
  const cases: Case[] = [];
  const ratios: Record<string, Record<Workload, number | null>> = {};
  const sideWords = {
    kernel: 'the kernel (node APP over a veth pair)',
    bypass: 'bypass run over tap',
  };
  for (const app of apps) {
    ratios[app.name] = { get: null, post: null, download: null };
    for (const w of WORKLOADS) {
      const byside: Partial<Record<Side, Case>> = {};
      for (const side of ['bypass', 'kernel'] as Side[]) {
        const s = samples.get(`${app.name}/${side}`)!;
        const values = w === 'get' ? s.getRps : w === 'post' ? s.postMs : s.downloadMBps;
        const metric = w === 'get' ? 'req/s' : w === 'post' ? 'ms' : 'MB/s';
        const what =
          w === 'get'
            ? `GET / small JSON, wrk -t1 -c${connectionsFor(app)} ${GET_S} s`
            : w === 'post'
              ? '1 MiB POST /echo echoed back, one at a time, keep-alive'
              : '10 MiB GET /download streamed, one at a time, keep-alive';
        const c: Case = {
          name: `${app.name}/${w}/${side}`,
          describe: `${app.file} on ${sideWords[side]}: ${what}`,
          metric,
          value: values.length > 0 ? round3(median(values)) : null,
          min: values.length > 0 ? round3(Math.min(...values)) : null,
          max: values.length > 0 ? round3(Math.max(...values)) : null,
          runs: values.map(round3),
          ratio: null,
        };
        if (w === 'get') {
          const med = (xs: number[]) => (xs.length > 0 ? round3(median(xs)) : null);
          c.p50Ms = med(s.p50Ms);
          c.p90Ms = med(s.p90Ms);
          c.p99Ms = med(s.p99Ms);
          c.p999Ms = med(s.p999Ms);
          c.maxMs = s.maxMs.length > 0 ? round3(Math.max(...s.maxMs)) : null;
          c.count = s.requests;
          c.errors = { ...s.wrkErrors };
        } else if (w === 'post') {
          c.errors = s.postErrors;
          c.timeouts = s.postTimeouts;
        } else {
          c.errors = s.downloadErrors;
          c.timeouts = s.downloadTimeouts;
        }
        if (w !== 'get' && s.clientErrors.some((m) => m.startsWith(w)))
          c.clientErrors = s.clientErrors.filter((m) => m.startsWith(w));
        if (s.failures[w].length > 0) c.failures = s.failures[w];
        if (c.value === null) c.error = s.failures[w][0] ?? 'no figure';
        if (s.notes.length > 0) c.notes = s.notes;
        if (w === 'get' && s.summaries.length > 0) c.bypassRunSummaries = s.summaries;
        byside[side] = c;
      }
      const b = byside.bypass!;
      const k = byside.kernel!;
      if (k.value !== null) k.ratio = 1;
      if (b.value !== null && k.value !== null)
        b.ratio = round3(w === 'post' ? k.value / b.value : b.value / k.value);
      ratios[app.name][w] = b.ratio;
      cases.push(b, k);
    }
  }
  return { cases, ratios };
}

function skip(reason: string): void {
  writeSkipped(
    { bench: BENCH, metric: METRIC, baseline: 'kernel', params: params(), quick },
    reason,
  );
}

function printTable(cases: Case[]): void {
  const rows = [['case', 'metric', 'median', 'min', 'max', 'p50 ms', 'p99 ms', 'vs kernel']];
  for (const c of cases) {
    rows.push([
      c.name,
      c.metric,
      c.value === null ? 'FAILED' : fmt(c.value),
      fmt(c.min),
      fmt(c.max),
      fmt(c.p50Ms as number | undefined),
      fmt(c.p99Ms as number | undefined),
      c.ratio === null ? '-' : `${fmt(c.ratio)}x`,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log();
  for (const r of rows)
    console.log(
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
}

async function main(): Promise<void> {
  const reason = unavailable();
  if (reason !== undefined) {
    skip(reason);
    return;
  }
  // A failed build throws (the benchmark cannot measure what users run).
  console.log(`# ${BENCH}: built ${buildPackages().join(', ')} (bypass run --code built)`);
  let topo: Topology;
  try {
    topo = new Topology();
  } catch (e) {
    skip(`cannot create the namespaces and veth pair: ${oneLine(e)}`);
    return;
  }
  const certDir = mkdtempSync(join(tmpdir(), 'bypass-bench-apps-'));
  const removeCert = () => rmSync(certDir, { recursive: true, force: true });
  process.once('exit', removeCert);
  try {
    const env = makeCert(certDir);
    console.log(
      `# ${BENCH}: ${apps.map((a) => a.name).join(', ')}; ${ROUNDS} round${ROUNDS > 1 ? 's' : ''}${quick ? ' (quick)' : ''}; client namespace ${topo.client.name}, server namespace ${topo.server.name}`,
    );
    console.log(
      `#   kernel: node APP in ${topo.server.name} at ${VETH_SERVER_IP} over veth; bypass: bypass run --lcores ${BYPASS_LCORES} --vdev net_tap0,iface=TAP --ip ${TAP_STACK_IP}/${PREFIX} APP, TAP moved into ${topo.client.name}`,
    );
    console.log(
      `#   per start: wrk -t1 warm-up ${WARMUP_S} s, GET / for ${GET_S} s (64 connections, TLS 16); 1 s of uncounted then ${POSTS} x 1 MiB POST echo; 1 s of uncounted then ${DOWNLOADS} x 10 MiB download`,
    );
    const samples = new Map<string, Samples>();
    for (const app of apps)
      for (const side of SIDES) samples.set(`${app.name}/${side}`, emptySamples());
    const t0 = performance.now();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const app of apps) {
        const order: Side[] = round % 2 === 1 ? ['kernel', 'bypass'] : ['bypass', 'kernel'];
        for (const side of order)
          await visit(topo, app, side, round, env, samples.get(`${app.name}/${side}`)!);
      }
      console.log(
        `# round ${round}/${ROUNDS} done after ${fmt((performance.now() - t0) / 1000)} s`,
      );
    }

    const { cases, ratios } = buildCases(samples);
    printTable(cases);
    const served = apps.filter((a) =>
      SIDES.every((side) => samples.get(`${a.name}/${side}`)!.getRps.length > 0),
    );
    const failures: string[] = [];
    for (const c of cases) if (c.value === null) failures.push(`${c.name}: ${c.error}`);
    const bypassMedians = served.map((a) => median(samples.get(`${a.name}/bypass`)!.getRps));
    const kernelMedians = served.map((a) => median(samples.get(`${a.name}/kernel`)!.getRps));
    // min/max: the geometric mean of each round's figures (rounds where every served app has one).
    const perRound = (side: Side): number[] => {
      const out: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const xs = served.map((a) => samples.get(`${a.name}/${side}`)!.getRps[r]);
        if (xs.length > 0 && xs.every((x) => x !== undefined)) out.push(geomean(xs));
      }
      return out;
    };
    const value = served.length > 0 ? round3(geomean(bypassMedians)) : null;
    const base = served.length > 0 ? round3(geomean(kernelMedians)) : null;
    const bRounds = perRound('bypass');
    const kRounds = perRound('kernel');
    const result = {
      bench: BENCH,
      metric: METRIC,
      value,
      min: bRounds.length > 0 ? round3(Math.min(...bRounds)) : null,
      max: bRounds.length > 0 ? round3(Math.max(...bRounds)) : null,
      baseline: {
        name: 'kernel',
        value: base,
        min: kRounds.length > 0 ? round3(Math.min(...kRounds)) : null,
        max: kRounds.length > 0 ? round3(Math.max(...kRounds)) : null,
        describe:
          'the same app files under plain node in a server namespace, reached over a veth pair from the same client namespace',
      },
      ratio: served.length > 0 ? round3(geomean(bypassMedians) / geomean(kernelMedians)) : null,
      headlineApps: served.map((a) => a.name),
      ratios,
      failures,
      params: { ...params(topo), runs: ROUNDS },
      machine: machineInfo(),
      cases,
      date: new Date().toISOString(),
      quick,
      durationS: round3((performance.now() - t0) / 1000),
    };
    console.log();
    console.log(
      `# headline: bypass ${fmt(value)} req/s vs kernel ${fmt(base)} req/s (geometric mean over ${served.map((a) => a.name).join(', ') || 'no app'}): ${fmt(result.ratio)}x`,
    );
    for (const f of failures) console.log(`# FAILED ${f}`);
    writeResult(BENCH, result);
  } finally {
    topo.remove();
    removeCert();
  }
}

await main();
