/**
 * @bypass/eal: the environment layer, after DPDK's EAL. On the main thread: init() (DPDK-style
 * arguments or typed options), remoteLaunch / mpRemoteLaunch / waitLcore / mpWaitLcore,
 * stop(), cleanup(), statistics. On any lcore: lcoreId(), memzones and the rings and pools in
 * them (found by name), runPollLoop() (busy or adaptive polling, sliced so Node's event loop
 * still runs), timers, the clock, per-lcore counters and latency histograms.
 */

export {
  type TimerCallback,
  TimerError,
  type TimerMode,
  TimerTableFullError,
  TimerWheel,
  type TimerWheelOptions,
} from '@bypass/timer';
export {
  type EalConfig,
  type EalOptions,
  LOG_LEVELS,
  type LogLevelName,
  MAX_LCORES,
  type ParsedArgs,
  type PollMode,
  parseCoreList,
  parseEalArgs,
  parseVdev,
  resolveOptions,
  USAGE,
  type VdevSpec,
} from './args.js';
export { now, nowNs } from './clock.js';
export {
  cleanup,
  collectLatency,
  collectStats,
  type InitExtras,
  type InitResult,
  init,
  isInitialised,
  lcoreState,
  mpRemoteLaunch,
  mpWaitLcore,
  onCleanup,
  printStats,
  quitRequested,
  remoteLaunch,
  runApp,
  STARTUP_INTERRUPTED,
  startupInitialOldSpaceMb,
  startupInterrupted,
  stop,
  waitLcore,
} from './eal.js';
export { EalArgError, EalError, LcoreError, StartupInterruptedError } from './errors.js';
export { importModule } from './import-module.js';
export {
  doorbell,
  ealConfig,
  ealWasmMemory,
  isMainLcore,
  lcoreCount,
  lcoreCpu,
  lcoreId,
  lcoreList,
  mainLcore,
  perLcore,
} from './lcore.js';
export { log, logLevel, setLogLevel } from './log.js';
export {
  type PollLoopOptions,
  type PollLoopResult,
  requestYield,
  runPollLoop,
} from './loop.js';
export { type LcoreStateName, type Memzone, MemzoneKind, type WasmMemory } from './memory.js';
export {
  loadNative,
  type NativeAddon,
  nativeUnavailableReason,
  pinCurrentThread,
} from './native.js';
export {
  mempoolCreate,
  mempoolLookup,
  memzoneLookup,
  memzoneReserve,
  pktmbufPoolCreate,
  pktmbufPoolLookup,
  ringCreate,
  ringLookup,
} from './objects.js';
export {
  DEFAULT_DUPLICATE_WINDOW_MS,
  launcherChain,
  type ProcStat,
  parseProcStat,
  readProcStat,
  StopPolicy,
  type StopPolicyOptions,
  type StopSignal,
} from './signals.js';
export { type SlowPathClient, type SlowPathReply, slowPath } from './slowpath.js';
export { LcoreStats, lcoreStats, mergeHistograms, newLatencyHistogram } from './stats.js';
