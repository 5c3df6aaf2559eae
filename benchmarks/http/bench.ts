// pnpm bench http: requests/s of keep-alive HTTP/1.1 GETs at 64 connections between two threads,
// closed loop (one request in flight per connection, wrk-style: apps/loadgen's logic on both
// sides), and the latency of every request in an HDR histogram (ns), merged over the measured
// runs. Every response is the same size on the wire on every side (common.ts RESPONSE_BYTES:
// apps/httpd's 64-byte body and head; node:http's longer head with a body shorter by the
// difference), checked per run against what the clients counted.
// - subject: apps/httpd on one lcore and apps/loadgen's load generator on another, over
//   back-to-back net_ring ports, run in-process by runHttpdLoad (subject.ts);
// - baseline: node:http (http.createServer) in one worker thread and the same load-generator
//   logic (loadgen's request bytes, HttpAccounting and framing) on node:net sockets in another,
//   over the kernel loopback (baseline.ts, worker.ts);
// - also: node:http's own server on the user-space stack (socket-api's node:net-compatible
//   sockets), same loadgen: what the stack alone gives node:http.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  type BenchResult,
  type LatencySummary,
  latencySummary,
  latencyTable,
  RESULTS_DIR,
  round3,
  runBenchmark,
  type Series,
} from '@bypass/bench-harness';
import {
  otherCores,
  otherCoresBySeries,
  sampleCpu,
  schedulingInfo,
} from '@bypass/bench-tcp-echo/machine';
import * as hdr from 'hdr-histogram-js';
import { nodeHttp } from './baseline.js';
import {
  HOST,
  HTTPD_SIZE,
  type HttpLoad,
  type HttpRunResult,
  NODE_BODY_BYTES,
  PATH,
  RESPONSE_BYTES,
} from './common.js';
import { bypassHttp } from './subject.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const CONNECTIONS = 64;
// Every run starts fresh threads (V8 compiles the hot paths again): each runs its load for
// WARMUP_S uncounted first. The harness's unmeasured first run warms the main thread.
const WARMUP_S = 1;
const DURATION_S = quick ? 1 : 3;
const HARNESS_WARMUP = 1;

const merged = new Map<string, hdr.Histogram>();
const interference = new Map<string, number[]>();
const responseBytes = new Map<string, Set<number>>();
const failures = new Map<string, { errors: number; non2xx: number }>();

function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 100e9,
    numberOfSignificantValueDigits: 3,
  });
}

function series(
  name: string,
  describe: string,
  fn: (l: HttpLoad) => Promise<HttpRunResult>,
): Series {
  merged.set(name, newHistogram());
  interference.set(name, []);
  responseBytes.set(name, new Set());
  failures.set(name, { errors: 0, non2xx: 0 });
  let calls = 0;
  return {
    name,
    describe,
    async run() {
      const before = sampleCpu();
      const r = await fn({ connections: CONNECTIONS, warmupS: WARMUP_S, durationS: DURATION_S });
      const other = otherCores(before, sampleCpu());
      if (r.requests <= 0) throw new Error(`http: ${name} completed no request`);
      if (Math.abs(r.responseBytes - RESPONSE_BYTES) > 1e-6) {
        throw new Error(
          `http: ${name}'s responses were ${r.responseBytes} bytes, not the ${RESPONSE_BYTES} of every side (common.ts)`,
        );
      }
      const f = failures.get(name)!;
      f.errors += r.errors;
      f.non2xx += r.non2xx;
      responseBytes.get(name)!.add(round3(r.responseBytes));
      if (++calls > HARNESS_WARMUP) {
        merged.get(name)!.add(hdr.decodeFromCompressedBase64(r.histogram));
        interference.get(name)!.push(other);
      }
      return r.rps;
    },
  };
}

