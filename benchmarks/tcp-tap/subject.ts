// The subject of pnpm bench tcp-tap: bypass's TCP on a net_tap port whose kernel side sits in the
// benchmark's namespace, against the same peer.mjs the baseline talks to. One EAL per transfer
// (the tap interface is created, moved into the namespace and removed each time).
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
import type { BulkResult, TapBulkFn, TapBulkOptions } from './baseline.js';
import { type TapLcoreArg, TapProgress } from './stack-lcore.js';
import type { VethTopology } from './topology.js';

const PEER = fileURLToPath(new URL('./peer.mjs', import.meta.url));
let runs = 0;

/** `tso`: the port with offload=tso and the stack sending 64 KB TSO frames, checksums offloaded. */
export function bypassTap(topo: VethTopology, tso: boolean): TapBulkFn {
  return (opts) => bypassTapBulk(topo, opts, tso);
}

async function bypassTapBulk(
  topo: VethTopology,
  opts: TapBulkOptions,
  tso: boolean,
): Promise<BulkResult> {
  const id = runs++;
  // A new name each run: the kernel may still be tearing down the previous run's interface.
  const iface = `bpst${process.pid % 10000}x${id}`.slice(0, 15);
  const subnet = `10.98.${(process.pid + id) % 250}`;
  const chunk = opts.chunk ?? 1 << 20;
  await init(
    {
      lcores: '0-1',
      pin: false,
      logLevel: 'err',
      memoryMb: tso ? 512 : 256,
      vdevs: [`net_tap0,iface=${iface},mac=02:00:00:00:00:aa${tso ? ',offload=tso' : ''}`],
    },
    { handleSignals: false },
  );
  const peerArgs =
    opts.direction === 'to-ns'
      ? [PEER, 'sink', `${subnet}.1`, String(opts.bytes)]
      : [PEER, 'source', `${subnet}.1`, String(opts.bytes), String(chunk)];
  let peer: ReturnType<VethTopology['ns']['peer']> | undefined;
  try {
    pktmbufPoolCreate(
      'tap_pool',
      tso ? { n: 2048, cacheSize: 64, dataRoomSize: 65536 + 512 } : { n: 8192, cacheSize: 256 },
    );
    const z = memzoneReserve('tap_progress', TapProgress.WORDS * 8);
    const progress = new Float64Array(z.sab, z.byteOffset, TapProgress.WORDS);
    ethDevConfigure(0, { rxQueues: 1, txQueues: 1 });
    ethRxQueueSetup(0, 0, { size: 1024, mempool: 'tap_pool' });
    ethTxQueueSetup(0, 0, { size: 1024 });
    ethDevStart(0);
    topo.ns.adopt(iface, `${subnet}.1/24`);
    peer = topo.ns.peer(process.execPath, peerArgs);
    const go = /^go (\d+)$/.exec(await peer.line());
    if (go === null) throw new Error('tcp-tap subject: the peer did not say "go PORT"');
    const arg: TapLcoreArg = {
      port: 0,
      pool: 'tap_pool',
      ip: `${subnet}.2/24`,
      mac: '02:00:00:00:00:aa',
      peerIp: `${subnet}.1`,
      peerPort: Number(go[1]),
      direction: opts.direction,
      bytes: opts.bytes,
      chunk,
      tso,
      progress: 'tap_progress',
    };
    remoteLaunch(1, fileURLToPath(new URL('./stack-lcore.ts', import.meta.url)), 'transfer', arg);
    const ms = opts.timeoutMs ?? 60_000 + opts.bytes / 1e5;
    let seconds: number;
    if (opts.direction === 'to-ns') {
      const r = JSON.parse(await peer.line(ms)) as { bytes: number; t1: string };
      if (r.bytes !== opts.bytes)
        throw new Error(`tcp-tap subject: the peer got ${r.bytes} of ${opts.bytes}`);
      seconds = (Number(r.t1) - progress[TapProgress.CONNECTED_NS]) / 1e9;
    } else {
      const end = performance.now() + ms;
      while (progress[TapProgress.DONE_NS] === 0 && performance.now() < end) {
        if (progress[TapProgress.ERROR] !== 0) break;
        await new Promise((r) => setTimeout(r, 2));
      }
      if (progress[TapProgress.DONE_NS] === 0) {
        throw new Error(
          `tcp-tap subject: received ${progress[TapProgress.RECEIVED]} of ${opts.bytes} bytes`,
        );
      }
      seconds = (progress[TapProgress.DONE_NS] - progress[TapProgress.CONNECTED_NS]) / 1e9;
    }
    await Promise.race([peer.exited, new Promise((r) => setTimeout(r, 2000))]);
    return { seconds, gbps: (opts.bytes * 8) / seconds / 1e9, bytes: opts.bytes };
  } finally {
    peer?.kill();
    stop();
    await mpWaitLcore();
    await cleanup();
  }
}
