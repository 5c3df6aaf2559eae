/**
 * The libpcap file format ("pcap", as tcpdump -w and Wireshark write it; not pcapng), after
 * draft-ietf-opsawg-pcap and libpcap's sf-pcap.c:
 *
 *   file header, 24 bytes:  magic u32 | version major u16 | minor u16 | thiszone i32 |
 *                           sigfigs u32 | snaplen u32 | linktype u32
 *   then per record:        ts_sec u32 | ts_frac u32 | caplen u32 | origlen u32 | caplen bytes
 *
 * Every field is in the byte order of the machine that wrote the file, which the magic tells:
 * 0xa1b2c3d4 (ts_frac in microseconds) or 0xa1b23c4d (nanoseconds), read as written or
 * byte-swapped. Readers are in reader.ts, writers in writer.ts.
 */
import { PcapFormatError } from './errors.js';

/** Magic of a file whose record timestamps carry microseconds. */
export const PCAP_MAGIC_MICROSECOND = 0xa1b2c3d4;
/** Magic of a file whose record timestamps carry nanoseconds. */
export const PCAP_MAGIC_NANOSECOND = 0xa1b23c4d;
/** Alexey Kuznetsov's "modified pcap" (8 more bytes per record header); recognised, refused. */
const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;
/** A pcapng Section Header Block starts with this block type; recognised, refused. */
const PCAPNG_BLOCK_TYPE_SHB = 0x0a0d0d0a;

export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;

/** Bytes in the file header. */
export const PCAP_FILE_HEADER_BYTES = 24;
/** Bytes in each record header (before the record's captured bytes). */
export const PCAP_RECORD_HEADER_BYTES = 16;
/**
 * The largest captured length a reader accepts, whatever the file header's snaplen says:
 * libpcap's MAXIMUM_SNAPLEN (262144). A larger length is a corrupt file, not a big packet.
 */
export const PCAP_MAX_CAPLEN = 256 * 1024;

/** LINKTYPE_ values (tcpdump.org/linktypes.html). bypass drivers carry Ethernet frames only. */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_IEEE802_11 = 105;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

const LINKTYPE_NAMES: Readonly<Record<number, string>> = {
  [LINKTYPE_NULL]: 'NULL',
  [LINKTYPE_ETHERNET]: 'ETHERNET',
  [LINKTYPE_RAW]: 'RAW',
  [LINKTYPE_IEEE802_11]: 'IEEE802_11',
  [LINKTYPE_LINUX_SLL]: 'LINUX_SLL',
  [LINKTYPE_IPV4]: 'IPV4',
  [LINKTYPE_IPV6]: 'IPV6',
  [LINKTYPE_LINUX_SLL2]: 'LINUX_SLL2',
};

/** `1 (ETHERNET)`, `113 (LINUX_SLL)`, or just the number for link types not in the table. */
export function linktypeName(linktype: number): string {
  const name = LINKTYPE_NAMES[linktype];
  return name === undefined ? String(linktype) : `${linktype} (${name})`;
}

/** The file header, decoded. */
export interface PcapFileHeader {
  /** PCAP_MAGIC_MICROSECOND or PCAP_MAGIC_NANOSECOND, whatever the file's byte order. */
  readonly magic: number;
  /** True when record timestamps carry nanoseconds (magic 0xa1b23c4d), else microseconds. */
  readonly nanosecond: boolean;
  /** True when the file's fields are little-endian (the magic reads d4 c3 b2 a1 or 4d 3c b2 a1). */
  readonly littleEndian: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** GMT-to-local correction in seconds; 0 in every file written since the 1990s. */
  readonly thiszone: number;
  /** Timestamp accuracy; 0 in practice. */
  readonly sigfigs: number;
  /** The most bytes of a packet that were captured per record (tcpdump -s). */
  readonly snaplen: number;
  /** The link-layer type (LINKTYPE_*): the low 16 bits of the header's linktype field. */
  readonly linktype: number;
  /** The whole 32-bit linktype field: the high bits may say an FCS is appended to each frame. */
  readonly linktypeField: number;
}

