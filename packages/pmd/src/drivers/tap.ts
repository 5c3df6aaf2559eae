import { OptionError } from '@bypass/atomics-sync';
import {
  loadNative,
  memzoneLookup,
  memzoneReserve,
  type NativeAddon,
  nativeUnavailableReason,
} from '@bypass/eal';
import { MbufOlFlag, mbufPoolOf, type PktmbufPool } from '@bypass/mempool';
import type { DriverFactory, EthDriver, PortContext } from '../driver.js';
import { EthDevError } from '../errors.js';
import { RxStat, rxStatBase } from '../port-table.js';
import { checkArgNames, flagArg } from './args.js';

/**
 * net_tap (DPDK's net_tap): a Linux TAP interface whose other side is the kernel's network stack,
 * so ping, curl, wrk and tcpdump talk to what runs in the lcores.
 *
 *   --vdev net_tap0,iface=bp0[,mac=02:..][,persist=1][,offload=none|csum|tso]
 *
 * Each queue is one file descriptor of a multi-queue TAP (IFF_TAP | IFF_NO_PI |
 * IFF_MULTI_QUEUE), so the kernel spreads flows over our rx queues as a NIC's RSS does. The
 * interface is created when the port starts (and brought up) and disappears when it stops,
 * unless persist=1. The native addon does the syscalls: one read(2) or write(2) per frame,
 * straight into and out of mbuf memory, no JS buffer in between. Each rx queue keeps a stash of
 * free mbufs that reads land in, so a poll that finds nothing allocates nothing.
 *
 * offload=csum or offload=tso (none, the default, is plain frames) turns on IFF_VNET_HDR with a 12-byte virtio-net header before
 * every frame (kept in the mbuf's headroom) and TUNSETOFFLOAD, as a virtual machine's NIC does:
 * - rx: a frame whose checksum the kernel left to offload gets RX_L4_CKSUM_NONE; with tso, the
 *   kernel hands over up to 64 KB of TCP in one read (GSO), marked RX_LRO with tsoSegsz set, so
 *   the rx pool's data room must hold 64 KB (dataRoomSize 65536 + 64) or such frames are cut.
 * - tx: TX_TCP_SEG (with tsoSegsz) and TX_TCP_CKSUM / TX_UDP_CKSUM in olFlags ask the kernel to
 *   segment and checksum; other frames go with an empty header.
 *
 * `mac` is this port's own address (the one the user-space stack answers ARP with); the kernel
 * side of the interface has its own MAC.
 */

const ARGS = ['iface', 'mac', 'persist', 'offload'];
/** virtio_net_hdr with num_buffers (TUNSETVNETHDRSZ 12), little-endian. */
const VNET_HDR = 12;
const VNET_F_NEEDS_CSUM = 1;
const VNET_GSO_NONE = 0;
const VNET_GSO_TCPV4 = 1;
const VNET_GSO_TCPV6 = 4;
/** TUNSETOFFLOAD bits. */
const TUN_F_CSUM = 1;
const TUN_F_TSO4 = 2;
const TUN_F_TSO6 = 4;
const MAX_FDS = 16;
/** Words of the `${name}_tap` memzone: fds by queue (rx queue q and tx queue q share fd q). */
const zoneName = (port: string) => `${port}_tap`;

function native(dev: string): NativeAddon {
  const n = loadNative();
  if (n === null || typeof (n as Partial<NativeAddon>).tapOpen !== 'function') {
    throw new EthDevError(
      `${dev}: tap ports need the native addon: ${nativeUnavailableReason() ?? 'it has no tap support'}`,
    );
  }
  return n;
}

function ifaceOf(ctx: PortContext): string {
  return ctx.conf.args.iface ?? `bp${ctx.port}`;
}

class TapDriver implements EthDriver {
  private readonly fds: Int32Array;
  private readonly native: NativeAddon;
  /** Per rx queue: free mbufs ready for the next read, and their data offsets. */
  private readonly stash: Uint32Array[];
  private readonly stashLen: Int32Array;
  private readonly offsets = new Uint32Array(64);
  private readonly lens = new Uint32Array(64);
  /** Bytes of virtio-net header before each frame: 0, or 12 with offload=. */
  private readonly hdr: number;

  constructor(private readonly ctx: PortContext) {
    this.hdr = tapOffload(ctx.conf.args) === undefined ? 0 : VNET_HDR;
    const z = memzoneLookup(zoneName(ctx.conf.name));
    if (z === undefined) throw new EthDevError(`${ctx.conf.name}: the tap port is not started`);
    this.fds = new Int32Array(z.sab, z.byteOffset, MAX_FDS);
    this.native = native(ctx.conf.name);
    this.stash = ctx.conf.rxq.map(() => new Uint32Array(64));
    this.stashLen = new Int32Array(ctx.conf.rxq.length);
  }

