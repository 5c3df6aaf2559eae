import {
  ARP_HTYPE_ETHERNET,
  ARP_LEN,
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  arpCheck,
  arpHtype,
  arpOper,
  arpPtype,
  arpSha,
  arpSpa,
  arpTpa,
  ETH_HEADER_LEN,
  ETH_MIN_FRAME_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ethRawType,
  get16,
  get32,
  getMac,
  ipv4Src,
  MAC_BROADCAST,
  macIsMulticast,
  set16,
  set32,
  setMac,
} from '@bypass/net';
import { ARP_CACHE_DEFAULTS, ArpCache, type ArpCacheOptions } from '../iface/arp-cache.js';
import { type Interface, isUnicastSource } from './interface.js';
import type { Ipv4Layer } from './ipv4.js';

/** ARP ageing walks every second, and at every poll while an address is being resolved. */
const ARP_SWEEP_MS = 1000;

/**
 * The link layer (smoltcp's interface/ethernet.rs with its neighbour cache): which frames are
 * ours, ARP requests and replies (RFC 826, RFC 5227's probes defended), and the destination MAC
 * of every frame we send, resolved through the routes and the ARP cache (frames wait in the
 * cache while their next hop is resolved).
 */
export class EthernetLayer {
  readonly arp: ArpCache;
  readonly #if: Interface;
  #ipv4: Ipv4Layer | null = null;
  readonly #scratch = new Uint32Array(64);
  #sweepAt = 0;
  /** The last next hop resolved: its destination, when, under which table versions, its MAC. */
  #hopDst = -1;
  #hopNow = Number.NaN;
  #hopVersions = -1;
  #hopMacHi = 0;
  #hopMacLo = 0;
  /** The last source `learnNeighbour` found already known, when, under which ARP version. */
  #knownSrc = -1;
  #knownNow = Number.NaN;
  #knownVersion = -1;

  constructor(iface: Interface, arp: ArpCacheOptions | undefined) {
    this.#if = iface;
    this.arp = new ArpCache({ ...ARP_CACHE_DEFAULTS, ...arp });
  }

  /** The layer above, set once when the stack is assembled. */
  attach(ipv4: Ipv4Layer): void {
    this.#ipv4 = ipv4;
  }

  /** One received frame at b[off .. off + len): ours (unicast to our MAC, or broadcast) or dropped. */
  input(b: Uint8Array, off: number, len: number, ol: number, rssHash: number, now: number): void {
    const iface = this.#if;
    const st = iface.stats;
    st.rxFrames++;
    if (len < ETH_HEADER_LEN) {
      st.rxMalformed++;
      return;
    }
    // The destination MAC as 16 + 32 bits: no 48-bit number per frame.
    const dstHi = get16(b, off);
    const dstLo = get32(b, off + 2);
    const broadcast = dstHi === 0xffff && dstLo === 0xffffffff;
    if (!broadcast && (dstHi !== iface.macHi || dstLo !== iface.macLo)) {
      st.rxNotForUs++;
      return;
    }
    iface.rxLinkBroadcast = broadcast;
    const type = ethRawType(b, off);
    if (type === ETHERTYPE_IPV4)
      (this.#ipv4 as Ipv4Layer).input(
        b,
        off + ETH_HEADER_LEN,
        len - ETH_HEADER_LEN,
        ol,
        rssHash,
        now,
      );
    else if (type === ETHERTYPE_ARP) this.arpIn(b, off + ETH_HEADER_LEN, len - ETH_HEADER_LEN, now);
    else st.rxUnknownEthertype++;
  }

