// The baseline of `pnpm bench tcp-tap`: node:net through the kernel between the root namespace
// (this process's main thread) and a network namespace (peer.mjs, run there with
// `ip netns exec`), over a veth pair (topology.ts), one TCP connection per transfer, both ways:
// - to-ns:   we connect to the peer's sink and write `bytes` in `chunk`-byte writes (waiting for
//            'drain' whenever write() returns false); the peer counts them.
// - from-ns: we connect to the peer's source, which writes `bytes` the same way; we count them.
// Timed from our 'connect' to the receiving side holding the last byte, on CLOCK_MONOTONIC
// (process.hrtime.bigint() here and in the peer: one clock for the whole machine). Starting the
// peer is not counted. Kernel defaults throughout: veth MTU 1500 with its offloads, socket
// buffers, Nagle; nothing tuned either way.
//
// Stand-alone: `tsx baseline.ts [BYTES] [CHUNK] [--sha]` creates the namespace and veth pair,
// runs one transfer each way, prints the results and removes everything (root needed).
import { createHash, type Hash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type BulkOptions,
  type BulkResult,
  checkOptions,
  expectedSha256,
  patternBuffer,
  resultOf,
} from '@bypass/bench-tcp-bulk/common';
import { netnsUnavailable, type Peer } from '@bypass/pmd/netns';
import { createVethTopology, type VethTopology } from './topology.js';

export type { BulkOptions, BulkResult } from '@bypass/bench-tcp-bulk/common';

/** to-ns: root namespace -> network namespace; from-ns: the other way. */
export type Direction = 'to-ns' | 'from-ns';

export interface TapBulkOptions extends BulkOptions {
  direction: Direction;
  /** Gives up (and fails) after this long; default 60 s + 1 s per 100 MB. */
  timeoutMs?: number;
}

/** One transfer between the root namespace and the namespace: what subject and baseline are. */
export type TapBulkFn = (opts: TapBulkOptions) => Promise<BulkResult>;

const PEER = fileURLToPath(new URL('./peer.mjs', import.meta.url));

interface SinkLine {
  bytes: number;
  t1: string;
  sha?: string;
}

/** Connects to host:port from `localAddress`; resolves with the socket and the connect time. */
function open(host: string, port: number, localAddress: string) {
  return new Promise<{ sock: Socket; t0: bigint }>((resolve, reject) => {
    const sock = connect({ host, port, localAddress }, () => {
      sock.off('error', reject);
      resolve({ sock, t0: process.hrtime.bigint() });
    });
    sock.once('error', reject);
  });
}

/** Writes the stream (bytes, chunk) with back-pressure, then end(); resolves when finished. */
function send(sock: Socket, bytes: number, chunk: number): Promise<void> {
  const buf = patternBuffer(chunk);
  return new Promise((resolve, reject) => {
    let sent = 0;
    sock.once('error', reject);
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk, bytes - sent);
        const s = sent & 0xff;
        sent += n;
        if (!sock.write(buf.subarray(s, s + n))) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.end(() => resolve());
    };
    pump();
  });
}

/** Counts `bytes` bytes (hashing them on the way when given a hash: part of the timed work
 * then); resolves with the time the last one arrived. */
function receive(sock: Socket, bytes: number, hash?: Hash) {
  return new Promise<{ t1: bigint; sha?: string }>((resolve, reject) => {
    let got = 0;
    let done = false;
    sock.once('error', reject);
    sock.on('data', (b: Buffer) => {
      got += b.length;
      hash?.update(b);
      if (got > bytes) {
        sock.destroy();
        reject(new Error(`tcp-tap: received ${got} bytes, more than the ${bytes} expected`));
      } else if (got === bytes && !done) {
        const t1 = process.hrtime.bigint();
        done = true;
        resolve({ t1, sha: hash?.digest('hex') });
      }
    });
    sock.on('end', () => {
      if (!done) reject(new Error(`tcp-tap: the peer ended after ${got} of ${bytes} bytes`));
      sock.end();
    });
  });
}

