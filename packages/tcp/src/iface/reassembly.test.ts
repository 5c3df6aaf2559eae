import { OptionError } from '@bypass/atomics-sync';
import {
  IP_PROTO_UDP,
  type Ipv4Repr,
  ipv4Check,
  ipv4Emit,
  ipv4FillChecksum,
  ipv4FragOffset,
  ipv4HeaderLen,
  ipv4Ident,
  ipv4Mf,
  ipv4TotalLength,
  ipv4VerifyChecksum,
  setIpv4Fragment,
  setIpv4TotalLength,
} from '@bypass/net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Ipv4Reassembler,
  type Ipv4ReassemblyExpired,
  type Ipv4ReassemblyStats,
} from './reassembly.js';

const SRC = 0x0a4d0001;
const DST = 0x0a4d0002;
/** Fragments sit after a 14-byte Ethernet header, as they do in an mbuf. */
const IP_OFF = 14;

function payloadOf(len: number, seed = 1): Uint8Array {
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff;
  return p;
}

/** A whole, unfragmented datagram: header from ipv4Emit() and the payload. */
function datagram(payload: Uint8Array, over: Partial<Ipv4Repr> = {}): Uint8Array {
  const repr: Ipv4Repr = {
    src: SRC,
    dst: DST,
    protocol: IP_PROTO_UDP,
    payloadLength: payload.length,
    ttl: 64,
    ident: 0x1234,
    ...over,
  };
  const hl = 20 + (repr.options?.length ?? 0);
  const d = new Uint8Array(hl + payload.length);
  ipv4Emit(repr, d, 0);
  d.set(payload, hl);
  return d;
}

/**
 * Splits `d` into fragments carrying `size` payload bytes each (a multiple of 8), the last one
 * what is left, each a frame with the IPv4 header at IP_OFF.
 */
function fragment(d: Uint8Array, size: number): Uint8Array[] {
  const hl = ipv4HeaderLen(d, 0);
  const len = d.length - hl;
  const out: Uint8Array[] = [];
  for (let off = 0; off < len; off += size) {
    const n = Math.min(size, len - off);
    out.push(piece(d, off, n, off + n < len));
  }
  return out;
}

/** One fragment of `d`: n payload bytes from offset `off`, with MF as given. */
function piece(d: Uint8Array, off: number, n: number, mf: boolean, data?: Uint8Array): Uint8Array {
  const hl = ipv4HeaderLen(d, 0);
  const f = new Uint8Array(IP_OFF + hl + n);
  f.set(d.subarray(0, hl), IP_OFF);
  f.set(data ?? d.subarray(hl + off, hl + off + n), IP_OFF + hl);
  setIpv4TotalLength(f, IP_OFF, hl + n);
  setIpv4Fragment(f, IP_OFF, false, mf, off);
  ipv4FillChecksum(f, IP_OFF);
  expect(ipv4Check(f, IP_OFF, f.length - IP_OFF)).toBe(0);
  return f;
}

function stats(over: Partial<Ipv4ReassemblyStats>): Ipv4ReassemblyStats {
  return {
    fragments: 0,
    reassembled: 0,
    duplicates: 0,
    droppedTimeout: 0,
    droppedOverlap: 0,
    droppedMemory: 0,
    droppedTableFull: 0,
    droppedTooBig: 0,
    droppedInvalid: 0,
    ...over,
  };
}

/** Feeds all frames at time `now`; returns the results that were not null (copied). */
function feed(r: Ipv4Reassembler, frames: Uint8Array[], now = 0): Uint8Array[] {
  const done: Uint8Array[] = [];
  for (const f of frames) {
    const out = r.add(f, IP_OFF, now);
    if (out !== null) done.push(out.slice());
  }
  return done;
}

function expectSame(got: Uint8Array, want: Uint8Array): void {
  expect(ipv4VerifyChecksum(got, 0)).toBe(true);
  expect(ipv4Check(got, 0, got.length)).toBe(0);
  expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
}

