// The forwarding loop of one l2fwd lcore (DPDK examples/l2fwd/main.c, l2fwd_main_loop): read a
// burst from each rx port this lcore owns, rewrite the MACs, buffer per destination port, send
// a buffer when it holds a full burst or when the drain period has passed, count what the tx
// queue would not take as dropped.
import { memzoneLookup, pktmbufPoolLookup, runPollLoop } from '@bypass/eal';
import { rxBurst, txBurst } from '@bypass/pmd';

export const MAX_PKT_BURST = 32;
/** BURST_TX_DRAIN_US in l2fwd. */
export const DRAIN_US = 100;
/** Per port: received, sent, dropped (float64 in the 'l2fwd_stats' memzone). */
export const STAT_RX = 0;
export const STAT_TX = 1;
export const STAT_DROPPED = 2;
export const STATS_PER_PORT = 4;

export interface LcoreConf {
  /** rx ports this lcore polls; each forwards to dst[port]. */
  rxPorts: number[];
  /** Destination port of every port (the pair: port ^ 1). */
  dst: number[];
  /** MAC of every port, as 6 bytes. */
  macs: number[][];
  macUpdating: boolean;
  pool: string;
}

export async function lcoreMain(conf: LcoreConf) {
  const pool = pktmbufPoolLookup(conf.pool);
  const data = pool.data;
  const z = memzoneLookup('l2fwd_stats')!;
  const stats = new Float64Array(z.sab, z.byteOffset, z.length / 8);
  const rxPorts = Int32Array.from(conf.rxPorts);
  const nPorts = conf.dst.length;
  const dst = Int32Array.from(conf.dst);
  const macs = conf.macs.map((m) => Uint8Array.from(m));
  const pkts = new Uint32Array(MAX_PKT_BURST);
  // Per destination port: the tx buffer and how many it holds.
  const txBuf = Array.from({ length: nPorts }, () => new Uint32Array(MAX_PKT_BURST));
  const txLen = new Int32Array(nPorts);
  const drainMs = DRAIN_US / 1000;
  let lastDrain = 0;

  const flush = (port: number) => {
    const n = txLen[port];
    const buf = txBuf[port];
    const sent = txBurst(port, 0, buf, n);
    stats[port * STATS_PER_PORT + STAT_TX] += sent;
    if (sent < n) {
      // The caller still owns what tx did not take: free it and count it dropped.
      for (let i = sent; i < n; i++) pool.free(buf[i]);
      stats[port * STATS_PER_PORT + STAT_DROPPED] += n - sent;
    }
    txLen[port] = 0;
  };

  const result = await runPollLoop((now) => {
    if (now - lastDrain > drainMs) {
      for (let p = 0; p < nPorts; p++) if (txLen[p] > 0) flush(p);
      lastDrain = now;
    }
    let work = 0;
    for (let i = 0; i < rxPorts.length; i++) {
      const port = rxPorts[i];
      const n = rxBurst(port, 0, pkts, MAX_PKT_BURST);
      if (n === 0) continue;
      work += n;
      stats[port * STATS_PER_PORT + STAT_RX] += n;
      const out = dst[port];
      const buf = txBuf[out];
      for (let k = 0; k < n; k++) {
        const m = pkts[k];
        if (conf.macUpdating) {
          // dst MAC 02:00:00:00:00:<out>, src MAC = the out port's own MAC (l2fwd_mac_updating)
          const at = pool.mtod(m);
          data[at] = 0x02;
          data[at + 1] = 0;
          data[at + 2] = 0;
          data[at + 3] = 0;
          data[at + 4] = 0;
          data[at + 5] = out;
          data.set(macs[out], at + 6);
        }
        buf[txLen[out]++] = m;
        if (txLen[out] === MAX_PKT_BURST) flush(out);
      }
    }
    return work;
  });
  // Stopping: send (or free) what is still buffered, so every mbuf goes back to the pool.
  for (let p = 0; p < nPorts; p++) if (txLen[p] > 0) flush(p);
  return result;
}
