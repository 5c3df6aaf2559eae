// The native addon's TAP syscalls (tapOpen, tapRead, tapWrite, ...) and interface ioctls
// (ifSetUp, ifSetMtu, ...) against the real Linux kernel. Each test makes its own network
// namespace and tap and removes both afterwards, whatever happens; traffic only ever goes to
// addresses inside that namespace (10.99.<x>.2, which is us, at the tap's far end). They need
// root, /dev/net/tun, `ip` (iproute2) and the built addon, and skip with the reason otherwise.
// Some need bash (UDP and TCP senders through /dev/udp and /dev/tcp), python3 or ping.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { loadNative, type NativeAddon, nativeUnavailableReason } from './native.js';

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

const native = loadNative();
const skipReason =
  process.platform !== 'linux'
    ? `TAP needs Linux, this is ${process.platform}`
    : process.getuid?.() !== 0
      ? 'not root (creating taps and network namespaces needs CAP_NET_ADMIN)'
      : !existsSync('/dev/net/tun')
        ? '/dev/net/tun is missing'
        : !onPath('ip')
          ? '`ip` (iproute2) is not on PATH'
          : !native
            ? nativeUnavailableReason()
            : undefined;
const noBash = !onPath('bash') ? 'bash is not on PATH (the UDP/TCP senders use it)' : undefined;
const noPython = !onPath('python3') ? 'python3 is not on PATH' : undefined;
const noPinger =
  !onPath('ping') && !onPath('python3') ? 'neither ping nor python3 is on PATH' : undefined;
const noSetpriv = !onPath('setpriv') ? 'setpriv (util-linux) is not on PATH' : undefined;
if (skipReason) console.log(`tap-native.test.ts: skipping the TAP tests: ${skipReason}`);
for (const [what, why] of [
  ['the tests that send from the namespace', noBash],
  ['the UDP flood measurement', noPython],
  ['the ping test', noPinger],
  ['the EPERM test', noSetpriv],
] as const) {
  if (!skipReason && why) console.log(`tap-native.test.ts: skipping ${what}: ${why}`);
}
/** it.skipIf for the TAP tests: skips when the basics or any of `more` are missing. */
const tapIt = (...more: (string | undefined)[]) =>
  it.skipIf(skipReason !== undefined || more.some((m) => m !== undefined));

const TUN_F_CSUM = 1;
const TUN_F_TSO4 = 2;
const TUN_F_TSO6 = 4;
const VNET_HDR = 12; // virtio_net_hdr_mrg_rxbuf
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_MULTI_QUEUE = 0x0100;
const IFF_VNET_HDR = 0x4000;
/** Our end of the wire: the MAC and (in each namespace) 10.99.<x>.2 that we answer for. */
const OUR_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0xaa);
const BROADCAST = new Uint8Array(6).fill(0xff);

// ---- Packets -----------------------------------------------------------------------------

const macText = (m: Uint8Array) => [...m].map((b) => b.toString(16).padStart(2, '0')).join(':');
const ip4 = (dotted: string) => Uint8Array.from(dotted.split('.').map(Number));
const u16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u32 = (b: Uint8Array, at: number) =>
  ((b[at] << 24) | (b[at + 1] << 16) | u16(b, at + 2)) >>> 0;
const le16 = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8);
function put16(b: Uint8Array, at: number, v: number) {
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
}
function put32(b: Uint8Array, at: number, v: number) {
  put16(b, at, v >>> 16);
  put16(b, at + 2, v & 0xffff);
}

