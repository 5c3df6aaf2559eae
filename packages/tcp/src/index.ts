/**
 * @bypass/tcp: the sans-IO L2-L4 stack, one instance per lcore, on @bypass/mempool's mbufs,
 * @bypass/net's wire formats and @bypass/timer's wheel (no threads, no drivers):
 * - `iface/`: the ARP cache, IPv4 fragment reassembly, routes;
 * - `storage/`: the byte ring and out-of-order assembler behind TCP's buffers;
 * - `socket/`: TCP (RFC 9293 with its companions) and UDP sockets, the listener, the connection
 *   table, the RTT estimator (rtt.ts) and the congestion controllers behind one interface
 *   (congestion/: NewReno, and a registry users add theirs to);
 * - `stack/`: the layers of one stack, one per file: the interface's shared state, Ethernet and
 *   ARP, IPv4 and ICMP, TCP demultiplexing and opens, UDP;
 * - `stack.ts`: the Stack that assembles them on mbufs: frames and `now` in, frames and socket
 *   callbacks out.
 */
export * from './iface/arp-cache.js';
export * from './iface/reassembly.js';
export * from './iface/routes.js';
export * from './socket/congestion/controller.js';
export * from './socket/congestion/newreno.js';
export * from './socket/congestion/registry.js';
export * from './socket/conn-table.js';
export * from './socket/listener.js';
export * from './socket/options.js';
export * from './socket/rtt.js';
export * from './socket/segment.js';
export * from './socket/tcp.js';
export * from './socket/udp.js';
export { EthernetLayer } from './stack/ethernet.js';
export { Interface, isUnicastSource } from './stack/interface.js';
export { Ipv4Layer } from './stack/ipv4.js';
export { TcpLayer } from './stack/tcp.js';
export { UdpLayer } from './stack/udp.js';
export * from './stack.js';
export * from './storage/assembler.js';
export * from './storage/byte-ring.js';
