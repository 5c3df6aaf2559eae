import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as http1 from './http1.js';

const BYTES = Array.from({ length: 256 }, (_, c) => c);
const chars = (pred: (c: number) => boolean) =>
  String.fromCharCode(...BYTES.filter((c) => pred(c)));

/** Feeds `digits` one at a time as a parser does; the value after each, until the first -1. */
function fold(digits: string, step: (n: number, c: number) => number): number[] {
  const seen: number[] = [];
  let n = 0;
  for (const d of digits) {
    n = step(n, d.charCodeAt(0));
    seen.push(n);
    if (n < 0) break;
  }
  return seen;
}

/** The same with BigInt: each prefix's value, or -1 from the first prefix over `max`. */
function model(digits: string, radix: 10 | 16, max: number): number[] {
  const seen: number[] = [];
  let n = 0n;
  for (const d of digits) {
    n = n * BigInt(radix) + BigInt(Number.parseInt(d, radix));
    if (n > BigInt(max)) {
      seen.push(-1);
      break;
    }
    seen.push(Number(n));
  }
  return seen;
}

describe('byte classes', () => {
  it('tchar is RFC 9110 5.6.2: ALPHA, DIGIT and 15 marks, nothing else', () => {
    expect(chars((c) => http1.TCHAR[c] === 1)).toBe(
      "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~",
    );
  });

  it('DIGIT, HEXDIG values, lower case and field-value controls, for every byte', () => {
    expect(chars(http1.isDigit)).toBe('0123456789');
    expect(
      BYTES.filter((c) => http1.hexValue(c) >= 0).map((c) => [
        String.fromCharCode(c),
        http1.hexValue(c),
      ]),
    ).toEqual([...'0123456789ABCDEFabcdef'].map((d) => [d, Number.parseInt(d, 16)]));
    expect(BYTES.filter((c) => http1.hexValue(c) < 0).every((c) => http1.hexValue(c) === -1)).toBe(
      true,
    );
    expect(BYTES.filter((c) => http1.toLower(c) !== c).map((c) => http1.toLower(c) - c)).toEqual(
      Array(26).fill(32),
    );
    expect(chars((c) => http1.toLower(c) !== c)).toBe('ABCDEFGHIJKLMNOPQRSTUVWXYZ');
    // Controls but HT, and DEL: obs-text (0x80-0xff) and SP stay allowed in a value.
    expect(BYTES.filter(http1.isFieldValueCtl)).toEqual([
      ...BYTES.slice(0, 9),
      ...BYTES.slice(10, 32),
      0x7f,
    ]);
  });
});

describe('scanning', () => {
  const b = http1.ascii('..value\there\x80\r\nnext\nlast');
  it('finds where a field value stops and where a line ends, never past `end`', () => {
    expect(http1.fieldValueEnd(b, 2, b.length)).toBe(13); // the CR; HT and obs-text belong to it
    expect(http1.fieldValueEnd(b, 13, b.length)).toBe(13);
    expect(http1.fieldValueEnd(b, 2, 10)).toBe(10);
    expect(http1.fieldValueEnd(b, 10, 10)).toBe(10);
    expect(http1.lineEnd(b, 0, b.length)).toBe(14); // the LF, after the CR
    expect(http1.lineEnd(b, 15, b.length)).toBe(19);
    expect(http1.lineEnd(b, 20, b.length)).toBe(b.length);
    expect(http1.lineEnd(b, 0, 14)).toBe(14);
    expect(http1.lineEnd(b, 5, 5)).toBe(5);
  });
});

describe('field names', () => {
  it('knows the framing fields, and a request also Host and Expect', () => {
    const id = (fields: readonly Uint8Array[], name: string) => {
      const buf = new Uint8Array(http1.FIELD_NAME_MAX);
      const n = http1.ascii(name);
      buf.set(n.subarray(0, http1.FIELD_NAME_MAX));
      return http1.fieldId(fields, buf, n.length);
    };
    expect(
      ['content-length', 'transfer-encoding', 'connection', 'host', 'expect'].map((n) =>
        id(http1.REQUEST_FIELDS, n),
      ),
    ).toEqual([
      http1.FIELD_CONTENT_LENGTH,
      http1.FIELD_TRANSFER_ENCODING,
      http1.FIELD_CONNECTION,
      http1.FIELD_HOST,
      http1.FIELD_EXPECT,
    ]);
    expect(['host', 'expect'].map((n) => id(http1.FRAMING_FIELDS, n))).toEqual([
      http1.FIELD_OTHER,
      http1.FIELD_OTHER,
    ]);
    expect(id(http1.FRAMING_FIELDS, 'connection')).toBe(http1.FIELD_CONNECTION);
    // Names come lower-cased; a prefix, a longer name or one past http1.FIELD_NAME_MAX matches nothing.
    for (const other of ['Host', 'hos', 'hosts', 'content-lengthx', 'transfer-encodingx', ''])
      expect(id(http1.REQUEST_FIELDS, other), other).toBe(http1.FIELD_OTHER);
    expect(http1.FIELD_NAME_MAX).toBe('transfer-encoding'.length);
  });
});

