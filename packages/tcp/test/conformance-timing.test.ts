// Timing conformance of the TCP socket, scripted against the real Stack in virtual time: each
// test is a packetdrill-style script (test/script/script.ts) playing the peer, with every
// segment the stack sends checked field by field at its exact millisecond (tolerance 0).
//
// Covered: RFC 6298 RTO (initial value, RTT estimation, 200 ms floor, backoff, rtoMaxMs cap,
// give-up with ETIMEDOUT, Karn's rule with and without timestamps), RFC 5681/6582 slow start,
// fast retransmit and NewReno recovery, RFC 9293 3.8.6.1 zero-window probing, RFC 1122
// receiver and sender silly-window avoidance, Nagle, delayed ACKs, keepalive, RFC 7323
// timestamps, PAWS and window scaling, and the MSS a segment may carry.
//
// Conventions of the scripts: our port is 8080 (listen) and the peer's 40000. Unless a test
// says otherwise the peer offers neither timestamps nor window scaling, so segments carry no
// options and the window field is the plain byte count. Sequence numbers are relative.
import type { PktmbufPool } from '@bypass/mempool';
import { describe, expect, it } from 'vitest';
import {
  Stack,
  TCP_STATE_NAMES,
  type TcpErrorCode,
  type TcpHandlers,
  type TcpOptions,
  type TcpSocket,
  type TcpStats,
} from '../src/index.js';
import {
  fillerBytes,
  runScript,
  type ScriptCall,
  type ScriptContext,
  type ScriptTarget,
} from './script/script.js';
import { makePool } from './sim.js';

const LOCAL_MAC = 0x02_00_00_00_00_01;
const REMOTE_MAC = 0x02_00_00_00_00_02;
const LOCAL_IP = 0x0a_00_00_01; // 10.0.0.1
const REMOTE_IP = 0x0a_00_00_02; // 10.0.0.2
const LOCAL_PORT = 8080;
const POOL_SIZE = 256;

interface Setup {
  /** Socket defaults for the stack. */
  tcp?: TcpOptions;
  /**
   * Pull mode: no onData handler, so received bytes wait in the receive buffer for `read`
   * and the advertised window shrinks. Default false: onData consumes everything.
   */
  pull?: boolean;
  /** Open actively with `call connect` instead of listening on LOCAL_PORT. */
  active?: boolean;
}

/** One stack behind the script runner, with the calls the scripts use as the application. */
class Harness {
  readonly pool: PktmbufPool;
  readonly stack: Stack;
  socket: TcpSocket | null = null;
  /** undefined while open; the onClose error (null for an orderly close) after. */
  closed: TcpErrorCode | undefined = undefined;
  bytesRead = 0;
  /** The TSval `call tsBase` saw: the origin `call tsval` counts from. */
  tsBase: number | null = null;

  constructor(readonly setup: Setup) {
    this.pool = makePool(POOL_SIZE, 'conformance-timing');
    this.stack = new Stack({
      pool: this.pool,
      mac: LOCAL_MAC,
      ip: '10.0.0.1/24',
      isnSecret: new Uint8Array(16).fill(0x33),
      ephemeralPorts: [LOCAL_PORT, LOCAL_PORT],
      tcp: setup.tcp,
    });
    this.stack.arp.addStatic(REMOTE_IP, REMOTE_MAC);
    if (setup.active !== true) {
      this.stack.tcpListen(LOCAL_PORT, {
        onConnection: (s) => {
          this.socket = s;
          s.handlers = this.handlers();
        },
      });
    }
  }

  handlers(): TcpHandlers {
    const h: TcpHandlers = {
      onClose: (_s, error) => {
        this.closed = error;
      },
    };
    if (this.setup.pull !== true) h.onData = () => {};
    return h;
  }

  get target(): ScriptTarget {
    const stack = this.stack;
    return {
      input: (f, now) => stack.inputBytes(f, now),
      poll: (now) => stack.poll(now),
      nextDeadline: () => stack.nextDeadline(),
      takeOutput: () => stack.takeTxBytes(),
    };
  }

