import { Doorbell, Mutex } from '@bypass/atomics-sync';
import { sharedWasmMemory, type WasmMemory } from '@bypass/net';
import { MAX_LCORES } from './args.js';
import { EalError } from './errors.js';

/**
 * The EAL's shared memory (DPDK's hugepages and memzones): one SharedArrayBuffer reserved at
 * init and handed to every lcore. It starts with a control block (quit flag, lcore states, one
 * Doorbell per lcore, the memzone table and its lock); the rest is a heap that memzones are
 * carved from, never freed (as DPDK memzones, they live as long as the EAL).
 *
 * The buffer is a shared WebAssembly.Memory's where the runtime allows it (up to 4 GiB, in 64 KiB
 * pages): the same SharedArrayBuffer to JavaScript, and WebAssembly code (the stack's SIMD
 * checksum) can then work on pool memory in place. Otherwise a plain SharedArrayBuffer.
 *
 * A memzone is a named region: any lcore finds it by name. Rings, mempools and mbuf pools made
 * through the EAL live in memzones, and the zone's kind and info words say how to attach them.
 */

export const MemzoneKind = { RAW: 0, RING: 1, MEMPOOL: 2, PKTMBUF_POOL: 3 } as const;
export type MemzoneKindValue = (typeof MemzoneKind)[keyof typeof MemzoneKind];

export interface Memzone {
  readonly name: string;
  readonly sab: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly length: number;
  readonly kind: number;
  /** Five words the creator of the zone may use (e.g. an mbuf pool's metadata offset). */
  readonly info: readonly number[];
}

/** Lcore states, as rte_lcore_state_t. */
export const LcoreState = { WAIT: 0, RUNNING: 1, FINISHED: 2 } as const;
export type LcoreStateName = 'wait' | 'running' | 'finished';
const STATE_NAMES: LcoreStateName[] = ['wait', 'running', 'finished'];

// Control block layout (bytes).
const MAGIC = 0; // words
const QUIT = 1;
const HEAP_TOP = 2;
const ZONE_COUNT = 3;
const POOL_IDS = 4;
const LOCK_OFF = 64;
const STATES_OFF = 1024;
const BELLS_OFF = 2048;
const ZONES_OFF = 4096;
const MAX_MEMZONES = 512;
const ZONE_WORDS = 16; // name 8 words, offset, length, kind, info x5
const HEAP_OFF = 65536;
const EAL_MAGIC = 0x45414c30; // "EAL0"
const NAME_BYTES = 32;

export class EalMemory {
  /** Reserves `bytes` of shared memory and lays out the control block. */
  static create(bytes: number): EalMemory {
    if (bytes < HEAP_OFF * 2)
      throw new EalError(
        `EAL memory of ${bytes} bytes is too small; ask for at least 1 MiB (-m 1)`,
      );
    const wasm = sharedWasmMemory(bytes);
    const sab = wasm === null ? new SharedArrayBuffer(bytes) : (wasm.buffer as SharedArrayBuffer);
    const w = new Int32Array(sab, 0, HEAP_OFF / 4);
    Mutex.create(sab, LOCK_OFF);
    for (let i = 0; i < MAX_LCORES; i++) Doorbell.create(sab, BELLS_OFF + i * Doorbell.BYTES);
    Atomics.store(w, HEAP_TOP, HEAP_OFF);
    Atomics.store(w, MAGIC, EAL_MAGIC);
    return new EalMemory(sab, wasm);
  }

  readonly sab: SharedArrayBuffer;
  /** The WebAssembly.Memory whose buffer `sab` is, or null (a plain SharedArrayBuffer). */
  readonly wasm: WasmMemory | null;
  private readonly w: Int32Array;
  private readonly u: Uint32Array;
  private readonly lock: Mutex;
  private readonly bells: Doorbell[] = [];

  /**
   * Attaches to EAL memory created on another thread: its SharedArrayBuffer, or its
   * WebAssembly.Memory (then `sab` must be that memory's buffer in this thread, or omitted).
   */
  constructor(sab: SharedArrayBuffer | null, wasm: WasmMemory | null = null) {
    this.wasm = wasm;
    if (wasm !== null) sab = wasm.buffer as SharedArrayBuffer;
    if (sab === null)
      throw new EalError('EalMemory: give its SharedArrayBuffer or WebAssembly.Memory');
    this.sab = sab;
    this.w = new Int32Array(sab, 0, HEAP_OFF / 4);
    this.u = new Uint32Array(sab, 0, HEAP_OFF / 4);
    if (Atomics.load(this.w, MAGIC) !== EAL_MAGIC)
      throw new EalError('not EAL memory: create it with EalMemory.create');
    this.lock = Mutex.attach({ kind: 'mutex', sab, byteOffset: LOCK_OFF });
  }

  // The quit flag: set by stop() or a signal; every lcore loop checks it.
  quitRequested(): boolean {
    return Atomics.load(this.w, QUIT) !== 0;
  }

  requestQuit(): void {
    Atomics.store(this.w, QUIT, 1);
    for (let i = 0; i < MAX_LCORES; i++) this.doorbell(i).ring();
  }

  /** The quit flag's word, for loops that read it directly (Atomics.load(words, index)). */
  get quitWord(): { words: Int32Array; index: number } {
    return { words: this.w, index: QUIT };
  }

  lcoreState(id: number): LcoreStateName {
    return STATE_NAMES[Atomics.load(this.w, STATES_OFF / 4 + id)];
  }

  setLcoreState(id: number, state: (typeof LcoreState)[keyof typeof LcoreState]): void {
    Atomics.store(this.w, STATES_OFF / 4 + id, state);
  }

