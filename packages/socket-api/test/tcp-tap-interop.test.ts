// Our Stack against the real Linux kernel over a net_tap port (root only; skipped with the
// reason elsewhere). Each test creates its own network namespace, moves the tap's kernel side
// into it with 10.77.N.1/24 (the stack is 10.77.N.2/24), and removes everything afterwards
// (TapRig.close in afterEach, also after a failure). ARP resolves for real both ways. The stack
// runs in this thread, polled on real time; the Linux programs run inside the namespace:
// - ping: the kernel pings us, 5 replies;
// - echo: a python3 client sends 50 MB to an echo service on our stack while reading the echo
//   back, and compares sha256s; with checksums computed in software, then with the tap's
//   offload=csum (stack checksum: 'offload'), then offload=tso (and the stack's TSO);
// - download: our client fetches a 20 MB random file from python's http.server and checks its
//   sha256;
// - each captures the interface with dumpcap (the first few MB) and tshark must find no
//   malformed frame, no expert error and, with software checksums, no bad checksum; Linux's
//   TCP counters in the namespace must show no reset, and where nothing was lost, our stack
//   must send no duplicate ACK.
// INTEROP_KEEP_CAPTURES=DIR keeps a copy of every capture in DIR.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { now } from '@bypass/eal';
import { type TcpSocket, TcpState } from '@bypass/tcp';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Capture,
  interopUnavailable,
  type TapRig as Rig,
  type RigOptions,
  TapRig,
} from './tcp-tap-rig.js';

const reason = interopUnavailable();
if (reason) console.log(`tap-interop.test.ts: skipping the Linux interop tests: ${reason}`);

const ECHO_BYTES = 50 * 2 ** 20;
const FILE_BYTES = 20 * 2 ** 20;
/** Kilobytes of capture per test: enough for the handshake and a few thousand segments. */
const CAPTURE_KB = 6000;

let rig: Rig | undefined;

afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function open(o: RigOptions): Promise<Rig> {
  rig = await TapRig.open(o);
  return rig;
}

function stateLine(r: Rig, s: TcpSocket | undefined): string {
  const sock =
    s === undefined
      ? 'no socket'
      : `${s.stateName} flight=${s.flight} buffered=${s.bufferedBytes} srtt=${s.smoothedRtt} rto=${s.rto}`;
  return `${sock}; tcpStats=${JSON.stringify(r.stack.tcpStats)}; stats=${JSON.stringify(r.stack.stats)}; port rx=${r.sp.rxFrames} tx=${r.sp.txFrames} txShort=${r.sp.txShort}`;
}

/** tshark must find nothing wrong; prints what it found otherwise (with the frame count). */
function expectCleanCapture(report: { frames: number; bad: string[] }, label: string): void {
  console.log(
    `tap-interop ${label}: capture ${report.frames} frames, ${report.bad.length} flagged by tshark`,
  );
  if (report.bad.length > 0) console.log(report.bad.slice(0, 40).join('\n'));
  expect(report.frames).toBeGreaterThan(0);
  expect(report.bad).toEqual([]);
}

/**
 * The echo client, run inside the namespace: connects, sends SIZE deterministic bytes from a
 * thread (then shuts down its sending side) while the main thread reads the echo until EOF;
 * prints one JSON line.
 */
const ECHO_CLIENT = `
import hashlib, json, random, socket, sys, threading, time
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = random.Random(20240607).randbytes(size)
out = {"sent_sha": hashlib.sha256(data).hexdigest(), "sent": 0}
s = socket.create_connection((host, port), timeout=20)
s.settimeout(20)
t0 = time.monotonic()
def send():
    try:
        v = memoryview(data)
        for i in range(0, size, 1 << 16):
            s.sendall(v[i:i + (1 << 16)])
            out["sent"] = i + len(v[i:i + (1 << 16)])
        s.shutdown(socket.SHUT_WR)
    except Exception as e:
        out["send_error"] = repr(e)
th = threading.Thread(target=send)
th.start()
h = hashlib.sha256()
got = 0
try:
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        h.update(b)
        got += len(b)
except Exception as e:
    out["recv_error"] = repr(e)
t1 = time.monotonic()
th.join()
s.close()
out.update({"got": got, "got_sha": h.hexdigest(), "seconds": t1 - t0})
print(json.dumps(out), flush=True)
`;

