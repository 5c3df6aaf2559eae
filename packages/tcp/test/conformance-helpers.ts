// Conformance scripts against the real Stack, in virtual time: one Stack on its own pool, a
// packetdrill-style script (test/script/script.ts) playing the peer, and `call` lines that act
// as the application and check what it sees. Shared by conformance-states.test.ts and
// conformance-timing.test.ts; keep its calls stable (add, do not change).
//
//   const run = runConformance(`
//     0    call listen
//     0    < S 0:0(0) win 65535 <mss 1460>
//     +0   > S. 0:0(0) ack 1 win 65535 <mss 1460>
//     +.1  < . 1:1(0) ack 1 win 65535
//     +0   call expectState ESTABLISHED
//     +0   call expectEvent accept
//   `);
//
// The calls (the socket is the one `connect` opened or the listener accepted):
//   listen                 listen on LOCAL_PORT (ConformanceSetup.listen: backlogs, options)
//   unlisten               stop listening (Stack.tcpUnlisten)
//   connect                open a connection to REMOTE_IP and the script's remotePort
//   write N                queue N bytes; the send buffer must take all of them
//   read [N]               read exactly N bytes (no N: all that wait), which must be the
//                          bytes `<` lines carried, in order
//   end | close | abort    TcpSocket.end(), close(), abort()
//   expectState NAME       the connection of the script's 4-tuple is in state NAME (a
//                          TCP_STATE_NAMES word); CLOSED: it is in no table and the socket, if
//                          any, is CLOSED; LISTEN: no connection and the listener still open
//   expectEvent E...       the handler events since the previous expectEvent are exactly E...
//                          (none written: no event). Words: connect (onConnect), accept (the
//                          listener's onConnection), end (onEnd), drain (onDrain),
//                          urgent(MARK) (onUrgent: the stream offset where urgent data ends),
//                          close(CODE) (onClose: close(null), close(ECONNRESET), ...)
//   expectHalfOpen N       the listener holds N half-open (SYN_RECEIVED) connections
//   expectStat NAME N      stack.tcpStats[NAME] is N
//
// At the end the run checks that every frame the stack sent was taken by a `>` line (the
// runner's rule), closes the stack and checks that every mbuf went back to the pool.
import type { PktmbufPool } from '@bypass/mempool';
import {
  Stack,
  type StackOptions,
  TCP_STATE_NAMES,
  type TcpErrorCode,
  type TcpHandlers,
  type TcpListener,
  type TcpListenOptions,
  type TcpOptions,
  type TcpSocket,
  type TcpStats,
} from '../src/index.js';
import {
  fillerBytes,
  runScript,
  type ScriptCall,
  type ScriptConfig,
  type ScriptContext,
  type ScriptResult,
} from './script/script.js';
import { makePool } from './sim.js';

export const LOCAL_MAC = 0x02_00_00_00_00_01;
export const REMOTE_MAC = 0x02_00_00_00_00_02;
/** 10.0.0.1 and 10.0.0.2. */
export const LOCAL_IP = 0x0a_00_00_01;
export const REMOTE_IP = 0x0a_00_00_02;
/** Our port for `listen` and for `connect` (the only ephemeral port), so scripts know it. */
export const LOCAL_PORT = 8080;
/** A fixed RFC 6528 secret: the same ISNs and TS offsets on every run. */
export const ISN_SECRET = new Uint8Array(16).fill(0x5a);

export interface ConformanceSetup {
  /** Socket defaults of the stack (synRetries, timeWaitMs, ...). */
  tcp?: TcpOptions;
  /** Other Stack options (challengeAckLimit, mtu, ...). */
  stack?: Partial<Omit<StackOptions, 'pool' | 'mac' | 'ip' | 'isnSecret' | 'tcp'>>;
  /** What `listen` passes to tcpListen (synBacklog, backlog, tcp). */
  listen?: TcpListenOptions;
  /** Script settings over the defaults (remoteIsn, remotePort, toleranceMs, ...). */
  script?: Partial<Omit<ScriptConfig, 'localMac' | 'localIp' | 'remoteMac' | 'remoteIp'>>;
  /** More calls for the script; they may use the harness (stack, socket, listener). */
  calls?: (h: Conformance) => Record<string, ScriptCall>;
  /** Mbufs in the stack's pool (default 256). */
  poolSize?: number;
}

