/**
 * PcapWriter: writes a libpcap file (what `tcpdump -w` writes), for the pcap poll-mode driver's
 * tx side and for tests that want Wireshark to look at what the stack sent.
 *
 * Records are appended to one chunk buffer (1 MiB by default) and the chunk goes to the file
 * with one write(2) when the next record does not fit, on flush() and on close(). Records
 * longer than the snaplen are cut to it with their original length kept, as `tcpdump -s` does.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { OptionError } from '@bypass/atomics-sync';
import { PcapClosedError } from './errors.js';
import {
  encodeFileHeader,
  LINKTYPE_ETHERNET,
  PCAP_FILE_HEADER_BYTES,
  PCAP_MAX_CAPLEN,
  PCAP_RECORD_HEADER_BYTES,
} from './format.js';
import type { PcapReader } from './reader.js';

/** Default bytes buffered before a write(2). */
export const PCAP_WRITE_CHUNK = 1024 * 1024;
const MAX_CHUNK = 1024 * 1024 * 1024;
const HDR = PCAP_RECORD_HEADER_BYTES;

export interface PcapWriterOptions {
  /** Most bytes kept per record, 1 to 262144 (default 65535, tcpdump's old default). */
  readonly snaplen?: number;
  /** Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds (default false). */
  readonly nanosecond?: boolean;
  /** The link type, a LINKTYPE_ value 0 to 65535 (default 1, LINKTYPE_ETHERNET). */
  readonly linktype?: number;
  /** Byte order of the header fields (default true: little-endian, what x86 and ARM write). */
  readonly littleEndian?: boolean;
  /** Bytes buffered before a write(2), 64 to 2^30 (default 1 MiB). */
  readonly chunkSize?: number;
}

/**
 * A timestamp given as whole seconds since the epoch and the fraction in the writer's own
 * unit: microseconds, or nanoseconds for a writer created with `nanosecond: true`.
 */
export interface PcapTimestamp {
  readonly sec: number;
  readonly frac: number;
}

