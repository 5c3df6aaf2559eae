import { memzoneLookup, ringCreate } from '@bypass/eal';
import { MbufOlFlag, mbufPoolOf, type PktmbufPool } from '@bypass/mempool';
import { rssKeyFromHex, Toeplitz } from '@bypass/net';
import { Ring } from '@bypass/ring';
import type { DriverFactory, EthDriver, PortContext } from '../driver.js';
import { EthDevError } from '../errors.js';
import {
  type PortConf,
  PortState,
  type PortTable,
  RxStat,
  rxStatBase,
  TxStat,
  txStatBase,
  W,
} from '../port-table.js';
import { rssHashFrame } from '../rss/flow.js';
import { checkArgNames } from './args.js';

/**
 * net_ring: ports whose wire is a set of rings in shared memory (DPDK's net_ring).
 *
 *   --vdev net_ring0                      loopback: what port 0 sends, port 0 receives
 *   --vdev net_ring0,peer=net_ring1 --vdev net_ring1,peer=net_ring0     back to back
 *   --vdev net_ring0,switch=sw0 --vdev net_ring1,switch=sw0 ...          N ports on a switch
 *
 * Each rx queue is an MP/SC ring of `size` descriptors, created when the port starts. A sending
 * port plays the receiving NIC's role in hardware: when the receiver has several rx queues and RSS
 * on, the sender hashes every frame with the receiver's Toeplitz key over the fields its rss_hf
 * selects, stores the hash in the mbuf (olFlags RX_RSS_HASH) and enqueues it on the rx queue its
 * RETA names. Frames that are not IP go to queue 0. With one rx queue (or RSS off), tx queue i
 * feeds rx queue i mod (rx queues), as rte_eth_from_rings does.
 *
 * On a virtual switch, a frame goes to the member port whose MAC is its destination MAC; a
 * broadcast, multicast or unknown destination is flooded to every other started member (one
 * mbuf, its reference count raised once per extra receiver). The switch fabric takes every frame
 * (txBurst returns n); a member whose rx ring is full drops its copy and counts it as rx missed,
 * and a frame with no receiver at all is freed and counted as a tx error.
 *
 * Point to point, txBurst takes the longest prefix of the burst that fits in the receiving rings; the caller keeps
 * the rest. Another port sending into the same rx ring at the same moment can fill it between that
 * check and the enqueue: those frames are dropped and counted as the receiver's rx missed
 * (imissed), as a NIC whose rx ring is full does.
 */

const rxRingName = (port: string, q: number) => `${port}_rxq${q}`;

function keyOf(conf: PortConf): Uint8Array {
  return rssKeyFromHex(conf.rss?.key);
}

/** What a sender needs to know about the port it sends into. */
interface Destination {
  port: number;
  rings: Ring[];
  stats: Float64Array;
  hf: number;
  toeplitz: Toeplitz | undefined;
  reta: Uint32Array;
  retaSizeIndex: number;
  stateIndex: number;
}

class RingDriver implements EthDriver {
  private readonly rx: Ring[];
  private dest: Destination | undefined;
  /** Per destination queue: the handles bound for it in this burst. */
  private buckets: Uint32Array[] = [];
  private counts = new Int32Array(0);
  private free = new Float64Array(0);

  constructor(private readonly ctx: PortContext) {
    this.rx = ctx.conf.rxq.map((_, q) => attachRing(rxRingName(ctx.conf.name, q)));
  }

  rxBurst(q: number, handles: Uint32Array, max: number): number {
    const n = this.rx[q].dequeueBurst(handles, max);
    const port = this.ctx.port;
    let pool: PktmbufPool | undefined;
    let id = -1;
    for (let i = 0; i < n; i++) {
      const m = handles[i];
      if (m >>> 24 !== id) {
        pool = mbufPoolOf(m);
        id = m >>> 24;
      }
      pool!.setPort(m, port);
    }
    return n;
  }

  txBurst(q: number, handles: Uint32Array, n: number): number {
    if (this.ctx.conf.args.switch !== undefined) return this.txSwitch(q, handles, n);
    const d = this.dest ?? this.resolve();
    // The other end is not started: the link is down and nothing is sent.
    if (
      d === undefined ||
      n === 0 ||
      Atomics.load(this.ctx.table.words, d.stateIndex) !== PortState.STARTED
    )
      return 0;
    const nq = d.rings.length;
    if (nq === 1 || d.toeplitz === undefined) return d.rings[q % nq].enqueueBurst(handles, n);
    return this.txRss(d, handles, n);
  }