/** What a run leaves for further checks (the stack is closed by then). */
export interface ConformanceRun {
  result: ScriptResult;
  harness: Conformance;
}

/** The stack, its pool and what the application side saw. */
export class Conformance {
  readonly pool: PktmbufPool;
  readonly stack: Stack;
  listener: TcpListener | null = null;
  /** The connection `connect` opened or the listener handed over; null before. */
  socket: TcpSocket | null = null;
  /** Every handler event, in order (the words expectEvent takes). */
  readonly events: string[] = [];
  /** Events not yet checked by expectEvent. */
  readonly pending: string[] = [];
  /** Bytes `read` consumed so far. */
  bytesRead = 0;
  readonly #setup: ConformanceSetup;

  constructor(setup: ConformanceSetup) {
    this.#setup = setup;
    this.pool = makePool(setup.poolSize ?? 256, 'conformance');
    this.stack = new Stack({
      ...setup.stack,
      pool: this.pool,
      mac: LOCAL_MAC,
      ip: '10.0.0.1/24',
      isnSecret: ISN_SECRET,
      ephemeralPorts: [LOCAL_PORT, LOCAL_PORT],
      tcp: setup.tcp,
    });
    this.stack.arp.addStatic(REMOTE_IP, REMOTE_MAC);
  }

