/**
 * @bypass/socket-api: what applications call: callback sockets, node:net-compatible sockets,
 * transparent acceleration of unmodified node:net code. Nothing is exported yet.
 */
export {};
