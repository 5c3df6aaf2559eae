/**
 * @bypass/tcp: the sans-IO L2-L4 stack. So far: `wire/`, zero-copy accessors and parsed forms
 * (Repr) for Ethernet, ARP, IPv4, ICMPv4, UDP and TCP with its options, and checksums; and the
 * first interface pieces in `iface/`: the ARP cache and IPv4 fragment reassembly. The rest of the
 * interface, UDP and TCP sockets come next (issue 7).
 */
export * from './iface/arp-cache.js';
export * from './iface/reassembly.js';
export * from './wire/arp.js';
export * from './wire/checksum.js';
export * from './wire/ethernet.js';
export * from './wire/icmp.js';
export * from './wire/ipv4.js';
export * from './wire/tcp.js';
export * from './wire/udp.js';
