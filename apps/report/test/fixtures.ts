import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunReport, ScalingReport } from '../src/index.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** 1000, 2000, ... 10000 ns: one of each, recorded with 3 significant digits. */
export const TEN_VALUES =
  'HISTFAAAADp4nJNpmSzMwMAgx8DAwMjAwMDMAAGMEMr+P4x/np/pLD/TVA6mp+xMC1mYPjJD0XImpu+MTAAZ0Asi';

export function fixtureResults(): unknown[] {
  return ['echo-latency.json', 'ring.json', 'not-a-bench.json'].map((f) =>
    JSON.parse(readFileSync(join(here, 'fixtures', f), 'utf8')),
  );
}

export const runReport: RunReport = {
  title: 'httpd <b>&</b> loadgen',
  date: '2026-01-01T00:00:00.000Z',
  machine: { cpus: 2, cpuModel: 'Test "CPU"', node: 'v20.0.0' },
  params: { connections: 64, path: '/<index>.html' },
  summary: { requests: 1_000_000, durationS: 5, rps: 200_000, gbps: 1.6, errors: 0 },
  lcores: [
    { lcore: 1, role: 'server', requests: 1_000_000, rps: 200_000 },
    { lcore: 2, role: 'client', requests: 1_000_000, rps: 200_000 },
  ],
  timeline: [1, 2, 3, 4, 5].map((t) => ({
    t,
    rps: 190_000 + t * 2000,
    gbps: 1.5 + t / 50,
    p99us: 9 + t,
  })),
  histogram: { encoded: TEN_VALUES, unit: 'ns' },
};

export const scalingReport: ScalingReport = {
  workload: 'l2fwd',
  unit: 'Mpps',
  date: '2026-01-01T00:00:00.000Z',
  machine: { cpus: 2, cpuModel: 'Test CPU', node: 'v20.0.0' },
  cpus: 2,
  points: [
    { lcores: 1, throughput: 10, perLcore: 10, efficiency: 1, oversubscribed: false },
    { lcores: 2, throughput: 18, perLcore: 9, efficiency: 0.9, oversubscribed: false },
    { lcores: 3, throughput: 17, perLcore: 5.67, efficiency: 0.567, oversubscribed: true },
  ],
  note: 'asked for 3 lcores; the machine has 2 cores',
};
