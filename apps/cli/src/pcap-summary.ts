/**
 * `bypass pcap-summary FILE [--json]`: what is in an Ethernet capture, decoded with the stack's
 * own wire code (@bypass/tcp) and read with the pmd's pcap reader (@bypass/pmd).
 *
 * summarizePcap(path) is pure apart from reading the file: it returns a Summary, a plain
 * JSON-serialisable object, which formatSummary() turns into text and `--json` prints as is.
 *
 * The Summary (the `--json` shape):
 *
 *   {
 *     file: string,                       // the path given
 *     linktype: string,                   // e.g. "1 (ETHERNET)"
 *     frames: number,                     // records in the file
 *     capturedBytes: number,              // sum of the records' captured lengths
 *     truncatedFrames: number,            // records with capLen < origLen (snaplen)
 *     firstTsNs: number | null, lastTsNs: number | null,  // timestamps (ns since 1970)
 *     counts: {
 *       ethernet,                         // frames with a whole Ethernet header
 *       arp, ipv4, ipv6, other,           // by EtherType (other: none of the three)
 *       ipv4Fragments,                    // IPv4 frames that are fragments
 *       icmp, udp, tcp, ipv4Other,        // IPv4 datagrams (after reassembly) by protocol
 *       malformed,                        // frames or datagrams the wire checks refused
 *     },                                  // (all numbers)
 *     checksums: {
 *       ipv4Header: { good, bad },        // one per IPv4 frame (each fragment has a header)
 *       icmp: { good, bad }, tcp: { good, bad },
 *       udp: { good, bad, none },         // none: checksum field 0 (RFC 768)
 *     },
 *     reassembly: {
 *       fragments: number,                // fragments fed to Ipv4Reassembler
 *       datagrams: [{ src, dst, protocol, ident, fragments, size }],  // size: header + payload
 *       incomplete: number,               // reassemblies still missing fragments at the end
 *       dropped: number,                  // reassemblies dropped (overlap, invalid, too big...)
 *     },
 *     tcpStreams: [{                      // one per direction, in order of first appearance
 *       src: "a.b.c.d:port", dst: "a.b.c.d:port",
 *       segments: number,                 // segments seen in this direction (with bad checksums
 *                                         // counted but their payload not used)
 *       syn, fin, rst: boolean,
 *       isn: number | null,               // the SYN's sequence number
 *       bytes: number,                    // payload bytes reassembled (gaps not included)
 *       sha256: string,                   // hex, of those bytes in sequence order
 *       duplicateBytes: number,           // payload bytes received more than once
 *       gaps: [{ offset, length }],       // missing ranges, offsets from ISN+1 (or from the
 *                                         // lowest sequence number seen when there was no SYN)
 *       http: null | {                    // when the bytes start with "HTTP/1." (a response)
 *         kind: "response", statusLine,   // or with "METHOD SP" (a request):
 *         headerLength: number | null,    //   kind: "request", requestLine
 *         bodyLength: number | null,      // body: after the first \r\n\r\n (null: none seen)
 *         bodySha256: string | null,
 *       },
 *     }],
 *   }
 */
import { createHash } from 'node:crypto';
import {
  arpParse,
  ETH_HEADER_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ethHeaderLen,
  ethType,
  FLG_FIN,
  FLG_RST,
  FLG_SYN,
  ICMP_HEADER_LEN,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  icmpVerifyChecksum,
  ipv4Check,
  ipv4Dst,
  ipv4HeaderLen,
  ipv4Ident,
  ipv4IsFragment,
  ipv4Protocol,
  ipv4Src,
  ipv4ToString,
  ipv4TotalLength,
  ipv4VerifyChecksum,
  seqAdd,
  seqSub,
  tcpCheckHeader,
  tcpDstPort,
  tcpFlags,
  tcpSeqNumber,
  tcpSrcPort,
  udpCheck,
  udpChecksum,
  udpVerifyChecksum,
  verifyTcpIpv4,
} from '@bypass/net';
import { LINKTYPE_ETHERNET, linktypeName, PcapFormatError, PcapReader } from '@bypass/pmd';
import { Ipv4Reassembler } from '@bypass/tcp';

