// The node:net-compatible Socket's batching: received bytes gathered per poll (RxStage) and
// corked writes joined (writev), checked on the stage itself and on two stacks in one thread.
import { checksumInPlace } from '@bypass/net';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, netConnect, type Socket } from '../src/index.js';
import { RxStage, RxStaged } from '../src/rx-stage.js';
import { type Pair, startPair } from './pair.js';

class Sink {
  readonly got: Buffer[] = [];
  takeStaged(slab: Buffer, start: number, end: number): void {
    this.got.push(slab.subarray(start, end));
  }
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe('RxStage', () => {
  it('one Buffer per socket and flush, in order; interleaved sockets hand over at the break', () => {
    const stage = new RxStage();
    const a = new Sink();
    const b = new Sink();
    const sa = new RxStaged(a);
    const sb = new RxStaged(b);
    stage.add(sa, bytes('xxhelloxx'), 2, 5);
    stage.add(sa, bytes(' world'), 0, 6);
    expect(a.got).toEqual([]); // nothing before the flush
    stage.flush();
    expect(a.got.map(String)).toEqual(['hello world']);
    // a, b, a: a's first range is handed over when b's bytes follow it in the slab.
    stage.add(sa, bytes('one'), 0, 3);
    stage.add(sb, bytes('two'), 0, 3);
    stage.add(sa, bytes('three'), 0, 5);
    expect(a.got.map(String)).toEqual(['hello world', 'one']);
    stage.flush();
    expect(a.got.map(String)).toEqual(['hello world', 'one', 'three']);
    expect(b.got.map(String)).toEqual(['two']);
    stage.flush();
    expect(a.got.length + b.got.length).toBe(4);
  });

  it('a run larger than the slab gets a slab of its own; handed-out bytes are never overwritten', () => {
    const stage = new RxStage();
    const a = new Sink();
    const sa = new RxStaged(a);
    const big = new Uint8Array(100_000).map((_, i) => i % 251);
    stage.add(sa, bytes('head'), 0, 4);
    stage.add(sa, big, 0, big.length); // no room: 'head' handed over, then a 100 000-byte slab
    stage.flush();
    for (let i = 0; i < 40; i++) {
      stage.add(sa, new Uint8Array(3000).fill(i), 0, 3000);
      stage.flush();
    }
    expect(a.got.length).toBe(42);
    expect(String(a.got[0])).toBe('head');
    expect(Buffer.compare(a.got[1], Buffer.from(big))).toBe(0);
    for (let i = 0; i < 40; i++) expect(a.got[2 + i].equals(Buffer.alloc(3000, i))).toBe(true);
  });

  it('a new range starts at the source address mod 8 (fast copies out of shared memory)', () => {
    const stage = new RxStage();
    const a = new Sink();
    const sa = new RxStaged(a);
    const src = new Uint8Array(new SharedArrayBuffer(4096), 8);
    for (const off of [66, 3, 54, 0, 7]) {
      src.fill(off, off, off + 100);
      stage.add(sa, src, off, 100);
      stage.flush();
      const got = a.got[a.got.length - 1];
      expect(got.byteOffset % 8).toBe((src.byteOffset + off) % 8);
      expect(got.equals(Buffer.alloc(100, off))).toBe(true);
    }
  });

  it('handOver() before a flush (end of stream) hands the open range once', () => {
    const stage = new RxStage();
    const a = new Sink();
    const sa = new RxStaged(a);
    stage.add(sa, bytes('last bytes'), 0, 10);
    stage.handOver(sa);
    stage.handOver(sa);
    stage.flush();
    expect(a.got.map(String)).toEqual(['last bytes']);
  });
});

describe('Socket batching on the stack', () => {
  let pair: Pair | undefined;
  afterEach(async () => {
    const p = pair;
    pair = undefined;
    if (p !== undefined) expect((await p.close()).leaked).toBe(0);
  });

  async function connected(): Promise<{ client: Socket; server: Socket }> {
    const p = await startPair();
    pair = p;
    const accepted = new Promise<Socket>((resolve) => {
      createServer({ runtime: p.server }, resolve).listen(8080);
    });
    const client = netConnect({ port: 8080, host: '10.0.0.2', runtime: p.client, noDelay: true });
    await new Promise((r) => client.once('connect', r));
    const server = await accepted;
    server.setNoDelay(true);
    return { client, server };
  }

  it("a NetRuntime's pools are in the EAL's WebAssembly memory: checksums run in place", async () => {
    await connected();
    const p = pair as Pair;
    expect(p.pools[0].data.buffer).toBe(p.pools[1].data.buffer);
    expect(checksumInPlace(p.pools[0].data.buffer)).toBe(true);
  });

  it('corked writes leave in one segment and arrive as one data event', async () => {
    const { client, server } = await connected();
    const p = pair as Pair;
    // Quiet first: the handshake's last ACKs are out.
    await new Promise((r) => setTimeout(r, 50));
    const before = p.client.stack.stats.txFrames;
    const got: string[] = [];
    server.on('data', (d: Buffer) => got.push(String(d)));
    client.cork();
    client.write('HTTP/1.1 200 OK\r\n\r\n');
    client.write('body');
    client.uncork();
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['HTTP/1.1 200 OK\r\n\r\nbody']);
    expect(p.client.stack.stats.txFrames - before).toBe(1);
    client.destroy();
    server.destroy();
  });

  it('a 1 MB write is taken by reference and arrives whole, in fewer data events than segments', async () => {
    const { client, server } = await connected();
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 256;
    const chunks: Buffer[] = [];
    server.on('data', (d: Buffer) => chunks.push(d));
    const ended = new Promise((r) => server.once('end', r));
    let written = false;
    client.end(big, () => {
      written = true;
    });
    await ended;
    expect(written).toBe(true);
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
    // 1 MB at MSS 1460 is 719 segments; the reader sees them gathered per poll.
    expect(chunks.length).toBeLessThan(719 / 2);
    server.destroy();
  });
});
