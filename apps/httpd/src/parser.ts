// An incremental HTTP/1.1 request parser (RFC 9112) over the stack's zero-copy views. One parser
// per connection, reused for every request on it: the bytes are scanned once, in place, and a
// request may be split at any byte. Only what the server needs is kept, in buffers allocated
// once: the method (GET, HEAD or other), the request-target, the version, and the header fields
// that decide framing and persistence (Content-Length, Transfer-Encoding, Connection, Host,
// Expect). Request bodies are skipped (Content-Length or chunked) so a pipelined request after
// one with a body is still found.
//
// execute(bytes, from, to) returns where it stopped: after a request's header section (event
// HEAD: answer it now, bodies follow and are skipped on the next calls), at the end of the
// bytes (NONE), or at a bad byte (ERROR, with errorStatus: 400, 414, 431, 501 or 505; the
// connection cannot be read further and must be closed after the error response).

import { http1 } from '@bypass/loadgen';

export const HttpMethod = { GET: 1, HEAD: 2, OTHER: 3 } as const;

export const ParseEvent = { NONE: 0, HEAD: 1, ERROR: 2 } as const;

export interface HttpLimits {
  /** Bytes of the request line and header fields together (default 8192), else 431. */
  maxHeaderBytes?: number;
  /** Header fields per request (default 100), else 431. */
  maxHeaders?: number;
  /** Bytes of the request-target (default 4096), else 414. */
  maxTargetBytes?: number;
}

export const HTTP_LIMITS: Readonly<Required<HttpLimits>> = Object.freeze({
  maxHeaderBytes: 8192,
  maxHeaders: 100,
  maxTargetBytes: 4096,
});

// States.
const START = 0; // before the request line (empty lines allowed, RFC 9112 2.2)
const METHOD = 1;
const TARGET = 2;
const VERSION = 3;
const REQUEST_LINE_LF = 4;
const HEADER_START = 5;
const HEADER_NAME = 6;
const HEADER_OWS = 7;
const HEADER_VALUE = 8;
const HEADER_LF = 9;
const HEAD_END_LF = 10;
const BODY = 11;
const CHUNK_SIZE = 12;
const CHUNK_EXT = 13;
const CHUNK_SIZE_LF = 14;
const CHUNK_DATA = 15;
const CHUNK_DATA_CR = 16;
const CHUNK_DATA_LF = 17;
const TRAILER_START = 18;
const TRAILER_LINE = 19;
const TRAILER_END_LF = 20;
const DEAD = 21;

// http1 is the HTTP/1.1 tokenizer this parser shares with the load generator's response framer:
// byte classes, field names and values, Content-Length and chunk-size digits, their limits. Held
// in module constants: read as http1.X at every byte, the parser measured 25% slower (Node 20).
const {
  CHUNKED,
  CLOSE,
  COLON,
  CR,
  DEL,
  DOT,
  FIELD_CONNECTION,
  FIELD_CONTENT_LENGTH,
  FIELD_EXPECT,
  FIELD_HOST,
  FIELD_NAME_MAX,
  FIELD_OTHER,
  FIELD_TRANSFER_ENCODING,
  HT,
  HTTP_SLASH,
  KEEP_ALIVE,
  LF,
  REQUEST_FIELDS,
  SEMICOLON,
  SP,
  TCHAR,
  ascii,
  bytesEqual,
  chunkSizeDigit,
  contentLengthDigit,
  fieldId,
  fieldValueEnd,
  hasToken,
  hexValue,
  isDigit,
  isFieldValueCtl,
  lineEnd,
  toLower,
  trimEnd,
} = http1;

/** Bytes of a Connection, Transfer-Encoding or Expect value (a longer Host is cut, not refused). */
const VALUE_MAX = 128;
/**
 * CR and LF bytes ignored before a request line (RFC 9112 2.2 asks a server to ignore at least
 * one empty line; a client has no reason to send many): past this, 400, so that a peer cannot
 * hold a connection open with an endless stream of blank lines.
 */
