// pnpm bench l2fwd: packets forwarded per second at 64 bytes.
// Subject: bypass l2fwd between two net_null ports (rx allocates 64-byte mbufs, tx frees; MAC
// rewriting on), at 1 lcore (one lcore polls both ports) and at 2 lcores (one port each), plus
// the main thread (idle, printing nothing). Baseline, in the same run: a node:dgram UDP
// forwarder on the kernel loopback (generator thread -> forwarder thread -> sink thread,
// 18-byte payloads = 64-byte frames), counted at the sink.
import { availableParallelism } from 'node:os';
import { startWorker } from '@bypass/atomics-sync';
import { round3, runBenchmark } from '@bypass/bench-harness';
import {
  cleanup,
  init,
  memzoneReserve,
  mpWaitLcore,
  pktmbufPoolCreate,
  remoteLaunch,
  ringCreate,
  stop,
} from '@bypass/eal';
import { runL2fwd } from '@bypass/l2fwd';
import { ethDevConfigure, ethDevStart, ethRxQueueSetup, ethTxQueueSetup } from '@bypass/pmd';

const quick = process.argv.includes('--quick');
const durationS = quick ? 0.3 : 1;
// Every run starts fresh lcore threads: forward this long before the window opens.
const warmupS = 0.3;
const cpus = availableParallelism();

async function l2fwd(lcores: number): Promise<number> {
  await init(
    {
      lcores: `0-${lcores}`,
      pin: false,
      logLevel: 'err',
      vdevs: ['net_null0,size=64', 'net_null1,size=64'],
    },
    { handleSignals: false },
  );
  try {
    const r = await runL2fwd({
      durationS,
      warmupS,
      periodS: 0,
      queuesPerLcore: lcores === 1 ? 2 : 1,
      print: () => {},
    });
    return r.mpps;
  } finally {
    await cleanup();
  }
}

/** Software RSS: dispatcher lcore 1 spreads a single-queue port over 1 worker ring (lcore 2). */
async function rssDispatch(): Promise<number> {
  await init(
    { lcores: '0-2', pin: false, logLevel: 'err', vdevs: ['net_null0,size=64,copy=1'] },
    { handleSignals: false },
  );
  try {
    pktmbufPoolCreate('rss_pool', { n: 8192, cacheSize: 256 });
    ringCreate('rss_w0', { count: 1024 });
    const z = memzoneReserve('rss_stats', 16);
    const stats = new Float64Array(z.sab, z.byteOffset, 2);
    ethDevConfigure(0, { rxQueues: 1, txQueues: 1 });
    ethRxQueueSetup(0, 0, { size: 1024, mempool: 'rss_pool' });
    ethTxQueueSetup(0, 0, { size: 1024 });
    ethDevStart(0);
    const mod = new URL('./dispatch-lcore.js', import.meta.url);
    remoteLaunch(2, mod, 'drain', 0);
    remoteLaunch(1, mod, 'dispatch', 1);
    await new Promise((r) => setTimeout(r, warmupS * 1000));
    const n0 = stats[0];
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, durationS * 1000));
    const mpps = (stats[0] - n0) / ((performance.now() - t0) / 1000) / 1e6;
    stop();
    await mpWaitLcore();
    return mpps;
  } finally {
    await cleanup();
  }
}

async function dgramForwarder(): Promise<number> {
  const ctl = new SharedArrayBuffer(16);
  const c = new Int32Array(ctl);
  const url = new URL('./dgram-worker.js', import.meta.url);
  const start = (role: string) =>
    new Promise<ReturnType<typeof startWorker>>((resolve, reject) => {
      const w = startWorker(url, { workerData: { role, ctl } });
      w.once('message', () => resolve(w));
      w.once('error', reject);
    });
  const sink = await start('sink');
  const fwd = await start('forwarder');
  const gen = await start('generator');
  await new Promise((r) => setTimeout(r, warmupS * 1000));
  const n0 = Atomics.load(c, 1);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, durationS * 1000));
  const n1 = Atomics.load(c, 1);
  const mpps = (n1 - n0) / ((performance.now() - t0) / 1000) / 1e6;
  Atomics.store(c, 0, 1);
  await Promise.all([sink, fwd, gen].map((w) => new Promise((r) => w.once('exit', r))));
  return mpps;
}

const l2 = { one: [] as number[], two: [] as number[] };
await runBenchmark(
  {
    bench: 'l2fwd',
    metric: 'Mpps',
    params: { frameBytes: 64, burst: 32, ports: 2, driver: 'net_null', warmupS, durationS, cpus },
    subject: {
      name: 'l2fwd-1lcore',
      describe: 'bypass l2fwd, 1 worker lcore polling 2 net_null ports, MAC rewriting, burst 32',
      run: async (q) => {
        const v = await l2fwd(1);
        if (!q) l2.one.push(v);
        return v;
      },
    },
    baseline: {
      name: 'dgram-forwarder',
      describe:
        'node:dgram forwarder thread on 127.0.0.1 (generator and sink threads beside it), 18-byte payloads',
      run: dgramForwarder,
    },
    others: [
      {
        name: 'l2fwd-2lcores',
        describe: `bypass l2fwd, 2 worker lcores, 1 port each${cpus < 3 ? ` (plus the idle main thread: ${cpus} CPUs here)` : ''}`,
        run: async (q) => {
          const v = await l2fwd(2);
          if (!q) l2.two.push(v);
          return v;
        },
      },
      {
        name: 'rss-dispatch',
        describe:
          'software RSS: lcore 1 hashes (Toeplitz, IPv4/UDP 4-tuple) and enqueues net_null frames to a worker ring; lcore 2 frees them',
        run: rssDispatch,
      },
    ],
  },
  process.argv.slice(2),
  (r) => {
    const one = r.cases.find((c) => c.name === 'l2fwd-1lcore')!.value;
    const two = r.cases.find((c) => c.name === 'l2fwd-2lcores')!.value;
    return {
      scaling: {
        lcores: [1, 2],
        mpps: [one, two],
        perLcore: [one, round3(two / 2)],
        efficiency: round3(two / (2 * one)),
        note:
          cpus < 2
            ? 'fewer than 2 CPUs: the 2-lcore point is oversubscribed'
            : `N = ${cpus} cores here`,
      },
    };
  },
);
