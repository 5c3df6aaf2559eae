// pnpm bench tap: frames per second received and sent through a net_tap port, against a Node
// program doing the same through the kernel's UDP sockets, all in one run.
//
// Topology. The benchmark creates a network namespace bpbench<pid> and two tap ports (each its
// own interface bptb<4 digits>, moved into the namespace): port 0 with one queue (10.99.60.1/24
// on the kernel side, MAC 02:00:00:00:00:aa on ours), port 1 with two queues (10.99.61.1/24,
// 02:00:00:00:00:ab). A permanent neighbour entry for 10.99.60.2 / 10.99.61.2 points at our MAC,
// so no ARP is needed. All traffic stays inside the namespace, which is removed at the end, on
// errors, on SIGINT/SIGTERM and at exit. Frame sizes are bytes on the tap (Ethernet header
// included, no FCS): 64 bytes = a 22-byte UDP payload, 1500 bytes = a 1458-byte payload; the
// dgram baseline sends and receives datagrams with exactly those payloads.
//
// Series (Mpps, median of the runs; each run measures a window after a warm-up):
// - tap-rx-*: a kernel-side flood sends UDP to 10.99.60.2:9 from inside the namespace (8 flows
//   = 8 connected sockets on source ports 40000-40007, so two queues both get traffic); the
//   kernel routes it out of the tap; lcore 1 (and 2 for two queues) rx-bursts and frees. The
//   sender is the fastest of flood.py with UDP GSO (one send(2) of 64 payloads the kernel cuts
//   into datagrams), flood.py with sendmmsg(2), flood.py with send(2) and peer.mjs (node:dgram),
//   measured at start-up against the tap. Value: frames our port received per second. The
//   sender's own rate and the kernel's drops at the tap are reported beside it; when the tap
//   drops nothing, the sender, not the port, is the limit.
// - dgram-rx-*: the same flood, sent to 10.99.60.1:9000 where a Node program in the namespace
//   has a dgram socket bound (4 MiB receive buffer); value: 'message' events per second. This
//   is what a Node program that used the kernel instead of the tap would receive. Its sender
//   and the socket's overflows are reported beside it.
// - tap-tx-*: lcore 1 (and 2) allocBulk + copies a UDP frame built once (our MAC -> the kernel
//   side's MAC, 10.99.60.2:1234 -> 10.99.60.1:9) + txBurst, 1 or 32 at a time; the kernel takes
//   each frame up its stack to port 9, where a socket that never reads (sink.py, smallest
//   receive buffer) makes it drop them at the socket. Value: frames the tap took per second
//   (port tx stats); the namespace's Udp RcvbufErrors + NoPorts counters are the cross-check.
// - dgram-tx-*: a Node program in the namespace sends the same datagrams with a connected dgram
//   socket to 10.99.60.1:9, where the kernel drops them the same way. Value: its completed sends
//   per second (the same kernel counters as the cross-check). Why the sink: with nothing bound
//   to port 9 the kernel answers every datagram on the namespace's loopback with an ICMP port
//   unreachable (not rate-limited there), and on a connected socket every other send() then
//   fails with ECONNREFUSED, which node:dgram drops silently without a callback: half the
//   "sends" would never have left. (The tap's ICMP errors would go out of the tap, rate-limited,
//   but deciding that is still work per frame.) The sink gives both tx paths the same drop.
// The main thread only sleeps during a measurement. The machine's CPUs are shared: rx series use
// an lcore plus the sender (and the two-queue series two lcores plus the sender).

import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  type BenchResult,
  median,
  round3,
  runBenchmark,
  type Series,
  writeSkipped,
} from '@bypass/bench-harness';
import {
  cleanup,
  init,
  memzoneReserve,
  mpWaitLcore,
  pktmbufPoolCreate,
  remoteLaunch,
} from '@bypass/eal';
import {
  ETH_HEADER_LEN,
  ETHERTYPE_IPV4,
  ethernetEmit,
  IP_PROTO_UDP,
  IPV4_MIN_HEADER_LEN,
  ipv4Emit,
  parseIpv4,
  parseMac,
  UDP_HEADER_LEN,
  udpEmit,
} from '@bypass/net';
import {
  ethDevConfigure,
  ethDevStart,
  ethDevStop,
  ethRxQueueSetup,
  ethStats,
  ethTxQueueSetup,
} from '@bypass/pmd';
import { Netns } from '@bypass/pmd/netns';
import { CTL_ZONE, type LcoreArg, STOP } from './lcore.js';
import {
  NetnsCounters,
  type PeerResult,
  peerResult,
  peerStarted,
  type UdpCounters,
  unavailable,
} from './topology.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
// Warm-up before each window, and one unmeasured run first, quick or not.
const warmS = 0.2;
const windowS = quick ? 0.2 : 1;
const tailS = quick ? 0.05 : 0.15;
const FLOWS = 8;
const RX_PORT = 9000;
const cpus = availableParallelism();
const here = fileURLToPath(new URL('.', import.meta.url));
const LCORE = new URL('./lcore.js', import.meta.url);

