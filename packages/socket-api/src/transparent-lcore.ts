import { pathToFileURL } from 'node:url';
import { importModule, lcoreId, stop } from '@bypass/eal';
import { NetRuntime, type NetRuntimeOptions } from './runtime.js';
import { installTransparent, type WildcardMode } from './transparent.js';

/**
 * What `bypass run` launches on each worker lcore (remoteLaunch(lcore, TRANSPARENT_LCORE_MODULE,
 * 'transparentLcore', arg)): this lcore's NetRuntime on its queue of the port, transparent mode
 * installed in this thread, then the program imported (unmodified), while the runtime's poll
 * loop runs until the EAL stops (SIGINT, SIGTERM, an lcore error). The program's own timers,
 * promises and kernel sockets run on the thread's event loop between poll slices.
 */
export interface TransparentLcoreArg {
  /** The ethdev port (id or name), started by the main thread. */
  port: number | string;
  /** This lcore's rx/tx queue. */
  queue: number;
  /** The pool the stack sends from (default 'mbuf_pool'). */
  pool?: string;
  /** ADDRESS/PREFIX of the stack. */
  ip: string;
  gateway?: string;
  mtu?: number;
  checksum?: NetRuntimeOptions['checksum'];
  tsoMaxBytes?: number;
  /** Wildcard listens: also on the kernel ('both', for one lcore only) or the stack only. */
  wildcard: WildcardMode;
  /** More CIDRs to connect to through the stack (via the gateway). */
  routes?: string[];
  /** Print each routing decision on stderr. */
  trace?: boolean;
  /** The program: an absolute path. */
  app: string;
  /** Its arguments (process.argv.slice(2) in the program). */
  args: string[];
}

export interface TransparentLcoreResult {
  lcore: number;
  queue: number;
  polls: number;
  work: number;
  /** Frames the lcore's stack took in and sent. */
  rxFrames: number;
  txFrames: number;
}

export async function transparentLcore(arg: TransparentLcoreArg): Promise<TransparentLcoreResult> {
  const runtime = NetRuntime.create({
    port: arg.port,
    queue: arg.queue,
    pool: arg.pool,
    ip: arg.ip,
    gateway: arg.gateway,
    mtu: arg.mtu,
    checksum: arg.checksum,
    tsoMaxBytes: arg.tsoMaxBytes,
  });
  const lcore = lcoreId();
  const transparent = installTransparent({
    runtime,
    wildcard: arg.wildcard,
    routes: arg.routes,
    trace: arg.trace
      ? (line) => process.stderr.write(`bypass run: lcore ${lcore}: ${line}\n`)
      : undefined,
  });
  // What the program sees as its command line: node, itself, its arguments.
  process.argv = [process.argv[0], arg.app, ...arg.args];
  const loop = runtime.run();
  try {
    // importModule: a load cut short by a stop request (Ctrl-C also kills tsx's esbuild service)
    // is reported as that stop, not as the program's error.
    await importModule(pathToFileURL(arg.app).href);
  } catch (e) {
    // The program failed to load: stop every lcore (the EAL reports this one's error).
    stop();
    await loop.catch(() => undefined);
    transparent.uninstall();
    runtime.close();
    throw e;
  }
  const r = await loop;
  transparent.uninstall();
  runtime.close();
  const { rxFrames, txFrames } = runtime.stack.stats;
  return { lcore, queue: arg.queue, polls: r.polls, work: r.work, rxFrames, txFrames };
}
