// The subject's lcores: one NetRuntime (a Stack on a net_ring port) per lcore, callback sockets.
// - server: listen(PORT) and echo whatever arrives, straight from the zero-copy onData view into
//   the send buffer (write copies), TCP_NODELAY;
// - client: N connections to the server, the closed loop of common.ts (ClosedLoop) driven from
//   onData, TCP_NODELAY. Once the measured window is over it stops the EAL (both loops end) and
//   returns its EchoResult, histogram included, which the main thread gets from waitLcore().
// Both run NetRuntime.run(): the EAL's busy poll loop (sliced, yielding to the event loop).
import { memzoneLookup, type PollLoopResult, pktmbufPoolLookup, stop } from '@bypass/eal';
import { type CallbackSocket, connect, listen, NetRuntime } from '@bypass/socket-api';
import { ClosedLoop, type EchoOptions, type EchoResult, message } from './common.js';

export interface EchoLcoreArg {
  port: number;
  /** This lcore's pool (what its stack sends) first; every pool is attached (mbufs cross). */
  pools: string[];
  ip: string;
  peerIp: string;
  peerMac: string;
  /** Memzone of Float64 progress words (see Progress). */
  progress: string;
  /** Client only. */
  load?: EchoOptions;
}

export const Progress = { LISTENING: 0, CONNECTED: 1, WORDS: 8 } as const;
export const ECHO_PORT = 7;

function setup(arg: EchoLcoreArg): { rt: NetRuntime; progress: Float64Array } {
  for (const p of arg.pools) pktmbufPoolLookup(p);
  const z = memzoneLookup(arg.progress);
  if (z === undefined) throw new Error(`memzone ${arg.progress} is missing`);
  const rt = NetRuntime.create({
    port: arg.port,
    pool: arg.pools[0],
    ip: arg.ip,
    neighbours: { [arg.peerIp]: arg.peerMac },
    tcp: { noDelay: true },
  });
  return { rt, progress: new Float64Array(z.sab, z.byteOffset, Progress.WORDS) };
}

/** What an lcore counted over its whole run (for EchoResult.diag). */
export interface LcoreCounts {
  segsIn: number;
  segsOut: number;
  retransSegs: number;
  polls: number;
  idlePolls: number;
  slices: number;
}

function counts(rt: NetRuntime, loop: PollLoopResult): LcoreCounts {
  const s = rt.stack.tcpStats;
  return {
    segsIn: s.segsIn,
    segsOut: s.segsOut,
    retransSegs: s.retransSegs,
    polls: loop.polls,
    idlePolls: loop.idlePolls,
    slices: loop.slices,
  };
}

export async function server(arg: EchoLcoreArg): Promise<LcoreCounts> {
  const { rt, progress } = setup(arg);
  listen(
    ECHO_PORT,
    {
      onConnection: () => ({
        onData(s, b, o, n) {
          s.write(b, o, n);
        },
        onEnd(s) {
          s.end();
        },
      }),
    },
    { noDelay: true, backlog: 1024, synBacklog: 1024 },
  );
  progress[Progress.LISTENING] = 1;
  try {
    return counts(rt, await rt.run());
  } finally {
    rt.close();
  }
}

export async function client(arg: EchoLcoreArg): Promise<EchoResult> {
  const { rt, progress } = setup(arg);
  const o = arg.load;
  if (o === undefined) throw new Error('tcp-echo client: no load options');
  const msg = message(o.msgBytes ?? 64);
  const socks: CallbackSocket[] = [];
  let result: EchoResult | undefined;
  let failure: Error | undefined;
  const load = new ClosedLoop(
    o,
    (i) => {
      socks[i].write(msg);
    },
    (r) => {
      result = r;
      stop(); // both lcores' loops end
    },
  );
  for (let i = 0; i < o.connections; i++) {
    socks.push(
      connect(
        arg.peerIp,
        ECHO_PORT,
        {
          onConnect() {
            progress[Progress.CONNECTED]++;
            load.connected(i);
          },
          onData(_s, _b, _o, n) {
            load.received(i, n);
          },
          onError(_s, e) {
            if (!load.done) failure ??= new Error(`tcp-echo client: connection ${i}: ${e.message}`);
          },
        },
        { noDelay: true },
      ),
    );
  }
  rt.onAfterPoll(() => {
    load.tick();
    if (failure !== undefined) stop();
  });
  let mine: LcoreCounts;
  try {
    mine = counts(rt, await rt.run());
  } finally {
    rt.close(); // drops every connection
  }
  if (failure !== undefined) throw failure;
  if (result === undefined) {
    throw new Error(
      `tcp-echo client: stopped before the window ended (${load.connectedCount} of ${o.connections} connected)`,
    );
  }
  return { ...result, diag: { ...mine } };
}