/** Our two ports: addresses on the kernel side (.1) and ours (.2). */
const PORTS = [
  { queues: 1, net: '10.99.60', mac: '02:00:00:00:00:aa' },
  { queues: 2, net: '10.99.61', mac: '02:00:00:00:00:ab' },
];

const payloadOf = (frameBytes: number) =>
  frameBytes - ETH_HEADER_LEN - IPV4_MIN_HEADER_LEN - UDP_HEADER_LEN;

/** An Ethernet/IPv4/UDP frame of `size` bytes (DF, TTL 64, payload 0x42, UDP checksum 0 = none). */
function udpFrame(
  size: number,
  srcMac: number,
  dstMac: number,
  srcIp: string,
  dstIp: string,
  sport: number,
  dport: number,
): Uint8Array {
  const f = new Uint8Array(size);
  const payload = new Uint8Array(payloadOf(size)).fill(0x42);
  let off = ethernetEmit({ dst: dstMac, src: srcMac, etherType: ETHERTYPE_IPV4 }, f, 0);
  off += ipv4Emit(
    {
      src: parseIpv4(srcIp),
      dst: parseIpv4(dstIp),
      protocol: IP_PROTO_UDP,
      payloadLength: UDP_HEADER_LEN + payload.length,
      ttl: 64,
      dontFragment: true,
    },
    f,
    off,
  );
  udpEmit({ srcPort: sport, dstPort: dport, payload }, f, off);
  return f;
}

function skip(reason: string): void {
  writeSkipped(
    { bench: 'tap', metric: 'Mpps', baseline: 'dgram-rx-64', params: { quick }, quick },
    reason,
  );
}

// ---------------------------------------------------------------------------------------------
// Sender: the kernel-side flood used by every rx series (subject and baseline alike).

interface Sender {
  name: string;
  cmd: string;
  args: (src: string, dst: string, port: number, payload: number) => string[];
}

const timing = (): string[] => [String(warmS), String(windowS), String(tailS)];
const floodArgs = (s: string, d: string, p: number, n: number) => [
  s,
  d,
  String(p),
  String(n),
  String(FLOWS),
  ...timing(),
];
const python = (name: string, method: string): Sender => ({
  name,
  cmd: 'python3',
  args: (s, d, p, n) => ['flood.py', ...floodArgs(s, d, p, n), method],
});
const SENDERS: Sender[] = [
  python('python3-gso', 'gso'),
  python('python3-sendmmsg', 'mmsg'),
  python('python3-send', 'sendto'),
  {
    name: 'node-dgram',
    cmd: process.execPath,
    args: (s, d, p, n) => ['peer.mjs', 'send', ...floodArgs(s, d, p, n)],
  },
];

// ---------------------------------------------------------------------------------------------

interface Detail {
  /** Frames the kernel-side sender sent per second (rx series), Mpps. */
  senderMpps?: number;
  /** Frames the kernel handed to the tap (taken + dropped there), or datagrams it handed to the
   * receiving socket (read + overflowed), Mpps. */
  offeredMpps?: number;
  /** Share of the offered frames the tap dropped because we did not read them in time. */
  tapDropPct?: number;
  /** Share of the datagrams offered to the receiving socket that overflowed its buffer. */
  rcvbufDropPct?: number;
  /** Datagrams the namespace's UDP dropped at port 9 (RcvbufErrors + NoPorts) per second, tx
   * series: the cross-check of the value. */
  kernelDroppedMpps?: number;
  /** Share of rx frames per queue (two queues). */
  queueShare?: number[];
}

const details = new Map<string, Detail[]>();
function note(name: string, d: Detail, record: boolean): void {
  if (!record) return;
  const list = details.get(name) ?? [];
  list.push(d);
  details.set(name, list);
}

const dropRate = (u0: UdpCounters, u1: UdpCounters, secs: number) =>
  (u1.rcvbufErrors + u1.noPorts - u0.rcvbufErrors - u0.noPorts) / secs / 1e6;

