// The thread behind one lcore (DPDK's EAL thread): attaches the EAL's shared memory, pins itself
// to its CPU, reports ready, then runs whatever the main thread launches on it, one function at
// a time, and reports each result or error.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import type { EalConfig } from './args.js';
import { setContext } from './context.js';
import { EalError } from './errors.js';
import { importModule } from './import-module.js';
import { setLogLevel } from './log.js';
import { EalMemory, LcoreState, type WasmMemory } from './memory.js';
import { tryPin } from './native.js';
import type { ToLcore } from './protocol.js';
import { setSlowPathPort } from './slowpath.js';
import { lcoreStats } from './stats.js';

interface LcoreData {
  /** The EAL memory: its WebAssembly.Memory when it has one, else the SharedArrayBuffer. */
  sab: SharedArrayBuffer | null;
  wasm: WasmMemory | null;
  config: EalConfig;
  lcoreId: number;
  slowPathPort: MessagePort;
}

const { sab, wasm, config, lcoreId, slowPathPort } = workerData as LcoreData;
const memory = new EalMemory(sab, wasm);
const port = parentPort!;
setContext({ config, memory, lcoreId, isMain: false });
setLogLevel(config.logLevel);
setSlowPathPort(slowPathPort);

const pin = config.pin
  ? tryPin(config.cpuOf[lcoreId])
  : { pinned: false, reason: 'disabled by --no-pin' };
port.postMessage({ type: 'ready', pinned: pin.pinned, reason: pin.reason });

function describe(e: unknown): { name: string; message: string; stack?: string } {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

async function launch(module: string, exportName: string, arg: unknown): Promise<void> {
  try {
    const mod = await importModule(module);
    const fn = mod[exportName];
    if (typeof fn !== 'function') {
      throw new EalError(`${module} exports no function named ${exportName}`);
    }
    const value = await (fn as (a: unknown) => unknown)(arg);
    memory.setLcoreState(lcoreId, LcoreState.FINISHED);
    port.postMessage({ type: 'done', value });
  } catch (e) {
    memory.setLcoreState(lcoreId, LcoreState.FINISHED);
    port.postMessage({ type: 'error', error: describe(e) });
  }
}

port.on('message', (msg: ToLcore) => {
  if (msg.type === 'launch') void launch(msg.module, msg.exportName, msg.arg);
  else if (msg.type === 'collect') {
    port.postMessage({
      type: 'histogram',
      id: msg.id,
      encoded: hdr.encodeIntoCompressedBase64(lcoreStats().latency),
    });
  }
});
