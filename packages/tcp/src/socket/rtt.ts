/**
 * RFC 6298's retransmission timer: SRTT and RTTVAR from round-trip samples, and the RTO they give
 * (clamped to [minMs, maxMs]; clock granularity G = 1 ms, the stack's timestamp clock), with
 * exponential backoff after a timeout (5.5). Which segments may be timed (Karn's rule, RFC 7323's
 * timestamps) is the connection's business; this only averages what it is given.
 */
export class RttEstimator {
  /** Smoothed RTT (ms); 0 before the first sample. */
  srtt = 0;
  /** RTT variation (ms). */
  rttvar = 0;
  /** The retransmission timeout (ms). */
  rto: number;
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
    if (this.srtt === 0) {
      // 2.2: the first measurement.
      this.srtt = r > 0 ? r : 0.001;
      this.rttvar = r / 2;
    } else {
      // 2.3: alpha 1/8, beta 1/4.
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    const rto = this.srtt + Math.max(1, 4 * this.rttvar);
    this.rto = Math.min(Math.max(rto, this.#minMs), this.#maxMs);
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
    return this.srtt > 0;
  }
}
