// The bulk-transfer path between two stacks, frame by frame: what a receive burst answers (one
// ACK per burst), how data frames are laid out in their mbufs (payload aligned with the send
// buffer), and that a burst's mbufs all go back to their pools. Two stacks in one thread; frames
// move by hand in bursts, as StackPort.poll moves them (inputBurst, then poll).
import { PktmbufPool } from '@bypass/mempool';
import { get32, parseTcp } from '@bypass/net';
import { afterEach, describe, expect, it } from 'vitest';
import { Stack, type StackOptions, type TcpSocket, TcpState } from '../src/index.js';
import { MAC_A, MAC_B, makePool } from './sim.js';

const MSS_TS = 1448; // MTU 1500 - 40 - the 12-byte timestamps option
const HEADERS = 14 + 20 + 32; // Ethernet, IPv4, TCP with timestamps

interface Pair {
  a: Stack;
  b: Stack;
  poolA: PktmbufPool;
  poolB: PktmbufPool;
  client: TcpSocket;
  server: TcpSocket;
  received: number[];
  close(): void;
}

const open: Pair[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.close();
});

/** Client on A connected to a server on B that consumes with onData; handshake done. */
function pair(over: Partial<StackOptions> = {}, buffers = 1 << 20): Pair {
  const poolA = makePool(2048, 'bulk-a');
  const poolB = makePool(2048, 'bulk-b');
  const tcp = { sendBuffer: buffers, recvBuffer: buffers };
  const secret = new Uint8Array(16).fill(9);
  const a = new Stack({
    pool: poolA,
    mac: MAC_A,
    ip: '10.0.0.1/24',
    isnSecret: secret,
    tcp,
    ...over,
  });
  const b = new Stack({
    pool: poolB,
    mac: MAC_B,
    ip: '10.0.0.2/24',
    isnSecret: secret,
    tcp,
    ...over,
  });
  a.arp.addStatic(b.localIp, MAC_B);
  b.arp.addStatic(a.localIp, MAC_A);
  const received: number[] = [];
  let server: TcpSocket | null = null;
  b.tcpListen(5001, {
    onConnection(s) {
      server = s;
      s.handlers = {
        onData(_s, bytes, off, len) {
          for (let i = 0; i < len; i++) received.push(bytes[off + i]);
        },
      };
    },
  });
  const client = a.tcpConnect('10.0.0.2', 5001, {}, 0);
  const p: Pair = {
    a,
    b,
    poolA,
    poolB,
    client,
    get server(): TcpSocket {
      if (server === null) throw new Error('no connection yet');
      return server;
    },
    received,
    close() {
      for (const s of [a, b]) {
        s.close(); // frees what the tx queue holds
      }
    },
  };
  open.push(p);
  for (let i = 0; i < 4 && client.state !== TcpState.ESTABLISHED; i++) {
    burst(a, b, 32);
    burst(b, a, 32);
  }
  burst(a, b, 32); // the handshake's last ACK
  expect(client.state).toBe(TcpState.ESTABLISHED);
  return p;
}

/**
 * Moves what `from` queued into `to` in bursts of `size` (inputBurst, then poll: StackPort's
 * order) and returns how many frames moved.
 */
function burst(from: Stack, to: Stack, size: number): number {
  const n = from.txCount;
  const frames = from.txQueue.slice(0, n);
  from.txDone(n);
  for (let i = 0; i < n; i += size) {
    const k = Math.min(size, n - i);
    to.inputBurst(frames.subarray(i, i + k), k, 0);
    to.poll(0);
  }
  return n;
}

/** The TCP headers of the frames `s` queued (taken and freed). */
function takeSegments(s: Stack) {
  return s.takeTxBytes().map((f) => {
    const r = parseTcp(f.subarray(34), 0, f.length - 34);
    if (!r.ok) throw new Error(`a frame the stack sent does not parse: ${r.reason}`);
    return r.repr;
  });
}

function stream(n: number, from = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (from + i) * 7;
  return b;
}