/** An http.server on DIR, ADDR, PORT that says "ready" once it listens. */
const HTTP_SERVER = `
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
srv = http.server.ThreadingHTTPServer((sys.argv[2], int(sys.argv[3])), h)
print("ready", flush=True)
srv.serve_forever()
`;

/** Echoes everything; when write() takes less, keeps the rest and pauses until onDrain. */
class Echo {
  pending: Uint8Array | null = null;
  pendingOff = 0;
  peerEnded = false;
  echoed = 0;
  closed: string | null | undefined = undefined;

  constructor(readonly socket: TcpSocket) {
    socket.handlers = {
      onData: (s, b, o, l) => this.data(s, b, o, l),
      onDrain: (s) => this.drain(s),
      onEnd: (s) => {
        this.peerEnded = true;
        if (this.pending === null) s.end(now());
      },
      onClose: (_s, e) => {
        this.closed = e;
      },
    };
  }

  private data(s: TcpSocket, b: Uint8Array, o: number, l: number): void {
    if (this.pending !== null) {
      // Not expected while paused; keep order anyway.
      const rest = this.pending.subarray(this.pendingOff);
      const merged = new Uint8Array(rest.length + l);
      merged.set(rest);
      merged.set(b.subarray(o, o + l), rest.length);
      this.pending = merged;
      this.pendingOff = 0;
      return;
    }
    const n = s.write(b, o, l, now());
    this.echoed += n;
    if (n < l) {
      this.pending = b.slice(o + n, o + l);
      this.pendingOff = 0;
      s.pause();
    }
  }

  private drain(s: TcpSocket): void {
    const p = this.pending;
    if (p === null) return;
    const n = s.write(p, this.pendingOff, p.length - this.pendingOff, now());
    this.echoed += n;
    this.pendingOff += n;
    if (this.pendingOff < p.length) return;
    this.pending = null;
    if (this.peerEnded) s.end(now());
    else s.resume(now()); // may deliver more (and pause again) right here
  }
}

/** The echo round trip; returns the rig and the capture for more checks. */
async function echoTest(
  o: RigOptions,
  label: string,
  checksums: boolean,
): Promise<{ r: Rig; cap: Capture }> {
  const r = await open(o);
  let echo: Echo | undefined;
  r.stack.tcpListen(7, {
    onConnection(s) {
      echo = new Echo(s);
    },
  });
  const cap = await r.startCapture('echo.pcap', CAPTURE_KB);
  const client = r.spawn('python3', ['-c', ECHO_CLIENT, r.ourIp, '7', String(ECHO_BYTES)]);
  const t0 = now();
  try {
    await r.waitChild(client, 45_000, 'the python echo client');
    // Our side closes once the client's ACK of our FIN arrives.
    await r.pump(() => echo?.closed !== undefined, 5000, 'the echo connection to close');
  } catch (e) {
    console.log(`tap-interop ${label}: ${(e as Error).message}`);
    console.log(`python: ${client.stdout} ${client.stderr}`);
    console.log(stateLine(r, echo?.socket));
    await cap.stop();
    console.log(cap.summary('tcp.analysis.flags || tcp.flags.reset == 1', 200000).slice(-6000));
    throw e;
  }
  const ms = now() - t0;
  await cap.stop();
  const res = client.result!;
  if (res.code !== 0) console.log(res.stderr);
  expect(res.code).toBe(0);
  const out = JSON.parse(res.stdout) as {
    sent: number;
    got: number;
    sent_sha: string;
    got_sha: string;
    seconds: number;
    send_error?: string;
    recv_error?: string;
  };
  console.log(
    `tap-interop ${label}: echoed ${ECHO_BYTES / 2 ** 20} MB each way in ${out.seconds.toFixed(2)} s (client), ` +
      `${((2 * ECHO_BYTES) / 2 ** 20 / out.seconds).toFixed(1)} MB/s through the stack (in + out), ` +
      `${(ECHO_BYTES / 2 ** 20 / out.seconds).toFixed(1)} MB/s goodput; ${ms.toFixed(0)} ms with connect/close; ` +
      `${r.polls} polls (${r.busyPolls} busy); ${stateLine(r, echo?.socket)}`,
  );
  expect(out.send_error).toBeUndefined();
  expect(out.recv_error).toBeUndefined();
  expect(out.sent).toBe(ECHO_BYTES);
  expect(out.got).toBe(ECHO_BYTES);
  expect(out.got_sha).toBe(out.sent_sha);
  expect(echo?.echoed).toBe(ECHO_BYTES);
  expect(echo?.closed).toBe(null);
  expect(echo?.socket.state).toBe(TcpState.CLOSED);
  expect(r.stack.tcpStats.rstsSent + r.stack.tcpStats.rstsIn).toBe(0);
  expect(r.stack.stats.rxBadChecksum).toBe(0);
  expectCleanCapture(cap.analyze(checksums, [7]), label);
  expectNoDupAcks(r, cap, label);
  return { r, cap };
}

