import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { TcpState } from '../src/index.js';
import { Sim } from './sim.js';

for (const loss of [0, 0.01, 0.05]) {
  it(`bulk at loss ${loss}`, () => {
    const sim = new Sim({ faults: { loss, dup: loss / 5, reorder: loss, delayMs: 0.05 }, seed: 3 });
    const size = 20 << 20;
    const chunk = new Uint8Array(65536).map((_, i) => (i * 7) & 0xff);
    const h = createHash('sha256');
    let got = 0;
    sim.b.tcpListen(80, {
      onConnection(s) {
        s.handlers = {
          onData(_s, b, o, l) {
            h.update(b.subarray(o, o + l));
            got += l;
          },
        };
      },
    });
    let sent = 0;
    const pump = (s: import('../src/index.js').TcpSocket) => {
      while (sent < size) {
        const k = s.write(
          chunk,
          sent % 65536,
          Math.min(65536 - (sent % 65536), size - sent),
          sim.now,
        );
        sent += k;
        if (k === 0) break;
      }
    };
    const c = sim.a.tcpConnect('10.0.0.2', 80, { onConnect: pump, onDrain: pump }, sim.now);
    const t0 = performance.now();
    expect(sim.run(() => got === size, 3_600_000)).toBe(true);
    console.log(
      loss,
      'virtual s',
      (sim.now / 1000).toFixed(2),
      'wall ms',
      (performance.now() - t0).toFixed(0),
      'Gbit/s wall',
      ((size * 8) / ((performance.now() - t0) / 1000) / 1e9).toFixed(2),
      JSON.stringify({ ...sim.a.tcpStats }),
      c.cwnd,
      c.rto,
    );
    expect(c.state).toBe(TcpState.ESTABLISHED);
    sim.close();
  });
}
