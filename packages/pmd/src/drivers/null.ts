import { mbufPoolOf } from '@bypass/mempool';
import { ipv4FillChecksum } from '@bypass/net';
import type { DriverFactory, EthDriver, PortContext } from '../driver.js';
import { RxStat, rxStatBase } from '../port-table.js';
import { checkArgNames, flagArg, intArg } from './args.js';

/**
 * net_null (DPDK's null PMD): rx hands out freshly allocated mbufs of `size` bytes, tx frees
 * whatever it is given. With copy=1 every received mbuf gets the bytes of a template frame (an
 * Ethernet/IPv4/UDP frame to the port's MAC, valid checksums), otherwise only the lengths are set,
 * as DPDK's default: the cost measured is then pure forwarding.
 *
 *   --vdev net_null0,size=64,copy=1
 */

/** A UDP/IPv4 frame of `size` bytes (>= 60) from 02:00:00:00:00:fe 10.0.0.2:1024 to `dstMac`
 * 10.0.0.1:1024, with a correct IPv4 header checksum and a zero UDP checksum (allowed in IPv4). */
export function udpTemplate(size: number, dstMac: readonly number[]): Uint8Array {
  const f = new Uint8Array(Math.max(size, 42));
  f.set(dstMac, 0);
  f.set([0x02, 0, 0, 0, 0, 0xfe], 6);
  f[12] = 0x08; // IPv4
  const ip = 14;
  const ipLen = f.length - 14;
  f.set(
    [0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1],
    ip,
  );
  ipv4FillChecksum(f, ip);
  const udpLen = ipLen - 20;
  f.set([4, 0, 4, 0, udpLen >> 8, udpLen & 0xff, 0, 0], ip + 20);
  return f.subarray(0, size);
}

class NullDriver implements EthDriver {
  private readonly size: number;
  private readonly copy: boolean;
  private readonly template: Uint8Array;

  constructor(private readonly ctx: PortContext) {
    const a = ctx.conf.args;
    this.size = intArg(ctx.conf.name, 'size', a.size, 64, 14, 65535);
    this.copy = a.copy === '1';
    this.template = udpTemplate(this.size, ctx.conf.mac);
  }

  rxBurst(q: number, handles: Uint32Array, max: number): number {
    const pool = this.ctx.rxPools[q]!;
    if (pool.allocBulk(handles, max) === 0) {
      this.ctx.stats[rxStatBase(q) + RxStat.NOMBUF] += max;
      return 0;
    }
    const size = this.size;
    const port = this.ctx.port;
    for (let i = 0; i < max; i++) {
      const m = handles[i];
      pool.setDataLen(m, size);
      pool.setPktLen(m, size);
      pool.setPort(m, port);
      if (this.copy) pool.data.set(this.template, pool.mtod(m));
    }
    return max;
  }

  txBurst(_q: number, handles: Uint32Array, n: number): number {
    if (n > 0) mbufPoolOf(handles[0]).freeBulk(handles, n);
    return n;
  }
}

export const nullDriver: DriverFactory = {
  probe(name, args) {
    intArg(name, 'size', args.size, 64, 14, 65535);
    flagArg(name, 'copy', args.copy);
    checkArgNames(name, args, ['size', 'copy', 'mac']);
  },
  attach: (ctx) => new NullDriver(ctx),
};
