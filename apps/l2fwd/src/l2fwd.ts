// l2fwd's setup and statistics (DPDK examples/l2fwd): pair the enabled ports (0<->1, 2<->3 ...),
// give each worker lcore its share of rx ports, start everything, print the statistics block
// every period, and stop after a duration (or on SIGINT/SIGTERM, through the EAL).
import { OptionError } from '@bypass/atomics-sync';
import {
  collectStats,
  lcoreList,
  mainLcore,
  memzoneReserve,
  mpWaitLcore,
  now,
  pktmbufPoolCreate,
  quitRequested,
  remoteLaunch,
  stop,
} from '@bypass/eal';
import {
  ethDevConfigure,
  ethDevCount,
  ethDevInfo,
  ethDevStart,
  ethDevStop,
  ethMacAddr,
  ethPromiscuousEnable,
  ethRxQueueSetup,
  ethTxQueueSetup,
} from '@bypass/pmd';
import { type LcoreConf, STAT_DROPPED, STAT_RX, STAT_TX, STATS_PER_PORT } from './lcore.js';

export interface L2fwdOptions {
  /** Ports to use (bit i = port i); default every port. Needs an even count. */
  portmask?: number;
  /** Rx ports per lcore (-q); default 1. */
  queuesPerLcore?: number;
  /** Seconds between statistics blocks (-T); 0 turns them off. */
  periodS?: number;
  /** Stop after this many seconds; 0 = run until stop()/SIGINT. */
  durationS?: number;
  /** Forward this long before the measured window starts (default 0): the rate then leaves out
   * V8 compiling the lcores' loops. */
  warmupS?: number;
  macUpdating?: boolean;
  /** Where the statistics blocks go. */
  print?: (line: string) => void;
}

export interface PortResult {
  port: number;
  received: number;
  sent: number;
  dropped: number;
}

export interface L2fwdResult {
  ports: PortResult[];
  totalReceived: number;
  totalSent: number;
  totalDropped: number;
  seconds: number;
  /** Forwarded (sent) packets per second, in millions. */
  mpps: number;
  lcores: number;
}

const L2FWD_FLAGS = '-p PORTMASK, -q N, -T PERIOD, --duration S, --no-mac-updating';

/** Parses l2fwd's own arguments (after `--`); throws OptionError naming a bad one. */
export function parseL2fwdArgs(argv: readonly string[]): L2fwdOptions {
  const o: L2fwdOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new OptionError(a, 'nothing', 'followed by a value');
      return x;
    };
    if (a === '-p') {
      const s = v();
      if (!/^(0x)?[0-9a-f]+$/i.test(s) || Number.parseInt(s, 16) === 0)
        throw new OptionError('-p', s, 'a non-zero hex port mask like 0x3');
      o.portmask = Number.parseInt(s, 16);
    } else if (a === '-q') {
      const s = v();
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1 || n > 16)
        throw new OptionError('-q', s, 'an integer in [1, 16]');
      o.queuesPerLcore = n;
    } else if (a === '-T') {
      const s = v();
      const n = Number(s);
      if (!Number.isFinite(n) || n < 0) throw new OptionError('-T', s, 'seconds >= 0');
      o.periodS = n;
    } else if (a === '--duration') {
      const s = v();
      const n = Number(s);
      if (!Number.isFinite(n) || n < 0) throw new OptionError('--duration', s, 'seconds >= 0');
      o.durationS = n;
    } else if (a === '--no-mac-updating') o.macUpdating = false;
    else throw new OptionError('l2fwd option', a, `one of ${L2FWD_FLAGS}`);
  }
  return o;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs l2fwd on the initialised EAL's ports and worker lcores; resolves with the final counts. */
