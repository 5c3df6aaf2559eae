/**
 * RFC 6298's retransmission timer: SRTT and RTTVAR from round-trip samples, and the RTO they give
 * (SRTT + max(G, 4 RTTVAR, minMs), at most maxMs; clock granularity G = 1 ms, the stack's
 * timestamp clock), with
 * exponential backoff after a timeout (5.5). Which segments may be timed (Karn's rule, RFC 7323's
 * timestamps) is the connection's business; this only averages what it is given.
 */
export class RttEstimator {
  /** Smoothed RTT (ms); 0 before the first sample (and after samples of 0 ms: see `measured`). */
  srtt = 0;
  /** RTT variation (ms). */
  rttvar = 0;
  /** The retransmission timeout (ms). */
  rto: number;
  #measured = false;
  readonly #minMs: number;
  readonly #maxMs: number;

  constructor(initialMs: number, minMs: number, maxMs: number) {
    this.rto = initialMs;
    this.#minMs = minMs;
    this.#maxMs = maxMs;
  }

  /** A round-trip measurement in ms (negative counts as 0). */
  sample(rtt: number): void {
    const r = Math.max(rtt, 0);
    if (!this.#measured) {
      // 2.2: the first measurement.
      this.#measured = true;
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      // 2.3: alpha 1/8, beta 1/4.
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    // The floor applies to the variation term, as Linux's tcp_rtt_estimator keeps mdev >= rto_min:
    // RTO = SRTT + max(G, 4 RTTVAR, min), so a path's RTO never falls within `min` of its RTT
    // (with max(SRTT + 4 RTTVAR, min), a steady 150 ms path got an RTO of 200 ms, and any extra
    // 50 ms, a delayed ACK or a queue, fired a spurious retransmission).
    const rto = this.srtt + Math.max(1, 4 * this.rttvar, this.#minMs);
    this.rto = Math.min(rto, this.#maxMs);
  }

  /** 5.5: the timer expired; the next one waits twice as long (up to the maximum). */
  backoff(): void {
    this.rto = Math.min(this.rto * 2, this.#maxMs);
  }

  /** 5.7: a retransmitted SYN leaves the RTO at no less than `ms` (3 s) once data flows. */
  atLeast(ms: number): void {
    if (this.rto < ms) this.rto = ms;
  }

  /** Whether any sample has been taken (the RTO is still the initial one when not). */
  get measured(): boolean {
    return this.#measured;
  }
}
