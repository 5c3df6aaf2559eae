// The echo service on the callback API: every byte that arrives goes back. The data is written
// straight from the zero-copy view; only when the send buffer is full does the rest get copied
// (into the connection's own stash, reused), and the connection pauses until onDrain, so one
// connection holds at most one receive chunk.
import { lcoreStats } from '@bypass/eal';
import { writeSome } from '@bypass/loadgen';
import {
  type CallbackListener,
  type CallbackSocket,
  listen,
  type NetRuntime,
} from '@bypass/socket-api';

/** Shared statistics counters (per lcore row). */
export const ECHO_COUNTERS = ['echo_bytes', 'echo_connections'] as const;

export interface EchoStats {
  connections: number;
  bytes: number;
  errors: number;
  /** Times the send buffer was full and the connection paused (back-pressure). */
  stalls: number;
}

class EchoConn {
  stash = new Uint8Array(0);
  stashOff = 0;
  stashEnd = 0;
  /** The peer ended: end() once the stash is out. */
  ended = false;
}

/**
 * Listens on `port` of `runtime` and echoes. Counts into `stats` (and the lcore's shared
 * counters when `row` is given). Returns the listener (close() stops accepting).
 */
export function listenEcho(
  port: number,
  runtime: NetRuntime,
  stats: EchoStats,
  shared = false,
): CallbackListener {
  let row: Float64Array | undefined;
  let ids: number[] = [];
  if (shared) {
    const st = lcoreStats();
    row = st.row;
    ids = ECHO_COUNTERS.map((n) => st.counterId(n));
  }
  const flush = (s: CallbackSocket): void => {
    const c = s.userData as EchoConn;
    while (c.stashOff < c.stashEnd) {
      const k = writeSome(s, c.stash, c.stashOff, c.stashEnd - c.stashOff);
      if (k === 0) return;
      c.stashOff += k;
    }
    c.stashOff = 0;
    c.stashEnd = 0;
    if (c.ended) s.end();
    else s.resume();
  };
  return listen(
    port,
    {
      onConnection: (sock) => {
        sock.userData = new EchoConn();
        stats.connections++;
        if (row !== undefined) row[ids[1]]++;
        return {
          onData: (s, b, off, len) => {
            stats.bytes += len;
            if (row !== undefined) row[ids[0]] += len;
            const c = s.userData as EchoConn;
            let k = 0;
            if (c.stashEnd === 0) k = writeSome(s, b, off, len);
            if (k < len) {
              // Keep the rest (the view dies with this call) and stop reading until it is out.
              const rest = len - k;
              if (c.stash.length < c.stashEnd + rest) {
                const bigger = new Uint8Array(
                  Math.max(c.stashEnd + rest, 2 * c.stash.length, 4096),
                );
                bigger.set(c.stash.subarray(c.stashOff, c.stashEnd));
                c.stashEnd -= c.stashOff;
                c.stashOff = 0;
                c.stash = bigger;
              }
              c.stash.set(b.subarray(off + k, off + len), c.stashEnd);
              c.stashEnd += rest;
              if (c.stashEnd === rest) stats.stalls++;
              s.pause();
            }
          },
          onDrain: flush,
          onEnd: (s) => {
            const c = s.userData as EchoConn;
            c.ended = true;
            if (c.stashEnd === 0) s.end(); // else after the stash is out
          },
          onError: () => {
            stats.errors++;
          },
        };
      },
    },
    { noDelay: true },
    runtime,
  );
}