  /**
   * Fills in the destination MAC of the frame at data[eth ..] (bound for IPv4 `dst`) and queues
   * it, or parks it in the ARP cache while the next hop is resolved. Owns `m`.
   */
  send(m: number, eth: number, dst: number, now: number): void {
    const iface = this.#if;
    if (dst === iface.broadcast || dst === 0xffffffff) {
      setMac(iface.data, eth, MAC_BROADCAST);
      iface.queue(m);
      return;
    }
    // Both versions only grow, so their sum changes whenever either does.
    const versions = iface.routes.version + this.arp.version;
    if (dst === this.#hopDst && now === this.#hopNow && versions === this.#hopVersions) {
      iface.txView.setUint16(eth, this.#hopMacHi);
      iface.txView.setUint32(eth + 2, this.#hopMacLo);
      iface.queue(m);
      return;
    }
    const hop = iface.routes.nextHop(dst);
    if (hop < 0) {
      iface.stats.txNoRoute++;
      iface.pool.free(m);
      return;
    }
    const mac = this.arp.lookup(hop, now);
    if (mac >= 0) {
      this.#hopDst = dst;
      this.#hopNow = now;
      this.#hopVersions = versions;
      this.#hopMacHi = Math.floor(mac / 0x1_0000_0000);
      this.#hopMacLo = mac >>> 0;
      iface.txView.setUint16(eth, this.#hopMacHi);
      iface.txView.setUint32(eth + 2, this.#hopMacLo);
      iface.queue(m);
      return;
    }
    if (!this.arp.enqueuePending(hop, m, now)) {
      iface.stats.arpPendingDrops++;
      iface.pool.free(m);
    }
    if (this.arp.needsRequest(hop, now)) this.sendArp(ARP_OP_REQUEST, 0, hop);
  }

  /**
   * smoltcp's habit: a unicast datagram from an on-link host tells us the host's MAC. With one
   * stack per queue, an ARP reply reaches one queue only; the neighbour's first segment (its SYN)
   * reaching this lcore is then enough to answer it, instead of an ARP retry a second later.
   * Only unknown or unresolved neighbours are learned: a known entry changes through ARP alone.
   * `ip` is where the IPv4 header starts in `b`; the Ethernet header is just before it.
   */
  learnNeighbour(b: Uint8Array, ip: number, now: number): void {
    const iface = this.#if;
    const src = ipv4Src(b, ip);
    if (((src ^ iface.localIp) & iface.netmask) !== 0 || src === iface.localIp) return;
    const version = this.arp.version;
    if (src === this.#knownSrc && now === this.#knownNow && version === this.#knownVersion) return;
    if (!isUnicastSource(src, iface.broadcast)) return;
    if (this.arp.lookup(src, now) >= 0) {
      this.#knownSrc = src;
      this.#knownNow = now;
      this.#knownVersion = version;
      return;
    }
    const mac = getMac(b, ip - ETH_HEADER_LEN + 6);
    if (macIsMulticast(mac)) return;
    if (this.arp.update(src, mac, now, true)) this.flushPending(src, mac);
  }

  /** ARP retries while an address is being resolved, and ageing. */
  poll(now: number): void {
    const iface = this.#if;
    const ips = this.#scratch;
    // The ARP cache walks all its slots for retries and ageing: at every poll only while
    // something waits for an answer, otherwise once a second (a walk per poll cost 4 us on every
    // iteration of a busy loop; a reachable entry then lives up to a second past its ttl).
    const resolving = this.arp.pendingTotal > 0;
    if (resolving) {
      for (let i = 0, n = this.arp.dueRequests(now, ips); i < n; i++)
        this.sendArp(ARP_OP_REQUEST, 0, ips[i]);
    }
    if (resolving || (now >= this.#sweepAt && this.arp.size > 0)) {
      this.#sweepAt = now + ARP_SWEEP_MS;
      // An entry may hold more packets than the scratch array: drain until a call comes back
      // short, so a failed resolution always ends (and a later packet asks again).
      for (;;) {
        const n = this.arp.expire(now, ips);
        for (let i = 0; i < n; i++) iface.pool.free(ips[i]);
        iface.stats.arpPendingDrops += n;
        if (n < ips.length) break;
      }
    }
  }

  /** When `poll` next has ARP work, given the time of the last input or poll. */
  nextDeadline(lastNow: number): number {
    return this.arp.pendingTotal > 0
      ? lastNow + Math.min(this.arp.retryMs, 100)
      : Number.POSITIVE_INFINITY;
  }

  /** Sends a gratuitous ARP (RFC 5227 announcement): neighbours update their caches. */
  announce(): void {
    this.sendArp(ARP_OP_REQUEST, 0, this.#if.localIp);
  }

  /** Frees every frame waiting for resolution. */
  close(): void {
    // Every entry is dead at the end of time: expire hands back what waits for resolution.
    const dropped = new Uint32Array(Math.max(1, this.arp.pendingTotal));
    const n = this.arp.expire(Number.MAX_SAFE_INTEGER, dropped);
    for (let i = 0; i < n; i++) this.#if.pool.free(dropped[i]);
  }

  private arpIn(b: Uint8Array, off: number, len: number, now: number): void {
    const iface = this.#if;
    const st = iface.stats;
    if (
      arpCheck(b, off, len) !== 0 ||
      arpHtype(b, off) !== ARP_HTYPE_ETHERNET ||
      arpPtype(b, off) !== ETHERTYPE_IPV4
    ) {
      st.rxMalformed++;
      return;
    }
    const op = arpOper(b, off);
    const spa = arpSpa(b, off);
    const sha = arpSha(b, off);
    const tpa = arpTpa(b, off);
    if (op === ARP_OP_REQUEST) st.arpRequestsIn++;
    else if (op === ARP_OP_REPLY) st.arpRepliesIn++;
    if (spa === 0) {
      // An RFC 5227 probe: learn nothing, but defend our address (as Linux's arp_process does).
      if (op === ARP_OP_REQUEST && tpa === iface.localIp) this.sendArp(ARP_OP_REPLY, sha, 0);
      return;
    }
    if (spa === iface.localIp) return; // our own echo
    // RFC 826: merge the sender's pair; learn it when we are the target.
    if (this.arp.update(spa, sha, now, tpa === iface.localIp)) this.flushPending(spa, sha);
    if (op === ARP_OP_REQUEST && tpa === iface.localIp) this.sendArp(ARP_OP_REPLY, sha, spa);
  }

  /** The frames that waited for `ip` leave, addressed to `mac`. */
  private flushPending(ip: number, mac: number): void {
    const iface = this.#if;
    const out = this.#scratch;
    for (;;) {
      const n = this.arp.takePending(ip, out);
      if (n === 0) return;
      for (let i = 0; i < n; i++) {
        const m = out[i];
        setMac(iface.data, iface.pool.mtod(m), mac);
        iface.queue(m);
      }
    }
  }

  private sendArp(op: number, targetMac: number, targetIp: number): void {
    const iface = this.#if;
    const m = iface.allocFrame();
    if (m < 0) return;
    const d = iface.data;
    const e = iface.pool.mtod(m);
    setMac(d, e, op === ARP_OP_REPLY ? targetMac : MAC_BROADCAST);
    setMac(d, e + 6, iface.mac);
    set16(d, e + 12, ETHERTYPE_ARP);
    const a = e + ETH_HEADER_LEN;
    set16(d, a, ARP_HTYPE_ETHERNET);
    set16(d, a + 2, ETHERTYPE_IPV4);
    d[a + 4] = 6;
    d[a + 5] = 4;
    set16(d, a + 6, op);
    setMac(d, a + 8, iface.mac);
    set32(d, a + 14, iface.localIp);
    setMac(d, a + 18, targetMac);
    set32(d, a + 24, targetIp);
    // Pad to the 60-byte Ethernet minimum.
    d.fill(0, e + ETH_HEADER_LEN + ARP_LEN, e + ETH_MIN_FRAME_LEN);
    iface.pool.setDataLen(m, ETH_MIN_FRAME_LEN);
    iface.pool.setPktLen(m, ETH_MIN_FRAME_LEN);
    iface.queue(m);
    if (op === ARP_OP_REPLY) iface.stats.arpRepliesOut++;
    else iface.stats.arpRequestsOut++;
  }
}
