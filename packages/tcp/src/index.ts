/**
 * @bypass/tcp: the sans-IO L2-L4 stack: wire formats, ARP, ICMP, IPv4, UDP, TCP and congestion
 * control. Nothing is exported yet.
 */
export {};
