// httpd and the load generator on their own lcores (worker threads), over back-to-back net_ring
// ports: about a second of keep-alive GETs, then pipelined GETs of a file; positive requests,
// no errors, every response 2xx, the server's count matching, and every mbuf back in its pool.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, init } from '@bypass/eal';
import type { LoadProgress } from '@bypass/loadgen';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpdLcoreResult, runHttpdLoad } from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'httpd-b2b-'));
  writeFileSync(join(dir, 'page.html'), '<p>'.padEnd(1000, 'x'));
  await init({ lcores: [0, 1, 2], pin: false, logLevel: 'err' }, { handleSignals: false });
});
afterAll(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('httpd + loadgen over back-to-back net_ring ports', () => {
  it('serves keep-alive GETs for a second: requests, no errors, pools full', async () => {
    const progress: LoadProgress[] = [];
    const r = await runHttpdLoad({
      httpd: { size: 256 },
      load: { connections: 32, durationS: 1 },
      print: () => {},
      onProgress: (p) => progress.push(p),
      progressS: 0.25,
    });
    // Live progress from the client lcores' shared counters while the load ran.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    const last = progress.at(-1)!;
    expect(last.totalRequests).toBeGreaterThan(0);
    expect(last.totalRequests).toBeLessThanOrEqual(r.requests);
    expect(last.totalBytesRx).toBeGreaterThan(0);
    expect(last.p99Us).toBeGreaterThan(0);
    console.log(
      `back-to-back httpd: ${r.requests} requests, ${r.requestsPerSec.toFixed(0)} req/s, ${r.gbps.toFixed(3)} Gbit/s, p50 ${r.latencyUs.p50} us, p99 ${r.latencyUs.p99} us`,
    );
    expect(r.serverLcores).toEqual([1]);
    expect(r.clientLcores).toEqual([2]);
    expect(r.requests).toBeGreaterThan(20);
    expect(r.errors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
    expect(r.non2xx).toBe(0);
    expect(r.connects).toBe(32);
    expect(r.latencyUs.count).toBe(r.requests);
    expect(r.histogram.length).toBeGreaterThan(10);
    const served = r.server[1] as HttpdLcoreResult;
    expect(served.requests).toBeGreaterThanOrEqual(r.requests);
    expect(served.status2xx).toBe(served.requests);
    expect(served.badRequests).toBe(0);
    expect(r.leaked).toBe(0);
  });

  it('serves a file to pipelined GETs (depth 8) on the same ports again', async () => {
    const r = await runHttpdLoad({
      httpd: { root: dir },
      load: { connections: 8, pipeline: 8, durationS: 0.5, path: '/page.html' },
      print: () => {},
    });
    expect(r.requests).toBeGreaterThan(20);
    expect(r.errors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
    expect(r.non2xx).toBe(0);
    expect(r.bytesRx).toBeGreaterThan(r.requests * 1000);
    expect(r.leaked).toBe(0);
  });
});
