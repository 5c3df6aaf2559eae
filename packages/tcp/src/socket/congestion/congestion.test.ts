import { OptionError } from '@bypass/atomics-sync';
import { afterAll, describe, expect, it } from 'vitest';
import { Sim } from '../../../test/sim.js';
import { TcpState } from '../tcp.js';
import type { CongestionController } from './controller.js';
import { NewReno } from './newreno.js';
import {
  congestionControlNames,
  createCongestionController,
  registerCongestionControl,
} from './registry.js';

const MSS = 1448;

describe('NewReno', () => {
  it('initial window, then slow start by bytes acked while cwnd-limited', () => {
    const c = new NewReno();
    c.init(MSS, 10);
    expect(c.cwnd).toBe(10 * MSS);
    c.onAck(4 * MSS, 10 * MSS, MSS, false, 20, 0);
    expect(c.cwnd).toBe(14 * MSS);
    // Not cwnd-limited (flight + MSS below cwnd): no growth (RFC 7661 in spirit).
    c.onAck(MSS, 2 * MSS, MSS, false, 20, 0);
    expect(c.cwnd).toBe(14 * MSS);
    // After an RTO, at most 2 segments per ACK (RFC 3465 2.3).
    c.onAck(8 * MSS, 14 * MSS, MSS, true, 20, 0);
    expect(c.cwnd).toBe(16 * MSS);
  });

  it('loss halves the flight into ssthresh; congestion avoidance adds one MSS per cwnd acked', () => {
    const c = new NewReno();
    c.init(MSS, 10);
    c.onLoss(20 * MSS, MSS, 0);
    expect(c.ssthresh).toBe(10 * MSS);
    c.cwnd = c.ssthresh;
    for (let i = 0; i < 9; i++) c.onAck(MSS, c.cwnd, MSS, false, 20, 0);
    expect(c.cwnd).toBe(10 * MSS);
    c.onAck(MSS, c.cwnd, MSS, false, 20, 0);
    expect(c.cwnd).toBe(11 * MSS);
    expect(c.bytesAcked).toBe(0);
  });

  it('ssthresh never below two segments; an RTO leaves one segment and only the first lowers ssthresh', () => {
    const c = new NewReno();
    c.init(MSS, 10);
    c.onLoss(MSS, MSS, 0);
    expect(c.ssthresh).toBe(2 * MSS);
    c.onRto(40 * MSS, MSS, true, 0);
    expect([c.cwnd, c.ssthresh]).toEqual([MSS, 20 * MSS]);
    c.onRto(MSS, MSS, false, 0);
    expect([c.cwnd, c.ssthresh]).toEqual([MSS, 20 * MSS]);
  });
});

describe('the registry', () => {
  it('names newreno by default and refuses an unknown name, naming the known ones', () => {
    expect(congestionControlNames()[0]).toBe('newreno');
    expect(createCongestionController('newreno')).toBeInstanceOf(NewReno);
    expect(() => createCongestionController('bbr')).toThrow(OptionError);
    expect(() => createCongestionController('bbr')).toThrow(
      /congestionControl must be one of newreno.*, got bbr/,
    );
    expect(() => registerCongestionControl('newreno', () => new NewReno())).toThrow(
      'congestion control name must be a name not registered yet, got newreno',
    );
    expect(() => registerCongestionControl('Bad Name', () => new NewReno())).toThrow(OptionError);
  });
});

/** A user's controller: a fixed window of `segments`, whatever happens (for tests and labs). */
class FixedWindow implements CongestionController {
  readonly name = 'fixed-test';
  cwnd = 0;
  ssthresh = 0x7fffffff;
  acks = 0;
  losses = 0;
  constructor(readonly segments: number) {}
  init(mss: number): void {
    this.cwnd = this.segments * mss;
  }
  onAck(): void {
    this.acks++;
  }
  onLoss(): void {
    this.losses++;
  }
  onRto(): void {}
}

describe('a controller plugged in by name', () => {
  const made: FixedWindow[] = [];
  registerCongestionControl('fixed-test', () => {
    const c = new FixedWindow(4);
    made.push(c);
    return c;
  });
  afterAll(() => {
    made.length = 0;
  });

  it('governs the connection that names it: 256 KB arrive, never more than 4 segments in flight', () => {
    const sim = new Sim();
    const size = 256 * 1024;
    const data = new Uint8Array(size).map((_, i) => i & 0xff);
    let received = 0;
    sim.b.tcpListen(80, {
      onConnection(s) {
        s.handlers = {
          onData: (_s, _b, _o, l) => {
            received += l;
          },
        };
      },
    });
    let sent = 0;
    let maxFlight = 0;
    const c = sim.a.tcpConnect(
      '10.0.0.2',
      80,
      {
        onConnect: (s) => {
          sent += s.write(data, 0, size, sim.now);
        },
        onDrain: (s) => {
          sent += s.write(data, sent, size - sent, sim.now);
        },
      },
      sim.now,
      { congestionControl: 'fixed-test' },
    );
    expect(c.cc).toBe(made[0]);
    expect(c.cc.name).toBe('fixed-test');
    const done = sim.run(() => {
      maxFlight = Math.max(maxFlight, c.flight);
      return received === size;
    }, 60_000);
    expect(done).toBe(true);
    expect(c.state).toBe(TcpState.ESTABLISHED);
    const mss = c.effMss;
    expect(c.cwnd).toBe(4 * mss);
    expect(maxFlight).toBeLessThanOrEqual(4 * mss);
    expect(maxFlight).toBeGreaterThan(3 * mss);
    expect(made[0].acks).toBeGreaterThan(size / (4 * mss));
    expect(made[0].losses).toBe(0);
    sim.close();
    expect(sim.poolA.mempool.available()).toBe(4096);
    expect(sim.poolB.mempool.available()).toBe(4096);
  });

  it('a listener option names it for the accepted connections; a bad name is refused at listen', () => {
    const sim = new Sim();
    expect(() => sim.b.tcpListen(81, {}, { tcp: { congestionControl: 'cubic?' } })).toThrow(
      /congestionControl must be one of newreno, fixed-test, got cubic\?/,
    );
    let accepted: string | undefined;
    sim.b.tcpListen(
      81,
      {
        onConnection: (s) => {
          accepted = s.cc.name;
        },
      },
      {
        tcp: { congestionControl: 'fixed-test' },
      },
    );
    const c = sim.a.tcpConnect('10.0.0.2', 81, {}, sim.now);
    expect(sim.run(() => accepted !== undefined, 5000)).toBe(true);
    expect(accepted).toBe('fixed-test');
    expect(c.cc.name).toBe('newreno');
    sim.close();
    expect(sim.poolA.mempool.available()).toBe(4096);
  });
});