describe('list values', () => {
  const v = (s: string) => [http1.ascii(s), s.length] as const;
  it('compares and trims in place', () => {
    const b = http1.ascii('xchunked \t\r');
    expect(http1.bytesEqual(b, 1, 8, http1.CHUNKED)).toBe(true);
    expect(http1.bytesEqual(b, 0, 8, http1.CHUNKED)).toBe(false);
    expect(http1.bytesEqual(b, 1, 9, http1.CHUNKED)).toBe(false);
    expect(http1.trimEnd(b, 0, b.length)).toBe(8);
    expect(http1.trimEnd(b, 9, b.length)).toBe(9);
    expect(http1.trimEnd(http1.ascii('  '), 0, 2)).toBe(0);
  });

  it('finds a token anywhere in a comma-separated list (RFC 9110 5.6.1)', () => {
    const has = (s: string, t: Uint8Array) => http1.hasToken(...v(s), t);
    expect(has('close', http1.CLOSE)).toBe(true);
    expect(has('keep-alive, close', http1.CLOSE)).toBe(true);
    expect(has(' ,, close\t,\r', http1.CLOSE)).toBe(true);
    expect(has('foo,close \r', http1.CLOSE)).toBe(true);
    expect(has('keep-alive, close', http1.KEEP_ALIVE)).toBe(true);
    expect(has('closed, xclose, clo se', http1.CLOSE)).toBe(false);
    expect(has('', http1.CLOSE)).toBe(false);
    expect(has(',,,', http1.CLOSE)).toBe(false);
    expect(http1.hasToken(http1.ascii('close'), 4, http1.CLOSE)).toBe(false); // only v[0 .. len) counts
  });

  it('finds the last coding of a list (RFC 9112 6.1: chunked comes last)', () => {
    const last = (s: string) => http1.endsWithToken(...v(s), http1.CHUNKED);
    expect(last('chunked')).toBe(true);
    expect(last('gzip, chunked')).toBe(true);
    expect(last('gzip ,chunked \t\r')).toBe(true);
    expect(last('gzip chunked')).toBe(true);
    expect(last('chunked, gzip')).toBe(false);
    expect(last('xchunked')).toBe(false);
    expect(last('')).toBe(false);
  });
});

describe('numbers', () => {
  it('Content-Length: exact up to Number.MAX_SAFE_INTEGER, -1 past it', () => {
    expect(http1.CONTENT_LENGTH_MAX).toBe(2 ** 53 - 1);
    expect(fold('0', http1.contentLengthDigit)).toEqual([0]);
    expect(fold('00012', http1.contentLengthDigit)).toEqual([0, 0, 0, 1, 12]);
    expect(fold('9007199254740991', http1.contentLengthDigit).at(-1)).toBe(2 ** 53 - 1);
    expect(fold('9007199254740992', http1.contentLengthDigit).slice(-2)).toEqual([
      900719925474099, -1,
    ]);
    // 16 nines are past 2^53 - 1: the 16th digit is refused and no more are read.
    expect(fold('99999999999999999', http1.contentLengthDigit)).toEqual([
      ...model('999999999999999', 10, http1.CONTENT_LENGTH_MAX),
      -1,
    ]);
  });

  it('chunk-size: exact up to 12 hex digits, -1 past them, either case, leading zeros', () => {
    expect(http1.CHUNK_SIZE_MAX).toBe(2 ** 48 - 1);
    const hex = (s: string) => fold(s, (n, c) => http1.chunkSizeDigit(n, http1.hexValue(c)));
    expect(hex('A')).toEqual([10]);
    expect(hex('1f')).toEqual([1, 31]);
    expect(hex('ffffffffffff').at(-1)).toBe(2 ** 48 - 1);
    expect(hex('FFFFFFFFFFFF').at(-1)).toBe(2 ** 48 - 1);
    expect(hex('1000000000000')).toEqual([...model('100000000000', 16, http1.CHUNK_SIZE_MAX), -1]);
    expect(hex('0000000000000000000001')).toEqual([...Array(21).fill(0), 1]);
  });

  it('each digit string gives what BigInt arithmetic gives, prefix by prefix', () => {
    const digits = (alphabet: string) =>
      fc
        .array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 24 })
        .map((a) => a.join(''));
    fc.assert(
      fc.property(digits('0123456789'), (s) => {
        expect(fold(s, http1.contentLengthDigit)).toEqual(model(s, 10, http1.CONTENT_LENGTH_MAX));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(digits('0123456789abcdefABCDEF'), (s) => {
        const got = fold(s, (n, c) => http1.chunkSizeDigit(n, http1.hexValue(c)));
        expect(got).toEqual(model(s, 16, http1.CHUNK_SIZE_MAX));
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every value in range, written with leading zeros', () => {
    fc.assert(
      fc.property(fc.nat({ max: http1.CONTENT_LENGTH_MAX }), fc.nat({ max: 3 }), (n, zeros) => {
        expect(fold('0'.repeat(zeros) + String(n), http1.contentLengthDigit).at(-1)).toBe(n);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.nat({ max: http1.CHUNK_SIZE_MAX }), fc.boolean(), (n, upper) => {
        const s = upper ? n.toString(16).toUpperCase() : n.toString(16);
        expect(fold(`00${s}`, (m, c) => http1.chunkSizeDigit(m, http1.hexValue(c))).at(-1)).toBe(n);
      }),
      { numRuns: 2000 },
    );
  });
});
