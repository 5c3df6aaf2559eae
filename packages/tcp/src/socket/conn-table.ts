import type { TcpSocket } from './tcp.js';

/**
 * One lcore's TCP connections, keyed by the 4-tuple (the local address is the stack's own, so
 * the key is remote address, remote port and local port): open addressing with linear probing,
 * kept at most half full, backward-shift deletion (no tombstones). The slot comes from the
 * flow's hash, which is the RSS hash when the stack knows its port's Toeplitz key: the NIC has
 * already computed it for every received frame, so a lookup costs no hashing at all.
 */
export class ConnTable {
  readonly capacity: number;
  /** Connections in the table. */
  size = 0;
  readonly #mask: number;
  readonly #sockets: (TcpSocket | undefined)[];
  readonly #ip: Uint32Array;
  /** remotePort << 16 | localPort */
  readonly #ports: Uint32Array;
  readonly #hash: Uint32Array;

  /** @param capacity the most connections (the table has twice as many slots, a power of two). */
  constructor(capacity: number) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.capacity = capacity;
    this.#mask = slots - 1;
    this.#sockets = new Array(slots).fill(undefined);
    this.#ip = new Uint32Array(slots);
    this.#ports = new Uint32Array(slots);
    this.#hash = new Uint32Array(slots);
  }

  /** The home slot mixes the hash again: RSS hashes' low bits already chose the lcore. */
  private home(hash: number): number {
    return (Math.imul(hash ^ (hash >>> 16), 0x45d9f3b) >>> 12) & this.#mask;
  }

  lookup(
    hash: number,
    remoteIp: number,
    remotePort: number,
    localPort: number,
  ): TcpSocket | undefined {
    const ports = ((remotePort << 16) | localPort) >>> 0;
    const mask = this.#mask;
    for (let i = this.home(hash); ; i = (i + 1) & mask) {
      const s = this.#sockets[i];
      if (s === undefined) return undefined;
      if (this.#ports[i] === ports && this.#ip[i] === remoteIp) return s;
    }
  }

  /** Adds `socket` under its own tuple and `socket.hash`. Returns false when full or taken. */
  insert(socket: TcpSocket): boolean {
    if (this.size >= this.capacity) return false;
    const ports = ((socket.remotePort << 16) | socket.localPort) >>> 0;
    const mask = this.#mask;
    let i = this.home(socket.hash);
    for (; this.#sockets[i] !== undefined; i = (i + 1) & mask) {
      if (this.#ports[i] === ports && this.#ip[i] === socket.remoteIp) return false;
    }
    this.#sockets[i] = socket;
    this.#ip[i] = socket.remoteIp;
    this.#ports[i] = ports;
    this.#hash[i] = socket.hash;
    socket.slot = i;
    this.size++;
    return true;
  }

  remove(socket: TcpSocket): void {
    let i = socket.slot;
    if (i < 0 || this.#sockets[i] !== socket) return;
    socket.slot = -1;
    this.size--;
    const mask = this.#mask;
    // Backward shift: pull later entries of the probe run into the hole when their home allows.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const s = this.#sockets[j];
      if (s === undefined) break;
      const h = this.home(this.#hash[j]);
      // Entry j may move to i if its home is not in (i, j] cyclically.
      if (((j - h) & mask) >= ((j - i) & mask)) {
        this.#sockets[i] = s;
        this.#ip[i] = this.#ip[j];
        this.#ports[i] = this.#ports[j];
        this.#hash[i] = this.#hash[j];
        s.slot = i;
        i = j;
      }
    }
    this.#sockets[i] = undefined;
  }

  /** Every connection (slow path: shutdown, statistics). */
  *[Symbol.iterator](): IterableIterator<TcpSocket> {
    for (const s of this.#sockets) if (s !== undefined) yield s;
  }
}
