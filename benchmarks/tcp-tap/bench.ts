// pnpm bench tcp-tap: Gbit/s moving BYTES (256 MiB; 32 MiB with --quick) over ONE TCP connection
// between this process (root namespace) and a peer in a network namespace the benchmark creates,
// each way, in CHUNK-byte writes (1 MiB, as tcp-bulk), the peer being the same node:net program
// (peer.mjs) for both sides of the comparison, timed from the connection being established to the
// receiver holding the last byte:
// - subject: our user-space TCP stack (packages/tcp) on one lcore on a net_tap port whose kernel
//   interface is moved into the namespace (subject.ts, stack-lcore.ts), with offload=tso (virtio-
//   net header: TSO out, GRO in, checksums offloaded; the headline) and without offloads (one
//   frame per syscall, software checksums): issue 6's "with and without".
// - baseline: node:net in the root namespace through the kernel, over a veth pair into the
//   namespace (baseline.ts, topology.ts).
// Not root (or no iproute2, no tap support): the benchmark says why and prints the JSON line
// with nulls and `skipped`.
import { availableParallelism } from 'node:os';
import { runBenchmark, type Series, writeSkipped } from '@bypass/bench-harness';
import { DEFAULT_CHUNK } from '@bypass/bench-tcp-bulk/common';
import { tapUnavailable } from '@bypass/pmd/netns';
import { nodeNetTap, type TapBulkFn, type TapBulkOptions } from './baseline.js';
import { bypassTap } from './subject.js';
import { createVethTopology, type VethTopology } from './topology.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const BYTES = quick ? 32 * 2 ** 20 : 256 * 2 ** 20;
const CHUNK = DEFAULT_CHUNK;
const BENCH = 'tcp-tap';

function skip(reason: string): void {
  writeSkipped(
    {
      bench: BENCH,
      metric: 'Gbit/s',
      baseline: 'node-net-veth-to-ns',
      params: { bytes: BYTES, chunk: CHUNK, quick },
      quick,
    },
    reason,
  );
}

function series(name: string, describe: string, fn: TapBulkFn, opts: TapBulkOptions): Series {
  return {
    name,
    describe,
    run: async () => {
      const r = await fn(opts);
      if (r.bytes !== opts.bytes) {
        throw new Error(`${BENCH}: ${name} moved ${r.bytes} bytes, not ${opts.bytes}`);
      }
      return r.gbps;
    },
  };
}

async function main(): Promise<void> {
  const reason = tapUnavailable();
  if (reason !== undefined) {
    skip(reason);
    return;
  }
  let topo: VethTopology;
  try {
    topo = createVethTopology();
  } catch (e) {
    skip(`cannot create the namespace and veth pair: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  try {
    const { ns, veth } = topo;
    console.log(
      `# namespace ${ns.name}; veth ${veth.rootIf} ${veth.rootIp}/${veth.prefix} (root) <-> ${veth.nsIf} ${veth.nsIp}/${veth.prefix} (namespace)`,
    );
    const toNs: TapBulkOptions = { bytes: BYTES, chunk: CHUNK, direction: 'to-ns' };
    const fromNs: TapBulkOptions = { bytes: BYTES, chunk: CHUNK, direction: 'from-ns' };
    const baseline = nodeNetTap(topo);
    const what = `${BYTES} bytes in ${CHUNK}-byte writes (back-pressure respected), one TCP connection, kernel defaults (veth MTU 1500, offloads on); peer: node peer.mjs in the namespace`;
    const baseTo = series(
      'node-net-veth-to-ns',
      `node:net, root namespace -> namespace through the kernel over a veth pair: ${what}`,
      baseline,
      toNs,
    );
    const baseFrom = series(
      'node-net-veth-from-ns',
      `node:net, namespace -> root namespace, the same way: ${what}`,
      baseline,
      fromNs,
    );
    const what2 = `${BYTES} bytes in ${CHUNK}-byte writes, one connection, 4 MiB socket buffers; bypass TCP on one lcore on a net_tap port whose kernel side is in the namespace, MTU 1500; peer: the same peer.mjs`;
    const tso = bypassTap(topo, true);
    const plain = bypassTap(topo, false);
    const subjectTo = series(
      'bypass-tap-tso-to-ns',
      `${what2}; offload=tso: virtio-net header, 64 KB TSO frames out, GRO'd frames in, checksums offloaded; to the namespace`,
      tso,
      toNs,
    );
    const others = [
      baseFrom,
      series('bypass-tap-tso-from-ns', `the same, from the namespace`, tso, fromNs),
      series(
        'bypass-tap-to-ns',
        `${what2}; no offloads: one 1514-byte frame per read/write syscall, checksums in software; to the namespace`,
        plain,
        toNs,
      ),
      series('bypass-tap-from-ns', `the same without offloads, from the namespace`, plain, fromNs),
    ];

    await runBenchmark(
      {
        bench: BENCH,
        metric: 'Gbit/s',
        runs: quick ? 3 : 5,
        quickIsSmokeTest:
          'each transfer is 32 MiB on fresh threads and a fresh peer process, with no warm-up window; here a quick median was 0.56-0.68x of the full run (2026-12-06)',
        warmup: 1,
        params: {
          bytes: BYTES,
          chunk: CHUNK,
          connections: 1,
          namespace: ns.name,
          veth: veth,
          cpus: availableParallelism(),
        },
        subject: subjectTo,
        baseline: baseTo,
        others,
      },
      argv,
    );
  } finally {
    topo.remove();
  }
}

await main();
