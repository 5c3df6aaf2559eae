// The baseline of `pnpm bench http`: node:http (http.createServer) in one worker thread and
// apps/loadgen's load-generator logic on node:net sockets in another (worker.ts), over the
// kernel's loopback (127.0.0.1): the same connections, requests, response bytes and window as the
// subject. Starting the threads is not timed.
import type { Worker } from 'node:worker_threads';
import { startWorker, workerExit } from '@bypass/atomics-sync';
import type { HttpLoad, HttpRunResult } from './common.js';
import type { ClientData, ClientMessage, ServerData, ServerMessage } from './worker.js';

const WORKER = new URL('./worker.js', import.meta.url);
const HOST = '127.0.0.1';

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
      reject(new Error(`http: a worker exited (code ${code}) before posting '${type}'`)),
    );
  });
}

export async function nodeHttp(load: HttpLoad): Promise<HttpRunResult> {
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
