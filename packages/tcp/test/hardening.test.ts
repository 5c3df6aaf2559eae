// Issue 16's defects, each with a test that failed before its fix: the accept queue, the
// half-open and FIN_WAIT_2 lifetimes, the rate limits on answers an attacker can provoke
// (RFC 5961 7 as Linux hardened it after CVE-2016-5696), and the stack's drops of spoofed
// sources. Scripts run against one Stack in virtual time (conformance-helpers.ts); the accept
// queue and the challenge budget use two stacks in the simulator.
import { describe, expect, it } from 'vitest';
import { type TcpErrorCode, TcpState } from '../src/index.js';
import { runConformance } from './conformance-helpers.js';
import { Sim } from './sim.js';

const PASSIVE = `
  0     call listen
  +0    < S 0:0(0) win 65535 <mss 1460>
  +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
  +.1   < . 1:1(0) ack 1 win 65535
  +0    call expectState ESTABLISHED
  +0    call expectEvent accept
`;

describe('the accept queue', () => {
  it('accept() hands the connection over: its onClose fires, halfOpen stays 0, unlisten leaves it be', () => {
    const sim = new Sim();
    const l = sim.b.tcpListen(80); // no onConnection: connections wait for accept()
    const c1 = sim.a.tcpConnect('10.0.0.2', 80, {}, sim.now);
    const c2 = sim.a.tcpConnect('10.0.0.2', 80, {}, sim.now);
    expect(sim.run(() => l.acceptQueue.length === 2, 5000)).toBe(true);
    const s1 = l.accept();
    const s2 = l.accept();
    expect(l.accept()).toBeNull();
    expect([s1?.listener, s2?.listener]).toEqual([null, null]);
    expect(l.halfOpen).toBe(0);
    const closed: TcpErrorCode[] = [];
    if (s1 === null || s2 === null) throw new Error('no connection');
    s1.handlers = { onClose: (_s, e) => closed.push(e) };
    // Unlistening resets what waits in the queue and half-open connections, not these.
    sim.b.tcpUnlisten(l, sim.now);
    sim.run(() => false, sim.now + 100);
    expect([s1.state, s2.state]).toEqual([TcpState.ESTABLISHED, TcpState.ESTABLISHED]);
    expect(c2.state).toBe(TcpState.ESTABLISHED);
    c1.abort(sim.now);
    expect(sim.run(() => closed.length === 1, sim.now + 1000)).toBe(true);
    expect(closed).toEqual(['ECONNRESET']);
    expect(l.halfOpen).toBe(0);
    sim.close();
    expect(sim.poolA.mempool.available()).toBe(4096);
    expect(sim.poolB.mempool.available()).toBe(4096);
  });
});

describe('lifetimes an attacker or a lost peer cannot stretch', () => {
  it('a SYN repeated in SYN_RECEIVED gets a SYN-ACK (one per 500 ms) but neither restarts the timer nor saves a retry', () => {
    runConformance(
      `
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      0.2   < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      // Within 500 ms of that answer: none.
      0.4   < S 0:0(0) win 65535 <mss 1460>
      // The retransmission timer runs from the first SYN-ACK: RTO 1 s.
      1.0   > S. 0:0(0) ack 1 win 65535 <mss 1460>
      1.5   < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      2.5   < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      +0    call expectHalfOpen 1
      // Backed off to 2 s, the timer fires at 3.0 with the one retry spent: the half-open
      // connection goes, though the peer kept repeating its SYN (before, each SYN pushed the
      // timer back and it lived as long as they came).
      3.0   call expectHalfOpen 0
      +0    call expectState LISTEN
    `,
      { tcp: { synAckRetries: 1 } },
    );
  });

  it('an orphaned FIN_WAIT_2 ends quietly after finWait2TimeoutMs: the application closed it, no ETIMEDOUT', () => {
    runConformance(
      `
      ${PASSIVE}
      +0    call close
      +0    > F. 1:1(0) ack 1 win 65535
      +.1   < . 1:1(0) ack 2 win 65535
      +0    call expectState FIN_WAIT_2
      +0    call expectEvent
      5.19  call expectState FIN_WAIT_2
      5.2   call expectState CLOSED
      +0    call expectEvent close(null)
    `,
      { tcp: { finWait2TimeoutMs: 5000 } },
    );
  });
});

describe('answers an attacker can provoke are rate-limited', () => {
  it('a pure ACK of data never sent gets one ACK per 500 ms (RFC 5961 5.2)', () => {
    runConformance(`
      ${PASSIVE}
      +.1   < . 1:1(0) ack 1000 win 65535
      +0    > . 1:1(0) ack 1 win 65535
      +.1   < . 1:1(0) ack 1000 win 65535
      +.1   < . 1:1(0) ack 1000 win 65535
      +.3   < . 1:1(0) ack 1000 win 65535
      +0    > . 1:1(0) ack 1 win 65535
      +0    call expectState ESTABLISHED
    `);
  });

  it("the stack's challenge-ACK budget is drawn anew each second from [limit/2, 3 limit/2)", () => {
    const budgets = (seed: number) => {
      const sim = new Sim({ a: { isnSecret: new Uint8Array(16).fill(seed) } });
      const out: number[] = [];
      for (let sec = 0; sec < 20; sec++) {
        let n = 0;
        while (n < 10_000 && sim.a.tcp.challengeAckAllowed(sec * 1000 + 7)) n++;
        out.push(n);
      }
      sim.close();
      return out;
    };
    const a = budgets(3);
    for (const n of a) {
      expect(n).toBeGreaterThanOrEqual(500);
      expect(n).toBeLessThan(1500);
    }
    // Not one fixed number an off-path attacker could count down.
    expect(new Set(a).size).toBeGreaterThan(15);
    // The draw follows the stack's secret: the same secret, the same budgets.
    expect(budgets(3)).toEqual(a);
    expect(budgets(4)).not.toEqual(a);
  });
});

describe('urgent data (RFC 9293 MUST-30/31)', () => {
  it('tells the application where urgent data ends, once per advance; the bytes stay inline', () => {
    runConformance(`
      ${PASSIVE}
      +.1   < PU. 1:101(100) ack 1 win 65535 urg 100
      +0    call expectEvent urgent(100)
      +.04  > . 1:1(0) ack 101 win 65435
      +0    call read 100
      // A pointer 400 bytes on, past this segment: urgent data of any length.
      +.1   < PU. 101:201(100) ack 1 win 65535 urg 400
      +0    call expectEvent urgent(500)
      +.04  > . 1:1(0) ack 201 win 65335
      +0    call read 100
      // The same mark again: nothing new to tell.
      +.1   < PU. 201:301(100) ack 1 win 65535 urg 300
      +0    call expectEvent
      +.04  > . 1:1(0) ack 301 win 65235
      +0    call read 100
      +0    call expectStat urgentIn 2
    `);
  });
});
