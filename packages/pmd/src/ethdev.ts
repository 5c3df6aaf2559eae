import { OptionError } from '@bypass/atomics-sync';
import {
  ealConfig,
  isMainLcore,
  onCleanup,
  parseVdev,
  pktmbufPoolLookup,
  type VdevSpec,
} from '@bypass/eal';
import { mbufPoolOf, type PktmbufPool } from '@bypass/mempool';
import { macBytes, parseMac as parseMacAddress, rssKeyFromHex } from '@bypass/net';
import { driverFactory, driverNames, type EthDriver, type PortContext } from './driver.js';
import { EthDevError } from './errors.js';
import {
  MAX_QUEUES,
  type PortConf,
  PortState,
  PortTable,
  RETA_MAX,
  RX_STATS,
  RxStat,
  rxStatBase,
  TX_STATS,
  TxStat,
  txStatBase,
  W,
} from './port-table.js';

/**
 * The ethdev API (rte_ethdev): ports probed from --vdev, configured and started on the main
 * thread, polled from any lcore with rxBurst/txBurst. Configuration calls follow DPDK's order:
 * ethDevConfigure, ethRxQueueSetup / ethTxQueueSetup for every queue, ethDevStart.
 */

let table: PortTable | undefined;
/** This thread's open ports, by port id; rebuilt when the port's configuration changes. */
const devs: (EthDev | undefined)[] = [];

class EthDev implements PortContext {
  readonly rxPools: (PktmbufPool | undefined)[] = [];
  readonly stats: Float64Array;
  readonly driver: EthDriver;
  readonly gen: number;
  private readonly words: Uint32Array;
  private readonly stateIndex: number;
  private readonly genIndex: number;

  constructor(
    readonly port: number,
    readonly conf: PortConf,
    readonly table: PortTable,
  ) {
    this.gen = table.word(port, W.CONFIG_GEN);
    this.stats = table.stats(port);
    this.words = table.words;
    this.stateIndex = table.base(port) + W.STATE;
    this.genIndex = table.base(port) + W.CONFIG_GEN;
    for (const q of conf.rxq)
      this.rxPools.push(q?.mempool ? pktmbufPoolLookup(q.mempool) : undefined);
    const factory = driverFactory(conf.driver);
    if (factory === undefined)
      throw new EthDevError(`port ${port}: no driver ${conf.driver} in this thread`);
    this.driver = factory.attach(this);
  }

  /** The port was reconfigured or restarted since this instance attached. */
  stale(): boolean {
    return this.words[this.genIndex] !== this.gen;
  }

  rxBurst(q: number, handles: Uint32Array, max: number): number {
    if (Atomics.load(this.words, this.stateIndex) !== PortState.STARTED) return 0;
    const n = this.driver.rxBurst(q, handles, max);
    if (n > 0) {
      const s = this.stats;
      const b = q * RX_STATS;
      s[b + RxStat.PACKETS] += n;
      s[b + RxStat.BYTES] += bytesOf(handles, n);
    }
    return n;
  }

  txBurst(q: number, handles: Uint32Array, n: number): number {
    if (Atomics.load(this.words, this.stateIndex) !== PortState.STARTED) return 0;
    // Count bytes before the driver takes the mbufs: afterwards they may be freed.
    const bytes = bytesOf(handles, n);
    const k = this.driver.txBurst(q, handles, n);
    const s = this.stats;
    const b = txStatBase(q);
    s[b + TxStat.PACKETS] += k;
    s[b + TxStat.BYTES] += k === n ? bytes : bytes - bytesOf(handles, n, k);
    return k;
  }
}

/** Sum of packet lengths of handles[from..n), looking each mbuf's pool up by its pool id. */
function bytesOf(handles: Uint32Array, n: number, from = 0): number {
  let bytes = 0;
  let pool: PktmbufPool | undefined;
  let id = -1;
  for (let i = from; i < n; i++) {
    const m = handles[i];
    if (m >>> 24 !== id) {
      pool = mbufPoolOf(m);
      id = m >>> 24;
    }
    bytes += pool!.pktLen(m);
  }
  return bytes;
}