/** The one's complement sum of b[start..end) folded to 16 bits, plus `sum`; not inverted. */
function sum16(b: Uint8Array, start: number, end: number, sum = 0): number {
  for (let i = start; i + 1 < end; i += 2) sum += u16(b, i);
  if ((end - start) & 1) sum += b[end - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}
/** The Internet checksum of b[start..end) (0 over data that carries a correct one). */
const checksum = (b: Uint8Array, start: number, end: number, sum = 0) =>
  ~sum16(b, start, end, sum) & 0xffff;

function ethernet(dst: Uint8Array, src: Uint8Array, type: number, payloadLength: number) {
  const f = new Uint8Array(14 + payloadLength);
  f.set(dst, 0);
  f.set(src, 6);
  put16(f, 12, type);
  return f;
}

function arp(op: 1 | 2, sha: Uint8Array, spa: string, tha: Uint8Array, tpa: string) {
  const f = ethernet(op === 1 ? BROADCAST : tha, sha, 0x0806, 28);
  f.set([0, 1, 8, 0, 6, 4, 0, op], 14); // Ethernet, IPv4, hlen 6, plen 4, opcode
  f.set(sha, 22);
  f.set(ip4(spa), 28);
  f.set(op === 1 ? new Uint8Array(6) : tha, 32);
  f.set(ip4(tpa), 38);
  return f;
}

/** An IPv4 header at f[14..34) for `payloadLength` bytes of `proto`, with its checksum. */
function ipv4Header(f: Uint8Array, proto: number, src: string, dst: string, payloadLength: number) {
  f.set([0x45, 0], 14);
  put16(f, 16, 20 + payloadLength);
  put32(f, 18, 0x4000); // id 0, DF
  f[22] = 64;
  f[23] = proto;
  f.set(ip4(src), 26);
  f.set(ip4(dst), 30);
  put16(f, 24, checksum(f, 14, 34));
}

/** The echo reply to an ICMP echo request frame: addresses swapped, type 0, new checksums. */
function echoReply(request: Uint8Array): Uint8Array {
  const f = request.slice();
  f.set(request.subarray(6, 12), 0);
  f.set(request.subarray(0, 6), 6);
  const ihl = (f[14] & 0x0f) * 4;
  f.set(request.subarray(30, 34), 26);
  f.set(request.subarray(26, 30), 30);
  f[22] = 64;
  put16(f, 24, 0);
  put16(f, 24, checksum(f, 14, 14 + ihl));
  const icmp = 14 + ihl;
  const end = 14 + u16(f, 16);
  f[icmp] = 0;
  put16(f, icmp + 2, 0);
  put16(f, icmp + 2, checksum(f, icmp, end));
  return f;
}

interface TcpSegment {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  options?: number[];
}
const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;

function tcpFrame(dstMac: Uint8Array, srcMac: Uint8Array, s: TcpSegment): Uint8Array {
  const options = s.options ?? [];
  const tcpLength = 20 + options.length;
  const f = ethernet(dstMac, srcMac, 0x0800, 20 + tcpLength);
  ipv4Header(f, 6, s.srcIp, s.dstIp, tcpLength);
  const t = 34;
  put16(f, t, s.srcPort);
  put16(f, t + 2, s.dstPort);
  put32(f, t + 4, s.seq);
  put32(f, t + 8, s.ack);
  f[t + 12] = (tcpLength / 4) << 4;
  f[t + 13] = s.flags;
  put16(f, t + 14, s.window);
  f.set(options, t + 20);
  // Pseudo-header: addresses, protocol, TCP length.
  const pseudo = sum16(f, 26, 34, 6 + tcpLength);
  put16(f, t + 16, checksum(f, t, t + tcpLength, pseudo));
  return f;
}

/** A one-line description of a frame, for failure messages. */
function describeFrame(f: Uint8Array): string {
  const type = u16(f, 12);
  if (type === 0x0806) return `ARP op ${u16(f, 20)} ${ip4Text(f, 28)} -> ${ip4Text(f, 38)}`;
  if (type === 0x0800) return `IPv4 proto ${f[23]} ${ip4Text(f, 26)} -> ${ip4Text(f, 30)}`;
  return `ethertype 0x${type.toString(16)} length ${f.length}`;
}
const ip4Text = (b: Uint8Array, at: number) => [...b.subarray(at, at + 4)].join('.');

// ---- A queue: a tap fd with rx and tx slots in a SharedArrayBuffer ------------------------

/** Where the views start inside the SharedArrayBuffer: not 0, to prove byteOffset is used. */
const VIEW_START = 64;

class Queue {
  readonly sab: SharedArrayBuffer;
  /** rx slots first, then tx slots, each `capacity` bytes; a view at VIEW_START. */
  readonly buf: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lens: Uint32Array;
  readonly txOffsets: Uint32Array;
  readonly txLens: Uint32Array;
  /** Everything read and not matched yet by `poll`, oldest first. */
  readonly seen: string[] = [];

  constructor(
    readonly addon: NativeAddon,
    readonly fd: number,
    readonly capacity = 2048,
    readonly slots = 8,
    /** The virtio-net header size in front of each frame, 0 without one. */
    readonly hdr = 0,
  ) {
    this.sab = new SharedArrayBuffer(VIEW_START + 2 * slots * capacity);
    this.buf = new Uint8Array(this.sab, VIEW_START, 2 * slots * capacity);
    // The descriptors live in shared memory too, as a driver's would.
    const desc = new Uint32Array(new SharedArrayBuffer(16 * slots));
    this.offsets = desc.subarray(0, slots);
    this.lens = desc.subarray(slots, 2 * slots);
    this.txOffsets = desc.subarray(2 * slots, 3 * slots);
    this.txLens = desc.subarray(3 * slots, 4 * slots);
    for (let i = 0; i < slots; i++) {
      this.offsets[i] = i * capacity;
      this.txOffsets[i] = (slots + i) * capacity;
    }
  }

  /** One tapRead into the rx slots: the frames as they lie in buf (views, valid until the
   * next read). */
  read(max = this.slots): Uint8Array[] {
    const n = this.addon.tapRead(this.fd, this.buf, this.offsets, this.capacity, this.lens, max);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      frames.push(this.buf.subarray(this.offsets[i], this.offsets[i] + this.lens[i]));
    }
    return frames;
  }

  /** Writes frames (each with a zeroed virtio-net header in front when hdr > 0) through the
   * tx slots with one tapWrite; returns how many the kernel took. */
  write(frames: Uint8Array[]): number {
    frames.forEach((f, i) => {
      const at = this.txOffsets[i];
      this.buf.fill(0, at, at + this.hdr);
      this.buf.set(f, at + this.hdr);
      this.txLens[i] = this.hdr + f.length;
    });
    return this.addon.tapWrite(this.fd, this.buf, this.txOffsets, this.txLens, frames.length);
  }

  /** Polls (small sleeps between empty reads) until a frame (after the virtio-net header)
   * matches; returns a copy of the whole read (header included) and the slot it was in. */
  async poll(
    what: string,
    match: (frame: Uint8Array) => boolean,
    timeoutMs = 3000,
  ): Promise<{ read: Uint8Array; slot: number }> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const frames = this.read();
      for (const [slot, f] of frames.entries()) {
        if (match(f.subarray(this.hdr))) return { read: f.slice(), slot };
        this.seen.push(describeFrame(f.subarray(this.hdr)));
      }
      if (frames.length === 0) await sleep(2);
    }
    throw new Error(
      `no ${what} within ${timeoutMs} ms; read instead: ${this.seen.join('; ') || 'nothing'}`,
    );
  }
}

// ---- Namespaces and taps -----------------------------------------------------------------

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function tryIp(...args: string[]): boolean {
  return spawnSync('ip', args, { stdio: 'ignore' }).status === 0;
}
const linkExists = (ifname: string) => tryIp('link', 'show', 'dev', ifname);

/** One test's world: namespace `ns` holding tap `ifname` (10.99.<net>.1/24), whose fds we hold
 * in the root namespace. `peer` (10.99.<net>.2) is the address we answer for. */
interface Lab {
  ns: string;
  ifname: string;
  local: string;
  peer: string;
  fds: number[];
  mac: Uint8Array;
  children: ChildProcess[];
}

const labs: Lab[] = [];

function newLab(): Lab {
  const net = randomInt(1, 255);
  const lab: Lab = {
    ns: `bptest${randomInt(1_000_000)}`,
    ifname: `bptap${randomInt(10_000).toString().padStart(4, '0')}`,
    local: `10.99.${net}.1`,
    peer: `10.99.${net}.2`,
    fds: [],
    mac: new Uint8Array(6),
    children: [],
  };
  labs.push(lab); // before creating anything, so afterEach removes whatever was made
  return lab;
}

