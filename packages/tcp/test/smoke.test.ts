import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type TcpSocket, TcpState } from '../src/index.js';
import { Sim } from './sim.js';

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('two stacks', () => {
  it('connect, 1 MB each way, close', () => {
    const sim = new Sim();
    const size = 1 << 20;
    const data = pattern(size, 1);
    const back = pattern(size, 2);
    const got = { server: createHash('sha256'), client: createHash('sha256') };
    let sn = 0;
    let cn = 0;
    let server: TcpSocket | null = null;
    let sentS = 0;
    sim.b.tcpListen(80, {
      onConnection(s) {
        server = s;
        s.handlers = {
          onData(_s, b, o, l) {
            got.server.update(b.subarray(o, o + l));
            sn += l;
          },
          onEnd(s) {
            s.end(sim.now);
          },
          onDrain(s) {
            sentS += s.write(back, sentS, size - sentS, sim.now);
          },
        };
        sentS += s.write(back, 0, size, sim.now);
      },
    });
    let sentC = 0;
    let closed: string | null | undefined;
    const c = sim.a.tcpConnect(
      '10.0.0.2',
      80,
      {
        onConnect(s) {
          sentC += s.write(data, 0, size, sim.now);
        },
        onDrain(s) {
          sentC += s.write(data, sentC, size - sentC, sim.now);
          if (sentC === size) s.end(sim.now);
        },
        onData(_s, b, o, l) {
          got.client.update(b.subarray(o, o + l));
          cn += l;
        },
        onClose(_s, e) {
          closed = e;
        },
      },
      sim.now,
    );
    expect(sim.run(() => sn === size && cn === size, 60_000)).toBe(true);
    expect(
      sim.run(
        () =>
          c.state === TcpState.TIME_WAIT &&
          (server as unknown as TcpSocket).state === TcpState.CLOSED,
        sim.now + 1000,
      ),
    ).toBe(true);
    expect(closed).toBe(null);
    expect(got.server.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(got.client.digest('hex')).toBe(createHash('sha256').update(back).digest('hex'));
    expect((server as unknown as TcpSocket).state).toBe(TcpState.CLOSED);
    sim.run(() => false, sim.now + 61_000);
    expect(c.state).toBe(TcpState.CLOSED);
    expect(sim.a.connections.size + sim.b.connections.size).toBe(0);
    sim.close();
    expect(sim.poolA.mempool.available()).toBe(4096);
    expect(sim.poolB.mempool.available()).toBe(4096);
  });
});
