/**
 * @bypass/loadgen: a wrk-like load generator on the user-space stack.
 * - `runLoad(options, runtime)`: one runtime's connections for one run (in-process, any lcore);
 * - `loadgenLcore`: the same as an lcore function; `runLoadgen`: the program on every worker lcore;
 * - `runBackToBack`: a server's lcore function and the load generator over back-to-back net_ring
 *   ports, returning the merged results (requests/s, Gbit/s, latency, per-lcore counts);
 * - the plumbing socket apps share (`setupPort`, `createRuntime`, `writeSome`, `workerLcores`);
 * - the pieces, for tests: the response framer and the per-connection accounting.
 */
export * from './accounting.js';
export * from './back-to-back.js';
export * from './http-response.js';
export * as http1 from './http1.js';
export * from './lcore.js';
export * from './load.js';
export * from './loadgen.js';
export * from './net-app.js';
export * from './options.js';
export * from './report.js';
export * from './server-app.js';
export * from './supervise.js';
