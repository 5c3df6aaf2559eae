// The classic demo (`pnpm start -- --classic`), from before httpd and loadgen:
// 1. pktgen on an lcore sends 64-byte UDP flows through a pair of back-to-back user-space ports
//    (net_ring) and receives them again, printing Mpps, Gbit/s and one-way latency percentiles;
// 2. two lcores (worker threads) pass a token back and forth through shared memory, first busy
//    polling, then parked on atomics-sync Doorbells, and print the round-trip latency of each.
import { availableParallelism } from 'node:os';
import { Barrier, Doorbell, OptionError, runWorker } from '@bypass/atomics-sync';
import { cleanup, init } from '@bypass/eal';
import { runPktgen } from '@bypass/pktgen';
import * as hdr from 'hdr-histogram-js';
import { parseFlags } from './flags.js';
import type { PingPongData, PingResult, WaitMode } from './pingpong.js';

export interface DemoOptions {
  roundTrips: number;
  modes: WaitMode[];
  /** Seconds of pktgen (0 skips it). */
  pktgenSeconds: number;
}

/** Parses the classic demo's options; throws OptionError naming a bad one. */
export function parseDemoArgs(argv: string[]): DemoOptions {
  const values = parseFlags(
    'classic demo',
    argv.filter((a) => a !== '--'),
    {
      'round-trips': { type: 'string', default: '30000' },
      'pktgen-seconds': { type: 'string', default: '4' },
      mode: { type: 'string', default: 'spin,park' },
    },
  );
  const roundTrips = Number(values['round-trips']);
  if (!Number.isInteger(roundTrips) || roundTrips < 1)
    throw new OptionError('--round-trips', values['round-trips'], 'a positive integer');
  const modes = values.mode.split(',') as WaitMode[];
  if (modes.some((m) => m !== 'spin' && m !== 'park'))
    throw new OptionError('--mode', values.mode, 'spin, park or spin,park');
  const pktgenSeconds = Number(values['pktgen-seconds']);
  if (!Number.isFinite(pktgenSeconds) || pktgenSeconds < 0) {
    throw new OptionError(
      '--pktgen-seconds',
      values['pktgen-seconds'],
      'a number of seconds >= 0 (0 skips pktgen)',
    );
  }
  return { roundTrips, modes, pktgenSeconds };
}

/** Part 1: pktgen over two back-to-back net_ring ports on lcore 1 (tx and rx in one loop). */
export async function pktgenPart(seconds: number, print: (l: string) => void = console.log) {
  await init(
    { lcores: [0, 1], pin: false, vdevs: ['net_ring0,peer=net_ring1', 'net_ring1,peer=net_ring0'] },
    { handleSignals: true },
  );
  try {
    return await runPktgen({ flows: 64, size: 64, durationS: seconds, periodS: 1, print });
  } finally {
    await cleanup();
  }
}

export interface ModeResult {
  mode: WaitMode;
  roundTrips: number;
  elapsedMs: number;
  percentilesNs: Record<string, number>;
  histogram: string;
}

const PERCENTILES = [50, 90, 99, 99.9, 100];

export async function pingPong(mode: WaitMode, roundTrips: number): Promise<ModeResult> {
  const sab = new SharedArrayBuffer(64);
  const bells: PingPongData['bells'] = [
    Doorbell.create(sab, 0).descriptor,
    Doorbell.create(sab, 8).descriptor,
  ];
  const start = Barrier.create(sab, 16, 2).descriptor;
  const ball = new SharedArrayBuffer(4);
  const module = new URL('./pingpong.js', import.meta.url);
  const common = { mode, roundTrips, warmup: Math.min(10_000, roundTrips), ball, bells, start };
  const [ping] = await Promise.all([
    runWorker<PingResult>(module, {
      workerData: { ...common, side: 'ping' } satisfies PingPongData,
    }),
    runWorker(module, { workerData: { ...common, side: 'pong' } satisfies PingPongData }),
  ]);
  const h = hdr.decodeFromCompressedBase64(ping.histogram);
  const percentilesNs: Record<string, number> = {};
  for (const p of PERCENTILES)
    percentilesNs[p === 100 ? 'max' : `p${p}`] = h.getValueAtPercentile(p);
  return {
    mode,
    roundTrips: h.totalCount,
    elapsedMs: ping.elapsedMs,
    percentilesNs,
    histogram: ping.histogram,
  };
}

function us(ns: number): string {
  return (ns / 1e3).toFixed(2).padStart(9);
}

/** The classic demo's program: `argv` are its options (--round-trips, --mode, --pktgen-seconds). */
export async function runClassic(argv: string[]): Promise<void> {
  const opts = parseDemoArgs(argv);
  if (opts.pktgenSeconds > 0) {
    console.log('bypass demo, part 1: pktgen on lcore 1, 64 flows of 64-byte UDP frames, through');
    console.log(
      'two user-space ports wired back to back (net_ring), received and timed on the same lcore',
    );
    await pktgenPart(opts.pktgenSeconds);
    console.log();
  }
  console.log(
    'bypass demo, part 2: two lcores on worker_threads ping-pong a token through shared memory',
  );
  console.log(`  ${opts.roundTrips} round trips per mode, ${availableParallelism()} CPUs here`);
  if (availableParallelism() < 2) {
    console.log(
      '  note: fewer than 2 CPUs, so the spinning lcores share one core: spin latency is the scheduler',
    );
  }
  const results: ModeResult[] = [];
  for (const mode of opts.modes) {
    process.stdout.write(`  running ${mode}...`);
    const r = await pingPong(mode, opts.roundTrips);
    results.push(r);
    process.stdout.write(` ${(r.roundTrips / r.elapsedMs / 1e3).toFixed(2)} M round trips/s\n`);
  }
  console.log();
  console.log(
    'round-trip latency (us)    p50        p90        p99      p99.9        max     count',
  );
  for (const r of results) {
    const p = r.percentilesNs;
    console.log(
      `  ${(r.mode === 'spin' ? 'busy polling' : 'parked (Doorbell)').padEnd(22)}` +
        `${us(p.p50)}  ${us(p.p90)}  ${us(p.p99)}  ${us(p['p99.9'])}  ${us(p.max)}  ${String(r.roundTrips).padStart(8)}`,
    );
  }
  console.log();
  console.log(
    'Busy polling answers fastest and keeps both cores at 100% even when idle; parking frees',
  );
  console.log(
    'an idle core and pays a futex wake-up (Atomics.notify) on every hand-over, as measured above.',
  );
  console.log('bypass lcores busy-poll by default; adaptive polling spins first, then parks.');
  console.log(
    JSON.stringify({ demo: 'pingpong', results: results.map(({ histogram: _, ...r }) => r) }),
  );
}
