import type { NetRuntimeOptions } from './runtime.js';
import type { ListenInfo, WildcardMode } from './transparent-route.js';

/**
 * What `bypass run`'s main thread and its worker lcores exchange: the module it launches on each
 * lcore, the argument it gives, what an lcore reports while the program starts and what it
 * returns (transparent-lcore.ts is the lcore's side).
 */

/** The module `bypass run` launches on each worker lcore (export `transparentLcore`). */
export const TRANSPARENT_LCORE_MODULE: URL = new URL('./transparent-lcore.js', import.meta.url);

/** `transparentLcore`'s argument (remoteLaunch(lcore, TRANSPARENT_LCORE_MODULE, name, arg)). */
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
  /**
   * A BroadcastChannel name: the lcore posts a TransparentLcoreReport when the program has
   * loaded and when each of its listen() calls is listening (`bypass run`'s ready line).
   */
  channel?: string;
  /** Print the one-line notice for a listen() that goes to the kernel only (default true). */
  notices?: boolean;
}

/** What an lcore posts on `channel`. */
export type TransparentLcoreReport =
  | { type: 'loaded'; lcore: number }
  | { type: 'listening'; lcore: number; listen: ListenInfo };

/** What `transparentLcore` returns when the EAL stops and the program had not died. */
export interface TransparentLcoreResult {
  lcore: number;
  queue: number;
  polls: number;
  work: number;
  /** Frames the lcore's stack took in and sent. */
  rxFrames: number;
  txFrames: number;
}
