// pktgen: generate flows on one port, receive them on another (or the same), and report Mpps,
// Gbit/s and one-way latency percentiles (HDR histograms, merged across lcores by the EAL).
import { OptionError } from '@bypass/atomics-sync';
import {
  collectLatency,
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
import { getMac, tryParseIpv4 } from '@bypass/net';
import {
  ethDevConfigure,
  ethDevCount,
  ethDevStart,
  ethDevStop,
  ethMacAddr,
  ethRxQueueSetup,
  ethTxQueueSetup,
} from '@bypass/pmd';
import { type FlowSpec, minFrameSize, type Proto } from './frames.js';
import { type RxConf, STAT_WORDS, Stat, type TxConf } from './lcore.js';

export interface PktgenOptions {
  txPort?: number;
  rxPort?: number;
  proto?: Proto;
  size?: number;
  flows?: number;
  /** Million packets per second; 0 = as fast as possible. */
  rateMpps?: number;
  srcIp?: string;
  dstIp?: string;
  srcPort?: string;
  dstPort?: string;
  durationS?: number;
  periodS?: number;
  print?: (line: string) => void;
}

export interface PktgenResult {
  txPackets: number;
  rxPackets: number;
  txDropped: number;
  rxOther: number;
  seconds: number;
  txMpps: number;
  rxMpps: number;
  rxGbps: number;
  latencyNs: { p50: number; p90: number; p99: number; p999: number; max: number; count: number };
}

/** `text` as a value or a range `low-high` of values that `parse` takes (undefined: not one). */
function range(
  option: string,
  text: string,
  parse: (s: string) => number | undefined,
  expected: string,
): [number, number] {
  const [a, b = a, ...more] = text.split('-');
  const lo = parse(a);
  const hi = parse(b);
  if (lo === undefined || hi === undefined || lo > hi || more.length > 0)
    throw new OptionError(option, text, expected);
  return [lo, hi];
}

const portNum = (s: string) => (/^\d+$/.test(s) && Number(s) <= 65535 ? Number(s) : undefined);

const IP_RANGE = 'an IPv4 address or a range low-high like 198.18.0.1-198.18.0.9';
const PORT_RANGE = 'a port in [0, 65535] or a range low-high like 1024-65535';

/**
 * The flows `o` asks for, between two MAC addresses (48-bit integers); throws OptionError naming
 * a bad option.
 */
export function flowSpecOf(o: PktgenOptions, srcMac: number, dstMac: number): FlowSpec {
  const proto = o.proto ?? 'udp';
  if (proto !== 'udp' && proto !== 'tcp') throw new OptionError('--proto', proto, 'udp or tcp');
  const size = o.size ?? 64;
  const min = minFrameSize(proto);
  if (!Number.isInteger(size) || size < min || size > 1514) {
    throw new OptionError(
      '--size',
      size,
      `a frame size in [${min}, 1514] bytes for ${proto} (without FCS)`,
    );
  }
  const flows = o.flows ?? 1;
  if (!Number.isInteger(flows) || flows < 1 || flows > 1 << 20)
    throw new OptionError('--flows', flows, 'an integer in [1, 1048576]');
  return {
    proto,
    size,
    flows,
    srcMac,
    dstMac,
    srcIp: range('--src-ip', o.srcIp ?? '198.18.0.1', tryParseIpv4, IP_RANGE),
    dstIp: range('--dst-ip', o.dstIp ?? '198.18.1.1', tryParseIpv4, IP_RANGE),
    srcPort: range('--src-port', o.srcPort ?? '1024-65535', portNum, PORT_RANGE),
    dstPort: range('--dst-port', o.dstPort ?? '9', portNum, PORT_RANGE),
  };
}

export function parsePktgenArgs(argv: readonly string[]): PktgenOptions {
  const o: PktgenOptions = {};
  const num = (flag: string, s: string | undefined, min: number): number => {
    const n = Number(s);
    if (s === undefined || !Number.isFinite(n) || n < min)
      throw new OptionError(flag, s ?? 'nothing', `a number >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    switch (a) {
      case '--tx-port':
        o.txPort = num(a, v(), 0);
        break;
      case '--rx-port':
        o.rxPort = num(a, v(), 0);
        break;
      case '--proto':
        o.proto = v() as Proto;
        break;
      case '--size':
        o.size = num(a, v(), 0);
        break;
      case '--flows':
        o.flows = num(a, v(), 1);
        break;
      case '--rate-mpps':
        o.rateMpps = num(a, v(), 0);
        break;
      case '--src-ip':
        o.srcIp = v();
        break;
      case '--dst-ip':
        o.dstIp = v();
        break;
      case '--src-port':
        o.srcPort = v();
        break;
      case '--dst-port':
        o.dstPort = v();
        break;
      case '--duration':
        o.durationS = num(a, v(), 0);
        break;
      case '-T':
        o.periodS = num(a, v(), 0);
        break;
      default:
        throw new OptionError(
          'pktgen option',
          a,
          'one of --tx-port, --rx-port, --proto, --size, --flows, --rate-mpps, --src-ip, --dst-ip, --src-port, --dst-port, --duration, -T',
        );
    }
  }
  return o;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs pktgen on the initialised EAL: tx and rx on worker lcores (both on one if only one). */
export async function runPktgen(o: PktgenOptions = {}): Promise<PktgenResult> {
  const print = o.print ?? console.log;
  const nb = ethDevCount();
  const txPort = o.txPort ?? 0;
  const rxPort = o.rxPort ?? (nb > 1 ? 1 : 0);
  for (const [flag, p] of [
    ['--tx-port', txPort],
    ['--rx-port', rxPort],
  ] as const) {
    if (p >= nb)
      throw new OptionError(
        flag,
        p,
        `a port id below ${nb}, the number of ports (add ports with --vdev)`,
      );
  }
  const workers = lcoreList().filter((l) => l !== mainLcore());
  if (workers.length === 0) {
    throw new OptionError(
      '-l',
      lcoreList().join(','),
      'the main lcore and at least one worker lcore, like 0-1',
    );
  }
  const spec = flowSpecOf(o, getMac(ethMacAddr(txPort), 0), getMac(ethMacAddr(rxPort), 0));
  const pool = 'pktgen_pool';
  pktmbufPoolCreate(pool, { n: 16384, cacheSize: 256 });
  const z = memzoneReserve('pktgen_stats', STAT_WORDS * 8);
  const stats = new Float64Array(z.sab, z.byteOffset, STAT_WORDS);
  for (const p of new Set([txPort, rxPort])) {
    ethDevConfigure(p, { rxQueues: 1, txQueues: 1 });
    ethRxQueueSetup(p, 0, { size: 4096, mempool: pool });
    ethTxQueueSetup(p, 0, { size: 1024 });
  }
  for (const p of new Set([txPort, rxPort])) ethDevStart(p);
  const tx: TxConf = { spec, port: txPort, pool, ratePps: (o.rateMpps ?? 0) * 1e6 };
  const rx: RxConf = { port: rxPort, proto: spec.proto };
  const module = new URL('./lcore.js', import.meta.url);
  if (workers.length >= 2) {
    remoteLaunch(workers[1], module, 'rxMain', { ...rx, pool });
    remoteLaunch(workers[0], module, 'txMain', tx);
  } else remoteLaunch(workers[0], module, 'bothMain', { tx, rx });
  print(
    `PKTGEN: ${spec.proto} ${spec.size}-byte frames, ${spec.flows} flow(s), ${o.rateMpps ? `${o.rateMpps} Mpps` : 'max rate'}, port ${txPort} -> port ${rxPort}, ${workers.length >= 2 ? 'tx and rx on separate lcores' : 'tx and rx on one lcore'}`,
  );
  const t0 = now();
  const endAt = o.durationS ? t0 + o.durationS * 1000 : Number.POSITIVE_INFINITY;
  const periodMs = (o.periodS ?? 1) * 1000;
  let last = { t: t0, tx: 0, rx: 0, rxb: 0 };
  let nextPrint = t0 + periodMs;
  while (!quitRequested() && now() < endAt) {
    // Short sleeps: a stop request (Ctrl-C) is seen within 50 ms, whatever the period.
    const until = Math.min(endAt, periodMs > 0 ? nextPrint : Number.POSITIVE_INFINITY);
    await sleep(Math.max(1, Math.min(50, until - now())));
    const t = now();
    if (periodMs > 0 && t >= nextPrint) {
      nextPrint += periodMs;
      const dt = (t - last.t) / 1000;
      const txp = stats[Stat.TX_PKTS];
      const rxp = stats[Stat.RX_PKTS];
      const rxb = stats[Stat.RX_BYTES];
      print(
        `  tx ${((txp - last.tx) / dt / 1e6).toFixed(2)} Mpps  rx ${((rxp - last.rx) / dt / 1e6).toFixed(2)} Mpps  ${(((rxb - last.rxb) * 8) / dt / 1e9).toFixed(2)} Gbit/s`,
      );
      last = { t, tx: txp, rx: rxp, rxb };
    }
  }
  const seconds = (now() - t0) / 1000;
  stop();
  await mpWaitLcore();
  for (const p of new Set([txPort, rxPort])) ethDevStop(p); // frees what is still in flight
  const { merged } = await collectLatency();
  const r: PktgenResult = {
    txPackets: stats[Stat.TX_PKTS],
    rxPackets: stats[Stat.RX_PKTS],
    txDropped: stats[Stat.TX_DROPPED],
    rxOther: stats[Stat.RX_OTHER],
    seconds,
    txMpps: stats[Stat.TX_PKTS] / seconds / 1e6,
    rxMpps: stats[Stat.RX_PKTS] / seconds / 1e6,
    rxGbps: (stats[Stat.RX_BYTES] * 8) / seconds / 1e9,
    latencyNs: {
      p50: merged.getValueAtPercentile(50),
      p90: merged.getValueAtPercentile(90),
      p99: merged.getValueAtPercentile(99),
      p999: merged.getValueAtPercentile(99.9),
      max: merged.maxValue,
      count: merged.totalCount,
    },
  };
  print(
    `PKTGEN: sent ${r.txPackets} (${r.txMpps.toFixed(2)} Mpps), received ${r.rxPackets} (${r.rxMpps.toFixed(2)} Mpps, ${r.rxGbps.toFixed(2)} Gbit/s), tx dropped ${r.txDropped}`,
  );
  const l = r.latencyNs;
  print(
    `PKTGEN: latency us: p50 ${l.p50 / 1e3}  p90 ${l.p90 / 1e3}  p99 ${l.p99 / 1e3}  p99.9 ${l.p999 / 1e3}  max ${l.max / 1e3}  count ${l.count}`,
  );
  return r;
}
