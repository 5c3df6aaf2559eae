// Incremental HTTP/1.x response framing for the load generator (RFC 9112 6.3): where each
// response ends (Content-Length, chunked, or the end of the connection) and its status code.
// It scans the zero-copy views byte by byte, keeps a few counters between calls and copies
// nothing; a response may arrive split at any byte. It checks what it needs to find the end of
// each response, no more: it is a framer, not a validating parser.

import * as http1 from './http1.js';

// Held in module constants: read through import bindings at every byte, the framer measured
// 10-20% slower (Node 20).
const {
  CHUNKED,
  CLOSE,
  COLON,
  CR,
  chunkSizeDigit,
  contentLengthDigit,
  DOT,
  endsWithToken,
  FIELD_CONNECTION,
  FIELD_CONTENT_LENGTH,
  FIELD_NAME_MAX,
  FIELD_OTHER,
  FIELD_TRANSFER_ENCODING,
  FRAMING_FIELDS,
  fieldId,
  HT,
  HTTP_SLASH,
  hasToken,
  hexValue,
  isDigit,
  KEEP_ALIVE,
  LF,
  lineEnd,
  SEMICOLON,
  SP,
  toLower,
} = http1;

// States (numbers, for a switch the JIT keeps tight).
const STATUS = 0; // "HTTP/1.x NNN reason" up to LF
const HEADER_START = 1;
const HEADER_NAME = 2;
const HEADER_VALUE = 3;
const HEAD_END_LF = 4;
const BODY_LENGTH = 5;
const BODY_EOF = 6;
const CHUNK_SIZE = 7;
const CHUNK_EXT = 8;
const CHUNK_DATA = 9;
const CHUNK_DATA_END = 10;
const TRAILER_START = 11;
const TRAILER_LINE = 12;
const TRAILER_END_LF = 13;
const DEAD = 14;

/** Bytes of a Connection or Transfer-Encoding value kept (the rest is not read). */
const VALUE_MAX = 64;

export class HttpResponseParser {
  /** The status code of the response being parsed (complete: of the one that just ended). */
  statusCode = 0;
  /** HTTP/1.x's x. */
  versionMinor = 1;
  /** The last complete response said the server closes the connection after it. */
  willClose = false;
  /** execute() stopped at the end of a response. */
  complete = false;
  /** Why the stream is malformed ('' when it is not); the parser then takes no more bytes. */
  error = '';

  #state = STATUS;
  #k = 0; // position in the status line
  #name = new Uint8Array(FIELD_NAME_MAX);
  #nameLen = 0;
  #header = FIELD_OTHER;
  #value = new Uint8Array(VALUE_MAX);
  #valueLen = 0;
  #contentLength = -1;
  #chunked = false;
  #close = false;
  #keepAlive = false;
  #remaining = 0;
  #sawDigit = false;

  /** Back to the start of a response (a new connection). */
  reset(): void {
    this.#state = STATUS;
    this.#k = 0;
    this.statusCode = 0;
    this.complete = false;
    this.willClose = false;
    this.error = '';
  }

