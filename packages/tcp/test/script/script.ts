/**
 * A packetdrill-style script runner for TCP conformance tests, in virtual time.
 *
 * packetdrill's scripts are how Linux, FreeBSD and gVisor pin TCP behaviour down, one timed
 * segment a line; writing ours in the same language means a failure reads the way a TCP
 * engineer would have written the test, and scripts can be ported from those suites:
 *
 *   0     < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
 *   +0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 3>
 *   +.1   < . 1:1(0) ack 1 win 257
 *   +0    call write 1000
 *   +0    > P. 1:1001(1000) ack 1
 *
 * `<` builds a frame from the peer and gives it to the target, `>` takes the next frame the
 * target sent and compares it field by field, `call` runs a function the test supplies. The
 * runner owns the clock: the target only ever sees `now` as an argument (sans-IO), so a script
 * runs the same on every machine, in microseconds of real time however long it spans.
 *
 * Times are seconds as in packetdrill; the target sees ms (ScriptConfig.startMs + seconds *
 * 1000). Sequence numbers are relative, as in packetdrill: `<` seq and `>` ack (and SACK blocks
 * in `>` lines) count from the peer's ISN, ScriptConfig.remoteIsn; `>` seq and `<` ack (and SACK
 * blocks in `<` lines) count from the stack's ISN, learned from its first SYN or SYN-ACK. Until
 * then the stack's ISN counts as 0, so numbers in that direction are absolute (what a RST
 * answering a stray ACK needs). ScriptConfig.absoluteSeq makes every number absolute.
 */

import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  arpParse,
  checkInt,
  ETH_HEADER_LEN,
  ETH_MIN_FRAME_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ethDst,
  ethernetEmit,
  ethHeaderLen,
  ethSrc,
  ethType,
  FLG_ACK,
  FLG_CWR,
  FLG_ECE,
  FLG_FIN,
  FLG_PSH,
  FLG_RST,
  FLG_SYN,
  FLG_URG,
  fillTcpChecksumIpv4,
  IP_PROTO_TCP,
  IPV4_MIN_HEADER_LEN,
  ipv4Check,
  ipv4Dst,
  ipv4Emit,
  ipv4ErrorName,
  ipv4HeaderLen,
  ipv4IsFragment,
  ipv4Protocol,
  ipv4Src,
  ipv4ToString,
  ipv4TotalLength,
  ipv4VerifyChecksum,
  MAC_BROADCAST,
  macToString,
  OPT_EOL,
  OPT_MSS,
  OPT_NOP,
  OPT_SACK,
  OPT_SACK_PERMITTED,
  OPT_TIMESTAMP,
  OPT_WINDOW_SCALE,
  SACK_MAX_BLOCKS,
  setTcpAckNumber,
  setTcpDstPort,
  setTcpFlags,
  setTcpHeaderLength,
  setTcpSeqNumber,
  setTcpSrcPort,
  setTcpUrgentPointer,
  setTcpWindow,
  TCP_HEADER_LEN,
  TCP_MAX_HEADER_LEN,
  tcpAckNumber,
  tcpCheckHeader,
  tcpDstPort,
  tcpFlags,
  tcpOptionLength,
  tcpOptionWellFormed,
  tcpOptMss,
  tcpOptSackBlocks,
  tcpOptSackLeft,
  tcpOptSackRight,
  tcpOptTsecr,
  tcpOptTsval,
  tcpOptWindowScale,
  tcpSeqNumber,
  tcpSrcPort,
  tcpUrgentPointer,
  tcpWindow,
  verifyTcpIpv4,
  WireError,
} from '@bypass/net';

// ---------------------------------------------------------------------------------------------
// The target and the configuration.

/** What the runner drives: a stack (or a fake) behind its Ethernet port, with an explicit clock. */
export interface ScriptTarget {
  /** A frame from the peer arrives at virtual time `now` (ms). The target copies it. */
  input(frame: Uint8Array, now: number): void;
  /** Run timers due at `now` (ms). */
  poll(now: number): void;
  /** Earliest time (ms) the target wants poll() again; Infinity if none. */
  nextDeadline(): number;
  /** Frames the target has sent since the last call, in order (copies, the target frees its mbufs). */
  takeOutput(): Uint8Array[];
}

export interface ScriptConfig {
  /** The stack's MAC (48-bit integer) and IPv4 address (u32): every frame it sends must come from them. */
  localMac: number;
  localIp: number;
  /** The peer's: injected frames come from them, and the stack must send to them. */
  remoteMac: number;
  remoteIp: number;
  /**
   * The stack's TCP port. Unset: learned from the first segment the stack sends (connect
   * tests); a `<` line before then is an error.
   */
  localPort?: number;
  /** The peer's TCP port (default DEFAULT_REMOTE_PORT). */
  remotePort?: number;
  /** The peer's initial sequence number (default DEFAULT_REMOTE_ISN). */
  remoteIsn?: number;
  /** How far (ms) a `>` frame may be sent from its line's time, either way (default 0: exact). */
  toleranceMs?: number;
  /** Virtual time (ms) of script time 0 (default 0). */
  startMs?: number;
  /** Sequence, acknowledgment and SACK numbers in the script are absolute (default false). */
  absoluteSeq?: boolean;
  /** Drop ARP frames the stack sends instead of failing on them as unexpected (default true). */
  ignoreArp?: boolean;
  /**
   * Let the script end with frames no `>` line took; ScriptResult.unconsumed returns them
   * (default false: they fail the script).
   */
  allowUnconsumedOutput?: boolean;
  /** The window of `<` lines that write no `win N` (default 65535). */
  remoteWindow?: number;
}

export const DEFAULT_REMOTE_PORT = 40_000;
/** Far from 0 so that a relative number used as absolute (or the reverse) shows at once. */
export const DEFAULT_REMOTE_ISN = 0x1000_0000;
export const DEFAULT_REMOTE_WINDOW = 65_535;
/** TTL of injected datagrams: Linux's default. */
const INJECT_TTL = 64;

/** Thrown for a bad ScriptConfig field; the message names it and the value. */
export class ScriptConfigError extends Error {
  override readonly name = 'ScriptConfigError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`ScriptConfig.${option} must be ${expected}, got ${String(value)}`);
  }
}

interface ResolvedConfig {
  localMac: number;
  localIp: number;
  remoteMac: number;
  remoteIp: number;
  localPort: number | undefined;
  remotePort: number;
  remoteIsn: number;
  toleranceMs: number;
  startMs: number;
  absoluteSeq: boolean;
  ignoreArp: boolean;
  allowUnconsumedOutput: boolean;
  remoteWindow: number;
}

function integerOption(option: string, v: unknown, max: number, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ScriptConfigError(option, v, `an integer from ${min} to ${max}`);
  }
  return v;
}

function booleanOption(option: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new ScriptConfigError(option, v, 'true or false');
  return v;
}

