/**
 * @bypass/atomics-sync: synchronisation primitives that live in a SharedArrayBuffer region
 * chosen by the caller. One thread creates a primitive (`X.create(sab, byteOffset, ...)`),
 * sends its `descriptor` to other threads (workerData or postMessage), and they `X.attach` it.
 * Blocking forms park on Atomics.wait; `...Async` forms on Atomics.waitAsync.
 */
export { Barrier, type BarrierDescriptor } from './barrier.js';
export { Condition, type ConditionDescriptor } from './condition.js';
export { Doorbell, type DoorbellDescriptor, type ParkResult } from './doorbell.js';
export { OptionError, RegionError, SyncMisuseError } from './errors.js';
export { Latch, type LatchDescriptor, WaitGroup, type WaitGroupDescriptor } from './latch.js';
export { Mutex, type MutexDescriptor } from './mutex.js';
export { checkRegion, type SyncDescriptor } from './region.js';
export { Semaphore, type SemaphoreDescriptor } from './semaphore.js';
export type { WaitResult } from './wait.js';
export {
  BUILT_CONDITION,
  builtExecArgv,
  builtModule,
  resolveWorkerModule,
  runWorker,
  type StaleBuild,
  type StartOptions,
  staleBuilds,
  startWorker,
  WorkerModuleError,
  workerExit,
} from './worker.js';