const LEADING_EMPTY_MAX = 16;
const METHOD_MAX = 16;
const GET = ascii('GET');
const HEAD = ascii('HEAD');

export class HttpRequestParser {
  readonly limits: Readonly<Required<HttpLimits>>;
  /** What the last execute() stopped at (ParseEvent). */
  event: number = ParseEvent.NONE;

  // The request whose head just ended (valid from event HEAD until the next execute()).
  method: number = HttpMethod.OTHER;
  /** The request-target's bytes: target[0 .. targetLength). */
  readonly target: Uint8Array;
  targetLength = 0;
  versionMinor = 1;
  /** The connection stays open after the response (RFC 9112 9.3). */
  keepAlive = true;
  /** -1 when absent. */
  contentLength = -1;
  chunked = false;
  /** Expect: 100-continue with a body: the client may wait for us before sending the body. */
  expectContinue = false;

  /** With event ERROR: the status to answer with, and why (constant strings). */
  errorStatus = 0;
  errorReason = '';

  /** Requests whose head has been parsed, on this connection. */
  requests = 0;

  #state = START;
  /** CR/LF bytes seen in START since the last request. */
  #blank = 0;
  #headerBytes = 0;
  #headers = 0;
  #k = 0;
  readonly #methodBuf = new Uint8Array(METHOD_MAX);
  #methodLen = 0;
  readonly #name = new Uint8Array(FIELD_NAME_MAX);
  #nameLen = 0;
  #field = FIELD_OTHER;
  readonly #value = new Uint8Array(VALUE_MAX);
  #valueLen = 0;
  #digits = 0; // Content-Length: 0 none yet, 1 in digits, 2 after trailing whitespace
  #fieldLength = 0;
  #hosts = 0;
  #close = false;
  #keep = false;
  #transferEncoding = false;
  #remaining = 0;
  #sawHex = false;

  constructor(limits: HttpLimits = {}) {
    this.limits = { ...HTTP_LIMITS, ...limits };
    this.target = new Uint8Array(this.limits.maxTargetBytes);
  }

  /** Whether part of a request (head or body) has been read and not finished. */
  get inRequest(): boolean {
    return this.#state !== START && this.#state !== DEAD;
  }

  /** Whether part of a request head has been read and the head is not complete. */
  get inHead(): boolean {
    return this.#state >= METHOD && this.#state <= HEAD_END_LF;
  }

  /** Whether a request body (or its chunked trailer) is being read. */
  get inBody(): boolean {
    return this.#state >= BODY && this.#state !== DEAD;
  }

  /** Whether the parser stopped for good (after ERROR). */
  get dead(): boolean {
    return this.#state === DEAD;
  }

  /** A new connection. */
  reset(): void {
    this.#state = START;
    this.#blank = 0;
    this.event = ParseEvent.NONE;
    this.requests = 0;
  }

  /** Stop reading: later calls consume nothing (after a response that closes). */
  stop(): void {
    this.#state = DEAD;
  }