  rxBurst(q: number, handles: Uint32Array, max: number): number {
    const fd = Atomics.load(this.fds, q);
    if (fd < 0) return 0;
    const pool: PktmbufPool = this.ctx.rxPools[q]!;
    const stash = this.stash[q];
    const want = Math.min(max, 64);
    let have = this.stashLen[q];
    if (have < want) {
      if (pool.allocBulk(stash, want - have, have) === 0) {
        this.ctx.stats[rxStatBase(q) + RxStat.NOMBUF] += want - have;
        if (have === 0) return 0;
      } else have = want;
      this.stashLen[q] = have;
    }
    const offsets = this.offsets;
    const hdr = this.hdr;
    for (let i = 0; i < have; i++) offsets[i] = pool.mtod(stash[i]) - hdr; // the header goes in the headroom
    const room = pool.mempool.eltSize - pool.headroom + hdr;
    const n = this.native.tapRead(fd, pool.data, offsets, room, this.lens, have);
    if (n === 0) return 0;
    const port = this.ctx.port;
    const data = pool.data;
    for (let i = 0; i < n; i++) {
      const m = stash[i];
      const len = this.lens[i] - hdr;
      pool.setDataLen(m, len);
      pool.setPktLen(m, len);
      pool.setPort(m, port);
      if (hdr !== 0) {
        const h = offsets[i];
        let flags = 0;
        if ((data[h] & VNET_F_NEEDS_CSUM) !== 0) flags |= MbufOlFlag.RX_L4_CKSUM_NONE;
        if (data[h + 1] !== VNET_GSO_NONE) {
          flags |= MbufOlFlag.RX_LRO;
          pool.setTsoSegsz(m, data[h + 4] | (data[h + 5] << 8));
        }
        if (flags !== 0) pool.setOlFlags(m, pool.olFlags(m) | flags);
      }
      handles[i] = m;
    }
    stash.copyWithin(0, n, have);
    this.stashLen[q] = have - n;
    return n;
  }

  txBurst(q: number, handles: Uint32Array, n: number): number {
    const fd = Atomics.load(this.fds, q);
    if (fd < 0) return 0;
    const offsets = this.offsets;
    const lens = this.lens;
    let done = 0;
    // One write(2) per frame, straight from the mbuf; a batch is a run of single-segment mbufs of
    // one pool (one data array), at most 64. Stops when the kernel's queue is full.
    while (done < n) {
      const first = handles[done];
      const pool = mbufPoolOf(first);
      if (pool.nbSegs(first) !== 1) {
        if (this.txChain(fd, first) === 0) break;
        done++;
        continue;
      }
      const id = first >>> 24;
      const hdr = this.hdr;
      let k = 0;
      while (done + k < n && k < 64) {
        const m = handles[done + k];
        if (m >>> 24 !== id || pool.nbSegs(m) !== 1) break;
        offsets[k] = pool.mtod(m) - hdr;
        lens[k] = pool.dataLen(m) + hdr;
        if (hdr !== 0) writeVnetHeader(pool, m, offsets[k]);
        k++;
      }
      let sent: number;
      try {
        sent = this.native.tapWrite(fd, pool.data, offsets, lens, k);
      } catch (e) {
        // EIO: the interface is down (or was moved away); a NIC without carrier takes nothing
        // either. The caller keeps the frames and tries again later.
        if ((e as { code?: string }).code === 'EIO') break;
        throw e;
      }
      for (let i = 0; i < sent; i++) pool.free(handles[done + i]);
      done += sent;
      if (sent < k) break;
    }
    return done;
  }

  /** A chained packet: copied into one buffer, written, freed. Rare (jumbo frames). */
  private txChain(fd: number, m: number): number {
    const pool = mbufPoolOf(m);
    const len = pool.pktLen(m);
    const buf = new Uint8Array(this.hdr + len); // an empty header, if any
    pool.read(m, 0, len, buf, this.hdr);
    this.offsets[0] = 0;
    this.lens[0] = this.hdr + len;
    if (this.native.tapWrite(fd, buf, this.offsets, this.lens, 1) !== 1) return 0;
    pool.free(m);
    return 1;
  }

  close(): void {
    // The fds belong to the port (main thread's setup/teardown), not to this thread; give the
    // stashed mbufs back.
    this.ctx.rxPools.forEach((pool, q) => {
      const len = this.stashLen[q];
      if (pool && len > 0) pool.freeBulk(this.stash[q], len);
      this.stashLen[q] = 0;
    });
  }
}

