import { OptionError } from '@bypass/atomics-sync';
import { cleanup, init, pktmbufPoolCreate } from '@bypass/eal';
import type { PktmbufPool } from '@bypass/mempool';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EthDevError,
  ethDevByName,
  ethDevConfigure,
  ethDevCount,
  ethDevCreate,
  ethDevInfo,
  ethDevStart,
  ethDevStop,
  ethLinkGet,
  ethMacAddr,
  ethPromiscuousEnable,
  ethPromiscuousGet,
  ethRxQueueSetup,
  ethStats,
  ethTxQueueSetup,
  ethXstats,
  rxBurst,
  txBurst,
} from '../src/index.js';

let pool: PktmbufPool;

beforeEach(async () => {
  await init(
    {
      lcores: [0],
      pin: false,
      vdevs: [
        'net_null0,size=64,copy=1',
        'net_ring0',
        'net_ring1,peer=net_ring2',
        'net_ring2,peer=net_ring1',
      ],
    },
    { handleSignals: false },
  );
  pool = pktmbufPoolCreate('pool', { n: 1024, cacheSize: 32 });
});

afterEach(async () => {
  await cleanup();
});

function setup(port: number, ringSize = 256, rxQueues = 1): void {
  ethDevConfigure(port, { rxQueues, txQueues: 1 });
  for (let q = 0; q < rxQueues; q++) ethRxQueueSetup(port, q, { size: ringSize, mempool: 'pool' });
  ethTxQueueSetup(port, 0, { size: 256 });
  ethDevStart(port);
}

const frame = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

