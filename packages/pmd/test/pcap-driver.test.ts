// net_pcap: the Linux capture in, through two ports, back out: every record identical.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, init, pktmbufPoolCreate } from '@bypass/eal';
import type { PktmbufPool } from '@bypass/mempool';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ethDevConfigure,
  ethDevCreate,
  ethDevStart,
  ethDevStop,
  ethRxQueueSetup,
  ethStats,
  ethTxQueueSetup,
  PcapReader,
  rxBurst,
  txBurst,
} from '../src/index.js';
import { findSharedData } from './shared-data.js';

const CAPTURE = findSharedData('linux-veth-http.pcap');
if (!CAPTURE)
  console.log(
    'pcap-driver.test.ts: skipping: shared/data/linux-veth-http.pcap not found beside the repository',
  );
const TSHARK = spawnSync('tshark', ['--version']).status === 0;
if (!TSHARK)
  console.log(
    'pcap-driver.test.ts: tshark is not installed: skipping the tshark decode check (apt-get install tshark)',
  );

let dir = '';
let pool: PktmbufPool;

async function start(vdevs: string[]): Promise<void> {
  await init({ lcores: [0], pin: false, vdevs }, { handleSignals: false });
  pool = pktmbufPoolCreate('pool', { n: 1024, cacheSize: 32 });
}

function setup(port: number): void {
  ethDevConfigure(port, { rxQueues: 1, txQueues: 1 });
  ethRxQueueSetup(port, 0, { size: 256, mempool: 'pool' });
  ethTxQueueSetup(port, 0, { size: 256 });
  ethDevStart(port);
}

afterEach(async () => {
  await cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

describe.skipIf(!CAPTURE)('net_pcap', () => {
  it('reads the Linux capture and writes it back: every record time and byte identical', async () => {
    dir = mkdtempSync(join(tmpdir(), 'bypass-pcap-'));
    const out = join(dir, 'out.pcap');
    await start([`net_pcap0,rx_pcap=${CAPTURE}`, `net_pcap1,tx_pcap=${out}`]);
    setup(0);
    setup(1);
    const h = new Uint32Array(32);
    let total = 0;
    for (let n = rxBurst(0, 0, h, 32); n > 0; n = rxBurst(0, 0, h, 32)) {
      expect(txBurst(1, 0, h, n)).toBe(n);
      total += n;
    }
    expect(total).toBe(226);
    expect(ethStats(0)).toMatchObject({ ipackets: 226, ibytes: 215992 });
    expect(ethStats(1)).toMatchObject({ opackets: 226, obytes: 215992 });
    expect(pool.mempool.isFull()).toBe(true);
    ethDevStop(1);
    const a = PcapReader.open(CAPTURE!);
    const b = PcapReader.open(out);
    let records = 0;
    while (a.next()) {
      expect(b.next()).toBe(true);
      expect([b.tsSec, b.tsFrac, b.capLen, b.origLen]).toEqual([
        a.tsSec,
        a.tsFrac,
        a.capLen,
        a.origLen,
      ]);
      expect(b.buffer.subarray(b.offset, b.offset + b.capLen)).toEqual(
        a.buffer.subarray(a.offset, a.offset + a.capLen),
      );
      records++;
    }
    expect(b.next()).toBe(false);
    expect(records).toBe(226);
    a.close();
    b.close();
    if (TSHARK) {
      const text = execFileSync('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.protocols'], {
        encoding: 'utf8',
      });
      const lines = text.trim().split('\n');
      expect(lines.length).toBe(226);
      expect(lines[0]).toBe('eth:ethertype:arp');
      expect(lines.filter((l) => l.includes(':http')).length).toBeGreaterThan(0);
    }
  });

  it('replays the file forever with infinite_rx=1', async () => {
    await start([`net_pcap0,rx_pcap=${CAPTURE},infinite_rx=1`]);
    setup(0);
    const h = new Uint32Array(64);
    let total = 0;
    while (total < 1000) {
      const n = rxBurst(0, 0, h, 64);
      pool.freeBulk(h, n);
      total += n;
    }
    expect(ethStats(0).ipackets).toBe(total);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('names a bad argument or an unreadable file', async () => {
    await start([]);
    expect(() => ethDevCreate('net_pcap0')).toThrow(
      'net_pcap0: give rx_pcap=FILE, tx_pcap=FILE or both',
    );
    expect(() => ethDevCreate('net_pcap0,rx_pcap=/nonexistent.pcap')).toThrow(/nonexistent\.pcap/);
    expect(() => ethDevCreate(`net_pcap0,rx_pcap=${CAPTURE},infinite_rx=2`)).toThrow(
      'net_pcap0 infinite_rx must be 0 or 1, got 2',
    );
  });
});
