/**
 * The congestion controller's contract, as Linux's tcp_congestion_ops splits the work: the
 * connection detects loss and runs recovery (fast retransmit and NewReno's partial ACKs, RFC
 * 6582; SACK-based recovery later), and tells the controller what happened; the controller owns
 * cwnd and ssthresh and decides how they grow and how far they fall. Byte-counted throughout.
 *
 * A controller is chosen per connection by name (TcpOptions.congestionControl) from the registry
 * in ./registry.ts, where a user can add their own.
 */
export interface CongestionController {
  /** The name it is registered under ('newreno'). */
  readonly name: string;
  /** Congestion window (bytes): at most this much in flight. Recovery may set it too. */
  cwnd: number;
  /** Slow-start threshold (bytes): below it cwnd grows by slow start. */
  ssthresh: number;
  /**
   * The initial window, once the MSS is known (RFC 5681 3.1, RFC 6928): `segments` of `mss`
   * bytes (1 after a retransmitted SYN).
   */
  init(mss: number, segments: number): void;
  /**
   * New data acknowledged outside loss recovery (Linux's cong_avoid).
   * @param acked bytes this ACK acknowledged.
   * @param flightBefore bytes in flight before it (cwnd-limited or not).
   * @param mss bytes of a full segment's payload.
   * @param afterRto true while ACKs still cover data sent before a timeout (RFC 3465 2.3).
   * @param rttMs the RTT sample this ACK gave, or -1.
   */
  onAck(
    acked: number,
    flightBefore: number,
    mss: number,
    afterRto: boolean,
    rttMs: number,
    now: number,
  ): void;
  /**
   * Loss detected by duplicate ACKs (fast retransmit, entering recovery): set ssthresh (Linux's
   * ssthresh op). The recovery then sets cwnd from it.
   */
  onLoss(flight: number, mss: number, now: number): void;
  /**
   * The retransmission timer fired: cwnd to one segment (RFC 5681 3.1 (4)); `first` is the first
   * timeout of a series (only it lowers ssthresh: later ones would halve the one-segment flight).
   */
  onRto(flight: number, mss: number, first: boolean, now: number): void;
}

/** Makes a controller for one connection. */
export type CongestionControllerFactory = () => CongestionController;