describe('ethdev', () => {
  it('probes the --vdev ports in order with their names, drivers and MACs', () => {
    expect(ethDevCount()).toBe(4);
    expect(ethDevByName('net_ring1')).toBe(2);
    expect(ethDevByName('nope')).toBe(-1);
    expect(ethDevInfo(0)).toMatchObject({
      name: 'net_null0',
      driver: 'net_null',
      mac: '02:00:00:00:00:00',
      state: 'unconfigured',
    });
    expect([...ethMacAddr(3)]).toEqual([2, 0, 0, 0, 0, 3]);
    expect(ethDevCreate('net_ring9,mac=02:aa:bb:cc:dd:ee')).toBe(4);
    expect(ethDevInfo(4).mac).toBe('02:aa:bb:cc:dd:ee');
  });

  it('refuses calls out of order and bad values, naming them', () => {
    const h = new Uint32Array(4);
    expect(rxBurst(0, 0, h, 4)).toBe(0); // not started: nothing
    expect(() => ethRxQueueSetup(0, 0, { size: 64, mempool: 'pool' })).toThrow(
      'port 0: call ethDevConfigure before setting up queues',
    );
    expect(() => ethDevStart(0)).toThrow('port 0: configure it before starting');
    expect(() => ethDevConfigure(0, { rxQueues: 0, txQueues: 1 })).toThrow(
      'rxQueues must be an integer in [1, 16], got 0',
    );
    ethDevConfigure(0, { rxQueues: 1, txQueues: 1 });
    expect(() => ethRxQueueSetup(0, 0, { size: 100, mempool: 'pool' })).toThrow(OptionError);
    expect(() => ethRxQueueSetup(0, 1, { size: 64, mempool: 'pool' })).toThrow(
      'queue must be a rx queue of port 0, 0 to 0, got 1',
    );
    expect(() => ethRxQueueSetup(0, 0, { size: 64, mempool: 'nopool' })).toThrow(
      /no pktmbufPool named nopool/,
    );
    expect(() => ethDevStart(0)).toThrow('port 0: rx queue 0 is not set up (ethRxQueueSetup)');
    expect(() => ethDevCreate('net_bogus0')).toThrow(EthDevError);
    expect(() => ethDevCreate('net_bogus0')).toThrow(
      /no driver named net_bogus; drivers: .*net_null.*net_ring/,
    );
    expect(() => ethDevCreate('net_null5,size=x')).toThrow(
      'net_null5 size must be an integer in [14, 65535], got x',
    );
    expect(() => ethDevCreate('net_ring5,speed=9')).toThrow(
      'net_ring5 argument must be one of peer, switch, mac, got speed',
    );
    expect(() => rxBurst(9, 0, h, 4)).toThrow(/no port 9/);
  });

  it('net_null: rx synthesises frames from the template, tx frees; stats count both', () => {
    setup(0);
    expect(ethLinkGet(0)).toEqual({ up: true, speedMbps: 10_000 });
    const h = new Uint32Array(32);
    expect(rxBurst(0, 0, h, 32)).toBe(32);
    const m = h[5];
    expect([pool.pktLen(m), pool.dataLen(m), pool.port(m)]).toEqual([64, 64, 0]);
    const bytes = pool.data.subarray(pool.mtod(m), pool.mtod(m) + 64);
    expect([...bytes.subarray(0, 6)]).toEqual([2, 0, 0, 0, 0, 0]); // to the port's MAC
    expect([bytes[12], bytes[13], bytes[23]]).toEqual([0x08, 0x00, 17]); // IPv4, UDP
    expect(txBurst(0, 0, h, 32)).toBe(32);
    expect(pool.mempool.isFull()).toBe(true);
    const s = ethStats(0);
    expect([s.ipackets, s.ibytes, s.opackets, s.obytes]).toEqual([32, 2048, 32, 2048]);
    expect(ethXstats(0)).toMatchObject({
      rx_q0_packets: 32,
      tx_q0_bytes: 2048,
      rx_good_packets: 32,
    });
  });

  it('net_ring loopback returns the exact frames, with the rx port set', () => {
    setup(1);
    const h = new Uint32Array(8);
    for (let i = 0; i < 8; i++) h[i] = pool.fromBytes(frame(60 + i, i));
    expect(txBurst(1, 0, h, 8)).toBe(8);
    const r = new Uint32Array(16);
    expect(rxBurst(1, 0, r, 16)).toBe(8);
    for (let i = 0; i < 8; i++) {
      expect(pool.toBytes(r[i])).toEqual(frame(60 + i, i));
      expect(pool.port(r[i])).toBe(1);
    }
    for (let i = 0; i < 8; i++) pool.free(r[i]);
    expect(ethStats(1)).toMatchObject({
      ipackets: 8,
      opackets: 8,
      ibytes: 8 * 60 + 28,
      obytes: 8 * 60 + 28,
    });
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('back to back: a partial txBurst leaves the rest with the caller', () => {
    setup(2, 8);
    const h = new Uint32Array(10);
    for (let i = 0; i < 10; i++) h[i] = pool.fromBytes(frame(64, i));
    expect(txBurst(2, 0, h, 10)).toBe(0); // port 3 not started yet: link down, nothing taken
    setup(3, 8);
    expect(txBurst(2, 0, h, 10)).toBe(7); // port 3's rx ring holds 7
    pool.free(h[7]); // the caller still owns 7..9
    pool.free(h[8]);
    pool.free(h[9]);
    const r = new Uint32Array(10);
    expect(rxBurst(3, 0, r, 10)).toBe(7);
    expect([...r.subarray(0, 7)]).toEqual([...h.subarray(0, 7)]);
    for (let i = 0; i < 7; i++) pool.free(r[i]);
    expect(pool.mempool.isFull()).toBe(true);
  });

  it('a stopped port moves nothing and reports its link down', () => {
    setup(1);
    ethPromiscuousEnable(1);
    expect(ethPromiscuousGet(1)).toBe(true);
    ethDevStop(1);
    expect(ethLinkGet(1).up).toBe(false);
    const h = new Uint32Array([pool.alloc()]);
    expect(txBurst(1, 0, h, 1)).toBe(0);
    pool.free(h[0]);
    expect(ethDevInfo(1).state).toBe('stopped');
    expect(pool.mempool.isFull()).toBe(true);
  });
});

describe('ethDevStop', () => {
  it('releases the mbufs still waiting in a ring port rx queue', async () => {
    ethDevConfigure(1, { rxQueues: 1, txQueues: 1 });
    ethRxQueueSetup(1, 0, { size: 64, mempool: 'pool' });
    ethTxQueueSetup(1, 0, { size: 64 });
    ethDevStart(1);
    const h = new Uint32Array(10);
    for (let i = 0; i < 10; i++) h[i] = pool.fromBytes(frame(60, i));
    expect(txBurst(1, 0, h, 10)).toBe(10);
    expect(pool.mempool.inUse()).toBe(10);
    ethDevStop(1);
    expect(pool.mempool.isFull()).toBe(true);
  });
});
