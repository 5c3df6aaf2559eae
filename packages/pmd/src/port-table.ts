import { type Memzone, memzoneLookup, memzoneReserve } from '@bypass/eal';
import { EthDevError } from './errors.js';

/**
 * The ports' shared description (DPDK's rte_eth_devices in hugepages): one record per port in a
 * memzone, written by the main thread (probe, configure, queue setup, start) and read by every
 * lcore. Static configuration is a small JSON document in the record (slow path, read once per
 * thread); what changes at run time (state, link, promiscuous mode, the RETA) and the counters
 * are words, so any thread sees them at once.
 */

export const MAX_PORTS = 32;
export const MAX_QUEUES = 16;
export const RETA_MAX = 512;

const ZONE = 'ethdev_ports';
const PORT_BYTES = 16384;
// Words (u32) of a port record.
export const W = {
  USED: 0,
  STATE: 1,
  PROMISC: 2,
  LINK_UP: 3,
  LINK_SPEED: 4, // Mbit/s
  MTU: 5,
  RETA_SIZE: 6,
  CONFIG_LEN: 7,
  CONFIG_GEN: 8, // bumped whenever the JSON changes, so threads re-read it
  CONFIG: 64, // 4096 bytes of JSON from here
  RETA: 1088, // RETA_MAX u32 entries
  STATS: 1600, // float64 counters from here (byte 6400)
} as const;
const CONFIG_BYTES = 4096;

export const PortState = { UNCONFIGURED: 0, CONFIGURED: 1, STARTED: 2, STOPPED: 3 } as const;

/** Per-queue counters (float64), as rte_eth_stats' per-queue and port fields. */
export const RxStat = { PACKETS: 0, BYTES: 1, ERRORS: 2, MISSED: 3, NOMBUF: 4 } as const;
export const TxStat = { PACKETS: 0, BYTES: 1, ERRORS: 2 } as const;
export const RX_STATS = 5;
export const TX_STATS = 3;
/** Float64 index of rx queue q's first counter, and tx queue q's, within the port's stats. */
export const rxStatBase = (q: number) => q * RX_STATS;
export const txStatBase = (q: number) => MAX_QUEUES * RX_STATS + q * TX_STATS;
const STATS_F64 = MAX_QUEUES * (RX_STATS + TX_STATS);

export interface QueueConf {
  size: number;
  /** rx: the mbuf pool's memzone name. */
  mempool?: string;
}

export interface RssConf {
  /** RssHf bits. */
  hf: number;
  /** 40-byte key as hex; default the standard key. */
  key?: string;
}

/** The JSON part of a port record. */
export interface PortConf {
  name: string;
  driver: string;
  args: Record<string, string>;
  mac: number[];
  rxq: QueueConf[];
  txq: QueueConf[];
  rss?: RssConf;
}

export class PortTable {
  readonly zone: Memzone;
  readonly words: Uint32Array;

  private constructor(zone: Memzone) {
    this.zone = zone;
    this.words = new Uint32Array(zone.sab, zone.byteOffset, (MAX_PORTS * PORT_BYTES) / 4);
  }

  static create(): PortTable {
    return new PortTable(memzoneReserve(ZONE, MAX_PORTS * PORT_BYTES));
  }

  /** This thread's view of the table, or undefined when no port was probed. */
  static find(): PortTable | undefined {
    const z = memzoneLookup(ZONE);
    return z === undefined ? undefined : new PortTable(z);
  }

  base(port: number): number {
    return (port * PORT_BYTES) / 4;
  }

  count(): number {
    let n = 0;
    while (n < MAX_PORTS && Atomics.load(this.words, this.base(n) + W.USED) !== 0) n++;
    return n;
  }

  word(port: number, w: number): number {
    return Atomics.load(this.words, this.base(port) + w);
  }

  setWord(port: number, w: number, v: number): void {
    Atomics.store(this.words, this.base(port) + w, v);
  }

  /** The RETA words of a port (live: updates are seen by every thread's next lookup). */
  reta(port: number): Uint32Array {
    return this.words.subarray(this.base(port) + W.RETA, this.base(port) + W.RETA + RETA_MAX);
  }

  /** The port's float64 counters (see rxStatBase / txStatBase). */
  stats(port: number): Float64Array {
    return new Float64Array(
      this.zone.sab,
      this.zone.byteOffset + port * PORT_BYTES + W.STATS * 4,
      STATS_F64,
    );
  }

  readConf(port: number): PortConf {
    const len = this.word(port, W.CONFIG_LEN);
    const start = this.zone.byteOffset + port * PORT_BYTES + W.CONFIG * 4;
    const bytes = new Uint8Array(this.zone.sab, start, len).slice();
    return JSON.parse(new TextDecoder().decode(bytes)) as PortConf;
  }

  writeConf(port: number, conf: PortConf): void {
    const bytes = new TextEncoder().encode(JSON.stringify(conf));
    if (bytes.length > CONFIG_BYTES) {
      throw new EthDevError(
        `port ${port} (${conf.name}): configuration too large (${bytes.length} bytes)`,
      );
    }
    new Uint8Array(
      this.zone.sab,
      this.zone.byteOffset + port * PORT_BYTES + W.CONFIG * 4,
      bytes.length,
    ).set(bytes);
    this.setWord(port, W.CONFIG_LEN, bytes.length);
    Atomics.add(this.words, this.base(port) + W.CONFIG_GEN, 1);
  }

  /** Claims the next free port record. Main thread only (probe). */
  add(conf: PortConf): number {
    const port = this.count();
    if (port >= MAX_PORTS)
      throw new EthDevError(`no room for port ${conf.name}: at most ${MAX_PORTS} ports`);
    this.writeConf(port, conf);
    this.setWord(port, W.STATE, PortState.UNCONFIGURED);
    this.setWord(port, W.MTU, 1500);
    Atomics.store(this.words, this.base(port) + W.USED, 1);
    return port;
  }
}
