import { OptionError } from '@bypass/atomics-sync';
/**
 * IPv4 fragment reassembly (RFC 791 3.2, with RFC 815's idea of tracking what is still
 * missing), sans-IO: `now` is an argument, nothing reads a clock. Limits follow Linux's ipfrag
 * sysctls: a timeout from the first fragment (ipfrag_time, 30 s), a memory budget for all
 * reassemblies (ipfrag_high_thresh), and a cap on concurrent reassemblies.
 *
 * Fragments are keyed by (source, destination, protocol, identification) as RFC 791 says.
 *
 * Storage: each reassembly takes one slab big enough for the largest datagram
 * (IPV4_MAX_HEADER_LEN + maxDatagramSize - 20 bytes), taken from a free list and returned to it
 * when the reassembly ends, so slabs are allocated only while the number of concurrent
 * reassemblies grows (at most `maxDatagrams` of them) and reused after that. A fragment's payload
 * is copied once, straight to its place in the slab; the completed datagram is returned as a view
 * of that slab, without a second copy. Per fragment, the only allocation is the growth of the
 * small array of received ranges, and the key string (this is the slow path).
 *
 * Overlaps: a fragment that overlaps bytes already received is accepted only when the
 * overlapping bytes are identical (an exact duplicate is counted in `duplicates` and otherwise
 * ignored). Overlapping fragments with different data drop the whole reassembly, as Linux has
 * done for IPv4 since 4.19 and RFC 5722 requires for IPv6: such overlaps are the tool of
 * evasion attacks (Teardrop, IDS evasion), never of honest routers.
 */
import {
  IPV4_FLAG_DF,
  IPV4_FLG_OFF,
  IPV4_MAX_HEADER_LEN,
  IPV4_MIN_HEADER_LEN,
  ipv4Df,
  ipv4Dst,
  ipv4FillChecksum,
  ipv4FragOffset,
  ipv4HeaderLen,
  ipv4Ident,
  ipv4IsFragment,
  ipv4Mf,
  ipv4Protocol,
  ipv4Src,
  ipv4TotalLength,
  setIpv4TotalLength,
} from '@bypass/net';

export interface Ipv4ReassemblerOptions {
  /**
   * Concurrent reassemblies; the first fragment of another is dropped while this many are in
   * progress (they finish or time out: a stream of fragments with new IDs cannot push out a
   * reassembly that is under way). Default 64.
   */
  maxDatagrams?: number;
  /**
   * Bytes of fragments (IPv4 total lengths) held by all reassemblies together, like Linux's
   * ipfrag_high_thresh: past it no new reassembly starts, while one in progress may still
   * finish (up to maxBytes + maxDatagramSize in all); one that alone needs more is dropped.
   * Default 4 MiB.
   */
  maxBytes?: number;
  /** Milliseconds from a reassembly's first fragment until it is dropped. Default 30 000. */
  timeoutMs?: number;
  /** Largest reassembled datagram (header included), 68..65535. Default 65535. */
  maxDatagramSize?: number;
}

/** Counters since construction. Reassemblies dropped count once each, not per fragment. */
export interface Ipv4ReassemblyStats {
  /** Fragments passed to add() (datagrams that were not fragments are not counted). */
  fragments: number;
  /** Datagrams completed and returned by add(). */
  reassembled: number;
  /** Fragments whose bytes had all been received already (ignored, the reassembly goes on). */
  duplicates: number;
  /** Reassemblies that timed out (see expire()). */
  droppedTimeout: number;
  /** Reassemblies dropped for an overlap with different data. */
  droppedOverlap: number;
  /** Fragments refused for maxBytes (no new reassembly), and reassemblies too big for it. */
  droppedMemory: number;
  /** First fragments of new reassemblies refused while maxDatagrams are in progress. */
  droppedTableFull: number;
  /** Fragments reaching beyond maxDatagramSize; the reassembly they belonged to is dropped. */
  droppedTooBig: number;
  /**
   * Malformed fragments: a middle fragment that is empty or not a multiple of 8 bytes (only the
   * fragment is dropped), or a last fragment that contradicts the data or another last fragment
   * (the reassembly is dropped).
   */
  droppedInvalid: number;
}