export interface Verdicts {
  good: number;
  bad: number;
}

export interface HttpInfo {
  kind: 'response' | 'request';
  /** The first line of a response, without CRLF. */
  statusLine?: string;
  /** The first line of a request, without CRLF. */
  requestLine?: string;
  /** Bytes up to and including the first \r\n\r\n; null when there is none. */
  headerLength: number | null;
  bodyLength: number | null;
  bodySha256: string | null;
}

export interface TcpStreamSummary {
  src: string;
  dst: string;
  segments: number;
  syn: boolean;
  fin: boolean;
  rst: boolean;
  isn: number | null;
  bytes: number;
  sha256: string;
  duplicateBytes: number;
  gaps: { offset: number; length: number }[];
  http: HttpInfo | null;
}

export interface ReassembledDatagram {
  src: string;
  dst: string;
  protocol: number;
  ident: number;
  fragments: number;
  size: number;
}

export interface Summary {
  file: string;
  linktype: string;
  frames: number;
  capturedBytes: number;
  truncatedFrames: number;
  firstTsNs: number | null;
  lastTsNs: number | null;
  counts: {
    ethernet: number;
    arp: number;
    ipv4: number;
    ipv6: number;
    other: number;
    ipv4Fragments: number;
    icmp: number;
    udp: number;
    tcp: number;
    ipv4Other: number;
    malformed: number;
  };
  checksums: {
    ipv4Header: Verdicts;
    icmp: Verdicts;
    udp: Verdicts & { none: number };
    tcp: Verdicts;
  };
  reassembly: {
    fragments: number;
    datagrams: ReassembledDatagram[];
    incomplete: number;
    dropped: number;
  };
  tcpStreams: TcpStreamSummary[];
}

/**
 * The file could not be summarised: it is missing, unreadable or not a pcap file this reader
 * understands. The message is one line and names the file.
 */