/** Defaults in one place; throws ScriptConfigError for a bad field. */
function resolveConfig(c: ScriptConfig): ResolvedConfig {
  const toleranceMs = c.toleranceMs ?? 0;
  if (typeof toleranceMs !== 'number' || !Number.isFinite(toleranceMs) || toleranceMs < 0) {
    throw new ScriptConfigError('toleranceMs', toleranceMs, 'a finite number of ms, 0 or more');
  }
  const startMs = c.startMs ?? 0;
  if (typeof startMs !== 'number' || !Number.isFinite(startMs)) {
    throw new ScriptConfigError('startMs', startMs, 'a finite number of ms');
  }
  return {
    localMac: integerOption('localMac', c.localMac, MAC_BROADCAST),
    localIp: integerOption('localIp', c.localIp, 0xffff_ffff),
    remoteMac: integerOption('remoteMac', c.remoteMac, MAC_BROADCAST),
    remoteIp: integerOption('remoteIp', c.remoteIp, 0xffff_ffff),
    localPort:
      c.localPort === undefined ? undefined : integerOption('localPort', c.localPort, 0xffff, 1),
    remotePort: integerOption('remotePort', c.remotePort ?? DEFAULT_REMOTE_PORT, 0xffff, 1),
    remoteIsn: integerOption('remoteIsn', c.remoteIsn ?? DEFAULT_REMOTE_ISN, 0xffff_ffff),
    toleranceMs,
    startMs,
    absoluteSeq: booleanOption('absoluteSeq', c.absoluteSeq ?? false),
    ignoreArp: booleanOption('ignoreArp', c.ignoreArp ?? true),
    allowUnconsumedOutput: booleanOption('allowUnconsumedOutput', c.allowUnconsumedOutput ?? false),
    remoteWindow: integerOption('remoteWindow', c.remoteWindow ?? DEFAULT_REMOTE_WINDOW, 0xffff),
  };
}

// ---------------------------------------------------------------------------------------------
// The parsed script.

/** When an event happens. `ms` is script time in ms (seconds * 1000 as written). */
export type EventTime =
  /** `1.5`: from script start; `+0.2`: from the previous event. `endMs`: a range `a~b` (`>` lines only). */
  | { kind: 'absolute' | 'relative'; ms: number; endMs?: number }
  /** `*`: any time (`>` lines only). */
  | { kind: 'any' };

/** A TCP option as written in `<...>`; `'*'` (TS on `>` lines, ecr on `<` lines) is a wildcard. */
export type TcpOptionSpec =
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackOK' }
  | { kind: 'sack'; blocks: [number, number][] }
  | { kind: 'TS'; val: number | '*'; ecr: number | '*' }
  | { kind: 'nop' }
  | { kind: 'eol' }
  /** Decoded from a frame only: a kind the script language has no word for. */
  | { kind: 'unknown'; code: number; length: number };

/** A segment as a line writes it: `flags seq:end(len) [ack N] [win N] [urg N] [<options>]`. */
export interface SegmentSpec {
  /** FLG_* bits. */
  flags: number;
  /** Relative (or absolute with absoluteSeq), as written. */
  seq: number;
  /** Payload bytes; end = seq + len. */
  len: number;
  /** Absent: not written (for `>`: not checked). */
  ack?: number;
  win?: number;
  urg?: number;
  /** Absent or `<...>`: not written (for `>`: not checked); [] for `<>`: no options at all. */
  options?: TcpOptionSpec[];
}

interface EventBase {
  /** 1-based line number in the source. */
  line: number;
  /** The line as written, comment and outer blanks removed. */
  text: string;
  time: EventTime;
}
export interface InjectEvent extends EventBase {
  kind: 'inject';
  segment: SegmentSpec;
}
export interface ExpectEvent extends EventBase {
  kind: 'expect';
  segment: SegmentSpec;
}
export interface CallEvent extends EventBase {
  kind: 'call';
  name: string;
  args: string[];
}
export type ScriptEvent = InjectEvent | ExpectEvent | CallEvent;

/** A script that does not parse, or a run that fails; `line` and `text` name the script line. */
export class ScriptError extends Error {
  override readonly name = 'ScriptError';
  /**
   * The message is `line N: summary`, then `  script:   <text>`, then each of `details`
   * indented (expected and actual segments in packetdrill syntax).
   */
  constructor(
    readonly line: number,
    readonly text: string,
    readonly summary: string,
    readonly details: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super(
      [`line ${line}: ${summary}`, `  script:   ${text}`, ...details.map((d) => `  ${d}`)].join(
        '\n',
      ),
      options,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Parser.

interface LineRef {
  line: number;
  text: string;
}

function fail(ref: LineRef, summary: string, details: readonly string[] = []): never {
  throw new ScriptError(ref.line, ref.text, summary, details);
}

/**
 * Parses a script: one event a line; `//` starts a comment (outside double quotes); blank lines
 * are skipped. Throws ScriptError at the first line that does not parse. Checks only what a
 * line says by itself; times out of order and unknown calls are found by runScript.
 */
export function parseScript(source: string): ScriptEvent[] {
  const events: ScriptEvent[] = [];
  const lines = source.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const text = stripComment(lines[i]).trim();
    if (text !== '') events.push(parseLine({ line: i + 1, text }));
  }
  return events;
}

function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '/' && line[i + 1] === '/') return line.slice(0, i);
  }
  return line;
}

function parseLine(ref: LineRef): ScriptEvent {
  const m = /^(\S+)\s+(\S+)\s*(.*)$/.exec(ref.text);
  const what = m?.[2];
  if (m === null || (what !== '<' && what !== '>' && what !== 'call')) {
    fail(ref, 'expected a time, then "<", ">" or "call"');
  }
  const time = parseTime(m[1], ref);
  if (what !== '>' && time.kind === 'any') fail(ref, '"*" (any time) is only for ">" lines');
  if (what !== '>' && time.kind !== 'any' && time.endMs !== undefined) {
    fail(ref, 'a time range is only for ">" lines');
  }
  const base = { line: ref.line, text: ref.text, time };
  if (what === 'call') {
    const [name, ...args] = parseCallWords(m[3], ref);
    if (name === undefined || !/^[A-Za-z_][\w.-]*$/.test(name)) {
      fail(ref, 'call needs a function name, like "call write 1000"');
    }
    return { ...base, kind: 'call', name, args };
  }
  const segment = parseSegment(m[3], what === '<', ref);
  return what === '<' ? { ...base, kind: 'inject', segment } : { ...base, kind: 'expect', segment };
}

const TIME_RE = /^(\+?)(\d+(?:\.\d*)?|\.\d+)$/;

