import {
  FLG_SYN,
  get16,
  get32,
  OPT_MSS,
  OPT_NOP,
  OPT_SACK_PERMITTED,
  OPT_TIMESTAMP,
  OPT_WINDOW_SCALE,
  OPTION_MALFORMED,
  tcpFirstOption,
  tcpNextOption,
  tcpOptionWellFormed,
  WINDOW_SCALE_MAX,
} from '@bypass/net';

/**
 * An incoming TCP segment's fields, parsed once by the stack into one reused object per stack
 * (no allocation per packet) and handed to the connection. The payload stays where it arrived:
 * `data[payloadOff .. payloadOff + len)`.
 */
export class Segment {
  data: Uint8Array = new Uint8Array(0);
  srcIp = 0;
  dstIp = 0;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** The raw 16-bit window field (unscaled). */
  window = 0;
  /** The urgent pointer (meaningful with URG): the urgent data ends before SEG.SEQ + this. */
  urgent = 0;
  payloadOff = 0;
  /** Payload bytes. */
  len = 0;
  /** -1 when absent. */
  mss = -1;
  /** -1 when absent; clamped to 14 (RFC 7323 2.3). */
  wscale = -1;
  sackPermitted = false;
  hasTimestamp = false;
  tsval = 0;
  tsecr = 0;
  /** The wire segment size when this is an aggregate (LRO/GRO), else 0; set by the stack. */
  segSize = 0;
  /** The RSS hash the NIC computed, or -1. */
  rssHash = -1;

  /**
   * Reads the header at `off` (header length `hdrLen`, already checked) and its options.
   * Returns false when an option is malformed: RFC 9293 3.1 lets a receiver drop such a segment
   * (a length that runs past the header), and Linux does.
   */
  parse(b: Uint8Array, off: number, hdrLen: number, segLen: number): boolean {
    this.data = b;
    this.srcPort = get16(b, off);
    this.dstPort = get16(b, off + 2);
    this.seq = get32(b, off + 4);
    this.ack = get32(b, off + 8);
    this.flags = b[off + 13];
    this.window = get16(b, off + 14);
    this.urgent = get16(b, off + 18);
    this.payloadOff = off + hdrLen;
    this.len = segLen - hdrLen;
    this.mss = -1;
    this.wscale = -1;
    this.sackPermitted = false;
    this.hasTimestamp = false;
    if (hdrLen === 20) return true;
    const end = off + hdrLen;
    let o = tcpFirstOption(b, off, end);
    for (; o >= 0; o = tcpNextOption(b, o, end)) {
      const kind = b[o];
      if (kind === OPT_NOP) continue;
      if (!tcpOptionWellFormed(b, o)) return false;
      if (kind === OPT_TIMESTAMP) {
        this.hasTimestamp = true;
        this.tsval = get32(b, o + 2);
        this.tsecr = get32(b, o + 6);
      } else if ((this.flags & FLG_SYN) !== 0) {
        // RFC 9293 3.7.1, RFC 7323 2.2, RFC 2018 2: these count only on a SYN.
        if (kind === OPT_MSS) this.mss = get16(b, o + 2);
        else if (kind === OPT_WINDOW_SCALE) {
          const s = b[o + 2];
          this.wscale = Math.min(s, WINDOW_SCALE_MAX);
        } else if (kind === OPT_SACK_PERMITTED) this.sackPermitted = true;
      }
    }
    return o !== OPTION_MALFORMED;
  }
}
