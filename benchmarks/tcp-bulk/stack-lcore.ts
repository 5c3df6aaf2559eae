// The subject's lcores: one Stack per lcore over a net_ring port, one TCP connection from the
// client lcore to the server lcore. The client writes `bytes` as fast as the window lets it;
// the server counts them. Progress goes through a memzone the main thread reads.
import { memzoneLookup, now, pktmbufPoolLookup, runPollLoop } from '@bypass/eal';
import { parseIpv4, parseMac } from '@bypass/net';
import { StackPort } from '@bypass/socket-api';
import { Stack, type TcpSocket } from '@bypass/tcp';
import { patternBuffer } from './common.js';

export interface BulkLcoreArg {
  role: 'server' | 'client';
  port: number;
  /** Pools: this lcore's own (for what it sends) first; every pool is attached. */
  pools: string[];
  ip: string;
  mac: string;
  peerIp: string;
  peerMac: string;
  /** Warm-up and measured bytes together. */
  bytes: number;
  /** The server stamps WARM_AT when it holds this many. */
  warmupBytes: number;
  chunk: number;
  checksum: 'compute' | 'offload';
  bufferBytes: number;
  mtu: number;
  /** Memzone of Float64 progress words (see Progress). */
  progress: string;
}

/** Words of the progress memzone. */
export const Progress = {
  LISTENING: 0,
  CONNECTED_AT: 1,
  RECEIVED: 2,
  DONE_AT: 3,
  RETRANSMITS: 4,
  WARM_AT: 5,
  WORDS: 8,
} as const;

const PORT = 5001;

export function bulk(arg: BulkLcoreArg) {
  const pools = arg.pools.map((name) => pktmbufPoolLookup(name));
  const z = memzoneLookup(arg.progress);
  if (z === undefined) throw new Error(`memzone ${arg.progress} is missing`);
  const progress = new Float64Array(z.sab, z.byteOffset, Progress.WORDS);
  const stack = new Stack({
    pool: pools[0],
    mac: arg.mac,
    ip: arg.ip,
    checksum: arg.checksum,
    mtu: arg.mtu,
    tcp: { sendBuffer: arg.bufferBytes, recvBuffer: arg.bufferBytes },
    startMs: now(),
  });
  stack.arp.addStatic(parseIpv4(arg.peerIp), parseMac(arg.peerMac));
  const sp = new StackPort(stack, arg.port, 0, 32);
  const chunk = patternBuffer(arg.chunk);

  if (arg.role === 'server') {
    let got = 0;
    stack.tcpListen(PORT, {
      onConnection(s) {
        s.handlers = {
          onData(_s, _b, _o, len) {
            got += len;
            progress[Progress.RECEIVED] = got;
            if (got >= arg.warmupBytes && progress[Progress.WARM_AT] === 0)
              progress[Progress.WARM_AT] = now();
            if (got >= arg.bytes && progress[Progress.DONE_AT] === 0)
              progress[Progress.DONE_AT] = now();
          },
          onEnd(s) {
            s.end(now());
          },
        };
      },
    });
    progress[Progress.LISTENING] = 1;
  }

  let client: TcpSocket | null = null;
  let sent = 0;
  const pump = (s: TcpSocket) => {
    const t = now();
    while (sent < arg.bytes) {
      const off = sent % chunk.length;
      const k = s.write(chunk, off, Math.min(chunk.length - off, arg.bytes - sent), t);
      sent += k;
      if (k === 0) return;
    }
    s.end(t);
  };
  return runPollLoop((t) => {
    if (arg.role === 'client' && client === null && progress[Progress.LISTENING] === 1) {
      client = stack.tcpConnect(
        arg.peerIp,
        PORT,
        {
          onConnect(s) {
            progress[Progress.CONNECTED_AT] = now();
            pump(s);
          },
          onDrain: pump,
        },
        t,
      );
    }
    const n = sp.poll(t);
    progress[Progress.RETRANSMITS] = stack.tcpStats.retransSegs;
    return n;
  });
}
