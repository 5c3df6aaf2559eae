import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  emitTcp,
  FLG_ACK,
  FLG_SYN,
  OPT_MSS,
  OPT_NOP,
  OPT_TIMESTAMP,
  OPTION_END,
  OPTION_MALFORMED,
  parseTcp,
  seqAdd,
  seqGe,
  seqGt,
  seqLe,
  seqLt,
  seqSub,
  setTcpAckNumber,
  setTcpSeqNumber,
  TcpEmitError,
  type TcpRepr,
  tcpAckNumber,
  tcpFirstOption,
  tcpHeaderLength,
  tcpNextOption,
  tcpOptionKind,
  tcpOptionLength,
  tcpOptMss,
  tcpOptTsval,
  tcpPayloadOffset,
  tcpReprHeaderLength,
  tcpSeqNumber,
} from './tcp.js';

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function parsed(b: Uint8Array, off = 0, len = b.length - off): TcpRepr {
  const r = parseTcp(b, off, len);
  if (!r.ok) throw new Error(`parse failed: ${r.reason} at ${r.at}`);
  return r.repr;
}

/** A SYN shaped like Linux's: MSS, SACK-permitted + timestamps, NOP + window scale. */
const linuxSyn: TcpRepr = {
  srcPort: 59518,
  dstPort: 8080,
  seq: 0x8b8b_1a23,
  ack: 0,
  flags: FLG_SYN,
  window: 64240,
  urgent: 0,
  options: {
    mss: 1460,
    sackPermitted: true,
    timestamp: { tsval: 0xd4f8_043f, tsecr: 0 },
    windowScale: 7,
  },
  payloadLength: 0,
};

describe('header and options', () => {
  it('emits a Linux SYN byte for byte and parses it back', () => {
    const b = new Uint8Array(4 + 40 + 3);
    expect(emitTcp(linuxSyn, b, 4)).toBe(40);
    expect(toHex(b.subarray(4, 44))).toBe(
      [
        'e87e 1f90', // ports 59518 -> 8080
        '8b8b1a23 00000000', // seq, ack
        'a002 faf0', // data offset 10 words, SYN, window 64240
        '0000 0000', // checksum (filled later), urgent
        '020405b4', // MSS 1460
        '0402 080a d4f8043f 00000000', // SACK-permitted, timestamps
        '01030307', // NOP, window scale 7
      ]
        .join('')
        .replace(/\s+/g, ''),
    );
    expect(parsed(b, 4, 40)).toEqual(linuxSyn);
    expect(tcpHeaderLength(b, 4)).toBe(40);
    expect(tcpPayloadOffset(b, 4)).toBe(44);
  });

  it('pads timestamps alone, SACK-permitted alone and SACK blocks with NOPs as Linux does', () => {
    const repr: TcpRepr = {
      ...linuxSyn,
      flags: FLG_ACK,
      options: { timestamp: { tsval: 1, tsecr: 2 }, sack: [[0x10, 0x20]] },
    };
    const b = new Uint8Array(60);
    const n = emitTcp(repr, b, 0);
    expect(toHex(b.subarray(20, n))).toBe('0101080a00000001000000020101050a0000001000000020');
    expect(parsed(b, 0, n)).toEqual(repr);

    const sp: TcpRepr = { ...linuxSyn, options: { sackPermitted: true } };
    expect(toHex(b.subarray(20, emitTcp(sp, b, 0)))).toBe('01010402');
    const none: TcpRepr = { ...linuxSyn, options: {} };
    expect(emitTcp(none, b, 0)).toBe(20);
    expect(b[12]).toBe(0x50);
  });

  it('walks options with the cursor without allocating a repr', () => {
    const b = new Uint8Array(40);
    emitTcp(linuxSyn, b, 0);
    const end = tcpHeaderLength(b, 0);
    const kinds: number[] = [];
    let o = tcpFirstOption(b, 0, end);
    for (; o >= 0; o = tcpNextOption(b, o, end)) kinds.push(tcpOptionKind(b, o));
    expect(o).toBe(OPTION_END);
    expect(kinds).toEqual([OPT_MSS, 4, OPT_TIMESTAMP, OPT_NOP, 3]);
    const mssAt = tcpFirstOption(b, 0, end);
    expect(tcpOptMss(b, mssAt)).toBe(1460);
    const tsAt = tcpNextOption(b, tcpNextOption(b, mssAt, end), end);
    expect(tcpOptTsval(b, tsAt)).toBe(0xd4f8043f);
  });

  it('reads and writes 32-bit fields as unsigned numbers', () => {
    const b = new Uint8Array(20);
    setTcpSeqNumber(b, 0, 0xffff_ffff);
    setTcpAckNumber(b, 0, 0x8000_0000);
    expect(tcpSeqNumber(b, 0)).toBe(0xffff_ffff);
    expect(tcpAckNumber(b, 0)).toBe(0x8000_0000);
  });

  it('rejects too many SACK blocks for the option space', () => {
    const b = new Uint8Array(80);
    const blocks: [number, number][] = [
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ];
    const four: TcpRepr = { ...linuxSyn, options: { sack: blocks } };
    expect(emitTcp(four, b, 0)).toBe(56);
    const withTs: TcpRepr = {
      ...linuxSyn,
      options: { sack: blocks, timestamp: { tsval: 1, tsecr: 1 } },
    };
    expect(() => emitTcp(withTs, b, 0)).toThrow(TcpEmitError);
    expect(() => emitTcp(linuxSyn, new Uint8Array(39), 0)).toThrow(/does not fit/);
  });
});

