// RFC 9293 state transitions (figure 5 and section 3.10), one packetdrill-style script each,
// against the real Stack in virtual time: at t the peer injects a segment (`<`), the stack must
// answer with exactly this segment at exactly this time (`>`), and `call` lines act as the
// application and check the state and the handler events (conformance-helpers.ts).
//
// Numbers are relative as in packetdrill: `<` seq and `>` ack count from the peer's ISN, `>` seq
// and `<` ack from ours (learned from our SYN or SYN-ACK; absolute before we sent one).
// Where Linux and the RFC leave a choice, the scripts expect what Linux does, and say so.

import { FLG_ACK, FLG_SYN } from '@bypass/net';
import { describe, it } from 'vitest';
import {
  type Conformance,
  LOCAL_IP,
  LOCAL_MAC,
  LOCAL_PORT,
  REMOTE_IP,
  REMOTE_MAC,
  runConformance,
} from './conformance-helpers.js';
import { buildTcpFrame, decodeFrame, type ScriptCall } from './script/script.js';

/**
 * The passive handshake without options (no timestamps, no window scaling, MSS 1460 both
 * ways): ESTABLISHED at 0.1 s with one RTT sample of 100 ms, so RTO = 100 + 4 * 50 = 300 ms.
 * Our window is 65535 (128 KiB buffer, unscaled).
 */
const PASSIVE = `
  0     call listen
  +0    call expectState LISTEN
  +0    < S 0:0(0) win 65535 <mss 1460>
  +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
  +0    call expectState SYN_RECEIVED
  +.1   < . 1:1(0) ack 1 win 65535
  +0    call expectState ESTABLISHED
  +0    call expectEvent accept
`;

/** A SYN from another port of the peer, given straight to the stack (the script has one port). */
function synFromPort(h: Conformance): Record<string, ScriptCall> {
  return {
    synFromPort: ([port, answer], ctx) => {
      const srcPort = Number(port);
      h.stack.inputBytes(
        buildTcpFrame({
          srcMac: REMOTE_MAC,
          dstMac: LOCAL_MAC,
          srcIp: REMOTE_IP,
          dstIp: LOCAL_IP,
          srcPort,
          dstPort: LOCAL_PORT,
          seq: 0x2000_0000,
          ack: 0,
          flags: FLG_SYN,
          window: 65535,
          options: [{ kind: 'mss', value: 1460 }],
        }),
        ctx.nowMs,
      );
      if (answer === undefined) return;
      // `synack`: the stack must answer that port at once; the frame is taken here, so the
      // script (which checks only its own 4-tuple) never sees it.
      const out = h.stack.takeTxBytes().map(decodeFrame);
      const ok =
        out.length === 1 &&
        out[0].kind === 'tcp' &&
        out[0].dstPort === srcPort &&
        out[0].flags === (FLG_SYN | FLG_ACK) &&
        out[0].ack === 0x2000_0001;
      if (!ok) throw new Error(`expected one SYN-ACK to port ${srcPort}, got ${out.length} frames`);
    },
  };
}

