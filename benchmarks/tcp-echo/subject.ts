// The subject of `pnpm bench tcp-echo`: bypass's TCP between two lcores (two worker threads, one
// NetRuntime each) over back-to-back net_ring ports: lcore 1 echoes (callback sockets), lcore 2
// runs the closed loop over N connections (echo-lcore.ts). Starting the EAL and its threads is
// not timed: the window starts after every connection is up and the warm-up is over.
import { fileURLToPath } from 'node:url';
import {
  cleanup,
  init,
  memzoneReserve,
  mpWaitLcore,
  pktmbufPoolCreate,
  remoteLaunch,
  stop,
  waitLcore,
} from '@bypass/eal';
import { ethDevConfigure, ethDevStart, ethRxQueueSetup, ethTxQueueSetup } from '@bypass/pmd';
import { checkOptions, type EchoOptions, type EchoResult } from './common.js';
import { type EchoLcoreArg, type LcoreCounts, Progress } from './echo-lcore.js';

/** Segments and polls per completed request (whole run, warm-up included), client and server. */
function perRequest(r: EchoResult, srv: LcoreCounts): Record<string, number> {
  const cli = r.diag as unknown as LcoreCounts;
  const n = Math.max(1, r.completed);
  const per = (x: number) => Math.round((x / n) * 100) / 100;
  return {
    clientSegsOutPerReq: per(cli.segsOut),
    clientSegsInPerReq: per(cli.segsIn),
    serverSegsOutPerReq: per(srv.segsOut),
    clientPollsPerReq: per(cli.polls),
    clientBusyPollsPerReq: per(cli.polls - cli.idlePolls),
    serverPollsPerReq: per(srv.polls),
    serverBusyPollsPerReq: per(srv.polls - srv.idlePolls),
    retransSegs: cli.retransSegs + srv.retransSegs,
    clientSlices: cli.slices,
  };
}

const MOD = fileURLToPath(new URL('./echo-lcore.ts', import.meta.url));
const MAC = ['02:00:00:00:00:01', '02:00:00:00:00:02'];

export async function bypassEcho(opts: EchoOptions, timeoutMs = 60_000): Promise<EchoResult> {
  const o = checkOptions(opts);
  await init(
    {
      lcores: '0-2',
      pin: false,
      memoryMb: 128,
      logLevel: 'crit', // not the '3 lcores on 2 CPUs' line: params say so
      vdevs: [`net_ring0,peer=net_ring1,mac=${MAC[0]}`, `net_ring1,peer=net_ring0,mac=${MAC[1]}`],
    },
    { handleSignals: false },
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    const poolOpts = { n: 8192, cacheSize: 256 };
    pktmbufPoolCreate('echo_c', poolOpts);
    pktmbufPoolCreate('echo_s', poolOpts);
    const z = memzoneReserve('echo_progress', Progress.WORDS * 8);
    const progress = new Float64Array(z.sab, z.byteOffset, Progress.WORDS);
    for (const [port, pool] of [
      [0, 'echo_c'],
      [1, 'echo_s'],
    ] as const) {
      ethDevConfigure(port, { rxQueues: 1, txQueues: 1 });
      ethRxQueueSetup(port, 0, { size: 1024, mempool: pool });
      ethTxQueueSetup(port, 0, { size: 1024 });
      ethDevStart(port);
    }
    const server: EchoLcoreArg = {
      port: 1,
      pools: ['echo_s', 'echo_c'],
      ip: '10.0.0.2/24',
      peerIp: '10.0.0.1',
      peerMac: MAC[0],
      progress: 'echo_progress',
    };
    const client: EchoLcoreArg = {
      port: 0,
      pools: ['echo_c', 'echo_s'],
      ip: '10.0.0.1/24',
      peerIp: '10.0.0.2',
      peerMac: MAC[1],
      progress: 'echo_progress',
      load: o,
    };
    remoteLaunch(1, MOD, 'server', server);
    const deadline = performance.now() + 10_000;
    while (progress[Progress.LISTENING] === 0) {
      if (performance.now() > deadline)
        throw new Error('tcp-echo: the server lcore never listened');
      await new Promise((r) => setTimeout(r, 2));
    }
    remoteLaunch(2, MOD, 'client', client);
    // The client stops the EAL when its window is over. The timer guards against a hang: it
    // stops the EAL, and if an lcore still does not come back, gives up (cleanup() ends it).
    let late: (e: Error) => void = () => {};
    const giveUp = new Promise<never>((_, reject) => {
      late = reject;
    });
    timer = setTimeout(() => {
      stop();
      timer = setTimeout(
        () => late(new Error(`tcp-echo: the lcores did not finish in ${timeoutMs + 5000} ms`)),
        5000,
      );
    }, timeoutMs);
    const values = Promise.all([waitLcore(2), mpWaitLcore()]);
    const [result, all] = await Promise.race([values, giveUp]);
    const r = result as EchoResult;
    return { ...r, diag: perRequest(r, all[1] as LcoreCounts) };
  } finally {
    clearTimeout(timer);
    stop();
    await cleanup();
  }
}