/**
 * What expire() reports about a timed-out reassembly whose first fragment (offset 0) had
 * arrived: RFC 792 says to send ICMP time exceeded, code 1 (fragment reassembly time exceeded),
 * for those only.
 */
export interface Ipv4ReassemblyExpired {
  /**
   * A copy (owned by the caller) of the first fragment's IPv4 header as received, followed by up
   * to `quoteBytes` bytes of its payload: the quote that ICMP carries back.
   */
  quote: Uint8Array;
}

const DEFAULTS = {
  maxDatagrams: 64,
  maxBytes: 4 * 1024 * 1024,
  timeoutMs: 30_000,
  maxDatagramSize: 65_535,
};

/** How a fragment relates to the bytes already received. */
const Overlap = { None: 0, Duplicate: 1, Conflict: 2 } as const;
type Overlap = (typeof Overlap)[keyof typeof Overlap];

/** The payload starts here in a slab; the first fragment's header sits just before it. */
const SLAB_PAYLOAD = IPV4_MAX_HEADER_LEN;

interface Reassembly {
  key: string;
  slab: Uint8Array;
  /** When the first fragment arrived (the timeout runs from here, as in Linux). */
  firstAt: number;
  /** Header length of the offset-0 fragment; 0 until it arrives. */
  headerLen: number;
  /** Payload length, known once the last fragment (MF clear) arrives; -1 until then. */
  payloadLen: number;
  /** Received payload ranges, sorted, disjoint and not touching: [start0, end0, start1, ...]. */
  ranges: number[];
  /** Bytes charged against maxBytes (total lengths of the accepted fragments). */
  bytes: number;
}

function checkOption(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new OptionError(`Ipv4Reassembler option ${name}`, v, `an integer from ${min} to ${max}`);
  }
  return v;
}

export class Ipv4Reassembler {
  readonly maxDatagrams: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly maxDatagramSize: number;
  readonly stats: Ipv4ReassemblyStats = {
    fragments: 0,
    reassembled: 0,
    duplicates: 0,
    droppedTimeout: 0,
    droppedOverlap: 0,
    droppedMemory: 0,
    droppedTableFull: 0,
    droppedTooBig: 0,
    droppedInvalid: 0,
  };

  /** In creation order, so the first entry is the oldest (for eviction and expiry). */
  private readonly table = new Map<string, Reassembly>();
  private readonly freeSlabs: Uint8Array[] = [];
  private readonly slabSize: number;
  private heldBytes = 0;
  /** Reassemblies that add() found timed out, reported by the next expire(). */
  private pendingTimeouts = 0;
  private pendingQuotes: Uint8Array[] = [];
  private readonly quoteBytes = 8;

  constructor(options: Ipv4ReassemblerOptions = {}) {
    this.maxDatagrams = checkOption(
      'maxDatagrams',
      options.maxDatagrams ?? DEFAULTS.maxDatagrams,
      1,
      1 << 20,
    );
    this.maxDatagramSize = checkOption(
      'maxDatagramSize',
      options.maxDatagramSize ?? DEFAULTS.maxDatagramSize,
      68,
      65_535,
    );
    this.maxBytes = checkOption(
      'maxBytes',
      options.maxBytes ?? DEFAULTS.maxBytes,
      68,
      Number.MAX_SAFE_INTEGER,
    );
    this.timeoutMs = checkOption(
      'timeoutMs',
      options.timeoutMs ?? DEFAULTS.timeoutMs,
      1,
      Number.MAX_SAFE_INTEGER,
    );
    this.slabSize = SLAB_PAYLOAD + this.maxDatagramSize - IPV4_MIN_HEADER_LEN;
  }

  /** Reassemblies in progress. */
  get pending(): number {
    return this.table.size;
  }

  /** Bytes charged against maxBytes by the reassemblies in progress. */
  get bytesHeld(): number {
    return this.heldBytes;
  }