function portTable(): PortTable {
  if (table === undefined) {
    table = PortTable.find();
    if (table !== undefined && isMainLcore()) onCleanup(ethDevResetThreadState);
    if (table === undefined) {
      if (!isMainLcore())
        throw new EthDevError(
          'no ports: probe them on the main thread (ethDevProbe) before launching lcores',
        );
      table = PortTable.create();
      onCleanup(ethDevResetThreadState);
      for (const v of ealConfig().vdevs) addPort(table, v);
    }
  }
  return table;
}

function addPort(t: PortTable, v: VdevSpec): number {
  const factory = driverFactory(v.driver);
  if (factory === undefined) {
    throw new EthDevError(
      `--vdev ${v.name}: no driver named ${v.driver}; drivers: ${driverNames().join(', ')}`,
    );
  }
  for (let p = 0; p < t.count(); p++) {
    if (t.readConf(p).name === v.name)
      throw new EthDevError(`--vdev ${v.name}: a port of that name exists (port ${p})`);
  }
  factory.probe(v.name, v.args);
  const port = t.count();
  const mac = v.args.mac ? parseMac(v.name, v.args.mac) : [0x02, 0x00, 0x00, 0x00, 0x00, port];
  return t.add({ name: v.name, driver: v.driver, args: v.args, mac, rxq: [], txq: [] });
}

/** The `mac=` devarg as the six bytes a port's configuration stores. */
function parseMac(dev: string, text: string): number[] {
  let mac: number;
  try {
    mac = parseMacAddress(text);
  } catch {
    throw new OptionError(`${dev} mac`, text, 'six hex bytes like 02:00:00:00:00:01');
  }
  return Array.from(macBytes(mac));
}

function mainOnly(what: string): void {
  if (!isMainLcore())
    throw new EthDevError(
      `${what} is a main-thread call (configure ports before launching lcores)`,
    );
}

function checkPort(port: number, what: string): PortTable {
  const t = portTable();
  if (!Number.isInteger(port) || port < 0 || port >= t.count()) {
    throw new EthDevError(`${what}: no port ${port} (${t.count()} ports; add them with --vdev)`);
  }
  return t;
}

/** Probes the EAL's --vdev devices (done on first use anyway). Returns the number of ports. */
export function ethDevProbe(): number {
  return portTable().count();
}

/** Adds a port at run time from a vdev string (rte_vdev_init). Main thread. Returns its id. */
export function ethDevCreate(vdev: string): number {
  mainOnly('ethDevCreate');
  return addPort(portTable(), parseVdev(vdev));
}

export function ethDevCount(): number {
  return portTable().count();
}

/** The port id of device `name` (rte_eth_dev_get_port_by_name), or -1. */
export function ethDevByName(name: string): number {
  const t = portTable();
  for (let p = 0; p < t.count(); p++) if (t.readConf(p).name === name) return p;
  return -1;
}

export interface EthDevInfo {
  port: number;
  name: string;
  driver: string;
  mac: string;
  rxQueues: number;
  txQueues: number;
  state: 'unconfigured' | 'configured' | 'started' | 'stopped';
  args: Record<string, string>;
  /** The RSS configuration (rss_hf bits and the key as hex, when one was set), if any. */
  rss?: { hf: number; key?: string };
}

const STATE_NAMES: EthDevInfo['state'][] = ['unconfigured', 'configured', 'started', 'stopped'];

export function ethDevInfo(port: number): EthDevInfo {
  const t = checkPort(port, 'ethDevInfo');
  const c = t.readConf(port);
  return {
    port,
    name: c.name,
    driver: c.driver,
    mac: c.mac.map((b) => b.toString(16).padStart(2, '0')).join(':'),
    rxQueues: c.rxq.length,
    txQueues: c.txq.length,
    state: STATE_NAMES[t.word(port, W.STATE)],
    args: c.args,
    rss: c.rss,
  };
}

export interface EthConf {
  rxQueues: number;
  txQueues: number;
  /** Receive-side scaling: RssHf bits and an optional 40-byte key (hex). Needs rxQueues > 1 to matter. */
  rss?: { hf: number; key?: string };
}

