import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { resolveWorkerModule } from '@bypass/atomics-sync';
import { Ring } from '@bypass/ring';
import { Piscina } from 'piscina';
import { context } from './context.js';
import { EalError } from './errors.js';
import { type EalMemory, MemzoneKind } from './memory.js';

/**
 * The slow path: work that must not stall a polling lcore (CPU-heavy handlers, file I/O,
 * compression) runs on a piscina pool owned by the EAL on the main thread. An lcore submits a
 * task and goes on polling; the reply comes back as a message on the lcore's port plus a ticket
 * on a completion ring the lcore polls (and a ring of its doorbell, for an adaptive lcore), so
 * the lcore never blocks and never needs a callback from the event loop.
 *
 * Costs: a piscina task is tens of microseconds end to end. Never per packet.
 */

export interface SlowPathReply {
  ticket: number;
  ok: boolean;
  value?: unknown;
  error?: { name: string; message: string; stack?: string };
}

interface Request {
  ticket: number;
  filename: string;
  name: string;
  arg: unknown;
}

const CQ_SIZE = 4096;
const cqName = (lcore: number) => `eal_slowpath_cq_${lcore}`;

/** Main thread: reserves each lcore's completion ring. */
export function reserveCompletionRings(memory: EalMemory, lcores: readonly number[]): void {
  for (const id of lcores) {
    const o = { count: CQ_SIZE, name: cqName(id) };
    const z = memory.reserve(cqName(id), Ring.bytesFor(o), MemzoneKind.RING);
    Ring.create(z.sab, z.byteOffset, o);
  }
}

function completionRing(memory: EalMemory, lcore: number): Ring {
  const z = memory.lookup(cqName(lcore));
  if (z === undefined) throw new EalError(`slow path: no completion ring for lcore ${lcore}`);
  return Ring.attach({ kind: 'ring', sab: z.sab, byteOffset: z.byteOffset });
}

/** Main thread: serves one lcore's requests on `port` with the shared piscina pool. */
export class SlowPathServer {
  private piscina: Piscina | undefined;
  private readonly ports: MessagePort[] = [];

  constructor(
    private readonly memory: EalMemory,
    private readonly threads: number,
  ) {}

  serve(lcore: number, port: MessagePort): void {
    const cq = completionRing(this.memory, lcore);
    const bell = this.memory.doorbell(lcore);
    this.ports.push(port);
    port.on('message', (req: Request) => {
      this.pool()
        .run(req.arg, { filename: req.filename, name: req.name })
        .then(
          (value: unknown) => ({ ticket: req.ticket, ok: true, value }) satisfies SlowPathReply,
          (e: unknown) =>
            ({ ticket: req.ticket, ok: false, error: describe(e) }) satisfies SlowPathReply,
        )
        .then((reply) => {
          // Message first, then the ticket: when the lcore sees the ticket the message is there.
          port.postMessage(reply);
          cq.enqueueOne(req.ticket); // never full: the client keeps fewer than CQ_SIZE outstanding
          bell.ring();
        });
    });
    port.unref();
  }

  private pool(): Piscina {
    this.piscina ??= new Piscina({
      maxThreads: this.threads,
      minThreads: 0,
      execArgv: process.execArgv.concat(tsxArgv()),
    });
    return this.piscina;
  }

  async close(): Promise<void> {
    for (const p of this.ports) p.close();
    await this.piscina?.destroy();
    this.piscina = undefined;
  }
}

/** Task modules may be TypeScript in dev: piscina's workers then need tsx's loader. */
function tsxArgv(): string[] {
  try {
    return ['--import', import.meta.resolve('tsx')];
  } catch {
    return [];
  }
}

export function defaultSlowPathThreads(lcores: number): number {
  return Math.max(1, availableParallelism() - lcores);
}

function describe(e: unknown): { name: string; message: string; stack?: string } {
  return e instanceof Error
    ? { name: e.name, message: e.message, stack: e.stack }
    : { name: 'Error', message: String(e) };
}

/** An lcore's handle on the slow path. */
export class SlowPathClient {
  private nextTicket = 1;
  /** Tasks submitted and not yet polled back. */
  outstanding = 0;
  private readonly cq: Ring;
  private readonly ticketBuf = new Uint32Array(32);

  constructor(
    memory: EalMemory,
    lcore: number,
    private readonly port: MessagePort,
  ) {
    this.cq = completionRing(memory, lcore);
  }

  /**
   * Runs export `name` (default: the default export) of `filename` with `arg` on the slow-path
   * pool. Returns a ticket; the reply arrives through `poll`. At most 4095 may be outstanding.
   * Slow path itself: it posts a message (and resolves the module name) per call.
   */
  submit(filename: URL | string, arg: unknown, name = 'default'): number {
    if (this.outstanding >= CQ_SIZE - 1) {
      throw new EalError(
        `slow path: ${this.outstanding} tasks outstanding; poll() replies before submitting more`,
      );
    }
    const ticket = this.nextTicket;
    this.nextTicket = (this.nextTicket + 1) >>> 0 || 1;
    const url =
      filename instanceof URL
        ? filename
        : filename.startsWith('file:')
          ? new URL(filename)
          : pathToFileURL(filename);
    const href = resolveWorkerModule(url).url.href; // ./task.js names task.ts in dev, as for workers
    this.port.postMessage({ ticket, filename: href, name, arg } satisfies Request);
    this.outstanding++;
    return ticket;
  }

  /** Hands each completed reply to `onReply`; returns how many. Call it from the poll loop. */
  poll(onReply: (reply: SlowPathReply) => void): number {
    if (this.outstanding === 0) return 0;
    const n = this.cq.dequeueBurst(this.ticketBuf, this.ticketBuf.length);
    for (let i = 0; i < n; i++) {
      const m = receiveMessageOnPort(this.port);
      if (m === undefined)
        throw new EalError('slow path: a completion arrived without its reply message');
      this.outstanding--;
      onReply(m.message as SlowPathReply);
    }
    return n;
  }
}

let client: SlowPathClient | undefined;
let clientPort: MessagePort | undefined;

/** Set by the lcore runtime (and init on the main thread): this thread's end of the slow path. */
export function setSlowPathPort(port: MessagePort | undefined): void {
  clientPort = port;
  client = undefined;
}

/** This lcore's slow-path client. */
export function slowPath(): SlowPathClient {
  if (client === undefined) {
    if (clientPort === undefined)
      throw new EalError('slow path: not available in this thread; call init() first');
    const ctx = context();
    client = new SlowPathClient(ctx.memory, ctx.lcoreId, clientPort);
  }
  return client;
}
