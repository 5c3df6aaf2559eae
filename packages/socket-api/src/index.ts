/**
 * @bypass/socket-api: what applications call.
 * - `NetRuntime`: one lcore's stack on one port queue, and its poll loop;
 * - callback sockets (`listen`, `connect`, `CallbackSocket`): zero-copy views in onData,
 *   back-pressure by return value and onDrain;
 * - node:net-compatible `Server`, `Socket`, `createServer`, `connect`, `createConnection`, so
 *   stream code and node:http run unchanged on the user-space stack.
 */
export * from './callback.js';
export * as net from './net.js';
export { connect as netConnect, createConnection, createServer, Server, Socket } from './net.js';
export * from './runtime.js';
export * from './stack-port.js';
export * from './transparent.js';
export * from './transparent-protocol.js';
export {
  type ConnectRoute,
  type ConnectTarget,
  connectRoute,
  hostIpv4,
  isWildcardHost,
  type ListenInfo,
  type ListenRoute,
  type ListenTarget,
  listenRoute,
  type WildcardMode,
} from './transparent-route.js';
