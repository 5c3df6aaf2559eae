/**
 * @bypass/net: what bytes on the wire mean, as pure functions over bytes (no threads, no I/O):
 * - `wire/`: zero-copy accessors and parsed forms (Repr) for Ethernet, ARP, IPv4, ICMPv4, UDP and
 *   TCP with its options, address parsing and formatting (IPv4, MAC), and RFC 1071 checksums
 *   (WebAssembly SIMD where the runtime has it, in place on shared memory);
 * - `rss/`: the Toeplitz hash and redirection table (RETA) of receive-side scaling.
 */
export * from './address.js';
export * from './rss/reta.js';
export * from './rss/toeplitz.js';
export * from './rss/vectors.js';
export * from './wire/arp.js';
export * from './wire/bytes.js';
export * from './wire/checksum.js';
export * from './wire/ethernet.js';
export * from './wire/icmp.js';
export * from './wire/ipv4.js';
export * from './wire/ipv6.js';
export * from './wire/tcp.js';
export * from './wire/udp.js';
