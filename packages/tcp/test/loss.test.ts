// One-way bulk transfers through the virtual-time simulation (test/sim.ts) over a lossy,
// duplicating, reordering wire: what arrives is exactly what was sent.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type TcpSocket, TcpState } from '../src/index.js';
import { Sim } from './sim.js';

const SIZE = 8 << 20;

describe('bulk transfer over a faulty simulated wire', () => {
  for (const loss of [0, 0.01, 0.05]) {
    it(`${SIZE} bytes at ${loss * 100}% loss (plus duplication and reordering) arrive intact`, () => {
      const sim = new Sim({
        faults: { loss, dup: loss / 5, reorder: loss, delayMs: 0.05 },
        seed: 3,
      });
      const chunk = new Uint8Array(65536).map((_, i) => (i * 7 + (i >>> 8)) & 0xff);
      const want = createHash('sha256');
      const got = createHash('sha256');
      let received = 0;
      sim.b.tcpListen(80, {
        onConnection(s) {
          s.handlers = {
            onData(_s, b, o, l) {
              got.update(b.subarray(o, o + l));
              received += l;
            },
          };
        },
      });
      let sent = 0;
      const pump = (s: TcpSocket) => {
        while (sent < SIZE) {
          const off = sent % chunk.length;
          const k = s.write(chunk, off, Math.min(chunk.length - off, SIZE - sent), sim.now);
          if (k === 0) return;
          want.update(chunk.subarray(off, off + k));
          sent += k;
        }
      };
      const c = sim.a.tcpConnect('10.0.0.2', 80, { onConnect: pump, onDrain: pump }, sim.now);
      expect(sim.run(() => received === SIZE, 3_600_000)).toBe(true);
      expect(got.digest('hex')).toBe(want.digest('hex'));
      expect(c.state).toBe(TcpState.ESTABLISHED);
      if (loss > 0) {
        expect(sim.ab.dropped + sim.ba.dropped).toBeGreaterThan(0);
        expect(sim.a.tcpStats.retransSegs).toBeGreaterThan(0);
      } else {
        expect(sim.a.tcpStats.retransSegs).toBe(0);
      }
      sim.close();
      expect(sim.poolA.mempool.available()).toBe(sim.poolA.mempool.n);
      expect(sim.poolB.mempool.available()).toBe(sim.poolB.mempool.n);
    });
  }
});