export class PcapSummaryInputError extends Error {
  override readonly name = 'PcapSummaryInputError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

interface Segment {
  /** Sequence number of the first payload byte. */
  seq: number;
  payload: Uint8Array;
}

interface StreamState {
  src: string;
  dst: string;
  segments: number;
  syn: boolean;
  fin: boolean;
  rst: boolean;
  isn: number | null;
  data: Segment[];
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function toInputError(path: string, e: unknown): PcapSummaryInputError | undefined {
  if (e instanceof PcapFormatError) {
    return new PcapSummaryInputError(path, `${path}: not a usable pcap file: ${e.reason}`);
  }
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string') {
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : code;
    return new PcapSummaryInputError(path, `${path}: cannot read: ${why}`);
  }
  return undefined;
}

/** Reads the capture at `path` and decodes every frame. Throws PcapSummaryInputError for bad input. */
export function summarizePcap(path: string): Summary {
  let reader: PcapReader;
  try {
    reader = PcapReader.open(path, { linktype: LINKTYPE_ETHERNET });
  } catch (e) {
    throw toInputError(path, e) ?? e;
  }
  try {
    return decodeAll(path, reader);
  } catch (e) {
    throw toInputError(path, e) ?? e;
  } finally {
    reader.close();
  }
}

function decodeAll(path: string, reader: PcapReader): Summary {
  const s: Summary = {
    file: path,
    linktype: linktypeName(reader.header.linktype),
    frames: 0,
    capturedBytes: 0,
    truncatedFrames: 0,
    firstTsNs: null,
    lastTsNs: null,
    counts: {
      ethernet: 0,
      arp: 0,
      ipv4: 0,
      ipv6: 0,
      other: 0,
      ipv4Fragments: 0,
      icmp: 0,
      udp: 0,
      tcp: 0,
      ipv4Other: 0,
      malformed: 0,
    },
    checksums: {
      ipv4Header: { good: 0, bad: 0 },
      icmp: { good: 0, bad: 0 },
      udp: { good: 0, bad: 0, none: 0 },
      tcp: { good: 0, bad: 0 },
    },
    reassembly: { fragments: 0, datagrams: [], incomplete: 0, dropped: 0 },
    tcpStreams: [],
  };
  const c = s.counts;
  // A capture is a record of the past: no timeouts, and room for everything in flight.
  const reasm = new Ipv4Reassembler({
    timeoutMs: Number.MAX_SAFE_INTEGER,
    maxDatagrams: 1 << 16,
    maxBytes: Number.MAX_SAFE_INTEGER,
  });
  const fragCounts = new Map<string, number>();
  const streams = new Map<string, StreamState>();

  while (reader.next()) {
    s.frames++;
    const b = reader.buffer;
    const off = reader.offset;
    const len = reader.capLen;
    s.capturedBytes += len;
    if (len < reader.origLen) s.truncatedFrames++;
    if (s.firstTsNs === null) s.firstTsNs = reader.tsNs;
    s.lastTsNs = reader.tsNs;

    if (len < ETH_HEADER_LEN || len < ethHeaderLen(b, off)) {
      c.malformed++;
      continue;
    }
    c.ethernet++;
    const type = ethType(b, off);
    const l3 = off + ethHeaderLen(b, off);
    const l3len = len - (l3 - off);
    if (type === ETHERTYPE_ARP) {
      c.arp++;
      if (typeof arpParse(b, l3, l3len) === 'number') c.malformed++;
      continue;
    }
    if (type === ETHERTYPE_IPV6) {
      c.ipv6++;
      continue;
    }
    if (type !== ETHERTYPE_IPV4) {
      c.other++;
      continue;
    }
    c.ipv4++;
    // Structure first; the header checksum is a verdict, not a reason to stop decoding.
    if (ipv4Check(b, l3, l3len, false) !== 0) {
      c.malformed++;
      continue;
    }
    const ipOk = ipv4VerifyChecksum(b, l3);
    if (ipOk) s.checksums.ipv4Header.good++;
    else s.checksums.ipv4Header.bad++;

    let dgram: Uint8Array;
    if (ipv4IsFragment(b, l3)) {
      c.ipv4Fragments++;
      s.reassembly.fragments++;
      const key = `${ipv4Src(b, l3)}>${ipv4Dst(b, l3)}/${ipv4Protocol(b, l3)}#${ipv4Ident(b, l3)}`;
      fragCounts.set(key, (fragCounts.get(key) ?? 0) + 1);
      // The reassembler wants a header that ipv4Check accepted; its checksum is re-filled.
      const whole = reasm.add(b, l3, reader.tsNs / 1e6);
      if (whole === null) continue;
      const fragments = fragCounts.get(key) ?? 1;
      fragCounts.delete(key);
      s.reassembly.datagrams.push({
        src: ipv4ToString(ipv4Src(whole, 0)),
        dst: ipv4ToString(ipv4Dst(whole, 0)),
        protocol: ipv4Protocol(whole, 0),
        ident: ipv4Ident(whole, 0),
        fragments,
        size: whole.length,
      });
      dgram = whole;
    } else {
      dgram = b.subarray(l3, l3 + ipv4TotalLength(b, l3));
    }
    decodeL4(s, dgram, streams);
  }

  s.reassembly.incomplete = reasm.pending;
  const st = reasm.stats;
  s.reassembly.dropped =
    st.droppedOverlap +
    st.droppedInvalid +
    st.droppedTooBig +
    st.droppedMemory +
    st.droppedTableFull +
    st.droppedTimeout;
  for (const stream of streams.values()) s.tcpStreams.push(finishStream(stream));
  return s;
}

/** Decodes the transport layer of one whole IPv4 datagram (header at dgram[0..]). */
function decodeL4(s: Summary, dgram: Uint8Array, streams: Map<string, StreamState>): void {
  const c = s.counts;
  const hl = ipv4HeaderLen(dgram, 0);
  const l4len = dgram.length - hl;
  switch (ipv4Protocol(dgram, 0)) {
    case IP_PROTO_ICMP:
      c.icmp++;
      if (l4len < ICMP_HEADER_LEN) {
        c.malformed++;
        return;
      }
      if (icmpVerifyChecksum(dgram, hl, l4len)) s.checksums.icmp.good++;
      else s.checksums.icmp.bad++;
      return;
    case IP_PROTO_UDP:
      c.udp++;
      if (udpCheck(dgram, hl, l4len) !== 0) {
        c.malformed++;
        return;
      }
      if (udpChecksum(dgram, hl) === 0) s.checksums.udp.none++;
      else if (udpVerifyChecksum(dgram, 0, hl)) s.checksums.udp.good++;
      else s.checksums.udp.bad++;
      return;
    case IP_PROTO_TCP: {
      c.tcp++;
      const thl = tcpCheckHeader(dgram, hl, l4len);
      if (thl < 0) {
        c.malformed++;
        return;
      }
      const ok = verifyTcpIpv4(dgram, 0, hl, l4len);
      if (ok) s.checksums.tcp.good++;
      else s.checksums.tcp.bad++;
      const sport = tcpSrcPort(dgram, hl);
      const dport = tcpDstPort(dgram, hl);
      const src = `${ipv4ToString(ipv4Src(dgram, 0))}:${sport}`;
      const dst = `${ipv4ToString(ipv4Dst(dgram, 0))}:${dport}`;
      const key = `${src}>${dst}`;
      let st = streams.get(key);
      if (st === undefined) {
        st = { src, dst, segments: 0, syn: false, fin: false, rst: false, isn: null, data: [] };
        streams.set(key, st);
      }
      st.segments++;
      // A segment whose checksum fails is not trusted for anything but the count.
      if (!ok) return;
      const flags = tcpFlags(dgram, hl);
      let seq = tcpSeqNumber(dgram, hl);
      if (flags & FLG_SYN) {
        st.syn = true;
        if (st.isn === null) st.isn = seq;
        seq = seqAdd(seq, 1); // the SYN takes one sequence number before any data
      }
      if (flags & FLG_FIN) st.fin = true;
      if (flags & FLG_RST) st.rst = true;
      if (l4len > thl) st.data.push({ seq, payload: dgram.slice(hl + thl, hl + l4len) });
      return;
    }
    default:
      c.ipv4Other++;
  }
}

/**
 * Places the payload of every segment at its sequence number, from ISN+1 when a SYN was seen
 * (else from the lowest sequence number seen). Bytes received twice keep the first copy; bytes
 * before the start (e.g. a retransmitted SYN's view of old data) are dropped.
 */
function finishStream(st: StreamState): TcpStreamSummary {
  let base: number | null = st.isn === null ? null : seqAdd(st.isn, 1);
  if (base === null) {
    for (const seg of st.data) if (base === null || seqSub(seg.seq, base) < 0) base = seg.seq;
  }
  // Arrival order is kept among equal offsets by the stable sort: the first copy wins.
  const placed = st.data
    .map((seg) => ({ rel: seqSub(seg.seq, base ?? 0), payload: seg.payload }))
    .sort((a, b) => a.rel - b.rel);
  const chunks: Uint8Array[] = [];
  const gaps: { offset: number; length: number }[] = [];
  let end = 0; // bytes [0, end) are settled
  let bytes = 0;
  let duplicateBytes = 0;
  for (const { rel, payload } of placed) {
    const segEnd = rel + payload.length;
    if (segEnd <= end) {
      duplicateBytes += payload.length;
      continue;
    }
    let from = 0;
    if (rel < end) {
      from = end - rel;
      duplicateBytes += rel >= 0 ? from : 0;
    } else if (rel > end) {
      gaps.push({ offset: end, length: rel - end });
    }
    const part = payload.subarray(from);
    chunks.push(part);
    bytes += part.length;
    end = segEnd;
  }
  const all = Buffer.concat(chunks, bytes);
  return {
    src: st.src,
    dst: st.dst,
    segments: st.segments,
    syn: st.syn,
    fin: st.fin,
    rst: st.rst,
    isn: st.isn,
    bytes,
    sha256: sha256(all),
    duplicateBytes,
    gaps,
    http: httpInfo(all),
  };
}

const HTTP_METHOD = /^(?:GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH) /;

function httpInfo(all: Buffer): HttpInfo | null {
  const head = all.subarray(0, 16).toString('latin1');
  const isResponse = head.startsWith('HTTP/1.');
  if (!isResponse && !HTTP_METHOD.test(head)) return null;
  const eol = all.indexOf('\r\n');
  const firstLine = all.subarray(0, eol < 0 ? Math.min(all.length, 200) : eol).toString('latin1');
  const sep = all.indexOf('\r\n\r\n');
  const headerLength = sep < 0 ? null : sep + 4;
  const body = headerLength === null ? null : all.subarray(headerLength);
  const info: HttpInfo = isResponse
    ? { kind: 'response', statusLine: firstLine, headerLength, bodyLength: null, bodySha256: null }
    : { kind: 'request', requestLine: firstLine, headerLength, bodyLength: null, bodySha256: null };
  if (body !== null) {
    info.bodyLength = body.length;
    info.bodySha256 = sha256(body);
  }
  return info;
}

function verdicts(v: Verdicts & { none?: number }): string {
  return `${v.good} good, ${v.bad} bad${v.none === undefined ? '' : `, ${v.none} none`}`;
}

/** The human-readable report of a Summary (ends with a newline). */
export function formatSummary(s: Summary): string {
  const c = s.counts;
  const out: string[] = [];
  const dur =
    s.firstTsNs !== null && s.lastTsNs !== null
      ? `, ${((s.lastTsNs - s.firstTsNs) / 1e9).toFixed(3)} s`
      : '';
  out.push(
    `${s.file}: ${s.frames} frames, link type ${s.linktype}, ${s.capturedBytes} bytes${dur}`,
  );
  if (s.truncatedFrames > 0) out.push(`  ${s.truncatedFrames} frames cut short by the snaplen`);
  out.push('');
  out.push('Protocols');
  out.push(`  Ethernet ${c.ethernet}`);
  out.push(`    ARP ${c.arp}`);
  out.push(`    IPv4 ${c.ipv4} (${c.ipv4Fragments} fragments)`);
  out.push(`      ICMP ${c.icmp}`);
  out.push(`      UDP  ${c.udp}`);
  out.push(`      TCP  ${c.tcp}`);
  out.push(`      other ${c.ipv4Other}`);
  out.push(`    IPv6 ${c.ipv6}`);
  out.push(`    other ${c.other}`);
  out.push(`  malformed ${c.malformed}`);
  out.push('');
  out.push('Checksums');
  out.push(`  IPv4 header ${verdicts(s.checksums.ipv4Header)}`);
  out.push(`  ICMP        ${verdicts(s.checksums.icmp)}`);
  out.push(`  UDP         ${verdicts(s.checksums.udp)}`);
  out.push(`  TCP         ${verdicts(s.checksums.tcp)}`);
  out.push('');
  const r = s.reassembly;
  out.push(
    `IPv4 reassembly: ${r.fragments} fragments, ${r.datagrams.length} datagrams reassembled, ` +
      `${r.incomplete} incomplete, ${r.dropped} dropped`,
  );
  for (const d of r.datagrams) {
    out.push(
      `  ${d.src} -> ${d.dst} proto ${d.protocol} id ${d.ident}: ${d.size} bytes from ` +
        `${d.fragments} fragments`,
    );
  }
  out.push('');
  out.push(`TCP streams: ${s.tcpStreams.length} (one per direction)`);
  for (const t of s.tcpStreams) {
    const flags = [t.syn ? 'SYN' : '', t.fin ? 'FIN' : '', t.rst ? 'RST' : '']
      .filter((f) => f !== '')
      .join(' ');
    out.push(
      `  ${t.src} -> ${t.dst}: ${t.segments} segments, ${t.bytes} bytes, ` +
        `flags [${flags || '-'}]${t.duplicateBytes > 0 ? `, ${t.duplicateBytes} duplicate bytes` : ''}`,
    );
    out.push(`    sha256 ${t.sha256}`);
    for (const g of t.gaps) out.push(`    gap: ${g.length} bytes missing at offset ${g.offset}`);
    const h = t.http;
    if (h !== null) {
      out.push(`    HTTP ${h.kind}: ${h.kind === 'response' ? h.statusLine : h.requestLine}`);
      if (h.headerLength === null) out.push('    (no end of headers seen)');
      else {
        out.push(`    header ${h.headerLength} bytes, body ${h.bodyLength} bytes`);
        out.push(`    body sha256 ${h.bodySha256}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}