export class PcapWriter {
  /**
   * Creates (or truncates) `path` and writes the file header to the chunk. Throws
   * OptionError naming a bad option, or the fs error when the file cannot be created.
   */
  static create(path: string, options: PcapWriterOptions = {}): PcapWriter {
    const snaplen = options.snaplen ?? 65535;
    if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > PCAP_MAX_CAPLEN) {
      throw new OptionError('snaplen', snaplen, `an integer from 1 to ${PCAP_MAX_CAPLEN}`);
    }
    const linktype = options.linktype ?? LINKTYPE_ETHERNET;
    if (!Number.isInteger(linktype) || linktype < 0 || linktype > 0xffff) {
      throw new OptionError('linktype', linktype, 'an integer from 0 to 65535 (LINKTYPE_*)');
    }
    const chunkSize = options.chunkSize ?? PCAP_WRITE_CHUNK;
    if (!Number.isInteger(chunkSize) || chunkSize < 64 || chunkSize > MAX_CHUNK) {
      throw new OptionError('chunkSize', chunkSize, `an integer from 64 to ${MAX_CHUNK}`);
    }
    const nanosecond = options.nanosecond ?? false;
    const littleEndian = options.littleEndian ?? true;
    for (const [name, v] of [
      ['nanosecond', nanosecond],
      ['littleEndian', littleEndian],
    ] as const) {
      if (typeof v !== 'boolean') throw new OptionError(name, v, 'true or false');
    }
    const fd = openSync(path, 'w');
    return new PcapWriter(path, fd, { snaplen, linktype, chunkSize, nanosecond, littleEndian });
  }

  readonly snaplen: number;
  readonly linktype: number;
  readonly nanosecond: boolean;
  readonly littleEndian: boolean;

  private fd: number;
  private readonly buf: Uint8Array;
  private readonly dv: DataView;
  private end = 0;
  private flushed = 0;
  private count = 0;
  /** Units of the timestamp fraction per second: 1e6 or 1e9. */
  private readonly fracPerSec: number;

  private constructor(
    /** The path the writer was created with; errors name it. */
    readonly path: string,
    fd: number,
    o: Required<PcapWriterOptions>,
  ) {
    this.fd = fd;
    this.snaplen = o.snaplen;
    this.linktype = o.linktype;
    this.nanosecond = o.nanosecond;
    this.littleEndian = o.littleEndian;
    this.fracPerSec = o.nanosecond ? 1e9 : 1e6;
    this.buf = new Uint8Array(o.chunkSize);
    this.dv = new DataView(this.buf.buffer);
    encodeFileHeader(this.buf, 0, o);
    this.end = PCAP_FILE_HEADER_BYTES;
  }

  /** Records written so far (buffered ones included). */
  get records(): number {
    return this.count;
  }
  /** Bytes of file written so far, the header and buffered records included. */
  get bytesWritten(): number {
    return this.flushed + this.end;
  }

  /**
   * Appends one record: `length` bytes of `bytes` from `offset`, cut to the snaplen.
   * `ts` is either nanoseconds since the epoch as a double (PcapReader.tsNs, the mbuf
   * timestamp), rounded to the file's unit, or a PcapTimestamp in the file's own unit.
   * `origLen` is the length on the wire (default `length`; at least `length`). Returns the
   * bytes kept (capLen). The bytes are copied before it returns: the caller keeps `bytes`.
   * Throws OptionError for a bad range or timestamp, PcapClosedError after close().
   */
  write(
    bytes: Uint8Array,
    offset: number,
    length: number,
    ts: number | PcapTimestamp,
    origLen = length,
  ): number {
    let sec: number;
    let frac: number;
    if (typeof ts === 'number') {
      if (!(ts >= 0 && ts < 2 ** 32 * 1e9)) {
        throw new OptionError('ts', ts, 'nanoseconds since 1970 from 0 to 2^32 seconds');
      }
      if (this.fracPerSec === 1e6) {
        // Doubles near today's 1.8e18 ns are 256 ns apart; to the nearest µs is exact again.
        const us = Math.round(ts / 1e3);
        sec = Math.floor(us / 1e6);
        frac = us - sec * 1e6;
      } else {
        sec = Math.floor(ts / 1e9);
        frac = Math.round(ts - sec * 1e9);
        if (frac >= 1e9) {
          sec++;
          frac -= 1e9;
        } else if (frac < 0) {
          sec--;
          frac += 1e9;
        }
      }
    } else {
      sec = ts.sec;
      frac = ts.frac;
    }
    return this.append(bytes, offset, length, sec, frac, origLen);
  }

  /**
   * Appends one record timestamped `sec` seconds and `nsec` nanoseconds (0 to 999999999) since
   * the epoch: exact in a nanosecond file, truncated to the microsecond in a microsecond file
   * (as libpcap and editcap do). Allocation-free; otherwise as write().
   */
  writeNs(
    bytes: Uint8Array,
    offset: number,
    length: number,
    sec: number,
    nsec: number,
    origLen = length,
  ): number {
    if (nsec >>> 0 !== nsec || nsec >= 1e9) {
      throw new OptionError('nsec', nsec, 'an integer from 0 to 999999999');
    }
    const frac = this.fracPerSec === 1e9 ? nsec : Math.floor(nsec / 1e3);
    return this.append(bytes, offset, length, sec, frac, origLen);
  }

  /**
   * Appends the reader's current record with its exact timestamp (converted between µs and
   * ns as needed) and original length. Returns the bytes kept.
   */
  copyFrom(reader: PcapReader): number {
    const nsec = reader.header.nanosecond ? reader.tsFrac : reader.tsFrac * 1e3;
    return this.writeNs(
      reader.buffer,
      reader.offset,
      reader.capLen,
      reader.tsSec,
      nsec,
      reader.origLen,
    );
  }

  /** Writes the buffered records to the file now. Throws the fs error if the write fails. */
  flush(): void {
    if (this.fd < 0) throw new PcapClosedError(this.path, 'writer');
    this.writeOut(this.buf, 0, this.end);
    this.flushed += this.end;
    this.end = 0;
  }

  /** Flushes and closes the file. Idempotent. */
  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      const fd = this.fd;
      this.fd = -1;
      closeSync(fd);
    }
  }

  private append(
    bytes: Uint8Array,
    offset: number,
    length: number,
    sec: number,
    frac: number,
    origLen: number,
  ): number {
    if (this.fd < 0) throw new PcapClosedError(this.path, 'writer');
    if (offset >>> 0 !== offset || length >>> 0 !== length || offset + length > bytes.length) {
      throw new OptionError(
        'offset, length',
        `${offset}, ${length}`,
        `a range inside the ${bytes.length}-byte array`,
      );
    }
    if (sec >>> 0 !== sec) {
      throw new OptionError('ts.sec', sec, 'an integer from 0 to 4294967295');
    }
    if (frac >>> 0 !== frac || frac >= this.fracPerSec) {
      throw new OptionError('ts.frac', frac, `an integer from 0 to ${this.fracPerSec - 1}`);
    }
    if (origLen >>> 0 !== origLen || origLen < length) {
      throw new OptionError('origLen', origLen, `an integer from length (${length}) to 2^32-1`);
    }
    const capLen = Math.min(length, this.snaplen);
    const need = HDR + capLen;
    if (this.end + need > this.buf.length) this.flush();
    const at = this.end;
    const dv = this.dv;
    const le = this.littleEndian;
    dv.setUint32(at, sec, le);
    dv.setUint32(at + 4, frac, le);
    dv.setUint32(at + 8, capLen, le);
    dv.setUint32(at + 12, origLen, le);
    if (need <= this.buf.length) {
      this.buf.set(bytes.subarray(offset, offset + capLen), at + HDR);
      this.end = at + need;
    } else {
      // A record larger than the whole chunk (a small chunkSize): header, then bytes, directly.
      this.end = at + HDR;
      this.flush();
      this.writeOut(bytes, offset, capLen);
      this.flushed += capLen;
    }
    this.count++;
    return capLen;
  }

  private writeOut(bytes: Uint8Array, offset: number, length: number): void {
    let done = 0;
    while (done < length) done += writeSync(this.fd, bytes, offset + done, length - done);
  }
}
