#!/usr/bin/env python3
# The kernel-side UDP flood of `pnpm bench tap` (run inside the benchmark's network namespace):
#   flood.py SRC_IP DST_IP DST_PORT PAYLOAD FLOWS WARM_S WINDOW_S TAIL_S [mmsg|gso|sendto]
# FLOWS sockets bound to SRC_IP:40000.. and connected to DST_IP:DST_PORT send PAYLOAD-byte
# datagrams round robin, as fast as the kernel takes them: 'mmsg' with sendmmsg(2) (through
# ctypes, 64 datagrams a call), 'gso' with UDP_SEGMENT (one send(2) of 64 payloads that the kernel
# cuts into datagrams), 'sendto' with one send(2) a datagram. Prints "go" when the first
# datagram is out, then, after WARM_S + WINDOW_S + TAIL_S seconds, one JSON line: datagrams sent
# in the window [WARM_S, WARM_S + WINDOW_S) of its own clock and that window's length. Exits
# early when its stdin closes (the benchmark went away).
import ctypes
import ctypes.util
import json
import os
import select
import socket
import sys
import time

src, dst, dport = sys.argv[1], sys.argv[2], int(sys.argv[3])
payload, flows = int(sys.argv[4]), int(sys.argv[5])
warm, window, tail = float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
method = sys.argv[9] if len(sys.argv) > 9 else 'mmsg'

socks = []
for i in range(flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    s.bind((src, 40000 + i))
    s.connect((dst, dport))
    socks.append(s)
data = b'\x42' * payload
BATCH = 64

if method == 'mmsg':
    libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)

    class Iovec(ctypes.Structure):
        _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]

    class Msghdr(ctypes.Structure):
        _fields_ = [
            ('name', ctypes.c_void_p),
            ('namelen', ctypes.c_uint32),
            ('iov', ctypes.POINTER(Iovec)),
            ('iovlen', ctypes.c_size_t),
            ('control', ctypes.c_void_p),
            ('controllen', ctypes.c_size_t),
            ('flags', ctypes.c_int),
        ]

    class Mmsghdr(ctypes.Structure):
        _fields_ = [('hdr', Msghdr), ('len', ctypes.c_uint)]

    buf = ctypes.create_string_buffer(data, payload)
    iov = Iovec(ctypes.cast(buf, ctypes.c_void_p), payload)
    msgs = (Mmsghdr * BATCH)()
    for m in msgs:
        m.hdr.iov = ctypes.pointer(iov)
        m.hdr.iovlen = 1
    sendmmsg = libc.sendmmsg
    sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    sendmmsg.restype = ctypes.c_int
    fds = [s.fileno() for s in socks]

    def batch(k):
        r = sendmmsg(fds[k % flows], msgs, BATCH, 0)
        return r if r > 0 else 0
elif method == 'gso':
    # UDP generic segmentation offload: one send(2) of up to 64 payloads, which the kernel cuts
    # into separate datagrams (in software, before the tap: the tap offers no offloads).
    UDP_SEGMENT = 103
    segs = min(64, 65000 // payload)
    for s in socks:
        s.setsockopt(socket.IPPROTO_UDP, UDP_SEGMENT, payload)
    big = data * segs
    sends = [s.send for s in socks]

    def batch(k):
        try:
            sends[k % flows](big)
            return segs
        except OSError:
            return 0
else:
    sends = [s.send for s in socks]

    def batch(k):
        send = sends[k % flows]
        n = 0
        for _ in range(BATCH):
            try:
                send(data)
                n += 1
            except OSError:
                pass
        return n


clock = time.perf_counter
sent = 0
k = 0
t0 = clock()
print('go', flush=True)
w0 = t0 + warm
w1 = w0 + window
end = w1 + tail
a = b = None
while True:
    sent += batch(k)
    k += 1
    if k & 31 == 0:
        t = clock()
        if a is None and t >= w0:
            a = (t, sent)
        elif b is None and t >= w1:
            b = (t, sent)
        elif t >= end:
            break
        if select.select([sys.stdin], [], [], 0)[0] and os.read(sys.stdin.fileno(), 64) == b'':
            sys.exit(0)
if a is None or b is None:
    a = (t0, 0)
    b = (clock(), sent)
print(json.dumps({'sent': b[1] - a[1], 'seconds': b[0] - a[0], 'method': method}), flush=True)
