// net_tap against the real Linux kernel, in a network namespace each test creates and removes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, init, pktmbufPoolCreate } from '@bypass/eal';
import type { PktmbufPool } from '@bypass/mempool';
import { macBytes } from '@bypass/net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ethDevConfigure,
  ethDevStart,
  ethDevStop,
  ethRxQueueSetup,
  ethStats,
  ethTxQueueSetup,
  MbufOlFlag,
  PcapReader,
  rxBurst,
  txBurst,
} from '../src/index.js';
import { commandMissing, Netns, runCommand, tapUnavailable } from '../src/netns.js';
import { arpReply, etherType, icmpEchoReply, ipProto } from './frames.js';

const reason = tapUnavailable() ?? commandMissing('ping', ['-V'], 'iputils-ping');
if (reason) console.log(`tap.test.ts: skipping the tap tests: ${reason}`);

const OUR_MAC = [0x02, 0, 0, 0, 0, 0xaa];
let ns: Netns | undefined;
let pool: PktmbufPool;
let ports: number[] = [];
let dir = '';

afterEach(async () => {
  for (const p of ports) ethDevStop(p); // closes the tap fds: the interface goes away
  ports = [];
  await cleanup();
  ns?.remove();
  ns = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

const ifname = () => `bptap${1000 + Math.floor(Math.random() * 9000)}`;

async function startTap(
  iface: string,
  queues: number,
  extraVdevs: string[] = [],
  tapArgs = '',
): Promise<void> {
  await init(
    {
      lcores: [0],
      pin: false,
      vdevs: [`net_tap0,iface=${iface},mac=02:00:00:00:00:aa${tapArgs}`, ...extraVdevs],
    },
    { handleSignals: false },
  );
  pool = pktmbufPoolCreate('pool', { n: 2048, cacheSize: 64 });
  const all = [0, ...extraVdevs.map((_, i) => i + 1)];
  for (const p of all) {
    const q = p === 0 ? queues : 1;
    ethDevConfigure(p, { rxQueues: q, txQueues: q });
    for (let i = 0; i < q; i++) {
      ethRxQueueSetup(p, i, { size: 256, mempool: 'pool' });
      ethTxQueueSetup(p, i, { size: 256 });
    }
    ethDevStart(p);
    ports.push(p);
  }
}

function send(bytes: Uint8Array): void {
  const h = new Uint32Array([pool.fromBytes(bytes)]);
  expect(txBurst(0, 0, h, 1)).toBe(1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls queue `q` of port 0 until `done` or the deadline; `onFrame` sees a copy of each frame. */
async function pollUntil(
  done: () => boolean,
  onFrame: (f: Uint8Array, m: number) => void,
  q = 0,
  ms = 8000,
): Promise<void> {
  const h = new Uint32Array(32);
  const end = performance.now() + ms;
  while (!done() && performance.now() < end) {
    const n = rxBurst(0, q, h, 32);
    for (let i = 0; i < n; i++) onFrame(pool.toBytes(h[i]), h[i]);
    if (n > 0) pool.freeBulk(h, n);
    else await sleep(2);
  }
}

describe.skipIf(reason !== undefined)('net_tap against the Linux kernel', () => {
  it('ping: the kernel ARP request and echo request arrive byte for byte; our replies are accepted', async () => {
    const iface = ifname();
    dir = mkdtempSync(join(tmpdir(), 'bypass-tap-'));
    const capture = join(dir, 'rx.pcap');
    await startTap(iface, 1, [`net_pcap0,tx_pcap=${capture}`]);
    ns = new Netns();
    ns.adopt(iface, '10.99.7.1/24');
    const kernelMac = [...macBytes(ns.mac(iface))];
    const ping = ns.run('ping', ['-c', '1', '-W', '5', '10.99.7.2'], 20_000);
    let arp: Uint8Array | undefined;
    let echoed = false;
    const copy = new Uint32Array(1);
    await pollUntil(
      () => echoed,
      (f, m) => {
        // Keep a copy of every frame in a pcap file for tshark.
        pool.refcntUpdate(m, 1);
        copy[0] = m;
        expect(txBurst(1, 0, copy, 1)).toBe(1);
        if (
          etherType(f) === 0x0806 &&
          f[21] === 1 &&
          f.subarray(38, 42).join('.') === '10.99.7.2'
        ) {
          arp = f;
          send(arpReply(f, OUR_MAC));
        } else if (etherType(f) === 0x0800 && ipProto(f) === 1 && f[34] === 8) {
          send(icmpEchoReply(f));
          echoed = true;
        }
      },
    );
    const result = await ping;
    expect(arp).toBeDefined();
    const a = arp!;
    expect([...a.subarray(0, 6)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect([...a.subarray(6, 12)]).toEqual(kernelMac);
    expect([...a.subarray(12, 22)]).toEqual([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    expect([...a.subarray(22, 28)]).toEqual(kernelMac);
    expect(a.subarray(28, 32).join('.')).toBe('10.99.7.1');
    expect(a.subarray(38, 42).join('.')).toBe('10.99.7.2');
    expect(result.stdout).toContain('1 received');
    expect(result.code).toBe(0);
    expect(ns.exec('ip', ['neigh', 'show', '10.99.7.2'])).toContain('02:00:00:00:00:aa');
    expect(ethStats(0).opackets).toBe(2);
    ethDevStop(1);
    const r = PcapReader.open(capture);
    let frames = 0;
    while (r.next()) frames++;
    r.close();
    expect(frames).toBe(ethStats(0).ipackets);
    if (spawnOk('tshark')) {
      const text = runCommand('tshark', ['-r', capture, '-T', 'fields', '-e', 'frame.protocols']);
      expect(text).toContain('eth:ethertype:arp');
      expect(text).toContain('eth:ethertype:ip:icmp:data');
    }
    ethDevStop(0); // the rx queue gives its stashed mbufs back
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('arping: the kernel accepts a hand-built ARP reply', async () => {
    const iface = ifname();
    await startTap(iface, 1);
    ns = new Netns();
    ns.adopt(iface, '10.99.8.1/24');
    if (!spawnOk('arping')) {
      console.log(
        'tap.test.ts: arping (iputils-arping) is not installed: skipping the arping part',
      );
      return;
    }
    const arping = ns.run('arping', ['-c', '1', '-w', '5', '-I', iface, '10.99.8.2'], 20_000);
    let answered = false;
    await pollUntil(
      () => answered,
      (f) => {
        if (
          etherType(f) === 0x0806 &&
          f[21] === 1 &&
          f.subarray(38, 42).join('.') === '10.99.8.2'
        ) {
          send(arpReply(f, OUR_MAC));
          answered = true;
        }
      },
    );
    const r = await arping;
    expect(r.stdout.toLowerCase()).toContain('02:00:00:00:00:aa');
    expect(r.code).toBe(0);
  });

  it('offload=tso: a virtio-net header rides in the headroom; ping works and offloaded checksums are flagged', async () => {
    const iface = ifname();
    await startTap(iface, 1, [], ',offload=tso');
    ns = new Netns();
    ns.adopt(iface, '10.99.10.1/24');
    const flags = ns.exec('cat', [`/sys/class/net/${iface}/tun_flags`]).trim();
    expect(Number.parseInt(flags, 16) & 0x4000).toBe(0x4000); // IFF_VNET_HDR
    const ping = ns.run('ping', ['-c', '1', '-W', '5', '10.99.10.2'], 20_000);
    let echoed = false;
    await pollUntil(
      () => echoed,
      (f) => {
        if (etherType(f) === 0x0806 && f[21] === 1) send(arpReply(f, OUR_MAC));
        else if (etherType(f) === 0x0800 && ipProto(f) === 1 && f[34] === 8) {
          send(icmpEchoReply(f));
          echoed = true;
        }
      },
    );
    const r = await ping;
    expect(r.stdout).toContain('1 received');
    // A UDP datagram from the kernel: its checksum is left to "hardware", and says so.
    ns.exec('python3', [
      '-c',
      "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'y' * 100, ('10.99.10.2', 9))",
    ]);
    let udp: { len: number; flags: number } | undefined;
    await pollUntil(
      () => udp !== undefined,
      (f, m) => {
        if (etherType(f) === 0x0800 && ipProto(f) === 17)
          udp = { len: pool.pktLen(m), flags: pool.olFlags(m) };
      },
    );
    expect(udp?.len).toBe(14 + 20 + 8 + 100);
    expect(udp!.flags & MbufOlFlag.RX_L4_CKSUM_MASK).toBe(MbufOlFlag.RX_L4_CKSUM_NONE);
    ethDevStop(0);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('two queues: the kernel spreads flows from several source ports over both', async () => {
    const iface = ifname();
    await startTap(iface, 2);
    ns = new Netns();
    ns.adopt(iface, '10.99.9.1/24');
    ns.neighbour(iface, '10.99.9.2', '02:00:00:00:00:aa');
    const py =
      'import socket\nfor p in range(40000, 40064):\n  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n' +
      "  s.bind(('10.99.9.1', p))\n  s.sendto(b'x' * 18, ('10.99.9.2', 9))\n  s.close()\n";
    ns.exec('python3', ['-c', py]);
    const perQueue = [0, 0];
    for (let q = 0; q < 2; q++) {
      await pollUntil(
        () => false,
        (f) => {
          if (etherType(f) === 0x0800 && ipProto(f) === 17) perQueue[q]++;
        },
        q,
        300,
      );
    }
    expect(perQueue[0] + perQueue[1]).toBe(64);
    expect(perQueue[0]).toBeGreaterThan(0);
    expect(perQueue[1]).toBeGreaterThan(0);
    ethDevStop(0);
    expect(pool.mempool.isFull()).toBe(true);
  });
});

describe.skipIf(reason !== undefined)('net_tap without permission', () => {
  it('starting a tap port without CAP_NET_ADMIN says so and how to fix it', () => {
    if (!spawnOk('setpriv')) {
      console.log('tap.test.ts: setpriv (util-linux) is missing: skipping the no-permission case');
      return;
    }
    const fixture = new URL('./fixtures/tap-noperm.ts', import.meta.url).pathname;
    const out = runCommand('setpriv', [
      '--inh-caps=-net_admin',
      '--bounding-set=-net_admin',
      process.execPath,
      '--import',
      'tsx',
      fixture,
      ifname(),
    ]);
    expect(out).toMatch(
      /^EthDevError: net_tap0: cannot open tap bptap\d+: ioctl TUNSETIFF bptap\d+: Operation not permitted \(EPERM\); creating a tap interface needs CAP_NET_ADMIN: run as root \(or grant the capability\)$/m,
    );
  });
});

function spawnOk(cmd: string): boolean {
  try {
    runCommand(cmd, ['--version']);
    return true;
  } catch {
    try {
      runCommand(cmd, ['-V']);
      return true;
    } catch {
      return false;
    }
  }
}
