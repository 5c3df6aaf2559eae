/**
 * Errors of the pcap file layer. Each message names the file and says what to do.
 */

/**
 * A pcap file could not be read: bad magic, unsupported version or link type, a record
 * length no reader accepts, or a file cut short. `offset` is the byte offset in the file of
 * the header or record at fault; `record` is its 1-based number as Wireshark counts frames
 * (0 for the file header).
 */
export class PcapFormatError extends Error {
  override name = 'PcapFormatError';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
    readonly record = 0,
  ) {
    super(`${file}: ${record > 0 ? `record ${record} at ` : ''}byte offset ${offset}: ${reason}`);
  }
}

/** A reader or writer was used after close(). */
export class PcapClosedError extends Error {
  override name = 'PcapClosedError';
  constructor(file: string, what: 'reader' | 'writer') {
    super(`${file}: the pcap ${what} is closed; open a new one`);
  }
}