/**
 * Decodes a file header from `bytes[offset .. offset + 24)`. `file` is only used in errors.
 * Throws PcapFormatError for a pcapng file, a modified-pcap file, an unknown magic or a
 * version other than 2.x.
 */
export function decodeFileHeader(bytes: Uint8Array, offset: number, file: string): PcapFileHeader {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, PCAP_FILE_HEADER_BYTES);
  const le = dv.getUint32(0, true);
  const be = dv.getUint32(0, false);
  let littleEndian: boolean;
  let magic: number;
  if (le === PCAP_MAGIC_MICROSECOND || le === PCAP_MAGIC_NANOSECOND) {
    littleEndian = true;
    magic = le;
  } else if (be === PCAP_MAGIC_MICROSECOND || be === PCAP_MAGIC_NANOSECOND) {
    littleEndian = false;
    magic = be;
  } else if (le === PCAPNG_BLOCK_TYPE_SHB) {
    throw new PcapFormatError(
      file,
      0,
      'this is a pcapng file, not libpcap format; convert it with `editcap -F pcap IN OUT` or ' +
        'capture with `tcpdump -w` (which writes libpcap format)',
    );
  } else if (le === PCAP_MAGIC_MODIFIED || be === PCAP_MAGIC_MODIFIED) {
    throw new PcapFormatError(
      file,
      0,
      'this is a "modified pcap" file (magic 0xa1b2cd34), which is not supported; convert it ' +
        'with `editcap -F pcap IN OUT`',
    );
  } else {
    throw new PcapFormatError(
      file,
      0,
      `bad magic 0x${hex32(be)}: not a libpcap file (expected a1b2c3d4 or a1b23c4d in either ` +
        'byte order)',
    );
  }
  const versionMajor = dv.getUint16(4, littleEndian);
  const versionMinor = dv.getUint16(6, littleEndian);
  if (versionMajor !== PCAP_VERSION_MAJOR) {
    throw new PcapFormatError(
      file,
      4,
      `unsupported pcap version ${versionMajor}.${versionMinor} (only ${PCAP_VERSION_MAJOR}.x ` +
        'is read)',
    );
  }
  const linktypeField = dv.getUint32(20, littleEndian);
  return {
    magic,
    nanosecond: magic === PCAP_MAGIC_NANOSECOND,
    littleEndian,
    versionMajor,
    versionMinor,
    thiszone: dv.getInt32(8, littleEndian),
    sigfigs: dv.getUint32(12, littleEndian),
    snaplen: dv.getUint32(16, littleEndian),
    linktype: linktypeField & 0xffff,
    linktypeField,
  };
}

/** What encodeFileHeader writes. thiszone and sigfigs are always 0, the version always 2.4. */
export interface PcapFileHeaderFields {
  readonly nanosecond: boolean;
  readonly littleEndian: boolean;
  readonly snaplen: number;
  readonly linktype: number;
}

/** Writes a 24-byte file header into `bytes[offset ...]`. */
export function encodeFileHeader(bytes: Uint8Array, offset: number, h: PcapFileHeaderFields): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, PCAP_FILE_HEADER_BYTES);
  const le = h.littleEndian;
  dv.setUint32(0, h.nanosecond ? PCAP_MAGIC_NANOSECOND : PCAP_MAGIC_MICROSECOND, le);
  dv.setUint16(4, PCAP_VERSION_MAJOR, le);
  dv.setUint16(6, PCAP_VERSION_MINOR, le);
  dv.setInt32(8, 0, le);
  dv.setUint32(12, 0, le);
  dv.setUint32(16, h.snaplen, le);
  dv.setUint32(20, h.linktype, le);
}

function hex32(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}
