// pnpm bench wakeup: how fast one worker thread can wake another and hear back.
// Subject: Doorbell park/ring round trip (both sides park with the ticket protocol).
// Baseline: postMessage ping-pong over a MessageChannel between the same two threads.
// Others: busy-poll spin round trip, and what one event-loop yield costs an lcore's poll loop
// (setImmediate, microtask, MessageChannel); also (handoff.ts) how long work a poll hands to the
// event loop waits, with requestYield() and without. Every iteration goes into an HDR histogram (ns);
// the per-run value is that run's p50 in µs, and the run-to-run value the median of those.
import { once } from 'node:events';
import { MessageChannel, type Worker } from 'node:worker_threads';
import { Doorbell, startWorker } from '@bypass/atomics-sync';
import {
  type BenchResult,
  type LatencySummary,
  latencySummary,
  latencyTable,
  round3,
  runBenchmark,
  type Series,
} from '@bypass/bench-harness';
import * as hdr from 'hdr-histogram-js';
import { measureHandoff } from './handoff.js';
import { measureIdleCpu } from './idle-cpu.js';
import {
  AB,
  type Ack,
  BA,
  BELL_A_OFFSET,
  BELL_B_OFFSET,
  type Command,
  type Mode,
  type RunResult,
  SAB_BYTES,
  type WakeupData,
} from './layout.js';

const WORKERS = new URL('./workers.js', import.meta.url);
const quickMode = process.argv.includes('--quick');
/** Timed iterations per run, untimed ones before them, and the time cap of one run. */
const sizes = (quick: boolean) =>
  quick ? { count: 2_000, warm: 200, capMs: 500 } : { count: 20_000, warm: 1_000, capMs: 2_000 };
const { count: COUNT, warm: WARM, capMs: CAP_MS } = sizes(quickMode);
const WARMUP_RUNS = 1;

function build(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 1e10,
    numberOfSignificantValueDigits: 3,
  });
}

// Shared state: two Doorbells and two mailbox words, one cache line each.
const sab = new SharedArrayBuffer(SAB_BYTES);
const box = new Int32Array(sab);
const bellA = Doorbell.create(sab, BELL_A_OFFSET);
const bellB = Doorbell.create(sab, BELL_B_OFFSET);
const channel = new MessageChannel();

function start(role: 'A' | 'B', port: MessageChannel['port1']): Worker {
  const workerData: WakeupData = {
    role,
    sab,
    bellA: bellA.descriptor,
    bellB: bellB.descriptor,
    port,
  };
  return startWorker(WORKERS, { workerData, transferList: [port] });
}

/** The next message from `w` (rejects if the worker throws). */
async function next<T>(w: Worker): Promise<T> {
  const [m] = (await once(w, 'message')) as [T];
  return m;
}

const a = start('A', channel.port1);
const b = start('B', channel.port2);
await Promise.all([next<Ack>(a), next<Ack>(b)]);

async function command(mode: Mode, count: number, warm: number): Promise<RunResult> {
  const c: Command = { mode, count, warm, capMs: CAP_MS };
  Atomics.store(box, AB, 0);
  Atomics.store(box, BA, 0);
  // B runs a loop only for the shared-memory series; for postMessage its echo handler is on.
  const bDone = mode === 'doorbell' || mode === 'spin' ? next<Ack>(b) : undefined;
  if (bDone) b.postMessage(c);
  const rA = next<RunResult>(a);
  a.postMessage(c);
  const r = await rA;
  await bDone;
  return r;
}

// The clock's own cost (two back-to-back process.hrtime.bigint reads), measured once up front.
const clock = await command('clock', quickMode ? 20_000 : 200_000, 10_000);

/** Merged histograms of the measured (not warm-up) runs, per series. */
const merged = new Map<Mode, hdr.Histogram>();
const calls = new Map<Mode, number>();
const cappedRuns = new Map<Mode, number>();

function series(name: Mode, describe: string): Series {
  merged.set(name, build());
  calls.set(name, 0);
  cappedRuns.set(name, 0);
  return {
    name,
    describe,
    async run(quick: boolean): Promise<number> {
      const { count, warm } = sizes(quick);
      const r = await command(name, count, warm);
      const n = calls.get(name)! + 1;
      calls.set(name, n);
      if (n > WARMUP_RUNS) {
        merged.get(name)!.add(hdr.decodeFromCompressedBase64(r.histogram));
        if (r.capped) cappedRuns.set(name, cappedRuns.get(name)! + 1);
      }
      return r.p50 / 1e3;
    },
  };
}