async function main(): Promise<void> {
  const reason = unavailable();
  if (reason !== undefined) {
    skip(reason);
    return;
  }
  let ns: Netns;
  try {
    ns = new Netns(`bpbench${process.pid}`);
  } catch (e) {
    skip(`cannot create a network namespace: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  const base = 1000 + Math.floor(Math.random() * 8999);
  const ifaces = PORTS.map((_, i) => `bptb${base + i}`);
  let started = 0;
  try {
    const counters = new NetnsCounters(ns);
    await init(
      {
        lcores: '0-2',
        pin: false,
        logLevel: 'err',
        vdevs: PORTS.map((p, i) => `net_tap${i},iface=${ifaces[i]},mac=${p.mac}`),
      },
      { handleSignals: false },
    );
    const ctlZone = memzoneReserve(CTL_ZONE, 16);
    const ctl = new Int32Array(ctlZone.sab, ctlZone.byteOffset, 4);
    pktmbufPoolCreate('rx_pool', { n: 8192, cacheSize: 256 });
    pktmbufPoolCreate('tx_pool1', { n: 4096, cacheSize: 256 });
    pktmbufPoolCreate('tx_pool2', { n: 4096, cacheSize: 256 });
    PORTS.forEach((p, port) => {
      ethDevConfigure(port, { rxQueues: p.queues, txQueues: p.queues });
      for (let q = 0; q < p.queues; q++) {
        ethRxQueueSetup(port, q, { size: 1024, mempool: 'rx_pool' });
        ethTxQueueSetup(port, q, { size: 1024 });
      }
      ethDevStart(port);
      started++;
      ns.adopt(ifaces[port], `${p.net}.1/24`);
      ns.neighbour(ifaces[port], `${p.net}.2`, p.mac);
    });
    const kernelMac = ifaces.map((i) => ns.mac(i));
    await peerStarted(ns.peer('python3', ['sink.py'], here));

    function launch(port: number, fn: 'rx' | 'tx', burst: number, size: number) {
      Atomics.store(ctl, STOP, 0);
      const p = PORTS[port];
      for (let q = 0; q < p.queues; q++) {
        const arg: LcoreArg = { port, queue: q, burst };
        if (fn === 'tx') {
          arg.pool = `tx_pool${q + 1}`;
          arg.frame = udpFrame(
            size,
            parseMac(p.mac),
            kernelMac[port],
            `${p.net}.2`,
            `${p.net}.1`,
            1234,
            9,
          );
        }
        remoteLaunch(q + 1, LCORE, fn, arg);
      }
    }

    async function stopLcores(): Promise<void> {
      Atomics.store(ctl, STOP, 1);
      await mpWaitLcore();
    }

    /** The kernel-side flood from `src` to `dst:port`, `size`-byte frames. */
    function flood(sender: Sender, src: string, dst: string, port: number, size: number) {
      return ns.peer(sender.cmd, sender.args(src, dst, port, payloadOf(size)), here);
    }

    let sender = SENDERS[0];

    async function tapRx(port: number, burst: number, size: number, record = true, s = sender) {
      const p = PORTS[port];
      const iface = ifaces[port];
      launch(port, 'rx', burst, size);
      const peer = flood(s, `${p.net}.1`, `${p.net}.2`, 9, size);
      try {
        await peerStarted(peer);
        await sleep(warmS * 1000);
        const s0 = ethStats(port);
        const d0 = counters.dev(iface);
        const t0 = performance.now();
        await sleep(windowS * 1000);
        const s1 = ethStats(port);
        const d1 = counters.dev(iface);
        const secs = (performance.now() - t0) / 1000;
        const r = await peerResult(peer);
        await stopLcores();
        const rx = s1.ipackets - s0.ipackets;
        const dropped = d1.txDropped - d0.txDropped;
        const offered = d1.txPackets - d0.txPackets + dropped;
        const detail: Detail = {
          senderMpps: r.sent / r.seconds / 1e6,
          offeredMpps: offered / secs / 1e6,
          tapDropPct: offered > 0 ? (100 * dropped) / offered : 0,
        };
        if (p.queues > 1) {
          detail.queueShare = s1.rxq.map(
            (x, i) => (x.packets - s0.rxq[i].packets) / Math.max(rx, 1),
          );
        }
        note(`tap-rx-${size}-b${burst}-${p.queues}q`, detail, record);
        return { mpps: rx / secs / 1e6, sender: r };
      } finally {
        peer.kill();
        Atomics.store(ctl, STOP, 1);
        await mpWaitLcore().catch(() => {});
      }
    }

    async function tapTx(port: number, burst: number, size: number): Promise<number> {
      const p = PORTS[port];
      launch(port, 'tx', burst, size);
      try {
        await sleep(warmS * 1000);
        const s0 = ethStats(port);
        const u0 = counters.udp();
        const t0 = performance.now();
        await sleep(windowS * 1000);
        const s1 = ethStats(port);
        const u1 = counters.udp();
        const secs = (performance.now() - t0) / 1000;
        await stopLcores();
        note(
          `tap-tx-${size}-b${burst}-${p.queues}q`,
          { kernelDroppedMpps: dropRate(u0, u1, secs) },
          true,
        );
        return (s1.opackets - s0.opackets) / secs / 1e6;
      } finally {
        Atomics.store(ctl, STOP, 1);
        await mpWaitLcore().catch(() => {});
      }
    }

    async function dgramRx(size: number): Promise<number> {
      const net = PORTS[0].net;
      const rcv = ns.peer(
        process.execPath,
        ['peer.mjs', 'recv', `${net}.1`, String(RX_PORT), String(warmS), String(windowS)],
        here,
      );
      let peer: ReturnType<typeof flood> | undefined;
      try {
        await peerStarted(rcv);
        peer = flood(sender, `${net}.1`, `${net}.1`, RX_PORT, size);
        await peerStarted(peer);
        // The receiver's window starts at its first datagram + warm-up: about when this one does.
        await sleep(warmS * 1000);
        const u0 = counters.udp();
        const t0 = performance.now();
        await sleep(windowS * 1000);
        const u1 = counters.udp();
        const secs = (performance.now() - t0) / 1000;
        const got = await peerResult(rcv);
        const sent = await peerResult(peer);
        const read = u1.inDatagrams - u0.inDatagrams;
        const dropped = u1.rcvbufErrors - u0.rcvbufErrors;
        note(
          `dgram-rx-${size}`,
          {
            senderMpps: sent.sent / sent.seconds / 1e6,
            offeredMpps: (read + dropped) / secs / 1e6,
            rcvbufDropPct: read + dropped > 0 ? (100 * dropped) / (read + dropped) : 0,
          },
          true,
        );
        return got.sent / got.seconds / 1e6;
      } finally {
        rcv.kill();
        peer?.kill();
      }
    }

    async function dgramTx(size: number): Promise<number> {
      const net = PORTS[0].net;
      const peer = ns.peer(
        process.execPath,
        [
          'peer.mjs',
          'send',
          `${net}.1`,
          `${net}.1`,
          '9',
          String(payloadOf(size)),
          '1',
          ...timing(),
        ],
        here,
      );
      try {
        await peerStarted(peer);
        await sleep(warmS * 1000);
        const u0 = counters.udp();
        const t0 = performance.now();
        await sleep(windowS * 1000);
        const u1 = counters.udp();
        const secs = (performance.now() - t0) / 1000;
        const r: PeerResult = await peerResult(peer);
        note(`dgram-tx-${size}`, { kernelDroppedMpps: dropRate(u0, u1, secs) }, true);
        return r.sent / r.seconds / 1e6;
      } finally {
        peer.kill();
      }
    }

    // Pick the fastest kernel-side sender: each candidate floods port 0 for a short window while
    // lcore 1 receives; the one with the highest send rate floods every rx series.
    const calibration: Record<string, number> = {};
    for (const s of SENDERS) {
      try {
        const r = await tapRx(0, 32, 64, false, s);
        calibration[s.name] = round3(r.sender.sent / r.sender.seconds / 1e6);
      } catch (e) {
        console.log(`# sender ${s.name} failed: ${(e as Error).message}`);
      }
    }
    const best = Object.entries(calibration).sort((a, b) => b[1] - a[1])[0];
    if (best === undefined) throw new Error('bench tap: no kernel-side sender works here');
    sender = SENDERS.find((s) => s.name === best[0])!;
    console.log(
      `# kernel-side sender, Mpps at 64 bytes into the tap: ${Object.entries(calibration)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; using ${sender.name}`,
    );

    const share = cpus < 3 ? ` (${cpus} CPUs: 2 lcores and the sender share them)` : '';
    const rxSeries = (size: number, burst: number, queues: number): Series => ({
      name: `tap-rx-${size}-b${burst}-${queues}q`,
      describe: `net_tap rx: ${queues === 1 ? 'lcore 1 rx-bursts' : `lcores 1-${queues} rx-burst one queue each,`} ${burst} at a time and frees; ${size}-byte frames flooded from the namespace by ${sender.name} (${FLOWS} flows)${queues > 1 ? share : ''}`,
      run: async () => (await tapRx(queues - 1, burst, size)).mpps,
    });
    const txSeries = (size: number, burst: number, queues: number): Series => ({
      name: `tap-tx-${size}-b${burst}-${queues}q`,
      describe: `net_tap tx: ${queues === 1 ? 'lcore 1' : `lcores 1-${queues}, one queue each,`} allocBulk ${burst} + copies a ${size}-byte UDP frame + txBurst; the kernel drops it at port 9 (frames the tap took)${queues > 1 && cpus < 3 ? ` (${cpus} CPUs: the 2 lcores take them all)` : ''}`,
      run: () => tapTx(queues - 1, burst, size),
    });
    const dgramRxSeries = (size: number): Series => ({
      name: `dgram-rx-${size}`,
      describe: `node:dgram socket in the namespace receiving ${payloadOf(size)}-byte datagrams (${size}-byte frames) from the same ${sender.name} flood over the namespace's loopback ('message' events)`,
      run: () => dgramRx(size),
    });
    const dgramTxSeries = (size: number): Series => ({
      name: `dgram-tx-${size}`,
      describe: `node:dgram socket in the namespace sending ${payloadOf(size)}-byte datagrams to 10.99.60.1:9 (kernel drops them there, as with tap tx) on a connected socket, 64 send() calls per event-loop turn (completed sends)`,
      run: () => dgramTx(size),
    });

    await runBenchmark(
      {
        bench: 'tap',
        metric: 'Mpps',
        runs: quick ? 3 : 5,
        warmup: 1,
        params: {
          frameBytes: [64, 1500],
          bursts: [1, 32],
          queues: [1, 2],
          warmS,
          windowS,
          flows: FLOWS,
          sender: sender.name,
          senderCalibrationMpps: calibration,
          cpus,
          namespace: ns.name,
          ifaces,
        },
        subject: rxSeries(64, 32, 1),
        baseline: dgramRxSeries(64),
        others: [
          txSeries(64, 32, 1),
          dgramTxSeries(64),
          rxSeries(64, 1, 1),
          txSeries(64, 1, 1),
          rxSeries(1500, 32, 1),
          dgramRxSeries(1500),
          txSeries(1500, 32, 1),
          dgramTxSeries(1500),
          rxSeries(64, 32, 2),
          txSeries(64, 32, 2),
        ],
      },
      argv,
      (r) => summariseDetails(r),
    );
  } finally {
    try {
      for (let p = 0; p < started; p++) ethDevStop(p); // closes the fds: the interfaces go away
      await cleanup();
    } finally {
      ns.remove();
    }
  }
}

