// The HTTP/1.1 tokenizer that apps/httpd's request parser and the load generator's response
// framer share (RFC 9110, RFC 9112): byte values and classes, header field names and list
// values, the Content-Length and chunk-size numbers, and their limits. Each parser keeps its own
// start line and state machine and calls these one byte or one line at a time, since a message
// may be split at any byte; everything here works in place on the stack's Uint8Array views (or a
// parser's own buffers) and allocates nothing.

// Byte values. An exported binding lives in a module cell that V8 reads (and checks) at every use,
// so the functions below, called per byte, compare with the numbers themselves (the parsers
// measured about 5% faster so); a parser copies what it uses into module constants.
export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HT = 9;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;
export const DOT = 0x2e;
export const DEL = 0x7f;

/** The bytes of an ASCII string (for the constants the parsers compare with). */
export function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** HTTP-version starts with "HTTP/" (RFC 9112 2.3), case-sensitive. */
export const HTTP_SLASH = ascii('HTTP/');
export const CHUNKED = ascii('chunked');
export const CLOSE = ascii('close');
export const KEEP_ALIVE = ascii('keep-alive');

/** RFC 9110 5.6.2 tchar: TCHAR[c] is 1 for the characters of a token (method, field name). */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** RFC 5234 DIGIT. */
export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** RFC 5234 HEXDIG (either case): its value, or -1 for another byte. */
export function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** An ASCII capital letter in lower case, any other byte as it is (field names are caseless). */
export function toLower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** RFC 9110 5.5: a control character other than HT, or DEL, cannot stand in a field value. */
export function isFieldValueCtl(c: number): boolean {
  return (c < 0x20 && c !== 0x09) || c === 0x7f;
}

/** Where `b[p .. end)` first holds a byte no field value holds (CR, LF, ...), or `end`. */
export function fieldValueEnd(b: Uint8Array, p: number, end: number): number {
  while (p < end && !isFieldValueCtl(b[p])) p++;
  return p;
}

/** Where the line in `b[p .. end)` ends: the position of its LF, or `end`. */
export function lineEnd(b: Uint8Array, p: number, end: number): number {
  while (p < end && b[p] !== 0x0a) p++;
  return p;
}

/** Bytes of a field name either parser keeps: the longest it acts on ("transfer-encoding"). */
export const FIELD_NAME_MAX = 17;

// Field ids: FIELD_OTHER, or the position in REQUEST_FIELDS + 1.
export const FIELD_OTHER = 0;
export const FIELD_CONTENT_LENGTH = 1;
export const FIELD_TRANSFER_ENCODING = 2;
export const FIELD_CONNECTION = 3;
export const FIELD_HOST = 4;
export const FIELD_EXPECT = 5;

/** The fields that frame a message and decide persistence (RFC 9112 6.3, 9.3), lower case. */
export const FRAMING_FIELDS: readonly Uint8Array[] = [
  ascii('content-length'),
  ascii('transfer-encoding'),
  ascii('connection'),
];

/** A request's: the framing fields, Host (RFC 9112 3.2) and Expect (RFC 9110 10.1.1). */
export const REQUEST_FIELDS: readonly Uint8Array[] = [
  ...FRAMING_FIELDS,
  ascii('host'),
  ascii('expect'),
];

/**
 * The id of the lower-case field name `name[0 .. len)` among `fields` (FRAMING_FIELDS or
 * REQUEST_FIELDS), or FIELD_OTHER. A `len` over FIELD_NAME_MAX matches nothing, so a parser may
 * count the bytes of a long name without keeping them.
 */
export function fieldId(fields: readonly Uint8Array[], name: Uint8Array, len: number): number {
  for (let i = 0; i < fields.length; i++) if (bytesEqual(name, 0, len, fields[i])) return i + 1;
  return 0; // FIELD_OTHER
}

/** Whether `v[start .. stop)` is the bytes of `t`. */
export function bytesEqual(v: Uint8Array, start: number, stop: number, t: Uint8Array): boolean {
  if (stop - start !== t.length) return false;
  for (let k = 0; k < t.length; k++) if (v[start + k] !== t[k]) return false;
  return true;
}

/** The end of `v[start .. stop)` without its trailing white space (SP, HT, and a CR before LF). */
export function trimEnd(v: Uint8Array, start: number, stop: number): number {
  while (stop > start && (v[stop - 1] === 0x20 || v[stop - 1] === 0x09 || v[stop - 1] === 0x0d))
    stop--;
  return stop;
}

/** Whether the comma-separated list `v[0 .. len)` (RFC 9110 5.6.1, lower case) has `t`. */
export function hasToken(v: Uint8Array, len: number, t: Uint8Array): boolean {
  let i = 0;
  while (i < len) {
    while (i < len && (v[i] === 0x20 || v[i] === 0x09 || v[i] === 0x2c)) i++;
    const start = i;
    while (i < len && v[i] !== 0x2c) i++;
    if (bytesEqual(v, start, trimEnd(v, start, i), t)) return true;
  }
  return false;
}

/** Whether the last token of the comma-separated list `v[0 .. len)` is `t`. */
export function endsWithToken(v: Uint8Array, len: number, t: Uint8Array): boolean {
  const stop = trimEnd(v, 0, len);
  let start = stop;
  while (start > 0 && v[start - 1] !== 0x2c && v[start - 1] !== 0x20 && v[start - 1] !== 0x09)
    start--;
  return bytesEqual(v, start, stop, t);
}

/** RFC 9110 8.6: a Content-Length above this is refused (it stays exact in a double). */
export const CONTENT_LENGTH_MAX = Number.MAX_SAFE_INTEGER;

/**
 * Content-Length = 1*DIGIT (RFC 9110 8.6), one digit at a time: the value of the digits so far,
 * `n` (0 before the first), followed by the digit byte `c`; or -1 past CONTENT_LENGTH_MAX.
 */
export function contentLengthDigit(n: number, c: number): number {
  const v = n * 10 + (c - 0x30);
  return v > Number.MAX_SAFE_INTEGER ? -1 : v;
}

/** A chunk-size above this (12 hex digits) is refused. */
export const CHUNK_SIZE_MAX = 0xffff_ffff_ffff;

/**
 * chunk-size = 1*HEXDIG (RFC 9112 7.1), one digit at a time: the size so far, `n` (0 before the
 * first digit), followed by a digit of value `h` (hexValue); or -1 past CHUNK_SIZE_MAX.
 */
export function chunkSizeDigit(n: number, h: number): number {
  const v = n * 16 + h;
  return v > 0xffff_ffff_ffff ? -1 : v;
}
