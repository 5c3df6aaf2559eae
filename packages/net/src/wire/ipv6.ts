/**
 * The IPv6 fixed header (RFC 8200 3), as far as receive-side scaling reads it: the stack itself
 * speaks IPv4 only, so there are offsets and numbers here and no accessors.
 */

/** Bytes of the fixed header; extension headers follow it. */
export const IPV6_HEADER_LEN = 40;
/** Offset of the Next Header field (the protocol of what follows the fixed header). */
export const IPV6_NEXT_HEADER = 6;
/** Offsets of the 16-byte source and destination addresses. */
export const IPV6_SRC = 8;
export const IPV6_DST = 24;

// Next Header values that are extension headers (IANA, RFC 8200 4), not an upper layer.
export const IPV6_EXT_HOP_BY_HOP = 0;
export const IPV6_EXT_ROUTING = 43;
export const IPV6_EXT_FRAGMENT = 44;
export const IPV6_EXT_DEST_OPTS = 60;
