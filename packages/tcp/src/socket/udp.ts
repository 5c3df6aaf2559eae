import { parseIpv4 } from '@bypass/net';

/** What a UDP socket tells its application. */
export interface UdpHandlers {
  /**
   * A datagram arrived: `bytes[offset .. offset + length)`, valid only during the call, from
   * `srcIp` (u32) port `srcPort`.
   */
  onMessage?(
    socket: UdpSocket,
    bytes: Uint8Array,
    offset: number,
    length: number,
    srcIp: number,
    srcPort: number,
  ): void;
}

/** What the socket needs from its stack. */
export interface UdpHost {
  udpSend(
    srcPort: number,
    dst: number,
    dstPort: number,
    src: Uint8Array,
    off: number,
    len: number,
    now: number,
  ): boolean;
  udpUnbind(socket: UdpSocket): void;
}

/** A bound UDP port (RFC 768) on one stack. */
export class UdpSocket {
  readonly host: UdpHost;
  readonly port: number;
  handlers: UdpHandlers;
  #closed = false;

  constructor(host: UdpHost, port: number, handlers: UdpHandlers) {
    this.host = host;
    this.port = port;
    this.handlers = handlers;
  }

  /**
   * Sends `bytes[offset .. offset + length)` to `ip:port`, fragmenting when the datagram exceeds
   * the MTU. Returns false when it could not be queued now (no mbuf, full tx queue, no route).
   */
  sendTo(
    ip: string | number,
    port: number,
    bytes: Uint8Array,
    now: number,
    offset = 0,
    length = bytes.length - offset,
  ): boolean {
    if (this.#closed) return false;
    const dst = typeof ip === 'number' ? ip >>> 0 : parseIpv4(ip);
    return this.host.udpSend(this.port, dst, port, bytes, offset, length, now);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.host.udpUnbind(this);
  }
}
