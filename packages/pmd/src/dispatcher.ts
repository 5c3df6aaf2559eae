import { MbufOlFlag, mbufPoolOf, type PktmbufPool } from '@bypass/mempool';
import { Reta, RSS_DEFAULT_KEY, Toeplitz } from '@bypass/net';
import type { Ring } from '@bypass/ring';
import { rxBurst } from './ethdev.js';
import { RssHf, rssHashFrame } from './rss/flow.js';

/**
 * Software RSS for single-queue devices (a single-queue tap, a pcap file): one lcore runs the
 * dispatcher, which receives a burst, hashes every frame with Toeplitz exactly as a NIC would,
 * stamps the mbuf (rssHash, olFlags RX_RSS_HASH) and enqueues it on the ring of the worker lcore
 * that the RETA names. Workers dequeue from their ring as if it were their rx queue, so a flow
 * lands on the same lcore as it would with hardware RSS and the same key and RETA.
 *
 * We chose one dispatching lcore over every lcore hashing its share of a shared queue: the
 * device queue has exactly one consumer (no MC ring on the device side), and each worker ring is
 * SP/SC. A full worker ring drops the frame there and counts it, as a NIC's full rx queue does.
 */

export interface DispatcherOptions {
  port: number;
  queue?: number;
  /** One SP/SC ring per worker lcore; the dispatcher is their only producer. */
  rings: Ring[];
  /** RssHf bits: default IP | TCP | UDP. */
  hf?: number;
  key?: Uint8Array;
  /** RETA entries (power of two, 64..512): default 128, round robin over the rings. */
  retaSize?: number;
}

export class RssDispatcher {
  readonly reta: Reta;
  /** Frames received from the device. */
  received = 0;
  /** Frames handed to a worker ring. */
  dispatched = 0;
  /** Frames dropped because their worker's ring was full. */
  dropped = 0;
  /** Frames that were not IP (or not enabled by hf): they go to worker 0. */
  unhashed = 0;

  private readonly toeplitz: Toeplitz;
  private readonly hf: number;
  private readonly rx = new Uint32Array(64);
  private readonly buckets: Uint32Array[];
  private readonly counts: Int32Array;

  constructor(private readonly o: DispatcherOptions) {
    this.toeplitz = new Toeplitz(o.key ?? RSS_DEFAULT_KEY);
    this.hf = o.hf ?? RssHf.IP | RssHf.TCP | RssHf.UDP;
    this.reta = new Reta({ queues: o.rings.length, size: o.retaSize ?? 128 });
    this.buckets = o.rings.map(() => new Uint32Array(64));
    this.counts = new Int32Array(o.rings.length);
  }

  /** One step of the dispatching lcore's loop: receive up to `max` (<= 64) frames and hand
   * them out. Returns how many were received. */
  poll(max = 32): number {
    const n = rxBurst(this.o.port, this.o.queue ?? 0, this.rx, Math.min(max, 64));
    if (n === 0) return 0;
    this.received += n;
    const counts = this.counts;
    counts.fill(0);
    let pool: PktmbufPool | undefined;
    let id = -1;
    for (let i = 0; i < n; i++) {
      const m = this.rx[i];
      if (m >>> 24 !== id) {
        pool = mbufPoolOf(m);
        id = m >>> 24;
      }
      const p = pool!;
      const hash = rssHashFrame(this.toeplitz, p.data, p.mtod(m), p.dataLen(m), this.hf);
      let w = 0;
      if (hash >= 0) {
        w = this.reta.queueOf(hash);
        p.setRssHash(m, hash);
        p.setOlFlags(m, p.olFlags(m) | MbufOlFlag.RX_RSS_HASH);
      } else this.unhashed++;
      this.buckets[w][counts[w]++] = m;
    }
    for (let w = 0; w < counts.length; w++) {
      const c = counts[w];
      if (c === 0) continue;
      const k = this.o.rings[w].enqueueBurst(this.buckets[w], c);
      this.dispatched += k;
      if (k < c) {
        for (let i = k; i < c; i++) mbufPoolOf(this.buckets[w][i]).free(this.buckets[w][i]);
        this.dropped += c - k;
      }
    }
    return n;
  }
}