function parseTime(word: string, ref: LineRef): EventTime {
  if (word === '*') return { kind: 'any' };
  const bad = (): never =>
    fail(
      ref,
      `bad time "${word}": write seconds (1.5), +seconds (+0.2), a range (0.1~0.2) or * (any)`,
    );
  const bounds = word.split('~').map((w) => TIME_RE.exec(w) ?? bad());
  if (bounds.length > 2) bad();
  // Whole microseconds, so that 0.1 + 0.2 lands exactly on 300 ms.
  const ms = (m: RegExpExecArray): number => Math.round(Number(m[2]) * 1e6) / 1e3;
  const kind = bounds[0][1] === '+' ? 'relative' : 'absolute';
  if (bounds.length === 1) return { kind, ms: ms(bounds[0]) };
  if (bounds[0][1] !== bounds[1][1]) {
    fail(ref, `bad time range "${word}": both ends absolute (0.1~0.2) or both relative (+0~+0.2)`);
  }
  if (ms(bounds[1]) < ms(bounds[0]))
    fail(ref, `bad time range "${word}": it ends before it starts`);
  return { kind, ms: ms(bounds[0]), endMs: ms(bounds[1]) };
}

/** Words split at blanks; a double-quoted word is a JSON string (so it may hold blanks). */
function parseCallWords(rest: string, ref: LineRef): string[] {
  return (rest.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? []).map((w) => {
    if (!w.startsWith('"')) return w;
    try {
      return JSON.parse(w) as string;
    } catch {
      return fail(ref, `bad quoted argument ${w}`);
    }
  });
}

const FLAG_LETTERS: Readonly<Record<string, number>> = {
  F: FLG_FIN,
  S: FLG_SYN,
  R: FLG_RST,
  P: FLG_PSH,
  '.': FLG_ACK,
  U: FLG_URG,
  E: FLG_ECE,
  W: FLG_CWR,
};

function parseFlags(word: string, ref: LineRef): number {
  // packetdrill has no word for "no flags"; `-` lets a script send or expect a null segment.
  if (word === '-') return 0;
  let flags = 0;
  for (const c of word) {
    const bit = Object.hasOwn(FLAG_LETTERS, c) ? FLAG_LETTERS[c] : undefined;
    if (bit === undefined) fail(ref, `bad flags "${word}": use F S R P . U E W (or - for none)`);
    if ((flags & bit) !== 0) fail(ref, `flag "${c}" given twice in "${word}"`);
    flags |= bit;
  }
  return flags;
}

function parseNumber(word: string | undefined, what: string, max: number, ref: LineRef): number {
  if (word === undefined || !/^\d+$/.test(word)) {
    fail(ref, `${what} needs a number, got ${word === undefined ? 'nothing' : `"${word}"`}`);
  }
  const v = Number(word);
  if (v > max) fail(ref, `${what} ${word} is out of range (0 to ${max})`);
  return v;
}

const U32 = 0xffff_ffff;

function parseSegment(rest: string, inject: boolean, ref: LineRef): SegmentSpec {
  let head = rest;
  let options: TcpOptionSpec[] | undefined;
  const om = /<([^<>]*)>$/.exec(rest);
  if (om !== null) {
    head = rest.slice(0, om.index).trim();
    if (om[1].trim() === '...') {
      if (inject) fail(ref, '"<...>" (options not checked) is only for ">" lines');
    } else {
      options = parseOptions(om[1], inject, ref);
    }
  }
  if (/[<>]/.test(head)) fail(ref, 'options go last, in one <...>');
  const words = head.split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) fail(ref, 'expected flags, like S, S., P. or F.');
  const flags = parseFlags(words[0], ref);
  const sm = /^(\d+):(\d+)\((\d+)\)$/.exec(words[1] ?? '');
  if (sm === null) fail(ref, 'expected seq:end(len) after the flags, like 1:1001(1000)');
  const seq = parseNumber(sm[1], 'seq', U32, ref);
  const end = parseNumber(sm[2], 'end', U32, ref);
  const len = parseNumber(sm[3], 'length', 0xffff, ref);
  if ((end - seq) >>> 0 !== len) {
    fail(ref, `${words[1]}: end - seq is ${(end - seq) >>> 0}, not the length ${len}`);
  }
  const seg: SegmentSpec = { flags, seq, len };
  for (let i = 2; i < words.length; i += 2) {
    const key = words[i];
    if (key !== 'ack' && key !== 'win' && key !== 'urg') {
      fail(ref, `unknown "${key}": after seq:end(len) come ack N, win N, urg N, then <options>`);
    }
    if (seg[key] !== undefined) fail(ref, `"${key}" given twice`);
    seg[key] = parseNumber(words[i + 1], key, key === 'ack' ? U32 : 0xffff, ref);
  }
  if (seg.ack !== undefined && (flags & FLG_ACK) === 0) {
    fail(ref, `ack ${seg.ack} needs the ACK flag (".")`);
  }
  if (inject && seg.ack === undefined && (flags & FLG_ACK) !== 0) {
    fail(ref, 'an injected segment with the ACK flag needs ack N');
  }
  if (options !== undefined) seg.options = options;
  return seg;
}

const OPTION_HELP = 'use mss N, wscale N, sackOK, sack A:B ..., TS val N ecr N, nop, eol';

