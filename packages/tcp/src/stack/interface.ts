import { OptionError } from '@bypass/atomics-sync';
import type { PktmbufPool } from '@bypass/mempool';
import {
  ETH_HEADER_LEN,
  IPV4_MIN_HEADER_LEN,
  macIsMulticast,
  parseCidr,
  parseIpv4,
  parseMac,
  prefixMask,
} from '@bypass/net';
import { RouteTable } from '../iface/routes.js';
import type { StackOptions } from './options.js';

/** Interface counters, one set per stack (per lcore). */
export interface StackStats {
  rxFrames: number;
  txFrames: number;
  rxNotForUs: number;
  rxUnknownEthertype: number;
  rxMalformed: number;
  rxBadIpv4: number;
  /** Packets claiming our own address as their source (LAND and other spoofing): dropped. */
  rxMartianSource: number;
  /** Packets carrying a source route option (LSRR, SSRR): dropped. */
  rxSourceRouted: number;
  rxBadChecksum: number;
  rxFragments: number;
  rxReassembled: number;
  rxUnknownProtocol: number;
  arpRequestsIn: number;
  arpRepliesIn: number;
  arpRequestsOut: number;
  arpRepliesOut: number;
  arpPendingDrops: number;
  icmpEchoIn: number;
  /** Echo requests to a broadcast address, not answered (Linux's icmp_echo_ignore_broadcasts). */
  icmpEchoBroadcastIgnored: number;
  icmpErrorsOut: number;
  icmpErrorsIn: number;
  icmpRateLimited: number;
  udpIn: number;
  udpOut: number;
  udpNoPort: number;
  udpFragmentsOut: number;
  txNoRoute: number;
  txNoMbuf: number;
  txQueueFull: number;
}

function newStackStats(): StackStats {
  return {
    rxFrames: 0,
    txFrames: 0,
    rxNotForUs: 0,
    rxUnknownEthertype: 0,
    rxMalformed: 0,
    rxBadIpv4: 0,
    rxMartianSource: 0,
    rxSourceRouted: 0,
    rxBadChecksum: 0,
    rxFragments: 0,
    rxReassembled: 0,
    rxUnknownProtocol: 0,
    arpRequestsIn: 0,
    arpRepliesIn: 0,
    arpRequestsOut: 0,
    arpRepliesOut: 0,
    arpPendingDrops: 0,
    icmpEchoIn: 0,
    icmpEchoBroadcastIgnored: 0,
    icmpErrorsOut: 0,
    icmpErrorsIn: 0,
    icmpRateLimited: 0,
    udpIn: 0,
    udpOut: 0,
    udpNoPort: 0,
    udpFragmentsOut: 0,
    txNoRoute: 0,
    txNoMbuf: 0,
    txQueueFull: 0,
  };
}

/** Ethernet and IPv4 headers in front of every L4 header the stack sends. */
export const FRAME_HEADERS = ETH_HEADER_LEN + IPV4_MIN_HEADER_LEN;

/**
 * What every layer of one stack shares (smoltcp's InterfaceInner): the interface's addresses,
 * the pool its frames come from and the tx queue they wait in, its counters and the frame being
 * received. The layers (ethernet.ts, ipv4.ts, tcp.ts, udp.ts) each own their own tables.
 */
export class Interface {
  readonly pool: PktmbufPool;
  /** The pool's bytes, where every frame the stack sends is written. */
  readonly data: Uint8Array;
  /** A DataView over `data`: one big-endian store per header field. */
  readonly txView: DataView;
  readonly mac: number;
  /** `mac` as its high 16 and low 32 bits (compared per frame without a 48-bit double). */
  readonly macHi: number;
  readonly macLo: number;
  readonly localIp: number;
  readonly prefixLen: number;
  readonly netmask: number;
  /** The subnet's directed broadcast (255.255.255.255 for a /31 or /32, RFC 3021 2.2). */
  readonly broadcast: number;
  /** Ones' complement sum of our address's two 16-bit halves (IPv4 header and pseudo-header). */
  readonly srcSum: number;
  /** IP MTU of the link. */
  readonly mtu: number;
  /** Largest TCP payload one frame carries: MTU - 40. */
  readonly ifaceMss: number;
  /** Largest TCP payload one TSO frame carries, or 0 when the port does not segment. */
  readonly tsoMax: number;
  /** TCP/UDP checksums left to the port on transmit and trusted when so marked on receive. */
  readonly offload: boolean;
  readonly routes = new RouteTable();
  readonly stats: StackStats = newStackStats();
  /** Frames to send: `txQueue[0 .. txCount)`. */
  readonly txQueue: Uint32Array;
  txCount = 0;
  /** The `now` of the latest input or poll (ms). */
  lastNow: number;
  /** The view over the bytes of the frame being received, or null (a copy: use sum16). */
  rxView: DataView | null = null;
  /** The frame being received was sent to the Ethernet broadcast address. */
  rxLinkBroadcast = false;
  /**
   * The frame being received is an aggregate of segments this size (the port's LRO/GRO: a tap
   * read of up to 64 KB with its virtio-net gso_size), or 0: the wire MSS behind a big frame.
   */
  rxSegSize = 0;
  /** DataViews over each pool's bytes, by pool id, for the fast checksum (sum16View). */
  readonly #views: (DataView | undefined)[] = new Array(256).fill(undefined);

