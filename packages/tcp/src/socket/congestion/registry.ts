import { OptionError } from '@bypass/atomics-sync';
import type { CongestionController, CongestionControllerFactory } from './controller.js';
import { NewReno } from './newreno.js';

const registry = new Map<string, CongestionControllerFactory>([['newreno', () => new NewReno()]]);

/**
 * Adds a congestion controller that connections can then name in TcpOptions.congestionControl
 * (Linux's tcp_register_congestion_control). Throws OptionError for a bad or taken name.
 *
 * ```ts
 * registerCongestionControl('fixed', () => ({
 *   name: 'fixed', cwnd: 0, ssthresh: 0x7fffffff,
 *   init(mss) { this.cwnd = 64 * mss; }, onAck() {}, onLoss() {}, onRto() {},
 * }));
 * stack.tcpConnect(ip, port, handlers, now, { congestionControl: 'fixed' });
 * ```
 */
export function registerCongestionControl(
  name: string,
  factory: CongestionControllerFactory,
): void {
  if (!/^[a-z][a-z0-9_-]{0,31}$/.test(name))
    throw new OptionError('congestion control name', name, 'lowercase letters, digits, _ or -');
  if (registry.has(name))
    throw new OptionError('congestion control name', name, 'a name not registered yet');
  registry.set(name, factory);
}

/** The names connections may choose from, in registration order. */
export function congestionControlNames(): string[] {
  return [...registry.keys()];
}

/** Whether `name` is registered. */
export function hasCongestionControl(name: string): boolean {
  return registry.has(name);
}

/** A new controller of the kind `name`; throws OptionError naming the registered ones. */
export function createCongestionController(name: string): CongestionController {
  const factory = registry.get(name);
  if (factory === undefined)
    throw new OptionError(
      'congestionControl',
      name,
      `one of ${congestionControlNames().join(', ')} (or one added with registerCongestionControl)`,
    );
  const cc = factory();
  if (cc.name !== name)
    throw new OptionError(
      'congestionControl',
      name,
      `a factory whose controller is named ${name}, got ${cc.name}`,
    );
  return cc;
}
