// The subject's lcore: one Stack on the tap port, one connection to the peer in the namespace,
// sending (to-ns) or receiving (from-ns) `bytes`. Progress goes through a memzone; times are
// process.hrtime (CLOCK_MONOTONIC, the peer's clock too) in ns.
import { memzoneLookup, now, pktmbufPoolLookup, runPollLoop } from '@bypass/eal';
import { StackPort } from '@bypass/socket-api';
import { Stack, type TcpSocket } from '@bypass/tcp';

export interface TapLcoreArg {
  port: number;
  pool: string;
  ip: string;
  mac: string;
  peerIp: string;
  peerPort: number;
  direction: 'to-ns' | 'from-ns';
  bytes: number;
  chunk: number;
  /** The port has offload=tso: TSO frames out, checksums left to the kernel. */
  tso: boolean;
  progress: string;
}

export const TapProgress = {
  CONNECTED_NS: 0,
  RECEIVED: 1,
  DONE_NS: 2,
  ERROR: 3,
  RETRANSMITS: 4,
  WORDS: 8,
} as const;

export function transfer(arg: TapLcoreArg) {
  const z = memzoneLookup(arg.progress);
  if (z === undefined) throw new Error(`memzone ${arg.progress} is missing`);
  const progress = new Float64Array(z.sab, z.byteOffset, TapProgress.WORDS);
  const stack = new Stack({
    pool: pktmbufPoolLookup(arg.pool),
    mac: arg.mac,
    ip: arg.ip,
    checksum: arg.tso ? 'offload' : 'compute',
    tsoMaxBytes: arg.tso ? 65000 : 0,
    tcp: { sendBuffer: 4 << 20, recvBuffer: 4 << 20 },
    startMs: now(),
  });
  const sp = new StackPort(stack, arg.port, 0, 32);
  const chunk = new Uint8Array(arg.chunk + 255);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i & 0xff;
  let sent = 0;
  let got = 0;
  const pump = (s: TcpSocket) => {
    const t = now();
    while (sent < arg.bytes) {
      // The stream's byte i is i & 0xff: start each write at the right phase of the pattern.
      const phase = sent & 0xff;
      const k = s.write(chunk, phase, Math.min(arg.chunk, arg.bytes - sent), t);
      sent += k;
      if (k === 0) return;
    }
    s.end(t);
  };
  let sock: TcpSocket | null = null;
  return runPollLoop((t) => {
    if (sock === null) {
      sock = stack.tcpConnect(
        arg.peerIp,
        arg.peerPort,
        {
          onConnect(s) {
            progress[TapProgress.CONNECTED_NS] = Number(process.hrtime.bigint());
            if (arg.direction === 'to-ns') pump(s);
          },
          onDrain: arg.direction === 'to-ns' ? pump : undefined,
          onData(_s, _b, _o, len) {
            got += len;
            progress[TapProgress.RECEIVED] = got;
            if (got >= arg.bytes && progress[TapProgress.DONE_NS] === 0) {
              progress[TapProgress.DONE_NS] = Number(process.hrtime.bigint());
            }
          },
          onEnd(s) {
            s.end(now());
          },
          onClose(_s, error) {
            if (error !== null) progress[TapProgress.ERROR] = 1;
          },
        },
        t,
      );
    }
    const n = sp.poll(t);
    progress[TapProgress.RETRANSMITS] = stack.tcpStats.retransSegs;
    return n;
  });
}
