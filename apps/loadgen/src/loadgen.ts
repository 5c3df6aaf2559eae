// The loadgen program on the initialised EAL: the client port gets one queue per worker lcore,
// each worker lcore runs its share of the connections (loadgenLcore), the main thread prints a
// statistics line per period, then the merged result as wrk prints it.
import { OptionError } from '@bypass/atomics-sync';
import { lcoreList, remoteLaunch } from '@bypass/eal';
import { ethDevStop } from '@bypass/pmd';
import type { ClientLcoreArg } from './lcore.js';
import type { LoadLcoreResult } from './load.js';
import { appPool, portLabel, readyWordOf, SharedWord, setupPort, workerLcores } from './net-app.js';
import { type LoadgenArgs, resolveLoadOptions } from './options.js';
import { type LoadResult, mergeLoadResults, printLoadResult } from './report.js';
import { supervise } from './supervise.js';

const POOL = 'loadgen_pool';
const DONE = 'loadgen_done';
const STOP = 'loadgen_stop';

export async function runLoadgen(
  args: LoadgenArgs,
  print: (line: string) => void = console.log,
): Promise<LoadResult> {
  if (args.load.target === undefined) {
    throw new OptionError(
      'target',
      'nothing',
      'given: http://IP:PORT/PATH, tcp://IP:PORT or --target IP:PORT',
    );
  }
  const load = resolveLoadOptions(args.load);
  const workers = workerLcores();
  if (workers.length === 0) {
    throw new OptionError(
      '-l',
      lcoreList().join(','),
      'the main lcore and at least one worker lcore, like 0-1',
    );
  }
  if (load.connections < workers.length) {
    throw new OptionError(
      '-c',
      load.connections,
      `at least ${workers.length}, a connection per worker lcore`,
    );
  }
  appPool(POOL, 8192 * workers.length);
  setupPort(args.portId, workers.length, POOL);
  const done = new SharedWord(DONE);
  done.set(0);
  const stopWord = new SharedWord(STOP);
  stopWord.set(0);
  new SharedWord(readyWordOf(STOP)).set(0);
  workers.forEach((lcore, queue) => {
    const arg: ClientLcoreArg = {
      net: {
        port: args.portId,
        queue,
        pool: POOL,
        ip: args.ip,
        gateway: args.gateway,
        neighbours: args.neighbours,
        stopWord: STOP,
        runLcores: workers.length,
      },
      load: {
        ...load,
        connections:
          Math.floor(load.connections / workers.length) +
          (queue < load.connections % workers.length ? 1 : 0),
      },
      done: DONE,
    };
    remoteLaunch(lcore, new URL('./lcore.js', import.meta.url), 'loadgenLcore', arg);
  });
  print(
    `LOADGEN: ${load.mode} ${load.mode === 'http' ? `GET ${load.path}` : `${load.size}-byte messages`} to ${load.target}:${load.port}, ${load.connections} connections, pipeline ${load.pipeline}, ${load.durationS}s, lcore(s) ${workers.join(',')} on ${portLabel(args.portId)}`,
  );
  let values: Record<number, unknown>;
  try {
    values = await supervise({
      done,
      clients: workers.length,
      limitMs: (load.warmupS + load.durationS) * 1000 + 30_000,
      periodS: args.periodS,
      print,
      stop: () => stopWord.set(1),
      line: (delta, dt) =>
        `  ${(delta('loadgen_requests') / dt).toFixed(0).padStart(9)} req/s  ${((delta('loadgen_bytes_rx') * 8) / dt / 1e9).toFixed(3)} Gbit/s in  errors ${delta('loadgen_errors')}`,
    });
  } finally {
    ethDevStop(args.portId);
  }
  const r = mergeLoadResults(
    load,
    workers.map((l) => values[l] as LoadLcoreResult),
  );
  printLoadResult(r, print);
  return r;
}
