// The two threads of tcp-echo's node:net baseline (baseline.ts starts them with startWorker).
// workerData.role picks the side:
// - server: listens on HOST:0, posts {type:'listening', port}; every connection gets
//   setNoDelay(true) and its 'data' written straight back (the echo); runs until terminated.
// - client: opens N connections (setNoDelay(true)) and runs the closed loop of common.ts
//   (ClosedLoop: the same code as the user-space client lcore), then posts {type:'done', result}
//   and destroys its sockets.
import { connect, createServer, type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { ClosedLoop, type EchoOptions, type EchoResult, message } from './common.js';

export interface ServerData {
  role: 'server';
  host: string;
}

export interface ClientData {
  role: 'client';
  host: string;
  port: number;
  load: EchoOptions;
}

export type ServerMessage = { type: 'listening'; port: number };
export type ClientMessage = { type: 'done'; result: EchoResult };

function server(d: ServerData): void {
  const srv = createServer((sock) => {
    sock.setNoDelay(true);
    sock.on('data', (b: Buffer) => {
      sock.write(b);
    });
    sock.on('error', () => sock.destroy()); // the client destroys its sockets when it is done
  });
  srv.on('error', (e) => {
    throw e;
  });
  srv.listen({ port: 0, host: d.host, backlog: 1024 }, () => {
    const a = srv.address();
    if (a === null || typeof a === 'string') throw new Error('tcp-echo server: no port');
    const m: ServerMessage = { type: 'listening', port: a.port };
    parentPort!.postMessage(m);
  });
}

function client(d: ClientData): void {
  const msg = message(d.load.msgBytes ?? 64);
  const socks: Socket[] = [];
  const load = new ClosedLoop(
    d.load,
    (i) => {
      socks[i].write(msg);
    },
    (result) => {
      clearInterval(ticker);
      const m: ClientMessage = { type: 'done', result };
      parentPort!.postMessage(m);
      for (const s of socks) s.destroy();
    },
  );
  // Phases move on completions; this catches a stalled loop.
  const ticker = setInterval(() => load.tick(), 5);
  for (let i = 0; i < d.load.connections; i++) {
    const s = connect({ host: d.host, port: d.port, noDelay: true }, () => load.connected(i));
    s.setNoDelay(true);
    s.on('data', (b: Buffer) => load.received(i, b.length));
    s.on('error', (e) => {
      if (!load.done) throw new Error(`tcp-echo client: connection ${i}: ${e.message}`);
    });
    socks.push(s);
  }
}

const data = workerData as ServerData | ClientData | undefined;
if (parentPort !== null && data?.role === 'server') server(data);
else if (parentPort !== null && data?.role === 'client') client(data);
