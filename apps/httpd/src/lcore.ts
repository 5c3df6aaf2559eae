// The httpd lcore function: this lcore's NetRuntime on its queue, the server on it, and the
// poll loop until the EAL stops.
import { lcoreId } from '@bypass/eal';
import { createRuntime, runUntilStopped, type ServerLcoreArg } from '@bypass/loadgen';
import { type HttpdConfig, type HttpdStats, HttpServer } from './server.js';

export interface HttpdLcoreResult extends HttpdStats {
  lcore: number;
  queue: number;
}

export async function httpdLcore(arg: ServerLcoreArg<HttpdConfig>): Promise<HttpdLcoreResult> {
  const rt = createRuntime(arg.net);
  let server: HttpServer | undefined;
  try {
    server = new HttpServer(arg.app, rt, true);
    await runUntilStopped(rt, arg.net.stopWord);
  } finally {
    server?.close();
    rt.close();
  }
  return { lcore: lcoreId(), queue: arg.net.queue, ...server.stats };
}