function checkQueues(option: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_QUEUES)
    throw new OptionError(option, n, `an integer in [1, ${MAX_QUEUES}]`);
}

/** rte_eth_dev_configure: queue counts and RSS. The port must not be started. */
export function ethDevConfigure(port: number, conf: EthConf): void {
  mainOnly('ethDevConfigure');
  const t = checkPort(port, 'ethDevConfigure');
  if (t.word(port, W.STATE) === PortState.STARTED)
    throw new EthDevError(`port ${port}: stop it before configuring`);
  checkQueues('rxQueues', conf.rxQueues);
  checkQueues('txQueues', conf.txQueues);
  if (conf.rss?.key !== undefined) rssKeyFromHex(conf.rss.key); // throws OptionError when bad
  const c = t.readConf(port);
  c.rxq = Array.from({ length: conf.rxQueues }, () => ({ size: 0 }));
  c.txq = Array.from({ length: conf.txQueues }, () => ({ size: 0 }));
  c.rss = conf.rss;
  t.writeConf(port, c);
  // Default RETA: round robin over the rx queues (as DPDK drivers set it up).
  const reta = t.reta(port);
  for (let i = 0; i < RETA_MAX; i++) Atomics.store(reta, i, i % conf.rxQueues);
  t.setWord(port, W.RETA_SIZE, RETA_MAX);
  t.setWord(port, W.STATE, PortState.CONFIGURED);
}

function checkSetup(port: number, queue: number, dir: 'rx' | 'tx', size: number): PortTable {
  mainOnly(`eth${dir === 'rx' ? 'Rx' : 'Tx'}QueueSetup`);
  const t = checkPort(port, `${dir} queue setup`);
  const c = t.readConf(port);
  const n = dir === 'rx' ? c.rxq.length : c.txq.length;
  if (n === 0) throw new EthDevError(`port ${port}: call ethDevConfigure before setting up queues`);
  if (!Number.isInteger(queue) || queue < 0 || queue >= n) {
    throw new OptionError('queue', queue, `a ${dir} queue of port ${port}, 0 to ${n - 1}`);
  }
  if (!Number.isInteger(size) || size < 2 || (size & (size - 1)) !== 0 || size > 1 << 16) {
    throw new OptionError('size', size, 'a power of two in [2, 65536] (descriptors)');
  }
  if (t.word(port, W.STATE) === PortState.STARTED)
    throw new EthDevError(`port ${port}: stop it before setting up queues`);
  return t;
}

/** rte_eth_rx_queue_setup: `size` descriptors, mbufs from the pool named `mempool` (a pktmbuf
 * pool created with pktmbufPoolCreate, or its handle). */
export function ethRxQueueSetup(
  port: number,
  queue: number,
  o: { size: number; mempool: string | PktmbufPool },
): void {
  const t = checkSetup(port, queue, 'rx', o.size);
  const name = typeof o.mempool === 'string' ? o.mempool : o.mempool.mempool.name;
  pktmbufPoolLookup(name); // fails now, with its name, if there is no such pool
  const c = t.readConf(port);
  c.rxq[queue] = { size: o.size, mempool: name };
  t.writeConf(port, c);
}

export function ethTxQueueSetup(port: number, queue: number, o: { size: number }): void {
  const t = checkSetup(port, queue, 'tx', o.size);
  const c = t.readConf(port);
  c.txq[queue] = { size: o.size };
  t.writeConf(port, c);
}