  /** Throws OptionError naming a bad option and its value. */
  constructor(o: StackOptions) {
    this.pool = o.pool;
    this.data = o.pool.data;
    this.txView = this.viewOf(o.pool);
    let mac: number;
    try {
      mac = typeof o.mac === 'number' ? o.mac : parseMac(o.mac);
    } catch {
      throw new OptionError('mac', o.mac, 'a MAC address like 02:00:00:00:00:01');
    }
    if (!Number.isInteger(mac) || mac < 0 || mac > 0xffff_ffff_ffff || macIsMulticast(mac)) {
      throw new OptionError('mac', o.mac, 'a unicast MAC address like 02:00:00:00:00:01');
    }
    this.mac = mac;
    this.macHi = Math.floor(mac / 0x1_0000_0000);
    this.macLo = mac >>> 0;
    const { ip, prefixLen } = parseCidr(String(o.ip), 'ip');
    this.localIp = ip;
    this.srcSum = (ip >>> 16) + (ip & 0xffff);
    this.prefixLen = prefixLen;
    this.netmask = prefixMask(prefixLen);
    this.broadcast = prefixLen >= 31 ? 0xffffffff : ((ip & this.netmask) | ~this.netmask) >>> 0;
    this.routes.add({ dest: ip, prefixLen, gateway: 0 });
    if (o.gateway !== undefined) {
      let gw: number;
      try {
        gw = parseIpv4(o.gateway);
      } catch {
        throw new OptionError('gateway', o.gateway, 'an IPv4 address');
      }
      if ((gw & this.netmask) >>> 0 !== (ip & this.netmask) >>> 0) {
        throw new OptionError('gateway', o.gateway, `an address inside ${o.ip}`);
      }
      this.routes.add({ dest: 0, prefixLen: 0, gateway: gw });
    }
    this.mtu = o.mtu ?? 1500;
    // Every frame starts after the pool's headroom (mbuf 0 may never have been allocated).
    const room = o.pool.mempool.eltSize - o.pool.headroom; // (no mbuf read: debug pools check use)
    if (!Number.isInteger(this.mtu) || this.mtu < 576 || this.mtu > 65535) {
      throw new OptionError('mtu', o.mtu, 'an integer from 576 to 65535');
    }
    if (this.mtu + ETH_HEADER_LEN > room) {
      throw new OptionError(
        'mtu',
        this.mtu,
        `at most ${room - ETH_HEADER_LEN}: the pool's mbufs hold ${room} bytes of frame; use a pool with a larger dataRoomSize`,
      );
    }
    this.ifaceMss = this.mtu - 40;
    const tso = o.tsoMaxBytes ?? 0;
    if (!Number.isInteger(tso) || tso < 0 || tso > 65000) {
      throw new OptionError('tsoMaxBytes', tso, 'an integer from 0 (off) to 65000');
    }
    if (tso > 0 && tso + FRAME_HEADERS + 60 > room) {
      throw new OptionError(
        'tsoMaxBytes',
        tso,
        `at most ${room - FRAME_HEADERS - 60} for this pool's mbufs`,
      );
    }
    this.tsoMax = tso;
    const cs = o.checksum ?? 'compute';
    if (cs !== 'compute' && cs !== 'offload')
      throw new OptionError('checksum', cs, "'compute' or 'offload'");
    this.offload = cs === 'offload';
    const txCap = o.txCapacity ?? 4096;
    if (!Number.isInteger(txCap) || txCap < 1)
      throw new OptionError('txCapacity', txCap, 'an integer >= 1');
    this.txQueue = new Uint32Array(txCap);
    this.lastNow = o.startMs ?? 0;
  }

  /** A DataView over `pool`'s bytes, made once per pool. */
  viewOf(pool: PktmbufPool): DataView {
    const id = pool.mempool.poolId;
    let v = this.#views[id];
    if (v === undefined || v.buffer !== pool.data.buffer || v.byteOffset !== pool.data.byteOffset) {
      v = new DataView(pool.data.buffer, pool.data.byteOffset, pool.data.byteLength);
      this.#views[id] = v;
    }
    return v;
  }

  /** An mbuf for a frame with room for it in the tx queue, or -1 (counted) when there is none. */
  allocFrame(): number {
    if (this.txCount >= this.txQueue.length) {
      this.stats.txQueueFull++;
      return -1;
    }
    const m = this.pool.alloc();
    if (m < 0) this.stats.txNoMbuf++;
    return m;
  }

  /** Appends a finished frame to the tx queue; owns `m` (freed and counted when full). */
  queue(m: number): void {
    if (this.txCount >= this.txQueue.length) {
      this.stats.txQueueFull++;
      this.pool.free(m);
      return;
    }
    this.txQueue[this.txCount++] = m;
    this.stats.txFrames++;
  }

  /** The tx queue has no room left: output waits for the port to take frames. */
  txFull(): boolean {
    return this.txCount >= this.txQueue.length;
  }
}

/** Whether `src` can be a host's own address: not 0, loopback, multicast, reserved or a broadcast. */
export function isUnicastSource(src: number, subnetBroadcast: number): boolean {
  return src !== 0 && src >>> 24 !== 127 && src >>> 28 < 0xe && src !== subnetBroadcast;
}