  /** Parses `b[p .. end)`; see the file's comment for what it returns. */
  execute(b: Uint8Array, p: number, end: number): number {
    this.event = ParseEvent.NONE;
    const lim = this.limits;
    while (p < end) {
      const c = b[p];
      switch (this.#state) {
        case START:
          if (c === CR || c === LF) {
            if (++this.#blank > LEADING_EMPTY_MAX)
              return this.#fail(p, 400, 'too many empty lines before the request line');
            p++;
            continue;
          }
          this.#blank = 0;
          this.#begin();
          this.#state = METHOD;
          continue;
        case METHOD:
          if (TCHAR[c] === 1) {
            if (this.#methodLen < METHOD_MAX) this.#methodBuf[this.#methodLen] = c;
            this.#methodLen++;
          } else if (c === SP && this.#methodLen > 0) {
            this.method = this.#methodCode();
            this.#state = TARGET;
          } else return this.#fail(p, 400, 'bad method');
          break;
        case TARGET: {
          if (c === SP) {
            if (this.targetLength === 0) return this.#fail(p, 400, 'empty request-target');
            this.#state = VERSION;
            this.#k = 0;
            break;
          }
          // Visible ASCII only (RFC 9112 3.2; obs-text and controls are not allowed in a URI).
          let q = p;
          const t = this.target;
          let n = this.targetLength;
          const max = lim.maxTargetBytes;
          while (q < end) {
            const d = b[q];
            if (d <= SP || d >= DEL) break;
            if (n === max) {
              this.#headerBytes += q - p;
              return this.#fail(q, 414, 'request-target too long');
            }
            t[n++] = d;
            q++;
          }
          this.targetLength = n;
          this.#headerBytes += q - p;
          if (this.#headerBytes > lim.maxHeaderBytes)
            return this.#fail(q, 431, 'request header section too large');
          if (q < end && b[q] !== SP) return this.#fail(q, 400, 'bad character in request-target');
          p = q;
          continue;
        }
        case VERSION: {
          // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3), case-sensitive.
          const k = this.#k++;
          if (k < 5) {
            if (c !== HTTP_SLASH[k]) return this.#fail(p, 400, 'bad HTTP version');
          } else if (k === 5) {
            if (!isDigit(c)) return this.#fail(p, 400, 'bad HTTP version');
            if (c !== 0x31) return this.#fail(p, 505, 'HTTP major version not supported');
          } else if (k === 6) {
            if (c !== DOT) return this.#fail(p, 400, 'bad HTTP version');
          } else if (k === 7) {
            if (!isDigit(c)) return this.#fail(p, 400, 'bad HTTP version');
            this.versionMinor = c - 0x30;
          } else if (c === CR) {
            this.#state = REQUEST_LINE_LF;
          } else if (c === LF) {
            this.#state = HEADER_START;
          } else return this.#fail(p, 400, 'bad request line');
          break;
        }
        case REQUEST_LINE_LF:
          if (c !== LF) return this.#fail(p, 400, 'CR without LF');
          this.#state = HEADER_START;
          break;
        case HEADER_START:
          if (c === CR) {
            this.#state = HEAD_END_LF;
            break;
          }
          if (c === LF) {
            this.#headerBytes++;
            return this.#headEnd(p + 1);
          }
          // RFC 9112 5.2: obs-fold is rejected with 400.
          if (c === SP || c === HT) return this.#fail(p, 400, 'obsolete line folding');
          if (++this.#headers > lim.maxHeaders) return this.#fail(p, 431, 'too many header fields');
          this.#nameLen = 0;
          this.#state = HEADER_NAME;
          continue;
        case HEADER_NAME:
          if (TCHAR[c] === 1) {
            if (this.#nameLen < FIELD_NAME_MAX) this.#name[this.#nameLen] = toLower(c);
            this.#nameLen++;
          } else if (c === COLON && this.#nameLen > 0) {
            this.#field = fieldId(REQUEST_FIELDS, this.#name, this.#nameLen);
            this.#valueLen = 0;
            this.#digits = 0;
            this.#state = HEADER_OWS;
          } else {
            // RFC 9112 5.1: no whitespace between the field name and the colon.
            return this.#fail(p, 400, 'bad header field name');
          }
          break;
        case HEADER_OWS:
          if (c === SP || c === HT) break;
          this.#state = HEADER_VALUE;
          continue;
        case HEADER_VALUE: {
          if (c === CR || c === LF) {
            const bad = this.#endField();
            if (bad !== 0) return this.#fail(p, bad, 'bad header field value');
            this.#state = c === CR ? HEADER_LF : HEADER_START;
            break;
          }
          if (isFieldValueCtl(c)) return this.#fail(p, 400, 'control character in a header field');
          if (this.#field === FIELD_OTHER) {
            // Skip the value of a field we do not use, in one tight loop.
            const q = fieldValueEnd(b, p + 1, end);
            this.#headerBytes += q - p;
            if (this.#headerBytes > lim.maxHeaderBytes)
              return this.#fail(q, 431, 'request header section too large');
            p = q;
            continue;
          }
          if (this.#field === FIELD_CONTENT_LENGTH) {
            // Content-Length = 1*DIGIT (RFC 9110 8.6), trailing whitespace allowed.
            if (isDigit(c)) {
              if (this.#digits === 2) return this.#fail(p, 400, 'bad Content-Length');
              const v = contentLengthDigit(this.#digits === 0 ? 0 : this.#fieldLength, c);
              if (v < 0) return this.#fail(p, 400, 'Content-Length overflows');
              this.#fieldLength = v;
              this.#digits = 1;
            } else if (c === SP || c === HT) {
              if (this.#digits === 1) this.#digits = 2;
            } else return this.#fail(p, 400, 'bad Content-Length');
          } else if (this.#valueLen < VALUE_MAX) {
            this.#value[this.#valueLen++] = toLower(c);
          } else if (this.#field !== FIELD_HOST) {
            return this.#fail(p, 400, 'header field value too long');
          }
          break;
        }
        case HEADER_LF:
          if (c !== LF) return this.#fail(p, 400, 'CR without LF');
          this.#state = HEADER_START;
          break;
        case HEAD_END_LF:
          if (c !== LF) return this.#fail(p, 400, 'CR without LF');
          this.#headerBytes++;
          return this.#headEnd(p + 1);
        case BODY: {
          const n = Math.min(end - p, this.#remaining);
          this.#remaining -= n;
          p += n;
          if (this.#remaining === 0) this.#state = START;
          continue;
        }
        case CHUNK_SIZE: {
          const h = hexValue(c);
          if (h >= 0) {
            const v = chunkSizeDigit(this.#remaining, h);
            if (v < 0) return this.#fail(p, 400, 'chunk size overflows');
            this.#remaining = v;
            this.#sawHex = true;
          } else if (!this.#sawHex) return this.#fail(p, 400, 'bad chunk size');
          else if (c === CR) this.#state = CHUNK_SIZE_LF;
          else if (c === LF) this.#chunkSizeEnd();
          else if (c === SEMICOLON || c === SP || c === HT) this.#state = CHUNK_EXT;
          else return this.#fail(p, 400, 'bad chunk size');
          break;
        }
        case CHUNK_EXT:
          if (c === CR) this.#state = CHUNK_SIZE_LF;
          else if (c === LF) this.#chunkSizeEnd();
          else if (c < SP && c !== HT) return this.#fail(p, 400, 'bad chunk extension');
          break;
        case CHUNK_SIZE_LF:
          if (c !== LF) return this.#fail(p, 400, 'CR without LF');
          this.#chunkSizeEnd();
          break;
        case CHUNK_DATA: {
          const n = Math.min(end - p, this.#remaining);
          this.#remaining -= n;
          p += n;
          if (this.#remaining === 0) this.#state = CHUNK_DATA_CR;
          continue;
        }
        case CHUNK_DATA_CR:
          if (c === CR) this.#state = CHUNK_DATA_LF;
          else if (c === LF) this.#nextChunk();
          else return this.#fail(p, 400, 'chunk data longer than its size');
          break;
        case CHUNK_DATA_LF:
          if (c !== LF) return this.#fail(p, 400, 'CR without LF');
          this.#nextChunk();
          break;
        case TRAILER_START:
          if (c === CR) this.#state = TRAILER_END_LF;
          else if (c === LF) this.#state = START;
          else this.#state = TRAILER_LINE;
          break;
        case TRAILER_LINE: {
          // Trailer fields are not used (RFC 9112 7.1.2): skip to the end of the line.
          const q = lineEnd(b, p, end);
          if (q === end) return end;
          this.#state = TRAILER_START;
          p = q;
          break;
        }
        case TRAILER_END_LF:
          if (c !== LF) return this.#fail(p, 400, 'CR without LF');
          this.#state = START;
          break;
        default:
          return end; // DEAD: nothing more is read
      }
      p++;
      if (++this.#headerBytes > lim.maxHeaderBytes && this.#state <= HEAD_END_LF) {
        return this.#fail(p - 1, 431, 'request header section too large');
      }
    }
    return p;
  }

  #begin(): void {
    this.method = HttpMethod.OTHER;
    this.targetLength = 0;
    this.versionMinor = 1;
    this.keepAlive = true;
    this.contentLength = -1;
    this.chunked = false;
    this.expectContinue = false;
    this.#headerBytes = 0;
    this.#headers = 0;
    this.#methodLen = 0;
    this.#hosts = 0;
    this.#close = false;
    this.#keep = false;
    this.#transferEncoding = false;
  }

  #methodCode(): number {
    const n = this.#methodLen;
    const m = this.#methodBuf;
    if (n === 3 && m[0] === GET[0] && m[1] === GET[1] && m[2] === GET[2]) return HttpMethod.GET;
    if (n === 4 && m[0] === HEAD[0] && m[1] === HEAD[1] && m[2] === HEAD[2] && m[3] === HEAD[3])
      return HttpMethod.HEAD;
    return HttpMethod.OTHER;
  }

  /** A header field line ended: record it. Returns 0, or the status of the error. */
  #endField(): number {
    const v = this.#value;
    const len = trimEnd(v, 0, this.#valueLen);
    switch (this.#field) {
      case FIELD_CONTENT_LENGTH:
        if (this.#digits === 0) return 400;
        // RFC 9112 6.3: several differing Content-Length values are an error.
        if (this.contentLength >= 0 && this.contentLength !== this.#fieldLength) return 400;
        this.contentLength = this.#fieldLength;
        return 0;
      case FIELD_TRANSFER_ENCODING:
        // RFC 9112 6.1: chunked must be the final coding; we decode no other.
        this.#transferEncoding = true;
        if (!this.chunked && bytesEqual(v, 0, len, CHUNKED)) {
          this.chunked = true;
          return 0;
        }
        return 501;
      case FIELD_CONNECTION:
        if (hasToken(v, len, CLOSE)) this.#close = true;
        if (hasToken(v, len, KEEP_ALIVE)) this.#keep = true;
        return 0;
      case FIELD_HOST:
        this.#hosts++;
        return 0;
      case FIELD_EXPECT:
        this.expectContinue = true;
        return 0;
      default:
        return 0;
    }
  }

  /** The header section ended at `p`: checks, then the body's framing (RFC 9112 6.3). */
  #headEnd(p: number): number {
    // RFC 9112 3.2: a 1.1 request without exactly one Host, or with several, gets 400.
    if (this.#hosts > 1 || (this.versionMinor >= 1 && this.#hosts === 0))
      return this.#fail(p, 400, 'missing or repeated Host');
    if (this.#transferEncoding) {
      // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0, or with Content-Length, is faulty framing.
      if (this.versionMinor === 0) return this.#fail(p, 400, 'Transfer-Encoding in HTTP/1.0');
      if (this.contentLength >= 0)
        return this.#fail(p, 400, 'both Transfer-Encoding and Content-Length');
    }
    this.keepAlive = this.versionMinor >= 1 ? !this.#close : this.#keep && !this.#close;
    this.expectContinue =
      this.expectContinue && (this.chunked || this.contentLength > 0) && this.versionMinor >= 1;
    if (this.chunked) {
      this.#state = CHUNK_SIZE;
      this.#remaining = 0;
      this.#sawHex = false;
    } else if (this.contentLength > 0) {
      this.#state = BODY;
      this.#remaining = this.contentLength;
    } else this.#state = START;
    this.requests++;
    this.event = ParseEvent.HEAD;
    return p;
  }

  #chunkSizeEnd(): void {
    this.#state = this.#remaining === 0 ? TRAILER_START : CHUNK_DATA;
  }

  #nextChunk(): void {
    this.#state = CHUNK_SIZE;
    this.#remaining = 0;
    this.#sawHex = false;
  }

  #fail(p: number, status: number, reason: string): number {
    this.event = ParseEvent.ERROR;
    this.errorStatus = status;
    this.errorReason = reason;
    this.keepAlive = false;
    this.#state = DEAD;
    return p;
  }
}
