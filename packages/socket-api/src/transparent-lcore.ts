import { pathToFileURL } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import { importModule, lcoreId, stop } from '@bypass/eal';
import { NetRuntime } from './runtime.js';
import { installTransparent } from './transparent.js';
import type {
  TransparentLcoreArg,
  TransparentLcoreReport,
  TransparentLcoreResult,
} from './transparent-protocol.js';

/** The program (the module `bypass run` was given, or one it imports) failed to load. */
export class ProgramLoadError extends Error {
  override name = 'ProgramLoadError';
}

/**
 * What `bypass run` launches on each worker lcore (remoteLaunch(lcore, TRANSPARENT_LCORE_MODULE,
 * 'transparentLcore', arg)): this lcore's NetRuntime on its queue of the port, transparent mode
 * installed in this thread, then the program imported (unmodified), while the runtime's poll
 * loop runs until the EAL stops (SIGINT, SIGTERM, an lcore error). The program's own timers,
 * promises and kernel sockets run on the thread's event loop between poll slices.
 *
 * When the program dies (an exception nobody catches, in a handler, a timer or a promise), the
 * lcore resets every connection of its stack (an RST to each peer, as the kernel does for a
 * process that dies), stops every lcore and reports the exception. A program that fails to load
 * is reported as a ProgramLoadError (name: message of the program's error, its stack as the
 * stack), so `bypass run` can say where in the program it failed.
 */
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
  const channel = arg.channel === undefined ? undefined : new BroadcastChannel(arg.channel);
  const report = (r: TransparentLcoreReport) => channel?.postMessage(r);
  const transparent = installTransparent({
    runtime,
    wildcard: arg.wildcard,
    routes: arg.routes,
    trace: arg.trace
      ? (line) => process.stderr.write(`bypass run: lcore ${lcore}: ${line}\n`)
      : undefined,
    notice: arg.notices === false ? () => {} : undefined,
    onListening: (listen) => report({ type: 'listening', lcore, listen }),
  });
  // The program's death: the first exception nobody caught (the program's own
  // 'uncaughtException' listeners, if it has any, decide instead, as in plain node).
  let death: { error: unknown } | undefined;
  const die = (error: unknown) => {
    if (death !== undefined) return;
    death = { error };
    runtime.resetAll();
    stop();
  };
  const onUncaught = (error: unknown) => {
    if (process.listenerCount('uncaughtException') === 1) die(error);
  };
  process.on('uncaughtException', onUncaught);
  const finish = () => {
    process.off('uncaughtException', onUncaught);
    channel?.close();
    transparent.uninstall();
    // Whatever is still open is reset, not dropped: the port goes away after this.
    runtime.resetAll();
    runtime.close();
  };
  // What the program sees as its command line: node, itself, its arguments.
  process.argv = [process.argv[0], arg.app, ...arg.args];
  // An exception thrown by the program while the stack delivers to it ends the loop.
  const loop = runtime.run().catch((e: unknown) => {
    die(e);
    return undefined;
  });
  // importModule: a load cut short by a stop request (Ctrl-C also kills tsx's esbuild service)
  // is reported as that stop, not as the program's error. A load that never ends (a top-level
  // await) still lets a stop or the program's death end the lcore.
  let loadError: { error: unknown } | undefined;
  const loaded = importModule(pathToFileURL(arg.app).href).then(
    () => true,
    (error: unknown) => {
      loadError = { error };
      return true;
    },
  );
  if (await Promise.race([loaded, loop.then(() => false)])) {
    if (loadError !== undefined) {
      // The program failed to load: stop every lcore (the EAL reports this one's error).
      stop();
    } else if (death === undefined) report({ type: 'loaded', lcore });
  }
  const r = await loop;
  finish();
  if (loadError !== undefined) {
    const err = loadError.error as Error;
    if (!(err instanceof Error) || err.name === 'StartupInterruptedError') throw err;
    const failed = new ProgramLoadError(`${err.name}: ${err.message}`, { cause: err });
    failed.stack = err.stack;
    throw failed;
  }
  if (death !== undefined) throw death.error;
  const { rxFrames, txFrames } = runtime.stack.stats;
  return {
    lcore,
    queue: arg.queue,
    polls: r?.polls ?? 0,
    work: r?.work ?? 0,
    rxFrames,
    txFrames,
  };
}
