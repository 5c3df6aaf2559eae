#!/usr/bin/env python3
# The port-9 sink of `pnpm bench tap` (run inside the benchmark's network namespace): a UDP
# socket bound to 0.0.0.0:9 with the smallest receive buffer that never reads, so the kernel
# drops what the tx series send there at the socket (Udp RcvbufErrors) without answering each
# datagram with an ICMP port unreachable (which it would do at full rate on the namespace's
# loopback, a cost, and errors, for the dgram sender that the tap sender would not share).
# Prints "go" once bound; exits when its stdin closes.
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
s.bind(('0.0.0.0', 9))
print('go', flush=True)
sys.stdin.read()