describe('bulk path: ACKs per receive burst (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2)', () => {
  it('answers a burst of 32 full segments with exactly one ACK, sent at the poll after it', () => {
    const p = pair();
    p.client.write(stream(32 * MSS_TS), 0, 32 * MSS_TS, 0);
    // The initial window is 10 segments: 10 go now.
    expect(p.a.txCount).toBe(10);
    const frames = p.a.txQueue.slice(0, 10);
    p.a.txDone(10);
    p.b.inputBurst(frames, 10, 0);
    // Every second segment owes an ACK, but it waits for the end of the burst.
    expect(p.b.txCount).toBe(0);
    expect(p.b.nextDeadline()).toBe(0);
    p.b.poll(0);
    const acks = takeSegments(p.b);
    expect(acks).toHaveLength(1);
    expect(acks[0].ack).toBe((p.client.iss + 1 + 10 * MSS_TS) >>> 0);
    expect(acks[0].payloadLength).toBe(0);
    // Slow start credits the stretch ACK with all 10 segments: cwnd 20, so 20 go (the 22 left).
  });

  it('slow start doubles cwnd per round trip with one ACK per burst (stretch ACKs credited in full)', () => {
    const p = pair();
    p.client.write(stream(200 * MSS_TS), 0, 200 * MSS_TS, 0);
    const flights: number[] = [];
    const acks: number[] = [];
    for (let i = 0; i < 4; i++) {
      flights.push(burst(p.a, p.b, 128));
      acks.push(burst(p.b, p.a, 128));
      if (i === 2) expect(p.client.cwnd).toBe(80 * MSS_TS);
    }
    // 80 segments: the ACK at 64 KiB (46 segments) leaves at once, the rest at the poll.
    expect(acks).toEqual([1, 1, 1, 2]);
    expect(flights).toEqual([10, 20, 40, 80]);
  });

  it('an odd last segment waits for the delayed-ACK timer, not the poll', () => {
    const p = pair();
    p.client.write(stream(3 * MSS_TS), 0, 3 * MSS_TS, 0);
    expect(burst(p.a, p.b, 32)).toBe(3);
    const first = takeSegments(p.b);
    expect(first.map((s) => s.ack)).toEqual([(p.client.iss + 1 + 3 * MSS_TS) >>> 0]);
    p.client.write(stream(MSS_TS), 0, MSS_TS, 0);
    expect(burst(p.a, p.b, 32)).toBe(1);
    expect(p.b.txCount).toBe(0); // one full segment: delayed (40 ms)
    p.b.poll(40);
    expect(takeSegments(p.b).map((s) => s.ack)).toEqual([(p.client.iss + 1 + 4 * MSS_TS) >>> 0]);
  });

  it('sends the ACK at once, mid-burst, once 64 KiB are unacknowledged', () => {
    const p = pair();
    // Open cwnd: a few round trips of slow start (10, 20, 40 segments).
    p.client.write(stream(70 * MSS_TS), 0, 70 * MSS_TS, 0);
    for (let i = 0; i < 3; i++) {
      burst(p.a, p.b, 64);
      burst(p.b, p.a, 64);
    }
    p.client.write(stream(200 * MSS_TS), 0, 200 * MSS_TS, 0);
    expect(p.a.txCount).toBeGreaterThanOrEqual(64);
    const frames = p.a.txQueue.slice(0, 64);
    p.a.txDone(64);
    p.b.inputBurst(frames, 64, 0);
    // 46 segments of 1448 bytes pass 65536: that one is ACKed at once, the other 18 at the poll.
    const atOnce = takeSegments(p.b);
    expect(atOnce).toHaveLength(1);
    p.b.poll(0);
    const atPoll = takeSegments(p.b);
    expect(atPoll).toHaveLength(1);
    expect(((atPoll[0].ack - atOnce[0].ack) >>> 0) % MSS_TS).toBe(0);
    expect((atPoll[0].ack - atOnce[0].ack) >>> 0).toBe(18 * MSS_TS);
  });

  it('data written from onData carries the ACK the burst owes: no pure ACK at the poll', () => {
    const p = pair();
    // Reply from the server's onData with one byte per call.
    const reply = new Uint8Array([1]);
    p.server.handlers = {
      onData(s) {
        s.write(reply, 0, 1, 0);
      },
    };
    p.server.setNoDelay(true, 0);
    p.client.write(stream(2 * MSS_TS), 0, 2 * MSS_TS, 0);
    burst(p.a, p.b, 32);
    const out = takeSegments(p.b);
    // Nagle (noDelay) lets the first reply byte go with the ACK of the first segment as it
    // stood; the second segment's ACK rides on the second byte. No pure ACK follows.
    expect(out.every((s) => s.payloadLength > 0)).toBe(true);
    expect(out[out.length - 1].ack).toBe((p.client.iss + 1 + 2 * MSS_TS) >>> 0);
  });
});

