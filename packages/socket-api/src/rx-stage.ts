import { requestYield } from '@bypass/eal';
import type { NetRuntime } from './runtime.js';

/**
 * Where the node:net-compatible sockets of one runtime gather received bytes during a poll, so a
 * stream gets one Buffer and one 'data' per poll (what a read(2) of everything available gives
 * node:net), not one per segment: fewer events, fewer parser calls, fewer Buffers.
 *
 * Bytes are copied once, from packet memory into a slab (64 KiB, or larger for a larger run), as
 * Node's own Buffer pool does: each socket's bytes of a poll are one contiguous range of the
 * current slab, handed to the stream as a Buffer over that range once the poll has processed
 * its burst (after-poll hook). A slab is never written again where a Buffer was handed out; a
 * new one replaces it when full, and the old one lives as long as the Buffers over it.
 * A socket whose range is interrupted by another socket's bytes hands its range over at once.
 *
 * Handing bytes to a stream asks the poll loop to yield (requestYield): the reader's work goes
 * on in nextTicks, promises and immediates, which run only when the event loop does.
 */
export interface RxStageSink {
  /** Takes the staged range [start, end) of `slab` (push it into the stream). */
  takeStaged(slab: Buffer, start: number, end: number): void;
}

const SLAB_BYTES = 64 * 1024;

export class RxStage {
  #slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  #pos = 0;
  /** Whose range is open at the end of the slab (only that one can grow in place). */
  #last: RxStaged | null = null;
  readonly #open: RxStaged[] = [];

  /** Copies `bytes[offset, offset + length)` into `staged`'s range (opening one if needed). */
  add(staged: RxStaged, bytes: Uint8Array, offset: number, length: number): void {
    if (staged.slab !== null && (this.#last !== staged || this.#pos + length > this.#slab.length)) {
      // Not contiguous any more (or no room): hand over what it has, start a new range.
      this.handOver(staged);
    }
    if (staged.slab === null) {
      // A new range starts at the source's address mod 8: V8 copies out of a SharedArrayBuffer
      // word by word only when both sides are aligned alike (3-5x faster than byte by byte,
      // `pnpm bench checksum`'s set vs setmis); 1448-byte segments (MSS with timestamps) keep it.
      const pad = (bytes.byteOffset + offset - this.#pos) & 7;
      if (this.#pos + pad + length > this.#slab.length) {
        this.#slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, length + 8));
        this.#pos = 0;
      }
      this.#pos += (bytes.byteOffset + offset - this.#pos) & 7;
      staged.slab = this.#slab;
      staged.start = this.#pos;
      staged.end = this.#pos;
      this.#open.push(staged);
    }
    Buffer.prototype.copy.call(bytes, this.#slab, this.#pos, offset, offset + length);
    this.#pos += length;
    staged.end = this.#pos;
    this.#last = staged;
  }

  /** Hands `staged`'s open range to its sink now (before an end of stream, a close). */
  handOver(staged: RxStaged): void {
    const slab = staged.slab;
    if (slab === null) return;
    staged.slab = null;
    if (this.#last === staged) this.#last = null;
    requestYield();
    staged.sink.takeStaged(slab, staged.start, staged.end);
  }

  /** After every poll: every open range to its sink. */
  flush(): void {
    const open = this.#open;
    if (open.length === 0) return;
    for (let i = 0; i < open.length; i++) this.handOver(open[i]);
    open.length = 0;
    this.#last = null;
  }

  static #stages = new WeakMap<NetRuntime, RxStage>();

  /** The runtime's stage (made on first use, flushed after each of its polls). */
  static of(runtime: NetRuntime): RxStage {
    let s = RxStage.#stages.get(runtime);
    if (s === undefined) {
      const stage = new RxStage();
      runtime.onAfterPoll(() => stage.flush());
      RxStage.#stages.set(runtime, stage);
      s = stage;
    }
    return s;
  }
}

/** One socket's open range in the stage. */
export class RxStaged {
  slab: Buffer | null = null;
  start = 0;
  end = 0;
  constructor(readonly sink: RxStageSink) {}
}
