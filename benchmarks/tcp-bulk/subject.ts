// The subject of pnpm bench tcp-bulk: bypass's TCP between two lcores (two worker threads, one
// Stack each) over back-to-back net_ring ports, one connection, `bytes` from client to server.
import { fileURLToPath } from 'node:url';
import {
  cleanup,
  init,
  memzoneReserve,
  mpWaitLcore,
  pktmbufPoolCreate,
  remoteLaunch,
  stop,
} from '@bypass/eal';
import { ethDevConfigure, ethDevStart, ethRxQueueSetup, ethTxQueueSetup } from '@bypass/pmd';
import { type BulkLcoreArg, Progress } from './stack-lcore.js';

export interface BypassBulkOptions {
  bytes: number;
  /** Bytes moved first and not timed (see BulkOptions.warmupBytes). */
  warmupBytes?: number;
  /** Bytes per write() call (default 1 MiB, as the baseline). */
  chunk?: number;
  /** 'offload': TCP checksums left to the "NIC" (an in-memory link does not corrupt), as Linux's loopback does. */
  checksum?: 'compute' | 'offload';
  /** Send and receive buffer per side (default 1 MiB). */
  bufferBytes?: number;
  /** Link MTU (default 1500); 65535 matches the kernel loopback's 64 KiB MTU. */
  mtu?: number;
  /** Give up after this long (ms). */
  timeoutMs?: number;
}

export interface BulkResult {
  seconds: number;
  gbps: number;
  bytes: number;
  retransmits?: number;
}

export async function bypassBulk(o: BypassBulkOptions): Promise<BulkResult> {
  await init(
    {
      lcores: '0-2',
      pin: false,
      memoryMb: 384,
      logLevel: 'err',
      vdevs: [
        'net_ring0,peer=net_ring1,mac=02:00:00:00:00:01',
        'net_ring1,peer=net_ring0,mac=02:00:00:00:00:02',
      ],
    },
    { handleSignals: false },
  );
  try {
    const mtu = o.mtu ?? 1500;
    // Frames up to the MTU fit one mbuf; a jumbo link needs fewer, larger ones.
    const jumbo = mtu > 2048 - 14;
    const poolOpts = jumbo
      ? { n: 1024, cacheSize: 64, dataRoomSize: mtu + 14 }
      : { n: 16384, cacheSize: 256 };
    pktmbufPoolCreate('bulk_a', poolOpts);
    pktmbufPoolCreate('bulk_b', poolOpts);
    const z = memzoneReserve('bulk_progress', Progress.WORDS * 8);
    const progress = new Float64Array(z.sab, z.byteOffset, Progress.WORDS);
    for (const [port, pool] of [
      [0, 'bulk_a'],
      [1, 'bulk_b'],
    ] as const) {
      ethDevConfigure(port, { rxQueues: 1, txQueues: 1 });
      ethRxQueueSetup(port, 0, { size: 1024, mempool: pool });
      ethTxQueueSetup(port, 0, { size: 1024 });
      ethDevStart(port);
    }
    const warmup = o.warmupBytes ?? 0;
    const common = {
      bytes: warmup + o.bytes,
      warmupBytes: warmup,
      chunk: o.chunk ?? 1 << 20,
      checksum: o.checksum ?? 'compute',
      bufferBytes: o.bufferBytes ?? 1 << 20,
      mtu,
      progress: 'bulk_progress',
    };
    const mod = new URL('./stack-lcore.ts', import.meta.url);
    const server: BulkLcoreArg = {
      ...common,
      role: 'server',
      port: 1,
      pools: ['bulk_b', 'bulk_a'],
      ip: '10.0.0.2/24',
      mac: '02:00:00:00:00:02',
      peerIp: '10.0.0.1',
      peerMac: '02:00:00:00:00:01',
    };
    const client: BulkLcoreArg = {
      ...common,
      role: 'client',
      port: 0,
      pools: ['bulk_a', 'bulk_b'],
      ip: '10.0.0.1/24',
      mac: '02:00:00:00:00:01',
      peerIp: '10.0.0.2',
      peerMac: '02:00:00:00:00:02',
    };
    remoteLaunch(1, fileURLToPath(mod), 'bulk', server);
    remoteLaunch(2, fileURLToPath(mod), 'bulk', client);
    const deadline = performance.now() + (o.timeoutMs ?? 120_000);
    while (progress[Progress.DONE_AT] === 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const done = progress[Progress.DONE_AT];
    const seconds = (done - progress[warmup > 0 ? Progress.WARM_AT : Progress.CONNECTED_AT]) / 1000;
    const retransmits = progress[Progress.RETRANSMITS];
    stop();
    await mpWaitLcore();
    if (done === 0) {
      throw new Error(
        `tcp-bulk: only ${progress[Progress.RECEIVED]} of ${common.bytes} bytes arrived in time`,
      );
    }
    return { seconds, gbps: (o.bytes * 8) / seconds / 1e9, bytes: o.bytes, retransmits };
  } finally {
    await cleanup();
  }
}