function extra(result: BenchResult): Record<string, unknown> {
  const latency: Record<string, LatencySummary> = {};
  for (const [name, h] of merged) latency[name] = latencySummary(h, 1e3);
  console.log();
  console.log(
    `# latency, µs, every request of the ${result.params.runs} measured runs merged (request written -> response complete, performance.now() in the client thread)`,
  );
  for (const line of latencyTable(latency, [18, 9, 9, 9, 9, 9, 10])) console.log(line);
  const { bySeries: others, worst } = otherCoresBySeries(interference);
  console.log(
    `# other processes on the machine during the measured runs: at most ${round3(worst)} cores in one run`,
  );
  const bytes: Record<string, number[]> = {};
  for (const [name, set] of responseBytes) bytes[name] = [...set];
  console.log(
    `# response bytes (head + body) per response, as counted by each client: ${JSON.stringify(bytes)}`,
  );
  const failed: Record<string, { errors: number; non2xx: number }> = {};
  for (const [name, f] of failures) failed[name] = f;
  if (Object.values(failed).some((f) => f.errors > 0 || f.non2xx > 0)) {
    console.log(`# errors / non-2xx responses: ${JSON.stringify(failed)}`);
  }
  return {
    latency: { unit: 'µs', histogramUnit: 'ns', series: latency },
    responseBytes: bytes,
    failures: failed,
    otherProcessCores: others,
  };
}

const cpus = availableParallelism();
const load = `${CONNECTIONS} keep-alive connections, closed loop (1 request in flight each), GET ${PATH} with Host: ${HOST}, ${RESPONSE_BYTES}-byte responses (head + body), ${WARMUP_S} s of uncounted load (connecting included), then a ${DURATION_S} s window, TCP_NODELAY on every socket`;
const result = await runBenchmark(
  {
    bench: 'http',
    metric: 'req/s',
    runs: quick ? 3 : 7,
    warmup: HARNESS_WARMUP,
    params: {
      connections: CONNECTIONS,
      warmupS: WARMUP_S,
      durationS: DURATION_S,
      responseBytes: RESPONSE_BYTES,
      bodyBytes: { httpd: HTTPD_SIZE, 'node:http': NODE_BODY_BYTES },
      pipeline: 1,
      keepAlive: true,
      noDelay: true,
      scheduling: schedulingInfo(),
      cpus,
      lcores: 2,
      threads: 2,
      loadgen:
        'apps/loadgen: runBackToBack + runLoad on the stack; its request bytes, HttpAccounting and response framing on node:net for the baseline',
      server:
        'apps/httpd (fixed response, runHttpdLoad) on the stack; node:http in the baseline; node:http on the stack as a further series',
      note: `the machine has ${cpus} cores; bypass runs 2 busy-polling lcores (server, load generator) plus an idle main thread, the baseline 2 worker threads (node:http server, load generator) plus an idle main thread`,
    },
    subject: series(
      'bypass-httpd',
      `apps/httpd (callback API, zero-copy parser, prebuilt ${HTTPD_SIZE}-byte response) on lcore 1, apps/loadgen on lcore 2, user-space TCP over back-to-back net_ring ports (runHttpdLoad); ${load}`,
      (l) => bypassHttp('httpd', l),
    ),
    baseline: series(
      'node-http',
      `node:http (http.createServer, ${NODE_BODY_BYTES}-byte body) in a worker thread, loadgen's logic on node:net in another, kernel TCP over the loopback (127.0.0.1); ${load}`,
      nodeHttp,
    ),
    others: [
      series(
        'bypass-node-http',
        `node:http's server (untouched) on socket-api's node:net-compatible sockets on lcore 1, apps/loadgen on lcore 2, user-space TCP over back-to-back net_ring ports; ${load}`,
        (l) => bypassHttp('node-http', l),
      ),
    ],
  },
  argv,
  extra,
);

// The contract: the results file holds the object and the histograms (kept off the JSON line).
const histograms: Record<string, string> = {};
for (const [name, h] of merged) histograms[name] = hdr.encodeIntoCompressedBase64(h);
writeFileSync(
  join(RESULTS_DIR, 'http.json'),
  `${JSON.stringify({ ...result, histograms }, null, 2)}\n`,
);