  /**
   * Feeds one IPv4 datagram: the header at frame[ipOff..], already validated by ipv4Check()
   * (so its total length lies inside `frame`). `now` is the time in milliseconds.
   *
   * Returns the complete datagram when this fragment completes one: a view of the reassembler's
   * storage holding the first fragment's header (options included) with total length set, MF and
   * the offset cleared (DF as in the first fragment) and the checksum recomputed, followed by the
   * whole payload. The view is valid until the next call to add(); copy what you keep longer.
   * A datagram that is not a fragment (MF clear, offset 0) is returned as it is, a view of
   * `frame`. Otherwise returns null: more fragments are needed, or the fragment was dropped
   * (see `stats`). The reassembler never keeps a reference to `frame`: it may be freed at once.
   */
  add(frame: Uint8Array, ipOff: number, now: number): Uint8Array | null {
    const hl = ipv4HeaderLen(frame, ipOff);
    const total = ipv4TotalLength(frame, ipOff);
    if (!ipv4IsFragment(frame, ipOff)) return frame.subarray(ipOff, ipOff + total);
    const st = this.stats;
    st.fragments++;
    const fragOff = ipv4FragOffset(frame, ipOff);
    const len = total - hl;
    const end = fragOff + len;
    const last = !ipv4Mf(frame, ipOff);
    const key = `${ipv4Src(frame, ipOff)}>${ipv4Dst(frame, ipOff)}/${ipv4Protocol(frame, ipOff)}#${ipv4Ident(frame, ipOff)}`;
    let r = this.table.get(key);
    if (r !== undefined && now - r.firstAt >= this.timeoutMs) {
      // The timer fired before this fragment; the caller has not called expire() yet.
      this.timeOut(r);
      r = undefined;
    }
    // RFC 791: every fragment but the last carries a nonzero multiple of 8 bytes.
    if (!last && (len === 0 || (len & 7) !== 0)) {
      st.droppedInvalid++;
      return null;
    }
    if (hl + end > this.maxDatagramSize) {
      // Ping of death: offset + length beyond 65535. Linux drops the whole queue.
      st.droppedTooBig++;
      if (r !== undefined) this.drop(r);
      return null;
    }
    if (r !== undefined) {
      const known = r.payloadLen;
      const maxEnd = r.ranges.length === 0 ? 0 : r.ranges[r.ranges.length - 1];
      if ((known >= 0 && (end > known || (last && end !== known))) || (last && end < maxEnd)) {
        st.droppedInvalid++;
        this.drop(r);
        return null;
      }
      const verdict = this.compareOverlap(r, frame, ipOff + hl, fragOff, end);
      if (verdict === Overlap.Duplicate) {
        st.duplicates++;
        return null;
      }
      if (verdict === Overlap.Conflict) {
        st.droppedOverlap++;
        this.drop(r);
        return null;
      }
    }
    // Limits refuse what is new rather than evict what is under way (Linux since 4.17): an
    // attacker's flood of first fragments waits out its timeout instead of pushing a real
    // datagram's reassembly out.
    if (r === undefined) {
      if (this.table.size >= this.maxDatagrams) {
        st.droppedTableFull++;
        return null;
      }
      if (this.heldBytes + total > this.maxBytes) {
        st.droppedMemory++;
        return null;
      }
    } else if (
      r.bytes + total > this.maxBytes ||
      this.heldBytes + total > this.maxBytes + this.maxDatagramSize
    ) {
      st.droppedMemory++;
      this.drop(r);
      return null;
    }
    if (r === undefined) {
      r = {
        key,
        slab: this.freeSlabs.pop() ?? new Uint8Array(this.slabSize),
        firstAt: now,
        headerLen: 0,
        payloadLen: -1,
        ranges: [],
        bytes: 0,
      };
      this.table.set(key, r);
    }
    r.bytes += total;
    this.heldBytes += total;
    if (last) r.payloadLen = end;
    if (fragOff === 0 && r.headerLen === 0) {
      r.headerLen = hl;
      r.slab.set(frame.subarray(ipOff, ipOff + hl), SLAB_PAYLOAD - hl);
    }
    r.slab.set(frame.subarray(ipOff + hl, ipOff + total), SLAB_PAYLOAD + fragOff);
    addRange(r.ranges, fragOff, end);
    return this.tryComplete(r);
  }