describe('RFC 9293 conformance: passive open (LISTEN -> SYN_RECEIVED -> ESTABLISHED)', () => {
  it('with timestamps and window scale: the SYN-ACK answers both, the windows scale', () => {
    runConformance(`
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
      // MSS, TS echoing the peer's, our shift 2 (128 KiB buffer); no SACK (not offered).
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,TS val * ecr 100,nop,wscale 2>
      +0    call expectState SYN_RECEIVED
      +0    call expectHalfOpen 1
      +0    call expectEvent
      +.1   < . 1:1(0) ack 1 win 2 <nop,nop,TS val 110 ecr *>
      +0    call expectState ESTABLISHED
      +0    call expectHalfOpen 0
      +0    call expectEvent accept
      // The peer's window is 2 << 7 = 256 bytes: 256 of the 1000 go (more than half the
      // largest window it offered, RFC 9293 3.8.6.2.1).
      +0    call write 1000
      +0    > . 1:257(256) ack 1 win 32768 <nop,nop,TS val * ecr 110>
      // Our window is scaled by 2: 131072 - 100 bytes buffered = 130972 >> 2.
      +0    < P. 1:101(100) ack 1 win 2 <nop,nop,TS val 120 ecr *>
      +.04  > . 257:257(0) ack 101 win 32743 <nop,nop,TS val * ecr 120>
      +0    call read 100
    `);
  });

  it('without the peer offering them: no TS, no window scale, windows unscaled', () => {
    runConformance(`
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1000>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      +.1   < . 1:1(0) ack 1 win 65535
      +0    call expectState ESTABLISHED
      +0    call expectEvent accept
      // Segments of the peer's MSS 1000; our window field is the byte count (not >> 2).
      +0    call write 1500
      +0    > . 1:1001(1000) ack 1 win 65535 <>
      // Nagle holds the 500-byte tail until the ACK (RFC 9293 3.7.4).
      +.1   < . 1:1(0) ack 1001 win 65535
      +0    > P. 1001:1501(500) ack 1 win 65535 <>
    `);
  });

  it('timestamps without window scale, and window scale without timestamps', () => {
    runConformance(`
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 100 ecr 0>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,TS val * ecr 100>
    `);
    runConformance(`
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1460,nop,wscale 0>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 2>
      +.1   < . 1:1(0) ack 1 win 65535
      +0    < P. 1:101(100) ack 1 win 65535
      +.04  > . 1:1(0) ack 101 win 32743 <>
    `);
  });

  it('a FIN with the handshake ACK: SYN_RECEIVED -> ESTABLISHED -> CLOSE_WAIT', () => {
    runConformance(`
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      // No ACK bit: dropped (RFC 9293 3.10.7.4, fifth).
      +.1   < F 1:1(0) win 65535
      +0    call expectState SYN_RECEIVED
      +.1   < F. 1:1(0) ack 1 win 65535
      +0    > . 1:1(0) ack 2 win 65534
      +0    call expectState CLOSE_WAIT
      +0    call expectEvent accept end
    `);
  });

  it('SYNs beyond synBacklog are dropped silently', () => {
    runConformance(
      `
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      +0    call expectHalfOpen 1
      +.1   call synFromPort 40001
      +0    call expectStat synBacklogDrops 1
      +0    call expectHalfOpen 1
      +.1   < . 1:1(0) ack 1 win 65535
      +0    call expectEvent accept
      +0    call expectHalfOpen 0
      // Room again: the same SYN from 40001 is answered now.
      +.1   call synFromPort 40001 synack
      +0    call expectHalfOpen 1
      +0    call expectStat synBacklogDrops 1
    `,
      { listen: { synBacklog: 1 }, calls: synFromPort },
    );
  });

  it('a retransmitted SYN in SYN_RECEIVED gets the SYN-ACK again', () => {
    // Linux: tcp_check_req resends the SYN-ACK for a SYN with SEG.SEQ = IRS. TS.Recent stays
    // 100: the SYN does not cover Last.ACK.sent = IRS + 1 (RFC 7323 4.3), and Linux updates
    // req->ts_recent only after this check.
    runConformance(`
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 100 ecr 0>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,TS val * ecr 100>
      +.5   < S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 600 ecr 0>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,TS val * ecr 100>
      +0    call expectState SYN_RECEIVED
      +0    call expectHalfOpen 1
      +.1   < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 700 ecr *>
      +0    call expectState ESTABLISHED
      +0    call expectEvent accept
    `);
  });

  it('SYN-ACK retransmitted at 1, 3, 7, 15, 31 s; dropped at 63 s (synAckRetries 5)', () => {
    runConformance(`
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      1     > S. 0:0(0) ack 1 win 65535 <mss 1460>
      3     > S. 0:0(0) ack 1 win 65535 <mss 1460>
      7     > S. 0:0(0) ack 1 win 65535 <mss 1460>
      15    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      31    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      62.999 call expectState SYN_RECEIVED
      63    call expectState LISTEN
      +0    call expectHalfOpen 0
      +0    call expectEvent
      // The half-open connection is gone: the late ACK meets the listener (3.10.7.2).
      +1    < . 1:1(0) ack 1 win 65535
      +0    > R 1:1(0) win 0 <>
    `);
  });

  it('RST in SYN_RECEIVED returns to LISTEN, no accept', () => {
    runConformance(`
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      +.1   < R 1:1(0) win 0
      +0    call expectState LISTEN
      +0    call expectHalfOpen 0
      +0    call expectEvent
      // No SYN-ACK retransmission at 1 s: the half-open connection went.
      +2    call expectState LISTEN
      // A new SYN opens a new connection; its ISS moved on by the RFC 6528 4 us clock.
      +0    < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 525000:525000(0) ack 1 win 65535 <mss 1460>
      +0    call expectState SYN_RECEIVED
    `);
  });

  it('an unacceptable ACK in SYN_RECEIVED gets <SEQ=SEG.ACK><CTL=RST>', () => {
    runConformance(`
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      +.1   < . 1:1(0) ack 5 win 65535
      +0    > R 5:5(0) win 0 <>
      +0    call expectState SYN_RECEIVED
      +.1   < . 1:1(0) ack 0 win 65535
      +0    > R 0:0(0) win 0 <>
      +0    call expectState SYN_RECEIVED
      +.1   < . 1:1(0) ack 1 win 65535
      +0    call expectState ESTABLISHED
      +0    call expectEvent accept
    `);
  });
});