/** A tap opened in the root namespace, then moved into a fresh namespace, addressed, up. */
function makeLab(
  addon: NativeAddon,
  options: {
    queues?: number;
    vnetHdr?: boolean;
    /** Runs while the tap is still in the root namespace. */
    configure?: (fds: number[], ifname: string) => void;
  } = {},
): Lab {
  const lab = newLab();
  ip('netns', 'add', lab.ns);
  // No IPv6 in the namespace: no router solicitations or DAD among the frames we read.
  if (existsSync('/proc/sys/net/ipv6')) {
    ip('netns', 'exec', lab.ns, 'sh', '-c', disableIpv6('default', 'all'));
  }
  lab.fds = addon.tapOpen(lab.ifname, options.queues ?? 1, options.vnetHdr ?? false);
  options.configure?.(lab.fds, lab.ifname);
  lab.mac = addon.ifGetMac(lab.ifname);
  // The fds stay valid across the move: they belong to the device, not to a namespace.
  ip('link', 'set', lab.ifname, 'netns', lab.ns);
  ip('-n', lab.ns, 'addr', 'add', `${lab.local}/24`, 'dev', lab.ifname);
  ip('-n', lab.ns, 'link', 'set', lab.ifname, 'up');
  return lab;
}

const disableIpv6 = (...confs: string[]) =>
  confs.map((c) => `echo 1 > /proc/sys/net/ipv6/conf/${c}/disable_ipv6`).join('; ');

/** A tap in the root namespace, down, with IPv6 off on it (so bringing it up sends nothing). */
function rootTap(addon: NativeAddon, queues = 1): Lab {
  const lab = newLab();
  lab.fds = addon.tapOpen(lab.ifname, queues, false);
  const conf = `/proc/sys/net/ipv6/conf/${lab.ifname}/disable_ipv6`;
  if (existsSync(conf)) writeFileSync(conf, '1');
  return lab;
}

/** Runs `command` inside the lab's namespace in its own process group (so cleanup can end it
 * and its children); resolves with its exit code and output when it ends. */
function inNamespace(
  lab: Lab,
  command: string[],
): { child: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const child = spawn('ip', ['netns', 'exec', lab.ns, ...command], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  lab.children.push(child);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const done = new Promise<{ code: number | null; out: string }>((resolve) => {
    child.on('close', (code) => resolve({ code, out }));
    child.on('error', (err) => resolve({ code: null, out: `${out}${err.message}` }));
  });
  return { child, done };
}

/** ping -c 1 -W <s>, or where ping is missing the same in python3 (a raw ICMP socket),
 * printing ping's "1 packets transmitted, N received". */
function ping(lab: Lab, target: string, waitSeconds: number) {
  if (onPath('ping')) {
    return inNamespace(lab, ['ping', '-n', '-c', '1', '-W', String(waitSeconds), target]);
  }
  return inNamespace(lab, ['python3', '-c', PYTHON_PING, target, String(waitSeconds)]);
}

const PYTHON_PING = `
import os, socket, struct, sys, time
dst, wait = sys.argv[1], float(sys.argv[2])
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
ident, payload = os.getpid() & 0xffff, b'bypass tap test.' * 3
pkt = struct.pack('!BBHHH', 8, 0, 0, ident, 1) + payload
pkt = pkt[:2] + struct.pack('!H', csum(pkt)) + pkt[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(pkt, (dst, 0))
got, deadline = 0, time.time() + wait
while not got and time.time() < deadline:
    s.settimeout(max(0.01, deadline - time.time()))
    try: data, addr = s.recvfrom(2048)
    except socket.timeout: break
    h = (data[0] & 15) * 4
    t, _, _, i, _ = struct.unpack('!BBHHH', data[h:h + 8])
    got = int(t == 0 and i == ident and addr[0] == dst)
print('1 packets transmitted, %d received' % got)
sys.exit(0 if got else 1)
`;

async function removeLab(addon: NativeAddon | null, lab: Lab) {
  for (const child of lab.children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once('close', resolve));
      try {
        process.kill(-child.pid, 'SIGKILL'); // its process group: it and its children
      } catch {
        // already gone
      }
      await Promise.race([exited, sleep(2000)]);
    }
  }
  for (const fd of lab.fds) {
    try {
      addon?.closeFd(fd); // a non-persistent tap goes with its last fd, wherever it is
    } catch {
      // closed by the test already
    }
  }
  tryIp('netns', 'del', lab.ns);
  if (linkExists(lab.ifname)) tryIp('link', 'del', lab.ifname);
}

afterEach(async () => {
  for (const lab of labs.splice(0)) await removeLab(native, lab);
});

/** Polls `check` every 10 ms until it returns true or `timeoutMs` passes. */
async function eventually(check: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(10);
  }
}

const isArpRequest = (spa: string, tpa: string) => (f: Uint8Array) =>
  f.length >= 42 &&
  u16(f, 12) === 0x0806 &&
  u16(f, 20) === 1 &&
  ip4Text(f, 28) === spa &&
  ip4Text(f, 38) === tpa;

const isIcmpEcho = (src: string, dst: string) => (f: Uint8Array) =>
  f.length >= 42 &&
  u16(f, 12) === 0x0800 &&
  f[23] === 1 &&
  ip4Text(f, 26) === src &&
  ip4Text(f, 30) === dst &&
  f[14 + (f[14] & 0x0f) * 4] === 8;

const isUdpTo = (dst: string, port: number) => (f: Uint8Array) =>
  f.length >= 42 &&
  u16(f, 12) === 0x0800 &&
  f[23] === 17 &&
  ip4Text(f, 30) === dst &&
  u16(f, 14 + (f[14] & 0x0f) * 4 + 2) === port;

/** Sends one UDP datagram from the namespace (bash's /dev/udp: a new socket and source port
 * each time). */
const udpFromNamespace = (lab: Lab, target: string, port: number, count = 1) =>
  ip(
    'netns',
    'exec',
    lab.ns,
    'bash',
    '-c',
    `for i in $(seq ${count}); do echo bypass > /dev/udp/${target}/${port}; done`,
  );

/** A permanent neighbour entry in the namespace: `peer` is at OUR_MAC (no ARP needed). */
const neighbour = (lab: Lab) =>
  ip(
    '-n',
    lab.ns,
    'neigh',
    'replace',
    lab.peer,
    'lladdr',
    macText(OUR_MAC),
    'dev',
    lab.ifname,
    'nud',
    'permanent',
  );

