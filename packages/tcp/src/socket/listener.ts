import type { ResolvedTcpOptions } from './options.js';
import { type TcpSocket, TcpState } from './tcp.js';

/** What a listener tells the application. */
export interface TcpListenerHandlers {
  /**
   * A connection completed its handshake. Set its handlers here (`socket.handlers = ...`).
   * Without this handler, connections wait in the accept queue for `accept()`.
   */
  onConnection?(socket: TcpSocket): void;
}

/** A passive socket (RFC 9293 LISTEN) with a SYN backlog and an accept backlog. */
export class TcpListener {
  readonly port: number;
  readonly handlers: TcpListenerHandlers;
  readonly options: ResolvedTcpOptions;
  /** Half-open connections (SYN_RECEIVED) allowed at once. */
  readonly synBacklog: number;
  /** Established connections waiting for accept() allowed at once. */
  readonly acceptBacklog: number;
  halfOpen = 0;
  readonly acceptQueue: TcpSocket[] = [];
  closed = false;

  constructor(
    port: number,
    handlers: TcpListenerHandlers,
    options: ResolvedTcpOptions,
    synBacklog: number,
    acceptBacklog: number,
  ) {
    this.port = port;
    this.handlers = handlers;
    this.options = options;
    this.synBacklog = synBacklog;
    this.acceptBacklog = acceptBacklog;
  }

  /**
   * A passive open of ours completed its handshake: the application hears of it through
   * onConnection, or it waits in the accept queue; a closed listener resets it.
   */
  established(socket: TcpSocket, now: number): void {
    this.halfOpen--;
    if (this.closed) {
      socket.listener = null;
      socket.abort(now);
      return;
    }
    if (this.handlers.onConnection !== undefined) {
      socket.listener = null;
      this.handlers.onConnection(socket);
    } else {
      this.acceptQueue.push(socket);
    }
  }

  /** Takes the oldest established connection, or null. */
  accept(): TcpSocket | null {
    const socket = this.acceptQueue.shift();
    if (socket === undefined) return null;
    // The application has it now: its onClose reports the end, and unlisten leaves it alone.
    socket.listener = null;
    return socket;
  }

  /** A half-open child closed before it was accepted. */
  forget(socket: TcpSocket): void {
    if (socket.state === TcpState.CLOSED && socket.listener === this) {
      const i = this.acceptQueue.indexOf(socket);
      if (i >= 0) this.acceptQueue.splice(i, 1);
      else this.halfOpen--;
      socket.listener = null;
    }
  }
}