  /**
   * Drops the reassemblies whose first fragment arrived timeoutMs or more before `now`, and
   * returns how many timed out since the last call (including those add() found timed out).
   * When `out` is given, pushes one Ipv4ReassemblyExpired onto it for each of them whose
   * offset-0 fragment had arrived, for the caller to send ICMP time exceeded, code 1.
   */
  expire(now: number, out?: Ipv4ReassemblyExpired[]): number {
    for (const r of this.table.values()) {
      // Creation order is arrival order: the first one still young ends the scan.
      if (now - r.firstAt < this.timeoutMs) break;
      this.timeOut(r);
    }
    const n = this.pendingTimeouts;
    if (out !== undefined) for (const quote of this.pendingQuotes) out.push({ quote });
    this.pendingTimeouts = 0;
    this.pendingQuotes = [];
    return n;
  }

  private timeOut(r: Reassembly): void {
    this.stats.droppedTimeout++;
    this.pendingTimeouts++;
    if (r.headerLen !== 0) {
      const hl = r.headerLen;
      // Quote only bytes that arrived: the contiguous run from offset 0.
      const quoted = Math.min(this.quoteBytes, r.ranges[1]);
      this.pendingQuotes.push(r.slab.slice(SLAB_PAYLOAD - hl, SLAB_PAYLOAD + quoted));
    }
    this.drop(r);
  }

  private drop(r: Reassembly): void {
    this.table.delete(r.key);
    this.heldBytes -= r.bytes;
    this.freeSlabs.push(r.slab);
  }

  /** Checks the bytes of the new fragment that were received already. */
  private compareOverlap(
    r: Reassembly,
    frame: Uint8Array,
    payloadAt: number,
    start: number,
    end: number,
  ): Overlap {
    const ranges = r.ranges;
    const slab = r.slab;
    let overlapped = 0;
    for (let i = 0; i < ranges.length; i += 2) {
      const s = Math.max(start, ranges[i]);
      const e = Math.min(end, ranges[i + 1]);
      if (s >= e) continue;
      overlapped += e - s;
      for (let j = s; j < e; j++) {
        if (slab[SLAB_PAYLOAD + j] !== frame[payloadAt + j - start]) return Overlap.Conflict;
      }
    }
    // An empty last fragment "overlaps" nothing but is a duplicate once the end is known.
    if (overlapped === end - start && (end > start || r.payloadLen === end)) {
      return Overlap.Duplicate;
    }
    return Overlap.None;
  }

  private tryComplete(r: Reassembly): Uint8Array | null {
    const ranges = r.ranges;
    if (r.payloadLen < 0 || r.headerLen === 0) return null;
    // headerLen set means offset 0 arrived, so one range [0, payloadLen) is the whole payload.
    if (ranges.length !== 2 || ranges[1] !== r.payloadLen) return null;
    const hl = r.headerLen;
    const total = hl + r.payloadLen;
    if (total > this.maxDatagramSize) {
      // Later fragments had shorter headers than the first one.
      this.stats.droppedTooBig++;
      this.drop(r);
      return null;
    }
    const slab = r.slab;
    const at = SLAB_PAYLOAD - hl;
    setIpv4TotalLength(slab, at, total);
    const df = ipv4Df(slab, at);
    slab[at + IPV4_FLG_OFF] = df ? IPV4_FLAG_DF >>> 8 : 0;
    slab[at + IPV4_FLG_OFF + 1] = 0;
    ipv4FillChecksum(slab, at);
    // The slab goes back to the free list now; the view stays valid until the next add().
    this.drop(r);
    this.stats.reassembled++;
    return slab.subarray(at, at + total);
  }
}

/** Adds [start, end) to sorted disjoint ranges, merging those it overlaps or touches. */
function addRange(ranges: number[], start: number, end: number): void {
  if (end === start) return;
  let i = 0;
  while (i < ranges.length && ranges[i + 1] < start) i += 2;
  let j = i;
  let s = start;
  let e = end;
  while (j < ranges.length && ranges[j] <= end) {
    s = Math.min(s, ranges[j]);
    e = Math.max(e, ranges[j + 1]);
    j += 2;
  }
  ranges.splice(i, j - i, s, e);
}