  #sock(): TcpSocket {
    if (this.socket === null) throw new Error('no connection yet');
    return this.socket;
  }

  #lastTsval(ctx: ScriptContext): number {
    const ts = ctx.lastOutbound?.options.find((o) => o.kind === 'TS');
    if (ts === undefined || ts.kind !== 'TS' || typeof ts.val !== 'number') {
      throw new Error('the last segment the stack sent has no timestamp');
    }
    return ts.val;
  }

  calls(): Record<string, ScriptCall> {
    return {
      connect: (_a, ctx) => {
        this.socket = this.stack.tcpConnect(REMOTE_IP, 40_000, this.handlers(), ctx.nowMs);
      },
      write: ([n], ctx) => {
        const len = Number(n);
        const took = this.#sock().write(new Uint8Array(len).fill(0x61), 0, len, ctx.nowMs);
        if (took !== len) throw new Error(`write took ${took} of ${len} bytes`);
      },
      read: ([n], ctx) => {
        const len = Number(n);
        const dst = new Uint8Array(len);
        const got = this.#sock().read(dst, 0, len, ctx.nowMs);
        if (got !== len) throw new Error(`read returned ${got}, expected ${len}`);
        expect(dst).toEqual(fillerBytes(1 + this.bytesRead, len));
        this.bytesRead += len;
      },
      end: (_a, ctx) => this.#sock().end(ctx.nowMs),
      noDelay: (_a, ctx) => this.#sock().setNoDelay(true, ctx.nowMs),
      expectClosed: ([code]) => {
        if (this.closed === undefined) throw new Error('the connection is still open');
        expect(String(this.closed)).toBe(code);
        expect(TCP_STATE_NAMES[this.#sock().state]).toBe('CLOSED');
      },
      expectState: ([name]) => {
        expect(TCP_STATE_NAMES[this.#sock().state]).toBe(name);
      },
      expectStat: ([name, n]) => {
        expect(this.stack.tcpStats[name as keyof TcpStats], name).toBe(Number(n));
      },
      expectBuffered: ([n]) => {
        expect(this.#sock().recvBuf.length).toBe(Number(n));
      },
      // RFC 7323 TS clock: `tsBase` records the last segment's TSval, `tsval MS` checks that
      // the last segment's TSval is MS ticks (ms) past it.
      tsBase: (_a, ctx) => {
        this.tsBase = this.#lastTsval(ctx);
      },
      tsval: ([ms], ctx) => {
        if (this.tsBase === null) throw new Error('call tsBase first');
        expect((this.#lastTsval(ctx) - this.tsBase) >>> 0).toBe(Number(ms));
      },
    };
  }
}

/**
 * Runs `script` against a fresh stack; throws the runner's ScriptError at the first line the
 * stack does not match. Afterwards every mbuf must be back in the pool.
 */
function conform(script: string, setup: Setup = {}): Harness {
  const h = new Harness(setup);
  try {
    runScript(
      script,
      h.target,
      {
        localMac: LOCAL_MAC,
        localIp: LOCAL_IP,
        remoteMac: REMOTE_MAC,
        remoteIp: REMOTE_IP,
        localPort: LOCAL_PORT,
      },
      h.calls(),
    );
  } finally {
    h.stack.close();
  }
  expect(h.pool.mempool.available()).toBe(POOL_SIZE);
  return h;
}

/**
 * The passive open most tests start from. Peer MSS 1000 keeps the arithmetic round (IW = 10
 * segments = 10 000 bytes); the ACK 100 ms after the SYN-ACK is the first RTT sample: SRTT 100,
 * RTTVAR 50, RTO = 100 + 4 * 50 = 300 ms (RFC 6298 2.2). Ends at 0.1 s.
 */
const OPEN = `
0     < S 0:0(0) win 65535 <mss 1000>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+.1   < . 1:1(0) ack 1 win 65535
`;

/** The same with RFC 7323 timestamps (TS.Recent 200 at the end) and no window scaling. */
const OPEN_TS = `
0     < S 0:0(0) win 65535 <mss 1000,nop,nop,TS val 100 ecr 0>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,TS val * ecr 100>
+0    call tsBase
+.1   < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 200 ecr *>
`;

/** Ten full segments 1:1001 .. 9001:10001 (`last` flags on the tenth), all at +0. */
function tenSegments(last = '.'): string {
  const lines: string[] = [];
  for (let i = 0; i < 10; i++) {
    const flags = i === 9 ? last : '.';
    lines.push(`+0    > ${flags} ${i * 1000 + 1}:${i * 1000 + 1001}(1000) ack 1 win 65535`);
  }
  return lines.join('\n');
}

/** `n` full 1000-byte segments from relative sequence number `first`, all at +0. */
function fullSegments(first: number, n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const at = first + i * 1000;
    lines.push(`+0    > . ${at}:${at + 1000}(1000) ack 1 win 65535`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------

describe('RFC 6298 retransmission timer', () => {
  it('uses the 1 s initial RTO for the SYN-ACK and 3 s for data after a SYN-ACK timeout (5.7)', () => {
    conform(`
0     < S 0:0(0) win 65535 <mss 1000>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+1    > S. 0:0(0) ack 1 win 65535 <mss 1460>    // 2.1: RTO 1 s before any sample
+.1   < . 1:1(0) ack 1 win 65535                // 1.1: acks a retransmitted SYN-ACK: no sample
+0    call write 100
+0    > P. 1:101(100) ack 1 win 65535
+3    > P. 1:101(100) ack 1 win 65535           // 5.7: RTO 3 s once data flows
`);
  });

  it('backs off the SYN x2 from 1 s and fails the connect with ETIMEDOUT after synRetries', () => {
    conform(
      `
0     call connect
0     > S 0:0(0) win 65535 <mss 1460,nop,nop,TS val * ecr 0,nop,wscale 2>
+1    > S 0:0(0) win 65535 <mss 1460,nop,nop,TS val * ecr 0,nop,wscale 2>
+2    > S 0:0(0) win 65535 <mss 1460,nop,nop,TS val * ecr 0,nop,wscale 2>
+3.999 call expectState SYN_SENT
+.001 call expectClosed ETIMEDOUT                // 4 s after the last SYN: given up, nothing sent
+0    call expectStat attemptFails 1
`,
      { active: true, tcp: { synRetries: 2 } },
    );
  });

  it.each([
    // [RTT of the handshake sample (ms), RTO = SRTT + max(4 * RTTVAR, rtoMinMs) = RTT +
    // max(2 * RTT, 200): the floor bounds the variation term, as Linux's (RFC 6298 2.4 floors
    // the whole RTO at 1 s; with a 200 ms floor that would let an RTO sit within 20 ms of a
    // 180 ms RTT)]
    [300, 900],
    [100, 300],
    [70, 270],
    [60, 260],
    [10, 210],
    [0, 200],
  ])('after one RTT sample of %i ms the RTO is %i ms (2.2, 2.4)', (rtt, rto) => {
    conform(`
0     < S 0:0(0) win 65535 <mss 1000>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+${rtt / 1000} < . 1:1(0) ack 1 win 65535
+0    call write 100
+0    > P. 1:101(100) ack 1 win 65535
+${rto / 1000} > P. 1:101(100) ack 1 win 65535
+${(2 * rto) / 1000} > P. 1:101(100) ack 1 win 65535
`);
  });

  it('follows SRTT + 4 * RTTVAR as samples of a steady 300 ms RTT come in (2.3)', () => {
    conform(`
0     < S 0:0(0) win 65535 <mss 1000>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+.3   < . 1:1(0) ack 1 win 65535                // SRTT 300, RTTVAR 150: RTO 900
+0    call write 100
+0    > P. 1:101(100) ack 1 win 65535
+.3   < . 1:1(0) ack 101 win 65535              // RTTVAR 3/4 * 150 = 112.5: RTO 750
+0    call write 100
+0    > P. 101:201(100) ack 1 win 65535
+.3   < . 1:1(0) ack 201 win 65535              // RTTVAR 84.375: RTO 637.5
+0    call write 100
+0    > P. 201:301(100) ack 1 win 65535
+.3   < . 1:1(0) ack 301 win 65535              // RTTVAR 63.28125: RTO 553.125
+0    call write 100
+0    > P. 301:401(100) ack 1 win 65535
+.553125 > P. 301:401(100) ack 1 win 65535
+1.10625 > P. 301:401(100) ack 1 win 65535      // backed off x2
`);
  });

  it('does not restart a running timer for a new segment, restarts it on an ACK, stops it when all is acked (5.1-5.3)', () => {
    conform(`${OPEN}
+0    call noDelay
+0    call write 100                             // 0.1
+0    > P. 1:101(100) ack 1 win 65535
+.05  call write 100
+0    > P. 101:201(100) ack 1 win 65535
0.3   < . 1:1(0) ack 101 win 65535               // sample 200: SRTT 112.5, RTTVAR 62.5, RTO 362.5
0.6625 > P. 101:201(100) ack 1 win 65535         // from the ACK, not from 0.15
1.3875 > P. 101:201(100) ack 1 win 65535         // 725
1.4   < . 1:1(0) ack 201 win 65535
10    call expectStat retransSegs 2              // nothing outstanding: no timer
`);
  });

  it('backs off x2 up to rtoMaxMs, then gives up with an RST and ETIMEDOUT after maxRetries', () => {
    const h = conform(
      `${OPEN}
+0    call write 100
+0    > P. 1:101(100) ack 1 win 65535
+.3   > P. 1:101(100) ack 1 win 65535           // RTO 300
+.6   > P. 1:101(100) ack 1 win 65535           // 600
+1    > P. 1:101(100) ack 1 win 65535           // 1200, capped at rtoMaxMs 1000
+1    > R. 101:101(0) ack 1 win 0               // the 4th expiry: maxRetries (3) used up
+0    call expectClosed ETIMEDOUT
+0    call expectStat rtoTimeouts 3
+0    call expectStat retransSegs 3
`,
      { tcp: { maxRetries: 3, rtoMaxMs: 1000 } },
    );
    expect(h.closed).toBe('ETIMEDOUT');
  });

  it("Karn's rule: no sample from the ACK of a retransmission; the backed-off RTO stays until one", () => {
    conform(`${OPEN}
+0    call write 100                             // 0.1
+0    > P. 1:101(100) ack 1 win 65535
+.3   > P. 1:101(100) ack 1 win 65535            // 0.4: RTO 300, now 600
+.05  < . 1:1(0) ack 101 win 65535               // 0.45: ambiguous, no sample
+0    call write 100
+0    > P. 101:201(100) ack 1 win 65535
+.6   > P. 101:201(100) ack 1 win 65535          // 1.05: still 600 (a 50 ms sample gives 293.75)
+.05  < . 1:1(0) ack 201 win 65535               // 1.1: ambiguous again; RTO 1200
+0    call write 100
+0    > P. 201:301(100) ack 1 win 65535          // timed
+.1   < . 1:1(0) ack 301 win 65535               // 1.2: sample 100: RTTVAR 37.5, RTO 100 + max(150, 200) = 300
+0    call write 100
+0    > P. 301:401(100) ack 1 win 65535
+.3   > P. 301:401(100) ack 1 win 65535          // 1.5
`);
  });

  it('with timestamps, the ACK of a retransmission is a sample: TSecr names the copy (RFC 7323 4.1)', () => {
    conform(`${OPEN_TS}
+0    call write 100                             // 0.1; RTT 100 from TSecr: RTO 300
+0    > P. 1:101(100) ack 1 win 65535 <nop,nop,TS val * ecr 200>
+.3   > P. 1:101(100) ack 1 win 65535 <nop,nop,TS val * ecr 200>
+0    call tsval 400
+.05  < . 1:1(0) ack 101 win 65535 <nop,nop,TS val 300 ecr *>
// Echoes the retransmission's TSval: RTT 50, RTTVAR 3/4 * 50 + 1/4 * 50 = 50,
// SRTT 7/8 * 100 + 1/8 * 50 = 93.75, RTO 293.75 (Karn without timestamps would keep 600).
+0    call write 100
+0    > P. 101:201(100) ack 1 win 65535 <nop,nop,TS val * ecr 300>
+.29375 > P. 101:201(100) ack 1 win 65535 <nop,nop,TS val * ecr 300>
`);
  });
});

describe('RFC 5681 / 6582 congestion control', () => {
  it('sends an initial window of 10 segments, then two segments for each one acknowledged (slow start)', () => {
    conform(`${OPEN}
+0    call write 30000
${tenSegments()}
+.1   < . 1:1(0) ack 1001 win 65535              // cwnd 10 000 + 1000: two go
+0    > . 10001:11001(1000) ack 1 win 65535
+0    > . 11001:12001(1000) ack 1 win 65535
+0    < . 1:1(0) ack 2001 win 65535
+0    > . 12001:13001(1000) ack 1 win 65535
+0    > . 13001:14001(1000) ack 1 win 65535
+.01  < . 1:1(0) ack 3001 win 65535
+0    > . 14001:15001(1000) ack 1 win 65535
+0    > . 15001:16001(1000) ack 1 win 65535
`);
  });

  it('after an RTO: cwnd 1 segment, slow start up to ssthresh = FlightSize / 2, then +1 segment per cwnd acked', () => {
    conform(`${OPEN}
+0    call write 16000
${tenSegments()}
0.4   > . 1:1001(1000) ack 1 win 65535           // RTO: ssthresh 5000, cwnd 1000 (RFC 5681 3.1)
0.5   < . 1:1(0) ack 1001 win 65535              // cwnd 2000 (go-back-N from SND.UNA)
+0    > . 1001:2001(1000) ack 1 win 65535
+0    > . 2001:3001(1000) ack 1 win 65535
0.6   < . 1:1(0) ack 2001 win 65535              // 3000
+0    > . 3001:4001(1000) ack 1 win 65535
+0    > . 4001:5001(1000) ack 1 win 65535
+0    < . 1:1(0) ack 3001 win 65535              // 4000
+0    > . 5001:6001(1000) ack 1 win 65535
+0    > . 6001:7001(1000) ack 1 win 65535
0.7   < . 1:1(0) ack 4001 win 65535              // 5000 = ssthresh
+0    > . 7001:8001(1000) ack 1 win 65535
+0    > . 8001:9001(1000) ack 1 win 65535
+0    < . 1:1(0) ack 5001 win 65535              // congestion avoidance: no growth yet
+0    > . 9001:10001(1000) ack 1 win 65535
+0    < . 1:1(0) ack 6001 win 65535
+0    > . 10001:11001(1000) ack 1 win 65535
+0    < . 1:1(0) ack 7001 win 65535
+0    > . 11001:12001(1000) ack 1 win 65535
0.8   < . 1:1(0) ack 8001 win 65535
+0    > . 12001:13001(1000) ack 1 win 65535
+0    < . 1:1(0) ack 9001 win 65535              // 5000 bytes acked in CA: cwnd 6000
+0    > . 13001:14001(1000) ack 1 win 65535
+0    > . 14001:15001(1000) ack 1 win 65535
`);
  });

  it('credits a stretch ACK in slow start with every byte it acknowledges (Linux, GRO-sized ACKs)', () => {
    conform(`${OPEN}
+0    call write 40000
${tenSegments()}
+.1   < . 1:1(0) ack 5001 win 65535              // 5 segments: cwnd 10 000 + 5000, not + 2000
${fullSegments(10001, 10)}
`);
  });

  it('after an RTO, a stretch ACK below the recovery point grows cwnd by 2 segments only (RFC 3465 2.3)', () => {
    conform(`${OPEN}
+0    call write 16000
${tenSegments()}
0.4   > . 1:1001(1000) ack 1 win 65535           // RTO: ssthresh 5000, cwnd 1000
0.5   < . 1:1(0) ack 4001 win 65535              // 4 segments, all sent before the RTO: cwnd 3000
+0    > . 4001:5001(1000) ack 1 win 65535
+0    > . 5001:6001(1000) ack 1 win 65535
+0    > . 6001:7001(1000) ack 1 win 65535
+.1   < . 1:1(0) ack 7001 win 65535              // 5000 = ssthresh
+0    > . 7001:8001(1000) ack 1 win 65535
+0    > . 8001:9001(1000) ack 1 win 65535
+0    > . 9001:10001(1000) ack 1 win 65535
+0    > . 10001:11001(1000) ack 1 win 65535
+0    > . 11001:12001(1000) ack 1 win 65535
`);
  });

  it('does not count ACKs that change the window as duplicates (RFC 5681 2)', () => {
    conform(`${OPEN}
+0    call write 10000
${tenSegments('P.')}
+.1   < . 1:1(0) ack 1 win 65000
+0    < . 1:1(0) ack 1 win 64000
+0    < . 1:1(0) ack 1 win 63000
+0    call expectStat fastRetransmits 0
0.4   > . 1:1001(1000) ack 1 win 65535           // only the RTO resends
`);
  });

  it('starts with one segment after the SYN-ACK was lost (RFC 5681 3.1)', () => {
    // Two losses: RFC 5681 asks for IW = 1 after any; Linux (tcp_init_transfer) after more
    // than one, since RFC 6298's 1 s initial RTO makes a single spurious timeout likely.
    conform(`
0     < S 0:0(0) win 65535 <mss 1000>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+1    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+2    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+.1   < . 1:1(0) ack 1 win 65535
+0    call write 3000
+0    > . 1:1001(1000) ack 1 win 65535           // IW = 1 segment
+.1   < . 1:1(0) ack 1001 win 65535
+0    > . 1001:2001(1000) ack 1 win 65535        // slow start: 2
+0    > P. 2001:3001(1000) ack 1 win 65535
`);
  });

  it('fast retransmit on the third duplicate ACK, then NewReno: inflation, partial and full ACKs', () => {
    conform(`${OPEN}
+0    call write 10000
${tenSegments('P.')}
// 1:1001 and 2001:3001 are lost. The application has nothing more, so limited transmit
// (RFC 3042) has nothing to send on the first two duplicates.
+.1   < . 1:1(0) ack 1 win 65535
+0    < . 1:1(0) ack 1 win 65535
+0    call expectStat fastRetransmits 0
+0    < . 1:1(0) ack 1 win 65535
+0    > . 1:1001(1000) ack 1 win 65535           // 3rd duplicate: at once
+0    call expectStat fastRetransmits 1
// ssthresh = FlightSize / 2 = 5000, cwnd = ssthresh + 3 SMSS = 8000, recover = 10001.
+0    call write 5000
+0    < . 1:1(0) ack 1 win 65535                 // cwnd 9000
+0    < . 1:1(0) ack 1 win 65535                 // 10 000 = flight
+0    < . 1:1(0) ack 1 win 65535                 // 11 000: one new segment
+0    > . 10001:11001(1000) ack 1 win 65535
+.01  < . 1:1(0) ack 2001 win 65535              // partial ACK: the next hole at once
+0    > . 2001:3001(1000) ack 1 win 65535
+0    > . 11001:12001(1000) ack 1 win 65535      // cwnd 11 000 - 2000 + 1000
+.1   < . 1:1(0) ack 12001 win 65535             // full ACK (past recover)
// RFC 6582 3.2 (3): cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) = 2000.
+0    > . 12001:13001(1000) ack 1 win 65535
+0    > . 13001:14001(1000) ack 1 win 65535
+0    call expectStat retransSegs 2
`);
  });

  it('limited transmit: a new segment on each of the first two duplicate ACKs (RFC 5681 3.2 (1))', () => {
    conform(`${OPEN}
+0    call write 15000
${tenSegments()}
+.1   < . 1:1(0) ack 1 win 65535
+0    > . 10001:11001(1000) ack 1 win 65535
+0    < . 1:1(0) ack 1 win 65535
+0    > . 11001:12001(1000) ack 1 win 65535
+0    < . 1:1(0) ack 1 win 65535
+0    > . 1:1001(1000) ack 1 win 65535
`);
  });
});

describe('zero window (RFC 9293 3.8.6.1) and silly-window avoidance (RFC 1122 4.2.3.3-4)', () => {
  it('stops at a zero window and probes with SND.UNA - 1, backing off x2 up to rtoMaxMs', () => {
    conform(
      `${OPEN}
+0    call write 1000
+0    > P. 1:1001(1000) ack 1 win 65535
0.2   < . 1:1(0) ack 1001 win 0                  // sample 100: RTTVAR 37.5, RTO 100 + 200 = 300
+0    call write 1000                            // nothing goes
0.5   > . 1000:1000(0) ack 1 win 65535           // probe 1: RTO after the write
0.51  < . 1:1(0) ack 1001 win 0
1.1   > . 1000:1000(0) ack 1 win 65535           // 2 * 300
1.11  < . 1:1(0) ack 1001 win 0
2.1   > . 1000:1000(0) ack 1 win 65535           // 4 * 300, capped at rtoMaxMs 1000
2.11  < . 1:1(0) ack 1001 win 0
3.1   > . 1000:1000(0) ack 1 win 65535           // 8 * 300, capped
3.11  < . 1:1(0) ack 1001 win 0
+0    call expectStat zeroWindowProbes 4
3.15  < . 1:1(0) ack 1001 win 65535              // the window opens: the data goes at once
+0    > P. 1001:2001(1000) ack 1 win 65535
+.1   < . 1:1(0) ack 2001 win 65535
`,
      { tcp: { rtoMaxMs: 1000 } },
    );
  });

  it('a window shrunk to zero with data in flight: the RTO resends it as a probe, counted as a probe, not a retry', () => {
    // RFC 9293 3.8.6.1 and RFC 1122 4.2.2.17: the peer answers every probe, so the connection
    // lives past maxRetries (2) expiries; before, the RTO resent nothing (usable window 0), the
    // retries ran out and the connection was reset having sent nothing.
    conform(
      `${OPEN}
+0    call write 2000
+0    > . 1:1001(1000) ack 1 win 65535
+0    > P. 1001:2001(1000) ack 1 win 65535
0.2   < . 1:1(0) ack 1001 win 0                  // 1001:2001 now lies past a zero window; RTO 300
0.5   > P. 1001:2001(1000) ack 1 win 65535       // the probe: the segment again
0.51  < . 1:1(0) ack 1001 win 0
1.1   > P. 1001:2001(1000) ack 1 win 65535       // backed off: 600
1.11  < . 1:1(0) ack 1001 win 0
2.1   > P. 1001:2001(1000) ack 1 win 65535       // 1000 (rtoMaxMs); a third expiry, still open
2.11  < . 1:1(0) ack 2001 win 65535              // taken after all, the window open
+0    call expectState ESTABLISHED
+0    call expectStat zeroWindowProbes 3
+0    call expectStat rtoTimeouts 3
`,
      { tcp: { maxRetries: 2, rtoMaxMs: 1000 } },
    );
  });

  it('a silent peer behind a zero window is given up on after maxRetries unanswered probes', () => {
    const h = conform(
      `${OPEN}
+0    call write 1000
+0    > P. 1:1001(1000) ack 1 win 65535
0.2   < . 1:1(0) ack 1001 win 0                  // RTO 300
+0    call write 1000
0.5   > . 1000:1000(0) ack 1 win 65535           // probe 1, never answered
1.1   > . 1000:1000(0) ack 1 win 65535           // probe 2
2.1   > . 1000:1000(0) ack 1 win 65535           // probe 3 (rtoMaxMs 1000)
3.1   > R. 1001:1001(0) ack 1 win 0              // maxRetries (3) probes unanswered: gone
+0    call expectClosed ETIMEDOUT
+0    call expectStat zeroWindowProbes 3
`,
      { tcp: { maxRetries: 3, rtoMaxMs: 1000 } },
    );
    expect(h.closed).toBe('ETIMEDOUT');
  });

  it('userTimeoutMs ends a connection whose data has waited that long, though the peer answers its probes', () => {
    const h = conform(
      `${OPEN}
+0    call write 1000
+0    > P. 1:1001(1000) ack 1 win 65535
0.2   < . 1:1(0) ack 1001 win 0                  // the last progress: 0.2
+0    call write 1000
0.5   > . 1000:1000(0) ack 1 win 65535
0.51  < . 1:1(0) ack 1001 win 0
1.1   > . 1000:1000(0) ack 1 win 65535
1.11  < . 1:1(0) ack 1001 win 0
2.1   > R. 1001:1001(0) ack 1 win 0              // 1.9 s without progress >= 1.5 s
+0    call expectClosed ETIMEDOUT
`,
      { tcp: { userTimeoutMs: 1500, rtoMaxMs: 1000 } },
    );
    expect(h.closed).toBe('ETIMEDOUT');
  });

  it('userTimeoutMs runs from the FIN on an idle connection, not from its last progress long before', () => {
    const h = conform(
      `${OPEN}
+0    call write 100
+0    > P. 1:101(100) ack 1 win 65535
+.1   < . 1:1(0) ack 101 win 65535               // 0.2: the last progress
10    call end                                   // idle for 10 s, then the FIN
+0    > F. 101:101(0) ack 1 win 65535
+.3   > F. 101:101(0) ack 1 win 65535            // 10.3: a retransmission, not a give-up
+.6   > F. 101:101(0) ack 1 win 65535            // 10.9
+.6   > R. 102:102(0) ack 1 win 0                // 11.5: 1.5 s after the FIN with no answer
+0    call expectClosed ETIMEDOUT
`,
      { tcp: { userTimeoutMs: 1500, rtoMaxMs: 600 } },
    );
    expect(h.closed).toBe('ETIMEDOUT');
  });

  it('black-hole detection: 3 timeouts in a row shrink the segments to 1024 bytes; 10 minutes on the agreed MSS is tried again', () => {
    conform(`
0     < S 0:0(0) win 65535 <mss 1460>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+.1   < . 1:1(0) ack 1 win 65535                 // RTO 300
+0    call write 1460
+0    > P. 1:1461(1460) ack 1 win 65535
+.3   > P. 1:1461(1460) ack 1 win 65535          // timeout 1
+.6   > P. 1:1461(1460) ack 1 win 65535          // timeout 2
+1.2  > . 1:1025(1024) ack 1 win 65535           // timeout 3: a black hole, perhaps
+.1   < . 1:1(0) ack 1025 win 65535              // the smaller segment gets through
+0    > P. 1025:1461(436) ack 1 win 65535
+0    call expectStat blackHoleShrinks 1
+.1   < . 1:1(0) ack 1461 win 65535
602.3 call write 100
+0    > P. 1461:1561(100) ack 1 win 65535
+.1   < . 1:1(0) ack 1561 win 65535              // an ACK past the re-probe time: 1460 again
+0    call write 1460
+0    > P. 1561:3021(1460) ack 1 win 65535
+.1   < . 1:1(0) ack 3021 win 65535
`);
  });

  it('mtuProbing false keeps the agreed MSS through timeouts', () => {
    conform(
      `
0     < S 0:0(0) win 65535 <mss 1460>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+.1   < . 1:1(0) ack 1 win 65535
+0    call write 1460
+0    > P. 1:1461(1460) ack 1 win 65535
+.3   > P. 1:1461(1460) ack 1 win 65535
+.6   > P. 1:1461(1460) ack 1 win 65535
+1.2  > P. 1:1461(1460) ack 1 win 65535
+.1   < . 1:1(0) ack 1461 win 65535
+0    call expectStat blackHoleShrinks 0
`,
      { tcp: { mtuProbing: false } },
    );
  });

  it('closes our window as the unread receive buffer fills, answers probes, and reopens it by an MSS', () => {
    const h = conform(
      `
0     < S 0:0(0) win 65535 <mss 1000>
+0    > S. 0:0(0) ack 1 win 4000 <mss 1000>
+.1   < . 1:1(0) ack 1 win 65535
+.1   < . 1:1001(1000) ack 1 win 65535
+0    < . 1001:2001(1000) ack 1 win 65535
+0    > . 1:1(0) ack 2001 win 2000               // the right edge stays at 4001
+0    < . 2001:3001(1000) ack 1 win 65535
+0    < . 3001:4001(1000) ack 1 win 65535
+0    > . 1:1(0) ack 4001 win 0                  // full: window 0
+.1   < . 4000:4000(0) ack 1 win 65535           // the peer's zero-window probe
+0    > . 1:1(0) ack 4001 win 0
+.1   < P. 4001:4101(100) ack 1 win 65535        // data past the window: dropped, ACKed
+0    > . 1:1(0) ack 4001 win 0
+0    call expectBuffered 4000
// RFC 1122 4.2.3.3: the right edge moves only when it can move by min(RCV.BUFF / 2, MSS) =
// min(2000, 1000): reading 500 opens nothing (no window update), reading 1000 does.
+.1   call read 500
+.1   call read 500
+0    > . 1:1(0) ack 4001 win 1000
+.1   < . 4001:5001(1000) ack 1 win 65535
+.04  > . 1:1(0) ack 5001 win 0
+.1   call read 3000                             // 3000 free: the update goes at once
+0    > . 1:1(0) ack 5001 win 3000
`,
      { pull: true, tcp: { recvBuffer: 4000, mss: 1000 } },
    );
    expect(h.bytesRead).toBe(4000);
  });

  it('sender SWS: a window-limited runt waits unless it is half the largest window; the persist timer overrides', () => {
    conform(`
0     < S 0:0(0) win 1500 <mss 1000>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
+.1   < . 1:1(0) ack 1 win 1500                  // the largest window the peer offers: 1500
+0    call write 3000
+0    > . 1:1001(1000) ack 1 win 65535           // 500 left < 750: waits
+.1   < . 1:1(0) ack 1001 win 1500
+0    > . 1001:2001(1000) ack 1 win 65535
+.1   < . 1:1(0) ack 2001 win 800                // 800 >= 750: goes
+0    > . 2001:2801(800) ack 1 win 65535
+.1   < . 1:1(0) ack 2801 win 100                // 100 < 750, nothing in flight: persist timer
// RTT samples of 100 ms each: RTTVAR 50, 37.5, 28.125, 21.09: RTO 100 + max(84.4, 200) = 300.
+.3   > . 2801:2901(100) ack 1 win 65535         // the override timeout sends what fits
+.1   < . 1:1(0) ack 2901 win 1500
+0    > P. 2901:3001(100) ack 1 win 65535
+.1   < . 1:1(0) ack 3001 win 1500
`);
  });
});

describe('Nagle (RFC 9293 3.7.4)', () => {
  it('holds a small write while data is in flight and sends it with the ACK; noDelay sends at once', () => {
    conform(`${OPEN}
+0    call write 100
+0    > P. 1:101(100) ack 1 win 65535            // nothing in flight: goes
+.01  call write 100
+.01  call write 100                             // both wait for the ACK
0.2   < . 1:1(0) ack 101 win 65535
+0    > P. 101:301(200) ack 1 win 65535
+.1   < . 1:1(0) ack 301 win 65535
+0    call noDelay
+0    call write 100
+0    > P. 301:401(100) ack 1 win 65535
+.01  call write 100
+0    > P. 401:501(100) ack 1 win 65535          // in flight, but no Nagle
+.1   < . 1:1(0) ack 501 win 65535
`);
  });

  it('holds the sub-MSS tail of a write until everything in flight is acknowledged', () => {
    conform(`${OPEN}
+0    call write 2500
+0    > . 1:1001(1000) ack 1 win 65535
+0    > . 1001:2001(1000) ack 1 win 65535
+.1   < . 1:1(0) ack 1001 win 65535              // 1001:2001 still in flight: still waits
+.1   < . 1:1(0) ack 2001 win 65535
+0    > P. 2001:2501(500) ack 1 win 65535
+.1   < . 1:1(0) ack 2501 win 65535
`);
  });

  it('does not delay a FIN: end() sends the held small segment with the FIN', () => {
    conform(`${OPEN}
+0    call write 100
+0    > P. 1:101(100) ack 1 win 65535
+.01  call write 100                             // held by Nagle
+.01  call end
+0    > FP. 101:201(100) ack 1 win 65535
+.1   < . 1:1(0) ack 202 win 65535
+0    call expectState FIN_WAIT_2
`);
  });
});

describe('delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2)', () => {
  it('ACKs one full segment after exactly 40 ms, every second one at once, out-of-order and gap fills at once', () => {
    conform(`${OPEN}
0.2   < . 1:1001(1000) ack 1 win 65535
+.04  > . 1:1(0) ack 1001 win 65535              // delayedAckMs
+.1   < . 1001:2001(1000) ack 1 win 65535
+.01  < . 2001:3001(1000) ack 1 win 65535
+0    > . 1:1(0) ack 3001 win 65535              // the second full segment: at once
+.1   < . 4001:5001(1000) ack 1 win 65535        // out of order
+0    > . 1:1(0) ack 3001 win 65535              // duplicate ACK at once
+.1   < . 3001:4001(1000) ack 1 win 65535        // fills the gap
+0    > . 1:1(0) ack 5001 win 65535              // at once
+.1   < . 5001:5101(100) ack 1 win 65535         // a small segment: delayed as well,
+.02  < . 5101:5201(100) ack 1 win 65535         // and a second does not restart the timer
+.02  > . 1:1(0) ack 5201 win 65335              // the right edge has not moved by 200 bytes
`);
  });

  it('lets the ACK ride on data written before the timer fires', () => {
    conform(`${OPEN}
0.2   < . 1:1001(1000) ack 1 win 65535
+.01  call write 100
+0    > P. 1:101(100) ack 1001 win 65535         // carries the ACK: no pure ACK at 0.24
+.1   < . 1001:1001(0) ack 101 win 65535
`);
  });
});

describe('keepalive (RFC 9293 3.8.4, RFC 1122 4.2.3.6)', () => {
  it('probes with SND.UNA - 1 after the idle time, resets on an answer, and resets the connection after the unanswered probes', () => {
    const h = conform(
      `${OPEN}
1.1   > . 0:0(0) ack 1 win 65535                 // idle 1 s since the last segment (0.1)
1.15  < . 1:1(0) ack 1 win 65535                 // answered: the count starts over
2.15  > . 0:0(0) ack 1 win 65535                 // idle 1 s again
2.35  > . 0:0(0) ack 1 win 65535                 // then every 200 ms
2.55  > . 0:0(0) ack 1 win 65535
2.75  > R. 1:1(0) ack 1 win 0                    // 3 probes unanswered
+0    call expectClosed ETIMEDOUT
+0    call expectStat keepaliveProbes 4
`,
      {
        tcp: {
          keepAlive: true,
          keepAliveIdleMs: 1000,
          keepAliveIntervalMs: 200,
          keepAliveProbes: 3,
        },
      },
    );
    expect(h.closed).toBe('ETIMEDOUT');
  });

  it('counts the idle time from the last segment received', () => {
    conform(
      `${OPEN}
0.5   < P. 1:101(100) ack 1 win 65535
+.04  > . 1:1(0) ack 101 win 65435               // receiver SWS: the edge stays
1.5   > . 0:0(0) ack 101 win 65435               // 1 s after the data, not after the handshake
1.51  < . 101:101(0) ack 1 win 65535
1.71  call expectState ESTABLISHED               // answered: no second probe at 1.7
`,
      { tcp: { keepAlive: true, keepAliveIdleMs: 1000, keepAliveIntervalMs: 200 } },
    );
  });
});

describe('RFC 7323 timestamps, PAWS and window scaling', () => {
  it('puts TS on every segment, echoes TS.Recent, and drops an older TSval with an ACK (PAWS)', () => {
    conform(`${OPEN_TS}
+0    call write 100
+0    > P. 1:101(100) ack 1 win 65535 <nop,nop,TS val * ecr 200>
+0    call tsval 100                             // 1 ms ticks
+.05  < . 1:101(100) ack 101 win 65535 <nop,nop,TS val 150 ecr *>
+0    > . 101:101(0) ack 1 win 65535 <nop,nop,TS val * ecr 200>   // PAWS: 150 < 200
+0    call expectStat pawsDrops 1
+.05  < . 1:101(100) ack 101 win 65535 <nop,nop,TS val 300 ecr *>
+.04  > . 101:101(0) ack 101 win 65435 <nop,nop,TS val * ecr 300>
+0    call tsval 240
// RFC 7323 4.3: TS.Recent takes the TSval of the segment at Last.ACK.sent, not the latest.
// Two full-sized segments (988 = MSS 1000 - 12) are ACKed at once; the ACK echoes 400, the
// TSval of the first (it covered Last.ACK.sent = 101), not 401.
+.1   < . 101:1089(988) ack 101 win 65535 <nop,nop,TS val 400 ecr *>
+0    < . 1089:2077(988) ack 101 win 65535 <nop,nop,TS val 401 ecr *>
+0    > . 101:101(0) ack 2077 win 65535 <nop,nop,TS val * ecr 400>
`);
  });

  it('PAWS: an old pure ACK earns one duplicate ACK per 500 ms, like any out-of-window answer', () => {
    conform(`${OPEN_TS}
+.05  < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 150 ecr *>
+0    > . 1:1(0) ack 1 win 65535 <nop,nop,TS val * ecr 200>
+.1   < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 150 ecr *>      // within 500 ms: dropped only
+.1   < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 160 ecr *>
+0    call expectStat pawsDrops 3
+.3   < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 150 ecr *>
+0    > . 1:1(0) ack 1 win 65535 <nop,nop,TS val * ecr 200>
+0    call expectStat pawsDrops 4
`);
  });

  it('skips PAWS once TS.Recent is 24 days old (RFC 7323 5.5)', () => {
    conform(`${OPEN_TS}
2073600 < P. 1:101(100) ack 1 win 65535 <nop,nop,TS val 150 ecr *>   // 0.1 s short of 24 days
+0    > . 1:1(0) ack 1 win 65535 <nop,nop,TS val * ecr 200>
+.2   < P. 1:101(100) ack 1 win 65535 <nop,nop,TS val 150 ecr *>     // 24 days: accepted
+.04  > . 1:1(0) ack 101 win 65435 <nop,nop,TS val * ecr 150>
+0    call expectStat pawsDrops 1
`);
  });

  it('ACKs every second full-sized segment at once when timestamps shrink it to MSS - 12', () => {
    conform(`${OPEN_TS}
+.1   < . 1:989(988) ack 1 win 65535 <nop,nop,TS val 300 ecr *>
+0    < . 989:1977(988) ack 1 win 65535 <nop,nop,TS val 301 ecr *>
+0    > . 1:1(0) ack 1977 win 65535 <nop,nop,TS val * ecr 300>
`);
  });

  it('advertises buffer >> our shift and scales the peer window by its shift', () => {
    conform(
      `
0     < S 0:0(0) win 65535 <mss 1000,nop,wscale 7>
+0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 4>   // 1 000 000 needs shift 4
+.1   < . 1:1(0) ack 1 win 16                    // 16 << 7 = 2048 bytes
+0    call write 3000
+0    > . 1:1001(1000) ack 1 win 62500           // 1 000 000 >> 4
+0    > . 1001:2001(1000) ack 1 win 62500        // 48 bytes of window left: the rest waits
+.1   < . 1:1001(1000) ack 1 win 16
+.04  > . 2001:2001(0) ack 1001 win 62437        // 999 000 >> 4: 1000 bytes wait unread
`,
      { pull: true, tcp: { recvBuffer: 1_000_000 } },
    );
  });
});

describe('segment size (RFC 9293 3.7.1, RFC 6691)', () => {
  it.each([
    ['no MSS option: 536', '', '', 536],
    ['no MSS option, timestamps: 536 - 12', '', 'TS', 524],
    ['peer 1460, ours 1200: 1200', 'mss 1460', '', 1200],
    ['peer 1460, ours 1200, timestamps: 1188', 'mss 1460', 'TS', 1188],
    ['peer 9000, interface 1460: 1460', 'mss 9000', '', 1460],
    ['peer 9000, interface 1460, timestamps: 1448', 'mss 9000', 'TS', 1448],
  ])('%s', (_name, mss, ts, size) => {
    const ours = mss === '' ? 1460 : 1200;
    const synOpts = [mss, ts === '' ? '' : 'nop,nop,TS val 100 ecr 0'].filter((o) => o !== '');
    const synAckOpts = [`mss ${mss === 'mss 9000' ? 1460 : ours}`];
    if (ts !== '') synAckOpts.push('nop,nop,TS val * ecr 100');
    const tsOpt = ts === '' ? '' : ' <nop,nop,TS val * ecr 200>';
    const tsIn = ts === '' ? '' : ' <nop,nop,TS val 200 ecr *>';
    conform(
      `
0     < S 0:0(0) win 65535${synOpts.length > 0 ? ` <${synOpts.join(',')}>` : ''}
+0    > S. 0:0(0) ack 1 win 65535 <${synAckOpts.join(',')}>
+.1   < . 1:1(0) ack 1 win 65535${tsIn}
+0    call write ${3 * size}
+0    > . 1:${size + 1}(${size}) ack 1 win 65535${tsOpt}
+0    > . ${size + 1}:${2 * size + 1}(${size}) ack 1 win 65535${tsOpt}
+0    > P. ${2 * size + 1}:${3 * size + 1}(${size}) ack 1 win 65535${tsOpt}
`,
      { tcp: { mss: mss === 'mss 1460' ? 1200 : 0 } },
    );
  });
});