describe('RFC 9293 conformance: LISTEN (3.10.7.2)', () => {
  it('an ACK gets <SEQ=SEG.ACK><CTL=RST>; an RST is ignored', () => {
    runConformance(`
      0     call listen
      +0    < . 1:1(0) ack 5000 win 65535
      +0    > R 5000:5000(0) win 0 <>
      +0    < R 0:0(0) win 0
      +0    < R. 0:0(0) ack 5000 win 0
      +0    call expectState LISTEN
      +0    call expectHalfOpen 0
    `);
  });

  it('a segment with neither SYN, ACK nor RST is dropped', () => {
    // RFC 9293 3.10.7.2 "Fourth, other data or control: ... Drop the segment and return";
    // Linux: tcp_rcv_state_process, TCP_LISTEN, "goto discard".
    runConformance(`
      0     call listen
      +0    < F 1:1(0) win 65535
      +0    < P 1:11(10) win 65535
      +0    call expectHalfOpen 0
      +.1   call expectState LISTEN
    `);
  });

  it('LISTEN -> CLOSED: after unlisten a SYN is refused', () => {
    runConformance(`
      0     call listen
      +0    call unlisten
      +.1   < S 0:0(0) win 65535 <mss 1460>
      +0    > R. 0:0(0) ack 1 win 0 <>
      +0    call expectState CLOSED
    `);
  });
});

/** What our SYN carries with the default options. */
const OUR_SYN = 'S 0:0(0) win 65535 <mss 1460,nop,nop,TS val * ecr 0,nop,wscale 2>';