  private txRss(d: Destination, handles: Uint32Array, n: number): number {
    const nq = d.rings.length;
    if (this.buckets.length !== nq || this.buckets[0].length < n) this.grow(nq, n);
    const counts = this.counts;
    const free = this.free;
    counts.fill(0);
    for (let i = 0; i < nq; i++) free[i] = d.rings[i].freeCount();
    const mask = d.reta.length > 0 ? Atomics.load(this.ctx.table.words, d.retaSizeIndex) - 1 : 0;
    let taken = 0;
    let pool: PktmbufPool | undefined;
    let id = -1;
    for (; taken < n; taken++) {
      const m = handles[taken];
      if (m >>> 24 !== id) {
        pool = mbufPoolOf(m);
        id = m >>> 24;
      }
      const p = pool!;
      const hash = rssHashFrame(d.toeplitz!, p.data, p.mtod(m), p.dataLen(m), d.hf);
      let dq = 0;
      if (hash >= 0) {
        dq = d.reta[hash & mask];
        p.setRssHash(m, hash);
        p.setOlFlags(m, p.olFlags(m) | MbufOlFlag.RX_RSS_HASH);
      }
      if (counts[dq] >= free[dq]) break; // that rx queue is full: the rest stays with the caller
      this.buckets[dq][counts[dq]++] = m;
    }
    for (let dq = 0; dq < nq; dq++) {
      const c = counts[dq];
      if (c === 0) continue;
      if (d.rings[dq].enqueueBulk(this.buckets[dq], c) === 0) {
        // Lost a race with another sender into the same ring: the receiving "NIC" drops.
        mbufPoolOf(this.buckets[dq][0]).freeBulk(this.buckets[dq], c);
        d.stats[rxStatBase(dq) + RxStat.MISSED] += c;
      }
    }
    return taken;
  }

  private members: Destination[] | undefined;
  private memberMacs: Uint8Array[] = [];

  /** Virtual switch: deliver each frame by destination MAC, flooding what has no single owner. */
  private txSwitch(q: number, handles: Uint32Array, n: number): number {
    const members = this.members ?? this.resolveSwitch();
    const words = this.ctx.table.words;
    const macs = this.memberMacs;
    for (let i = 0; i < n; i++) {
      const m = handles[i];
      const pool = mbufPoolOf(m);
      const at = pool.mtod(m);
      const data = pool.data;
      let target = -1;
      if ((data[at] & 1) === 0) {
        for (let k = 0; k < members.length; k++) {
          const mac = macs[k];
          if (
            data[at] === mac[0] &&
            data[at + 1] === mac[1] &&
            data[at + 2] === mac[2] &&
            data[at + 3] === mac[3] &&
            data[at + 4] === mac[4] &&
            data[at + 5] === mac[5]
          ) {
            target = k;
            break;
          }
        }
      }
      if (target >= 0 && Atomics.load(words, members[target].stateIndex) === PortState.STARTED) {
        this.deliver(members[target], q, pool, m);
        continue;
      }
      let receivers = 0;
      for (let k = 0; k < members.length; k++)
        if (Atomics.load(words, members[k].stateIndex) === PortState.STARTED) receivers++;
      if (receivers === 0 || target >= 0) {
        // No started member owns or can receive it.
        pool.free(m);
        this.ctx.stats[txStatBase(q) + TxStat.ERRORS]++;
        continue;
      }
      if (receivers > 1) pool.refcntUpdate(m, receivers - 1);
      for (let k = 0; k < members.length; k++) {
        if (Atomics.load(words, members[k].stateIndex) === PortState.STARTED)
          this.deliver(members[k], q, pool, m);
      }
    }
    return n;
  }

  /** Enqueues one reference to `m` on the rx queue of `d` that RSS (or the tx queue) picks. */
  private deliver(d: Destination, q: number, pool: PktmbufPool, m: number): void {
    let dq = q % d.rings.length;
    if (d.toeplitz !== undefined) {
      const hash = rssHashFrame(d.toeplitz, pool.data, pool.mtod(m), pool.dataLen(m), d.hf);
      dq = 0;
      if (hash >= 0) {
        dq = d.reta[hash & (Atomics.load(this.ctx.table.words, d.retaSizeIndex) - 1)];
        pool.setRssHash(m, hash);
        pool.setOlFlags(m, pool.olFlags(m) | MbufOlFlag.RX_RSS_HASH);
      }
    }
    if (!d.rings[dq].enqueueOne(m)) {
      pool.free(m);
      d.stats[rxStatBase(dq) + RxStat.MISSED]++;
    }
  }

