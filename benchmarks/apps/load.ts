// The three workloads, each run from the client namespace against a RunningApp: wrk for the small
// GET (report.lua prints its figures as JSON), client.mjs for the 1 MiB POST echo and the 10 MiB
// download.
import { join } from 'node:path';
import { CLIENT, HERE, type RunningApp } from './servers.js';
import { clientCpuList, type Topology } from './topology.js';

export const POST_BYTES = 1 << 20;
export const DOWNLOAD_BYTES = 10 * (1 << 20);

export interface GetResult {
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  requests: number;
  /** wrk's counters: socket errors (connect, read, write), timeouts, non-2xx/3xx answers. */
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
}

/** `wrk -t1 -cCONNS -dSECONDSs` on GET BASE/. Throws when wrk fails or got no answer at all. */
export async function wrkGet(
  topo: Topology,
  app: RunningApp,
  seconds: number,
  connections: number,
): Promise<GetResult> {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '-s',
    join(HERE, 'report.lua'),
    `${app.base}/`,
  ];
  const r = await topo.client.run(
    'taskset',
    ['-c', clientCpuList(), 'wrk', ...args],
    (seconds + 15) * 1000,
    { cwd: HERE },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('WRK '));
  if (line === undefined) {
    const why = r.timedOut ? 'it did not finish' : `exit ${r.code}`;
    throw new Error(`wrk ${args.join(' ')}: ${why}: ${(r.stderr || r.stdout).trim().slice(-400)}`);
  }
  const w = JSON.parse(line.slice(4)) as {
    requests: number;
    durationUs: number;
    p50Us: number;
    p90Us: number;
    p99Us: number;
    p999Us: number;
    maxUs: number;
    connect: number;
    read: number;
    write: number;
    status: number;
    timeout: number;
  };
  const errors = {
    connect: w.connect,
    read: w.read,
    write: w.write,
    timeout: w.timeout,
    status: w.status,
  };
  if (w.requests === 0) throw new Error(`wrk: no request answered (${JSON.stringify(errors)})`);
  return {
    rps: w.requests / (w.durationUs / 1e6),
    p50Ms: w.p50Us / 1000,
    p90Ms: w.p90Us / 1000,
    p99Ms: w.p99Us / 1000,
    p999Ms: w.p999Us / 1000,
    maxMs: w.maxUs / 1000,
    requests: w.requests,
    errors,
  };
}

export interface TransferResult {
  postMs: number[];
  downloadMBps: number[];
  postErrors: number;
  postTimeouts: number;
  downloadErrors: number;
  downloadTimeouts: number;
  /** Uncounted transfers of each kind made first (1 s of them: client.mjs WARMUP_MS). */
  postWarmups: number;
  downloadWarmups: number;
  errors: string[];
}

/** client.mjs transfer: `posts` timed POSTs of 1 MiB echoed, then `downloads` timed 10 MiB
 * downloads, each kind after 1 s of uncounted ones (client.mjs WARMUP_MS). */
export async function transfer(
  topo: Topology,
  app: RunningApp,
  posts: number,
  downloads: number,
): Promise<TransferResult> {
  const args = [
    CLIENT,
    'transfer',
    app.base,
    String(posts),
    String(downloads),
    String(POST_BYTES),
    String(DOWNLOAD_BYTES),
  ];
  const r = await topo.client.run(
    'taskset',
    ['-c', clientCpuList(), process.execPath, ...args],
    60_000,
    { cwd: HERE },
  );
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (!last.startsWith('{')) {
    const why = r.timedOut ? 'it did not finish in 60 s' : `exit ${r.code}`;
    throw new Error(`client.mjs transfer ${app.base}: ${why}: ${r.stderr.trim().slice(-400)}`);
  }
  return JSON.parse(last) as TransferResult;
}