/** Rejects after `ms` (and kills the peer) unless `p` settles first. */
async function deadline<T>(p: Promise<T>, ms: number, peer: Peer, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      peer.kill();
      reject(new Error(`tcp-tap: ${what} did not finish in ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One node:net transfer over the veth pair of `topo`, in `opts.direction` (see the top of this
 * file). Starts its peer in the namespace and stops it before returning, whatever happens.
 */
export async function nodeNetTapBulk(
  topo: VethTopology,
  opts: TapBulkOptions,
): Promise<BulkResult> {
  const { bytes, chunk } = checkOptions(opts);
  const sha = opts.sha === true;
  const { nsIp, rootIp } = topo.veth;
  const ms = opts.timeoutMs ?? 60_000 + bytes / 1e5;
  const args =
    opts.direction === 'to-ns'
      ? [PEER, 'sink', nsIp, String(bytes), ...(sha ? ['--sha'] : [])]
      : [PEER, 'source', nsIp, String(bytes), String(chunk)];
  const peer = topo.ns.peer(process.execPath, args);
  let sock: Socket | undefined;
  try {
    const go = await peer.line();
    const m = /^go (\d+)$/.exec(go);
    if (m === null) throw new Error(`tcp-tap: the peer said ${JSON.stringify(go)}, not "go PORT"`);
    const port = Number(m[1]);
    const work = async (): Promise<BulkResult> => {
      const c = await open(nsIp, port, rootIp);
      sock = c.sock;
      if (opts.direction === 'to-ns') {
        await send(c.sock, bytes, chunk);
        const r = JSON.parse(await peer.line(ms)) as SinkLine;
        if (r.bytes !== bytes) throw new Error(`tcp-tap: the peer got ${r.bytes} of ${bytes}`);
        await peer.exited;
        return resultOf(bytes, Number(BigInt(r.t1) - c.t0) / 1e9, r.sha);
      }
      const got = await receive(c.sock, bytes, sha ? createHash('sha256') : undefined);
      JSON.parse(await peer.line(ms)); // the source's own report: it finished cleanly
      await peer.exited;
      return resultOf(bytes, Number(got.t1 - c.t0) / 1e9, got.sha);
    };
    return await deadline(work(), ms, peer, `${opts.direction} transfer of ${bytes} bytes`);
  } catch (e) {
    const why = peer.stderr;
    if (why && e instanceof Error) e.message += ` (peer: ${why})`;
    throw e;
  } finally {
    sock?.destroy();
    peer.kill();
  }
}

/** The baseline as a TapBulkFn over `topo` (what bench.ts interleaves with the subject). */
export function nodeNetTap(topo: VethTopology): TapBulkFn {
  return (opts) => nodeNetTapBulk(topo, opts);
}

/**
 * Self-contained: creates a namespace and a veth pair, moves `opts.bytes` each way with node:net,
 * removes everything (also on failure), and returns both results.
 */
export async function nodeNetTapBoth(
  opts: BulkOptions,
): Promise<{ toNs: BulkResult; fromNs: BulkResult }> {
  const topo = createVethTopology();
  try {
    const toNs = await nodeNetTapBulk(topo, { ...opts, direction: 'to-ns' });
    const fromNs = await nodeNetTapBulk(topo, { ...opts, direction: 'from-ns' });
    return { toNs, fromNs };
  } finally {
    topo.remove();
  }
}

async function main(): Promise<void> {
  const reason = netnsUnavailable();
  if (reason !== undefined) {
    console.log(`tcp-tap baseline: cannot run: ${reason}`);
    process.exitCode = 2;
    return;
  }
  const args = process.argv.slice(2);
  const nums = args.filter((a) => /^\d+$/.test(a)).map(Number);
  const bytes = nums[0] ?? 256 * 2 ** 20;
  const sha = args.includes('--sha');
  const r = await nodeNetTapBoth({ bytes, chunk: nums[1], sha });
  const want = sha ? expectedSha256(bytes) : undefined;
  for (const [dir, x] of [
    ['root -> ns', r.toNs],
    ['ns -> root', r.fromNs],
  ] as const) {
    const check = want === undefined ? '' : x.sha === want ? ', sha256 ok' : ', SHA256 MISMATCH';
    if (want !== undefined && x.sha !== want) process.exitCode = 1;
    console.log(
      `node:net over veth, ${dir}: ${bytes} bytes in ${x.seconds.toFixed(3)} s = ${x.gbps.toFixed(2)} Gbit/s${check}`,
    );
  }
  console.log(JSON.stringify(r));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
