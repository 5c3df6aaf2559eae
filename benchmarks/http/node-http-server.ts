// node:http's own server (http.createServer, untouched) on the user-space stack: its sockets are
// socket-api's node:net-compatible Sockets on this lcore's NetRuntime. The same handler as the
// kernel baseline (common.ts nodeHttpHandler). Set against the baseline it shows what the stack
// alone gives node:http; set against apps/httpd, what a zero-copy server adds.
import http from 'node:http';
import { createRuntime, runUntilStopped, type ServerLcoreArg } from '@bypass/loadgen';
import { createServer } from '@bypass/socket-api';
import { HTTP_PORT, NODE_BODY_BYTES, nodeHttpHandler } from './common.js';

export interface NodeHttpAppOptions {
  bodyBytes?: number;
  port?: number;
}

export async function nodeHttpServerLcore(arg: ServerLcoreArg<NodeHttpAppOptions>): Promise<void> {
  const rt = createRuntime(arg.net);
  try {
    const hs = http.createServer(nodeHttpHandler(arg.app.bodyBytes ?? NODE_BODY_BYTES));
    const server = createServer({ runtime: rt, noDelay: true }, (s) => {
      s.setNoDelay(true);
      hs.emit('connection', s);
    });
    server.listen(arg.app.port ?? HTTP_PORT);
    await runUntilStopped(rt, arg.net.stopWord);
  } finally {
    rt.close();
  }
}