/** Fills the 12-byte virtio-net header at `at` from the mbuf's tx offload requests. */
function writeVnetHeader(pool: PktmbufPool, m: number, at: number): void {
  const d = pool.data;
  d.fill(0, at, at + VNET_HDR);
  const ol = pool.olFlags(m);
  if ((ol & (MbufOlFlag.TX_TCP_SEG | MbufOlFlag.TX_TCP_CKSUM | MbufOlFlag.TX_UDP_CKSUM)) === 0)
    return;
  const f = at + VNET_HDR; // the frame
  const v6 = d[f + 12] === 0x86 && d[f + 13] === 0xdd;
  const l3 = 14;
  const l4 = v6 ? l3 + 40 : l3 + (d[f + l3] & 0x0f) * 4;
  const udp = (ol & MbufOlFlag.TX_UDP_CKSUM) !== 0;
  d[at] = VNET_F_NEEDS_CSUM;
  d[at + 6] = l4 & 0xff; // csum_start
  d[at + 7] = l4 >> 8;
  d[at + 8] = udp ? 6 : 16; // csum_offset within the L4 header
  if ((ol & MbufOlFlag.TX_TCP_SEG) !== 0) {
    const hdrLen = l4 + ((d[f + l4 + 12] >> 4) & 0x0f) * 4;
    const seg = pool.tsoSegsz(m);
    d[at + 1] = v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
    d[at + 2] = hdrLen & 0xff;
    d[at + 3] = hdrLen >> 8;
    d[at + 4] = seg & 0xff;
    d[at + 5] = seg >> 8;
  }
}

/** A tap port's offload= devarg: 'csum', 'tso', or undefined (none, or not given). */
export function tapOffload(args: Record<string, string | undefined>): 'csum' | 'tso' | undefined {
  const o = args.offload;
  return o === 'csum' || o === 'tso' ? o : undefined;
}

export const tapDriver: DriverFactory = {
  probe(name, args) {
    checkArgNames(name, args, ARGS);
    flagArg(name, 'persist', args.persist);
    if (
      args.offload !== undefined &&
      args.offload !== 'none' &&
      args.offload !== 'csum' &&
      args.offload !== 'tso'
    ) {
      throw new OptionError(`${name} offload`, args.offload, 'none, csum or tso');
    }
    if (args.iface !== undefined && !/^[a-zA-Z0-9_.-]{1,15}$/.test(args.iface)) {
      throw new EthDevError(
        `${name}: iface ${JSON.stringify(args.iface)} must be 1-15 characters of [A-Za-z0-9_.-]`,
      );
    }
    native(name);
  },
  setup(ctx) {
    const n = native(ctx.conf.name);
    const queues = Math.max(ctx.conf.rxq.length, ctx.conf.txq.length);
    if (queues > MAX_FDS) throw new EthDevError(`${ctx.conf.name}: at most ${MAX_FDS} queues`);
    const iface = ifaceOf(ctx);
    let fds: number[];
    try {
      fds = n.tapOpen(iface, queues, tapOffload(ctx.conf.args) !== undefined);
    } catch (e) {
      const err = e as Error & { code?: string };
      const fix =
        err.code === 'EPERM'
          ? 'creating a tap interface needs CAP_NET_ADMIN: run as root (or grant the capability)'
          : err.code === 'ENOENT'
            ? '/dev/net/tun is missing: load the tun module (modprobe tun)'
            : 'see the error';
      throw new EthDevError(`${ctx.conf.name}: cannot open tap ${iface}: ${err.message}; ${fix}`);
    }
    if (ctx.conf.args.persist === '1') n.tapSetPersist(fds[0], true);
    const offload = tapOffload(ctx.conf.args);
    if (offload !== undefined) {
      for (const fd of fds) {
        n.tapSetVnetHdrSize(fd, VNET_HDR);
        n.tapSetOffload(fd, offload === 'tso' ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 : TUN_F_CSUM);
      }
      for (const pool of ctx.rxPools) {
        if (pool && pool.headroom < VNET_HDR) {
          throw new EthDevError(
            `${ctx.conf.name}: offload= needs ${VNET_HDR} bytes of mbuf headroom for the virtio-net header`,
          );
        }
      }
    }
    n.ifSetUp(iface, true);
    const z =
      memzoneLookup(zoneName(ctx.conf.name)) ??
      memzoneReserve(zoneName(ctx.conf.name), MAX_FDS * 4);
    const words = new Int32Array(z.sab, z.byteOffset, MAX_FDS);
    for (let i = 0; i < MAX_FDS; i++) Atomics.store(words, i, i < fds.length ? fds[i] : -1);
  },
  teardown(ctx) {
    const z = memzoneLookup(zoneName(ctx.conf.name));
    if (z === undefined) return;
    const n = native(ctx.conf.name);
    const words = new Int32Array(z.sab, z.byteOffset, MAX_FDS);
    for (let i = 0; i < MAX_FDS; i++) {
      const fd = Atomics.exchange(words, i, -1);
      if (fd >= 0) n.closeFd(fd); // the last close removes a non-persistent interface
    }
  },
  attach: (ctx) => new TapDriver(ctx),
};

export { ifaceOf as tapIfaceName };
