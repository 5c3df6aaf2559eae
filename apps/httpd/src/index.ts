/**
 * @bypass/httpd: an HTTP/1.1 server on the callback socket API.
 * - `HttpRequestParser`: incremental, zero-copy request parsing with limits;
 * - `HttpServer`: keep-alive, pipelining, a fixed response or static files (`FileCache`);
 * - `httpdLcore`: the server as an lcore function; `runHttpd`: the program;
 * - `runHttpdLoad`: httpd and the load generator over back-to-back net_ring ports.
 */
export * from './files.js';
export * from './httpd.js';
export * from './lcore.js';
export * from './parser.js';
export * from './responses.js';
export * from './server.js';
