/**
 * @bypass/timer: per-lcore timers after DPDK's rte_timer, sans-IO (the wheel never reads a
 * clock; the caller passes `now`). Used by the EAL's poll loop and by the TCP stack.
 */
export {
  type TimerCallback,
  TimerError,
  type TimerMode,
  TimerTableFullError,
  TimerWheel,
  type TimerWheelOptions,
} from './timer-wheel.js';