describe('Ipv4Reassembler: whole datagrams', () => {
  it('reassembles fragments fed in order', () => {
    const d = datagram(payloadOf(1000));
    const frags = fragment(d, 184);
    expect(frags.length).toBe(6);
    const r = new Ipv4Reassembler();
    for (let i = 0; i < frags.length - 1; i++) expect(r.add(frags[i], IP_OFF, i)).toBeNull();
    const out = r.add(frags[frags.length - 1], IP_OFF, 10);
    expect(out).not.toBeNull();
    expectSame(out as Uint8Array, d);
    expect(r.stats).toEqual(stats({ fragments: 6, reassembled: 1 }));
    expect(r.pending).toBe(0);
    expect(r.bytesHeld).toBe(0);
  });

  it('reassembles fragments fed in reverse', () => {
    const d = datagram(payloadOf(4000));
    const frags = fragment(d, 1480).reverse();
    const r = new Ipv4Reassembler();
    const done = feed(r, frags);
    expect(done.length).toBe(1);
    expectSame(done[0], d);
    expect(r.stats).toEqual(stats({ fragments: 3, reassembled: 1 }));
  });

  it('keeps the header of the first fragment, options included', () => {
    const options = new Uint8Array([0x94, 0x04, 0x00, 0x00]); // router alert
    const d = datagram(payloadOf(100), { options, ident: 7 });
    const frags = fragment(d, 48);
    const r = new Ipv4Reassembler();
    const done = feed(r, [frags[2], frags[0], frags[1]]);
    expect(done.length).toBe(1);
    expectSame(done[0], d);
    expect(ipv4HeaderLen(done[0], 0)).toBe(24);
  });

  it('handles a 65535-byte datagram', () => {
    const d = datagram(payloadOf(65_515));
    const r = new Ipv4Reassembler();
    const done = feed(r, fragment(d, 1480).reverse());
    expect(done.length).toBe(1);
    expectSame(done[0], d);
    expect(ipv4TotalLength(done[0], 0)).toBe(65_535);
  });

  it('returns a datagram that is not a fragment as it is, without counting it', () => {
    const d = datagram(payloadOf(40));
    const f = new Uint8Array(IP_OFF + d.length + 6); // Ethernet padding after it
    f.set(d, IP_OFF);
    const r = new Ipv4Reassembler();
    const out = r.add(f, IP_OFF, 0);
    expect(out?.buffer).toBe(f.buffer);
    expectSame(out as Uint8Array, d);
    expect(r.stats).toEqual(stats({}));
  });

  it('accepts an empty last fragment that only sets the total length', () => {
    const d = datagram(payloadOf(32));
    const r = new Ipv4Reassembler();
    expect(r.add(piece(d, 0, 32, true), IP_OFF, 0)).toBeNull();
    const out = r.add(piece(d, 32, 0, false), IP_OFF, 1);
    expectSame(out as Uint8Array, d);
    expect(r.stats).toEqual(stats({ fragments: 2, reassembled: 1 }));
  });

  it('any order, any fragment size, with duplicates: byte for byte (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 9, max: 3000 }),
        fc.integer({ min: 1, max: 185 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0x7fffffff }),
        (len, units, dupPicks, ident, seed) => {
          const d = datagram(payloadOf(len, seed), { ident });
          // At least two fragments: a single one would not be a fragment at all.
          const frags = fragment(d, Math.min(units * 8, ((len - 1) >>> 3) << 3));
          // A random permutation, then duplicates spliced in at random places.
          const order = frags.map((_, i) => i);
          let s = seed;
          const rand = (n: number): number => {
            s = (s * 1103515245 + 12345) & 0x7fffffff;
            return s % n;
          };
          for (let i = order.length - 1; i > 0; i--) {
            const j = rand(i + 1);
            [order[i], order[j]] = [order[j], order[i]];
          }
          for (const p of dupPicks) {
            order.splice(rand(order.length + 1), 0, order[p % order.length]);
          }
          // Feeding stops where the last distinct fragment completes the datagram.
          const seen = new Set<number>();
          const r = new Ipv4Reassembler();
          let fed = 0;
          let out: Uint8Array | null = null;
          for (const i of order) {
            seen.add(i);
            fed++;
            out = r.add(frags[i], IP_OFF, fed);
            if (seen.size === frags.length) break;
            expect(out).toBeNull();
          }
          expect(out).not.toBeNull();
          expectSame(out as Uint8Array, d);
          expect(r.stats).toEqual(
            stats({ fragments: fed, reassembled: 1, duplicates: fed - frags.length }),
          );
          expect(r.pending).toBe(0);
          expect(r.bytesHeld).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reassembles several datagrams with the same id but different sources, interleaved', () => {
    const ds = [0, 1, 2].map((k) =>
      datagram(payloadOf(700 + k * 100, k + 1), { src: SRC + k, ident: 99 }),
    );
    const fs = ds.map((d) => fragment(d, 128));
    const r = new Ipv4Reassembler();
    const mixed: Uint8Array[] = [];
    for (let i = 0; i < 8; i++) for (const f of fs) if (i < f.length) mixed.push(f[i]);
    const done = feed(r, mixed.reverse());
    expect(done.length).toBe(3);
    for (const d of ds) {
      const got = done.find((g) => g[15] === d[15]) as Uint8Array;
      expectSame(got, d);
    }
    const n = fs.reduce((a, f) => a + f.length, 0);
    expect(r.stats).toEqual(stats({ fragments: n, reassembled: 3 }));
  });

  it('keys on protocol and destination too', () => {
    const a = datagram(payloadOf(64, 1), { protocol: 6 });
    const b = datagram(payloadOf(64, 2), { protocol: 17 });
    const c = datagram(payloadOf(64, 3), { dst: DST + 1 });
    const fa = fragment(a, 32);
    const fb = fragment(b, 32);
    const fcs = fragment(c, 32);
    const r = new Ipv4Reassembler();
    const done = feed(r, [fa[0], fb[0], fcs[0], fcs[1], fb[1], fa[1]]);
    expect(done.length).toBe(3);
    expectSame(done[0], c);
    expectSame(done[1], b);
    expectSame(done[2], a);
  });
});