  private resolveSwitch(): Destination[] {
    const t = this.ctx.table;
    const name = this.ctx.conf.args.switch;
    const members: Destination[] = [];
    this.memberMacs = [];
    for (let p = 0; p < t.count(); p++) {
      const c = t.readConf(p);
      if (p === this.ctx.port || c.driver !== 'net_ring' || c.args.switch !== name) continue;
      if (t.word(p, W.STATE) !== PortState.STARTED) return this.unresolved(); // wait until all members run
      members.push(this.destination(p, c));
      this.memberMacs.push(Uint8Array.from(c.mac));
    }
    this.members = members;
    return members;
  }

  /** A switch member is not started yet: deliver to nobody this time, look again next burst. */
  private unresolved(): Destination[] {
    this.memberMacs = [];
    return [];
  }

  private grow(nq: number, n: number): void {
    const size = Math.max(n, 64);
    this.buckets = Array.from({ length: nq }, () => new Uint32Array(size));
    this.counts = new Int32Array(nq);
    this.free = new Float64Array(nq);
  }

  /** Finds the receiving port's rings once it has started. */
  private resolve(): Destination | undefined {
    const t: PortTable = this.ctx.table;
    const peerName = this.ctx.conf.args.peer ?? this.ctx.conf.name;
    let peer = -1;
    for (let p = 0; p < t.count(); p++) if (t.readConf(p).name === peerName) peer = p;
    if (peer < 0) throw new EthDevError(`${this.ctx.conf.name}: peer ${peerName} is not a port`);
    if (t.word(peer, W.STATE) !== PortState.STARTED) return undefined;
    this.dest = this.destination(peer, t.readConf(peer));
    return this.dest;
  }

  private destination(port: number, conf: PortConf): Destination {
    const t = this.ctx.table;
    const rings = conf.rxq.map((_, q) => attachRing(rxRingName(conf.name, q)));
    const hf = conf.rss?.hf ?? 0;
    return {
      port,
      rings,
      stats: t.stats(port),
      hf,
      toeplitz: rings.length > 1 && hf !== 0 ? new Toeplitz(keyOf(conf)) : undefined,
      reta: t.reta(port),
      retaSizeIndex: t.base(port) + W.RETA_SIZE,
      stateIndex: t.base(port) + W.STATE,
    };
  }
}

function attachRing(name: string): Ring {
  const z = memzoneLookup(name);
  if (z === undefined) throw new EthDevError(`ring ${name} does not exist: start the port first`);
  return Ring.attach({ kind: 'ring', sab: z.sab, byteOffset: z.byteOffset });
}

export const ringDriver: DriverFactory = {
  probe(name, args) {
    checkArgNames(name, args, ['peer', 'switch', 'mac']);
    if (args.peer !== undefined && args.switch !== undefined) {
      throw new EthDevError(`${name}: give peer= or switch=, not both`);
    }
  },
  setup(ctx) {
    ctx.conf.rxq.forEach((q, i) => {
      const name = rxRingName(ctx.conf.name, i);
      if (memzoneLookup(name) === undefined)
        ringCreate(name, { count: q.size, producer: 'multi', consumer: 'single' });
    });
  },
  /** Stopping a port releases what its rx rings still hold (as DPDK's rx queue release does),
   * so the pools are full again once every lcore has let go of its mbufs. */
  teardown(ctx) {
    const h = new Uint32Array(256);
    ctx.conf.rxq.forEach((_, q) => {
      const z = memzoneLookup(rxRingName(ctx.conf.name, q));
      if (z === undefined) return;
      const ring = Ring.attach({ kind: 'ring', sab: z.sab, byteOffset: z.byteOffset });
      for (let n = ring.dequeueBurst(h, 256); n > 0; n = ring.dequeueBurst(h, 256)) {
        for (let i = 0; i < n; i++) mbufPoolOf(h[i]).free(h[i]);
      }
    });
  },
  attach: (ctx) => new RingDriver(ctx),
};