describe('RFC 9293 conformance: active open (CLOSED -> SYN_SENT -> ESTABLISHED)', () => {
  it('with TS and window scale both ways', () => {
    runConformance(`
      0     call connect
      +0    > ${OUR_SYN}
      +0    call expectState SYN_SENT
      +.1   < S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,TS val 500 ecr *,nop,wscale 7>
      +0    > . 1:1(0) ack 1 win 32768 <nop,nop,TS val * ecr 500>
      +0    call expectState ESTABLISHED
      +0    call expectEvent connect
      +0    call write 100
      +0    > P. 1:101(100) ack 1 win 32768 <nop,nop,TS val * ecr 500>
    `);
  });

  it('the peer offers neither: our TS and window scale are off, windows unscaled', () => {
    runConformance(`
      0     call connect
      +0    > ${OUR_SYN}
      +.1   < S. 0:0(0) ack 1 win 65535 <mss 1460>
      +0    > . 1:1(0) ack 1 win 65535 <>
      +0    call expectState ESTABLISHED
      +0    call expectEvent connect
    `);
  });

  it('SYN retransmitted at 1, 3, 7, 15, 31, 63 s; ETIMEDOUT at 127 s (synRetries 6)', () => {
    runConformance(`
      0     call connect
      +0    > ${OUR_SYN}
      1     > ${OUR_SYN}
      3     > ${OUR_SYN}
      7     > ${OUR_SYN}
      15    > ${OUR_SYN}
      31    > ${OUR_SYN}
      63    > ${OUR_SYN}
      126.999 call expectState SYN_SENT
      +0    call expectEvent
      127   call expectState CLOSED
      +0    call expectEvent close(ETIMEDOUT)
      +0    call expectStat attemptFails 1
    `);
  });

  it('RST: ignored without ACK or with a bad ACK; with an acceptable ACK, ECONNREFUSED', () => {
    runConformance(`
      0     call connect
      +0    > ${OUR_SYN}
      +.1   < R 0:0(0) win 0
      +0    call expectState SYN_SENT
      +0    < R. 0:0(0) ack 5 win 0
      +0    call expectState SYN_SENT
      +0    call expectEvent
      +0    < R. 0:0(0) ack 1 win 0
      +0    call expectState CLOSED
      +0    call expectEvent close(ECONNREFUSED)
    `);
  });

  it('a bad ACK in SYN_SENT gets <SEQ=SEG.ACK><CTL=RST>, the connection stays', () => {
    runConformance(`
      0     call connect
      +0    > ${OUR_SYN}
      // SEG.ACK > SND.NXT
      +.1   < S. 0:0(0) ack 1000 win 65535 <mss 1460>
      +0    > R 1000:1000(0) win 0 <>
      +0    call expectState SYN_SENT
      // SEG.ACK =< ISS
      +.1   < . 0:0(0) ack 0 win 65535
      +0    > R 0:0(0) win 0 <>
      +0    call expectState SYN_SENT
      +0    call expectEvent
      +.1   < S. 0:0(0) ack 1 win 65535 <mss 1460>
      +0    > . 1:1(0) ack 1 win 65535 <>
      +0    call expectState ESTABLISHED
      +0    call expectEvent connect
    `);
  });

  it('simultaneous open: a bare SYN -> SYN_RECEIVED, SYN-ACK with the same ISS, ACK -> ESTABLISHED', () => {
    runConformance(`
      0     call connect
      +0    > ${OUR_SYN}
      +.1   < S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 700 ecr 0,nop,wscale 7>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,TS val * ecr 700,nop,wscale 2>
      +0    call expectState SYN_RECEIVED
      +0    call expectEvent
      +.1   < . 1:1(0) ack 1 win 257 <nop,nop,TS val 710 ecr *>
      +0    call expectState ESTABLISHED
      +0    call expectEvent connect
      +0    call write 10
      +0    > P. 1:11(10) ack 1 win 32768 <nop,nop,TS val * ecr 710>
    `);
  });

  it("simultaneous open, figure 8: the peer's SYN-ACK in SYN_RECEIVED -> ESTABLISHED", () => {
    // RFC 9293 3.5 figure 8 line 6; Linux: tcp_validate_incoming lets a SYN-ACK with
    // SEG.SEQ + 1 = RCV.NXT and SEG.ACK = SND.NXT through in SYN_RECV ("goto pass"), and
    // acknowledges the old SYN at once (tcp_data_queue: a retransmit, quick ACK). The echo
    // is left open: Linux echoes 710, RFC 7323 4.3 read strictly keeps 700.
    runConformance(`
      0     call connect
      +0    > ${OUR_SYN}
      +.1   < S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 700 ecr 0,nop,wscale 7>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,TS val * ecr 700,nop,wscale 2>
      +.1   < S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,TS val 710 ecr *,nop,wscale 7>
      +0    > . 1:1(0) ack 1 win 32768 <nop,nop,TS val * ecr *>
      +0    call expectState ESTABLISHED
      +0    call expectEvent connect
      +0    call write 10
      +0    > P. 1:11(10) ack 1 win 32768 <nop,nop,TS val * ecr *>
    `);
  });

  it('close in SYN_RECEIVED with nothing to send: FIN at once, FIN_WAIT_1', () => {
    // RFC 9293 3.10.4 CLOSE, SYN-RECEIVED: "If no SENDs have been issued and there is no
    // pending data to send, then form a FIN segment and send it, and enter FIN-WAIT-1 state".
    // Linux: tcp_shutdown/tcp_close, tcp_close_state(SYN_RECV) = FIN_WAIT1 + tcp_send_fin.
    runConformance(`
      0     call connect
      +0    > ${OUR_SYN}
      +.1   < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      +0    call expectState SYN_RECEIVED
      +.1   call end
      +0    > F. 1:1(0) ack 1 win 65535
      +0    call expectState FIN_WAIT_1
      +.1   < . 1:1(0) ack 2 win 65535
      +0    call expectState FIN_WAIT_2
    `);
  });

  it('close() in SYN_SENT deletes the TCB without a segment; abort() too', () => {
    runConformance(`
      0     call connect
      +0    > ${OUR_SYN}
      +.1   call close
      +0    call expectState CLOSED
      +0    call expectEvent close(null)
      // No SYN retransmission; the late SYN-ACK meets no connection (3.10.7.1).
      +2    < S. 0:0(0) ack 1 win 65535 <mss 1460>
      +0    > R 1:1(0) win 0 <>
    `);
    runConformance(`
      0     call connect
      +0    > ${OUR_SYN}
      +.1   call abort
      +0    call expectState CLOSED
      +0    call expectEvent close(ECONNABORTED)
      +2    call expectState CLOSED
    `);
  });
});