function parseOptions(list: string, inject: boolean, ref: LineRef): TcpOptionSpec[] {
  if (list.trim() === '') return [];
  return list.split(',').map((item): TcpOptionSpec => {
    const w = item.trim().split(/\s+/);
    const only = (n: number): void => {
      if (w.length !== n) fail(ref, `bad option "${item.trim()}": ${OPTION_HELP}`);
    };
    switch (w[0]) {
      case 'mss':
        only(2);
        return { kind: 'mss', value: parseNumber(w[1], 'mss', 0xffff, ref) };
      case 'wscale':
        only(2);
        // Up to 255, not 14: a test must be able to send a shift the stack has to clamp.
        return { kind: 'wscale', shift: parseNumber(w[1], 'wscale', 0xff, ref) };
      case 'sackOK':
        only(1);
        return { kind: 'sackOK' };
      case 'nop':
        only(1);
        return { kind: 'nop' };
      case 'eol':
        only(1);
        return { kind: 'eol' };
      case 'sack': {
        if (w.length < 2 || w.length > SACK_MAX_BLOCKS + 1) {
          fail(ref, `sack needs 1 to ${SACK_MAX_BLOCKS} blocks like 1001:2001`);
        }
        const blocks = w.slice(1).map((b): [number, number] => {
          const bm = /^(\d+):(\d+)$/.exec(b);
          if (bm === null) fail(ref, `bad SACK block "${b}": write left:right, like 1001:2001`);
          return [parseNumber(bm[1], 'sack', U32, ref), parseNumber(bm[2], 'sack', U32, ref)];
        });
        return { kind: 'sack', blocks };
      }
      case 'TS': {
        if (w.length !== 5 || w[1] !== 'val' || w[3] !== 'ecr') {
          fail(ref, `bad option "${item.trim()}": write TS val N ecr N`);
        }
        if (inject && w[2] === '*') {
          fail(ref, '"TS val *" is only for ">" lines; an injected TS val is a number');
        }
        const ts = (v: string, what: string): number | '*' =>
          v === '*' ? '*' : parseNumber(v, what, U32, ref);
        return { kind: 'TS', val: ts(w[2], 'TS val'), ecr: ts(w[4], 'TS ecr') };
      }
      default:
        return fail(ref, `unknown option "${item.trim()}": ${OPTION_HELP}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Formatting: every segment, parsed or seen on the wire, prints as a packetdrill line.

/** Script seconds for `ms`, at least 3 decimals, up to microseconds: 300 -> "0.300". */
export function formatSeconds(ms: number): string {
  return (ms / 1000).toFixed(6).replace(/0{1,3}$/, '');
}

// packetdrill's order: S. for a SYN-ACK, S.E for one with ECE.
const FLAG_ORDER: [string, number][] = [
  ['F', FLG_FIN],
  ['S', FLG_SYN],
  ['R', FLG_RST],
  ['P', FLG_PSH],
  ['.', FLG_ACK],
  ['U', FLG_URG],
  ['E', FLG_ECE],
  ['W', FLG_CWR],
];

export function formatFlags(flags: number): string {
  const s = FLAG_ORDER.filter(([, bit]) => (flags & bit) !== 0)
    .map(([c]) => c)
    .join('');
  return s === '' ? '-' : s;
}

export function formatOption(o: TcpOptionSpec): string {
  switch (o.kind) {
    case 'mss':
      return `mss ${o.value}`;
    case 'wscale':
      return `wscale ${o.shift}`;
    case 'sack':
      return `sack ${o.blocks.map(([l, r]) => `${l}:${r}`).join(' ')}`;
    case 'TS':
      return `TS val ${o.val} ecr ${o.ecr}`;
    case 'unknown':
      return `kind ${o.code} len ${o.length}`;
    default:
      return o.kind;
  }
}

/** `P. 1:1001(1000) ack 1 win 257 <nop,nop,TS val 5 ecr 100>`; absent fields are left out. */
export function formatSegment(s: SegmentSpec): string {
  let out = `${formatFlags(s.flags)} ${s.seq}:${(s.seq + s.len) >>> 0}(${s.len})`;
  if (s.ack !== undefined) out += ` ack ${s.ack}`;
  if (s.win !== undefined) out += ` win ${s.win}`;
  if (s.urg !== undefined) out += ` urg ${s.urg}`;
  if (s.options !== undefined) out += ` <${s.options.map(formatOption).join(',')}>`;
  return out;
}

export function formatTime(t: EventTime): string {
  if (t.kind === 'any') return '*';
  const sign = t.kind === 'relative' ? '+' : '';
  const start = `${sign}${formatSeconds(t.ms)}`;
  return t.endMs === undefined ? start : `${start}~${sign}${formatSeconds(t.endMs)}`;
}

/** The canonical form of a parsed line: parseScript(formatEvent(e)) gives `e` back. */
export function formatEvent(e: ScriptEvent): string {
  const time = formatTime(e.time);
  if (e.kind === 'call') {
    const args = e.args.map((a) => (/^[^\s"]+$/.test(a) ? a : JSON.stringify(a)));
    return [time, 'call', e.name, ...args].join(' ');
  }
  return `${time} ${e.kind === 'inject' ? '<' : '>'} ${formatSegment(e.segment)}`;
}

// ---------------------------------------------------------------------------------------------
// Frames: building what the peer sends, decoding what the stack sends.

/**
 * The payload byte at sequence number `relSeq` relative to the peer's ISN: what `<` lines
 * carry, so a test can check the bytes its socket reads. Data after a SYN at 0 starts at 1.
 */
export function fillerBytes(relSeq: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (relSeq + i) & 0xff;
  return b;
}

/**
 * Options in the order given, each as the RFCs lay it out, padded with zero bytes (EOL) to a
 * multiple of 4. Verbatim rather than emitTcp's canonical order, because the order and the
 * NOPs are part of what a conformance test sends. Throws WireError for a wildcard, a value out
 * of range, or more than 40 bytes.
 */
export function encodeTcpOptions(options: readonly TcpOptionSpec[]): Uint8Array {
  const out: number[] = [];
  const u16 = (v: number): void => {
    out.push(v >>> 8, v & 0xff);
  };
  const u32 = (v: number): void => {
    out.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  };
  for (const o of options) {
    switch (o.kind) {
      case 'mss':
        checkInt('mss', o.value, 0xffff);
        out.push(OPT_MSS, 4);
        u16(o.value);
        break;
      case 'wscale':
        checkInt('wscale', o.shift, 0xff);
        out.push(OPT_WINDOW_SCALE, 3, o.shift);
        break;
      case 'sackOK':
        out.push(OPT_SACK_PERMITTED, 2);
        break;
      case 'sack':
        if (o.blocks.length < 1 || o.blocks.length > SACK_MAX_BLOCKS) {
          throw new WireError(`sack needs 1 to ${SACK_MAX_BLOCKS} blocks; got ${o.blocks.length}`);
        }
        out.push(OPT_SACK, 2 + 8 * o.blocks.length);
        for (const [l, r] of o.blocks) {
          checkInt('sack', l, U32);
          checkInt('sack', r, U32);
          u32(l);
          u32(r);
        }
        break;
      case 'TS':
        if (o.val === '*' || o.ecr === '*')
          throw new WireError('a TS option to send needs numbers');
        checkInt('TS val', o.val, U32);
        checkInt('TS ecr', o.ecr, U32);
        out.push(OPT_TIMESTAMP, 10);
        u32(o.val);
        u32(o.ecr);
        break;
      case 'nop':
        out.push(OPT_NOP);
        break;
      case 'eol':
        out.push(OPT_EOL);
        break;
      case 'unknown':
        checkInt('option kind', o.code, 0xff);
        checkInt('option length', o.length, 0xff);
        if (o.length < 2) throw new WireError(`option length must be 2 or more; got ${o.length}`);
        out.push(o.code, o.length, ...new Array<number>(o.length - 2).fill(0));
        break;
    }
  }
  while (out.length % 4 !== 0) out.push(OPT_EOL);
  if (out.length > TCP_MAX_HEADER_LEN - TCP_HEADER_LEN) {
    throw new WireError(`options need ${out.length} bytes; a TCP header holds 40`);
  }
  return Uint8Array.from(out);
}

/**
 * The options in b[start..end) in wire order, NOPs included; an EOL is listed and ends the
 * walk (what follows is padding). `malformedAt` is the offset in `b` of the first option with
 * a bad length (the walk stops there), or -1.
 */
export function decodeTcpOptions(
  b: Uint8Array,
  start: number,
  end: number,
): { options: TcpOptionSpec[]; malformedAt: number } {
  const options: TcpOptionSpec[] = [];
  for (let o = start; o < end; ) {
    const kind = b[o];
    if (kind === OPT_EOL) {
      options.push({ kind: 'eol' });
      break;
    }
    if (kind === OPT_NOP) {
      options.push({ kind: 'nop' });
      o++;
      continue;
    }
    if (o + 1 >= end || b[o + 1] < 2 || o + b[o + 1] > end || !tcpOptionWellFormed(b, o)) {
      return { options, malformedAt: o };
    }
    switch (kind) {
      case OPT_MSS:
        options.push({ kind: 'mss', value: tcpOptMss(b, o) });
        break;
      case OPT_WINDOW_SCALE:
        options.push({ kind: 'wscale', shift: tcpOptWindowScale(b, o) });
        break;
      case OPT_SACK_PERMITTED:
        options.push({ kind: 'sackOK' });
        break;
      case OPT_SACK: {
        const blocks: [number, number][] = [];
        for (let i = 0; i < tcpOptSackBlocks(b, o); i++) {
          blocks.push([tcpOptSackLeft(b, o, i), tcpOptSackRight(b, o, i)]);
        }
        options.push({ kind: 'sack', blocks });
        break;
      }
      case OPT_TIMESTAMP:
        options.push({ kind: 'TS', val: tcpOptTsval(b, o), ecr: tcpOptTsecr(b, o) });
        break;
      default:
        options.push({ kind: 'unknown', code: kind, length: tcpOptionLength(b, o) });
    }
    o += tcpOptionLength(b, o);
  }
  return { options, malformedAt: -1 };
}

/** Everything buildTcpFrame writes; numbers are absolute. */
export interface TcpFrameSpec {
  srcMac: number;
  dstMac: number;
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** FLG_* bits. */
  flags: number;
  window: number;
  /** Default 0. */
  urgent?: number;
  /** Written verbatim (encodeTcpOptions). Default none. */
  options?: readonly TcpOptionSpec[];
  /** Default empty. */
  payload?: Uint8Array;
  /** Defaults 64 and 0; DF is always set, as Linux sets it on TCP. */
  ttl?: number;
  ident?: number;
}

/**
 * A new Ethernet/IPv4/TCP frame for `spec`, checksums filled in, zero-padded to the 60-byte
 * Ethernet minimum as a NIC hands it over (so a stack that trusts the frame length over the IP
 * total length shows). The caller owns the bytes. Throws WireError for a field out of range.
 */
export function buildTcpFrame(spec: TcpFrameSpec): Uint8Array {
  const options = encodeTcpOptions(spec.options ?? []);
  const payload = spec.payload ?? new Uint8Array(0);
  const tcpHeaderLen = TCP_HEADER_LEN + options.length;
  const tcpLen = tcpHeaderLen + payload.length;
  checkInt('srcPort', spec.srcPort, 0xffff);
  checkInt('dstPort', spec.dstPort, 0xffff);
  checkInt('seq', spec.seq, U32);
  checkInt('ack', spec.ack, U32);
  checkInt('flags', spec.flags, 0xff);
  checkInt('window', spec.window, 0xffff);
  checkInt('urgent', spec.urgent ?? 0, 0xffff);
  const ipOff = ETH_HEADER_LEN;
  const tcpOff = ipOff + IPV4_MIN_HEADER_LEN;
  const frame = new Uint8Array(Math.max(tcpOff + tcpLen, ETH_MIN_FRAME_LEN));
  ethernetEmit({ dst: spec.dstMac, src: spec.srcMac, etherType: ETHERTYPE_IPV4 }, frame, 0);
  ipv4Emit(
    {
      src: spec.srcIp,
      dst: spec.dstIp,
      protocol: IP_PROTO_TCP,
      payloadLength: tcpLen,
      ttl: spec.ttl ?? INJECT_TTL,
      ident: spec.ident ?? 0,
      dontFragment: true,
    },
    frame,
    ipOff,
  );
  setTcpSrcPort(frame, tcpOff, spec.srcPort);
  setTcpDstPort(frame, tcpOff, spec.dstPort);
  setTcpSeqNumber(frame, tcpOff, spec.seq);
  setTcpAckNumber(frame, tcpOff, spec.ack);
  setTcpHeaderLength(frame, tcpOff, tcpHeaderLen);
  setTcpFlags(frame, tcpOff, spec.flags);
  setTcpWindow(frame, tcpOff, spec.window);
  setTcpUrgentPointer(frame, tcpOff, spec.urgent ?? 0);
  frame.set(options, tcpOff + TCP_HEADER_LEN);
  frame.set(payload, tcpOff + tcpHeaderLen);
  fillTcpChecksumIpv4(frame, ipOff, tcpOff, tcpLen);
  return frame;
}

/** A TCP segment the stack sent, numbers absolute. */
export interface DecodedTcpFrame {
  kind: 'tcp';
  ethSrc: number;
  ethDst: number;
  ipSrc: number;
  ipDst: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  options: TcpOptionSpec[];
  /** A copy. */
  payload: Uint8Array;
  /** What is wrong with it on the wire (checksums, malformed options); [] when nothing. */
  problems: string[];
}

/** What decodeFrame makes of a frame: a TCP segment, or a one-line summary of anything else. */
export type DecodedFrame = DecodedTcpFrame | { kind: 'other'; summary: string };

/** Decodes a frame the stack sent, verifying the IPv4 and TCP checksums along the way. */
export function decodeFrame(frame: Uint8Array): DecodedFrame {
  const other = (summary: string): DecodedFrame => ({ kind: 'other', summary });
  if (frame.length < ETH_HEADER_LEN) return other(`runt frame (${frame.length} bytes)`);
  const l3 = ethHeaderLen(frame, 0);
  const type = ethType(frame, 0);
  if (type === ETHERTYPE_ARP) {
    const arp = arpParse(frame, l3, frame.length - l3);
    if (typeof arp === 'number') return other('malformed ARP');
    if (arp.operation === ARP_OP_REQUEST) {
      return other(
        `ARP request who-has ${ipv4ToString(arp.targetIp)} tell ${ipv4ToString(arp.senderIp)}`,
      );
    }
    if (arp.operation === ARP_OP_REPLY) {
      return other(`ARP reply ${ipv4ToString(arp.senderIp)} is-at ${macToString(arp.senderHw)}`);
    }
  }
  if (type !== ETHERTYPE_IPV4) {
    return other(`EtherType 0x${type.toString(16).padStart(4, '0')}, ${frame.length} bytes`);
  }
  // The checksum is checked apart, so that a segment with a bad one still prints in full.
  const err = ipv4Check(frame, l3, frame.length - l3, false);
  if (err !== 0) return other(`malformed IPv4 (${ipv4ErrorName(err)})`);
  const ipSrc = ipv4Src(frame, l3);
  const ipDst = ipv4Dst(frame, l3);
  const proto = ipv4Protocol(frame, l3);
  const ipHeaderLen = ipv4HeaderLen(frame, l3);
  const tcpLen = ipv4TotalLength(frame, l3) - ipHeaderLen;
  const route = `${ipv4ToString(ipSrc)} > ${ipv4ToString(ipDst)}`;
  if (proto !== IP_PROTO_TCP) return other(`IPv4 protocol ${proto} ${route}, ${tcpLen} bytes`);
  if (ipv4IsFragment(frame, l3)) return other(`IPv4 fragment of a TCP segment ${route}`);
  const off = l3 + ipHeaderLen;
  const hl = tcpCheckHeader(frame, off, tcpLen);
  if (hl < 0) return other(`malformed TCP header ${route}, ${tcpLen} bytes`);
  const problems: string[] = [];
  if (!ipv4VerifyChecksum(frame, l3)) problems.push('bad IPv4 header checksum');
  if (!verifyTcpIpv4(frame, l3, off, tcpLen)) problems.push('bad TCP checksum');
  const { options, malformedAt } = decodeTcpOptions(frame, off + TCP_HEADER_LEN, off + hl);
  if (malformedAt >= 0) problems.push(`malformed TCP option at header byte ${malformedAt - off}`);
  return {
    kind: 'tcp',
    ethSrc: ethSrc(frame, 0),
    ethDst: ethDst(frame, 0),
    ipSrc,
    ipDst,
    srcPort: tcpSrcPort(frame, off),
    dstPort: tcpDstPort(frame, off),
    seq: tcpSeqNumber(frame, off),
    ack: tcpAckNumber(frame, off),
    flags: tcpFlags(frame, off),
    window: tcpWindow(frame, off),
    urgent: tcpUrgentPointer(frame, off),
    options,
    payload: frame.slice(off + hl, off + tcpLen),
    problems,
  };
}

/**
 * `d` as a `>` line would write it, seq relative to `seqBase` and ack and SACK blocks to
 * `ackBase` (the stack's ISN and the peer's, or 0 and 0 for absolute).
 */
export function segmentOf(d: DecodedTcpFrame, seqBase: number, ackBase: number): SegmentSpec {
  const s: SegmentSpec = { flags: d.flags, seq: (d.seq - seqBase) >>> 0, len: d.payload.length };
  if ((d.flags & FLG_ACK) !== 0) s.ack = (d.ack - ackBase) >>> 0;
  s.win = d.window;
  if ((d.flags & FLG_URG) !== 0) s.urg = d.urgent;
  if (d.options.length > 0) s.options = shiftSack(d.options, -ackBase);
  return s;
}

function shiftSack(options: readonly TcpOptionSpec[], delta: number): TcpOptionSpec[] {
  return options.map((o) =>
    o.kind === 'sack'
      ? {
          kind: 'sack',
          blocks: o.blocks.map(([l, r]): [number, number] => [
            (l + delta) >>> 0,
            (r + delta) >>> 0,
          ]),
        }
      : o,
  );
}

function optionMatches(want: TcpOptionSpec, got: TcpOptionSpec): boolean {
  switch (want.kind) {
    case 'TS':
      return (
        got.kind === 'TS' &&
        (want.val === '*' || want.val === got.val) &&
        (want.ecr === '*' || want.ecr === got.ecr)
      );
    default:
      // The remaining kinds hold only numbers and arrays of pairs: the printed form is exact.
      return formatOption(want) === formatOption(got);
  }
}

// ---------------------------------------------------------------------------------------------
// The runner.

/** What a `call` line's function sees. A snapshot taken when the line runs. */
export interface ScriptContext {
  readonly line: number;
  /** Virtual time (ms) the call runs at. */
  readonly nowMs: number;
  readonly remoteIsn: number;
  /** Learned from the stack's first SYN or SYN-ACK; undefined before. */
  readonly localIsn: number | undefined;
  readonly localPort: number | undefined;
  readonly remotePort: number;
  /** The latest segment a `>` line took, numbers absolute. */
  readonly lastOutbound: DecodedTcpFrame | undefined;
}

/** A `call NAME args...` line's function. What it throws fails the script at its line. */
export type ScriptCall = (args: string[], ctx: ScriptContext) => void;

/** A frame the stack sent, with the virtual time (ms) of the poll or event that produced it. */
export interface SentFrame {
  timeMs: number;
  frame: Uint8Array;
}

export interface ScriptResult {
  /** Virtual time (ms) when the script ended. */
  nowMs: number;
  localIsn: number | undefined;
  localPort: number | undefined;
  /** Frames no `>` line took (only with allowUnconsumedOutput; else they fail the script). */
  unconsumed: SentFrame[];
}

/**
 * Runs `script` (source text, or parseScript's events) against `target` and returns when every
 * line passed; throws ScriptError naming the first line that failed (ScriptConfigError for a
 * bad config). `calls` holds the functions `call` lines name.
 *
 * The clock: each line has a time T (and a `>` line a window T ± toleranceMs). Before a `<` or
 * `call` line the runner polls the target at each nextDeadline() up to T, then at T; the event
 * runs at T; then the target is polled at T once more, so a target that transmits only from
 * poll() gets to answer. A `>` line takes the oldest frame not yet taken, polling deadlines
 * within its window until one appears. Frames are checked in the order sent, so a frame fails
 * as unexpected when it reaches a `>` line that does not describe it, when a `<` or `call`
 * line's time passes it (beyond the tolerance) with no `>` line having taken it, or at the end.
 */
export function runScript(
  script: string | readonly ScriptEvent[],
  target: ScriptTarget,
  config: ScriptConfig,
  calls: Readonly<Record<string, ScriptCall>> = {},
): ScriptResult {
  const events = typeof script === 'string' ? parseScript(script) : script;
  return new ScriptRunner(events, target, resolveConfig(config), calls).run();
}

/** Polls at one virtual time beyond this count mean the target never clears its deadline. */
const MAX_POLLS_AT_ONE_TIME = 1000;
/** Timers run past a `>` line's window to say what came late instead of only "nothing came". */
const LATE_PEEK_TIMERS = 64;

/** Virtual times are whole microseconds, so that sums of script times compare exactly. */
function roundUs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

interface Window {
  /** The line's time; `lo`..`hi` is what it accepts (tolerance and range included). */
  at: number;
  lo: number;
  hi: number;
}

class ScriptRunner {
  readonly #events: readonly ScriptEvent[];
  readonly #target: ScriptTarget;
  readonly #cfg: ResolvedConfig;
  readonly #calls: Readonly<Record<string, ScriptCall>>;
  #now: number;
  /** Where a `+` time counts from: the previous line's time (or, for `*` and ranges, its frame's). */
  #lastEventMs: number;
  /** Sent and not yet taken by a `>` line, oldest first. */
  readonly #queue: SentFrame[] = [];
  #localIsn: number | undefined;
  #localPort: number | undefined;
  /** The stack's latest TS val, which `<` lines echo with `ecr *`. */
  #lastTsval: number | undefined;
  #lastOutbound: DecodedTcpFrame | undefined;
  /** The line being run: the poll loop's errors name it. */
  #event: ScriptEvent | undefined;

  constructor(
    events: readonly ScriptEvent[],
    target: ScriptTarget,
    cfg: ResolvedConfig,
    calls: Readonly<Record<string, ScriptCall>>,
  ) {
    this.#events = events;
    this.#target = target;
    this.#cfg = cfg;
    this.#calls = calls;
    this.#now = cfg.startMs;
    this.#lastEventMs = cfg.startMs;
    this.#localPort = cfg.localPort;
  }

  run(): ScriptResult {
    // Before anything runs: a typo in a call name should not cost a half-run stack.
    for (const e of this.#events) {
      if (e.kind === 'call' && !Object.hasOwn(this.#calls, e.name)) {
        const names = Object.keys(this.#calls).join(', ') || 'none';
        fail(e, `no call named "${e.name}"; the test supplies: ${names}`);
      }
    }
    for (const e of this.#events) {
      this.#event = e;
      if (e.kind === 'expect') this.#expect(e);
      else this.#act(e);
    }
    const last = this.#events.at(-1);
    if (last !== undefined && this.#queue.length > 0 && !this.#cfg.allowUnconsumedOutput) {
      throw new ScriptError(
        last.line,
        last.text,
        `unexpected packet after the last line: the stack sent ${this.#queue.length} more`,
        this.#queue.map((s) => this.#actualLine(s)),
      );
    }
    return {
      nowMs: this.#now,
      localIsn: this.#localIsn,
      localPort: this.#localPort,
      unconsumed: this.#queue.splice(0),
    };
  }

  #window(e: ScriptEvent): Window {
    const t = e.time;
    if (t.kind === 'any') return { at: this.#lastEventMs, lo: -Infinity, hi: Infinity };
    const base = t.kind === 'relative' ? this.#lastEventMs : this.#cfg.startMs;
    const at = roundUs(base + t.ms);
    if (at < this.#lastEventMs) {
      fail(
        e,
        `time ${this.#secs(at)} s is before the previous line's ${this.#secs(this.#lastEventMs)} s`,
      );
    }
    const tol = this.#cfg.toleranceMs;
    return { at, lo: roundUs(at - tol), hi: roundUs(base + (t.endMs ?? t.ms) + tol) };
  }

  /** A `<` or `call` line. */
  #act(e: InjectEvent | CallEvent): void {
    const w = this.#window(e);
    this.#runTimers(w.at, false);
    this.#pollAt(w.at);
    const stale = this.#queue[0];
    if (stale !== undefined && stale.timeMs < w.lo) {
      fail(
        e,
        `unexpected packet: the stack sent it at ${this.#secs(stale.timeMs)} s, and no ">" line before this one takes it`,
        [this.#actualLine(stale)],
      );
    }
    if (e.kind === 'inject') {
      this.#target.input(this.#injectedFrame(e), this.#now);
    } else {
      this.#call(e);
    }
    this.#pollAt(this.#now);
    this.#lastEventMs = w.at;
  }

  /** A `>` line. */
  #expect(e: ExpectEvent): void {
    const w = this.#window(e);
    const sent = this.#take(w.hi);
    const tol = `tolerance ${this.#cfg.toleranceMs} ms`;
    if (sent === undefined) {
      const late = this.#peekLate();
      if (late === undefined) {
        const by = Number.isFinite(w.hi) ? `by ${this.#secs(w.hi)} s (${tol})` : 'at all';
        fail(e, `missing: the stack sent nothing ${by}`, [this.#expectedLine(e, w)]);
      }
      const d = decodeFrame(late.frame);
      const diff = d.kind === 'tcp' ? this.#differences(e.segment, d) : [];
      fail(
        e,
        `too late: sent at ${this.#secs(late.timeMs)} s, expected by ${this.#secs(w.hi)} s (${tol})${andDiffers(diff)}`,
        [this.#expectedLine(e, w), this.#actualLine(late)],
      );
    }
    const lines = (): string[] => [this.#expectedLine(e, w), this.#actualLine(sent)];
    const d = decodeFrame(sent.frame);
    if (d.kind === 'other') fail(e, 'unexpected packet: not a TCP segment', lines());
    const diff = this.#differences(e.segment, d);
    if (sent.timeMs < w.lo) {
      fail(
        e,
        `too early: sent at ${this.#secs(sent.timeMs)} s, expected at ${this.#secs(w.at)} s (${tol})${andDiffers(diff)}`,
        lines(),
      );
    }
    const bad = this.#frameProblems(d);
    if (bad.length > 0) fail(e, `bad frame: ${bad.join('; ')}`, lines());
    if (diff.length > 0) fail(e, `wrong segment: ${diff.join(', ')}`, lines());
    this.#lastOutbound = d;
    for (const o of d.options) {
      if (o.kind === 'TS' && typeof o.val === 'number') this.#lastTsval = o.val;
    }
    // A `*` line may take a frame queued before the previous line ran: time never runs back.
    const matchedAt = Math.max(this.#lastEventMs, sent.timeMs);
    this.#lastEventMs = e.time.kind === 'any' || e.time.endMs !== undefined ? matchedAt : w.at;
  }

  /** The oldest frame not yet taken, polling the target up to `hi` for one if there is none. */
  #take(hi: number): SentFrame | undefined {
    if (this.#queue.length === 0 && !this.#runTimers(hi, true) && Number.isFinite(hi)) {
      this.#pollAt(hi);
    }
    return this.#queue.shift();
  }

  /**
   * Polls the target at each of its deadlines up to `until`. Returns true when it stopped
   * because a poll produced output (only with `stopOnOutput`).
   */
  #runTimers(until: number, stopOnOutput: boolean): boolean {
    let polls = 0;
    let at = this.#now;
    for (;;) {
      const d = this.#target.nextDeadline();
      if (!(d <= until)) return false;
      const t = Math.max(d, this.#now);
      polls = t === at ? polls + 1 : 1;
      at = t;
      if (polls > MAX_POLLS_AT_ONE_TIME) {
        const e = this.#event!;
        fail(
          e,
          `the target's nextDeadline() stays at ${this.#secs(d)} s after ${MAX_POLLS_AT_ONE_TIME} polls at ${this.#secs(t)} s; poll() must run or move what is due`,
        );
      }
      this.#now = t;
      this.#target.poll(t);
      if (this.#collect() && stopOnOutput) return true;
    }
  }

  /** After a `>` line found nothing in its window: the next frame some later timer sends, if any. */
  #peekLate(): SentFrame | undefined {
    for (let i = 0; i < LATE_PEEK_TIMERS; i++) {
      const d = this.#target.nextDeadline();
      if (!Number.isFinite(d)) return undefined;
      this.#pollAt(d);
      if (this.#queue.length > 0) return this.#queue.shift();
    }
    return undefined;
  }

  #pollAt(t: number): void {
    this.#now = Math.max(this.#now, t);
    this.#target.poll(this.#now);
    this.#collect();
  }

  #collect(): boolean {
    let any = false;
    for (const frame of this.#target.takeOutput()) {
      const arp = frame.length >= ETH_HEADER_LEN && ethType(frame, 0) === ETHERTYPE_ARP;
      if (arp && this.#cfg.ignoreArp) continue;
      this.#queue.push({ timeMs: this.#now, frame });
      any = true;
    }
    return any;
  }

  #seqBase(): number {
    return this.#cfg.absoluteSeq ? 0 : (this.#localIsn ?? 0);
  }

  #ackBase(): number {
    return this.#cfg.absoluteSeq ? 0 : this.#cfg.remoteIsn;
  }

  /** How `sent` differs from `want`, as "seq 2 (expected 1)" items. Learns the stack's ISN. */
  #differences(want: SegmentSpec, d: DecodedTcpFrame): string[] {
    if (
      !this.#cfg.absoluteSeq &&
      this.#localIsn === undefined &&
      (want.flags & FLG_SYN) !== 0 &&
      (d.flags & FLG_SYN) !== 0
    ) {
      this.#localIsn = (d.seq - want.seq) >>> 0;
    }
    const got = segmentOf(d, this.#seqBase(), this.#ackBase());
    const diff: string[] = [];
    const check = (what: string, g: number | string, w: number | string | undefined): void => {
      if (w !== undefined && g !== w) diff.push(`${what} ${g} (expected ${w})`);
    };
    check('flags', formatFlags(got.flags), formatFlags(want.flags));
    check('seq', got.seq, want.seq);
    check('length', got.len, want.len);
    // Without ACK the field means nothing, and the flags already differ.
    if ((d.flags & FLG_ACK) !== 0) check('ack', (d.ack - this.#ackBase()) >>> 0, want.ack);
    check('win', d.window, want.win);
    check('urg', d.urgent, want.urg);
    const wantOpts = want.options;
    const gotOpts = got.options ?? [];
    if (
      wantOpts !== undefined &&
      (wantOpts.length !== gotOpts.length || wantOpts.some((o, i) => !optionMatches(o, gotOpts[i])))
    ) {
      const fmt = (l: readonly TcpOptionSpec[]): string => `<${l.map(formatOption).join(',')}>`;
      diff.push(`options ${fmt(gotOpts)} (expected ${fmt(wantOpts)})`);
    }
    return diff;
  }

  /** Wire-level faults and addresses that are not the configured ones. Learns the local port. */
  #frameProblems(d: DecodedTcpFrame): string[] {
    const c = this.#cfg;
    const p = [...d.problems];
    const mac = (what: string, got: number, want: number): void => {
      if (got !== want) p.push(`${what} ${macToString(got)} (expected ${macToString(want)})`);
    };
    const ip = (what: string, got: number, want: number): void => {
      if (got !== want) p.push(`${what} ${ipv4ToString(got)} (expected ${ipv4ToString(want)})`);
    };
    const port = (what: string, got: number, want: number): void => {
      if (got !== want) p.push(`${what} ${got} (expected ${want})`);
    };
    mac('Ethernet source', d.ethSrc, c.localMac);
    mac('Ethernet destination', d.ethDst, c.remoteMac);
    ip('IPv4 source', d.ipSrc, c.localIp);
    ip('IPv4 destination', d.ipDst, c.remoteIp);
    this.#localPort ??= d.srcPort;
    port('source port', d.srcPort, this.#localPort);
    port('destination port', d.dstPort, c.remotePort);
    return p;
  }

  #injectedFrame(e: InjectEvent): Uint8Array {
    const c = this.#cfg;
    if (this.#localPort === undefined) {
      fail(
        e,
        "the stack's port is not known yet: set ScriptConfig.localPort, or let the stack send first",
      );
    }
    const s = e.segment;
    const seq = (s.seq + this.#ackBase()) >>> 0;
    const syn = (s.flags & FLG_SYN) !== 0 ? 1 : 0;
    const options = shiftSack(s.options ?? [], this.#seqBase()).map((o) =>
      o.kind === 'TS' && o.ecr === '*' ? { ...o, ecr: this.#lastTsval ?? 0 } : o,
    );
    try {
      return buildTcpFrame({
        srcMac: c.remoteMac,
        dstMac: c.localMac,
        srcIp: c.remoteIp,
        dstIp: c.localIp,
        srcPort: c.remotePort,
        dstPort: this.#localPort,
        seq,
        ack: s.ack === undefined ? 0 : (s.ack + this.#seqBase()) >>> 0,
        flags: s.flags,
        window: s.win ?? c.remoteWindow,
        urgent: s.urg ?? 0,
        options,
        payload: fillerBytes((seq - c.remoteIsn + syn) >>> 0, s.len),
      });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new ScriptError(e.line, e.text, `cannot build this segment: ${why}`, [], {
        cause: err,
      });
    }
  }

  #call(e: CallEvent): void {
    const ctx: ScriptContext = {
      line: e.line,
      nowMs: this.#now,
      remoteIsn: this.#cfg.remoteIsn,
      localIsn: this.#localIsn,
      localPort: this.#localPort,
      remotePort: this.#cfg.remotePort,
      lastOutbound: this.#lastOutbound,
    };
    try {
      this.#calls[e.name](e.args, ctx);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new ScriptError(e.line, e.text, `call ${e.name} failed: ${why}`, [], { cause: err });
    }
  }

  #secs(ms: number): string {
    return formatSeconds(ms - this.#cfg.startMs);
  }

  #expectedLine(e: ExpectEvent, w: Window): string {
    const t = e.time;
    const tol = this.#cfg.toleranceMs;
    let time = '*';
    if (t.kind !== 'any') {
      time = this.#secs(w.at);
      if (t.endMs !== undefined) time += `~${this.#secs(w.hi - tol)}`;
    }
    return `expected: ${time} > ${formatSegment(e.segment)}`;
  }

  #actualLine(s: SentFrame): string {
    const d = decodeFrame(s.frame);
    const what =
      d.kind === 'tcp' ? formatSegment(segmentOf(d, this.#seqBase(), this.#ackBase())) : d.summary;
    return `actual:   ${this.#secs(s.timeMs)} > ${what}`;
  }
}

function andDiffers(diff: readonly string[]): string {
  return diff.length === 0 ? '' : `, and ${diff.join(', ')}`;
}
