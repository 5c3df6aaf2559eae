// Responses built once and reused for every request: the status line and header fields (Date
// included) in one buffer, the body after them where the body is fixed. RFC 9110 6.6.1: an
// origin server with a clock sends Date; its IMF-fixdate form has a fixed length (29 bytes), so
// each buffer keeps the offset of its date and is re-stamped in place when the second changes
// (on the next send), with no allocation per request.

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

/** How the response ends the exchange: the header fields that say whether the connection stays. */
export const Persist = {
  /** HTTP/1.1 keep-alive: no Connection field. */
  KEEP_ALIVE: 0,
  /** Connection: close (then the server closes). */
  CLOSE: 1,
  /** An HTTP/1.0 client that asked for keep-alive: Connection: keep-alive. */
  KEEP_ALIVE_10: 2,
} as const;

const DATE_LEN = 29;

/** The current IMF-fixdate (29 bytes), re-made once per second of the clock it is given. */
export class HttpDate {
  readonly bytes = new Uint8Array(DATE_LEN);
  /** Seconds since the epoch that `bytes` shows. */
  second = -1;

  /** Brings the date up to `epochMs` (wall clock); returns the second it shows. */
  update(epochMs: number): number {
    const s = Math.floor(epochMs / 1000);
    if (s !== this.second) {
      this.second = s;
      const text = new Date(s * 1000).toUTCString(); // "Sun, 06 Nov 1994 08:49:37 GMT"
      for (let i = 0; i < DATE_LEN; i++) this.bytes[i] = text.charCodeAt(i);
    }
    return s;
  }
}

/** A prebuilt response: head (and fixed body) in one buffer, the date re-stamped when stale. */
export class PrebuiltResponse {
  readonly bytes: Uint8Array;
  /** Bytes of the status line and header section. */
  readonly headLength: number;
  readonly #dateAt: number;
  #stamped = -1;

  constructor(
    status: number,
    fields: string,
    persist: number,
    body: Uint8Array | null,
    bodyLength: number,
  ) {
    const connection =
      persist === Persist.CLOSE
        ? 'Connection: close\r\n'
        : persist === Persist.KEEP_ALIVE_10
          ? 'Connection: keep-alive\r\n'
          : '';
    const before = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\nServer: bypass-httpd\r\nDate: `;
    const after = `\r\n${fields}Content-Length: ${bodyLength}\r\n${connection}\r\n`;
    const head = before.length + DATE_LEN + after.length;
    this.headLength = head;
    this.bytes = new Uint8Array(head + (body === null ? 0 : body.length));
    for (let i = 0; i < before.length; i++) this.bytes[i] = before.charCodeAt(i);
    this.#dateAt = before.length;
    for (let i = 0; i < after.length; i++)
      this.bytes[before.length + DATE_LEN + i] = after.charCodeAt(i);
    if (body !== null) this.bytes.set(body, head);
  }

  /** Makes the date current (`date` already updated for this second). */
  stamp(date: HttpDate): void {
    if (this.#stamped !== date.second) {
      this.bytes.set(date.bytes, this.#dateAt);
      this.#stamped = date.second;
    }
  }
}

/** A status, its three persistence variants, built on first use. */
export class ResponseSet {
  readonly #variants: (PrebuiltResponse | undefined)[] = [undefined, undefined, undefined];

  constructor(
    readonly status: number,
    readonly fields: string,
    readonly body: Uint8Array | null,
    readonly bodyLength: number = body?.length ?? 0,
  ) {}

  get(persist: number): PrebuiltResponse {
    let r = this.#variants[persist];
    if (r === undefined) {
      r = new PrebuiltResponse(this.status, this.fields, persist, this.body, this.bodyLength);
      this.#variants[persist] = r;
    }
    return r;
  }
}

/** The error responses (a short text body). */
export function errorResponses(): Map<number, ResponseSet> {
  const m = new Map<number, ResponseSet>();
  for (const status of [400, 404, 405, 408, 414, 431, 500, 501, 505]) {
    const body = new TextEncoder().encode(`${status} ${STATUS_TEXT[status]}\n`);
    const fields =
      status === 405
        ? 'Allow: GET, HEAD\r\nContent-Type: text/plain\r\n'
        : 'Content-Type: text/plain\r\n';
    m.set(status, new ResponseSet(status, fields, body));
  }
  return m;
}

/** The fixed response of `size` bytes (a repeating alphabet, text/plain). */
export function fixedResponse(size: number): ResponseSet {
  const body = new Uint8Array(size);
  for (let i = 0; i < size; i++) body[i] = 0x61 + (i % 26);
  if (size > 0) body[size - 1] = 0x0a;
  return new ResponseSet(200, 'Content-Type: text/plain\r\n', body);
}
