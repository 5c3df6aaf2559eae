// Two NetRuntimes in one thread, joined by back-to-back net_ring ports: a client stack
// (10.0.0.1) and a server stack (10.0.0.2), both polled from the event loop by pump(). The same
// tests can then run against node:net on the kernel loopback.
import { cleanup, init, pktmbufPoolCreate } from '@bypass/eal';
import type { PktmbufPool } from '@bypass/mempool';
import {
  ethDevConfigure,
  ethDevStart,
  ethDevStop,
  ethRxQueueSetup,
  ethTxQueueSetup,
} from '@bypass/pmd';
import type { TcpOptions } from '@bypass/tcp';
import { NetRuntime } from '../src/index.js';

export interface Pair {
  client: NetRuntime;
  server: NetRuntime;
  pools: PktmbufPool[];
  /** Stops polling, drops every connection, stops the ports and checks the pools are full. */
  close(): Promise<{ leaked: number }>;
}

export async function startPair(o: { tcp?: TcpOptions } = {}): Promise<Pair> {
  await init(
    {
      lcores: [0],
      pin: false,
      logLevel: 'err',
      memoryMb: 128,
      vdevs: [
        'net_ring0,peer=net_ring1,mac=02:00:00:00:00:01',
        'net_ring1,peer=net_ring0,mac=02:00:00:00:00:02',
      ],
    },
    { handleSignals: false },
  );
  const pools = [
    pktmbufPoolCreate('pair_c', { n: 4096, cacheSize: 0 }),
    pktmbufPoolCreate('pair_s', { n: 4096, cacheSize: 0 }),
  ];
  for (const port of [0, 1]) {
    ethDevConfigure(port, { rxQueues: 1, txQueues: 1 });
    ethRxQueueSetup(port, 0, { size: 1024, mempool: port === 0 ? 'pair_c' : 'pair_s' });
    ethTxQueueSetup(port, 0, { size: 1024 });
    ethDevStart(port);
  }
  const client = NetRuntime.detached({ port: 0, pool: pools[0], ip: '10.0.0.1/24', tcp: o.tcp });
  const server = NetRuntime.detached({ port: 1, pool: pools[1], ip: '10.0.0.2/24', tcp: o.tcp });
  let running = true;
  const loop = () => {
    if (!running) return;
    // A few polls per turn of the event loop: timers and stream callbacks run between them.
    for (let i = 0; i < 8; i++) {
      client.poll();
      server.poll();
    }
    setImmediate(loop);
  };
  setImmediate(loop);
  return {
    client,
    server,
    pools,
    async close() {
      running = false;
      await new Promise((r) => setImmediate(r));
      client.close();
      server.close();
      ethDevStop(0);
      ethDevStop(1);
      const leaked = pools.reduce((a, p) => a + p.mempool.n - p.mempool.available(), 0);
      await cleanup();
      return { leaked };
    },
  };
}
