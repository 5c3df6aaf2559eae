// A run's results: the lcores' shares merged (histograms included) and printed as wrk prints
// them, with Gbit/s next to requests/s.
import { mergeHistograms } from '@bypass/eal';
import * as hdr from 'hdr-histogram-js';
import type { LoadLcoreResult } from './load.js';
import type { ResolvedLoadOptions } from './options.js';

export interface LatencySummary {
  /** Microseconds. */
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
  mean: number;
  stddev: number;
  count: number;
}

export interface LoadResult {
  mode: ResolvedLoadOptions['mode'];
  url: string;
  connections: number;
  pipeline: number;
  /** The longest lcore's measurement window. */
  seconds: number;
  requests: number;
  requestsPerSec: number;
  /** Response bytes received (headers and bodies, or echoed bytes), in Gbit/s. */
  gbps: number;
  /** Request bytes sent, in Gbit/s. */
  txGbps: number;
  bytesRx: number;
  bytesTx: number;
  non2xx: number;
  errors: { connect: number; read: number; write: number; timeout: number };
  connects: number;
  latencyUs: LatencySummary;
  /** The merged latency histogram (ns), HdrHistogram compressed base64. */
  histogram: string;
  /** Per-second intervals of the merged latency (ns), for HdrHistogram's interval log. */
  intervals: { startS: number; endS: number; encoded: string }[];
  perLcore: LoadLcoreResult[];
}

export function summarize(h: hdr.Histogram): LatencySummary {
  const us = (ns: number) => Math.round(ns / 10) / 100;
  return {
    p50: us(h.getValueAtPercentile(50)),
    p75: us(h.getValueAtPercentile(75)),
    p90: us(h.getValueAtPercentile(90)),
    p99: us(h.getValueAtPercentile(99)),
    p999: us(h.getValueAtPercentile(99.9)),
    p9999: us(h.getValueAtPercentile(99.99)),
    max: us(h.maxValue),
    mean: us(h.mean),
    stddev: us(h.stdDeviation),
    count: h.totalCount,
  };
}

/** Adds up the lcores' shares and merges their histograms. */
export function mergeLoadResults(o: ResolvedLoadOptions, perLcore: LoadLcoreResult[]): LoadResult {
  const sum = (f: (r: LoadLcoreResult) => number) => perLcore.reduce((a, r) => a + f(r), 0);
  const seconds = Math.max(0, ...perLcore.map((r) => r.seconds));
  const merged = mergeHistograms(perLcore.map((r) => r.histogram));
  const requests = sum((r) => r.requests);
  const bytesRx = sum((r) => r.bytesRx);
  const bytesTx = sum((r) => r.bytesTx);
  return {
    mode: o.mode,
    url:
      o.mode === 'http' ? `http://${o.target}:${o.port}${o.path}` : `tcp://${o.target}:${o.port}`,
    connections: sum((r) => r.connections),
    pipeline: o.pipeline,
    seconds,
    requests,
    requestsPerSec: seconds > 0 ? requests / seconds : 0,
    gbps: seconds > 0 ? (bytesRx * 8) / seconds / 1e9 : 0,
    txGbps: seconds > 0 ? (bytesTx * 8) / seconds / 1e9 : 0,
    bytesRx,
    bytesTx,
    non2xx: sum((r) => r.non2xx),
    errors: {
      connect: sum((r) => r.errors.connect),
      read: sum((r) => r.errors.read),
      write: sum((r) => r.errors.write),
      timeout: sum((r) => r.errors.timeout),
    },
    connects: sum((r) => r.connects),
    latencyUs: summarize(merged),
    histogram: hdr.encodeIntoCompressedBase64(merged),
    intervals: intervalHistograms(perLcore),
    perLcore,
  };
}

function fmtUs(us: number): string {
  if (us >= 1e6) return `${(us / 1e6).toFixed(2)}s`;
  if (us >= 1e3) return `${(us / 1e3).toFixed(2)}ms`;
  return `${us.toFixed(2)}us`;
}

function fmtBytes(b: number): string {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)}GB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(2)}MB`;
  if (b >= 2 ** 10) return `${(b / 2 ** 10).toFixed(2)}KB`;
  return `${b}B`;
}

/** Prints the result as wrk does (with --latency), plus Gbit/s and the per-lcore split. */
export function printLoadResult(r: LoadResult, print: (line: string) => void = console.log): void {
  const l = r.latencyUs;
  print(`LOADGEN: ${r.seconds.toFixed(2)}s test @ ${r.url}`);
  print(`  ${r.perLcore.length} lcore(s) and ${r.connections} connections, pipeline ${r.pipeline}`);
  print(`  Latency   avg ${fmtUs(l.mean)}  stdev ${fmtUs(l.stddev)}  max ${fmtUs(l.max)}`);
  print('  Latency Distribution (HdrHistogram)');
  for (const [q, v] of [
    ['50.000%', l.p50],
    ['75.000%', l.p75],
    ['90.000%', l.p90],
    ['99.000%', l.p99],
    ['99.900%', l.p999],
    ['99.990%', l.p9999],
    ['100.000%', l.max],
  ] as const)
    print(`  ${q.padStart(9)}  ${fmtUs(v).padStart(10)}`);
  print(`  ${r.requests} requests in ${r.seconds.toFixed(2)}s, ${fmtBytes(r.bytesRx)} read`);
  const e = r.errors;
  if (e.connect + e.read + e.write + e.timeout > 0)
    print(
      `  Socket errors: connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout}`,
    );
  if (r.non2xx > 0) print(`  Non-2xx or 3xx responses: ${r.non2xx}`);
  for (const p of r.perLcore)
    print(
      `  lcore ${p.lcore}: ${p.connections} connections, ${p.requests} requests (${(p.requests / Math.max(p.seconds, 1e-9)).toFixed(0)}/s)`,
    );
  print(`Requests/sec: ${r.requestsPerSec.toFixed(2)}`);
  print(
    `Transfer/sec: ${fmtBytes(r.bytesRx / Math.max(r.seconds, 1e-9))}  (${r.gbps.toFixed(3)} Gbit/s in, ${r.txGbps.toFixed(3)} Gbit/s out)`,
  );
}

/**
 * Cuts the run into the intervals of the lcores' cumulative snapshots (one a second): interval i
 * is snapshot i less snapshot i-1 on each lcore, summed over the lcores (they start within a
 * millisecond of each other, so snapshot i is the same second everywhere).
 */
export function intervalHistograms(
  perLcore: LoadLcoreResult[],
): { startS: number; endS: number; encoded: string }[] {
  const n = Math.max(0, ...perLcore.map((r) => r.snapshots?.length ?? 0));
  const out: { startS: number; endS: number; encoded: string }[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const parts: string[] = [];
    let end = start;
    for (const r of perLcore) {
      const snaps = r.snapshots ?? [];
      if (i >= snaps.length) continue;
      const now = hdr.decodeFromCompressedBase64(snaps[i].histogram);
      if (i > 0) {
        const before = hdr.decodeFromCompressedBase64(snaps[i - 1].histogram);
        now.subtract(before);
        before.destroy();
      }
      parts.push(hdr.encodeIntoCompressedBase64(now));
      now.destroy();
      end = Math.max(end, snaps[i].t);
    }
    const merged = mergeHistograms(parts);
    out.push({ startS: start, endS: end, encoded: hdr.encodeIntoCompressedBase64(merged) });
    merged.destroy();
    start = end;
  }
  return out;
}
