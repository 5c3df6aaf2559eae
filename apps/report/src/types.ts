export interface RunReport {
  title: string;
  /** ISO 8601. */
  date: string;
  machine: { cpus: number; cpuModel: string; node: string };
  params: Record<string, unknown>;
  summary: { requests: number; durationS: number; rps: number; gbps: number; errors: number };
  lcores: { lcore: number; role: 'server' | 'client'; requests: number; rps: number }[];
  /** One point per interval; `t` is seconds since the start. */
  timeline: { t: number; rps: number; gbps: number; p99us?: number }[];
  /** hdr-histogram-js encodeIntoCompressedBase64 of the merged latency histogram. */
  histogram: { encoded: string; unit: 'ns' | 'us' };
}

export interface ScalingReport {
  workload: string;
  unit: string;
  date: string;
  machine: RunReport['machine'];
  cpus: number;
  points: {
    lcores: number;
    throughput: number;
    perLcore: number;
    efficiency: number;
    oversubscribed: boolean;
  }[];
  note?: string;
}
