// The lcore side of `pnpm bench tap` (launched with remoteLaunch). Each function loops until the
// benchmark's own stop word is set (the EAL's quit flag is once-only, and the EAL lives across
// all the series), yielding to the event loop every couple of milliseconds as runPollLoop does.
// The port's own statistics (ethStats) count what was received and sent.
import { memzoneLookup, pktmbufPoolLookup } from '@bypass/eal';
import { rxBurst, txBurst } from '@bypass/pmd';

/** The control memzone: Int32 words; [STOP] is set by the main thread to end a run. */
export const CTL_ZONE = 'tapbench_ctl';
export const STOP = 0;

export interface LcoreArg {
  port: number;
  queue: number;
  burst: number;
  /** tx: the frame to send (built once by the main thread) and the pool to send it from. */
  frame?: Uint8Array;
  pool?: string;
}

const SLICE_MS = 2;

function stopWord(): Int32Array {
  const z = memzoneLookup(CTL_ZONE)!;
  return new Int32Array(z.sab, z.byteOffset, 4);
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** rx: rxBurst(burst) and free, as fast as frames come. */
export async function rx(a: LcoreArg): Promise<number> {
  const ctl = stopWord();
  const pool = pktmbufPoolLookup('rx_pool');
  const h = new Uint32Array(64);
  const { port, queue, burst } = a;
  let frames = 0;
  while (Atomics.load(ctl, STOP) === 0) {
    const end = performance.now() + SLICE_MS;
    do {
      for (let i = 0; i < 64; i++) {
        const n = rxBurst(port, queue, h, burst);
        if (n > 0) {
          pool.freeBulk(h, n);
          frames += n;
        }
      }
    } while (performance.now() < end);
    await yieldToEventLoop();
  }
  return frames;
}

/**
 * tx: allocBulk(burst) from this lcore's pool, copy the frame into each mbuf, txBurst; what the
 * tap did not take is freed. Every 64 bursts it also drains its rx queue (ICMP errors, IPv6
 * router solicitations) so that nothing piles up in the tap.
 */
export async function tx(a: LcoreArg): Promise<number> {
  const ctl = stopWord();
  const pool = pktmbufPoolLookup(a.pool!);
  const rxPool = pktmbufPoolLookup('rx_pool');
  const frame = a.frame!;
  const size = frame.length;
  const data = pool.data;
  const h = new Uint32Array(64);
  const r = new Uint32Array(64);
  const { port, queue, burst } = a;
  let frames = 0;
  while (Atomics.load(ctl, STOP) === 0) {
    const end = performance.now() + SLICE_MS;
    do {
      for (let i = 0; i < 64; i++) {
        if (pool.allocBulk(h, burst) === 0) break;
        for (let k = 0; k < burst; k++) {
          const m = h[k];
          data.set(frame, pool.mtod(m));
          pool.setDataLen(m, size);
          pool.setPktLen(m, size);
        }
        const sent = txBurst(port, queue, h, burst);
        if (sent < burst) pool.freeBulk(h, burst - sent, sent);
        frames += sent;
      }
      const n = rxBurst(port, queue, r, 64);
      if (n > 0) rxPool.freeBulk(r, n);
    } while (performance.now() < end);
    await yieldToEventLoop();
  }
  return frames;
}