  #event(e: string): void {
    this.events.push(e);
    this.pending.push(e);
  }

  /** Handlers that record events; no onData, so bytes wait for `read`. */
  handlers(): TcpHandlers {
    return {
      onConnect: () => this.#event('connect'),
      onEnd: () => this.#event('end'),
      onDrain: () => this.#event('drain'),
      onUrgent: (_s, mark) => this.#event(`urgent(${mark})`),
      onClose: (_s, error: TcpErrorCode) => this.#event(`close(${error})`),
    };
  }

  #need(): TcpSocket {
    if (this.socket === null) throw new Error('no socket yet: call connect or accept one first');
    return this.socket;
  }

  /** The connection of the script's 4-tuple in the stack's table, if any. */
  connection(ctx: ScriptContext): TcpSocket | undefined {
    for (const s of this.stack.connections) {
      if (
        s.localPort === (ctx.localPort ?? LOCAL_PORT) &&
        s.remoteIp === REMOTE_IP &&
        s.remotePort === ctx.remotePort
      ) {
        return s;
      }
    }
    return undefined;
  }

  calls(): Record<string, ScriptCall> {
    const num = (a: string | undefined, what: string): number => {
      const n = Number(a);
      if (a === undefined || !Number.isInteger(n) || n < 0) {
        throw new Error(`${what} needs a whole number, got ${a}`);
      }
      return n;
    };
    return {
      listen: () => {
        this.listener = this.stack.tcpListen(
          LOCAL_PORT,
          {
            onConnection: (s) => {
              this.socket = s;
              s.handlers = this.handlers();
              this.#event('accept');
            },
          },
          this.#setup.listen,
        );
      },
      unlisten: (_a, ctx) => {
        if (this.listener === null) throw new Error('no listener');
        this.stack.tcpUnlisten(this.listener, ctx.nowMs);
      },
      connect: (_a, ctx) => {
        this.socket = this.stack.tcpConnect(REMOTE_IP, ctx.remotePort, this.handlers(), ctx.nowMs);
      },
      write: ([n], ctx) => {
        const len = num(n, 'write');
        const src = new Uint8Array(len);
        for (let i = 0; i < len; i++) src[i] = i & 0xff;
        const took = this.#need().write(src, 0, len, ctx.nowMs);
        if (took !== len) throw new Error(`the send buffer took ${took} of ${len} bytes`);
      },
      read: ([n], ctx) => {
        const s = this.#need();
        const len = n === undefined ? s.recvBuf.length : num(n, 'read');
        const dst = new Uint8Array(len + 1);
        const got = s.read(dst, 0, len + 1, ctx.nowMs);
        if (got !== len) throw new Error(`read ${got} bytes, expected ${len}`);
        // `<` lines carry fillerBytes: byte i of the stream (seq 1 + i) is (1 + i) & 0xff.
        const want = fillerBytes(1 + this.bytesRead, len);
        for (let i = 0; i < len; i++) {
          if (dst[i] !== want[i]) {
            throw new Error(`byte ${this.bytesRead + i} is ${dst[i]}, expected ${want[i]}`);
          }
        }
        this.bytesRead += len;
      },
      end: (_a, ctx) => this.#need().end(ctx.nowMs),
      close: (_a, ctx) => this.#need().close(ctx.nowMs),
      abort: (_a, ctx) => this.#need().abort(ctx.nowMs),
      expectState: ([name], ctx) => {
        if (name === undefined || !TCP_STATE_NAMES.includes(name)) {
          throw new Error(`expectState needs one of ${TCP_STATE_NAMES.join(' ')}, got ${name}`);
        }
        const s = this.connection(ctx);
        if (name === 'CLOSED' || name === 'LISTEN') {
          if (s !== undefined) throw new Error(`state ${s.stateName}, expected ${name}`);
          if (this.socket !== null && this.socket.stateName !== 'CLOSED') {
            throw new Error(`the socket is ${this.socket.stateName}, expected CLOSED`);
          }
          if (name === 'LISTEN' && (this.listener === null || this.listener.closed)) {
            throw new Error('no open listener');
          }
          return;
        }
        if (s === undefined) throw new Error(`no connection in the table, expected ${name}`);
        if (s.stateName !== name) throw new Error(`state ${s.stateName}, expected ${name}`);
        if (this.socket !== null && this.socket !== s) {
          throw new Error('the connection in the table is not the socket the script holds');
        }
      },
      expectEvent: (want) => {
        const got = this.pending.splice(0);
        if (got.join(' ') !== want.join(' ')) {
          throw new Error(`events [${got.join(' ')}], expected [${want.join(' ')}]`);
        }
      },
      expectHalfOpen: ([n]) => {
        if (this.listener === null) throw new Error('no listener');
        const want = num(n, 'expectHalfOpen');
        if (this.listener.halfOpen !== want) {
          throw new Error(`${this.listener.halfOpen} half-open connections, expected ${want}`);
        }
      },
      expectStat: ([name, n]) => {
        const stats = this.stack.tcpStats;
        if (name === undefined || !Object.hasOwn(stats, name)) {
          throw new Error(`expectStat needs one of ${Object.keys(stats).join(' ')}, got ${name}`);
        }
        const got = stats[name as keyof TcpStats];
        const want = num(n, 'expectStat');
        if (got !== want) throw new Error(`tcpStats.${name} is ${got}, expected ${want}`);
      },
    };
  }
}

/**
 * Runs `script` against a fresh Stack (see the file header for the calls). Throws ScriptError
 * naming the first line that failed, or an Error when mbufs are missing after stack.close().
 */
export function runConformance(script: string, setup: ConformanceSetup = {}): ConformanceRun {
  const h = new Conformance(setup);
  const stack = h.stack;
  let result: ScriptResult;
  try {
    result = runScript(
      script,
      {
        input: (f, now) => stack.inputBytes(f, now),
        poll: (now) => stack.poll(now),
        nextDeadline: () => stack.nextDeadline(),
        takeOutput: () => stack.takeTxBytes(),
      },
      {
        localPort: LOCAL_PORT,
        ...setup.script,
        localMac: LOCAL_MAC,
        localIp: LOCAL_IP,
        remoteMac: REMOTE_MAC,
        remoteIp: REMOTE_IP,
      },
      { ...h.calls(), ...setup.calls?.(h) },
    );
  } finally {
    stack.close();
  }
  const mp = h.pool.mempool;
  if (!mp.isFull()) {
    throw new Error(`${mp.inUse()} mbufs still in use after stack.close(): a leak`);
  }
  return { result, harness: h };
}
