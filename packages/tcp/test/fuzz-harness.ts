// Hostile input for two live stacks: a connection moves data both ways while mutated copies of
// the frames on the wire (and frames from nothing) are thrown at both ends. A case passes when
// no exception escapes the stack, every mbuf comes back to its pool, and the stacks' tables
// and counters stay consistent. Shared by fuzz.test.ts (a short run and the regression corpus)
// and scripts/fuzz.ts (`pnpm fuzz --minutes N`, longer runs that save what fails).

import { fillTcpChecksumIpv4, ipv4FillChecksum, ipv4HeaderLen, ipv4TotalLength } from '@bypass/net';
import fc from 'fast-check';
import { type TcpSocket, TcpState } from '../src/index.js';
import { Sim } from './sim.js';

/** One change to a copy of a frame the stacks sent, or a frame made from nothing. */
export type Mutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; to: number }
  | { kind: 'extend'; by: number; fill: number }
  | { kind: 'random'; bytes: number[] };

/** One injection: which frame (by order on the wire) to copy, the changes, and the target. */
export interface Injection {
  /** Index of the frame to copy, modulo the frames seen so far. */
  frame: number;
  mutations: Mutation[];
  /** Fix the IPv4 and TCP checksums after mutating, so the change reaches the layers above. */
  fixChecksums: boolean;
  /** Deliver to the stack that sent the original (a reflection) instead of its peer. */
  reflect: boolean;
}

export interface FuzzCase {
  seed: number;
  injections: Injection[];
}

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat({ max: 80 }),
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat({ max: 80 }),
    value: fc.constantFrom(0, 1, 2, 0x0f, 0x10, 0x45, 0x4f, 0x7f, 0x80, 0xff),
  }),
  fc.record({ kind: fc.constant('truncate' as const), to: fc.nat({ max: 80 }) }),
  fc.record({
    kind: fc.constant('extend' as const),
    by: fc.integer({ min: 1, max: 64 }),
    fill: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('random' as const),
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 0, maxLength: 120 }),
  }),
);

export const fuzzCaseArb: fc.Arbitrary<FuzzCase> = fc.record({
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  injections: fc.array(
    fc.record({
      frame: fc.nat({ max: 1000 }),
      mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
      fixChecksums: fc.boolean(),
      reflect: fc.boolean(),
    }),
    { minLength: 1, maxLength: 40 },
  ),
});

function mutate(frame: Uint8Array, inj: Injection): Uint8Array {
  let f: Uint8Array = frame.slice();
  for (const m of inj.mutations) {
    if (m.kind === 'flip') {
      if (m.at < f.length) f[m.at] ^= m.xor;
    } else if (m.kind === 'set') {
      if (m.at < f.length) f[m.at] = m.value;
    } else if (m.kind === 'truncate') {
      f = f.subarray(0, Math.min(m.to, f.length));
    } else if (m.kind === 'extend') {
      const g = new Uint8Array(f.length + m.by).fill(m.fill);
      g.set(f);
      f = g;
    } else {
      // From nothing but an Ethernet header to a real address, so it gets past the MAC check.
      const g = new Uint8Array(14 + m.bytes.length);
      g.set(f.subarray(0, Math.min(14, f.length)));
      g.set(m.bytes, 14);
      f = g;
    }
  }
  if (inj.fixChecksums && f.length >= 34 && f[12] === 0x08 && f[13] === 0x00) {
    const hl = ipv4HeaderLen(f, 14);
    if (hl >= 20 && 14 + hl <= f.length) {
      ipv4FillChecksum(f, 14);
      const total = ipv4TotalLength(f, 14);
      if (f[23] === 6 && total >= hl + 20 && 14 + total <= f.length) {
        fillTcpChecksumIpv4(f, 14, 14 + hl, total - hl);
      }
    }
  }
  return f;
}

/** What a case did, for the long runs' report. */
export interface FuzzOutcome {
  injected: number;
  transferred: number;
  connectionSurvived: boolean;
}

/**
 * Runs one case; throws (an assertion's Error) when an invariant breaks. Both pools are full
 * again when it returns.
 */
export function runFuzzCase(c: FuzzCase): FuzzOutcome {
  const sim = new Sim({ seed: c.seed, poolSize: 1024 });
  const seen: Uint8Array[] = [];
  const size = 64 * 1024;
  let received = 0;
  let server: TcpSocket | null = null;
  let injected = 0;
  let outcome: FuzzOutcome;
  try {
    sim.b.tcpListen(80, {
      onConnection(s) {
        server = s;
        s.handlers = {
          onData: (sock, b, o, l) => {
            received += l;
            sock.write(b, o, Math.min(l, 512), sim.now); // some echo, so both sides send data
          },
          onEnd: (sock) => sock.end(sim.now),
        };
      },
    });
    let sent = 0;
    const data = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
    const client = sim.a.tcpConnect(
      '10.0.0.2',
      80,
      {
        onConnect: (s) => {
          sent += s.write(data, 0, size, sim.now);
        },
        onDrain: (s) => {
          sent += s.write(data, sent, size - sent, sim.now);
          if (sent === size) s.end(sim.now);
        },
      },
      sim.now,
    );
    let next = 0;
    const inject = () => {
      // Copies of what is on the wire now (both directions), then the due injections.
      for (const st of [sim.a, sim.b]) {
        for (let i = 0; i < st.txCount && seen.length < 2000; i++) {
          seen.push(st.pool.toBytes(st.txQueue[i]));
        }
      }
      while (next < c.injections.length && seen.length > 0) {
        const inj = c.injections[next++];
        const orig = seen[inj.frame % seen.length];
        const fromA = orig[11] === 0x01; // MAC_A ends in 01
        const toA = fromA === inj.reflect;
        const target = toA ? sim.a : sim.b;
        const frame = mutate(orig, inj);
        target.inputBytes(frame, sim.now);
        injected++;
        if (next % 4 === 0) break; // spread the rest over later turns
      }
      return false;
    };
    sim.run(() => inject() || (received >= size && client.state !== TcpState.ESTABLISHED), 120_000);
    // Invariants, whatever the connection's fate.
    for (const st of [sim.a, sim.b]) {
      if (st.connections.size > 2) throw new Error(`${st.connections.size} connections on a stack`);
      for (const s of st.connections) {
        if (s.state === TcpState.CLOSED) throw new Error('a CLOSED socket left in the table');
        if (s.sendBuf.length > s.sendBuf.capacity || s.recvBuf.length > s.recvBuf.capacity)
          throw new Error('a buffer past its capacity');
      }
      if (st.txCount < 0 || st.txCount > st.txQueue.length)
        throw new Error('tx count out of range');
    }
    const survived =
      (server as TcpSocket | null) !== null && received === size && client.error === null;
    outcome = { injected, transferred: received, connectionSurvived: survived };
  } finally {
    sim.close();
  }
  const a = sim.poolA.mempool.available();
  const b = sim.poolB.mempool.available();
  if (a !== 1024 || b !== 1024) throw new Error(`mbufs leaked: pools at ${a} and ${b} of 1024`);
  return outcome;
}