  /**
   * Consumes bytes `b[p .. end)`. Returns the position after the last byte consumed: `end`, or
   * the end of a response (then `complete` is true: read statusCode and willClose, and call
   * again from there), or the offending byte (then `error` says why).
   */
  execute(b: Uint8Array, p: number, end: number): number {
    this.complete = false;
    while (p < end) {
      const c = b[p];
      switch (this.#state) {
        case STATUS: {
          // HTTP-version SP status-code SP reason-phrase (RFC 9112 4).
          const k = this.#k;
          if (k === 0) this.#startResponse();
          if (k < 5) {
            if (c !== HTTP_SLASH[k])
              return this.#fail(p, 'the status line does not start with HTTP/');
          } else if (k === 5) {
            if (c !== 0x31) return this.#fail(p, 'not HTTP/1.x');
          } else if (k === 6) {
            if (c !== DOT) return this.#fail(p, 'bad HTTP version');
          } else if (k === 7) {
            if (!isDigit(c)) return this.#fail(p, 'bad HTTP version');
            this.versionMinor = c - 0x30;
          } else if (k === 8) {
            if (c !== SP) return this.#fail(p, 'no space after the HTTP version');
          } else if (k <= 11) {
            if (!isDigit(c)) return this.#fail(p, 'the status code is not 3 digits');
            this.statusCode = this.statusCode * 10 + (c - 0x30);
          } else {
            // The reason phrase is not read: skip to the end of the line.
            p = lineEnd(b, p, end);
            if (p === end) return end;
            this.#state = HEADER_START;
            p++;
            continue;
          }
          this.#k = k + 1;
          p++;
          continue;
        }
        case HEADER_START:
          if (c === CR) {
            this.#state = HEAD_END_LF;
            p++;
            continue;
          }
          if (c === LF) {
            p = this.#headEnd(p + 1);
            if (this.complete) return p;
            continue;
          }
          this.#nameLen = 0;
          this.#header = FIELD_OTHER;
          this.#state = HEADER_NAME;
          continue; // this byte starts the name
        case HEADER_NAME:
          if (c === COLON) {
            this.#header = fieldId(FRAMING_FIELDS, this.#name, this.#nameLen);
            this.#valueLen = 0;
            this.#sawDigit = false;
            this.#state = HEADER_VALUE;
          } else if (c === LF) {
            return this.#fail(p, 'a header line without a colon');
          } else if (this.#nameLen < FIELD_NAME_MAX) {
            this.#name[this.#nameLen++] = toLower(c);
          } else this.#nameLen = FIELD_NAME_MAX + 1;
          p++;
          continue;
        case HEADER_VALUE:
          if (c === LF) {
            if (!this.#endHeader()) return this.#fail(p, 'a bad Content-Length');
            this.#state = HEADER_START;
          } else if (this.#header === FIELD_OTHER) {
            // A field the framing does not use: skip to the end of the line.
            p = lineEnd(b, p, end);
            continue;
          } else if (this.#header === FIELD_CONTENT_LENGTH) {
            if (isDigit(c)) {
              const n = contentLengthDigit(this.#sawDigit ? this.#contentLength : 0, c);
              if (n < 0) return this.#fail(p, 'Content-Length overflows');
              this.#contentLength = n;
              this.#sawDigit = true;
            } else if (c !== SP && c !== HT && c !== CR) {
              return this.#fail(p, 'a bad Content-Length');
            }
          } else if (this.#valueLen < VALUE_MAX) {
            this.#value[this.#valueLen++] = toLower(c);
          }
          p++;
          continue;
        case HEAD_END_LF:
          if (c !== LF) return this.#fail(p, 'CR without LF after the header section');
          p = this.#headEnd(p + 1);
          if (this.complete) return p;
          continue;
        case BODY_LENGTH: {
          const n = Math.min(end - p, this.#remaining);
          this.#remaining -= n;
          p += n;
          if (this.#remaining === 0) return this.#done(p);
          continue;
        }
        case BODY_EOF:
          return end; // everything until the connection ends
        case CHUNK_SIZE: {
          const h = hexValue(c);
          if (h >= 0) {
            const n = chunkSizeDigit(this.#remaining, h);
            if (n < 0) return this.#fail(p, 'chunk size overflows');
            this.#remaining = n;
            this.#sawDigit = true;
          } else if (c === LF) {
            if (!this.#sawDigit) return this.#fail(p, 'a chunk without a size');
            this.#state = this.#remaining === 0 ? TRAILER_START : CHUNK_DATA;
          } else if (c === SEMICOLON || c === SP || c === HT) {
            this.#state = CHUNK_EXT;
          } else if (c !== CR) return this.#fail(p, 'a bad chunk size');
          p++;
          continue;
        }
        case CHUNK_EXT:
          // Chunk extensions are not read: skip to the end of the line.
          p = lineEnd(b, p, end);
          if (p === end) return end;
          if (!this.#sawDigit) return this.#fail(p, 'a chunk without a size');
          this.#state = this.#remaining === 0 ? TRAILER_START : CHUNK_DATA;
          p++;
          continue;
        case CHUNK_DATA: {
          const n = Math.min(end - p, this.#remaining);
          this.#remaining -= n;
          p += n;
          if (this.#remaining === 0) this.#state = CHUNK_DATA_END;
          continue;
        }
        case CHUNK_DATA_END:
          if (c === LF) {
            this.#state = CHUNK_SIZE;
            this.#sawDigit = false;
          } else if (c !== CR) return this.#fail(p, 'chunk data longer than its size');
          p++;
          continue;
        case TRAILER_START:
          if (c === LF) return this.#done(p + 1);
          this.#state = c === CR ? TRAILER_END_LF : TRAILER_LINE;
          p++;
          continue;
        case TRAILER_LINE:
          // Trailer fields are not read (RFC 9112 7.1.2): skip to the end of the line.
          p = lineEnd(b, p, end);
          if (p === end) return end;
          this.#state = TRAILER_START;
          p++;
          continue;
        case TRAILER_END_LF:
          if (c !== LF) return this.#fail(p, 'CR without LF after the trailers');
          return this.#done(p + 1);
        default:
          return p; // DEAD
      }
    }
    return p;
  }

  /** The connection ended. True when that ended a response (one delimited by the close). */
  finish(): boolean {
    if (this.#state === BODY_EOF) {
      this.#done(0);
      return true;
    }
    return false;
  }

  /** Whether bytes of a response have arrived that did not end it yet. */
  get inResponse(): boolean {
    return this.#state !== STATUS || this.#k !== 0;
  }

  #startResponse(): void {
    this.statusCode = 0;
    this.versionMinor = 1;
    this.#contentLength = -1;
    this.#chunked = false;
    this.#close = false;
    this.#keepAlive = false;
  }

  /** At the end of a header line: take what the framing needs from it. */
  #endHeader(): boolean {
    const h = this.#header;
    if (h === FIELD_CONTENT_LENGTH) return this.#sawDigit;
    if (h === FIELD_TRANSFER_ENCODING) {
      // RFC 9112 6.1: chunked, when present, is the last coding.
      this.#chunked = endsWithToken(this.#value, this.#valueLen, CHUNKED);
    } else if (h === FIELD_CONNECTION) {
      if (hasToken(this.#value, this.#valueLen, CLOSE)) this.#close = true;
      if (hasToken(this.#value, this.#valueLen, KEEP_ALIVE)) this.#keepAlive = true;
    }
    return true;
  }

  /** The header section ended at `p`: pick the body's framing (RFC 9112 6.3). */
  #headEnd(p: number): number {
    const s = this.statusCode;
    this.willClose = this.#close || (this.versionMinor === 0 && !this.#keepAlive);
    if (s >= 100 && s < 200 && s !== 101) {
      // Informational: another response follows for the same request.
      this.#state = STATUS;
      this.#k = 0;
      return p;
    }
    if (s === 204 || s === 304) return this.#done(p);
    if (this.#chunked) {
      this.#state = CHUNK_SIZE;
      this.#remaining = 0;
      this.#sawDigit = false;
      return p;
    }
    if (this.#contentLength >= 0) {
      if (this.#contentLength === 0) return this.#done(p);
      this.#remaining = this.#contentLength;
      this.#state = BODY_LENGTH;
      return p;
    }
    this.willClose = true;
    this.#state = BODY_EOF;
    return p;
  }

  #done(p: number): number {
    this.complete = true;
    this.#state = STATUS;
    this.#k = 0;
    return p;
  }

  #fail(p: number, why: string): number {
    this.error = why;
    this.#state = DEAD;
    return p;
  }
}
