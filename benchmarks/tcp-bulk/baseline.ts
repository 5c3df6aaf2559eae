// The baseline of `pnpm bench tcp-bulk`: node:net over the kernel's loopback (127.0.0.1), one TCP
// connection between two worker threads of this process (worker.ts): the source thread writes
// `bytes` in `chunk`-byte writes, waiting for 'drain' whenever write() returns false; the sink
// thread counts them. Timed from the source's 'connect' (or, with `warmupBytes`, from the sink
// holding the warm-up's last byte) to the sink holding the last byte, on
// CLOCK_MONOTONIC (process.hrtime.bigint(), one clock for every thread). Kernel defaults
// throughout: loopback MTU, socket buffers, Nagle, offloads; nothing tuned either way. Starting
// the two threads (and tsx in them) happens before the clock starts and is not counted.
//
// Stand-alone: `tsx baseline.ts [BYTES] [CHUNK] [--sha]` runs one transfer and prints the result.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { startWorker, workerExit } from '@bypass/atomics-sync';
import {
  type BulkOptions,
  type BulkResult,
  checkOptions,
  expectedSha256,
  resultOf,
} from './common.js';
import type { SinkData, SinkMessage, SourceData, SourceMessage } from './worker.js';

export {
  type BulkFn,
  type BulkOptions,
  type BulkResult,
  DEFAULT_CHUNK,
  expectedSha256,
} from './common.js';

const WORKER = new URL('./worker.js', import.meta.url);
const HOST = '127.0.0.1';

/** Resolves with the worker's first message of type `type`; rejects if it fails or exits first. */
function message<M extends { type: string }, T extends M['type']>(
  w: Worker,
  type: T,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: M) => {
      if (m.type !== type) return;
      w.off('message', onMessage);
      resolve(m as Extract<M, { type: T }>);
    };
    w.on('message', onMessage);
    w.once('error', reject);
    w.once('exit', (code) =>
      reject(new Error(`tcp-bulk: a worker exited (code ${code}) before posting '${type}'`)),
    );
  });
}

/**
 * Moves `opts.bytes` over one node:net TCP connection on 127.0.0.1 from one worker thread to
 * another, and returns how long it took (see the top of this file for what is timed).
 */
export async function nodeNetBulk(opts: BulkOptions): Promise<BulkResult> {
  const { bytes, chunk, warmup } = checkOptions(opts);
  const total = warmup + bytes;
  const workers: Worker[] = [];
  try {
    const sinkData: SinkData = {
      role: 'sink',
      host: HOST,
      bytes: total,
      warmupBytes: warmup,
      sha: opts.sha === true,
    };
    const sink = startWorker(WORKER, { workerData: sinkData });
    workers.push(sink);
    const sinkExit = workerExit(sink);
    sinkExit.catch(() => {}); // awaited below; failures also surface through message()
    const done = message<SinkMessage, 'done'>(sink, 'done');
    done.catch(() => {});
    const { port } = await message<SinkMessage, 'listening'>(sink, 'listening');

    const sourceData: SourceData = { role: 'source', host: HOST, port, bytes: total, chunk };
    const source = startWorker(WORKER, { workerData: sourceData });
    workers.push(source);
    const sourceExit = workerExit(source);
    sourceExit.catch(() => {});
    const sent = message<SourceMessage, 'sent'>(source, 'sent');
    sent.catch(() => {});
    const { t0 } = await message<SourceMessage, 'connected'>(source, 'connected');
    const end = await done;
    await sent;
    await Promise.all([sinkExit, sourceExit]);
    if (end.bytes !== total) throw new Error(`tcp-bulk: sink got ${end.bytes} of ${total} bytes`);
    return resultOf(bytes, Number(end.t1 - (warmup > 0 ? end.t0w : t0)) / 1e9, end.sha);
  } finally {
    await Promise.allSettled(workers.map((w) => w.terminate()));
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const nums = args.filter((a) => /^\d+$/.test(a)).map(Number);
  const bytes = nums[0] ?? 1 << 30;
  const chunk = nums[1];
  const sha = args.includes('--sha');
  const r = await nodeNetBulk({ bytes, chunk, sha });
  console.log(
    `node:net loopback, 2 worker threads: ${bytes} bytes in ${r.seconds.toFixed(3)} s = ${r.gbps.toFixed(2)} Gbit/s`,
  );
  if (sha) {
    const want = expectedSha256(bytes);
    console.log(`sha256 ${r.sha} ${r.sha === want ? 'matches the stream' : `!= expected ${want}`}`);
    if (r.sha !== want) process.exitCode = 1;
  }
  console.log(JSON.stringify(r));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