// ---- Tests -------------------------------------------------------------------------------

describe('tap (native addon)', () => {
  tapIt()(
    'opens a multi-queue tap: nonblocking close-on-exec fds, and it goes with the last fd',
    () => {
      const addon = native!;
      const lab = rootTap(addon);
      const [fd] = lab.fds;
      expect(readlinkSync(`/proc/self/fd/${fd}`)).toBe('/dev/net/tun');
      const flags = Number.parseInt(
        /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1],
        8,
      );
      expect(flags & 0o4000).toBe(0o4000); // O_NONBLOCK
      expect(flags & 0o2000000).toBe(0o2000000); // O_CLOEXEC
      expect(flags & 3).toBe(2); // O_RDWR
      const tunFlags = Number(readFileSync(`/sys/class/net/${lab.ifname}/tun_flags`, 'utf8'));
      expect(tunFlags).toBe(IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE);
      expect(addon.ifIndex(lab.ifname)).toBe(
        Number(readFileSync(`/sys/class/net/${lab.ifname}/ifindex`, 'utf8')),
      );
      // Nothing waiting: 0, not an exception.
      const q = new Queue(addon, fd);
      expect(q.read()).toEqual([]);
      addon.closeFd(fd);
      lab.fds = [];
      expect(linkExists(lab.ifname)).toBe(false);
    },
  );

  tapIt(noPinger)(
    'answers the ARP request and the ping from the namespace by hand, through SAB views',
    async () => {
      const addon = native!;
      const lab = makeLab(addon);
      expect(ip('-n', lab.ns, 'link', 'show', lab.ifname)).toContain(
        `link/ether ${macText(lab.mac)}`,
      );
      const q = new Queue(addon, lab.fds[0]);
      const pinger = ping(lab, lab.peer, 2);

      // The kernel first asks who has the peer's address: a broadcast ARP request.
      const { read: request, slot } = await q.poll(
        'ARP request',
        isArpRequest(lab.local, lab.peer),
      );
      expect([...request]).toEqual([...arp(1, lab.mac, lab.local, BROADCAST, lab.peer)]);
      expect(u16(request, 12)).toBe(0x0806);
      expect(u16(request, 20)).toBe(1);
      expect(request.subarray(0, 6)).toEqual(BROADCAST);
      expect(request.subarray(22, 28)).toEqual(lab.mac);
      // It landed in the SharedArrayBuffer where offsets[slot] (past the view's byteOffset)
      // says, seen through an independent view.
      const raw = new Uint8Array(q.sab, VIEW_START + q.offsets[slot], request.length);
      expect([...raw]).toEqual([...request]);

      // Our answer: the peer's address is at OUR_MAC.
      expect(q.write([arp(2, OUR_MAC, lab.peer, lab.mac, lab.local)])).toBe(1);
      const neigh = () => ip('-n', lab.ns, 'neigh', 'show', lab.peer, 'dev', lab.ifname);
      expect(await eventually(() => neigh().includes(macText(OUR_MAC)))).toBe(true);

      // Then the echo request itself, which we answer.
      const { read: echo } = await q.poll('ICMP echo request', isIcmpEcho(lab.local, lab.peer));
      expect(echo.subarray(0, 6)).toEqual(OUR_MAC);
      expect(echo.subarray(6, 12)).toEqual(lab.mac);
      const ihl = (echo[14] & 0x0f) * 4;
      expect(checksum(echo, 14, 14 + ihl)).toBe(0); // the kernel's checksums are right...
      expect(checksum(echo, 14 + ihl, 14 + u16(echo, 16))).toBe(0);
      const reply = echoReply(echo);
      expect(checksum(reply, 14, 14 + ihl)).toBe(0); // ...and so are ours
      expect(checksum(reply, 14 + ihl, 14 + u16(reply, 16))).toBe(0);
      expect(q.write([reply])).toBe(1);

      const { code, out } = await pinger.done;
      expect(out).toMatch(/1 packets transmitted, 1 received/);
      expect(code).toBe(0);
    },
  );

  tapIt(noBash)(
    'multi-queue: 2 fds, multi_queue in ip -d link, flows spread over both queues',
    async () => {
      const addon = native!;
      const lab = makeLab(addon, { queues: 2 });
      expect(lab.fds).toHaveLength(2);
      expect(new Set(lab.fds).size).toBe(2);
      const details = ip('-d', '-n', lab.ns, 'link', 'show', lab.ifname);
      expect(details).toContain('multi_queue');
      expect(details).toMatch(/numqueues 2\b/);
      neighbour(lab);

      // 16 flows (one socket and source port each), 3 datagrams in each.
      const flows = 16;
      ip(
        'netns',
        'exec',
        lab.ns,
        'bash',
        '-c',
        `for f in $(seq ${flows}); do exec 3>/dev/udp/${lab.peer}/9;` +
          ' for i in 1 2 3; do echo bypass >&3; done; exec 3>&-; done',
      );
      const queues = lab.fds.map((fd) => new Queue(addon, fd));
      const byQueue = queues.map(() => new Map<number, number>()); // source port -> datagrams
      const udp = isUdpTo(lab.peer, 9);
      const deadline = performance.now() + 3000;
      let total = 0;
      while (total < 3 * flows && performance.now() < deadline) {
        let got = 0;
        queues.forEach((q, i) => {
          for (const f of q.read()) {
            got++;
            if (!udp(f)) continue;
            const port = u16(f, 34);
            byQueue[i].set(port, (byQueue[i].get(port) ?? 0) + 1);
            total++;
          }
        });
        if (got === 0) await sleep(2);
      }
      const ports = byQueue.map((m) => [...m.keys()]);
      console.log(
        `tap-native.test.ts: ${flows} UDP flows over a 2-queue tap: ${ports[0].length} on ` +
          `queue 0, ${ports[1].length} on queue 1`,
      );
      expect(total).toBe(3 * flows);
      // Each flow stays on one queue, and the kernel's flow hash used both.
      expect(ports[0].filter((p) => byQueue[1].has(p))).toEqual([]);
      for (const m of byQueue) for (const count of m.values()) expect(count).toBe(3);
      expect(ports[0].length).toBeGreaterThan(0);
      expect(ports[1].length).toBeGreaterThan(0);
    },
  );

  tapIt(noBash)(
    'vnet header: a 12-byte virtio_net_hdr before each frame read, and each frame written',
    async () => {
      const addon = native!;
      let tunFlags = 0;
      const lab = makeLab(addon, {
        vnetHdr: true,
        configure: ([fd], ifname) => {
          tunFlags = Number(readFileSync(`/sys/class/net/${ifname}/tun_flags`, 'utf8'));
          addon.tapSetVnetHdrSize(fd, VNET_HDR);
          addon.tapSetOffload(fd, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
        },
      });
      expect(tunFlags).toBe(IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR);
      expect(ip('-d', '-n', lab.ns, 'link', 'show', lab.ifname)).toContain('vnet_hdr on');
      const q = new Queue(addon, lab.fds[0], 2048, 8, VNET_HDR);
      q.buf.fill(0xee); // so we see which header bytes the kernel writes

      // A plain frame: the ARP request a UDP datagram to the unresolved peer sets off.
      udpFromNamespace(lab, lab.peer, 9);
      const { read: request } = await q.poll('ARP request', isArpRequest(lab.local, lab.peer));
      expect(request.length).toBe(VNET_HDR + 42);
      // flags 0, gso_type 0 (VIRTIO_NET_HDR_GSO_NONE), hdr_len, gso_size, csum_start,
      // csum_offset 0, and num_buffers (the 2 bytes past struct virtio_net_hdr) zeroed too.
      expect([...request.subarray(0, VNET_HDR)]).toEqual(new Array(VNET_HDR).fill(0));
      expect([...request.subarray(VNET_HDR)]).toEqual([
        ...arp(1, lab.mac, lab.local, BROADCAST, lab.peer),
      ]);

      // Writing takes a header too (zero: no GSO, checksums complete): our ARP reply.
      expect(q.write([arp(2, OUR_MAC, lab.peer, lab.mac, lab.local)])).toBe(1);
      const neigh = () => ip('-n', lab.ns, 'neigh', 'show', lab.peer, 'dev', lab.ifname);
      expect(await eventually(() => neigh().includes(macText(OUR_MAC)))).toBe(true);

      // The datagram that waited for the ARP reply: with TUN_F_CSUM the kernel leaves its UDP
      // checksum to us: flags NEEDS_CSUM, checksum from byte 34 (Ethernet + IPv4), field at +6.
      const { read: udp } = await q.poll('UDP datagram', isUdpTo(lab.peer, 9));
      expect(udp[0]).toBe(1); // VIRTIO_NET_HDR_F_NEEDS_CSUM
      expect(udp[1]).toBe(0); // VIRTIO_NET_HDR_GSO_NONE
      expect(le16(udp, 6)).toBe(34); // csum_start
      expect(le16(udp, 8)).toBe(6); // csum_offset
      expect(new TextDecoder().decode(udp.subarray(VNET_HDR + 42))).toBe('bypass\n');
    },
  );

  tapIt(noBash)(
    'TSO: reads of a TCP stream from the namespace carry GSO frames (sizes reported)',
    async () => {
      const addon = native!;
      const lab = makeLab(addon, {
        vnetHdr: true,
        configure: ([fd]) => {
          addon.tapSetVnetHdrSize(fd, VNET_HDR);
          addon.tapSetOffload(fd, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
        },
      });
      neighbour(lab);
      const q = new Queue(addon, lab.fds[0], 65536 + 1024, 16, VNET_HDR);
      const bytes = 8_000_000;
      const port = 5001;
      // The namespace connects to us and sends `bytes` zeros; we play a TCP receiver that
      // answers the SYN and acknowledges everything in order.
      const sender = inNamespace(lab, [
        'bash',
        '-c',
        `exec 3<>/dev/tcp/${lab.peer}/${port} && head -c ${bytes} /dev/zero >&3`,
      ]);
      const ours = { srcIp: lab.peer, dstIp: lab.local, srcPort: port };
      let theirPort = 0;
      let next = 0; // the next sequence number we expect
      let received = 0;
      let frames = 0;
      let gsoFrames = 0;
      let maxRead = 0;
      let maxGsoSize = 0;
      let started = 0;
      const bad: string[] = [];
      const deadline = performance.now() + 15_000;
      while (received < bytes && performance.now() < deadline) {
        const reads = q.read();
        let ack = false;
        for (const r of reads) {
          const f = r.subarray(VNET_HDR);
          if (u16(f, 12) !== 0x0800 || f[23] !== 6 || u16(f, 36) !== port) continue;
          const t = 14 + (f[14] & 0x0f) * 4;
          const flags = f[t + 13];
          const seq = u32(f, t + 4);
          if (flags & TCP_SYN) {
            theirPort = u16(f, t);
            next = (seq + 1) >>> 0;
            started = performance.now();
            // SYN-ACK: MSS 1460, window scale 7 (so 65535 means 8 MiB).
            const synAck = tcpFrame(lab.mac, OUR_MAC, {
              ...ours,
              dstPort: theirPort,
              seq: 1000,
              ack: next,
              flags: TCP_SYN | TCP_ACK,
              window: 65535,
              options: [2, 4, 0x05, 0xb4, 1, 3, 3, 7],
            });
            expect(q.write([synAck])).toBe(1);
            continue;
          }
          const payload = f.length - t - (f[t + 12] >> 4) * 4;
          frames++;
          maxRead = Math.max(maxRead, r.length);
          const gsoType = r[1];
          if (gsoType !== 0) {
            gsoFrames++;
            maxGsoSize = Math.max(maxGsoSize, le16(r, 4));
            // TCPV4, with the checksum left to us and a GSO size no bigger than the MSS.
            if (gsoType !== 1 || r[0] !== 1 || le16(r, 4) === 0 || le16(r, 4) > 1460) {
              bad.push(`header ${[...r.subarray(0, VNET_HDR)]} for ${payload} bytes`);
            }
          }
          if (seq === next && payload > 0) {
            next = (next + payload) >>> 0;
            received += payload;
            ack = true;
          }
          if (flags & TCP_FIN) break;
        }
        if (ack) {
          const segment = { ...ours, dstPort: theirPort, seq: 1001, ack: next, window: 65535 };
          q.write([tcpFrame(lab.mac, OUR_MAC, { ...segment, flags: TCP_ACK })]);
        }
        if (reads.length === 0) await sleep(0);
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `tap-native.test.ts: TSO on: ${received} of ${bytes} bytes in ${frames} reads ` +
          `(${gsoFrames} GSO), largest read ${maxRead} bytes (virtio-net header included), ` +
          `largest gso_size ${maxGsoSize}, ${(received / 1e6 / seconds).toFixed(0)} MB/s ` +
          '(hand-rolled receiver, one ACK per batch)',
      );
      await Promise.race([sender.done, sleep(2000)]);
      expect(theirPort).not.toBe(0);
      expect(received).toBeGreaterThan(0);
      expect(bad).toEqual([]);
    },
  );

  tapIt()('tapWrite on a tap that is down throws EIO', () => {
    const addon = native!;
    const lab = rootTap(addon);
    const [fd] = lab.fds;
    const frame = arp(2, OUR_MAC, '10.99.0.2', BROADCAST, '10.99.0.1');
    const q = new Queue(addon, fd);
    expect(() => q.write([frame])).toThrow(
      expect.objectContaining({ code: 'EIO', syscall: 'write', errno: 5 }),
    );
    expect(() => q.write([frame])).toThrow(/^write: Input\/output error \(EIO\)$/);
  });

  tapIt(noBash)('a frame longer than capacity is cut: lens[i] = capacity', async () => {
    const addon = native!;
    const lab = makeLab(addon);
    const q = new Queue(addon, lab.fds[0], 30, 4);
    q.buf.fill(0xee);
    udpFromNamespace(lab, lab.peer, 9);
    const deadline = performance.now() + 3000;
    let n = 0;
    while (n === 0 && performance.now() < deadline) {
      n = addon.tapRead(lab.fds[0], q.buf, q.offsets, 30, q.lens, 1);
      if (n === 0) await sleep(2);
    }
    expect(n).toBe(1);
    expect(q.lens[0]).toBe(30);
    const request = arp(1, lab.mac, lab.local, BROADCAST, lab.peer);
    expect([...q.buf.subarray(0, 30)]).toEqual([...request.subarray(0, 30)]);
    expect(q.buf[30]).toBe(0xee); // slot 1 is untouched
  });

  tapIt()('tapSetPersist keeps the tap past its last fd; reopening attaches to it', () => {
    const addon = native!;
    const lab = rootTap(addon);
    addon.tapSetPersist(lab.fds[0], true);
    expect(ip('-d', 'link', 'show', lab.ifname)).toContain('persist on');
    addon.closeFd(lab.fds[0]);
    lab.fds = [];
    expect(linkExists(lab.ifname)).toBe(true);
    lab.fds = addon.tapOpen(lab.ifname, 2, false);
    expect(ip('-d', 'link', 'show', lab.ifname)).toMatch(/numqueues 2\b/);
    addon.tapSetPersist(lab.fds[1], false);
    for (const fd of lab.fds) addon.closeFd(fd);
    lab.fds = [];
    expect(linkExists(lab.ifname)).toBe(false);
  });

  tapIt()('ifSetMtu, ifSetMac, ifGetMac, ifSetUp and ifIndex agree with ip link show', () => {
    const addon = native!;
    const lab = rootTap(addon);
    const show = () => ip('link', 'show', 'dev', lab.ifname);
    for (const mtu of [68, 9000, 65521, 1500]) {
      addon.ifSetMtu(lab.ifname, mtu);
      expect(show()).toMatch(new RegExp(`\\bmtu ${mtu}\\b`));
    }
    const mac = Uint8Array.of(0x02, 0x42, 0xbb, 0x00, 0x12, 0x34);
    addon.ifSetMac(lab.ifname, mac);
    expect(show()).toContain('link/ether 02:42:bb:00:12:34');
    const got = addon.ifGetMac(lab.ifname);
    expect(got).toBeInstanceOf(Uint8Array);
    expect([...got]).toEqual([...mac]);
    expect(show()).not.toMatch(/<[^>]*\bUP\b/);
    addon.ifSetUp(lab.ifname, true);
    expect(show()).toMatch(/<[^>]*\bUP\b/);
    // A tap allows changing the MAC while up.
    addon.ifSetMac(lab.ifname, OUR_MAC);
    expect([...addon.ifGetMac(lab.ifname)]).toEqual([...OUR_MAC]);
    addon.ifSetUp(lab.ifname, false);
    expect(show()).not.toMatch(/<[^>]*\bUP\b/);
    const index = Number(/^(\d+):/.exec(show())![1]);
    expect(addon.ifIndex(lab.ifname)).toBe(index);
  });

  tapIt()('bad arguments throw TypeError or RangeError naming them', () => {
    const addon = native!;
    const lab = rootTap(addon);
    const [fd] = lab.fds;
    const any = (v: unknown) => v as never;
    const buf = new Uint8Array(new SharedArrayBuffer(4096), 96, 4000);
    const offsets = Uint32Array.of(0, 2000, 0, 0);
    const lens = new Uint32Array(4);
    const cases: [() => unknown, ErrorConstructor, RegExp][] = [
      [() => addon.tapOpen(any(7), 1, false), TypeError, /^tapOpen: ifname must be a string$/],
      [() => addon.tapOpen('', 1, false), RangeError, /^tapOpen: ifname must be 1 to 15 bytes/],
      [() => addon.tapOpen('bptap0123456789x', 1, false), RangeError, /got 16$/],
      [() => addon.tapOpen('bp\0tap', 1, false), RangeError, /ifname must not contain NUL/],
      [() => addon.tapOpen('bptapx', 0, false), RangeError, /queues must be .* 1 to 256, got 0$/],
      [() => addon.tapOpen('bptapx', 1.5, false), RangeError, /queues must be an integer/],
      [() => addon.tapOpen('bptapx', 1, any(1)), TypeError, /^tapOpen: vnetHdr must be a bool/],
      [() => addon.tapSetPersist(fd, any(1)), TypeError, /^tapSetPersist: persist must be/],
      [() => addon.tapSetOffload(fd, -1), RangeError, /^tapSetOffload: flags must be/],
      [() => addon.tapSetVnetHdrSize(any('3'), 12), TypeError, /^tapSetVnetHdrSize: fd must/],
      [() => addon.tapRead(-1, buf, offsets, 2000, lens, 2), RangeError, /^tapRead: fd must/],
      [
        () => addon.tapRead(fd, any(new Uint16Array(8)), offsets, 2000, lens, 2),
        TypeError,
        /^tapRead: buf must be a Uint8Array$/,
      ],
      [
        () => addon.tapRead(fd, any(buf.buffer), offsets, 2000, lens, 2),
        TypeError,
        /^tapRead: buf must be a Uint8Array$/,
      ],
      [
        () => addon.tapRead(fd, buf, any(new Int32Array(4)), 2000, lens, 2),
        TypeError,
        /^tapRead: offsets must be a Uint32Array$/,
      ],
      [
        () => addon.tapRead(fd, buf, offsets, 2000, any([0, 0]), 2),
        TypeError,
        /^tapRead: lens must be a Uint32Array$/,
      ],
      [() => addon.tapRead(fd, buf, offsets, 0, lens, 2), RangeError, /^tapRead: capacity must/],
      [() => addon.tapRead(fd, buf, offsets, 2000, lens, -1), RangeError, /^tapRead: max must/],
      [
        () => addon.tapRead(fd, buf, offsets, 2000, lens, 5),
        RangeError,
        /^tapRead: max \(5\) exceeds offsets.length \(4\)$/,
      ],
      [
        () => addon.tapRead(fd, buf, offsets, 2000, lens.subarray(0, 1), 2),
        RangeError,
        /^tapRead: max \(2\) exceeds lens.length \(1\)$/,
      ],
      [
        () => addon.tapRead(fd, buf, offsets, 2001, lens, 2),
        RangeError,
        /^tapRead: offsets\[1\] \+ capacity \(4001\) is past the end of buf \(length 4000\)$/,
      ],
      [
        () => addon.tapWrite(fd, buf, offsets, Uint32Array.of(60, 2001), 2),
        RangeError,
        /^tapWrite: offsets\[1\] \+ lens\[1\] \(4001\) is past the end of buf/,
      ],
      [
        () => addon.tapWrite(fd, buf, offsets, Uint32Array.of(60), 2),
        RangeError,
        /^tapWrite: n \(2\) exceeds lens.length \(1\)$/,
      ],
      [() => addon.tapWrite(fd, buf, offsets, lens, 0.5), RangeError, /^tapWrite: n must be/],
      [() => addon.closeFd(any(undefined)), TypeError, /^closeFd: fd must be a number/],
      [() => addon.ifSetUp(lab.ifname, any('up')), TypeError, /^ifSetUp: up must be a boolean/],
      [() => addon.ifSetMtu(lab.ifname, -1), RangeError, /^ifSetMtu: mtu must be an integer/],
      [
        () => addon.ifSetMac(lab.ifname, any([2, 0, 0, 0, 0, 1])),
        TypeError,
        /^ifSetMac: mac must be a Uint8Array$/,
      ],
      [
        () => addon.ifSetMac(lab.ifname, new Uint8Array(5)),
        RangeError,
        /^ifSetMac: mac must be 6 bytes long, got 5$/,
      ],
      [() => addon.ifGetMac(any(null)), TypeError, /^ifGetMac: ifname must be a string$/],
      [() => addon.ifIndex('x'.repeat(20)), RangeError, /^ifIndex: ifname must be 1 to 15/],
    ];
    for (const [call, type, message] of cases) {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
    }
    // None of that read anything or changed the tap.
    expect(lens).toEqual(new Uint32Array(4));
    expect(linkExists('bptapx')).toBe(false);
  });

  tapIt()('failed syscalls throw system errors with code, errno and syscall', () => {
    const addon = native!;
    const lab = rootTap(addon);
    const [fd] = lab.fds;
    const buf = new Uint8Array(2048);
    const one = Uint32Array.of(0);
    const sys = (code: string, errno: number, syscall: string, message: RegExp) => [
      expect.objectContaining({ code, errno, syscall }),
      message,
    ];
    const unused = 1_000_000; // beyond any fd this process has open
    const cases: [() => unknown, ...(RegExp | object)[]][] = [
      [() => addon.closeFd(unused), ...sys('EBADF', 9, 'close', /^close: Bad file descriptor/)],
      [
        () => addon.tapRead(unused, buf, one, 2048, new Uint32Array(1), 1),
        ...sys('EBADF', 9, 'read', /^read: Bad file descriptor \(EBADF\)$/),
      ],
      [
        () => addon.tapSetVnetHdrSize(fd, 8), // smaller than struct virtio_net_hdr
        ...sys('EINVAL', 22, 'ioctl', /^ioctl TUNSETVNETHDRSZ: Invalid argument/),
      ],
      [
        () => addon.tapSetOffload(fd, TUN_F_TSO4), // TSO needs CSUM
        ...sys('EINVAL', 22, 'ioctl', /^ioctl TUNSETOFFLOAD: Invalid argument/),
      ],
      [
        () => addon.tapSetPersist(unused, true),
        ...sys('EBADF', 9, 'ioctl', /^ioctl TUNSETPERSIST: Bad file/),
      ],
      [
        () => addon.tapOpen('bp/tap', 1, false), // not a valid interface name
        ...sys('EINVAL', 22, 'ioctl', /^ioctl TUNSETIFF bp\/tap: Invalid argument \(EINVAL\)$/),
      ],
      [
        () => addon.ifIndex('bptapnone'),
        ...sys('ENODEV', 19, 'ioctl', /^ioctl SIOCGIFINDEX bptapnone: No such device/),
      ],
      [
        () => addon.ifSetMtu(lab.ifname, 65522),
        ...sys('EINVAL', 22, 'ioctl', new RegExp(`^ioctl SIOCSIFMTU ${lab.ifname}: Invalid`)),
      ],
      [
        () => addon.ifSetMac(lab.ifname, Uint8Array.of(1, 0, 0x5e, 0, 0, 1)), // multicast
        ...sys('EADDRNOTAVAIL', 99, 'ioctl', /^ioctl SIOCSIFHWADDR bptap\d{4}: Cannot assign/),
      ],
      [
        () => addon.ifSetUp('bptapnone', true),
        ...sys('ENODEV', 19, 'ioctl', /^ioctl SIOCGIFFLAGS bptapnone: No such device/),
      ],
    ];
    for (const [call, ...expectations] of cases) {
      for (const e of expectations) expect(call).toThrow(e as RegExp);
    }
    expect(linkExists('bp/tap')).toBe(false);
  });

  tapIt(noSetpriv)('tapOpen without CAP_NET_ADMIN throws EPERM (child without the cap)', () => {
    const lab = newLab(); // only for the name and the cleanup
    const addonPath = new URL('../native/build/Release/bypass_native.node', import.meta.url);
    const script =
      `try { require(${JSON.stringify(addonPath.pathname)}).tapOpen(${JSON.stringify(lab.ifname)}, 1, false);` +
      " console.log('opened') } catch (e) { console.log(JSON.stringify({ code: e.code, " +
      'errno: e.errno, syscall: e.syscall, message: e.message })) }';
    const child = spawnSync(
      'setpriv',
      ['--inh-caps=-net_admin', '--bounding-set=-net_admin', process.execPath, '-e', script],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({
      code: 'EPERM',
      errno: 1,
      syscall: 'ioctl',
      message: `ioctl TUNSETIFF ${lab.ifname}: Operation not permitted (EPERM)`,
    });
    expect(linkExists(lab.ifname)).toBe(false);
  });

  tapIt(noPython)(
    'measures tapRead frames/s for a 64-byte UDP flood, tapWrite frames/s, an empty poll',
    async () => {
      const addon = native!;
      const lab = makeLab(addon);
      neighbour(lab);
      const q = new Queue(addon, lab.fds[0], 2048, 64);
      // The empty poll: what a driver pays per rx_burst when nothing is waiting.
      const polls = 200_000;
      let t0 = performance.now();
      for (let i = 0; i < polls; i++) {
        addon.tapRead(q.fd, q.buf, q.offsets, q.capacity, q.lens, 64);
      }
      const emptyNs = ((performance.now() - t0) * 1e6) / polls;

      // 64-byte frames: 14 Ethernet + 20 IPv4 + 8 UDP + 22 payload, flooded for 1 s while we
      // read: this measures the sender as much as the reader (2 CPUs: one each).
      const flood = inNamespace(lab, ['python3', '-c', PYTHON_FLOOD, lab.peer, '1.0']);
      let frames = 0;
      let first = 0;
      let last = 0;
      let sizes = 0;
      const deadline = performance.now() + 10_000;
      // Busy-polls like a poll-mode driver until the flood has been quiet for 300 ms.
      for (;;) {
        const n = addon.tapRead(q.fd, q.buf, q.offsets, q.capacity, q.lens, 64);
        const now = performance.now();
        if (n > 0) {
          if (frames === 0) first = now;
          for (let i = 0; i < n; i++) sizes += q.lens[i];
          frames += n;
          last = now;
        } else if ((frames > 0 && now - last > 300) || now > deadline) {
          break;
        } else if (frames === 0) {
          await sleep(1);
        }
      }
      const { out } = await flood.done;
      const sent = Number(/sent (\d+)/.exec(out)?.[1] ?? Number.NaN);
      const stats = ip('-s', '-n', lab.ns, 'link', 'show', lab.ifname);
      const txDropped = Number(/TX:.*\n\s*\d+\s+\d+\s+\d+\s+(\d+)/.exec(stats)?.[1] ?? Number.NaN);
      const rxRate = frames / ((last - first) / 1000);

      // The reader alone: let up to 50000 frames pile up in the tap's queue, then drain them.
      ip('-n', lab.ns, 'link', 'set', lab.ifname, 'txqueuelen', '65536');
      const { out: burstOut } = await inNamespace(lab, [
        'python3',
        '-c',
        PYTHON_FLOOD,
        lab.peer,
        '5',
        '50000',
      ]).done;
      expect(burstOut).toMatch(/sent 50000\b/);
      let drained = 0;
      t0 = performance.now();
      for (;;) {
        const n = addon.tapRead(q.fd, q.buf, q.offsets, q.capacity, q.lens, 64);
        if (n === 0) break;
        drained += n;
      }
      const drainMs = performance.now() - t0;

      // tapWrite: 64-byte frames to a MAC that is not the tap's (the kernel drops them early).
      const other = ethernet(Uint8Array.of(2, 0, 0, 0, 0, 0xbb), OUR_MAC, 0x0800, 50);
      for (let i = 0; i < 64; i++) {
        q.buf.set(other, q.txOffsets[i % q.slots]);
        q.txLens[i % q.slots] = other.length;
      }
      let written = 0;
      t0 = performance.now();
      while (performance.now() - t0 < 500) {
        written += addon.tapWrite(q.fd, q.buf, q.txOffsets, q.txLens, q.slots);
      }
      const txRate = written / ((performance.now() - t0) / 1000);
      console.log(
        `tap-native.test.ts: empty tapRead ${emptyNs.toFixed(0)} ns/call; flood: read ` +
          `${frames} frames (avg ${(sizes / Math.max(frames, 1)).toFixed(0)} B) of ${sent} sent ` +
          `(${txDropped} dropped at the tap), ${(rxRate / 1000).toFixed(0)} kframes/s while ` +
          `they came (the sender's pace); drained ${drained} queued frames at ` +
          `${(drained / drainMs).toFixed(0)} kframes/s (${((drainMs * 1e6) / drained).toFixed(0)} ` +
          `ns/frame); tapWrite ${(txRate / 1000).toFixed(0)} kframes/s of 64 B`,
      );
      expect(frames).toBeGreaterThan(0);
      expect(drained).toBeGreaterThan(0);
      expect(sizes / frames).toBe(64);
      expect(written).toBeGreaterThan(0);
    },
  );
});

const PYTHON_FLOOD = `
import socket, sys, time
dst, duration = sys.argv[1], float(sys.argv[2])
limit = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 62
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((dst, 9))
payload, sent, failed = bytes(22), 0, 0
end = time.perf_counter() + duration
while time.perf_counter() < end and sent < limit:
    for _ in range(min(512, limit - sent)):
        try:
            s.send(payload)
            sent += 1
        except OSError:
            failed += 1
print('sent %d failed %d' % (sent, failed))
`;