describe('malformed segments', () => {
  const base = (): Uint8Array => {
    const b = new Uint8Array(40);
    emitTcp({ ...linuxSyn, options: {} }, b, 0);
    b[12] = 0xa0; // 40-byte header: 20 bytes of options follow
    return b;
  };
  const reject = (b: Uint8Array, reason: string, at?: number, len = b.length): void => {
    const r = parseTcp(b, 0, len);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe(reason);
      if (at !== undefined) expect(r.at).toBe(at);
    }
  };

  it('reports short segments and bad data offsets', () => {
    reject(new Uint8Array(19), 'too-short');
    const b = base();
    b[12] = 0x40; // 16-byte header
    reject(b, 'bad-data-offset');
    b[12] = 0xf0; // 60-byte header in 40 bytes
    reject(b, 'bad-data-offset');
    b[12] = 0xa0;
    reject(b, 'bad-data-offset', undefined, 39);
  });

  it('reports option lengths below 2, past the header end, or wrong for the kind', () => {
    const b = base();
    b.set([OPT_NOP, OPT_MSS, 1], 20); // length 1
    reject(b, 'malformed-option', 21);
    b.set([OPT_MSS, 0], 20); // length 0: would loop forever if walked naively
    reject(b, 'malformed-option', 20);
    const c = base();
    c.set([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x1e, 4], 20); // runs past end
    reject(c, 'malformed-option', 38);
    c[38] = OPT_NOP;
    c[39] = OPT_MSS; // kind without its length byte
    reject(c, 'malformed-option', 39);
    const d = base();
    d.set([OPT_MSS, 5, 5, 0xb4, 0], 20); // MSS must be 4 bytes
    reject(d, 'malformed-option', 20);
    d.set([5, 6, 0, 0, 0, 0], 20); // SACK with no whole block
    reject(d, 'malformed-option', 20);
    const cursor = tcpFirstOption(c, 0, 40);
    let o = cursor;
    while (o >= 0) o = tcpNextOption(c, o, 40);
    expect(o).toBe(OPTION_MALFORMED);
  });

  it('stops at EOL and skips unknown kinds', () => {
    const b = base();
    b.set([0x1e, 4, 9, 9, OPT_MSS, 4, 0x05, 0xb4, 0, 0xff, 0xff, 0xff], 20);
    expect(parsed(b).options).toEqual({ mss: 1460 });
    expect(tcpOptionLength(b, 20)).toBe(4);
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        const r = parseTcp(b, 0, b.length);
        if (r.ok) expect(tcpReprHeaderLength(r.repr)).toBeLessThanOrEqual(80);
      }),
      { numRuns: 2000 },
    );
  });
});

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u16 = fc.integer({ min: 0, max: 0xffff });