/** rte_eth_dev_start: every queue must be set up. Brings the link up. */
export function ethDevStart(port: number): void {
  mainOnly('ethDevStart');
  const t = checkPort(port, 'ethDevStart');
  const c = t.readConf(port);
  if (c.rxq.length === 0) throw new EthDevError(`port ${port}: configure it before starting`);
  c.rxq.forEach((q, i) => {
    if (q.size === 0)
      throw new EthDevError(`port ${port}: rx queue ${i} is not set up (ethRxQueueSetup)`);
  });
  c.txq.forEach((q, i) => {
    if (q.size === 0)
      throw new EthDevError(`port ${port}: tx queue ${i} is not set up (ethTxQueueSetup)`);
  });
  if (t.word(port, W.STATE) === PortState.STARTED) return;
  driverFactory(c.driver)!.setup?.(mainContext(t, port, c));
  devs[port]?.driver.close?.();
  devs[port] = undefined; // re-attach after setup, so this thread sees what setup created
  // Other threads re-attach too: their instances hold handles on what setup just replaced (a
  // ring's consumer caches the old producer tail), and bursts compare this generation.
  Atomics.add(t.words, t.base(port) + W.CONFIG_GEN, 1);
  t.setWord(port, W.LINK_UP, 1);
  t.setWord(port, W.LINK_SPEED, 10_000);
  t.setWord(port, W.STATE, PortState.STARTED);
}

/** rte_eth_dev_stop: bursts return 0 until started again. */
export function ethDevStop(port: number): void {
  mainOnly('ethDevStop');
  const t = checkPort(port, 'ethDevStop');
  if (t.word(port, W.STATE) !== PortState.STARTED) return;
  t.setWord(port, W.STATE, PortState.STOPPED);
  t.setWord(port, W.LINK_UP, 0);
  // This thread's instance lets go first (files, stashed rx mbufs), then the shared resources.
  devs[port]?.driver.close?.();
  devs[port] = undefined;
  const c = t.readConf(port);
  driverFactory(c.driver)!.teardown?.(mainContext(t, port, c));
}

/** The context a driver's setup/teardown gets on the main thread (no driver instance). */
function mainContext(t: PortTable, port: number, conf: PortConf): PortContext {
  return {
    port,
    conf,
    table: t,
    stats: t.stats(port),
    rxPools: conf.rxq.map((q) => (q.mempool ? pktmbufPoolLookup(q.mempool) : undefined)),
  };
}

/** This thread's instance of `port`, (re)attached when its configuration changed. */
function open(port: number): EthDev {
  const t = portTable();
  let d = devs[port];
  if (d === undefined || d.gen !== t.word(port, W.CONFIG_GEN)) {
    d?.driver.close?.();
    checkPort(port, 'open');
    d = new EthDev(port, t.readConf(port), t);
    devs[port] = d;
  }
  return d;
}

/**
 * Receives up to `max` packets from rx queue `queue` of `port` into `handles` (rte_eth_rx_burst).
 * Returns how many; the caller owns those mbufs. Returns 0 while the port is not started.
 */
export function rxBurst(port: number, queue: number, handles: Uint32Array, max: number): number {
  const d = devs[port];
  return (d !== undefined && !d.stale() ? d : open(port)).rxBurst(queue, handles, max);
}

/**
 * Sends up to `n` packets from `handles` on tx queue `queue` of `port` (rte_eth_tx_burst).
 * Returns k: the driver took handles[0..k) (and frees them); the caller still owns the rest.
 */
export function txBurst(port: number, queue: number, handles: Uint32Array, n: number): number {
  const d = devs[port];
  return (d !== undefined && !d.stale() ? d : open(port)).txBurst(queue, handles, n);
}

export interface EthStats {
  ipackets: number;
  opackets: number;
  ibytes: number;
  obytes: number;
  imissed: number;
  ierrors: number;
  oerrors: number;
  rxNombuf: number;
  rxq: { packets: number; bytes: number; errors: number; missed: number; nombuf: number }[];
  txq: { packets: number; bytes: number; errors: number }[];
}

