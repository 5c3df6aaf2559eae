/**
 * @bypass/tcp: the sans-IO L2-L4 stack, one instance per lcore.
 * - `wire/`: zero-copy accessors and parsed forms (Repr) for Ethernet, ARP, IPv4, ICMPv4, UDP and
 *   TCP with its options, and checksums;
 * - `iface/`: the ARP cache, IPv4 fragment reassembly, routes;
 * - `storage/`: the byte ring and out-of-order assembler behind TCP's buffers;
 * - `socket/`: TCP (RFC 9293 with its companions) and UDP sockets, the connection table;
 * - `stack.ts`: the Stack that ties them to mbufs: frames and `now` in, frames and socket
 *   callbacks out.
 */
export * from './iface/arp-cache.js';
export * from './iface/reassembly.js';
export * from './iface/routes.js';
export * from './port.js';
export * from './socket/conn-table.js';
export * from './socket/options.js';
export * from './socket/segment.js';
export * from './socket/tcp.js';
export * from './socket/udp.js';
export * from './stack.js';
export * from './storage/assembler.js';
export * from './storage/byte-ring.js';
export * from './wire/arp.js';
export * from './wire/checksum.js';
export * from './wire/ethernet.js';
export * from './wire/icmp.js';
export * from './wire/ipv4.js';
export * from './wire/tcp.js';
export * from './wire/udp.js';
