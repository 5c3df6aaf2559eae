// The echo server's lcore function: this lcore's NetRuntime on its queue, the echo listener on
// it, and the poll loop until the EAL stops.
import { lcoreId } from '@bypass/eal';
import { createRuntime, runUntilStopped, type ServerLcoreArg } from '@bypass/loadgen';
import { type EchoStats, listenEcho } from './server.js';

export interface EchoApp {
  port: number;
}

export interface EchoLcoreResult extends EchoStats {
  lcore: number;
  queue: number;
}

export async function echoLcore(arg: ServerLcoreArg<EchoApp>): Promise<EchoLcoreResult> {
  const rt = createRuntime(arg.net);
  const stats: EchoStats = { connections: 0, bytes: 0, errors: 0, stalls: 0 };
  try {
    listenEcho(arg.app.port, rt, stats, true);
    await runUntilStopped(rt, arg.net.stopWord);
  } finally {
    rt.close();
  }
  return { lcore: lcoreId(), queue: arg.net.queue, ...stats };
}
