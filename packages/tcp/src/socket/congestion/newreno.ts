import type { CongestionController } from './controller.js';

/** cwnd's ceiling: large enough for any window scale, small enough for 32-bit arithmetic. */
const CWND_MAX = 0x3fffffff;

/**
 * RFC 5681's congestion control (with RFC 6582's recovery run by the connection): slow start up
 * to ssthresh, then one MSS per window of acknowledged bytes (appropriate byte counting, RFC
 * 3465), ssthresh to half the flight on loss.
 */
export class NewReno implements CongestionController {
  readonly name = 'newreno';
  cwnd = 0;
  ssthresh = 0x7fffffff;
  /** Bytes acked in congestion avoidance not yet worth a cwnd step. */
  bytesAcked = 0;

  init(mss: number, segments: number): void {
    this.cwnd = segments * mss;
  }

  onAck(
    acked: number,
    flightBefore: number,
    mss: number,
    afterRto: boolean,
    _rttMs: number,
    _now: number,
  ): void {
    // Grow only while cwnd was the limit (RFC 7661 in spirit: an application- or
    // receiver-limited flow does not earn a larger window).
    if (flightBefore + mss < this.cwnd) return;
    if (this.cwnd < this.ssthresh) {
      // Slow start (RFC 5681 3.1), up to ssthresh. RFC 3465 counts at most L = 2 segments per
      // ACK; a stretch ACK (one per receive burst, as this stack and Linux's GRO send them) is
      // credited with every byte it acknowledges, as Linux's tcp_slow_start does: with L = 2,
      // one ACK per 32-segment burst would grow cwnd by 2 segments per round trip, not double it.
      // While ACKs still cover data sent before an RTO, L = 2 stays: RFC 3465 2.3, a large ACK
      // then says more about the loss than about the path.
      const grow = afterRto ? Math.min(acked, 2 * mss) : acked;
      this.cwnd = Math.min(this.cwnd + grow, this.ssthresh);
    } else {
      // Congestion avoidance: one MSS per cwnd acked.
      this.bytesAcked += acked;
      if (this.bytesAcked >= this.cwnd) {
        this.bytesAcked -= this.cwnd;
        this.cwnd += mss;
      }
    }
    if (this.cwnd > CWND_MAX) this.cwnd = CWND_MAX;
  }

  onLoss(flight: number, mss: number, _now: number): void {
    // RFC 5681 (4): ssthresh = max(FlightSize / 2, 2 * SMSS).
    this.ssthresh = Math.max(flight >>> 1, 2 * mss);
  }

  onRto(flight: number, mss: number, first: boolean, _now: number): void {
    if (first) this.ssthresh = Math.max(flight >>> 1, 2 * mss);
    this.cwnd = mss;
    this.bytesAcked = 0;
  }
}
