import {
  ARP_OP_REQUEST,
  arpEmit,
  ETHERTYPE_ARP,
  ethernetEmit,
  FLG_ACK,
  FLG_CWR,
  FLG_ECE,
  FLG_FIN,
  FLG_PSH,
  FLG_RST,
  FLG_SYN,
  FLG_URG,
  ipv4VerifyChecksum,
  MAC_BROADCAST,
  parseTcp,
  verifyTcpIpv4,
} from '@bypass/net';
import { describe, expect, it } from 'vitest';
import {
  buildTcpFrame,
  DEFAULT_REMOTE_ISN,
  DEFAULT_REMOTE_PORT,
  type DecodedTcpFrame,
  decodeFrame,
  decodeTcpOptions,
  encodeTcpOptions,
  fillerBytes,
  formatEvent,
  formatSeconds,
  parseScript,
  runScript,
  type ScriptCall,
  type ScriptConfig,
  ScriptConfigError,
  type ScriptContext,
  ScriptError,
  type ScriptEvent,
  type ScriptTarget,
  type TcpOptionSpec,
} from './script.js';

const LOCAL_MAC = 0x0200_0000_0001;
const REMOTE_MAC = 0x0200_0000_0002;
const LOCAL_IP = 0x0a00_0001; // 10.0.0.1
const REMOTE_IP = 0x0a00_0002; // 10.0.0.2
const LOCAL_PORT = 8080;
const CONFIG: ScriptConfig = {
  localMac: LOCAL_MAC,
  localIp: LOCAL_IP,
  remoteMac: REMOTE_MAC,
  remoteIp: REMOTE_IP,
  localPort: LOCAL_PORT,
};

/** The message a ScriptError thrown by `f` carries (fails the test if `f` does not throw one). */
function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ScriptError);
    return (err as ScriptError).message;
  }
  throw new Error('expected a ScriptError');
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// Parser

