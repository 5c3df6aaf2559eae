// pnpm bench tcp-bulk: Gbit/s moving BYTES (1 GiB; 256 MiB with --quick) over ONE TCP connection
// from one thread to another, in CHUNK-byte writes (1 MiB: common.ts), both sides given the same
// bytes, the same chunk and the same start/stop points (the receiver holds the untimed warm-up's
// last byte -> the receiver holds the last byte):
// - subject: our user-space TCP stack (packages/tcp), two lcores joined by back-to-back net_ring
//   ports (subject.ts, stack-lcore.ts). Headline: a 64 KiB MTU with TCP checksums left to the
//   link, as the kernel loopback the baseline uses; also MTU 1500 with and without checksums.
// - baseline: node:net over the kernel loopback (127.0.0.1) between two worker threads
//   (baseline.ts).
import { availableParallelism } from 'node:os';
import { runBenchmark, type Series } from '@bypass/bench-harness';
import { type BulkFn, type BulkOptions, DEFAULT_CHUNK, nodeNetBulk } from './baseline.js';
import { bypassBulk } from './subject.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const BYTES = quick ? 256 * 2 ** 20 : 2 ** 30;
// Every transfer runs on fresh threads: this much goes first, untimed, so that V8 has compiled
// the hot paths before the clock starts (the same for every series). Its optimising compiler
// runs on a background thread that two busy lcores on two cores leave little time to: at
// 128 MiB a quick run still measured a third of the full run's rate.
const WARMUP_BYTES = 512 * 2 ** 20;
const CHUNK = DEFAULT_CHUNK;

function series(name: string, describe: string, fn: BulkFn, opts: BulkOptions): Series {
  return {
    name,
    describe,
    run: async () => {
      const r = await fn(opts);
      if (r.bytes !== opts.bytes) {
        throw new Error(`tcp-bulk: ${name} moved ${r.bytes} bytes, not ${opts.bytes}`);
      }
      return r.gbps;
    },
  };
}

async function main(): Promise<void> {
  const opts: BulkOptions = { bytes: BYTES, chunk: CHUNK, warmupBytes: WARMUP_BYTES };
  const baseline = series(
    'node-net-loopback',
    `node:net, one TCP connection on 127.0.0.1 between two worker threads: ${BYTES} bytes (after ${WARMUP_BYTES} untimed) in ${CHUNK}-byte writes (back-pressure respected), kernel defaults (loopback skips checksums)`,
    nodeNetBulk,
    opts,
  );
  const bypass =
    (checksum: 'compute' | 'offload', mtu: number): BulkFn =>
    (o) =>
      bypassBulk({ bytes: o.bytes, warmupBytes: o.warmupBytes, chunk: o.chunk, checksum, mtu });
  const common = `bypass TCP, one connection between two lcores (one Stack each) over back-to-back net_ring ports: ${BYTES} bytes (after ${WARMUP_BYTES} untimed) in ${CHUNK}-byte writes, 1 MiB socket buffers, timestamps on`;
  // Headline: the link the baseline has. The kernel loopback has a 64 KiB MTU and skips TCP
  // checksums; so does this series. The others show a 1500-byte Ethernet link.
  const subject = series(
    'bypass-mtu64k-offload',
    `${common}; MTU 65535 and TCP checksums left to the link, like the kernel loopback`,
    bypass('offload', 65535),
    opts,
  );
  const others = [
    series(
      'bypass-mtu1500',
      `${common}; MTU 1500, every TCP checksum computed and verified in software`,
      bypass('compute', 1500),
      opts,
    ),
    series(
      'bypass-mtu1500-offload',
      `${common}; MTU 1500, TCP checksums left to the link`,
      bypass('offload', 1500),
      opts,
    ),
    series(
      'bypass-mtu64k',
      `${common}; MTU 65535, every TCP checksum computed and verified`,
      bypass('compute', 65535),
      opts,
    ),
  ];

  await runBenchmark(
    {
      bench: 'tcp-bulk',
      metric: 'Gbit/s',
      runs: quick ? 3 : 7,
      warmup: 1,
      params: {
        bytes: BYTES,
        warmupBytes: WARMUP_BYTES,
        chunk: CHUNK,
        connections: 1,
        threads: 2,
        cpus: availableParallelism(),
        note:
          availableParallelism() < 3
            ? 'bypass runs 2 busy-polling lcores plus an idle main thread; node:net 2 worker threads'
            : undefined,
      },
      subject,
      baseline,
      others,
    },
    argv,
  );
}

await main();