  /** Claims lcore `id` for a launch: WAIT -> RUNNING. False if it is not waiting. */
  claimLcore(id: number): boolean {
    return (
      Atomics.compareExchange(this.w, STATES_OFF / 4 + id, LcoreState.WAIT, LcoreState.RUNNING) ===
      LcoreState.WAIT
    );
  }

  /** Lcore `id`'s doorbell: ring it to wake that lcore when it parks (adaptive polling). */
  doorbell(id: number): Doorbell {
    let d = this.bells[id];
    if (d === undefined) {
      d = Doorbell.attach({
        kind: 'doorbell',
        sab: this.sab,
        byteOffset: BELLS_OFF + id * Doorbell.BYTES,
      });
      this.bells[id] = d;
    }
    return d;
  }

  /**
   * Reserves a named memzone of `bytes` (rte_memzone_reserve), aligned to `align` bytes.
   * Throws EalError when the name is taken, the table is full, or memory runs out (-m).
   */
  reserve(
    name: string,
    bytes: number,
    kind: number = MemzoneKind.RAW,
    info: readonly number[] = [],
    align = 128,
  ): Memzone {
    if (name.length === 0 || name.length > NAME_BYTES || !/^[\x21-\x7e]+$/.test(name)) {
      throw new EalError(
        `memzone name ${JSON.stringify(name)} must be 1-32 printable ASCII characters without spaces`,
      );
    }
    if (!Number.isInteger(bytes) || bytes < 0)
      throw new EalError(`memzone ${name}: size ${bytes} must be an integer >= 0`);
    if (align < 8 || (align & (align - 1)) !== 0)
      throw new EalError(`memzone ${name}: align ${align} must be a power of two >= 8`);
    this.lock.lock();
    try {
      if (this.find(name) >= 0)
        throw new EalError(`memzone ${name} already exists; pick another name or look it up`);
      const count = Atomics.load(this.w, ZONE_COUNT);
      if (count >= MAX_MEMZONES)
        throw new EalError(`memzone ${name}: all ${MAX_MEMZONES} memzones are in use`);
      const top = Atomics.load(this.u, HEAP_TOP);
      const start = Math.ceil(top / align) * align;
      if (start + bytes > this.sab.byteLength) {
        const needMb = Math.ceil((start + bytes) / (1 << 20));
        throw new EalError(
          `memzone ${name}: ${bytes} bytes do not fit in the ${this.sab.byteLength >> 20} MiB of EAL memory; start with -m ${needMb} or more`,
        );
      }
      const e = ZONES_OFF / 4 + count * ZONE_WORDS;
      for (let i = 0; i < 8; i++) this.u[e + i] = 0;
      for (let i = 0; i < name.length; i++)
        this.u[e + (i >> 2)] |= name.charCodeAt(i) << ((i & 3) * 8);
      this.u[e + 8] = start;
      this.u[e + 9] = bytes;
      this.u[e + 10] = kind;
      for (let i = 0; i < 5; i++) this.u[e + 11 + i] = info[i] ?? 0;
      Atomics.store(this.u, HEAP_TOP, start + bytes);
      Atomics.store(this.w, ZONE_COUNT, count + 1); // publish: lookups read entries below the count
      return this.zone(count);
    } finally {
      this.lock.unlock();
    }
  }

  /** Sets the info words of memzone `name` (its creator does, once the object inside is built). */
  setInfo(name: string, info: readonly number[]): void {
    const i = this.find(name);
    if (i < 0) throw new EalError(`memzone ${name} does not exist`);
    const e = ZONES_OFF / 4 + i * ZONE_WORDS;
    for (let k = 0; k < 5; k++) Atomics.store(this.u, e + 11 + k, info[k] ?? 0);
  }

  /** Finds a memzone by name (rte_memzone_lookup); undefined if there is none. */
  lookup(name: string): Memzone | undefined {
    const i = this.find(name);
    return i < 0 ? undefined : this.zone(i);
  }

  /** Every memzone, in reservation order. */
  list(): Memzone[] {
    const n = Atomics.load(this.w, ZONE_COUNT);
    return Array.from({ length: n }, (_, i) => this.zone(i));
  }

  /** A pool id (0..255) not handed out before, so mbufs of different pools never share one. */
  nextPoolId(): number {
    const id = Atomics.add(this.w, POOL_IDS, 1);
    if (id > 255) throw new EalError('all 256 mempool ids are in use');
    return id;
  }

  /** Bytes of the heap still free. */
  freeBytes(): number {
    return this.sab.byteLength - Atomics.load(this.u, HEAP_TOP);
  }

  private find(name: string): number {
    const n = Atomics.load(this.w, ZONE_COUNT);
    for (let i = 0; i < n; i++) if (this.nameAt(i) === name) return i;
    return -1;
  }

  private nameAt(i: number): string {
    const e = ZONES_OFF / 4 + i * ZONE_WORDS;
    let s = '';
    for (let k = 0; k < NAME_BYTES; k++) {
      const c = (this.u[e + (k >> 2)] >>> ((k & 3) * 8)) & 0xff;
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s;
  }

  private zone(i: number): Memzone {
    const e = ZONES_OFF / 4 + i * ZONE_WORDS;
    const u = this.u;
    return {
      name: this.nameAt(i),
      sab: this.sab,
      byteOffset: u[e + 8],
      length: u[e + 9],
      kind: u[e + 10],
      info: [u[e + 11], u[e + 12], u[e + 13], u[e + 14], u[e + 15]],
    };
  }
}

export type { WasmMemory };