describe('parseScript', () => {
  it('parses the three kinds of line with their line numbers, skipping comments and blanks', () => {
    const events = parseScript(
      [
        '// a handshake',
        '0     < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>',
        '',
        '+0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 3>  // the answer',
        '+.1   < . 1:1(0) ack 1 win 257',
        '+0    call write 1000 "two words" "a // b"',
      ].join('\n'),
    );
    expect(events).toEqual<ScriptEvent[]>([
      {
        kind: 'inject',
        line: 2,
        text: '0     < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>',
        time: { kind: 'absolute', ms: 0 },
        segment: {
          flags: FLG_SYN,
          seq: 0,
          len: 0,
          win: 65535,
          options: [
            { kind: 'mss', value: 1460 },
            { kind: 'sackOK' },
            { kind: 'TS', val: 100, ecr: 0 },
            { kind: 'nop' },
            { kind: 'wscale', shift: 7 },
          ],
        },
      },
      {
        kind: 'expect',
        line: 4,
        text: '+0    > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 3>',
        time: { kind: 'relative', ms: 0 },
        segment: {
          flags: FLG_SYN | FLG_ACK,
          seq: 0,
          len: 0,
          ack: 1,
          win: 65535,
          options: [{ kind: 'mss', value: 1460 }, { kind: 'nop' }, { kind: 'wscale', shift: 3 }],
        },
      },
      {
        kind: 'inject',
        line: 5,
        text: '+.1   < . 1:1(0) ack 1 win 257',
        time: { kind: 'relative', ms: 100 },
        segment: { flags: FLG_ACK, seq: 1, len: 0, ack: 1, win: 257 },
      },
      {
        kind: 'call',
        line: 6,
        text: '+0    call write 1000 "two words" "a // b"',
        time: { kind: 'relative', ms: 0 },
        name: 'write',
        args: ['1000', 'two words', 'a // b'],
      },
    ]);
  });

  it.each([
    ['F', FLG_FIN],
    ['S', FLG_SYN],
    ['R', FLG_RST],
    ['P', FLG_PSH],
    ['.', FLG_ACK],
    ['U', FLG_URG],
    ['E', FLG_ECE],
    ['W', FLG_CWR],
    ['S.', FLG_SYN | FLG_ACK],
    ['F.', FLG_FIN | FLG_ACK],
    ['R.', FLG_RST | FLG_ACK],
    ['P.', FLG_PSH | FLG_ACK],
    ['FP.', FLG_FIN | FLG_PSH | FLG_ACK],
    ['SEW', FLG_SYN | FLG_ECE | FLG_CWR],
    ['S.E', FLG_SYN | FLG_ACK | FLG_ECE],
    ['-', 0],
  ])('flags %s', (word, flags) => {
    const [e] = parseScript(`0 > ${word} 0:0(0)`);
    expect(e.kind === 'expect' && e.segment.flags).toBe(flags);
  });

  it.each<[string, TcpOptionSpec]>([
    ['mss 536', { kind: 'mss', value: 536 }],
    ['wscale 14', { kind: 'wscale', shift: 14 }],
    ['wscale 255', { kind: 'wscale', shift: 255 }],
    ['sackOK', { kind: 'sackOK' }],
    [
      'sack 1:101 201:301',
      {
        kind: 'sack',
        blocks: [
          [1, 101],
          [201, 301],
        ],
      },
    ],
    ['TS val 4294967295 ecr 7', { kind: 'TS', val: 0xffff_ffff, ecr: 7 }],
    ['TS val * ecr 100', { kind: 'TS', val: '*', ecr: 100 }],
    ['TS val * ecr *', { kind: 'TS', val: '*', ecr: '*' }],
    ['nop', { kind: 'nop' }],
    ['eol', { kind: 'eol' }],
  ])('option %s', (text, option) => {
    const [e] = parseScript(`0 > . 1:1(0) ack 1 <${text}>`);
    expect(e.kind === 'expect' && e.segment.options).toEqual([option]);
  });

  it('tells "<>" (no options) from "<...>" and no list (not checked)', () => {
    const options = parseScript(
      ['0 > . 1:1(0) ack 1 <>', '0 > . 1:1(0) ack 1 <...>', '0 > . 1:1(0) ack 1'].join('\n'),
    ).map((e) => e.kind === 'expect' && e.segment.options);
    expect(options).toEqual([[], undefined, undefined]);
  });

  it.each([
    ['0', { kind: 'absolute', ms: 0 }],
    ['1.5', { kind: 'absolute', ms: 1500 }],
    ['0.300', { kind: 'absolute', ms: 300 }],
    ['.25', { kind: 'absolute', ms: 250 }],
    ['0.0005', { kind: 'absolute', ms: 0.5 }],
    ['+0', { kind: 'relative', ms: 0 }],
    ['+.1', { kind: 'relative', ms: 100 }],
    ['+2', { kind: 'relative', ms: 2000 }],
    ['*', { kind: 'any' }],
    ['0.1~0.2', { kind: 'absolute', ms: 100, endMs: 200 }],
    ['+0~+0.2', { kind: 'relative', ms: 0, endMs: 200 }],
  ])('time %s', (word, time) => {
    expect(parseScript(`${word} > . 1:1(0)`)[0].time).toEqual(time);
  });

  it('reads ack, win and urg in any order, and seq:end(len) across the 2^32 wrap', () => {
    const [e] = parseScript('0 < U. 4294967295:99(100) urg 5 win 10 ack 7');
    expect(e.kind === 'inject' && e.segment).toEqual({
      flags: FLG_URG | FLG_ACK,
      seq: 0xffff_ffff,
      len: 100,
      ack: 7,
      win: 10,
      urg: 5,
    });
  });

  it('prints every parsed line back in a form that parses to the same event', () => {
    const source = [
      '0 < SEW 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>',
      '+0.0105 > S.E 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 7,eol>',
      '0.1~0.25 > P. 1:1001(1000) ack 1 win 257 <nop,nop,TS val * ecr 100>',
      '* > F. 1001:1001(0) ack 1 <>',
      '+0~+0.2 > . 1001:1001(0) ack 1 <nop,nop,sack 1:101 201:301>',
      '+1 < - 5:5(0)',
      '+0 < U. 1:11(10) ack 1 urg 3',
      '+0 call write 10 "two words" ""',
    ].join('\n');
    const events = parseScript(source);
    expect(events.map(formatEvent)).toEqual([
      '0.000 < SEW 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>',
      '+0.0105 > S.E 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 7,eol>',
      '0.100~0.250 > P. 1:1001(1000) ack 1 win 257 <nop,nop,TS val * ecr 100>',
      '* > F. 1001:1001(0) ack 1 <>',
      '+0.000~+0.200 > . 1001:1001(0) ack 1 <nop,nop,sack 1:101 201:301>',
      '+1.000 < - 5:5(0)',
      '+0.000 < .U 1:11(10) ack 1 urg 3',
      '+0.000 call write 10 "two words" ""',
    ]);
    const again = parseScript(events.map(formatEvent).join('\n'));
    const strip = (e: ScriptEvent) => ({ ...e, text: '' });
    expect(again.map(strip)).toEqual(events.map(strip));
  });

  it.each([
    ['0 x S 0:0(0)', 'expected a time, then "<", ">" or "call"'],
    [
      'soon < S 0:0(0)',
      'bad time "soon": write seconds (1.5), +seconds (+0.2), a range (0.1~0.2) or * (any)',
    ],
    [
      '1~+2 > S 0:0(0)',
      'bad time range "1~+2": both ends absolute (0.1~0.2) or both relative (+0~+0.2)',
    ],
    ['2~1 > S 0:0(0)', 'bad time range "2~1": it ends before it starts'],
    ['* < S 0:0(0)', '"*" (any time) is only for ">" lines'],
    ['* call write', '"*" (any time) is only for ">" lines'],
    ['0~1 < S 0:0(0)', 'a time range is only for ">" lines'],
    ['0 < SX 0:0(0)', 'bad flags "SX": use F S R P . U E W (or - for none)'],
    ['0 < SS 0:0(0)', 'flag "S" given twice in "SS"'],
    ['0 <', 'expected flags, like S, S., P. or F.'],
    ['0 < S', 'expected seq:end(len) after the flags, like 1:1001(1000)'],
    ['0 < S 0:0', 'expected seq:end(len) after the flags, like 1:1001(1000)'],
    ['0 < P. 1:1001(100) ack 1', '1:1001(100): end - seq is 1000, not the length 100'],
    ['0 < S 4294967296:0(0)', 'seq 4294967296 is out of range (0 to 4294967295)'],
    ['0 < . 1:1(0) ack 1 win 65536', 'win 65536 is out of range (0 to 65535)'],
    ['0 < . 1:1(0) ack', 'ack needs a number, got nothing'],
    ['0 < . 1:1(0) ack x', 'ack needs a number, got "x"'],
    ['0 < . 1:1(0) ack 1 ack 2', '"ack" given twice'],
    [
      '0 < . 1:1(0) ack 1 wnd 5',
      'unknown "wnd": after seq:end(len) come ack N, win N, urg N, then <options>',
    ],
    ['0 < S 0:0(0) ack 1', 'ack 1 needs the ACK flag (".")'],
    ['0 < . 1:1(0)', 'an injected segment with the ACK flag needs ack N'],
    ['0 < S 0:0(0) <mss 1460> win 5', 'options go last, in one <...>'],
    ['0 < S 0:0(0) <...>', '"<...>" (options not checked) is only for ">" lines'],
    [
      '0 < S 0:0(0) <md5 1>',
      'unknown option "md5 1": use mss N, wscale N, sackOK, sack A:B ..., TS val N ecr N, nop, eol',
    ],
    [
      '0 < S 0:0(0) <mss>',
      'bad option "mss": use mss N, wscale N, sackOK, sack A:B ..., TS val N ecr N, nop, eol',
    ],
    ['0 < S 0:0(0) <mss 65536>', 'mss 65536 is out of range (0 to 65535)'],
    ['0 < S 0:0(0) <wscale 256>', 'wscale 256 is out of range (0 to 255)'],
    ['0 < S 0:0(0) <TS val 1>', 'bad option "TS val 1": write TS val N ecr N'],
    [
      '0 < S 0:0(0) <TS val * ecr 0>',
      '"TS val *" is only for ">" lines; an injected TS val is a number',
    ],
    ['0 < . 1:1(0) ack 1 <sack 1-5>', 'bad SACK block "1-5": write left:right, like 1001:2001'],
    ['0 < . 1:1(0) ack 1 <sack>', 'sack needs 1 to 4 blocks like 1001:2001'],
    ['0 < . 1:1(0) ack 1 <sack 1:2 3:4 5:6 7:8 9:10>', 'sack needs 1 to 4 blocks like 1001:2001'],
    ['0 call', 'call needs a function name, like "call write 1000"'],
    ['0 call 9lives', 'call needs a function name, like "call write 1000"'],
    ['0 call write "open', 'bad quoted argument "open'],
  ])('rejects %j', (line, summary) => {
    // A comment and a good line first, so the error must name line 3.
    const source = `// header\n0 > S 0:0(0)\n${line}`;
    expect(errorOf(() => parseScript(source))).toBe(`line 3: ${summary}\n  script:   ${line}`);
  });

  it('reports the first bad line and keeps its text without the comment', () => {
    const err = (() => {
      try {
        parseScript('0 > S 0:0(0)\n\n  +0 < Q 0:0(0)   // oops\n+0 < Z 0:0(0)');
      } catch (e) {
        return e as ScriptError;
      }
    })();
    expect(err).toBeInstanceOf(ScriptError);
    expect(err?.line).toBe(3);
    expect(err?.text).toBe('+0 < Q 0:0(0)');
    expect(err?.summary).toBe('bad flags "Q": use F S R P . U E W (or - for none)');
  });
});