describe('RFC 9293 conformance: closing', () => {
  it('active close: ESTABLISHED -> FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT -> CLOSED after 2 MSL', () => {
    runConformance(`
      ${PASSIVE}
      +0    call end
      +0    > F. 1:1(0) ack 1 win 65535
      +0    call expectState FIN_WAIT_1
      +.1   < . 1:1(0) ack 2 win 65535
      +0    call expectState FIN_WAIT_2
      +0    call expectEvent
      +.1   < F. 1:1(0) ack 2 win 65535
      +0    > . 2:2(0) ack 2 win 65534
      +0    call expectState TIME_WAIT
      +59.999 call expectState TIME_WAIT
      +.001 call expectState CLOSED
    `);
  });

  it('onEnd comes before onClose(null) when the FIN completes our close', () => {
    // Both events fire when the FIN arrives in FIN_WAIT_2 (or with the ACK of ours in
    // FIN_WAIT_1); the peer's end of the stream comes first, as node:net emits 'end' then
    // 'close' (and as the CLOSING path below does).
    runConformance(`
      ${PASSIVE}
      +0    call end
      +0    > F. 1:1(0) ack 1 win 65535
      +.1   < . 1:1(0) ack 2 win 65535
      +0    call expectEvent
      +.1   < F. 1:1(0) ack 2 win 65535
      +0    > . 2:2(0) ack 2 win 65534
      +0    call expectEvent end close(null)
    `);
    runConformance(`
      ${PASSIVE}
      +0    call end
      +0    > F. 1:1(0) ack 1 win 65535
      +.1   < F. 1:1(0) ack 2 win 65535
      +0    > . 2:2(0) ack 2 win 65534
      +0    call expectEvent end close(null)
    `);
  });

  it('FIN_WAIT_1 receiving FIN and the ACK of our FIN together goes to TIME_WAIT', () => {
    runConformance(`
      ${PASSIVE}
      +0    call end
      +0    > F. 1:1(0) ack 1 win 65535
      +.1   < F. 1:1(0) ack 2 win 65535
      +0    > . 2:2(0) ack 2 win 65534
      +0    call expectState TIME_WAIT
      +59.999 call expectState TIME_WAIT
      +.001 call expectState CLOSED
    `);
  });

  it('simultaneous close: FIN_WAIT_1 -> CLOSING -> TIME_WAIT', () => {
    runConformance(`
      ${PASSIVE}
      +0    call end
      +0    > F. 1:1(0) ack 1 win 65535
      +.05  < F. 1:1(0) ack 1 win 65535
      +0    > . 2:2(0) ack 2 win 65534
      +0    call expectState CLOSING
      +0    call expectEvent end
      +.05  < . 2:2(0) ack 2 win 65535
      +0    call expectState TIME_WAIT
      +0    call expectEvent close(null)
      +59.999 call expectState TIME_WAIT
      +.001 call expectState CLOSED
    `);
  });

  it('passive close: ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSED', () => {
    runConformance(`
      ${PASSIVE}
      +.1   < F. 1:1(0) ack 1 win 65535
      +0    > . 1:1(0) ack 2 win 65534
      +0    call expectState CLOSE_WAIT
      +0    call expectEvent end
      +.1   call end
      +0    > F. 1:1(0) ack 2 win 65534
      +0    call expectState LAST_ACK
      +0    call expectEvent
      +.1   < . 2:2(0) ack 2 win 65535
      +0    call expectState CLOSED
      +0    call expectEvent close(null)
    `);
  });

  it('half-close: we still send in CLOSE_WAIT', () => {
    runConformance(`
      ${PASSIVE}
      +.1   < F. 1:1(0) ack 1 win 65535
      +0    > . 1:1(0) ack 2 win 65534
      +0    call expectEvent end
      +.1   call write 100
      +0    > P. 1:101(100) ack 2 win 65534
      +.1   < . 2:2(0) ack 101 win 65535
      +0    call expectState CLOSE_WAIT
      +0    call end
      +0    > F. 101:101(0) ack 2 win 65534
      +0    call expectState LAST_ACK
      +.1   < . 2:2(0) ack 102 win 65535
      +0    call expectState CLOSED
      +0    call expectEvent close(null)
    `);
  });

  it("half-close: the peer's data after our FIN is still received in FIN_WAIT_2", () => {
    runConformance(`
      ${PASSIVE}
      +0    call end
      +0    > F. 1:1(0) ack 1 win 65535
      +.1   < . 1:1(0) ack 2 win 65535
      +0    call expectState FIN_WAIT_2
      +.1   < P. 1:101(100) ack 2 win 65535
      +.04  > . 2:2(0) ack 101 win 65435
      +0    call read 100
      +0    call expectState FIN_WAIT_2
      +.1   < F. 101:101(0) ack 2 win 65535
      +0    > . 2:2(0) ack 102 win 65434
      +0    call expectState TIME_WAIT
    `);
  });

  it('a retransmitted FIN in TIME_WAIT is ACKed and restarts the 2 MSL timer', () => {
    runConformance(`
      ${PASSIVE}
      +0    call end
      +0    > F. 1:1(0) ack 1 win 65535
      +.1   < . 1:1(0) ack 2 win 65535
      +.1   < F. 1:1(0) ack 2 win 65535
      +0    > . 2:2(0) ack 2 win 65534
      +0    call expectState TIME_WAIT
      +30   < F. 1:1(0) ack 2 win 65535
      +0    > . 2:2(0) ack 2 win 65534
      // 60 s from the retransmitted FIN, not from the first.
      +59.999 call expectState TIME_WAIT
      +.001 call expectState CLOSED
    `);
  });

  it('an unacknowledged FIN is retransmitted with backoff (RTO 300 ms, doubling)', () => {
    runConformance(`
      ${PASSIVE}
      +0    call end
      +0    > F. 1:1(0) ack 1 win 65535
      +.3   > F. 1:1(0) ack 1 win 65535
      +.6   > F. 1:1(0) ack 1 win 65535
      +1.2  > F. 1:1(0) ack 1 win 65535
      +.1   < . 1:1(0) ack 2 win 65535
      +0    call expectState FIN_WAIT_2
      +0    call expectStat rtoTimeouts 3
      // Acknowledged: nothing more is sent.
      +10   call expectState FIN_WAIT_2
    `);
  });
});

