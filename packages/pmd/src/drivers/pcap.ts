import { mbufPoolOf } from '@bypass/mempool';
import type { DriverFactory, EthDriver, PortContext } from '../driver.js';
import { EthDevError } from '../errors.js';
import { LINKTYPE_ETHERNET } from '../pcap/format.js';
import { PcapReader } from '../pcap/reader.js';
import { PcapWriter } from '../pcap/writer.js';
import { RxStat, rxStatBase } from '../port-table.js';
import { checkArgNames, flagArg, intArg } from './args.js';

/**
 * net_pcap (DPDK's pcap PMD): rx reads frames from a libpcap file, tx writes them to one.
 *
 *   --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap,infinite_rx=1
 *
 * One rx and one tx queue. Each received mbuf carries the record's capture time in its timestamp
 * field (ns since the epoch); tx writes an mbuf's timestamp when it has one (so a file read and
 * written back keeps every timestamp) and the wall clock otherwise. infinite_rx=1 replays the
 * file forever. The files are opened by the thread that first polls the queue, and tx flushes at
 * the end of every burst, so what an lcore sent is on disk when its burst returns. A frame longer
 * than one mbuf's room arrives as a chain.
 */

const ARGS = ['rx_pcap', 'tx_pcap', 'infinite_rx', 'snaplen', 'nanosecond', 'mac'];

function wallNs(): number {
  return (performance.timeOrigin + performance.now()) * 1e6;
}

class PcapDriver implements EthDriver {
  private reader: PcapReader | undefined;
  private writer: PcapWriter | undefined;
  private readonly infinite: boolean;
  private eof = false;
  private scratch = new Uint8Array(0);

  constructor(private readonly ctx: PortContext) {
    this.infinite = ctx.conf.args.infinite_rx === '1';
  }

  rxBurst(q: number, handles: Uint32Array, max: number): number {
    const path = this.ctx.conf.args.rx_pcap;
    if (path === undefined || this.eof) return 0;
    this.reader ??= PcapReader.open(path, { linktype: LINKTYPE_ETHERNET });
    const r = this.reader;
    const pool = this.ctx.rxPools[q]!;
    const port = this.ctx.port;
    let n = 0;
    while (n < max) {
      if (!r.next()) {
        if (!this.infinite) {
          this.eof = true;
          break;
        }
        r.rewind();
        if (!r.next()) break; // an empty file
      }
      const len = r.capLen;
      let m: number;
      if (len <= pool.mempool.eltSize - pool.headroom) {
        m = pool.alloc();
        if (m >= 0) {
          pool.data.set(r.buffer.subarray(r.offset, r.offset + len), pool.mtod(m)); // one view per frame: file I/O path
          pool.setDataLen(m, len);
          pool.setPktLen(m, len);
        }
      } else {
        m = pool.fromBytes(r.buffer.subarray(r.offset, r.offset + len));
      }
      if (m < 0) {
        this.ctx.stats[rxStatBase(q) + RxStat.NOMBUF]++;
        break; // this record is lost, as a NIC without buffers loses a frame
      }
      pool.setPort(m, port);
      pool.setTimestamp(m, r.tsNs);
      handles[n++] = m;
    }
    return n;
  }

  txBurst(_q: number, handles: Uint32Array, n: number): number {
    const args = this.ctx.conf.args;
    if (args.tx_pcap === undefined) {
      if (n > 0) mbufPoolOf(handles[0]).freeBulk(handles, n); // no file: a sink, as DPDK's
      return n;
    }
    this.writer ??= PcapWriter.create(args.tx_pcap, {
      snaplen: intArg(this.ctx.conf.name, 'snaplen', args.snaplen, 65535, 1, 262144),
      nanosecond: args.nanosecond === '1',
    });
    const w = this.writer;
    for (let i = 0; i < n; i++) {
      const m = handles[i];
      const pool = mbufPoolOf(m);
      const ts = pool.timestamp(m);
      const len = pool.pktLen(m);
      if (pool.nbSegs(m) === 1) w.write(pool.data, pool.mtod(m), len, ts > 0 ? ts : wallNs());
      else {
        if (this.scratch.length < len) this.scratch = new Uint8Array(len);
        pool.read(m, 0, len, this.scratch);
        w.write(this.scratch, 0, len, ts > 0 ? ts : wallNs());
      }
      pool.free(m);
    }
    w.flush();
    return n;
  }

  close(): void {
    this.reader?.close();
    this.writer?.close();
    this.reader = undefined;
    this.writer = undefined;
  }
}

export const pcapDriver: DriverFactory = {
  probe(name, args) {
    checkArgNames(name, args, ARGS);
    if (args.rx_pcap === undefined && args.tx_pcap === undefined) {
      throw new EthDevError(`${name}: give rx_pcap=FILE, tx_pcap=FILE or both`);
    }
    flagArg(name, 'infinite_rx', args.infinite_rx);
    flagArg(name, 'nanosecond', args.nanosecond);
    intArg(name, 'snaplen', args.snaplen, 65535, 1, 262144);
    if (args.rx_pcap !== undefined) {
      PcapReader.open(args.rx_pcap, { linktype: LINKTYPE_ETHERNET }).close(); // fail now if unreadable
    }
  },
  setup(ctx) {
    if (ctx.conf.rxq.length !== 1 || ctx.conf.txq.length !== 1) {
      throw new EthDevError(`${ctx.conf.name}: a pcap port has one rx and one tx queue`);
    }
  },
  attach: (ctx) => new PcapDriver(ctx),
};