describe('properties', () => {
  const reprArb: fc.Arbitrary<TcpRepr> = fc
    .record({
      srcPort: u16,
      dstPort: u16,
      seq: u32,
      ack: u32,
      flags: fc.integer({ min: 0, max: 0xff }),
      window: u16,
      urgent: u16,
      options: fc.record(
        {
          mss: u16,
          windowScale: fc.integer({ min: 0, max: 14 }),
          sackPermitted: fc.constant(true),
          sack: fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 4 }),
          timestamp: fc.record({ tsval: u32, tsecr: u32 }),
        },
        { requiredKeys: [] },
      ),
      payloadLength: fc.integer({ min: 0, max: 64 }),
    })
    .filter((r) => tcpReprHeaderLength(r) <= 60);

  it('parse(emit(repr)) === repr', () => {
    fc.assert(
      fc.property(reprArb, fc.integer({ min: 0, max: 8 }), (repr, off) => {
        const b = new Uint8Array(off + 60 + repr.payloadLength);
        const n = emitTcp(repr, b, off);
        expect(n % 4).toBe(0);
        expect(parsed(b, off, n + repr.payloadLength)).toEqual(repr);
      }),
      { numRuns: 1000 },
    );
  });

  const TWO32 = 1n << 32n;
  const HALF = 1n << 31n;
  // Bias towards both sides of the wrap.
  const seqArb = fc.oneof(
    u32,
    fc.integer({ min: 0, max: 1000 }),
    fc.integer({ min: 0xffff_ffff - 1000, max: 0xffff_ffff }),
    fc.integer({ min: 0x7fff_ffff - 1000, max: 0x8000_0000 + 1000 }),
  );

  it('seqLt/Le/Gt/Ge agree with a BigInt model across the 2^32 wrap', () => {
    fc.assert(
      fc.property(seqArb, seqArb, (a, b) => {
        const d = (((BigInt(b) - BigInt(a)) % TWO32) + TWO32) % TWO32; // how far b is ahead of a
        fc.pre(d !== HALF); // RFC 9293 3.4: the order of numbers 2^31 apart is undefined
        const lt = d !== 0n && d < HALF;
        expect(seqLt(a, b)).toBe(lt);
        expect(seqGt(b, a)).toBe(lt);
        expect(seqLe(a, b)).toBe(lt || d === 0n);
        expect(seqGe(a, b)).toBe(!lt);
        expect(seqGt(a, b)).toBe(d > HALF);
        expect(seqSub(b, a)).toBe(Number(d < HALF ? d : d - TWO32));
      }),
      { numRuns: 5000 },
    );
  });

  it('seqAdd wraps modulo 2^32', () => {
    fc.assert(
      fc.property(seqArb, fc.integer({ min: -0xffff_ffff, max: 0xffff_ffff }), (a, n) => {
        const want = Number((((BigInt(a) + BigInt(n)) % TWO32) + TWO32) % TWO32);
        expect(seqAdd(a, n)).toBe(want);
        if (n > -0x8000_0000 && n < 0x8000_0000) expect(seqSub(seqAdd(a, n), a)).toBe(n);
      }),
    );
    expect(seqAdd(0xffff_fff0, 0x20)).toBe(0x10);
    expect(seqLt(0xffff_fff0, 0x10)).toBe(true);
    expect(seqGt(0x10, 0xffff_fff0)).toBe(true);
  });
});