describe('RFC 9293 conformance: abort and resets', () => {
  it('abort() in ESTABLISHED sends RST and closes', () => {
    runConformance(`
      ${PASSIVE}
      +.1   call abort
      +0    > R. 1:1(0) ack 1 win 0 <>
      +0    call expectState CLOSED
      +0    call expectEvent close(ECONNABORTED)
      // The connection is gone: the peer's next ACK meets the listener (3.10.7.2).
      +.1   < . 1:1(0) ack 1 win 65535
      +0    > R 1:1(0) win 0 <>
    `);
  });

  it('one RST sent counts once in rstsSent: abort()', () => {
    runConformance(`
      ${PASSIVE}
      +.1   call abort
      +0    > R. 1:1(0) ack 1 win 0 <>
      +0    call expectStat rstsSent 1
    `);
  });

  it('one RST sent counts once in rstsSent: a bad ACK in SYN_RECEIVED', () => {
    runConformance(`
      0     call listen
      +0    < S 0:0(0) win 65535 <mss 1460>
      +0    > S. 0:0(0) ack 1 win 65535 <mss 1460>
      +.1   < . 1:1(0) ack 5 win 65535
      +0    > R 5:5(0) win 0 <>
      +0    call expectStat rstsSent 1
    `);
  });

  it('close() with unread data sends RST instead of FIN (Linux)', () => {
    runConformance(`
      ${PASSIVE}
      +.1   < P. 1:101(100) ack 1 win 65535
      +0    call close
      +0    > R. 1:1(0) ack 101 win 0 <>
      +0    call expectState CLOSED
      +0    call expectEvent close(ECONNABORTED)
    `);
  });

  it('RST with SEG.SEQ = RCV.NXT in ESTABLISHED: CLOSED, ECONNRESET', () => {
    runConformance(`
      ${PASSIVE}
      +.1   < R 1:1(0) win 0
      +0    call expectState CLOSED
      +0    call expectEvent close(ECONNRESET)
      +0    call expectStat estabResets 1
    `);
  });

  it('RFC 5961 3.2: an in-window RST that is not exact gets a challenge ACK', () => {
    runConformance(`
      ${PASSIVE}
      +.1   < R 2:2(0) win 0
      +0    > . 1:1(0) ack 1 win 65535
      // The last sequence number in the window (RCV.NXT + 65535 - 1), past the connection's
      // 500 ms between challenge ACKs.
      +.5   < R. 65535:65535(0) ack 1 win 0
      +0    > . 1:1(0) ack 1 win 65535
      +0    call expectState ESTABLISHED
      +0    call expectEvent
    `);
  });

  it('an RST outside the window is ignored', () => {
    runConformance(`
      ${PASSIVE}
      +.1   < R 65536:65536(0) win 0
      +.1   < R 0:0(0) win 0
      +0    call expectState ESTABLISHED
      +0    call expectStat challengeAcks 0
      +0    call expectEvent
    `);
  });

  it('RST in the other synchronized states (3.10.7.4, second)', () => {
    // FIN_WAIT_2 and CLOSE_WAIT: "connection reset"; CLOSING, LAST_ACK, TIME_WAIT: CLOSED.
    runConformance(`
      ${PASSIVE}
      +0    call end
      +0    > F. 1:1(0) ack 1 win 65535
      +.1   < . 1:1(0) ack 2 win 65535
      +0    call expectState FIN_WAIT_2
      +.1   < R 1:1(0) win 0
      +0    call expectState CLOSED
      +0    call expectEvent close(ECONNRESET)
    `);
    runConformance(`
      ${PASSIVE}
      +.1   < F. 1:1(0) ack 1 win 65535
      +0    > . 1:1(0) ack 2 win 65534
      +0    call expectEvent end
      +.1   < R 2:2(0) win 0
      +0    call expectState CLOSED
      +0    call expectEvent close(ECONNRESET)
    `);
    runConformance(`
      ${PASSIVE}
      +.1   < F. 1:1(0) ack 1 win 65535
      +0    > . 1:1(0) ack 2 win 65534
      +0    call end
      +0    > F. 1:1(0) ack 2 win 65534
      +0    call expectState LAST_ACK
      +0    call expectEvent end
      +.1   < R 2:2(0) win 0
      +0    call expectState CLOSED
      +0    call expectEvent close(null)
    `);
    // CLOSING, then TIME_WAIT (reached through CLOSING).
    runConformance(`
      ${PASSIVE}
      +0    call end
      +0    > F. 1:1(0) ack 1 win 65535
      +.05  < F. 1:1(0) ack 1 win 65535
      +0    > . 2:2(0) ack 2 win 65534
      +0    call expectState CLOSING
      +0    call expectEvent end
      +.1   < R 2:2(0) win 0
      +0    call expectState CLOSED
      +0    call expectEvent close(null)
    `);
    runConformance(`
      ${PASSIVE}
      +0    call end
      +0    > F. 1:1(0) ack 1 win 65535
      +.05  < F. 1:1(0) ack 1 win 65535
      +0    > . 2:2(0) ack 2 win 65534
      +.05  < . 2:2(0) ack 2 win 65535
      +0    call expectState TIME_WAIT
      +0    call expectEvent end close(null)
      +.1   < R 2:2(0) win 0
      +0    call expectState CLOSED
      +0    call expectEvent
    `);
  });

  it('RFC 5961 4.2: a SYN in ESTABLISHED gets a challenge ACK', () => {
    runConformance(`
      ${PASSIVE}
      // In the window.
      +.1   < S 1000:1000(0) win 65535 <mss 1460>
      +0    > . 1:1(0) ack 1 win 65535
      +0    call expectState ESTABLISHED
      // The peer's first SYN again (below the window), 500 ms on.
      +.5   < S 0:0(0) win 65535 <mss 1460>
      +0    > . 1:1(0) ack 1 win 65535
      +0    call expectState ESTABLISHED
      +0    call expectEvent
    `);
  });

  it('RFC 5961 7: a connection sends at most one challenge ACK per 500 ms (CVE-2016-5696)', () => {
    runConformance(`
      ${PASSIVE}
      +.1   < S 1000:1000(0) win 65535
      +0    > . 1:1(0) ack 1 win 65535
      // The next ones within 500 ms: counted, not answered.
      +0    < R 1000:1000(0) win 0
      +.3   < S 2000:2000(0) win 65535
      +0    call expectStat challengeAcks 1
      +0    call expectStat challengeAcksLimited 2
      // 500 ms after the last challenge ACK: answered again.
      +.2   < R 1000:1000(0) win 0
      +0    > . 1:1(0) ack 1 win 65535
      +0    call expectStat challengeAcks 2
      +0    call expectState ESTABLISHED
    `);
  });

  it('RFC 5961 4.2 and 7: a SYN below the window is challenged within the same limit', () => {
    // "If the SYN bit is set, irrespective of the sequence number": the ACK for a SYN
    // outside the window is a challenge ACK too, and counts against the limit (Linux:
    // tcp_validate_incoming, an unacceptable SYN goes to syn_challenge).
    runConformance(
      `
      ${PASSIVE}
      +.1   < R 1000:1000(0) win 0
      +0    > . 1:1(0) ack 1 win 65535
      // Within 500 ms of it: no ACK for the old SYN either.
      +.1   < S 0:0(0) win 65535 <mss 1460>
      +0    call expectStat challengeAcks 1
      +0    call expectStat challengeAcksLimited 1
      +0    call expectState ESTABLISHED
    `,
      { stack: { challengeAckLimit: 1 } },
    );
  });

  it('data with an ACK above SND.NXT is dropped and ACKed', () => {
    runConformance(`
      ${PASSIVE}
      +.1   < P. 1:101(100) ack 1000 win 65535
      +0    > . 1:1(0) ack 1 win 65535
      +0    call expectState ESTABLISHED
      // The same data with a good ACK is taken (so the first was not).
      +.1   < P. 1:101(100) ack 1 win 65535
      +.04  > . 1:1(0) ack 101 win 65435
      +0    call read 100
    `);
  });

  it('RFC 5961 5.2: an ACK below SND.UNA - MAX.SND.WND gets a challenge ACK and drops the data', () => {
    // MAX.SND.WND = 65535, SND.UNA = 1: the lowest acceptable ACK is 1 - 65535 (mod 2^32).
    runConformance(`
      ${PASSIVE}
      +.1   < P. 1:101(100) ack 4294901761 win 65535
      +0    > . 1:1(0) ack 1 win 65535
      +0    call expectStat challengeAcks 1
      +.1   < P. 1:101(100) ack 4294901762 win 65535
      +.04  > . 1:1(0) ack 101 win 65435
      +0    call read 100
      +0    call expectStat challengeAcks 1
    `);
  });

  it('out-of-window segments get a duplicate ACK; for pure ACKs one per 500 ms', () => {
    runConformance(`
      ${PASSIVE}
      // Data just past the window (RCV.NXT + RCV.WND), and the same again: always answered.
      +.1   < P. 65536:65636(100) ack 1 win 65535
      +0    > . 1:1(0) ack 1 win 65535
      +0    < P. 65536:65636(100) ack 1 win 65535
      +0    > . 1:1(0) ack 1 win 65535
      // Pure ACKs out of the window: one answer per 500 ms (Linux's tcp_invalid_ratelimit).
      +.1   < . 65536:65536(0) ack 1 win 65535
      +0    > . 1:1(0) ack 1 win 65535
      +.1   < . 65536:65536(0) ack 1 win 65535
      +.399 < . 0:0(0) ack 1 win 65535
      +.001 < . 65536:65536(0) ack 1 win 65535
      +0    > . 1:1(0) ack 1 win 65535
      +0    call expectState ESTABLISHED
      +0    call expectStat outOfWindow 6
    `);
  });
});

