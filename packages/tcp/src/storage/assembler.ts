/**
 * The out-of-order map of a TCP receive buffer (smoltcp's storage::Assembler): which byte ranges
 * past RCV.NXT have arrived, as at most `maxRanges` disjoint, sorted, non-adjacent [start, end)
 * ranges of offsets from RCV.NXT. The bytes themselves sit in the receive ByteRing at those
 * offsets; this only remembers where.
 *
 * `add` merges a new range; when it would need more ranges than allowed it refuses (the caller
 * drops the segment and the sender retransmits it: the limit on the out-of-order queue).
 * `advance(n)` is called when RCV.NXT moves by n; `takeFront` says how many bytes became in-order.
 */
export class Assembler {
  readonly maxRanges: number;
  readonly #start: Int32Array;
  readonly #end: Int32Array;
  #count = 0;

  constructor(maxRanges: number) {
    this.maxRanges = maxRanges;
    this.#start = new Int32Array(maxRanges);
    this.#end = new Int32Array(maxRanges);
  }

  get ranges(): number {
    return this.#count;
  }

  get isEmpty(): boolean {
    return this.#count === 0;
  }

  /** Start of range i (offset from RCV.NXT). */
  startOf(i: number): number {
    return this.#start[i];
  }

  endOf(i: number): number {
    return this.#end[i];
  }

  /** Bytes held past the in-order point: the end of the last range (0 if none). */
  get highest(): number {
    return this.#count === 0 ? 0 : this.#end[this.#count - 1];
  }

  /**
   * Records [start, end) (0 <= start < end). Returns false, changing nothing, when the range
   * would need one range more than `maxRanges`.
   */
  add(start: number, end: number): boolean {
    const s = this.#start;
    const e = this.#end;
    const n = this.#count;
    // First range that ends at or after `start` (it touches or follows the new one).
    let i = 0;
    while (i < n && e[i] < start) i++;
    // Ranges i .. j-1 touch [start, end) and merge with it.
    let j = i;
    while (j < n && s[j] <= end) j++;
    if (i === j) {
      if (n === this.maxRanges) return false;
      for (let k = n; k > i; k--) {
        s[k] = s[k - 1];
        e[k] = e[k - 1];
      }
      s[i] = start;
      e[i] = end;
      this.#count = n + 1;
      return true;
    }
    const ns = Math.min(s[i], start);
    const ne = Math.max(e[j - 1], end);
    s[i] = ns;
    e[i] = ne;
    const removed = j - i - 1;
    if (removed > 0) {
      for (let k = i + 1; k + removed < n; k++) {
        s[k] = s[k + removed];
        e[k] = e[k + removed];
      }
      this.#count = n - removed;
    }
    return true;
  }

  /**
   * When the first range starts at offset 0 (the gap before it filled), removes it and returns
   * its length: that many bytes are now in order. Otherwise 0.
   */
  takeFront(): number {
    if (this.#count === 0 || this.#start[0] !== 0) return 0;
    const len = this.#end[0];
    this.removeFirst();
    this.shift(len);
    return len;
  }

  /** RCV.NXT moved forward by `n`: every offset drops by n; ranges wholly before 0 go, and a range straddling 0 is clipped. */
  advance(n: number): void {
    this.shift(n);
    while (this.#count > 0 && this.#end[0] <= 0) this.removeFirst();
    if (this.#count > 0 && this.#start[0] < 0) this.#start[0] = 0;
  }

  clear(): void {
    this.#count = 0;
  }

  private shift(n: number): void {
    for (let k = 0; k < this.#count; k++) {
      this.#start[k] -= n;
      this.#end[k] -= n;
    }
  }

  private removeFirst(): void {
    const n = this.#count - 1;
    for (let k = 0; k < n; k++) {
      this.#start[k] = this.#start[k + 1];
      this.#end[k] = this.#end[k + 1];
    }
    this.#count = n;
  }
}