/** Medians of the per-run details, a bottleneck verdict per rx series, printed and returned. */
function summariseDetails(r: BenchResult): Record<string, unknown> {
  const out: Record<string, Record<string, unknown>> = {};
  const lines: string[] = [];
  const runs = r.params.runs as number;
  for (const [name, all] of details) {
    const list = all.slice(-runs); // the measured runs, not the warm-up
    const med = (f: (d: Detail) => number | undefined) => {
      const xs = list.map(f).filter((x): x is number => x !== undefined);
      return xs.length > 0 ? round3(median(xs)) : undefined;
    };
    const value = r.cases.find((c) => c.name === name)?.value;
    const o: Record<string, unknown> = {
      senderMpps: med((d) => d.senderMpps),
      offeredMpps: med((d) => d.offeredMpps),
      tapDropPct: med((d) => d.tapDropPct),
      rcvbufDropPct: med((d) => d.rcvbufDropPct),
      kernelDroppedMpps: med((d) => d.kernelDroppedMpps),
    };
    if (list[0].queueShare) {
      o.queueShare = list[0].queueShare.map((_, i) =>
        round3(median(list.map((d) => d.queueShare![i]))),
      );
    }
    let verdict = '';
    if (name.startsWith('tap-rx')) {
      const drop = o.tapDropPct as number;
      verdict =
        drop < 1
          ? 'sender-bound: the tap dropped nothing, the lcore took every frame the sender made'
          : `receiver-bound: the tap dropped ${round3(drop)}% of the frames offered`;
    } else if (name.startsWith('dgram-rx')) {
      const drop = o.rcvbufDropPct as number;
      verdict =
        drop < 1
          ? 'sender-bound: the socket buffer never overflowed'
          : `receiver-bound: the socket buffer overflowed on ${round3(drop)}% of the datagrams`;
    }
    if (verdict) o.bottleneck = verdict;
    for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
    out[name] = o;
    const kv = Object.entries(o)
      .filter(([k]) => k !== 'bottleneck')
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('/') : v}`)
      .join(' ');
    lines.push(`#   ${name}: ${value ?? '?'} Mpps; ${kv}${verdict ? `; ${verdict}` : ''}`);
  }
  console.log('\n# per series (medians): what limited it');
  for (const l of lines) console.log(l);
  return { details: out };
}

await main();