describe('bulk path: frames and mbufs', () => {
  it('places every data payload at the send buffer byte’s address modulo 8, and the bytes arrive exact', () => {
    const p = pair({ checksum: 'compute' });
    const n = 100_003;
    const data = stream(n);
    let written = 0;
    let guard = 0;
    while (p.received.length < n && guard++ < 1000) {
      written += p.client.write(data, written, n - written, 0);
      const sb = p.client.sendBuf;
      for (let i = 0; i < p.a.txCount; i++) {
        const m = p.a.txQueue[i];
        const eth = p.poolA.mtod(m);
        const len = p.poolA.dataLen(m) - HEADERS;
        if (len <= 0) continue;
        const seq = get32(p.poolA.data, eth + 34 + 4);
        const src = sb.buf.byteOffset + sb.indexOf((seq - p.client.sndUna) >>> 0);
        // (sndUna is the send buffer's first byte here: nothing is ever retransmitted.)
        expect((p.poolA.data.byteOffset + eth + HEADERS) % 8).toBe(src % 8);
        // Only the frame's start moves, back into the headroom, by at most 7 bytes.
        expect(p.poolA.headroom - p.poolA.dataOff(m)).toBeLessThan(8);
      }
      burst(p.a, p.b, 32);
      burst(p.b, p.a, 32);
    }
    expect(p.received.length).toBe(n);
    expect(Uint8Array.from(p.received)).toEqual(data);
    expect(p.b.stats.rxBadChecksum + p.b.stats.rxBadIpv4).toBe(0);
  });

  it('an emptied send buffer starts over at its first bytes (a large ring that moves little touches few pages)', () => {
    const p = pair();
    const sb = p.client.sendBuf;
    let sent = 0;
    for (let round = 0; round < 20; round++) {
      // Two full segments (MSS 1448 with timestamps): the receiver ACKs them at its poll.
      expect(p.client.write(stream(2896, sent), 0, 2896, 0)).toBe(2896);
      sent += 2896;
      for (let i = 0; i < 4 && sb.length > 0; i++) {
        burst(p.a, p.b, 32);
        burst(p.b, p.a, 32);
      }
      expect(sb.length).toBe(0);
      // Every round wrote from the ring's first 8 bytes: 20 rounds touched 3 KB, not 58 KB.
      expect(sb.indexOf(0)).toBeLessThan(8);
    }
    expect(p.received.length).toBe(sent);
    expect(Uint8Array.from(p.received)).toEqual(stream(sent));
  });

  it('a receiver in pull mode starts its empty ring at the payload’s address modulo 8', () => {
    const p = pair();
    p.server.handlers = {}; // pull mode: bytes wait in the receive buffer
    p.client.setNoDelay(true, 0); // each small write goes at once, acknowledged or not
    const rb = p.server.recvBuf;
    for (const shift of [3, 5, 0]) {
      p.client.write(stream(1000), 0, 1000, 0);
      expect(p.a.txCount).toBe(1);
      const m = p.a.txQueue[0];
      // Move the frame as a peer with another layout would send it: `shift` bytes later.
      const eth = p.poolA.mtod(m);
      const len = p.poolA.dataLen(m);
      p.poolA.data.copyWithin(eth + shift + 8, eth, eth + len);
      p.poolA.setDataOff(m, p.poolA.dataOff(m) + shift + 8);
      const payload = p.poolA.data.byteOffset + p.poolA.mtod(m) + HEADERS;
      burst(p.a, p.b, 32);
      expect(rb.length).toBe(1000);
      expect((rb.buf.byteOffset + rb.indexOf(0)) % 8).toBe(payload % 8);
      const out = new Uint8Array(1000);
      expect(p.server.read(out, 0, 1000, 0)).toBe(1000);
      expect(out).toEqual(stream(1000));
    }
  });

  it('leaves the frame where the pool puts it when the headroom is under 64 bytes', () => {
    const o = { n: 256, cacheSize: 0, headroom: 16, name: 'bulk-small-headroom', poolId: 250 };
    const pool = PktmbufPool.create(new SharedArrayBuffer(PktmbufPool.bytesFor(o)), 0, o);
    const s = new Stack({ pool, mac: MAC_A, ip: '10.0.0.1/24' });
    for (let align = 0; align < 8; align++) {
      const m = s.ipv4.alloc(align);
      expect(pool.dataOff(m)).toBe(16);
      expect(s.ipv4.l4Off).toBe(pool.mtod(m) + 34);
      pool.free(m);
    }
    s.close();
    expect(pool.mempool.available()).toBe(256);
  });

  it('inputBurst frees every mbuf of the burst, its own pool’s and another’s', () => {
    const p = pair();
    p.client.write(stream(20 * MSS_TS), 0, 20 * MSS_TS, 0);
    while (p.a.txCount > 0) {
      burst(p.a, p.b, 7);
      burst(p.b, p.a, 7);
    }
    p.close();
    open.length = 0;
    expect(p.poolA.mempool.available()).toBe(2048);
    expect(p.poolB.mempool.available()).toBe(2048);
  });
});