describe('RFC 9293 conformance: no connection, no listener (3.10.7.1)', () => {
  it('RST rules for segments to a closed port', () => {
    // Our ISN is unknown here, so `>` seq and `<` ack are absolute.
    runConformance(`
      // No ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; SYN and FIN count in SEG.LEN.
      0     < S 0:0(0) win 65535 <mss 1460>
      +0    > R. 0:0(0) ack 1 win 0 <>
      +.1   < S 0:10(10) win 65535
      +0    > R. 0:0(0) ack 11 win 0 <>
      +.1   < P 1:11(10) win 65535
      +0    > R. 0:0(0) ack 11 win 0 <>
      +.1   < F 11:11(0) win 65535
      +0    > R. 0:0(0) ack 12 win 0 <>
      // ACK: <SEQ=SEG.ACK><CTL=RST>.
      +.1   < . 100:100(0) ack 5000 win 65535
      +0    > R 5000:5000(0) win 0 <>
      +.1   < P. 1:11(10) ack 7000 win 65535
      +0    > R 7000:7000(0) win 0 <>
      +.1   < S. 0:0(0) ack 9000 win 65535
      +0    > R 9000:9000(0) win 0 <>
      // An RST is never answered.
      +.1   < R 0:0(0) win 0
      +.1   < R. 0:0(0) ack 5 win 0
      +.1   call expectStat noPortRsts 7
      +0    call expectStat rstsSent 7
    `);
  });
});
