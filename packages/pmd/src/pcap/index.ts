/**
 * The libpcap file format: PcapReader and PcapWriter, for the pcap poll-mode driver and for
 * tests that compare what the stack sends with what tcpdump and Wireshark see.
 */
export { PcapClosedError, PcapFormatError } from './errors.js';
export {
  decodeFileHeader,
  encodeFileHeader,
  LINKTYPE_ETHERNET,
  LINKTYPE_IEEE802_11,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
  linktypeName,
  PCAP_FILE_HEADER_BYTES,
  PCAP_MAGIC_MICROSECOND,
  PCAP_MAGIC_NANOSECOND,
  PCAP_MAX_CAPLEN,
  PCAP_RECORD_HEADER_BYTES,
  PCAP_VERSION_MAJOR,
  PCAP_VERSION_MINOR,
  type PcapFileHeader,
  type PcapFileHeaderFields,
} from './format.js';
export { PCAP_READ_CHUNK, PcapReader, type PcapReaderOptions } from './reader.js';
export {
  PCAP_WRITE_CHUNK,
  type PcapTimestamp,
  PcapWriter,
  type PcapWriterOptions,
} from './writer.js';