/**
 * Linux's view: no resets, and (when nothing was lost or reordered) no duplicate ACK from us in
 * the capture: RFC 5681 2 defines one as a pure ACK repeating the last ACK and window while
 * data is outstanding; a Reno sender (we do not offer SACK) counts them towards fast
 * retransmit.
 */
function expectNoDupAcks(r: Rig, cap: Capture, label: string): void {
  const k = r.kernelTcpCounters();
  console.log(`tap-interop ${label}: Linux's TCP counters in the namespace: ${JSON.stringify(k)}`);
  expect(k.TcpOutRsts).toBe(0);
  if (k.TcpRetransSegs === 0 && r.stack.tcpStats.oooSegs === 0) {
    const dups = cap.matching(
      `tcp.analysis.duplicate_ack && !tcp.analysis.zero_window_probe_ack && !tcp.analysis.keep_alive_ack && ip.src == ${r.ourIp}`,
    );
    if (dups.length > 0) {
      console.log(
        `tap-interop ${label}: ${dups.length} duplicate ACKs from our stack without loss, e.g.\n` +
          cap
            .matching(
              `frame.number >= ${Number.parseInt(dups[0], 10) - 4} && frame.number <= ${Number.parseInt(dups[0], 10)}`,
            )
            .join('\n'),
      );
    }
    expect
      .soft(dups, 'pure ACKs from our stack that repeat the ACK a data segment just carried')
      .toEqual([]);
  }
}