export async function runL2fwd(options: L2fwdOptions = {}): Promise<L2fwdResult> {
  const print = options.print ?? console.log;
  const nb = ethDevCount();
  const mask = options.portmask ?? (1 << nb) - 1;
  const ports = [...Array(nb).keys()].filter((p) => mask & (1 << p));
  if (ports.length === 0 || ports.length % 2 !== 0) {
    // Without -p the mask is every port: the fix is then more (or fewer) --vdev ports.
    throw new OptionError(
      '-p',
      `0x${mask.toString(16)}`,
      `a mask of an even number of existing ports (there are ${nb}; l2fwd forwards 0<->1, 2<->3, ...: add --vdev ports or fix -p)`,
    );
  }
  const workers = lcoreList().filter((l) => l !== mainLcore());
  const perLcore = options.queuesPerLcore ?? 1;
  if (workers.length * perLcore < ports.length) {
    const need = Math.ceil(ports.length / perLcore);
    throw new OptionError(
      '-l',
      lcoreList().join(','),
      `the main lcore and ${need} worker lcore${need === 1 ? '' : 's'} for ${ports.length} ports at -q ${perLcore} (or raise -q)`,
    );
  }
  const dst: number[] = [];
  for (let i = 0; i < ports.length; i += 2) {
    dst[ports[i]] = ports[i + 1];
    dst[ports[i + 1]] = ports[i];
  }
  const poolName = 'l2fwd_pool';
  pktmbufPoolCreate(poolName, { n: 8192 * Math.max(1, ports.length), cacheSize: 256 });
  const statsZone = memzoneReserve('l2fwd_stats', nb * STATS_PER_PORT * 8);
  const stats = new Float64Array(statsZone.sab, statsZone.byteOffset, nb * STATS_PER_PORT);
  for (const p of ports) {
    ethDevConfigure(p, { rxQueues: 1, txQueues: 1 });
    ethRxQueueSetup(p, 0, { size: 1024, mempool: poolName });
    ethTxQueueSetup(p, 0, { size: 1024 });
  }
  for (const p of ports) {
    ethDevStart(p);
    ethPromiscuousEnable(p);
  }
  const macs = [...Array(nb).keys()].map((p) => [...ethMacAddr(p)]);
  const used: number[] = [];
  for (let i = 0; i < ports.length; i += perLcore) {
    const lcore = workers[i / perLcore];
    const conf: LcoreConf = {
      rxPorts: ports.slice(i, i + perLcore),
      dst,
      macs,
      macUpdating: options.macUpdating ?? true,
      pool: poolName,
    };
    remoteLaunch(lcore, new URL('./lcore.js', import.meta.url), 'lcoreMain', conf);
    used.push(lcore);
    print(
      `L2FWD: lcore ${lcore}: rx ports ${conf.rxPorts.map((p) => `${p} (${ethDevInfo(p).name})`).join(', ')}`,
    );
  }

  // Let the lcores start polling (and warm up) before the clock starts.
  while (used.some((l) => (collectStats().lcores[l]?.loop_polls ?? 0) === 0) && !quitRequested())
    await sleep(5);
  const warmUntil = now() + (options.warmupS ?? 0) * 1000;
  while (now() < warmUntil && !quitRequested()) await sleep(Math.min(50, warmUntil - now()));
  const snapshot = () => ports.map((p) => stats.slice(p * STATS_PER_PORT, p * STATS_PER_PORT + 3));
  const base = snapshot();
  const t0 = now();
  const periodMs = (options.periodS ?? 10) * 1000;
  const endAt = options.durationS ? t0 + options.durationS * 1000 : Number.POSITIVE_INFINITY;
  let nextPrint = t0 + periodMs;
  while (!quitRequested() && now() < endAt) {
    await sleep(Math.max(1, Math.min(50, endAt - now(), periodMs > 0 ? nextPrint - now() : 50)));
    if (periodMs > 0 && now() >= nextPrint) {
      printBlock(print, ports, snapshot());
      nextPrint += periodMs;
    }
  }
  const seconds = (now() - t0) / 1000;
  const end = snapshot();
  stop();
  await mpWaitLcore();
  const after = snapshot(); // the lcores flushed their last buffers
  for (const p of ports) ethDevStop(p);
  printBlock(print, ports, after);
  // Totals since the ports started (as l2fwd prints them): every packet received on a port went
  // out of its pair, sent or dropped. The rate uses the measured window only.
  const results: PortResult[] = ports.map((port, i) => ({
    port,
    received: after[i][STAT_RX],
    sent: after[i][STAT_TX],
    dropped: after[i][STAT_DROPPED],
  }));
  const windowSent = ports.reduce((s, _, i) => s + end[i][STAT_TX] - base[i][STAT_TX], 0);
  return {
    ports: results,
    totalReceived: results.reduce((s, r) => s + r.received, 0),
    totalSent: results.reduce((s, r) => s + r.sent, 0),
    totalDropped: results.reduce((s, r) => s + r.dropped, 0),
    seconds,
    mpps: windowSent / seconds / 1e6,
    lcores: used.length,
  };
}

/** The statistics block of l2fwd's print_stats(): totals since the ports started. */
function printBlock(print: (l: string) => void, ports: number[], cur: Float64Array[]): void {
  let rx = 0;
  let tx = 0;
  let dr = 0;
  print('\nPort statistics ====================================');
  ports.forEach((p, i) => {
    const r = cur[i][STAT_RX];
    const s = cur[i][STAT_TX];
    const d = cur[i][STAT_DROPPED];
    rx += r;
    tx += s;
    dr += d;
    print(`Statistics for port ${p} ------------------------------`);
    print(`Packets sent: ${String(s).padStart(24)}`);
    print(`Packets received: ${String(r).padStart(20)}`);
    print(`Packets dropped: ${String(d).padStart(21)}`);
  });
  print('Aggregate statistics ===============================');
  print(`Total packets sent: ${String(tx).padStart(18)}`);
  print(`Total packets received: ${String(rx).padStart(14)}`);
  print(`Total packets dropped: ${String(dr).padStart(15)}`);
  print('====================================================');
}