describe('Ipv4Reassembler: timeout', () => {
  it('holds a datagram missing its last fragment until expire() drops it', () => {
    const d = datagram(payloadOf(500));
    const frags = fragment(d, 200);
    const r = new Ipv4Reassembler();
    expect(feed(r, frags.slice(0, 2), 1000)).toEqual([]);
    expect(r.pending).toBe(1);
    expect(r.bytesHeld).toBe(2 * 220);
    const out: Ipv4ReassemblyExpired[] = [];
    expect(r.expire(30_999, out)).toBe(0);
    expect(out).toEqual([]);
    expect(r.pending).toBe(1);
    expect(r.expire(31_000, out)).toBe(1);
    expect(r.pending).toBe(0);
    expect(r.bytesHeld).toBe(0);
    // The quote for ICMP time exceeded: the first fragment's header and 8 bytes of payload.
    expect(out.length).toBe(1);
    const q = out[0].quote;
    expect(q.length).toBe(28);
    expect(Buffer.from(q).equals(Buffer.from(frags[0].subarray(IP_OFF, IP_OFF + 28)))).toBe(true);
    expect(ipv4Mf(q, 0)).toBe(true);
    expect(r.stats).toEqual(stats({ fragments: 2, droppedTimeout: 1 }));
    expect(r.expire(100_000, out)).toBe(0);
  });

  it('reports no quote when the first fragment never arrived', () => {
    const d = datagram(payloadOf(500));
    const frags = fragment(d, 200);
    const r = new Ipv4Reassembler({ timeoutMs: 5000 });
    feed(r, frags.slice(1), 0);
    const out: Ipv4ReassemblyExpired[] = [];
    expect(r.expire(5000, out)).toBe(1);
    expect(out).toEqual([]);
  });

  it('times out from the first fragment, not the latest, and expires oldest first', () => {
    const a = fragment(datagram(payloadOf(100), { ident: 1 }), 32);
    const b = fragment(datagram(payloadOf(100), { ident: 2 }), 32);
    const r = new Ipv4Reassembler({ timeoutMs: 1000 });
    r.add(a[0], IP_OFF, 0);
    r.add(b[0], IP_OFF, 500);
    r.add(a[1], IP_OFF, 900);
    expect(r.expire(999)).toBe(0);
    expect(r.expire(1000)).toBe(1);
    expect(r.pending).toBe(1);
    // b is still alive and completes.
    const done = feed(r, b.slice(1), 1400);
    expect(done.length).toBe(1);
    expect(ipv4Ident(done[0], 0)).toBe(2);
    expect(r.stats).toEqual(stats({ fragments: 6, reassembled: 1, droppedTimeout: 1 }));
  });

  it('add() itself drops a reassembly whose time is up; expire() reports it later', () => {
    const d = datagram(payloadOf(100));
    const f = fragment(d, 32);
    const r = new Ipv4Reassembler({ timeoutMs: 1000 });
    r.add(f[0], IP_OFF, 0);
    r.add(f[1], IP_OFF, 10);
    // The rest arrives too late: the old one is gone, and these start a new reassembly.
    expect(feed(r, f.slice(2), 1000)).toEqual([]);
    expect(r.pending).toBe(1);
    const out: Ipv4ReassemblyExpired[] = [];
    expect(r.expire(1001, out)).toBe(1);
    expect(out.length).toBe(1);
    expect(r.pending).toBe(1);
    expect(r.stats).toEqual(stats({ fragments: 4, droppedTimeout: 1 }));
    expect(r.expire(2000)).toBe(1);
  });
});