const latencySeries: Series[] = [
  series(
    'doorbell',
    "A stores k in a shared word and rings B's Doorbell; B (t = ticket(); no work -> park(t)) " +
      "wakes, stores k back and rings A's Doorbell, A parked likewise: 2 park/wake per round trip",
  ),
  series(
    'postMessage',
    "A posts k to B on a MessageChannel port; B's 'message' handler posts it back; A's handler " +
      'times it and sends the next (callback-driven, no promise per message); both idle in libuv',
  ),
  series(
    'spin',
    'busy-poll round trip: both threads spin on Atomics.load of an Int32Array word, never park ' +
      '(uses both of the 2 cores at 100% while it runs; reference only)',
  ),
  series(
    'yield-setImmediate',
    'one `await new Promise(r => setImmediate(r))` in worker A: the event-loop slice boundary ' +
      'a poll loop pays when it yields (allocates a promise + Immediate per yield, inherent)',
  ),
  series(
    'yield-microtask',
    'one `await Promise.resolve()` in worker A: microtask only, no event-loop turn ' +
      '(allocates a promise per yield, inherent)',
  ),
  series(
    'yield-messageChannel',
    "one yield via A's own MessageChannel: postMessage(0), await the 'message' " +
      '(promise + message per yield, inherent)',
  ),
];

function latencyExtra(result: BenchResult): Record<string, unknown> {
  const latency: Record<string, LatencySummary> = {};
  const histograms: Record<string, string> = {};
  const capped: Record<string, number> = {};
  for (const [name, h] of merged) {
    latency[name] = latencySummary(h);
    histograms[name] = hdr.encodeIntoCompressedBase64(h);
    const c = cappedRuns.get(name)!;
    if (c > 0) capped[name] = c;
  }
  const clockNs = clock.p50;

  console.log();
  console.log(
    `# latency, all ${result.params.runs} measured runs merged, µs ` +
      `(clock: process.hrtime.bigint, a back-to-back pair costs ${clockNs} ns at p50)`,
  );
  for (const line of latencyTable(latency, [20, 10, 10, 10, 10, 10, 8], 1e3)) console.log(line);
  for (const [name, c] of Object.entries(capped)) {
    console.log(`# ${name}: ${c} run(s) hit the ${CAP_MS} ms cap before ${COUNT} iterations`);
  }
  return {
    latency: {
      unit: 'ns',
      clock: 'process.hrtime.bigint',
      clockPairNs: { p50: clock.p50, count: clock.count },
      series: latency,
      ...(Object.keys(capped).length > 0 ? { cappedRuns: capped } : {}),
    },
    histograms,
  };
}

const idleCpu = await measureIdleCpu(process.argv.includes('--quick') ? 300 : 2000);
console.log(
  `# idle lcore CPU (cores used by the process per second of wall time): busy ${round3(idleCpu.busy)}, adaptive ${round3(idleCpu.adaptive)}`,
);
const handoff = await measureHandoff(process.argv.includes('--quick') ? 200 : 2000);
console.log(
  `# poll -> event loop hand-off (a nextTick queued by a poll), µs p50/p99: with requestYield ${handoff.requestYield.p50}/${handoff.requestYield.p99}, waiting for the slice end (--slice-us ${handoff.sliceUs}) ${handoff.sliceEnd.p50}/${handoff.sliceEnd.p99}`,
);

await runBenchmark(
  {
    bench: 'wakeup',
    metric: 'µs p50 RTT',
    higherIsBetter: false,
    warmup: WARMUP_RUNS,
    params: {
      threads: 2,
      iterationsPerRun: COUNT,
      warmIterationsPerRun: WARM,
      capMsPerRun: CAP_MS,
      clock: 'process.hrtime.bigint',
      value: 'median over runs of each run p50, µs; yields: µs per yield',
    },
    subject: latencySeries[0],
    baseline: latencySeries[1],
    others: latencySeries.slice(2),
    teardown: async () => {
      await Promise.all([a.terminate(), b.terminate()]);
    },
  },
  process.argv.slice(2),
  (r) => ({ ...latencyExtra(r), idleCpu, handoff }),
);
