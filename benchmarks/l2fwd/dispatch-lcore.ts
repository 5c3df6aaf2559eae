// The software RSS series of the l2fwd bench: one lcore runs an RssDispatcher from a single-queue
// net_null port (template UDP frames) into worker rings; worker lcores drain and free.
import { memzoneLookup, pktmbufPoolLookup, ringLookup, runPollLoop } from '@bypass/eal';
import { RssDispatcher } from '@bypass/pmd';

export function dispatch(workers: number) {
  const rings = Array.from({ length: workers }, (_, w) => ringLookup(`rss_w${w}`));
  const d = new RssDispatcher({ port: 0, rings });
  const z = memzoneLookup('rss_stats')!;
  const stats = new Float64Array(z.sab, z.byteOffset, 2);
  return runPollLoop(() => {
    const n = d.poll(32);
    stats[0] = d.dispatched;
    stats[1] = d.dropped;
    return n;
  });
}

export function drain(w: number) {
  const ring = ringLookup(`rss_w${w}`);
  const pool = pktmbufPoolLookup('rss_pool');
  const h = new Uint32Array(64);
  return runPollLoop(() => {
    const n = ring.dequeueBurst(h, 64);
    if (n > 0) pool.freeBulk(h, n);
    return n;
  });
}