describe.skipIf(reason !== undefined)('our stack against Linux over tap', () => {
  it('the kernel pings us: it resolves our MAC, 5 echo replies', async () => {
    const r = await open({ subnet: 1 });
    const cap = await r.startCapture('ping.pcap', CAPTURE_KB);
    const ping = r.spawn('ping', ['-c', '5', '-i', '0.2', '-W', '2', r.ourIp]);
    const res = await r.waitChild(ping, 15_000, 'ping');
    await cap.stop();
    console.log(`tap-interop ping: ${res.stdout.trim().split('\n').slice(-2).join(' | ')}`);
    expect(res.stdout).toMatch(/5 packets transmitted, 5 received, 0% packet loss/);
    expect(res.code).toBe(0);
    expect(r.stack.stats.icmpEchoIn).toBe(5);
    expect(r.stack.stats.arpRequestsIn).toBeGreaterThanOrEqual(1);
    expect(r.stack.stats.arpRepliesOut).toBeGreaterThanOrEqual(1);
    expect(r.stack.stats.rxBadChecksum).toBe(0);
    expect(r.ns!.exec('ip', ['neigh', 'show', r.ourIp])).toContain('02:00:00:00:00:aa');
    const report = cap.analyze(true);
    expectCleanCapture(report, 'ping');
    const icmp = cap.summary('icmp', 100);
    expect(icmp.match(/Echo \(ping\) reply/g)?.length).toBe(5);
  });

  it('echo: a python client sends 50 MB to our echo service and gets the same bytes back', async () => {
    await echoTest({ subnet: 2 }, 'echo (compute)', true);
  });

  it('download: our client fetches a 20 MB file from python http.server; sha256 matches', async () => {
    const r = await open({ subnet: 3 });
    const file = randomBytes(FILE_BYTES);
    writeFileSync(join(r.dir, 'file'), file);
    const want = createHash('sha256').update(file).digest('hex');
    const server = r.spawn('python3', ['-c', HTTP_SERVER, r.dir, r.kernelIp, '8080']);
    await r.pump(
      () => server.stdout.includes('ready') || server.result !== undefined,
      10_000,
      'http.server to listen',
    );
    expect(server.result, server.stderr).toBeUndefined();
    const cap = await r.startCapture('http.pcap', CAPTURE_KB);
    const chunks: Uint8Array[] = [];
    let got = 0;
    let ended = false;
    let closed: string | null | undefined;
    const t0 = now();
    let tConnect = 0;
    const sock = r.stack.tcpConnect(
      r.kernelIp,
      8080,
      {
        onConnect(s) {
          tConnect = now();
          const req = new TextEncoder().encode(`GET /file HTTP/1.0\r\nHost: ${r.kernelIp}\r\n\r\n`);
          expect(s.write(req, 0, req.length, now())).toBe(req.length);
        },
        onData(_s, b, o, l) {
          chunks.push(b.slice(o, o + l));
          got += l;
        },
        onEnd(s) {
          ended = true;
          s.end(now());
        },
        onClose(_s, e) {
          closed = e;
        },
      },
      now(),
    );
    try {
      await r.pump(() => closed !== undefined, 30_000, 'the download to finish');
    } catch (e) {
      console.log(`tap-interop download: ${(e as Error).message}; got ${got} bytes`);
      console.log(stateLine(r, sock));
      await cap.stop();
      console.log(cap.summary('tcp.analysis.flags || tcp.flags.reset == 1', 200000).slice(-6000));
      throw e;
    }
    const tEnd = now();
    await cap.stop();
    expect(ended).toBe(true);
    expect(closed).toBe(null);
    const all = Buffer.concat(chunks);
    const head = all.indexOf('\r\n\r\n');
    expect(head).toBeGreaterThan(0);
    const headers = all.subarray(0, head).toString('latin1');
    expect(headers).toMatch(/^HTTP\/1\.[01] 200 /);
    expect(headers).toMatch(new RegExp(`\r\nContent-Length: ${FILE_BYTES}\r\n`, 'i'));
    const body = all.subarray(head + 4);
    expect(body.length).toBe(FILE_BYTES);
    expect(createHash('sha256').update(body).digest('hex')).toBe(want);
    const secs = (tEnd - tConnect) / 1000;
    console.log(
      `tap-interop download: ${FILE_BYTES / 2 ** 20} MB in ${secs.toFixed(2)} s after connect ` +
        `(${(FILE_BYTES / 2 ** 20 / secs).toFixed(1)} MB/s), ${(tEnd - t0).toFixed(0)} ms in all; ${stateLine(r, sock)}`,
    );
    expect(sock.state).toBe(TcpState.CLOSED);
    expect(r.stack.tcpStats.rstsSent + r.stack.tcpStats.rstsIn).toBe(0);
    expect(r.stack.stats.rxBadChecksum).toBe(0);
    expectCleanCapture(cap.analyze(true, [8080]), 'download');
    expectNoDupAcks(r, cap, 'download');
    // We asked for the kernel's MAC (nothing had come from it before the SYN).
    expect(r.stack.stats.arpRequestsOut).toBeGreaterThanOrEqual(1);
    expect(r.stack.stats.arpRepliesIn).toBeGreaterThanOrEqual(1);
    expect(
      cap.matching(`arp.opcode == 1 && arp.src.proto_ipv4 == ${r.ourIp}`).length,
    ).toBeGreaterThanOrEqual(1);
  });

  it('echo with offload=csum: checksums left to the kernel both ways, 50 MB round trip', async () => {
    // Frames stay MSS-sized; the kernel leaves its checksums to us (RX_L4_CKSUM_NONE, trusted
    // with checksum: 'offload') and completes ours. The capture sees partial checksums both
    // ways by design, so only malformed frames and expert errors are looked for.
    const { r, cap } = await echoTest(
      { subnet: 4, offload: 'csum', stack: { checksum: 'offload' } },
      'echo (offload=csum)',
      false,
    );
    expect(cap.matching(`ip.src == ${r.ourIp} && tcp.len > 1448`)).toEqual([]);
  });

  it('echo with offload=tso: checksum offload and TSO both ways, 50 MB round trip', async () => {
    // The kernel hands over up to 64 KB of TCP per frame (GSO), and we send up to 64000-byte
    // TSO frames: the pool's mbufs hold 64 KB. Checksums in the capture are partial by design
    // (the kernel completes them after the capture point), so only malformed frames and expert
    // errors are looked for.
    const { r, cap } = await echoTest(
      {
        subnet: 5,
        offload: 'tso',
        dataRoomSize: 65536 + 64,
        mbufs: 1024,
        stack: { checksum: 'offload', tsoMaxBytes: 64000 },
      },
      'echo (offload=tso)',
      false,
    );
    // Both ways in frames of many segments: the kernel's GSO and our TSO.
    expect(r.sp.rxFrames).toBeLessThan(ECHO_BYTES / 1448 / 4);
    expect(cap.matching(`ip.src == ${r.ourIp} && tcp.len > 1448`).length).toBeGreaterThan(0);
  });
});