describe('formatSeconds', () => {
  it('prints at least milliseconds and at most microseconds', () => {
    expect([0, 300, 1500, 10.5, 0.001, 123456.789].map(formatSeconds)).toEqual([
      '0.000',
      '0.300',
      '1.500',
      '0.0105',
      '0.000001',
      '123.456789',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Frames

describe('buildTcpFrame', () => {
  it('writes a SYN with options in the order given, byte for byte, with valid checksums', () => {
    const frame = buildTcpFrame({
      srcMac: REMOTE_MAC,
      dstMac: LOCAL_MAC,
      srcIp: REMOTE_IP,
      dstIp: LOCAL_IP,
      srcPort: 40000,
      dstPort: 8080,
      seq: 0x1000_0000,
      ack: 0,
      flags: FLG_SYN,
      window: 65535,
      options: [
        { kind: 'mss', value: 1460 },
        { kind: 'sackOK' },
        { kind: 'TS', val: 100, ecr: 0 },
        { kind: 'nop' },
        { kind: 'wscale', shift: 7 },
      ],
    });
    expect(frame.length).toBe(14 + 20 + 40);
    expect(ipv4VerifyChecksum(frame, 14)).toBe(true);
    expect(verifyTcpIpv4(frame, 14, 34, 40)).toBe(true);
    const zeroed = frame.slice();
    zeroed.fill(0, 24, 26); // IPv4 header checksum
    zeroed.fill(0, 34 + 16, 34 + 18); // TCP checksum
    expect(hex(zeroed)).toBe(
      [
        '020000000001 020000000002 0800',
        '4500 003c 0000 4000 40 06 0000 0a000002 0a000001',
        '9c40 1f90 10000000 00000000 a0 02 ffff 0000 0000',
        '020405b4 0402 080a0000006400000000 01 030307',
      ]
        .join('')
        .replaceAll(' ', ''),
    );
  });

  it('pads a short frame to the Ethernet minimum and carries its payload after the header', () => {
    const frame = buildTcpFrame({
      srcMac: REMOTE_MAC,
      dstMac: LOCAL_MAC,
      srcIp: REMOTE_IP,
      dstIp: LOCAL_IP,
      srcPort: 1,
      dstPort: 2,
      seq: 0xffff_fffe,
      ack: 0x8000_0001,
      flags: FLG_PSH | FLG_ACK,
      window: 257,
      urgent: 0,
      payload: Uint8Array.of(0xaa, 0xbb),
      ttl: 3,
      ident: 0x1234,
    });
    expect(frame.length).toBe(60);
    expect(ipv4VerifyChecksum(frame, 14)).toBe(true);
    expect(verifyTcpIpv4(frame, 14, 34, 22)).toBe(true);
    const zeroed = frame.slice();
    zeroed.fill(0, 24, 26);
    zeroed.fill(0, 50, 52);
    expect(hex(zeroed)).toBe(
      [
        '020000000001 020000000002 0800',
        '4500 002a 1234 4000 03 06 0000 0a000002 0a000001',
        '0001 0002 fffffffe 80000001 50 18 0101 0000 0000',
        'aabb 00000000',
      ]
        .join('')
        .replaceAll(' ', ''),
    );
    const parsed = parseTcp(frame, 34, 22);
    expect(parsed.ok && parsed.repr.payloadLength).toBe(2);
  });

  it('rejects what cannot be sent', () => {
    const base = {
      srcMac: REMOTE_MAC,
      dstMac: LOCAL_MAC,
      srcIp: REMOTE_IP,
      dstIp: LOCAL_IP,
      srcPort: 1,
      dstPort: 2,
      seq: 0,
      ack: 0,
      flags: 0,
      window: 0,
    };
    expect(() => buildTcpFrame({ ...base, srcPort: 65536 })).toThrow(
      'srcPort must be an integer from 0 to 65535; got 65536',
    );
    const sack: TcpOptionSpec = {
      kind: 'sack',
      blocks: [
        [1, 2],
        [3, 4],
      ],
    };
    expect(() =>
      buildTcpFrame({ ...base, options: [{ kind: 'TS', val: 1, ecr: 2 }, sack, sack] }),
    ).toThrow('options need 48 bytes; a TCP header holds 40');
    expect(() => encodeTcpOptions([{ kind: 'TS', val: '*', ecr: 2 }])).toThrow(
      'a TS option to send needs numbers',
    );
  });
});

describe('TCP options', () => {
  it('encode verbatim with zero padding and decode back, EOL ending the list', () => {
    const options: TcpOptionSpec[] = [
      { kind: 'mss', value: 1460 },
      { kind: 'wscale', shift: 7 },
      {
        kind: 'sack',
        blocks: [
          [1, 2],
          [3, 4],
        ],
      },
      { kind: 'eol' },
    ];
    const bytes = encodeTcpOptions(options);
    expect(hex(bytes)).toBe('020405b4030307051200000001000000020000000300000004000000');
    expect(decodeTcpOptions(bytes, 0, bytes.length)).toEqual({ options, malformedAt: -1 });
    expect(hex(encodeTcpOptions([{ kind: 'nop' }]))).toBe('01000000');
  });

  it('decode names unknown kinds and stops at a malformed option', () => {
    const bytes = Uint8Array.of(1, 30, 4, 0, 0, 2, 3, 5, 0xb4);
    expect(decodeTcpOptions(bytes, 0, bytes.length)).toEqual({
      options: [{ kind: 'nop' }, { kind: 'unknown', code: 30, length: 4 }],
      malformedAt: 5,
    });
  });
});

describe('fillerBytes', () => {
  it('is the low byte of the relative sequence number', () => {
    expect([...fillerBytes(254, 4)]).toEqual([254, 255, 0, 1]);
  });
});

// ---------------------------------------------------------------------------------------------
// Runner, against hand-written fakes.

/** A frame the fake stack sends, from the local addresses to the remote ones. */
function fromStack(
  f: Partial<Parameters<typeof buildTcpFrame>[0]> & { seq: number; flags: number },
): Uint8Array {
  return buildTcpFrame({
    srcMac: LOCAL_MAC,
    dstMac: REMOTE_MAC,
    srcIp: LOCAL_IP,
    dstIp: REMOTE_IP,
    srcPort: LOCAL_PORT,
    dstPort: DEFAULT_REMOTE_PORT,
    ack: 0,
    window: 29200,
    ...f,
  });
}

function arpRequest(): Uint8Array {
  const frame = new Uint8Array(60);
  ethernetEmit({ dst: MAC_BROADCAST, src: LOCAL_MAC, etherType: ETHERTYPE_ARP }, frame, 0);
  arpEmit(
    {
      operation: ARP_OP_REQUEST,
      senderHw: LOCAL_MAC,
      senderIp: LOCAL_IP,
      targetHw: 0,
      targetIp: REMOTE_IP,
    },
    frame,
    14,
  );
  return frame;
}

/** A target whose behaviour each test writes: it records inputs and polls and sends on timers. */
class FakeTarget implements ScriptTarget {
  readonly inputs: { now: number; seg: DecodedTcpFrame }[] = [];
  readonly polls: number[] = [];
  #timers: { at: number; frame: Uint8Array }[] = [];
  #out: Uint8Array[] = [];

  constructor(readonly onInput: (seg: DecodedTcpFrame, now: number, fake: FakeTarget) => void) {}

  input(frame: Uint8Array, now: number): void {
    const seg = decodeFrame(frame);
    if (seg.kind !== 'tcp') throw new Error('the runner injected a non-TCP frame');
    this.inputs.push({ now, seg });
    this.onInput(seg, now, this);
  }
  poll(now: number): void {
    this.polls.push(now);
    const due = this.#timers.filter((t) => t.at <= now);
    this.#timers = this.#timers.filter((t) => t.at > now);
    for (const t of due) this.#out.push(t.frame);
  }
  nextDeadline(): number {
    return Math.min(Infinity, ...this.#timers.map((t) => t.at));
  }
  takeOutput(): Uint8Array[] {
    return this.#out.splice(0);
  }
  send(frame: Uint8Array): void {
    this.#out.push(frame);
  }
  sendAt(at: number, frame: Uint8Array): void {
    this.#timers.push({ at, frame });
  }
}

const ISN = 5000;

interface ListenerBugs {
  /** When the SYN-ACK leaves after the SYN (default 10 ms). */
  delayMs?: number;
  /** Added to the sequence number of its data. */
  seqSlip?: number;
  /** Answers the handshake's ACK with a pure ACK of its own. */
  spuriousAck?: boolean;
}

/**
 * A listener: answers a SYN with a SYN-ACK (ISN 5000, window 29200, <mss 1460,nop,wscale 7>),
 * and sends `n` bytes for `call write n`; `bugs` make it misbehave for the runner to catch.
 */
function listener(bugs: ListenerBugs = {}) {
  let rcvNxt = 0;
  let sndNxt = ISN + 1;
  const onInput = (seg: DecodedTcpFrame, now: number, f: FakeTarget): void => {
    if ((seg.flags & FLG_SYN) !== 0) {
      rcvNxt = seg.seq + 1;
      f.sendAt(
        now + (bugs.delayMs ?? 10),
        fromStack({
          seq: ISN,
          ack: rcvNxt,
          flags: FLG_SYN | FLG_ACK,
          options: [{ kind: 'mss', value: 1460 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }],
        }),
      );
      return;
    }
    rcvNxt = Math.max(rcvNxt, seg.seq + seg.payload.length);
    if (bugs.spuriousAck && seg.flags === FLG_ACK) {
      f.send(fromStack({ seq: sndNxt, ack: rcvNxt, flags: FLG_ACK }));
    }
  };
  const fake = new FakeTarget(onInput);
  const calls: Record<string, ScriptCall> = {
    write: ([n]) => {
      const len = Number(n);
      fake.send(
        fromStack({
          seq: sndNxt + (bugs.seqSlip ?? 0),
          ack: rcvNxt,
          flags: FLG_PSH | FLG_ACK,
          payload: new Uint8Array(len),
        }),
      );
      sndNxt += len;
    },
  };
  return { fake, calls, onInput };
}

const HANDSHAKE = [
  '0    < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>',
  '+.01 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
  '+0   < . 1:1(0) ack 1 win 257',
];

describe('runScript', () => {
  it('passes a handshake and a write, injecting relative numbers as absolute ones', () => {
    const { fake, calls } = listener();
    const result = runScript(
      [
        ...HANDSHAKE,
        '+0   < P. 1:101(100) ack 1',
        '+0   call write 1000',
        '+0   > P. 1:1001(1000) ack 101',
      ].join('\n'),
      fake,
      CONFIG,
      calls,
    );
    expect(result).toEqual({ nowMs: 10, localIsn: ISN, localPort: LOCAL_PORT, unconsumed: [] });
    expect(
      fake.inputs.map((i) => [i.now, i.seg.flags, i.seg.seq, i.seg.ack, i.seg.window]),
    ).toEqual([
      [0, FLG_SYN, DEFAULT_REMOTE_ISN, 0, 65535],
      [10, FLG_ACK, DEFAULT_REMOTE_ISN + 1, ISN + 1, 257],
      [10, FLG_PSH | FLG_ACK, DEFAULT_REMOTE_ISN + 1, ISN + 1, 65535],
    ]);
    const syn = fake.inputs[0].seg;
    expect([syn.srcPort, syn.dstPort, syn.ethSrc, syn.ipDst, syn.problems]).toEqual([
      DEFAULT_REMOTE_PORT,
      LOCAL_PORT,
      REMOTE_MAC,
      LOCAL_IP,
      [],
    ]);
    expect(fake.inputs[2].seg.payload).toEqual(fillerBytes(1, 100));
    // Each deadline, each event's time, and once more after each event.
    expect(fake.polls).toEqual([0, 0, 10, 10, 10, 10, 10, 10, 10]);
  });

  it('fails a segment with the wrong seq, printing expected and actual', () => {
    const { fake, calls } = listener({ seqSlip: 1 });
    const script = [...HANDSHAKE, '+0   call write 1000', '+0   > P. 1:1001(1000) ack 1'];
    expect(errorOf(() => runScript(script.join('\n'), fake, CONFIG, calls))).toBe(
      [
        'line 5: wrong segment: seq 2 (expected 1)',
        '  script:   +0   > P. 1:1001(1000) ack 1',
        '  expected: 0.010 > P. 1:1001(1000) ack 1',
        '  actual:   0.010 > P. 2:1002(1000) ack 1 win 29200',
      ].join('\n'),
    );
  });

  it('lists every field that differs, options in order', () => {
    const { fake } = listener();
    const script = [HANDSHAKE[0], '+.01 > S. 0:0(0) ack 2 win 1000 <mss 1460,wscale 7,nop>'];
    expect(errorOf(() => runScript(script.join('\n'), fake, CONFIG))).toBe(
      [
        'line 2: wrong segment: ack 1 (expected 2), win 29200 (expected 1000), options <mss 1460,nop,wscale 7> (expected <mss 1460,wscale 7,nop>)',
        '  script:   +.01 > S. 0:0(0) ack 2 win 1000 <mss 1460,wscale 7,nop>',
        '  expected: 0.010 > S. 0:0(0) ack 2 win 1000 <mss 1460,wscale 7,nop>',
        '  actual:   0.010 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
      ].join('\n'),
    );
  });

  it('fails a segment sent too early, and passes it within the tolerance', () => {
    const script = HANDSHAKE.join('\n');
    expect(errorOf(() => runScript(script, listener({ delayMs: 5 }).fake, CONFIG))).toBe(
      [
        'line 2: too early: sent at 0.005 s, expected at 0.010 s (tolerance 0 ms)',
        '  script:   +.01 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
        '  expected: 0.010 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
        '  actual:   0.005 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
      ].join('\n'),
    );
    const { fake } = listener({ delayMs: 5 });
    expect(runScript(script, fake, { ...CONFIG, toleranceMs: 5 }).nowMs).toBe(10);
    // The ACK goes in at the line's time, not the frame's.
    expect(fake.inputs.map((i) => i.now)).toEqual([0, 10]);
    // The window's edges: 5 ms early passes with 5 ms of tolerance, 6 ms early does not.
    const firstLine = (delayMs: number) =>
      errorOf(() =>
        runScript(script, listener({ delayMs }).fake, { ...CONFIG, toleranceMs: 5 }),
      ).split('\n')[0];
    expect(firstLine(4)).toBe(
      'line 2: too early: sent at 0.004 s, expected at 0.010 s (tolerance 5 ms)',
    );
    expect(firstLine(16)).toBe(
      'line 2: too late: sent at 0.016 s, expected by 0.015 s (tolerance 5 ms)',
    );
    expect(
      runScript(script, listener({ delayMs: 15 }).fake, { ...CONFIG, toleranceMs: 5 }).nowMs,
    ).toBe(15);
  });

  it('adds relative times in whole microseconds, so sums land on the deadline exactly', () => {
    const fake = new FakeTarget(() => {});
    fake.sendAt(0.3, fromStack({ seq: 1, flags: FLG_RST }));
    const ok = { ok: () => {} };
    const script = ['+.0001 call ok', '+.0001 call ok', '+.0001 > R 1:1(0)'].join('\n');
    expect(runScript(script, fake, CONFIG, ok).nowMs).toBe(0.3);
  });

  it('fails a segment sent too late, saying when it came', () => {
    const script = HANDSHAKE.join('\n');
    expect(errorOf(() => runScript(script, listener({ delayMs: 20 }).fake, CONFIG))).toBe(
      [
        'line 2: too late: sent at 0.020 s, expected by 0.010 s (tolerance 0 ms)',
        '  script:   +.01 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
        '  expected: 0.010 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
        '  actual:   0.020 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
      ].join('\n'),
    );
    expect(
      runScript(script, listener({ delayMs: 20 }).fake, { ...CONFIG, toleranceMs: 10 }).nowMs,
    ).toBe(20);
  });

  it('fails when nothing is sent at all', () => {
    const silent = new FakeTarget(() => {});
    expect(errorOf(() => runScript(HANDSHAKE.join('\n'), silent, CONFIG))).toBe(
      [
        'line 2: missing: the stack sent nothing by 0.010 s (tolerance 0 ms)',
        '  script:   +.01 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
        '  expected: 0.010 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
      ].join('\n'),
    );
  });

  it('fails an unexpected packet where a ">" line takes it', () => {
    const { fake, calls } = listener({ spuriousAck: true });
    const script = [...HANDSHAKE, '+0   call write 1000', '+0   > P. 1:1001(1000) ack 1'];
    expect(errorOf(() => runScript(script.join('\n'), fake, CONFIG, calls))).toBe(
      [
        'line 5: wrong segment: flags . (expected P.), length 0 (expected 1000)',
        '  script:   +0   > P. 1:1001(1000) ack 1',
        '  expected: 0.010 > P. 1:1001(1000) ack 1',
        '  actual:   0.010 > . 1:1(0) ack 1 win 29200',
      ].join('\n'),
    );
  });

  it('fails an unexpected packet once a later line passes it, and at the end', () => {
    const { fake } = listener();
    fake.sendAt(5, fromStack({ seq: 77, flags: FLG_RST }));
    expect(errorOf(() => runScript(HANDSHAKE.join('\n'), fake, CONFIG))).toBe(
      [
        'line 2: too early: sent at 0.005 s, expected at 0.010 s (tolerance 0 ms), and flags R (expected S.), seq 77 (expected 0), options <> (expected <mss 1460,nop,wscale 7>)',
        '  script:   +.01 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
        '  expected: 0.010 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
        '  actual:   0.005 > R 77:77(0) win 29200',
      ].join('\n'),
    );

    const late = listener();
    late.fake.sendAt(15, fromStack({ seq: ISN + 1, flags: FLG_RST }));
    const script = [...HANDSHAKE, '+.01 < . 1:1(0) ack 1'].join('\n');
    expect(errorOf(() => runScript(script, late.fake, CONFIG))).toBe(
      [
        'line 4: unexpected packet: the stack sent it at 0.015 s, and no ">" line before this one takes it',
        '  script:   +.01 < . 1:1(0) ack 1',
        '  actual:   0.015 > R 1:1(0) win 29200',
      ].join('\n'),
    );

    const end = listener({ spuriousAck: true });
    expect(errorOf(() => runScript(HANDSHAKE.join('\n'), end.fake, CONFIG))).toBe(
      [
        'line 3: unexpected packet after the last line: the stack sent 1 more',
        '  script:   +0   < . 1:1(0) ack 1 win 257',
        '  actual:   0.010 > . 1:1(0) ack 1 win 29200',
      ].join('\n'),
    );
    const allowed = listener({ spuriousAck: true });
    const result = runScript(HANDSHAKE.join('\n'), allowed.fake, {
      ...CONFIG,
      allowUnconsumedOutput: true,
    });
    expect(result.unconsumed.map((s) => s.timeMs)).toEqual([10]);
  });

  it('accepts a frame sent within a time range or at any time, and counts "+" from it', () => {
    const script = [
      HANDSHAKE[0],
      '0.005~0.05 > S. 0:0(0) ack 1',
      '+0 < . 1:1(0) ack 1',
      '+0 call write 10',
      '* > P. 1:11(10) ack 1',
    ].join('\n');
    const { fake, calls } = listener({ delayMs: 30 });
    expect(runScript(script, fake, CONFIG, calls).nowMs).toBe(30);
    expect(fake.inputs.map((i) => i.now)).toEqual([0, 30]);
  });

  it('checks the addresses, ports and checksums of what the stack sends', () => {
    const bad = fromStack({ seq: ISN, flags: FLG_SYN, srcMac: 0x0200_0000_0009, dstPort: 9 });
    bad[34 + 4] ^= 0xff; // corrupt the seq after the checksum was computed
    const fake = new FakeTarget(() => {});
    fake.sendAt(0, bad);
    expect(errorOf(() => runScript('0 > S 0:0(0)', fake, CONFIG))).toBe(
      [
        'line 1: bad frame: bad TCP checksum; Ethernet source 02:00:00:00:00:09 (expected 02:00:00:00:00:01); destination port 9 (expected 40000)',
        '  script:   0 > S 0:0(0)',
        '  expected: 0.000 > S 0:0(0)',
        '  actual:   0.000 > S 0:0(0) win 29200',
      ].join('\n'),
    );
  });

  it('ignores ARP by default, and fails on it with ignoreArp false', () => {
    const arping = () => {
      const { onInput } = listener();
      return new FakeTarget((seg, now, f) => {
        f.send(arpRequest());
        onInput(seg, now, f);
      });
    };
    expect(runScript(HANDSHAKE.join('\n'), arping(), CONFIG).nowMs).toBe(10);
    expect(
      errorOf(() => runScript(HANDSHAKE.join('\n'), arping(), { ...CONFIG, ignoreArp: false })),
    ).toBe(
      [
        'line 2: unexpected packet: not a TCP segment',
        '  script:   +.01 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
        '  expected: 0.010 > S. 0:0(0) ack 1 win 29200 <mss 1460,nop,wscale 7>',
        '  actual:   0.000 > ARP request who-has 10.0.0.2 tell 10.0.0.1',
      ].join('\n'),
    );
  });

  it('learns the port and ISN of a connecting stack and echoes its TS val with "ecr *"', () => {
    const tsval = 0xdead_beef;
    let synAck: DecodedTcpFrame | undefined;
    const client = new FakeTarget((seg, _now, f) => {
      synAck = seg;
      f.send(fromStack({ srcPort: 49152, seq: 777_001, ack: seg.seq + 1, flags: FLG_ACK }));
    });
    const contexts: ScriptContext[] = [];
    const calls: Record<string, ScriptCall> = {
      connect: (_args, ctx) => {
        contexts.push(ctx);
        client.send(
          fromStack({
            srcPort: 49152,
            seq: 777_000,
            flags: FLG_SYN,
            options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'TS', val: tsval, ecr: 0 }],
          }),
        );
      },
      check: (_args, ctx) => {
        contexts.push(ctx);
      },
    };
    const result = runScript(
      [
        '0 call connect',
        '+0 > S 0:0(0) <nop,nop,TS val * ecr 0>',
        '+.05 < S. 0:0(0) ack 1 <nop,nop,TS val 9 ecr *>',
        '+0 > . 1:1(0) ack 1',
        '+0 call check',
      ].join('\n'),
      client,
      { ...CONFIG, localPort: undefined, remoteIsn: 0xffff_fff0, startMs: 1000 },
      calls,
    );
    expect(result).toEqual({ nowMs: 1050, localIsn: 777_000, localPort: 49152, unconsumed: [] });
    expect(synAck?.options[2]).toEqual({ kind: 'TS', val: 9, ecr: tsval });
    expect([synAck?.seq, synAck?.ack, synAck?.dstPort]).toEqual([0xffff_fff0, 777_001, 49152]);
    expect(contexts.map((c) => [c.line, c.nowMs, c.localIsn, c.localPort])).toEqual([
      [1, 1000, undefined, undefined],
      [5, 1050, 777_000, 49152],
    ]);
    expect(contexts[1].lastOutbound?.ack).toBe(0xffff_fff1);
  });

  it('takes every number as absolute with absoluteSeq', () => {
    const { fake } = listener();
    const script = [
      `0 < S ${DEFAULT_REMOTE_ISN}:${DEFAULT_REMOTE_ISN}(0)`,
      `+.01 > S. ${ISN}:${ISN}(0) ack ${DEFAULT_REMOTE_ISN + 1}`,
      `+0 < . ${DEFAULT_REMOTE_ISN + 1}:${DEFAULT_REMOTE_ISN + 1}(0) ack ${ISN + 1}`,
    ];
    const result = runScript(script.join('\n'), fake, { ...CONFIG, absoluteSeq: true });
    expect(result.localIsn).toBe(undefined);
    expect(fake.inputs.map((i) => [i.seg.seq, i.seg.ack])).toEqual([
      [DEFAULT_REMOTE_ISN, 0],
      [DEFAULT_REMOTE_ISN + 1, ISN + 1],
    ]);
  });

  it('fails a call that throws, a call nobody supplied, and times that go back', () => {
    const calls: Record<string, ScriptCall> = {
      boom: () => {
        throw new Error('state is LISTEN, expected CLOSED');
      },
    };
    const fake = () => new FakeTarget(() => {});
    expect(errorOf(() => runScript('0.5 call boom', fake(), CONFIG, calls))).toBe(
      'line 1: call boom failed: state is LISTEN, expected CLOSED\n  script:   0.5 call boom',
    );
    const target = fake();
    expect(errorOf(() => runScript('0 call boom\n1 call nope', target, CONFIG, calls))).toBe(
      'line 2: no call named "nope"; the test supplies: boom\n  script:   1 call nope',
    );
    expect(target.polls).toEqual([]);
    expect(
      errorOf(() => runScript('1 call ok\n0.5 call ok', fake(), CONFIG, { ok: () => {} })),
    ).toBe("line 2: time 0.500 s is before the previous line's 1.000 s\n  script:   0.5 call ok");
  });

  it('fails an injection before the local port is known', () => {
    const cfg = { ...CONFIG, localPort: undefined };
    expect(errorOf(() => runScript('0 < S 0:0(0)', new FakeTarget(() => {}), cfg))).toBe(
      "line 1: the stack's port is not known yet: set ScriptConfig.localPort, or let the stack send first\n  script:   0 < S 0:0(0)",
    );
  });

  it('stops a target whose deadline never moves', () => {
    const stuck = new FakeTarget(() => {});
    stuck.nextDeadline = () => 5;
    expect(errorOf(() => runScript('0.01 call ok', stuck, CONFIG, { ok: () => {} }))).toBe(
      "line 1: the target's nextDeadline() stays at 0.005 s after 1000 polls at 0.005 s; poll() must run or move what is due\n  script:   0.01 call ok",
    );
  });

  it('validates the config, naming the field', () => {
    const t = new FakeTarget(() => {});
    expect(() => runScript('', t, { ...CONFIG, localMac: -1 })).toThrow(
      new ScriptConfigError('localMac', -1, 'an integer from 0 to 281474976710655'),
    );
    expect(() => runScript('', t, { ...CONFIG, localPort: 0 })).toThrow(
      'ScriptConfig.localPort must be an integer from 1 to 65535, got 0',
    );
    expect(() => runScript('', t, { ...CONFIG, toleranceMs: -1 })).toThrow(
      'ScriptConfig.toleranceMs must be a finite number of ms, 0 or more, got -1',
    );
  });
});