describe('Ipv4Reassembler: overlaps, invalid and oversized fragments', () => {
  it('accepts overlaps that carry the same data (re-fragmented retransmissions)', () => {
    const d = datagram(payloadOf(64));
    const r = new Ipv4Reassembler();
    expect(r.add(piece(d, 0, 24, true), IP_OFF, 0)).toBeNull();
    expect(r.add(piece(d, 16, 32, true), IP_OFF, 0)).toBeNull();
    expect(r.add(piece(d, 8, 8, true), IP_OFF, 0)).toBeNull(); // wholly inside: duplicate
    const out = r.add(piece(d, 40, 24, false), IP_OFF, 0);
    expectSame(out as Uint8Array, d);
    expect(r.stats).toEqual(stats({ fragments: 4, duplicates: 1, reassembled: 1 }));
  });

  it('drops the whole reassembly on an overlap with different data', () => {
    const d = datagram(payloadOf(64));
    const r = new Ipv4Reassembler();
    r.add(piece(d, 0, 32, true), IP_OFF, 0);
    const evil = payloadOf(16, 9);
    expect(r.add(piece(d, 24, 16, true, evil), IP_OFF, 0)).toBeNull();
    expect(r.pending).toBe(0);
    expect(r.bytesHeld).toBe(0);
    expect(r.stats).toEqual(stats({ fragments: 2, droppedOverlap: 1 }));
    // Later fragments start afresh and can still complete with a clean set.
    const done = feed(r, fragment(d, 32));
    expect(done.length).toBe(1);
    expectSame(done[0], d);
  });

  it('drops a middle fragment that is empty or not a multiple of 8 bytes, alone', () => {
    const d = datagram(payloadOf(64));
    const r = new Ipv4Reassembler();
    r.add(piece(d, 0, 32, true), IP_OFF, 0);
    expect(r.add(piece(d, 32, 12, true), IP_OFF, 0)).toBeNull();
    expect(r.add(piece(d, 32, 0, true), IP_OFF, 0)).toBeNull();
    expect(r.pending).toBe(1);
    const out = r.add(piece(d, 32, 32, false), IP_OFF, 0);
    expectSame(out as Uint8Array, d);
    expect(r.stats).toEqual(stats({ fragments: 4, droppedInvalid: 2, reassembled: 1 }));
  });

  it('drops a reassembly whose last fragments disagree or fall short of the data', () => {
    const d = datagram(payloadOf(64));
    const r = new Ipv4Reassembler();
    r.add(piece(d, 48, 16, false), IP_OFF, 0);
    r.add(piece(d, 32, 8, false), IP_OFF, 0); // a second, different end
    expect(r.pending).toBe(0);
    r.add(piece(d, 48, 16, true), IP_OFF, 0);
    r.add(piece(d, 8, 8, false), IP_OFF, 0); // ends before data already received
    expect(r.pending).toBe(0);
    r.add(piece(d, 16, 16, false), IP_OFF, 0);
    r.add(piece(d, 32, 16, true), IP_OFF, 0); // beyond the known end
    expect(r.pending).toBe(0);
    expect(r.stats).toEqual(stats({ fragments: 6, droppedInvalid: 3 }));
  });

  it('drops fragments reaching past 65535 bytes, and the reassembly they join', () => {
    const d = datagram(payloadOf(64));
    const r = new Ipv4Reassembler();
    r.add(piece(d, 0, 32, true), IP_OFF, 0);
    const tooFar = piece(d, 65_512, 8, false, payloadOf(8));
    setIpv4TotalLength(tooFar, IP_OFF, 20 + 8);
    expect(ipv4FragOffset(tooFar, IP_OFF)).toBe(65_512);
    expect(r.add(tooFar, IP_OFF, 0)).toBeNull();
    expect(r.pending).toBe(0);
    // Alone (no reassembly yet), the ping of death is dropped just the same.
    const pod = new Uint8Array(IP_OFF + 20 + 24);
    pod.set(d.subarray(0, 20), IP_OFF);
    setIpv4TotalLength(pod, IP_OFF, 44);
    setIpv4Fragment(pod, IP_OFF, false, false, 65_512);
    ipv4FillChecksum(pod, IP_OFF);
    expect(r.add(pod, IP_OFF, 0)).toBeNull();
    expect(r.pending).toBe(0);
    expect(r.stats).toEqual(stats({ fragments: 3, droppedTooBig: 2 }));
  });

  it('honours a smaller maxDatagramSize', () => {
    const r = new Ipv4Reassembler({ maxDatagramSize: 1500 });
    const ok = datagram(payloadOf(1480), { ident: 1 });
    expect(feed(r, fragment(ok, 512)).length).toBe(1);
    const big = datagram(payloadOf(1481), { ident: 2 });
    expect(feed(r, fragment(big, 512))).toEqual([]);
    expect(r.pending).toBe(0);
    expect(r.stats).toEqual(stats({ fragments: 6, reassembled: 1, droppedTooBig: 1 }));
  });
});

