/**
 * A byte ring buffer of fixed capacity, allocated once per socket (smoltcp's storage::RingBuffer).
 * TCP keeps both of its buffers in one:
 * - the send buffer holds bytes from SND.UNA on: what is unacknowledged and what is not sent
 *   yet; a retransmission copies from it again (`peek`), an ACK drops from the front (`discard`);
 * - the receive buffer holds in-order bytes the application has not read, and past them, at
 *   offsets beyond `length`, out-of-order bytes (`writeAt`) that `commit` makes readable once the
 *   gap fills (the assembler says how far).
 * Copies go through `TypedArray.set` on at most two contiguous runs. Each run needs a
 * `subarray` view of the source (set() takes no offset and length for it): one short-lived
 * object per copy of a segment's payload, the only allocation on the TCP data path. To or from
 * a SharedArrayBuffer (mbufs), V8 copies 8 bytes at a time only when both addresses agree modulo
 * 8: the sender places frames to match (Stack.ipAlloc), the receiver moves an empty ring to
 * match (`alignEmpty`).
 */
export class ByteRing {
  readonly buf: Uint8Array;
  readonly capacity: number;
  /** Index in `buf` of the first readable byte. */
  #head = 0;
  #length = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.buf = new Uint8Array(capacity);
  }

  /** Readable bytes. */
  get length(): number {
    return this.#length;
  }

  /** Room for `write`. */
  get free(): number {
    return this.capacity - this.#length;
  }

  /** Index in `buf` of the byte at `offset` from the read position (offset < capacity). */
  indexOf(offset: number): number {
    const i = this.#head + offset;
    return i >= this.capacity ? i - this.capacity : i;
  }

  /** Appends up to `len` bytes of `src` from `off`; returns how many fit. */
  write(src: Uint8Array, off: number, len: number): number {
    const n = Math.min(len, this.free);
    this.copyIn(this.#length, src, off, n);
    this.#length += n;
    return n;
  }

  /**
   * Copies `len` bytes to `offset` past the read position without making them readable (out-of-
   * order data). The caller keeps offset + len <= capacity; `commit` publishes them later.
   */
  writeAt(offset: number, src: Uint8Array, off: number, len: number): void {
    this.copyIn(offset, src, off, len);
  }

  /** Makes `n` more bytes readable: bytes `writeAt` put right after the readable ones. */
  commit(n: number): void {
    this.#length += n;
  }

  /** Copies up to `len` readable bytes from `offset` (not consuming them) into `dst[dstOff ...]`. */
  peek(offset: number, dst: Uint8Array, dstOff: number, len: number): number {
    const avail = this.#length - offset;
    const n = Math.min(len, avail);
    if (n <= 0) return 0;
    const start = this.indexOf(offset);
    const first = this.capacity - start;
    if (n <= first) {
      dst.set(this.buf.subarray(start, start + n), dstOff);
    } else {
      dst.set(this.buf.subarray(start, this.capacity), dstOff);
      dst.set(this.buf.subarray(0, n - first), dstOff + first);
    }
    return n;
  }

  /** Copies and consumes up to `len` bytes. */
  read(dst: Uint8Array, dstOff: number, len: number): number {
    const n = this.peek(0, dst, dstOff, len);
    this.discard(n);
    return n;
  }

  /** Drops `n` bytes from the front (n <= length). */
  discard(n: number): void {
    this.#length -= n;
    // Never rewind to 0 when it empties: out-of-order bytes may sit past the read position.
    this.#head = this.indexOf(n);
  }

  /** Length of the contiguous readable run at the front: `buf[indexOf(0) ..]`. */
  contiguous(): number {
    const first = this.capacity - this.#head;
    return Math.min(this.#length, first);
  }

  clear(): void {
    this.#head = 0;
    this.#length = 0;
  }

  /**
   * Moves the read position of an empty ring so that the next byte written lands at a byte
   * address of `mod8` modulo 8 (0-7): copies between a SharedArrayBuffer and this ring run 8
   * bytes at a time only when both sides share their address modulo 8. The caller knows no
   * bytes wait past the read position either (out-of-order data); with a capacity that is not a
   * multiple of 8 the alignment holds until the first wrap only.
   */
  alignEmpty(mod8: number): void {
    if (this.#length !== 0 || this.capacity < 8) return;
    this.#head = (mod8 - this.buf.byteOffset) & 7;
  }

  private copyIn(offset: number, src: Uint8Array, off: number, n: number): void {
    if (n <= 0) return;
    const start = this.indexOf(offset);
    const first = this.capacity - start;
    if (n <= first) {
      this.buf.set(src.subarray(off, off + n), start);
    } else {
      this.buf.set(src.subarray(off, off + first), start);
      this.buf.set(src.subarray(off + first, off + n), 0);
    }
  }
}
