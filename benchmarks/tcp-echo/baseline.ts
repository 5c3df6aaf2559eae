// The baseline of `pnpm bench tcp-echo`: node:net over the kernel's loopback (127.0.0.1) between
// two worker threads of this process (worker.ts): the server thread echoes, the client thread
// runs the same closed loop as the subject's client lcore (common.ts ClosedLoop) over the same
// N connections, same message size, same warm-up and window, TCP_NODELAY on both sides, kernel
// defaults otherwise. Starting the threads is not timed.
import type { Worker } from 'node:worker_threads';
import { startWorker, workerExit } from '@bypass/atomics-sync';
import { checkOptions, type EchoOptions, type EchoResult } from './common.js';
import type { ClientData, ClientMessage, ServerData, ServerMessage } from './worker.js';

const WORKER = new URL('./worker.js', import.meta.url);
const HOST = '127.0.0.1';

/** The worker's first message of type `type`; rejects if it fails or exits first. */
function next<M extends { type: string }>(w: Worker, type: M['type']): Promise<M> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: M) => {
      if (m.type !== type) return;
      w.off('message', onMessage);
      resolve(m);
    };
    w.on('message', onMessage);
    w.once('error', reject);
    w.once('exit', (code) =>
      reject(new Error(`tcp-echo: a worker exited (code ${code}) before posting '${type}'`)),
    );
  });
}

export async function nodeNetEcho(opts: EchoOptions): Promise<EchoResult> {
  const load = checkOptions(opts);
  const workers: Worker[] = [];
  try {
    const serverData: ServerData = { role: 'server', host: HOST };
    const srv = startWorker(WORKER, { workerData: serverData });
    workers.push(srv);
    workerExit(srv).catch(() => {});
    const { port } = await next<ServerMessage>(srv, 'listening');
    const clientData: ClientData = { role: 'client', host: HOST, port, load };
    const cli = startWorker(WORKER, { workerData: clientData });
    workers.push(cli);
    workerExit(cli).catch(() => {});
    const { result } = await next<ClientMessage>(cli, 'done');
    return result;
  } finally {
    await Promise.allSettled(workers.map((w) => w.terminate()));
  }
}