describe('Ipv4Reassembler: limits', () => {
  it('past maxBytes no new reassembly starts, and those under way still finish', () => {
    // Each first fragment is 20 + 400 bytes; room for two of them.
    const r = new Ipv4Reassembler({ maxBytes: 900 });
    const ds = [1, 2, 3].map((id) => datagram(payloadOf(800, id), { ident: id }));
    const fs = ds.map((d) => fragment(d, 400));
    r.add(fs[0][0], IP_OFF, 0);
    r.add(fs[1][0], IP_OFF, 1);
    expect(r.bytesHeld).toBe(840);
    expect(r.add(fs[2][0], IP_OFF, 2)).toBeNull(); // refused: datagram 3 does not start
    expect(r.pending).toBe(2);
    expect(r.bytesHeld).toBe(840);
    expect(r.stats.droppedMemory).toBe(1);
    // Both under way complete, the held bytes past maxBytes for a moment.
    expectSame(r.add(fs[1][1], IP_OFF, 3) as Uint8Array, ds[1]);
    expectSame(r.add(fs[0][1], IP_OFF, 4) as Uint8Array, ds[0]);
    expect(r.pending).toBe(0);
    expect(r.bytesHeld).toBe(0);
    expect(r.stats).toEqual(stats({ fragments: 5, reassembled: 2, droppedMemory: 1 }));
  });

  it('drops a reassembly that cannot fit in maxBytes even alone', () => {
    const r = new Ipv4Reassembler({ maxBytes: 500 });
    const d = datagram(payloadOf(800));
    const f = fragment(d, 400);
    expect(r.add(f[0], IP_OFF, 0)).toBeNull();
    expect(r.add(f[1], IP_OFF, 0)).toBeNull();
    expect(r.pending).toBe(0);
    expect(r.bytesHeld).toBe(0);
    expect(r.stats).toEqual(stats({ fragments: 2, droppedMemory: 1 }));
  });

  it('beyond maxDatagrams the new one is refused: a flood of new IDs cannot starve one under way', () => {
    const r = new Ipv4Reassembler({ maxDatagrams: 4 });
    const real = datagram(payloadOf(64, 9), { ident: 9 });
    const rf = fragment(real, 32);
    r.add(rf[0], IP_OFF, 0);
    // 100 first fragments with new IDs (an attacker's, or just a busy sender's).
    for (let id = 100; id < 200; id++) {
      r.add(fragment(datagram(payloadOf(64, id), { ident: id }), 32)[0], IP_OFF, 1);
    }
    expect(r.pending).toBe(4);
    expectSame(r.add(rf[1], IP_OFF, 2) as Uint8Array, real);
    expect(r.stats).toEqual(stats({ fragments: 102, reassembled: 1, droppedTableFull: 97 }));
  });

  it('reuses storage: the returned view lives until the next add()', () => {
    const r = new Ipv4Reassembler();
    const a = datagram(payloadOf(64, 1), { ident: 1 });
    const b = datagram(payloadOf(64, 2), { ident: 2 });
    const fa = fragment(a, 32);
    const fb = fragment(b, 32);
    r.add(fa[0], IP_OFF, 0);
    const outA = r.add(fa[1], IP_OFF, 0) as Uint8Array;
    expectSame(outA, a);
    r.add(fb[0], IP_OFF, 0);
    const outB = r.add(fb[1], IP_OFF, 0) as Uint8Array;
    expectSame(outB, b);
    expect(outB.buffer).toBe(outA.buffer);
  });

  it('rejects bad options with an error naming them', () => {
    expect(() => new Ipv4Reassembler({ maxDatagrams: 0 })).toThrow(OptionError);
    expect(() => new Ipv4Reassembler({ maxBytes: 1.5 })).toThrow(/maxBytes/);
    expect(() => new Ipv4Reassembler({ timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => new Ipv4Reassembler({ maxDatagramSize: 70_000 })).toThrow(/maxDatagramSize/);
    const r = new Ipv4Reassembler();
    expect([r.maxDatagrams, r.maxBytes, r.timeoutMs, r.maxDatagramSize]).toEqual([
      64,
      4 * 1024 * 1024,
      30_000,
      65_535,
    ]);
  });
});
