// The echo server and the load generator in echo mode on their own lcores (worker threads),
// over back-to-back net_ring ports, twice in one EAL (the run's own stop flag leaves the EAL
// usable): messages echoed, no errors, the bytes the server counted, every mbuf back.
import { cleanup, init } from '@bypass/eal';
import { runBackToBack } from '@bypass/loadgen';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EchoApp, EchoLcoreResult } from '../src/lcore.js';

beforeAll(async () => {
  await init({ lcores: [0, 1, 2], pin: false, logLevel: 'err' }, { handleSignals: false });
});
afterAll(async () => {
  await cleanup();
});

describe('echo + loadgen over back-to-back net_ring ports', () => {
  it('echoes fixed-size messages, pipelined, twice in a row', async () => {
    for (const pipeline of [1, 4]) {
      const r = await runBackToBack<EchoApp>({
        server: {
          module: new URL('../src/lcore.js', import.meta.url),
          exportName: 'echoLcore',
          app: { port: 7 },
          port: 7,
        },
        load: { mode: 'echo', size: 512, connections: 8, pipeline, durationS: 0.5 },
        print: () => {},
      });
      expect(r.requests).toBeGreaterThan(10);
      expect(r.errors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
      const server = r.server[1] as EchoLcoreResult;
      expect(server.connections).toBe(8);
      expect(server.bytes).toBeGreaterThanOrEqual(r.requests * 512);
      expect(r.leaked).toBe(0);
    }
  });
});
