import { rxBurst, txBurst } from '@bypass/pmd';

/**
 * What StackPort drives: a sans-IO packet processor that takes received mbufs in bursts and
 * queues mbufs to send (@bypass/tcp's Stack is one; the driver layer does not depend on it).
 */
export interface BurstStack {
  /** Takes `n` received mbuf handles from `rx` at time `now` (ms); it owns them from here. */
  inputBurst(rx: Uint32Array, n: number, now: number): void;
  /** Timers and deferred work at `now`. */
  poll(now: number): void;
  /** mbufs queued to send, the first `txCount` of them. */
  readonly txQueue: Uint32Array;
  readonly txCount: number;
  /** The port took the first `n` of txQueue. */
  txDone(n: number): void;
}

/**
 * Binds a stack to one rx/tx queue pair of an ethdev port: the body of a lcore's run-to-
 * completion loop (rx burst, every frame through the stack, timers, tx burst).
 *
 * ```ts
 * const sp = new StackPort(stack, port, lcoreQueue);
 * while (running) sp.poll(now());
 * ```
 */
export class StackPort<S extends BurstStack = BurstStack> {
  readonly stack: S;
  readonly port: number;
  readonly queue: number;
  readonly burst: number;
  readonly #rx: Uint32Array;
  /** Frames received and sent through this binding. */
  rxFrames = 0;
  txFrames = 0;
  /** tx bursts where the port took fewer frames than offered (the rest stay queued in the stack). */
  txShort = 0;

  constructor(stack: S, port: number, queue = 0, burst = 32) {
    this.stack = stack;
    this.port = port;
    this.queue = queue;
    this.burst = burst;
    this.#rx = new Uint32Array(burst);
  }

  /**
   * One loop iteration at time `now` (ms). Returns how many frames moved (received plus sent),
   * so an adaptive loop can tell idle from busy.
   */
  poll(now: number): number {
    const stack = this.stack;
    const rx = this.#rx;
    const n = rxBurst(this.port, this.queue, rx, this.burst);
    stack.inputBurst(rx, n, now);
    this.rxFrames += n;
    stack.poll(now);
    return n + this.flush();
  }

  /** Sends what the stack queued. Returns how many frames the port took. */
  flush(): number {
    const stack = this.stack;
    let sent = 0;
    while (stack.txCount > 0) {
      const k = txBurst(this.port, this.queue, stack.txQueue, stack.txCount);
      stack.txDone(k);
      sent += k;
      if (k === 0) {
        this.txShort++;
        break;
      }
    }
    this.txFrames += sent;
    return sent;
  }
}