/** rte_eth_stats_get: port totals and per-queue counters. */
export function ethStats(port: number): EthStats {
  const t = checkPort(port, 'ethStats');
  const c = t.readConf(port);
  const s = t.stats(port);
  const rxq = c.rxq.map((_, q) => {
    const b = rxStatBase(q);
    return {
      packets: s[b + RxStat.PACKETS],
      bytes: s[b + RxStat.BYTES],
      errors: s[b + RxStat.ERRORS],
      missed: s[b + RxStat.MISSED],
      nombuf: s[b + RxStat.NOMBUF],
    };
  });
  const txq = c.txq.map((_, q) => {
    const b = txStatBase(q);
    return {
      packets: s[b + TxStat.PACKETS],
      bytes: s[b + TxStat.BYTES],
      errors: s[b + TxStat.ERRORS],
    };
  });
  const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
  return {
    ipackets: sum(rxq, (q) => q.packets),
    opackets: sum(txq, (q) => q.packets),
    ibytes: sum(rxq, (q) => q.bytes),
    obytes: sum(txq, (q) => q.bytes),
    imissed: sum(rxq, (q) => q.missed),
    ierrors: sum(rxq, (q) => q.errors),
    oerrors: sum(txq, (q) => q.errors),
    rxNombuf: sum(rxq, (q) => q.nombuf),
    rxq,
    txq,
  };
}

/** Extended stats by name (rte_eth_xstats_get): rx_q0_packets, tx_q1_bytes, ... and totals. */
export function ethXstats(port: number): Record<string, number> {
  const st = ethStats(port);
  const out: Record<string, number> = {
    rx_good_packets: st.ipackets,
    tx_good_packets: st.opackets,
    rx_good_bytes: st.ibytes,
    tx_good_bytes: st.obytes,
    rx_missed_errors: st.imissed,
    rx_errors: st.ierrors,
    tx_errors: st.oerrors,
    rx_mbuf_allocation_errors: st.rxNombuf,
  };
  st.rxq.forEach((q, i) => {
    for (const [k, v] of Object.entries(q)) out[`rx_q${i}_${k}`] = v;
  });
  st.txq.forEach((q, i) => {
    for (const [k, v] of Object.entries(q)) out[`tx_q${i}_${k}`] = v;
  });
  return out;
}

export function ethStatsReset(port: number): void {
  checkPort(port, 'ethStatsReset').stats(port).fill(0);
}

export function ethLinkGet(port: number): { up: boolean; speedMbps: number } {
  const t = checkPort(port, 'ethLinkGet');
  return { up: t.word(port, W.LINK_UP) === 1, speedMbps: t.word(port, W.LINK_SPEED) };
}

export function ethMacAddr(port: number): Uint8Array {
  return Uint8Array.from(checkPort(port, 'ethMacAddr').readConf(port).mac);
}

export function ethPromiscuousEnable(port: number): void {
  checkPort(port, 'ethPromiscuousEnable').setWord(port, W.PROMISC, 1);
}

export function ethPromiscuousDisable(port: number): void {
  checkPort(port, 'ethPromiscuousDisable').setWord(port, W.PROMISC, 0);
}

export function ethPromiscuousGet(port: number): boolean {
  return checkPort(port, 'ethPromiscuousGet').word(port, W.PROMISC) === 1;
}

/** rte_eth_dev_rss_reta_update: entries[i] is the rx queue for RETA index i (from 0). */
export function ethRssRetaUpdate(port: number, entries: readonly number[]): void {
  const t = checkPort(port, 'ethRssRetaUpdate');
  const nq = t.readConf(port).rxq.length;
  const size = entries.length;
  if (size < 64 || size > RETA_MAX || (size & (size - 1)) !== 0) {
    throw new OptionError(
      'entries.length',
      size,
      `a power of two in [64, ${RETA_MAX}] (the RETA size)`,
    );
  }
  entries.forEach((q, i) => {
    if (!Number.isInteger(q) || q < 0 || q >= nq)
      throw new OptionError(`entries[${i}]`, q, `an rx queue of port ${port}, 0 to ${nq - 1}`);
  });
  const reta = t.reta(port);
  for (let i = 0; i < RETA_MAX; i++) Atomics.store(reta, i, entries[i % size]);
  t.setWord(port, W.RETA_SIZE, size);
}

export function ethRssRetaQuery(port: number): number[] {
  const t = checkPort(port, 'ethRssRetaQuery');
  const size = t.word(port, W.RETA_SIZE);
  return Array.from(t.reta(port).subarray(0, size));
}

/** Forgets this thread's port state (after eal cleanup; tests). */
export function ethDevResetThreadState(): void {
  for (const d of devs) d?.driver.close?.();
  devs.length = 0;
  table = undefined;
}

export { TX_STATS };
