// What every side of `pnpm bench http` shares: the request (path, Host), the response sizes, the
// node:http handler, the load's options and a run's result.
//
// Same response size: every response is RESPONSE_BYTES on the wire, head and body. apps/httpd
// answers with HTTPD_SIZE body bytes after its own head (Server, Date, Content-Type,
// Content-Length: its prebuilt response, taken from @bypass/httpd so this follows it); node:http's
// head is longer (Date, Connection, Keep-Alive), so its handler's body is shorter by the
// difference (NODE_BODY_BYTES). The clients count the bytes of every response, and the bench
// checks each run against RESPONSE_BYTES.
import { fixedResponse, Persist } from '@bypass/httpd';

/** The body apps/httpd sends (its default --size). */
export const HTTPD_SIZE = 64;
/** Bytes of one response on the wire, head and body (apps/httpd's keep-alive 200 response). */
export const RESPONSE_BYTES = fixedResponse(HTTPD_SIZE).get(Persist.KEEP_ALIVE).bytes.length;
/** The TCP port the stack's servers listen on (the kernel baseline takes any free one). */
export const HTTP_PORT = 8080;
/** The Host header of every request (the same bytes on both sides, whatever the address). */
export const HOST = 'bench';
export const PATH = '/';

/** node:http's head for `res.writeHead(200, {Content-Type, Content-Length})` on a keep-alive request. */
function nodeHeadBytes(bodyBytes: number): number {
  const date = 'Wed, 25 Nov 2026 20:37:21 GMT'; // IMF-fixdate: always 29 bytes
  return (
    'HTTP/1.1 200 OK\r\n' +
    'Content-Type: text/plain\r\n' +
    `Content-Length: ${bodyBytes}\r\n` +
    `Date: ${date}\r\n` +
    'Connection: keep-alive\r\n' +
    'Keep-Alive: timeout=5\r\n' +
    '\r\n'
  ).length;
}

/** The node:http body that makes its responses RESPONSE_BYTES long. */
export const NODE_BODY_BYTES = (() => {
  for (let b = 0; b <= RESPONSE_BYTES; b++) if (nodeHeadBytes(b) + b === RESPONSE_BYTES) return b;
  throw new Error(`http bench: no node:http body makes a ${RESPONSE_BYTES}-byte response`);
})();

/** The request handler of node:http (the kernel baseline, and node:http on the stack). */
export function nodeHttpHandler(bodyBytes = NODE_BODY_BYTES) {
  const b = Buffer.alloc(bodyBytes, 'x');
  const len = String(b.length);
  return (
    _req: unknown,
    res: {
      writeHead(status: number, headers: Record<string, string>): unknown;
      end(chunk: Buffer): unknown;
    },
  ) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': len });
    res.end(b);
  };
}

export interface HttpLoad {
  connections: number;
  /** Load before the measured window, not counted (connecting, V8 compiling the hot paths on
   * the run's fresh threads): apps/loadgen's warmupS. */
  warmupS: number;
  /** The measured window, from the warm-up's end. */
  durationS: number;
}

export interface HttpRunResult {
  /** Responses completed in the window. */
  requests: number;
  seconds: number;
  rps: number;
  /** Response bytes (head and body) per response, as the client counted them. */
  responseBytes: number;
  non2xx: number;
  errors: number;
  /** Latency of every counted request, ns (HdrHistogram, compressed base64). */
  histogram: string;
}
